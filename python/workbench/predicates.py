"""Conditions on event properties, for funnel steps, exclusions and audiences.

Build them from :func:`col` with Python operators; they are evaluated once per run as one
vectorised pass over the column (pyarrow.compute), never row by row::

    >>> import workbench as wb
    >>> cond = (wb.col("platform") == "ios") & (wb.col("price") >= 10)
    >>> cond
    ((col('platform') == 'ios') & (col('price') >= 10))

A condition is a small tree of public nodes (:class:`Compare`, :class:`IsIn`, :class:`IsNull`,
:class:`AllOf`, :class:`AnyOf`, :class:`Not`) that other back ends (Spark, SQL) translate, and
that :meth:`Predicate.to_dict` / :meth:`Predicate.from_dict` keep in a funnel file::

    >>> cond.to_dict()
    {'and': [{'column': 'platform', 'op': '==', 'value': 'ios'}, {'column': 'price', 'op': '>=', 'value': 10}]}
    >>> Predicate.from_dict(cond.to_dict()) == cond
    True

A missing property (null) never matches: not ``== x``, not ``!= x``, not ``~(...)`` of it.
Comparing a text column with a number is refused rather than compared as text (where
``'9' > '10'``).
"""  # noqa: E501

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench._arrow import decoded_type
from workbench._names import did_you_mean, listing, plain
from workbench.exceptions import ColumnNotFoundError, FunnelDefinitionError

__all__ = [
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Column",
    "Compare",
    "IsIn",
    "IsNull",
    "Not",
    "Predicate",
    "col",
]

_COMPARISONS = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
OPERATORS: tuple[str, ...] = tuple(_COMPARISONS)
"""The comparison operators a :class:`Compare` takes."""
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


class Predicate:
    """A condition on one row: combine with ``&``, ``|`` and ``~``."""

    kind: ClassVar[str] = ""

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        """Evaluate on every row of ``table``; null (a missing property) never matches.

        >>> (col("price") > 9).mask(pa.table({"price": [5, 10, None]})).to_pylist()
        [False, True, False]
        """
        return pc.fill_null(self.evaluate(table), False)

    def columns(self) -> set[str]:
        """The columns this condition reads.

        >>> sorted(((col("a") > 1) | col("b").is_null()).columns())
        ['a', 'b']
        """
        raise NotImplementedError

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        """Kleene truth per row: true, false, or null where a property is missing."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping (JSON and YAML friendly) that :meth:`from_dict` reads back."""
        raise NotImplementedError

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Predicate:
        """Read a condition written by :meth:`to_dict`.

        >>> Predicate.from_dict({"column": "price", "op": ">", "value": 10})
        (col('price') > 10)
        """
        return _from_dict(data, "where")

    def __and__(self, other: Predicate) -> Predicate:
        return AllOf(self, _check(other))

    def __or__(self, other: Predicate) -> Predicate:
        return AnyOf(self, _check(other))

    def __invert__(self) -> Predicate:
        return Not(self)

    def __bool__(self) -> bool:
        raise FunnelDefinitionError(
            "a condition has no truth value; combine conditions with & | ~ instead of and/or/not"
        )


def _check(other: object) -> Predicate:
    if not isinstance(other, Predicate):
        raise FunnelDefinitionError(
            f"cannot combine a condition with {type(other).__name__}; both sides of & and | "
            "must be conditions such as wb.col('price') > 10"
        )
    return other


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ColumnNotFoundError(
            f"column {name!r} is not in the log;{did_you_mean(name, table.column_names)}"
            f" the columns are {listing(table.column_names)}"
        )
    return table.column(name)


def _value_type(column: pa.ChunkedArray) -> pa.DataType:
    return decoded_type(column.type)


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def _refuse_text_against_number(name: str, column: pa.ChunkedArray, values: Iterable[Any]) -> None:
    """Text compares as text ('9' > '10'), so a number against a text column is a mistake."""
    if not _is_text(_value_type(column)):
        return
    number = next((v for v in values if _is_number(v)), None)
    if number is not None:
        raise FunnelDefinitionError(
            f"column {name!r} holds text ({column.type}), so comparing it with the number "
            f"{plain(number)!r} would compare text ('9' > '10'); load the column as numbers "
            f"(e.g. df[{name!r}] = pd.to_numeric(df[{name!r}])) or compare with text "
            f"(wb.col({name!r}) == {str(plain(number))!r})"
        )


