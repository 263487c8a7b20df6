"""The event log: load once from any Arrow-speaking source, analyse many times.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({
...     "user_id": [1, 1, 2],
...     "event": ["view", "buy", "view"],
...     "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05", "2026-01-02 09:00"]),
... })
>>> log = wb.EventLog(df)
>>> len(log), log.n_users
(3, 2)
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core, _progress
from workbench._names import did_you_mean, listing
from workbench.exceptions import ColumnNotFoundError, EmptyLogError, SchemaError

__all__ = ["EventLog"]

# Names tried, in order, when a role's column is not given.
USER_COLUMNS = ("user_id", "user", "distinct_id", "person_id", "customer_id", "uid")
EVENT_COLUMNS = ("event", "event_name", "event_type", "action", "name")
TIME_COLUMNS = ("time", "timestamp", "ts", "event_time", "datetime", "created_at")
SESSION_COLUMNS = ("session_id", "session")
# What EventLog takes besides the data; anything else goes to the pyarrow path to be refused.
_NATIVE_OPTIONS = {"user", "event", "time", "session", "time_unit", "drop_nulls", "progress"}


def to_arrow_table(data: Any) -> pa.Table:
    """Any supported input as a pyarrow Table, without copying where Arrow allows it."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, (str, os.PathLike)):
        raise TypeError(
            "EventLog takes data; for files use EventLog.from_parquet(path) "
            "or EventLog.from_csv(path)"
        )
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if hasattr(data, "__arrow_c_array__"):
        return pa.table(pa.record_batch(data))
    for method in ("to_arrow", "arrow", "fetch_arrow_table"):
        convert = getattr(data, method, None)
        if callable(convert):
            result = convert()
            return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    raise TypeError(
        f"cannot read an event log from {type(data).__name__}; pass a pandas or Polars "
        "DataFrame, a pyarrow Table/RecordBatch, or any object with the Arrow PyCapsule interface"
    )


def _pick(table: pa.Table, role: str, given: str | None, candidates: Sequence[str]) -> str:
    return _pick_name(table.column_names, role, given, candidates)


def _pick_name(
    names: Sequence[str], role: str, given: str | None, candidates: Sequence[str]
) -> str:
    if given is not None:
        if given not in names:
            raise ColumnNotFoundError(
                f"the {role} column {given!r} is not in the data;{did_you_mean(given, names)}"
                f" the columns are {listing(names)}"
            )
        return given
    for candidate in candidates:
        if candidate in names:
            return candidate
    raise ColumnNotFoundError(
        f"no {role} column found (looked for {listing(candidates)}); name it with "
        f"{role}='...'; the columns are {listing(names)}"
    )


