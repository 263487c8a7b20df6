"""Conditions on event properties, for funnel steps, exclusions and audiences.

Build them from :func:`col` with Python operators; they are evaluated once per run as one
vectorised pass over the column (pyarrow.compute), never row by row::

    >>> import workbench as wb
    >>> cond = (wb.col("platform") == "ios") & (wb.col("price") >= 10)
    >>> cond
    ((col('platform') == 'ios') & (col('price') >= 10))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench._names import did_you_mean, listing
from workbench.exceptions import ColumnNotFoundError, FunnelDefinitionError

__all__ = ["Column", "Predicate", "col"]

_COMPARISONS = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


class Predicate:
    """A condition on one row: combine with ``&``, ``|`` and ``~``."""

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        """Evaluate on every row of ``table``; null (a missing property) never matches."""
        result = self._evaluate(table)
        return pc.fill_null(result, False)

    def columns(self) -> set[str]:
        """The columns this condition reads."""
        raise NotImplementedError

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        raise NotImplementedError

    def __and__(self, other: Predicate) -> Predicate:
        return _Combined("&", self, _check(other))

    def __or__(self, other: Predicate) -> Predicate:
        return _Combined("|", self, _check(other))

    def __invert__(self) -> Predicate:
        return _Not(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a condition has no truth value; combine conditions with & | ~ instead of and/or/not"
        )


def _check(other: object) -> Predicate:
    if not isinstance(other, Predicate):
        raise TypeError(f"cannot combine a condition with {type(other).__name__}")
    return other


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ColumnNotFoundError(
            f"column {name!r} is not in the log;{did_you_mean(name, table.column_names)}"
            f" the columns are {listing(table.column_names)}"
        )
    return table.column(name)


def _scalar_for(column: pa.ChunkedArray, name: str, value: Any) -> Any:
    """Cast a Python value to the column's type so a mismatch is reported, not silently false."""
    if value is None:
        raise FunnelDefinitionError(
            f"compare column {name!r} with None using .is_null() or .is_not_null()"
        )
    target = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    try:
        return pa.scalar(value).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise FunnelDefinitionError(
            f"cannot compare column {name!r} of type {column.type} with {value!r}: {err}"
        ) from None


@dataclass(frozen=True, eq=False)
class _Compare(Predicate):
    name: str
    op: str
    value: Any

    def columns(self) -> set[str]:
        return {self.name}

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.name)
        return _COMPARISONS[self.op](column, _scalar_for(column, self.name, self.value))

    def __repr__(self) -> str:
        return f"(col({self.name!r}) {self.op} {self.value!r})"


@dataclass(frozen=True, eq=False)
class _IsIn(Predicate):
    name: str
    values: tuple[Any, ...]
    negate: bool

    def columns(self) -> set[str]:
        return {self.name}

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.name)
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        try:
            value_set = pa.array(list(self.values)).cast(value_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
            raise FunnelDefinitionError(
                f"cannot compare column {self.name!r} of type {column.type} with "
                f"{list(self.values)!r}: {err}"
            ) from None
        hit = pc.is_in(column, value_set=value_set)
        # A null property is neither in nor out of the set: it stays null and never matches.
        hit = pc.if_else(pc.is_null(column), pa.scalar(None, pa.bool_()), hit)
        return pc.invert(hit) if self.negate else hit

    def __repr__(self) -> str:
        word = "not_in" if self.negate else "isin"
        return f"col({self.name!r}).{word}({list(self.values)!r})"


@dataclass(frozen=True, eq=False)
class _IsNull(Predicate):
    name: str
    negate: bool

    def columns(self) -> set[str]:
        return {self.name}

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.name)
        return pc.is_valid(column) if self.negate else pc.is_null(column)

    def __repr__(self) -> str:
        return f"col({self.name!r}).{'is_not_null' if self.negate else 'is_null'}()"


@dataclass(frozen=True, eq=False)
class _Combined(Predicate):
    op: str
    left: Predicate
    right: Predicate

    def columns(self) -> set[str]:
        return self.left.columns() | self.right.columns()

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        # Kleene logic keeps "unknown" (a missing property) unknown until the final mask.
        left = self.left._evaluate(table)
        right = self.right._evaluate(table)
        return pc.and_kleene(left, right) if self.op == "&" else pc.or_kleene(left, right)

    def __repr__(self) -> str:
        return f"({self.left!r} {self.op} {self.right!r})"


@dataclass(frozen=True, eq=False)
class _Not(Predicate):
    inner: Predicate

    def columns(self) -> set[str]:
        return self.inner.columns()

    def _evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        # not(unknown) stays unknown, so ~(price < 8) does not match a row without a price.
        return pc.invert(self.inner._evaluate(table))

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


@dataclass(frozen=True)
class Column:
    """A named event property; compare it to build a :class:`Predicate`."""

    name: str

    def __eq__(self, value: object) -> Predicate:  # type: ignore[override]
        return _Compare(self.name, "==", value)

    def __ne__(self, value: object) -> Predicate:  # type: ignore[override]
        return _Compare(self.name, "!=", value)

    def __lt__(self, value: Any) -> Predicate:
        return _Compare(self.name, "<", value)

    def __le__(self, value: Any) -> Predicate:
        return _Compare(self.name, "<=", value)

    def __gt__(self, value: Any) -> Predicate:
        return _Compare(self.name, ">", value)

    def __ge__(self, value: Any) -> Predicate:
        return _Compare(self.name, ">=", value)

    def __hash__(self) -> int:
        return hash(self.name)

    def isin(self, values: Iterable[Any]) -> Predicate:
        """Matches rows whose value is one of ``values``."""
        return _IsIn(self.name, tuple(values), negate=False)

    def not_in(self, values: Iterable[Any]) -> Predicate:
        """Matches rows whose value is present and not one of ``values``."""
        return _IsIn(self.name, tuple(values), negate=True)

    def is_null(self) -> Predicate:
        """Matches rows where the property is missing."""
        return _IsNull(self.name, negate=False)

    def is_not_null(self) -> Predicate:
        """Matches rows where the property is present."""
        return _IsNull(self.name, negate=True)


def col(name: str) -> Column:
    """Refer to an event property by column name.

    >>> import workbench as wb
    >>> wb.col("price") > 100
    (col('price') > 100)
    """
    return Column(name)
