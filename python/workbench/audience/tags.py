"""Tag stores: one bitmap per user attribute value or behaviour, for crowd selection.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({"user_id": [1, 2, 3], "event": ["view"] * 3,
...                    "time": pd.to_datetime(["2026-01-01"] * 3)})
>>> log = wb.EventLog(df)
>>> users = pd.DataFrame({"user_id": [1, 2, 3], "gender": ["F", "M", "F"], "age": [22, 31, 40]})
>>> store = TagStore.from_table(log, users, categorical=["gender"], bins={"age": [18, 25, 35, 65]})
>>> store.names
['gender:F', 'gender:M', 'age:18-24', 'age:25-34', 'age:35-64']
>>> store.select("gender:F & ~age:18-24").keys().to_pylist()
[3]
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core
from workbench._arrow import decoded
from workbench._files import existing_path, writing
from workbench._names import did_you_mean
from workbench.audience.selection import compile_program, unknown_tag_message
from workbench.audience.set import (
    Audience,
    BitmapFormat,
    bitmap_options,
    boolean_flags,
    ensure_audience,
    key_array,
)
from workbench.exceptions import ArgumentError, AudienceError, SchemaError, UnknownTagError
from workbench.log import to_arrow_table
from workbench.predicates import Column, Predicate

if TYPE_CHECKING:
    from workbench.log import EventLog

__all__ = ["TagStore", "bin_labels", "value_order"]

_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
"""How pandas holds text by default (``dtype="str"``), so tag names read like any text column."""

_PROGRAM_CACHE = 256
"""Compiled selections kept per store (cleared whole when full)."""


def _as_table(users: Any) -> pa.Table:
    try:
        if isinstance(users, Mapping):
            return pa.table(dict(users))
        return to_arrow_table(users)
    except (ArgumentError, pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        raise AudienceError(
            "a user table is a pandas or Polars DataFrame or a pyarrow Table; got "
            f"{type(users).__name__}"
        ) from None


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise AudienceError(f"a tag's name is non-empty text; got {name!r}")


def _value_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def value_order(values: Sequence[Any]) -> list[int]:
    """The positions of distinct column values in the order their ``column:value`` tags are
    listed (by value; values of mixed types grouped by type).

    >>> value_order(["b", "a", "c"])
    [1, 0, 2]
    """
    return sorted(range(len(values)), key=lambda i: (str(type(values[i])), values[i]))


def bin_labels(edges: Sequence[float], integer: bool) -> list[str]:
    """Names of the half-open bins ``[e0, e1), [e1, e2), ...``: ``25-34`` for integer columns
    with integer edges, ``25-35`` otherwise, ``<18`` and ``65+`` for infinite ends."""
    labels = []
    for lo, hi in itertools.pairwise(edges):
        if math.isinf(lo):
            labels.append(f"<{_number_label(hi)}")
        elif math.isinf(hi):
            labels.append(f"{_number_label(lo)}+")
        elif integer and float(lo).is_integer() and float(hi).is_integer():
            labels.append(f"{int(lo)}-{int(hi) - 1}" if hi - lo > 1 else f"{int(lo)}")
        else:
            labels.append(f"{_number_label(lo)}-{_number_label(hi)}")
    return labels


def _bin_edges(column: str, edges: Any) -> list[float]:
    """Bin edges as floats: at least two numbers, strictly ascending, none NaN (NaN compares
    false with everything, so it would pass an order check and bin nobody)."""
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Iterable):
        raise AudienceError(
            f"bins for {column!r} are a list of edges, e.g. [18, 25, 35, float('inf')]; got "
            f"{edges!r}"
        )
    values = list(edges)
    bad = next(
        (
            e
            for e in values
            if isinstance(e, (bool, np.bool_))
            or not isinstance(e, (int, float, np.integer, np.floating))
            or math.isnan(e)
        ),
        None,
    )
    if bad is not None:
        raise AudienceError(
            f"bins for {column!r} need numbers for edges (float('inf') for an open end); got "
            f"{bad!r} in {values!r}"
        )
    floats = [float(e) for e in values]
    if len(floats) < 2 or any(b <= a for a, b in itertools.pairwise(floats)):
        raise AudienceError(
            f"bins for {column!r} need at least two strictly ascending edges; got {values}"
        )
    return floats


class TagStore:
    """Named user sets ("tags") over one event log, selectable by expression.

    Build from a user-attribute table with :meth:`from_table`, add behaviour tags with
    :meth:`add_behaviour`, then combine with ``store["gender:F"] & store["vip"]`` or
    ``store.select("(gender:F & age:25-34) | vip - churned")`` (grammar in
    :mod:`workbench.selection`).

    Rows of a user table whose key is not a user of the log are skipped (counted in
    ``skipped_rows``): a tag only ever holds users the log knows.

    >>> store = TagStore(log)
    >>> store.add_behaviour("carted", "cart")
    Audience 'carted'(4 of 6 users)
    """

    def __init__(self, log: EventLog, *, native: _core.TagStore | None = None) -> None:
        """An empty store over ``log`` (or one wrapping ``native``, as :meth:`load` reads it)."""
        self.log = log
        self._native = _core.TagStore(log.encoded) if native is None else native
        self.skipped_rows = 0
        self.dropped: dict[str, int] = {}
        self._index: dict[str, int] | None = None
        self._names: tuple[str, ...] | None = None
        self._programs: dict[str, list[tuple[str, int]]] = {}

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_table(
        cls,
        log: EventLog,
        users: Any,
        *,
        key: str | None = None,
        categorical: Iterable[str] = (),
        bins: Mapping[str, Sequence[float]] | None = None,
        predicates: Mapping[str, Any] | None = None,
    ) -> TagStore:
        """Tags from a user table: ``column:value`` per value of each ``categorical`` column,
        ``column:lo-hi`` per bin of each ``bins`` column (edges ascending; bins are
        ``[lo, hi)``), and one tag per ``predicates`` entry (a ``wb.col(...)`` condition, a
        boolean array over the rows, or a callable taking the pandas table).

        >>> TagStore.from_table(log, users, key="user_id", categorical=["gender"],
        ...                     bins={"age": [18, 25, 35]},
        ...                     predicates={"vip": wb.col("spend") > 100}).names
        ['gender:F', 'gender:M', 'age:18-24', 'age:25-34', 'vip']
        """
        store = cls(log)
        for column in categorical:
            store.add_categorical(users, column, key=key)
        for column, edges in (bins or {}).items():
            store.add_bins(users, column, edges, key=key)
        for name, condition in (predicates or {}).items():
            store.add_predicate(name, users, condition, key=key)
        return store

    def _ids(self, table: pa.Table, key: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Dense id of each row's user and which rows are users of the log."""
        on = key or self.log.user_column
        if on not in table.column_names:
            raise AudienceError(
                f"the user table has no key column {on!r};{did_you_mean(on, table.column_names)}"
                " pass key='...'"
            )
        column = table.column(on)
        if column.null_count:
            raise AudienceError(f"the key column {on!r} has {column.null_count} null(s)")
        keys = key_array(self.log, column)
        repeated = pd.Index(keys.to_pandas()).duplicated()
        if repeated.any():
            # Two rows for one user would give the user both rows' tags (gender:F and gender:M).
            user = keys[int(np.argmax(repeated))].as_py()
            raise SchemaError(
                f"the user table lists user {user!r} more than once in {on!r} "
                f"({int(repeated.sum())} repeated key(s)); each user needs one row (for several "
                "values per user, add a tag per value: tags.add(name, wb.Audience.from_keys(log, "
                "keys)))"
            )
        ids = _core.lookup_keys(self.log.encoded, keys).to_numpy()
        known = ids >= 0
        if len(ids) and not known.any():
            raise AudienceError(
                f"no key in the user table's {on!r} column is a user of the log (the table's "
                f"keys are like {keys[0].as_py()!r}, the log's like "
                f"{self.log.user_keys[0].as_py()!r}); every tag would be empty"
            )
        self.skipped_rows = int((~known).sum())
        return ids, known

    def _column(self, table: pa.Table, column: str) -> pa.ChunkedArray:
        if column not in table.column_names:
            raise AudienceError(
                f"the user table has no column {column!r};"
                f"{did_you_mean(column, table.column_names)}"
            )
        return table.column(column)

    def _add_codes(self, names: list[str], ids: np.ndarray, codes: np.ndarray) -> None:
        keep = ids >= 0
        self._index = self._names = None
        self._native.add_grouped(
            names,
            pa.array(ids[keep].astype(np.uint32)),
            pa.array(codes[keep].astype(np.int64)),
        )

    def add_categorical(self, users: Any, column: str, *, key: str | None = None) -> list[str]:
        """One tag ``column:value`` per distinct non-null value; returns the new tag names.

        >>> cities = users.assign(city=["Paris", "Berlin", "Paris", None, "Berlin", "Paris"])
        >>> tags.add_categorical(cities, "city")
        ['city:Berlin', 'city:Paris']
        """
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        values = decoded(self._column(table, column))
        if pa.types.is_nested(values.type):
            raise AudienceError(
                f"cannot make a tag per value of {column!r}: it holds {values.type} values (lists "
                "or structs); use a column of plain values"
            )
        encoded = pc.dictionary_encode(values).combine_chunks()
        dictionary = encoded.dictionary.to_pylist()
        order = value_order(dictionary)
        rank = np.empty(len(dictionary), dtype=np.int64)
        rank[order] = np.arange(len(dictionary))
        indices = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
        codes = np.where(indices >= 0, rank[np.maximum(indices, 0)] if len(rank) else -1, -1)
        names = [f"{column}:{_value_label(dictionary[i])}" for i in order]
        self._add_codes(names, ids, codes)
        return names

    def add_bins(
        self,
        users: Any,
        column: str,
        edges: Sequence[float],
        *,
        key: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> list[str]:
        """One tag per half-open bin ``[edges[i], edges[i+1])``; values outside get none.

        >>> tags.add_bins(users, "spend", [0, 50, float("inf")])
        ['spend:0-50', 'spend:50+']
        """
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        values = self._column(table, column)
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            raise AudienceError(f"bins need a numeric column; {column!r} is {values.type}")
        edges = _bin_edges(column, edges)
        names_only = (
            list(labels)
            if labels is not None
            else bin_labels(edges, pa.types.is_integer(values.type))
        )
        if len(names_only) != len(edges) - 1:
            raise AudienceError(
                f"{len(edges) - 1} bins need {len(edges) - 1} labels; got {len(names_only)}"
            )
        data = values.to_numpy().astype(np.float64)
        codes = np.searchsorted(np.asarray(edges), data, side="right") - 1
        codes[(codes < 0) | (codes >= len(edges) - 1) | np.isnan(data)] = -1
        names = [f"{column}:{label}" for label in names_only]
        self._add_codes(names, ids, codes.astype(np.int64))
        return names

    def add_predicate(
        self, name: str, users: Any, condition: Any, *, key: str | None = None
    ) -> str:
        """One tag for the users whose row satisfies ``condition``.

        >>> tags.add_predicate("big_spender", users, wb.col("spend") > 250)
        'big_spender'
        """
        _check_name(name)
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        if isinstance(condition, Column):
            # A bare column is a flag: its own truth value.
            mask = condition == True  # noqa: E712
            mask = mask.mask(table)
        elif isinstance(condition, Predicate):
            mask = condition.mask(table)
        elif callable(condition):
            mask = condition(table.to_pandas())
        else:
            mask = condition
        if isinstance(mask, (pa.Array, pa.ChunkedArray)):
            mask = mask.to_numpy(zero_copy_only=False)
        flags = boolean_flags(
            mask, table.num_rows, f"the condition of tag {name!r}", "row", missing=False
        )
        codes = np.where(flags, 0, -1).astype(np.int64)
        self._add_codes([name], ids, codes)
        return name

    def add_behaviour(
        self,
        name: str,
        event: str | Iterable[str] | None,
        where: Any = None,
        min_times: int = 1,
        start: Any = None,
        end: Any = None,
    ) -> Audience:
        """A tag of the users who did ``event`` at least ``min_times`` times in ``[start, end)``
        on rows where ``where`` holds (see :meth:`Audience.did`).

        >>> tags.add_behaviour("payer", "pay")
        Audience 'payer'(1 of 6 users)
        """
        _check_name(name)
        audience = Audience.did(self.log, event, where, start, end, min_times, name=name)
        self.add(name, audience)
        return audience

    def add(self, name: str, audience: Audience) -> None:
        """Store any audience of the same log as a tag.

        >>> tags.add("dropped_at_cart", result.dropped_after(2))
        >>> len(tags["dropped_at_cart"])
        1
        """
        _check_name(name)
        ensure_audience(audience, self.log, f"tag {name!r}")
        self._index = self._names = None
        self._native.add(name, audience.bitmap)

    def remove(self, name: str) -> None:
        """Delete a tag.

        >>> tags.remove("vip")
        >>> "vip" in tags
        False
        """
        self._index = self._names = None
        if not isinstance(name, str):
            raise UnknownTagError(f"tag names are text; got {name!r}")
        if not self._native.remove(name):
            raise UnknownTagError(unknown_tag_message(name, self.names))

    # -- reading --------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Tag names in the order they were added."""
        if self._names is None:
            # Read once per change: a profile reads them on every call.
            self._names = tuple(self._native.names())
        return list(self._names)

    def sizes(self) -> pd.Series:
        """Users per tag.

        >>> tags.sizes().head(3)
        gender:F     4
        gender:M     2
        age:18-24    2
        Name: users, dtype: int64
        """
        return pd.Series(
            self._native.sizes().to_numpy(), index=self.names, name="users", dtype="int64"
        )

    def __len__(self) -> int:
        return len(self._native)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._native.index_of(name) is not None

    def __iter__(self) -> Any:
        return iter(self.names)

    def __getitem__(self, name: str) -> Audience:
        if not isinstance(name, str):
            raise UnknownTagError(f"tag names are text; got {name!r}")
        native = self._native.get(name)
        if native is None:
            raise UnknownTagError(unknown_tag_message(name, self.names))
        return Audience(self.log, native, name)

    def select(self, expression: str) -> Audience:
        """Evaluate a selection expression in one native call.

        Precedence: ``~``/``!`` (not) binds tightest, then ``&``, then ``|``, ``-`` and ``^``
        (equal, left to right). Quote names with spaces or operators: ``"city:New York"``.
        The whole expression runs over each block of 65,536 users at once; the first selection
        that names a tag lays out that tag's containers for it (a copy of the tag, kept).

        >>> tags.select("(gender:F & age:18-24) | vip - age:35+").keys().to_pylist()
        [1, 6]
        """
        if self._index is None:
            # Tag names change only through add/remove, which reset this cache.
            self._index = {n: i for i, n in enumerate(self.names)}
            self._programs = {}
        program = self._programs.get(expression)
        if program is None:
            # Parsing costs a few percent of a fast selection; dashboards re-run the same few.
            program = compile_program(expression, self._index)
            if len(self._programs) >= _PROGRAM_CACHE:
                self._programs.clear()
            self._programs[expression] = program
        return Audience(self.log, self._native.eval(program), expression)

    def belongs_to(self, log: EventLog) -> bool:
        """Whether the tags hold users of ``log`` (the same id space).

        >>> tags.belongs_to(log)
        True
        """
        return bool(self._native.belongs_to(log.encoded))

    def counts(self, audiences: Sequence[Audience]) -> np.ndarray:
        """Members of every tag (rows, in :attr:`names` order) within each audience (columns),
        with the tag's size as the last column: one parallel native pass.

        >>> tags.names[:2], tags.counts([Audience.all(log)])[:2].tolist()
        (['gender:F', 'gender:M'], [[4, 4], [2, 2]])
        """
        for index, audience in enumerate(audiences):
            ensure_audience(audience, self.log, f"audience {index + 1}")
        counts = self._native.tag_counts([a.bitmap for a in audiences]).to_numpy()
        return counts.reshape(-1, len(audiences) + 1).astype(np.int64)

    def profile_rows(
        self, audience: Audience, base: Audience | None, z: float, min_count: float
    ) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray, np.ndarray]:
        """The rows of a profile of ``audience`` (already within ``base``; None: every user)
        ranked by TGI, then users, then store order: the tag names, the integer columns
        ``count`` and ``base_count`` (2 x rows) and the float columns ``audience_share``,
        ``base_share``, ``tgi``, ``lift``, ``lift_low``, ``lift_high`` and ``p_value`` (the
        two-proportion z test, audience against the rest; 7 x rows), in one native pass.
        ``min_count`` is the fewest audience users a tag needs; ``z`` is the interval's normal
        quantile.

        >>> names, ints, floats = tags.profile_rows(Audience.did(log, "pay"), None, 1.96, 1)
        >>> list(names), ints.tolist(), floats[2].tolist()
        (['age:18-24', 'vip', 'gender:F'], [[1, 1, 1], [2, 2, 4]], [300.0, 300.0, 150.0])
        """
        ensure_audience(audience, self.log, "audience")
        if base is not None:
            ensure_audience(base, self.log, "base")
        names, ints, floats = self._native.profile_table(
            audience.bitmap, None if base is None else base.bitmap, z, min_count
        )
        # The numbers come as bytearrays, so the table's columns are writable like any frame's.
        return (
            # pandas 3 takes dtype= here (pandas-stubs do not know it yet).
            pd.arrays.ArrowStringArray(names, dtype=_TEXT),  # type: ignore[call-arg]
            np.frombuffer(ints, dtype=np.int64).reshape(3, -1)[1:],
            np.frombuffer(floats, dtype=np.float64).reshape(7, -1),
        )

    # -- persistence and export -----------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save every tag by original user keys (any key type).

        >>> tags.save("tags.fwb")
        """
        saved = self._native.save_bytes()
        with writing(path, "tags") as target:
            target.write_bytes(saved)

    @classmethod
    def load(cls, path: str | os.PathLike[str], log: EventLog) -> TagStore:
        """Load a saved store onto ``log``; members the log lacks are dropped (per tag in
        ``store.dropped``).

        >>> tags.save("tags.fwb")
        >>> TagStore.load("tags.fwb", log)
        TagStore(6 tags over 6 users)
        """
        data = existing_path(path, "saved tag store").read_bytes()
        native, dropped = _core.TagStore.load_bytes(log.encoded, data)
        store = cls(log, native=native)
        store.dropped = dict(zip(native.names(), (int(d) for d in dropped), strict=True))
        return store

    def to_bytes(
        self, format: BitmapFormat = "portable", *, bits: int | None = None
    ) -> dict[str, bytes]:
        """Every tag as bitmap bytes of ORIGINAL integer keys (see :meth:`Audience.to_bytes`).

        >>> import pyroaring
        >>> sorted(pyroaring.BitMap.deserialize(tags.to_bytes()["vip"]))
        [1, 3]
        """
        return dict(
            zip(
                self.names,
                (bytes(b) for b in self._native.key_bitmaps(*bitmap_options(format, bits))),
                strict=False,
            )
        )

    def __repr__(self) -> str:
        return f"TagStore({len(self)} tags over {self.log.n_users:,} users)"


TagCondition = Callable[[pd.DataFrame], Any]