class EventLog:
    """An event log encoded for analysis: one row per event with a user, an event name and a time.

    Columns are found by name (``user_id``, ``event``, ``time``/``timestamp``/``ts``, ...) unless
    given. Other columns are kept as properties for step conditions and breakdowns. The log is
    sorted by (user, time) and event names are coded once; every funnel and audience reuses it.

    Args:
        data: pandas or Polars DataFrame, pyarrow Table or RecordBatch, or any object with the
            Arrow PyCapsule interface (a DuckDB relation, for one).
        user, event, time, session: column names for each role.
        time_unit: unit of integer epoch timestamps: ``"s"``, ``"ms"``, ``"us"`` or ``"ns"``.
        drop_nulls: skip rows with a null user, event or time instead of refusing the log.
        progress: show progress for a long load (default: in a notebook, after a second).

    >>> import pyarrow as pa, workbench as wb
    >>> t = pa.table({"uid": ["a", "b"], "name": ["open", "open"], "ts": [0, 60]})
    >>> wb.EventLog(t, time_unit="s").event_counts.to_dict()
    {'open': 2}
    """

    def __init__(
        self,
        data: Any,
        *,
        user: str | None = None,
        event: str | None = None,
        time: str | None = None,
        session: str | None = None,
        time_unit: str | None = None,
        drop_nulls: bool = False,
        progress: bool | _progress.ProgressCallback | None = None,
    ) -> None:
        table = to_arrow_table(data)
        if table.num_rows == 0:
            raise EmptyLogError("the event log is empty (no rows)")
        self._set_roles(table.schema, user, event, time, session)
        self._source: pa.Table | None = table
        callback = _progress.resolve(progress, "Loading events")
        try:
            self._native = _core.encode_log(
                table.column(self.user_column),
                table.column(self.event_column),
                table.column(self.time_column),
                names=(self.user_column, self.event_column, self.time_column),
                time_unit=time_unit,
                drop_nulls=drop_nulls,
                progress=callback,
            )
        finally:
            _progress.finish(callback)

    def _set_roles(
        self,
        schema: pa.Schema,
        user: str | None,
        event: str | None,
        time: str | None,
        session: str | None,
    ) -> None:
        """Find the role columns by name in ``schema`` (what both loading paths share)."""
        names = schema.names
        self.user_column = _pick_name(names, "user", user, USER_COLUMNS)
        self.event_column = _pick_name(names, "event", event, EVENT_COLUMNS)
        self.time_column = _pick_name(names, "time", time, TIME_COLUMNS)
        if session is not None:
            self.session_column: str | None = _pick_name(names, "session", session, ())
        else:
            self.session_column = next((c for c in SESSION_COLUMNS if c in names), None)
        roles = [self.user_column, self.event_column, self.time_column]
        if len(set(roles)) < 3:
            raise SchemaError(f"user, event and time must be different columns; got {roles}")
        self._schema = schema
        self._parquet: tuple[Path, str] | None = None
        # Codes of held-constant property combinations, filled by funnels on first use.
        self._hold_codes: dict[tuple[str, ...], pa.Array] = {}
        self._columns: dict[str, pa.Array] = {}
        self._property_codes: dict[str, tuple[pa.Array, list[Any]]] = {}
        self._read_columns: dict[str, pa.ChunkedArray] = {}

    @property
    def source(self) -> pa.Table:
        """The input table, in its original row order (for properties and row numbers). A log
        read natively from Parquet reads the whole file here on first use, the way
        ``pyarrow.parquet.read_table`` would."""
        if self._source is None:
            import pyarrow.parquet as pq

            assert self._parquet is not None
            path, event = self._parquet
            self._source = pq.read_table(path, read_dictionary=[event])
        return self._source

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], **options: Any) -> EventLog:
        """Load a Parquet file (or directory of files); event names are read dictionary-coded.

        The user, event and time columns are decoded natively, in parallel, without building a
        table; the other columns are read when a property is first used. Inputs the native
        reader does not take (partitioned directories, unusual types or codecs, nulls) are read
        through pyarrow, with the same result and the same errors.

        >>> log = wb.EventLog.from_parquet("events.parquet", user="user_id")  # doctest: +SKIP
        """
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no Parquet file at {str(path)!r}")
        native = cls._from_parquet_natively(path, options)
        if native is not None:
            return native
        schema = pq.read_schema(path) if path.is_file() else None
        event = options.get("event")
        if event is None and schema is not None:
            event = next((c for c in EVENT_COLUMNS if c in schema.names), None)
        # Reading the event column as a dictionary lets the engine code names per distinct value.
        table = pq.read_table(path, read_dictionary=[event] if event else None)
        return cls(table, **options)

    @classmethod
    def _from_parquet_natively(cls, path: Path, options: dict[str, Any]) -> EventLog | None:
        """The log read by the native Parquet reader, or None to take the pyarrow path (which
        raises the errors users know for whatever the native reader declined)."""
        import pyarrow.dataset as ds

        if not set(options) <= _NATIVE_OPTIONS:
            return None
        try:
            # pyarrow's own discovery, so files come in the order read_table reads them.
            dataset = ds.dataset(path, format="parquet", partitioning="hive")
            files = list(dataset.files)
            schema = dataset.schema
        except (OSError, ValueError, pa.ArrowException):
            return None
        # Hive directories (key=value) add columns no file holds: pyarrow reads those.
        if not files or any("=" in Path(f).parent.name for f in files if path.is_dir()):
            return None
        log = cls.__new__(cls)
        try:
            log._set_roles(
                schema,
                options.get("user"),
                options.get("event"),
                options.get("time"),
                options.get("session"),
            )
        except SchemaError:
            return None
        roles = (log.user_column, log.event_column, log.time_column)
        callback = _progress.resolve(options.get("progress"), "Loading events")
        try:
            native, _why = _core.encode_parquet(
                files,
                names=roles,
                time_unit=options.get("time_unit"),
                drop_nulls=bool(options.get("drop_nulls", False)),
                progress=callback,
            )
        finally:
            _progress.finish(callback)
        if native is None:
            return None
        log._native = native
        log._source = None
        log._parquet = (path, log.event_column)
        return log

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], **options: Any) -> EventLog:
        """Load a CSV file; timestamps in ISO 8601 are parsed as times.

        >>> log = wb.EventLog.from_csv("events.csv")  # doctest: +SKIP
        """
        import pyarrow.csv as pcsv

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no CSV file at {str(path)!r}")
        return cls(pcsv.read_csv(path), **options)

    # -- what the log holds ---------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._native.n_rows)

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return int(self._native.n_users)

    @property
    def dropped_rows(self) -> int:
        """Rows skipped because of nulls (only with ``drop_nulls=True``)."""
        return int(self._native.dropped_rows)

    @cached_property
    def user_keys(self) -> pa.Array:
        """The original user keys, sorted; position = the engine's dense user id."""
        keys = self._native.user_keys()
        source_type = self._schema.field(self.user_column).type
        if pa.types.is_integer(source_type) and keys.type != source_type:
            return keys.cast(source_type)
        return keys

    @cached_property
    def users(self) -> pd.Index:
        """The distinct user keys as a pandas Index (sorted)."""
        return pd.Index(self.user_keys.to_pandas(), name=self.user_column)

    @property
    def event_names(self) -> list[str]:
        """Distinct event names, sorted."""
        return list(self._native.event_names)

    @cached_property
    def event_counts(self) -> pd.Series:
        """Rows per event name, most frequent first."""
        counts = pd.Series(
            self._native.event_counts, index=self._native.event_names, name="events", dtype="int64"
        )
        counts.index.name = self.event_column
        return counts.sort_values(ascending=False, kind="stable")

    @property
    def column_names(self) -> list[str]:
        """Every column of the input, roles and properties."""
        return list(self._schema.names)

    def column(self, name: str) -> pa.ChunkedArray:
        """One input column in its original row order; a log read natively from Parquet reads
        just that column from the file (the first time it is asked for)."""
        if self._source is None and self._parquet is not None and name in self._schema.names:
            import pyarrow.parquet as pq

            if name not in self._read_columns:
                self._read_columns[name] = pq.read_table(self._parquet[0], columns=[name]).column(0)
            return self._read_columns[name]
        return self.source.column(name)

    @property
    def property_names(self) -> list[str]:
        """Columns other than user, event, time and session."""
        roles = {self.user_column, self.event_column, self.time_column, self.session_column}
        return [c for c in self._schema.names if c not in roles]

    @property
    def time_unit(self) -> str:
        """The unit of the engine's timestamps (that of the time column)."""
        return str(self._native.time_unit)

    @cached_property
    def time_zone(self) -> str | None:
        t = self._schema.field(self.time_column).type
        return t.tz if pa.types.is_timestamp(t) else None

    @cached_property
    def _time_bounds(self) -> tuple[int, int]:
        """First and last event time in engine units (a scan of every row, so kept)."""
        first, last = self._native.time_range()
        return int(first), int(last)

    @cached_property
    def time_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last event time."""
        first, last = self._time_bounds
        return self.to_timestamp(first), self.to_timestamp(last)

    def to_timestamp(self, value: int) -> pd.Timestamp:
        """An engine timestamp as a pandas Timestamp in the log's time zone."""
        stamp = pd.Timestamp(value, unit=self.time_unit, tz="UTC" if self.time_zone else None)
        return stamp.tz_convert(self.time_zone) if self.time_zone else stamp

    def engine_time(self, value: Any) -> int:
        """A point in time (engine integer, datetime, or text) in engine units; naive times are
        read in the log's time zone.

        >>> log.engine_time("2026-01-02")   # doctest: +SKIP
        """
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        stamp = pd.Timestamp(value)
        if self.time_zone is not None and stamp.tz is None:
            stamp = stamp.tz_localize(self.time_zone)
        if stamp.tz is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return int((stamp - pd.Timestamp(0)) // pd.Timedelta(1, unit=self.time_unit))

    def property_column(self, name: str) -> pa.Array:
        """An input column as one contiguous array (kept: gathers from it are much faster than
        from the chunks a Parquet file arrives in)."""
        if name not in self._columns:
            column = self.column(name)
            self._columns[name] = (
                column.combine_chunks() if column.num_chunks != 1 else (column.chunk(0))
            )
        return self._columns[name]

    def property_codes(self, name: str) -> tuple[pa.Array, list[Any]]:
        """Every row's value of property ``name`` as a code in the engine's row order (uint32;
        the number of values for a null) and the values by code. Coded once per property:
        breakdowns then read only the rows their units are attributed to."""
        if name not in self._property_codes:
            column = self.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            encoded = pc.dictionary_encode(column).combine_chunks()
            labels = encoded.dictionary.to_pylist()
            codes = encoded.indices.fill_null(len(labels)).cast(pa.uint32())
            self._property_codes[name] = (codes.take(self._native.source_rows()), labels)
        return self._property_codes[name]

    @cached_property
    def _source_times(self) -> np.ndarray:
        """Engine time of every input row (int64), for attribution by row."""
        column = self.source.column(self.time_column)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_date32(column.type):
            column = pc.multiply(column.cast(pa.int32()).cast(pa.int64()), 86_400)
        return column.to_numpy().astype("int64", copy=False)

    def to_timedelta(self, values: Any) -> Any:
        """Durations in engine units as pandas Timedelta(s)."""
        return pd.to_timedelta(np.asarray(values), unit=self.time_unit)

    def time_units(self, duration: pd.Timedelta) -> int:
        """A duration in engine units; refuses durations finer than the unit."""
        per_unit = pd.Timedelta(1, unit=self.time_unit)
        units, remainder = divmod(duration, per_unit)
        if remainder != pd.Timedelta(0):
            raise ValueError(
                f"the duration {duration} is finer than the log's time unit ({self.time_unit})"
            )
        return int(units)

    # -- notebook display -----------------------------------------------------------------------

    def _summary(self) -> dict[str, str]:
        first, last = self.time_range
        top = ", ".join(f"{name} ({count:,})" for name, count in self.event_counts.head(5).items())
        return {
            "events": f"{len(self):,}",
            "users": f"{self.n_users:,}",
            "event names": f"{len(self.event_names):,} — top: {top}",
            "time range": f"{first} → {last}",
            "columns": f"user={self.user_column!r}, event={self.event_column!r}, "
            f"time={self.time_column!r}, session={self.session_column!r}",
            "properties": ", ".join(self.property_names) or "—",
        }

    def __repr__(self) -> str:
        lines = [f"EventLog({len(self):,} events, {self.n_users:,} users)"]
        lines += [f"  {k}: {v}" for k, v in self._summary().items() if k not in ("events", "users")]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._summary().items()
        )
        return f"<div><strong>EventLog</strong><table>{rows}</table></div>"
