"""Errors raised while reading or applying a tracking plan."""

from __future__ import annotations

from pathlib import Path

from workbench.exceptions import WorkbenchError

__all__ = ["PlanError"]


class PlanError(WorkbenchError):
    """A tracking plan is malformed; the message names the file, line, column and field at fault.

    Attributes:
        file: the plan file, if the plan came from one.
        line, column: 1-based position of the offending key or value, if known.
        field: dotted path of the field, e.g. ``events.add_to_cart.properties.price.type``.

    Example:
        >>> from workbench.plan import TrackingPlan
        >>> try:
        ...     TrackingPlan.from_dict({"events": {"buy": {"properties": {"x": {"type": "txt"}}}}})
        ... except PlanError as err:
        ...     print(err.field)
        events.buy.properties.x.type
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.field = field
        super().__init__(self._text())

    def _text(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"

    def __reduce__(self):  # keep the keyword arguments through pickling (multiprocessing)
        return (
            _rebuild,
            (self.message, self.file, self.line, self.column, self.field),
        )


def _rebuild(message, file, line, column, field) -> PlanError:
    return PlanError(message, file=file, line=line, column=column, field=field)
