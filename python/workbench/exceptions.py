"""Every error and warning Funnel Workbench raises, in one place.

Errors derive from :class:`WorkbenchError`, itself a ``ValueError``: a bad argument, a column
of the wrong type or a malformed file is a bad value, and the message names the parameter,
column, value or file position at fault and what was expected. The classes the engine raises
are created in the native module (so a traceback from Rust and one from Python name the same
class) and re-exported here; the ones only Python raises are defined below.

>>> import workbench as wb
>>> try:
...     wb.Funnel([], window="1d")
... except wb.exceptions.FunnelDefinitionError as err:
...     print(err)
a funnel needs at least one step
>>> issubclass(wb.exceptions.FunnelDefinitionError, ValueError)
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench._core import (
    AudienceError,
    CorruptDataError,
    EmptyLogError,
    FunnelDefinitionError,
    InternalError,
    NullValuesError,
    SchemaError,
    WorkbenchError,
)

__all__ = [
    "ArgumentError",
    "AudienceError",
    "ColumnNotFoundError",
    "CorruptDataError",
    "CountsError",
    "EmptyLogError",
    "ExecutorMismatchError",
    "FunnelDefinitionError",
    "GalleryError",
    "ImplausibleTimesError",
    "InternalError",
    "MetadataError",
    "MissingDependencyError",
    "MissingFileError",
    "NullValuesError",
    "OverlappingGroupsWarning",
    "PlanError",
    "SchemaError",
    "SelectionSyntaxError",
    "UnknownEventWarning",
    "UnknownTagError",
    "UnwritableFileError",
    "WorkbenchError",
    "WorkbenchWarning",
]


class _KeyMessageError(KeyError):
    """A KeyError that prints its message as it is (KeyError alone would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ArgumentError(WorkbenchError):
    """A parameter got a value of a kind it does not take; the message names the parameter and
    what it accepts."""


class ColumnNotFoundError(SchemaError, _KeyMessageError):
    """A named column is not in the data; the message lists the columns there are."""


class ImplausibleTimesError(SchemaError):
    """Event times fall outside the span they are expected in (``EventLog(plausible_times=)``),
    nearly always because integer epochs were read in the wrong ``time_unit`` or a sentinel date
    stands for "unknown"; the message names the first such row and the fix."""


class MissingFileError(WorkbenchError, FileNotFoundError):
    """A file to read is not there; the message names the path and what was looked for. Also a
    ``FileNotFoundError``, so code that catches that keeps working."""


class UnwritableFileError(WorkbenchError, OSError):
    """A file to write cannot be: its folder is missing, the path is a folder, or the system
    refused (permissions, a full disk); the message names the path and what was written. Also an
    ``OSError``, so code that catches that keeps working."""


class CountsError(WorkbenchError):
    """Counts that cannot be a rate: negative, fractional, successes above trials, or no trials
    where a test needs some. The message names the value and its position."""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional part of the workbench needs a package or program that is not installed (pyspark,
    Java); the message says what to install."""


class ExecutorMismatchError(WorkbenchError):
    """The Spark executors cannot run the workbench kernel: they cannot import it, or run another
    version than the driver. The message names both versions and how to ship the same one."""


class SelectionSyntaxError(AudienceError):
    """A selection expression does not parse; the message points at the offending token.

    Attributes:
        expression: the expression (cut to its first 80 characters when too long to read).
        position: 0-based position of the offending character.
    """

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.expression = expression
        self.position = position
        super().__init__(f"{message} at column {position + 1}\n{caret(expression, position)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_selection_error, (self.args[0], self.expression, self.position))


class UnknownTagError(AudienceError, _KeyMessageError):
    """A tag name that the store does not have; the message lists the closest names."""


class GalleryError(WorkbenchError):
    """A request the JupyterLab gallery cannot serve (an unknown or unsafe notebook name, a folder
    that cannot take the copy); ``status`` is the HTTP status the server answers with.

    >>> GalleryError("'../x.ipynb' leaves the notebook library", status=400).status
    400
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class MetadataError(WorkbenchError):
    """A shipped notebook whose ``metadata.workbench`` does not follow the schema in
    ``notebooks/README.md``; the message names the notebook, the field and what was expected."""


class PlanError(WorkbenchError):
    """A tracking plan is malformed; the message names the file, line, column and field at fault.

    Attributes:
        file: the plan file, if the plan came from one.
        line, column: 1-based position of the offending key or value, if known.
        field: dotted path of the field, e.g. ``events.add_to_cart.properties.price.type``.

    >>> err = PlanError("'flaot' is not a property type", file="plan.yaml", line=14, column=17,
    ...                 field="events.add_to_cart.properties.price.type")
    >>> print(err)
    plan.yaml:14:17: events.add_to_cart.properties.price.type: 'flaot' is not a property type
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
            where = f"line {self.line}" + (f", column {self.column}" if self.column else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword arguments through pickling (multiprocessing, Spark workers).
        return (
            _rebuild_plan_error,
            (self.message, self.file, self.line, self.column, self.field),
        )


class WorkbenchWarning(UserWarning):
    """Base class of the warnings Funnel Workbench gives: a result is computed, but something
    about the input deserves a look."""


class UnknownEventWarning(WorkbenchWarning):
    """A step names an event the log never has; the message suggests the closest names."""


class OverlappingGroupsWarning(WorkbenchWarning):
    """The two groups of a comparison share users, so the test's independence assumption fails."""


def caret(text: str, position: int) -> str:
    """Two lines pointing at ``position`` of ``text``: a window of the text around it and a
    caret under it, so a huge input still gives a short message."""
    start = max(0, position - 40)
    snippet = text[start : position + 40].replace("\n", " ").replace("\t", " ")
    prefix = "…" if start > 0 else ""
    return f"  {prefix}{snippet}\n  {' ' * (len(prefix) + position - start)}^"


def _rebuild_plan_error(
    message: str, file: str | None, line: int | None, column: int | None, field: str | None
) -> PlanError:
    return PlanError(message, file=file, line=line, column=column, field=field)


def _rebuild_selection_error(message: str, expression: str, position: int) -> SelectionSyntaxError:
    error = SelectionSyntaxError.__new__(SelectionSyntaxError)
    error.expression, error.position = expression, position
    Exception.__init__(error, message)
    return error