def _checked_number(name: str, value: Any) -> int | float:
    """A number of a condition as a Python int or float: no integer beyond 64 bits (no column
    holds one) and no NaN (which equals nothing, so the condition would silently match nothing).
    """
    value = plain(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _UINT64_MAX:
            raise FunnelDefinitionError(
                f"the value {value} in a condition on column {name!r} is beyond the 64-bit "
                f"integers a column can hold ({_INT64_MIN} to {_UINT64_MAX}); check the value, "
                f"or write it as a float ({float(value):.6g}) to compare with a float column"
            )
        return value
    number = float(value)
    if math.isnan(number):
        raise FunnelDefinitionError(
            f"a condition on column {name!r} compares with NaN, which equals nothing; use "
            f"wb.col({name!r}).is_null() for missing values"
        )
    return number


def _integer_range(kind: pa.DataType) -> tuple[int, int]:
    info = np.iinfo(kind.to_pandas_dtype())
    return int(info.min), int(info.max)


def _refuse_collection(name: str, value: Any) -> None:
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        raise FunnelDefinitionError(
            f"a comparison on column {name!r} takes one value; got {value!r}; for any of "
            f"several values use wb.col({name!r}).isin([...])"
        )


def _compare_numbers(column: pa.ChunkedArray, name: str, op: str, value: Any) -> pa.ChunkedArray:
    """``column op value`` for a numeric column and a number, decided exactly: a value outside
    an integer column's range (or between two integers) gives the answer the mathematics gives,
    not a cast error or a rounded comparison."""
    kind = _value_type(column)
    number = _checked_number(name, value)
    if pa.types.is_floating(kind):
        return _COMPARISONS[op](column, pa.scalar(float(number)).cast(kind))
    low, high = _integer_range(kind)
    if number > high or number < low:
        above = number > high
        constant = {"==": False, "!=": True, "<": above, "<=": above, ">": not above}
        return _constant(column, constant.get(op, not above))
    if isinstance(number, float) and not number.is_integer():
        if op in ("==", "!="):
            return _constant(column, op == "!=")
        # Between two integers: > 2.5 is >= 3, < 2.5 is <= 2.
        op, number = (">=", math.ceil(number)) if op in (">", ">=") else ("<=", math.floor(number))
    return _COMPARISONS[op](column, pa.scalar(int(number), type=kind))


def _constant(column: pa.ChunkedArray, truth: bool) -> pa.ChunkedArray:
    """The same truth for every row, null where the property is missing."""
    return pc.if_else(pc.is_null(column), pa.scalar(None, pa.bool_()), truth)


def _scalar_for(column: pa.ChunkedArray, name: str, value: Any) -> pa.Scalar:
    """Cast a Python value to the column's type so a mismatch is reported, not silently false."""
    try:
        return pa.scalar(value).cast(_value_type(column))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as e:
        raise FunnelDefinitionError(
            f"cannot compare column {name!r} of type {column.type} with {value!r}: {e}; "
            "compare with a value of the column's kind"
        ) from None


def _is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _value_set(column: pa.ChunkedArray, name: str, values: tuple[Any, ...]) -> pa.Array:
    """The values an :class:`IsIn` looks for, in the column's type. For a numeric column,
    numbers the column cannot hold (2.5 or 300 for an int8 column) can never match and are left
    out rather than refused."""
    kind = _value_type(column)
    if _is_numeric(kind) and all(_is_number(v) or v is None for v in values):
        kept: list[Any] = []
        for value in values:
            if value is None:
                continue
            number = _checked_number(name, value)
            if pa.types.is_integer(kind):
                low, high = _integer_range(kind)
                if float(number).is_integer() and low <= number <= high:
                    kept.append(int(number))
            else:
                kept.append(float(number))
        if pa.types.is_floating(kind):
            return pa.array(kept, pa.float64()).cast(kind)
        return pa.array(kept, kind)
    try:
        return pa.array(list(values)).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError) as e:
        raise FunnelDefinitionError(
            f"cannot compare column {name!r} of type {column.type} with {list(values)!r}: {e}; "
            "give values of the column's kind"
        ) from None


