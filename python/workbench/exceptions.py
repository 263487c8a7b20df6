"""Errors Funnel Workbench raises, all under :class:`WorkbenchError`.

The classes are created in the native module so that a traceback from Rust and one from Python
name the same class. Catch ``WorkbenchError`` to handle any of them::

    >>> import workbench as wb
    >>> try:
    ...     wb.Funnel([], window="1d")
    ... except wb.exceptions.FunnelDefinitionError as err:
    ...     print(err)
    a funnel needs at least one step
"""

from __future__ import annotations

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
    "AudienceError",
    "ColumnNotFoundError",
    "CorruptDataError",
    "EmptyLogError",
    "FunnelDefinitionError",
    "InternalError",
    "NullValuesError",
    "SchemaError",
    "UnknownEventWarning",
    "WorkbenchError",
]


class ColumnNotFoundError(SchemaError, KeyError):
    """A named column is not in the data; the message lists the columns there are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEventWarning(UserWarning):
    """A step names an event the log never has; the message suggests the closest names."""
