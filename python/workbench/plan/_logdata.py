"""The columns of an event log as the plan code needs them: event codes, times, properties.

Validation and inference read the log's source table (original row order) and never the native
encoding, so a plain table works too; row numbers in reports are positions in that table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core
from workbench._arrow import decoded
from workbench.log import (
    EVENT_COLUMNS,
    SESSION_COLUMNS,
    TIME_COLUMNS,
    USER_COLUMNS,
    EventLog,
    column_times,
    find_column,
    to_arrow_table,
)

__all__ = ["LogData", "is_text", "text_codes"]


@dataclass
class LogData:
    """One event log, read once: event names coded, time as int64, property columns."""

    table: pa.Table
    user: str
    event: str
    time: str
    session: str | None

    @classmethod
    def of(cls, log: Any) -> LogData:
        """From a ``workbench.EventLog`` or anything it accepts (columns found by name)."""
        if isinstance(log, LogData):
            return log
        if isinstance(log, EventLog):
            return cls(
                log.source, log.user_column, log.event_column, log.time_column, log.session_column
            )
        table = to_arrow_table(log)
        session = next((c for c in SESSION_COLUMNS if c in table.column_names), None)
        return cls(
            table,
            find_column(table, "user", None, USER_COLUMNS),
            find_column(table, "event", None, EVENT_COLUMNS),
            find_column(table, "time", None, TIME_COLUMNS),
            session,
        )

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    @property
    def property_names(self) -> list[str]:
        roles = {self.user, self.event, self.time, self.session}
        return [c for c in self.table.column_names if c not in roles]

    @cached_property
    def _coded(self) -> tuple[np.ndarray, list[str], pa.UInt32Array | None]:
        column = self.table.column(self.event)
        if is_text(column.type):
            # The native coder: same codes and first-seen order as dictionary_encode, several
            # times faster; a null reads as -1 through the signed view.
            coded, values = _core.code_text(column, [], name=self.event)
            return coded.to_numpy().view(np.int32), values, coded
        encoded = pc.dictionary_encode(decoded(column).combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            codes = np.where(encoded.is_null().to_numpy(zero_copy_only=False), -1, codes)
        names = [str(v) for v in encoded.dictionary.to_pylist()]
        return codes.astype(np.int32, copy=False), names, None

    @property
    def codes(self) -> np.ndarray:
        """Event code per row (-1 for a null event name)."""
        return self._coded[0]

    @property
    def event_names(self) -> list[str]:
        """Event name per code."""
        return self._coded[1]

    @property
    def native_codes(self) -> pa.UInt32Array:
        """The event codes as a uint32 Arrow array (a null as 2**32 - 1), for native kernels."""
        coded = self._coded[2]
        if coded is None:
            coded = pa.array(self.codes.view(np.uint32))
        return coded

    def present_by_code(self, name: str) -> np.ndarray:
        """Rows per event code whose column ``name`` holds a value (not null, not NaN); the
        last slot counts rows with a null event name. One native pass."""
        counts = _core.present_by_code(
            self.native_codes, len(self.event_names), self.table.column(name), name=name
        )
        return np.array(counts, dtype=np.int64)

    def rows_outside(self, name: str, allowed: list[str]) -> np.ndarray:
        """Rows (int64, ascending) whose text in column ``name`` is present and not among
        ``allowed``. One native scan."""
        rows = _core.rows_outside(self.table.column(name), allowed, name=name)
        return rows.to_numpy().view(np.int64)

    @cached_property
    def event_rows(self) -> np.ndarray:
        """Rows per event code."""
        if self._coded[2] is not None:
            return self.present_by_code(self.event)[:-1]
        valid = self.codes[self.codes >= 0]
        return np.bincount(valid, minlength=len(self.event_names))

    @cached_property
    def _time(self) -> tuple[np.ndarray, str | None, str | None]:
        return column_times(self.table.column(self.time))

    @property
    def time_values(self) -> np.ndarray:
        """Time per row as int64 in the column's unit (nulls as the smallest int64)."""
        return self._time[0]

    def times_at(self, rows: np.ndarray) -> np.ndarray:
        """``time_values[rows]``, reading only those rows when they are few."""
        if "_time" in self.__dict__ or len(rows) > self.n_rows // 8:
            return self.time_values[rows]
        column = self.table.column(self.time)
        # Take from each chunk its own rows (a take across chunks first joins them all), and put
        # each chunk's times back where its rows are: `rows` need not ascend.
        bounds = np.cumsum([0] + [len(chunk) for chunk in column.chunks])
        which = np.searchsorted(bounds, rows, side="right") - 1
        times = np.empty(len(rows), dtype=np.int64)
        for k in np.unique(which):
            mine = which == k
            piece = column.chunk(k).take(pa.array(rows[mine] - bounds[k]))
            times[mine] = column_times(pa.chunked_array([piece], type=column.type))[0]
        return times

    @cached_property
    def _time_kind(self) -> tuple[str | None, str | None]:
        _, unit, tz = column_times(self.table.column(self.time).slice(0, 0))
        return unit, tz

    def to_time(self, values: np.ndarray) -> pd.Series | np.ndarray:
        """Int64 times back to timestamps (or left as numbers for integer time columns)."""
        unit, tz = self._time_kind
        if unit is None:
            return values
        stamps: Any = pd.to_datetime(values, unit=cast(Any, unit), utc=tz is not None)
        return stamps.tz_convert(tz) if tz else stamps

    def column(self, name: str) -> pa.Array:
        """A property column as one contiguous array (dictionary columns decoded)."""
        return decoded(self.table.column(name)).combine_chunks()

    def code_of(self, name: str) -> int | None:
        try:
            return self._index[name]
        except KeyError:
            return None

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: code for code, name in enumerate(self.event_names)}


def text_codes(column: pa.Array | pa.ChunkedArray, name: str) -> tuple[np.ndarray, list[str]]:
    """Strings numbered in first-seen order by the native coder (the order dictionary_encode
    gives), a null as -1, with the strings by number; ``name`` is the column's, for errors.

    >>> codes, values = text_codes(pa.array(["b", None, "a", "b"]), "platform")
    >>> codes.tolist(), values
    ([0, -1, 1, 0], ['b', 'a'])
    """
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    coded, values = _core.code_text(chunked, [], name=name)
    return coded.to_numpy(zero_copy_only=False).view(np.int32), values


def is_text(dtype: pa.DataType) -> bool:
    """Strings of any width, or a dictionary of them: what the native text coder reads."""
    if pa.types.is_dictionary(dtype):
        return pa.types.is_integer(dtype.index_type) and is_text(dtype.value_type)
    return (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    )