@dataclass(frozen=True)
class Compare(Predicate):
    """``column op value``: ``op`` is one of ``== != < <= > >=``."""

    column: str
    op: str
    value: Any
    kind: ClassVar[str] = "compare"

    def __post_init__(self) -> None:
        if self.op not in _COMPARISONS:
            raise FunnelDefinitionError(
                f"a comparison's op is one of {listing(OPERATORS)}; got {self.op!r}"
            )

    def columns(self) -> set[str]:
        return {self.column}

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.column)
        if self.value is None:
            raise FunnelDefinitionError(
                f"compare column {self.column!r} with None using .is_null() or .is_not_null()"
            )
        _refuse_collection(self.column, self.value)
        _refuse_text_against_number(self.column, column, [self.value])
        if _is_number(self.value) and _is_numeric(_value_type(column)):
            return _compare_numbers(column, self.column, self.op, self.value)
        return _COMPARISONS[self.op](column, _scalar_for(column, self.column, self.value))

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "op": self.op, "value": self.value}

    def __repr__(self) -> str:
        return f"(col({self.column!r}) {self.op} {self.value!r})"


@dataclass(frozen=True)
class IsIn(Predicate):
    """The value is one of ``values`` (or, with ``negate``, present and none of them)."""

    column: str
    values: tuple[Any, ...]
    negate: bool = False
    kind: ClassVar[str] = "isin"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _value_list(self.values, "isin"))

    def columns(self) -> set[str]:
        return {self.column}

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.column)
        _refuse_text_against_number(self.column, column, self.values)
        hit = pc.is_in(column, value_set=_value_set(column, self.column, self.values))
        # A null property is neither in nor out of the set: it stays null and never matches.
        hit = pc.if_else(pc.is_null(column), pa.scalar(None, pa.bool_()), hit)
        return pc.invert(hit) if self.negate else hit

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "not_in" if self.negate else "isin": list(self.values)}

    def __repr__(self) -> str:
        word = "not_in" if self.negate else "isin"
        return f"col({self.column!r}).{word}({list(self.values)!r})"


@dataclass(frozen=True)
class IsNull(Predicate):
    """The property is missing (or, with ``negate``, present)."""

    column: str
    negate: bool = False
    kind: ClassVar[str] = "isnull"

    def columns(self) -> set[str]:
        return {self.column}

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        column = _column(table, self.column)
        return pc.is_valid(column) if self.negate else pc.is_null(column)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "is_null": not self.negate}

    def __repr__(self) -> str:
        return f"col({self.column!r}).{'is_not_null' if self.negate else 'is_null'}()"


@dataclass(frozen=True)
class AllOf(Predicate):
    """Both conditions hold (``left & right``)."""

    left: Predicate
    right: Predicate
    kind: ClassVar[str] = "and"

    def columns(self) -> set[str]:
        return self.left.columns() | self.right.columns()

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        # Kleene logic keeps "unknown" (a missing property) unknown until the final mask.
        return pc.and_kleene(self.left.evaluate(table), self.right.evaluate(table))

    def to_dict(self) -> dict[str, Any]:
        return {"and": [self.left.to_dict(), self.right.to_dict()]}

    def __repr__(self) -> str:
        return f"({self.left!r} & {self.right!r})"


@dataclass(frozen=True)
class AnyOf(Predicate):
    """Either condition holds (``left | right``)."""

    left: Predicate
    right: Predicate
    kind: ClassVar[str] = "or"

    def columns(self) -> set[str]:
        return self.left.columns() | self.right.columns()

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        return pc.or_kleene(self.left.evaluate(table), self.right.evaluate(table))

    def to_dict(self) -> dict[str, Any]:
        return {"or": [self.left.to_dict(), self.right.to_dict()]}

    def __repr__(self) -> str:
        return f"({self.left!r} | {self.right!r})"


@dataclass(frozen=True)
class Not(Predicate):
    """The condition does not hold; a missing property stays unknown, so it does not match."""

    inner: Predicate
    kind: ClassVar[str] = "not"

    def columns(self) -> set[str]:
        return self.inner.columns()

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray:
        # not(unknown) stays unknown, so ~(price < 8) does not match a row without a price.
        return pc.invert(self.inner.evaluate(table))

    def to_dict(self) -> dict[str, Any]:
        return {"not": self.inner.to_dict()}

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


