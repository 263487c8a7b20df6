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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core
from workbench.audience import Audience, BitmapFormat, _key_array
from workbench.exceptions import AudienceError
from workbench.predicates import Column
from workbench.selection import UnknownTagError, compile_program, unknown_tag_message

if TYPE_CHECKING:
    from workbench.log import EventLog

__all__ = ["TagStore"]

_PROGRAM_CACHE = 256
"""Compiled selections kept per store (cleared whole when full)."""


def _as_table(users: Any) -> pa.Table:
    if isinstance(users, pa.Table):
        return users
    if isinstance(users, pd.DataFrame):
        return pa.Table.from_pandas(users, preserve_index=False)
    return pa.table(users)


def _value_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


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


class TagStore:
    """Named user sets ("tags") over one event log, selectable by expression.

    Build from a user-attribute table with :meth:`from_table`, add behaviour tags with
    :meth:`add_behaviour`, then combine with ``store["gender:F"] & store["vip"]`` or
    ``store.select("(gender:F & age:25-34) | vip - churned")`` (grammar in
    :mod:`workbench.selection`).

    Rows of a user table whose key is not a user of the log are skipped (counted in
    ``skipped_rows``): a tag only ever holds users the log knows.

    >>> store = TagStore(log)                          # doctest: +SKIP
    >>> store.add_behaviour("buyer", "buy", min_times=2)  # doctest: +SKIP
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._native = _core.TagStore(log._native)
        self.skipped_rows = 0
        self._index: dict[str, int] | None = None
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
        ...                     predicates={"vip": wb.col("spend") > 1000})   # doctest: +SKIP
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
            from workbench._names import did_you_mean

            raise AudienceError(
                f"the user table has no key column {on!r};{did_you_mean(on, table.column_names)}"
                " pass key='...'"
            )
        column = table.column(on)
        if column.null_count:
            raise AudienceError(f"the key column {on!r} has {column.null_count} null(s)")
        ids = _core.lookup_keys(self.log._native, _key_array(self.log, column)).to_numpy()
        known = ids >= 0
        self.skipped_rows = int((~known).sum())
        return ids, known

    def _column(self, table: pa.Table, column: str) -> pa.ChunkedArray:
        if column not in table.column_names:
            from workbench._names import did_you_mean

            raise AudienceError(
                f"the user table has no column {column!r};"
                f"{did_you_mean(column, table.column_names)}"
            )
        return table.column(column)

    def _add_codes(self, names: list[str], ids: np.ndarray, codes: np.ndarray) -> None:
        keep = ids >= 0
        self._index = None
        self._native.add_grouped(
            names,
            pa.array(ids[keep].astype(np.uint32)),
            pa.array(codes[keep].astype(np.int64)),
        )

    def add_categorical(self, users: Any, column: str, *, key: str | None = None) -> list[str]:
        """One tag ``column:value`` per distinct non-null value; returns the new tag names.

        >>> store.add_categorical(users, "city")   # doctest: +SKIP
        ['city:Berlin', 'city:Paris']
        """
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        values = self._column(table, column)
        encoded = pc.dictionary_encode(values).combine_chunks()
        dictionary = encoded.dictionary.to_pylist()
        order = sorted(
            range(len(dictionary)), key=lambda i: (str(type(dictionary[i])), dictionary[i])
        )
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

        >>> store.add_bins(users, "age", [18, 25, 35, float("inf")])   # doctest: +SKIP
        ['age:18-24', 'age:25-34', 'age:35+']
        """
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        values = self._column(table, column)
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            raise AudienceError(f"bins need a numeric column; {column!r} is {values.type}")
        edges = [float(e) for e in edges]
        if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise AudienceError(
                f"bins for {column!r} need at least two strictly ascending edges; got {edges}"
            )
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

        >>> store.add_predicate("vip", users, wb.col("spend") > 1000)   # doctest: +SKIP
        'vip'
        """
        table = _as_table(users)
        ids, _ = self._ids(table, key)
        if isinstance(condition, Column):
            # A bare column is a flag: its own truth value.
            mask = condition == True  # noqa: E712
            mask = mask.mask(table)
        elif hasattr(condition, "mask"):
            mask = condition.mask(table)
        elif callable(condition):
            mask = condition(table.to_pandas())
        else:
            mask = condition
        flags = np.asarray(
            mask.to_numpy(zero_copy_only=False)
            if isinstance(mask, (pa.Array, pa.ChunkedArray))
            else mask
        )
        if flags.shape != (table.num_rows,):
            raise AudienceError(
                f"the condition of tag {name!r} gave {flags.shape} values for {table.num_rows} rows"
            )
        flags = pd.Series(flags).fillna(False).to_numpy(dtype=bool)
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

        >>> store.add_behaviour("repeat_buyer", "buy", min_times=2)   # doctest: +SKIP
        """
        audience = Audience.did(self.log, event, where, start, end, min_times, name=name)
        self.add(name, audience)
        return audience

    def add(self, name: str, audience: Audience) -> None:
        """Store any audience of the same log as a tag.

        >>> store.add("dropped", dropped_after(result, 2))   # doctest: +SKIP
        """
        if not isinstance(audience, Audience):
            raise TypeError(f"a tag is an Audience; got {type(audience).__name__}")
        self._index = None
        self._native.add(name, audience._native)

    def remove(self, name: str) -> None:
        """Delete a tag.

        >>> store.remove("vip")   # doctest: +SKIP
        """
        self._index = None
        if not self._native.remove(name):
            raise UnknownTagError(unknown_tag_message(name, self.names))

    # -- reading --------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Tag names in the order they were added."""
        return list(self._native.names())

    def sizes(self) -> pd.Series:
        """Users per tag.

        >>> store.sizes().head()   # doctest: +SKIP
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
        native = self._native.get(name)
        if native is None:
            raise UnknownTagError(unknown_tag_message(name, self.names))
        return Audience(self.log, native, name)

    def select(self, expression: str) -> Audience:
        """Evaluate a selection expression in one native call.

        Precedence: ``~``/``!`` (not) binds tightest, then ``&``, then ``|``, ``-`` and ``^``
        (equal, left to right). Quote names with spaces or operators: ``"city:New York"``.

        >>> store.select("(gender:F & age:25-34) | vip - churned")   # doctest: +SKIP
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

    # -- persistence and export -----------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save every tag by original user keys (any key type).

        >>> store.save("tags.fwb")   # doctest: +SKIP
        """
        Path(path).write_bytes(self._native.save_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str], log: EventLog) -> TagStore:
        """Load a saved store onto ``log``; members the log lacks are dropped (per tag in
        ``store.dropped``).

        >>> TagStore.load("tags.fwb", log)   # doctest: +SKIP
        """
        native, dropped = _core.TagStore.load_bytes(log._native, Path(path).read_bytes())
        store = cls.__new__(cls)
        store.log = log
        store._native = native
        store.skipped_rows = 0
        store._index = None
        store._programs = {}
        store.dropped = dict(zip(native.names(), (int(d) for d in dropped), strict=False))
        return store

    def to_bytes(
        self, format: BitmapFormat = "portable", *, bits: int | None = None
    ) -> dict[str, bytes]:
        """Every tag as bitmap bytes of ORIGINAL integer keys (see :meth:`Audience.to_bytes`).

        >>> {k: len(v) for k, v in store.to_bytes().items()}   # doctest: +SKIP
        """
        return dict(
            zip(
                self.names, (bytes(b) for b in self._native.key_bitmaps(format, bits)), strict=False
            )
        )

    def __repr__(self) -> str:
        return f"TagStore({len(self)} tags over {self.log.n_users:,} users)"


TagCondition = Callable[[pd.DataFrame], Any]