def _value_list(values: Any, word: str) -> tuple[Any, ...]:
    """The values of an isin/not_in as a tuple; a string (whose letters would become the
    values), a mapping or a single value is refused."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise FunnelDefinitionError(
            f"{word}() takes a list of values, e.g. {word}(['ios', 'android']); got {values!r}"
            " (for one value compare with ==)"
        )
    return tuple(values)


def _from_dict(data: Any, where: str) -> Predicate:
    if not isinstance(data, Mapping):
        raise FunnelDefinitionError(f"{where}: a condition is a mapping; got {data!r}")
    for word, node in (("and", AllOf), ("or", AnyOf)):
        if word in data:
            parts = data[word]
            if not isinstance(parts, list) or len(parts) < 2:
                raise FunnelDefinitionError(
                    f"{where}.{word}: a list of at least two conditions; got {parts!r}"
                )
            combined = _from_dict(parts[0], f"{where}.{word}[0]")
            for i, part in enumerate(parts[1:], start=1):
                combined = node(combined, _from_dict(part, f"{where}.{word}[{i}]"))
            return combined
    if "not" in data:
        return Not(_from_dict(data["not"], f"{where}.not"))
    column = data.get("column")
    if not isinstance(column, str):
        raise FunnelDefinitionError(
            f"{where}: a condition names its column ('column': 'price') or combines others "
            f"('and', 'or', 'not'); got {dict(data)!r}"
        )
    if "op" in data:
        return Compare(column, str(data["op"]), data.get("value"))
    for word in ("isin", "not_in"):
        if word in data:
            values = data[word]
            if not isinstance(values, list):
                raise FunnelDefinitionError(f"{where}.{word}: a list of values; got {values!r}")
            return IsIn(column, tuple(values), negate=word == "not_in")
    if "is_null" in data:
        return IsNull(column, negate=not bool(data["is_null"]))
    raise FunnelDefinitionError(
        f"{where}: a condition on {column!r} needs 'op' and 'value', 'isin', 'not_in' or "
        f"'is_null'; got {dict(data)!r}"
    )


@dataclass(frozen=True)
class Column:
    """A named event property; compare it to build a :class:`Predicate`."""

    name: str

    def __eq__(self, value: object) -> Predicate:  # type: ignore[override]
        return Compare(self.name, "==", value)

    def __ne__(self, value: object) -> Predicate:  # type: ignore[override]
        return Compare(self.name, "!=", value)

    def __lt__(self, value: Any) -> Predicate:
        return Compare(self.name, "<", value)

    def __le__(self, value: Any) -> Predicate:
        return Compare(self.name, "<=", value)

    def __gt__(self, value: Any) -> Predicate:
        return Compare(self.name, ">", value)

    def __ge__(self, value: Any) -> Predicate:
        return Compare(self.name, ">=", value)

    def __hash__(self) -> int:
        return hash(self.name)

    def isin(self, values: Iterable[Any]) -> Predicate:
        """Matches rows whose value is one of ``values``.

        >>> col("platform").isin(["ios", "android"])
        col('platform').isin(['ios', 'android'])
        """
        return IsIn(self.name, _value_list(values, "isin"), negate=False)

    def not_in(self, values: Iterable[Any]) -> Predicate:
        """Matches rows whose value is present and not one of ``values``.

        >>> col("platform").not_in(["web"])
        col('platform').not_in(['web'])
        """
        return IsIn(self.name, _value_list(values, "not_in"), negate=True)

    def is_null(self) -> Predicate:
        """Matches rows where the property is missing.

        >>> col("price").is_null()
        col('price').is_null()
        """
        return IsNull(self.name, negate=False)

    def is_not_null(self) -> Predicate:
        """Matches rows where the property is present.

        >>> col("price").is_not_null()
        col('price').is_not_null()
        """
        return IsNull(self.name, negate=True)


def col(name: str) -> Column:
    """Refer to an event property by column name.

    >>> import workbench as wb
    >>> wb.col("price") > 100
    (col('price') > 100)
    """
    if not isinstance(name, str) or not name:
        raise FunnelDefinitionError(f"col() takes a column name; got {name!r}")
    return Column(name)
