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
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core, _progress
from workbench._arrow import decoded
from workbench._files import existing_path
from workbench._names import did_you_mean, listing, plain
from workbench.exceptions import (
    ArgumentError,
    ColumnNotFoundError,
    CorruptDataError,
    EmptyLogError,
    FunnelDefinitionError,
    ImplausibleTimesError,
    SchemaError,
)

__all__ = [
    "PLAUSIBLE_TIMES",
    "TIME_UNITS",
    "EventLog",
    "check_unique_columns",
    "check_user_table",
    "column_times",
    "find_column",
    "to_arrow_table",
]

TimeUnit = Literal["s", "ms", "us", "ns"]
"""The units the engine keeps time in (that of the log's time column)."""
TIME_UNITS: tuple[str, ...] = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

PLAUSIBLE_TIMES: tuple[str, str] = ("1900-01-01", "2200-01-01")
"""The span (UTC, end excluded) event times are expected in. A time outside is nearly always
misread: integer epochs in milliseconds declared ``time_unit="s"`` land in the year 57971, and
sentinels such as 9999-12-31 or 0001-01-01 stand for "unknown". Such a log is refused (one row of
year 57971 would also make a day-by-day trend list millions of days); 1970 data, a simulation in
2100 and the like load as they are. ``EventLog(..., plausible_times=(start, end))`` changes the
span; ``plausible_times=None`` accepts any time."""

# Names tried, in order, when a role's column is not given.
USER_COLUMNS = ("user_id", "user", "distinct_id", "person_id", "customer_id", "uid")
EVENT_COLUMNS = ("event", "event_name", "event_type", "action", "name")
TIME_COLUMNS = ("time", "timestamp", "ts", "event_time", "datetime", "created_at")
SESSION_COLUMNS = ("session_id", "session")
# The options the native Parquet reader takes; any other sends a file through pyarrow.
_NATIVE_OPTIONS = frozenset(
    {"user", "event", "time", "session", "time_unit", "drop_nulls", "progress", "plausible_times"}
)


def to_arrow_table(data: Any) -> pa.Table:
    """Any supported input as a pyarrow Table, without copying where Arrow allows it."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, pd.DataFrame):
        return _from_pandas(data)
    if isinstance(data, (str, os.PathLike)):
        raise ArgumentError(
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
    raise ArgumentError(
        f"cannot read an event log from {type(data).__name__}; pass a pandas or Polars "
        "DataFrame, a pyarrow Table/RecordBatch, or any object with the Arrow PyCapsule interface"
    )


def _from_pandas(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as Arrow; a repeated column name or an object column Arrow cannot type (ints
    and strings mixed, an integer beyond 64 bits) is named, with the fix, instead of Arrow's
    conversion error."""
    check_unique_columns([str(c) for c in frame.columns], "DataFrame")
    unreadable = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except unreadable as err:
        for name in frame.columns:
            column = frame[name]
            if column.dtype != object:
                continue
            try:
                pa.array(column, from_pandas=True)
            except unreadable:
                raise SchemaError(_unreadable_column(str(name), column)) from None
        raise SchemaError(f"cannot read the DataFrame as Arrow columns: {err}") from None


def _unreadable_column(name: str, column: pd.Series) -> str:
    """Why an object column has no Arrow type: an integer beyond 64 bits, or mixed kinds."""
    for position, value in enumerate(column.tolist()):
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            return (
                f"column {name!r} holds an integer beyond 64 bits at row {position} ({value}); "
                f"a column holds 64-bit integers: keep such values as text, e.g. "
                f"df[{name!r}] = df[{name!r}].astype(str)"
            )
    first: dict[str, tuple[int, Any]] = {}  # kind of value -> its first row and value
    for position, value in enumerate(column.tolist()):
        if not (pd.api.types.is_scalar(value) and pd.isna(value)):
            first.setdefault(type(value).__name__, (position, value))
    shown = ", ".join(f"{kind} at row {row}: {value!r}" for kind, (row, value) in first.items())
    return (
        f"column {name!r} mixes values of several kinds ({shown}); a column holds one kind: "
        f"convert it first, e.g. df[{name!r}] = df[{name!r}].astype(str)"
    )


def check_unique_columns(names: Sequence[str], what: str) -> None:
    """Refuse two columns of one name: which one a role or a condition reads would be a guess.

    >>> check_unique_columns(["user_id", "event", "user_id"], "table")
    Traceback (most recent call last):
    ...
    workbench.exceptions.SchemaError: the table has 2 columns named 'user_id' (positions 0 and 2); rename or drop one first
    """  # noqa: E501
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        seen.setdefault(name, []).append(position)
    for name, positions in seen.items():
        if len(positions) > 1:
            where = ", ".join(map(str, positions[:-1])) + f" and {positions[-1]}"
            raise SchemaError(
                f"the {what} has {len(positions)} columns named {name!r} (positions {where}); "
                "rename or drop one first"
            )


def find_column(table: pa.Table, role: str, given: str | None, candidates: Sequence[str]) -> str:
    """The column that plays ``role`` (user, event, time...): ``given`` if named, else the first
    of ``candidates`` the table has; a :class:`ColumnNotFoundError` lists the columns otherwise."""
    return _find_name(table.column_names, role, given, candidates)


def _find_name(
    names: Sequence[str], role: str, given: str | None, candidates: Sequence[str]
) -> str:
    if given is not None:
        if not isinstance(given, str):
            raise ArgumentError(f"{role}= names a column; got {given!r}")
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
        plausible_times: the span ``(start, end)`` (UTC) every event time must fall in, by
            default :data:`PLAUSIBLE_TIMES` (1900 to 2200); a time outside is refused as
            misread, naming its row and, for integer epochs, the unit that fits. Pass a wider
            span, or None to accept any time.

    >>> import pyarrow as pa, workbench as wb
    >>> t = pa.table({"uid": ["a", "b"], "name": ["open", "open"], "ts": [0, 60]})
    >>> wb.EventLog(t, time_unit="s").event_counts.to_dict()
    {'open': 2}
    """

    _source: pa.Table | None  # None until a log read natively from Parquet needs the table

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
        plausible_times: tuple[Any, Any] | None = PLAUSIBLE_TIMES,
    ) -> None:
        if time_unit is not None and time_unit not in TIME_UNITS:
            raise ArgumentError(
                f"time_unit is the unit of integer epochs: one of {listing(TIME_UNITS)}; got "
                f"{time_unit!r}"
            )
        if not isinstance(drop_nulls, bool):
            raise ArgumentError(f"drop_nulls= is True or False; got {drop_nulls!r}")
        span = _plausible_span(plausible_times)
        table = to_arrow_table(data)
        check_unique_columns(table.column_names, "event log")
        if table.num_rows == 0:
            raise EmptyLogError("the event log is empty (no rows)")
        self._set_roles(table.schema, user, event, time, session)
        self._source = table
        callback = _progress.resolve(progress, "Loading events")
        try:
            self.encoded: _core.EncodedLog = _core.encode_log(
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
        if span is not None:
            _check_plausible(self, span)

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
        self.user_column = _find_name(names, "user", user, USER_COLUMNS)
        self.event_column = _find_name(names, "event", event, EVENT_COLUMNS)
        self.time_column = _find_name(names, "time", time, TIME_COLUMNS)
        if session is not None:
            self.session_column: str | None = _find_name(names, "session", session, ())
        else:
            self.session_column = next((c for c in SESSION_COLUMNS if c in names), None)
        roles = [self.user_column, self.event_column, self.time_column]
        if len(set(roles)) < 3:
            raise SchemaError(f"user, event and time must be different columns; got {roles}")
        self._schema = schema
        self._source = None
        self._parquet: tuple[Path, str] | None = None
        # Kept per log because the log never changes: a re-run reuses them.
        self._columns: dict[str, pa.Array] = {}
        self._group_codes: dict[tuple[str, ...], pa.Array] = {}
        self._group_values: dict[tuple[str, ...], pa.Table] = {}
        self._property_codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self._read_columns: dict[str, pa.ChunkedArray] = {}

    @property
    def source(self) -> pa.Table:
        """The input table, in its original row order (for properties and row numbers). A log
        read natively from Parquet reads the whole file here on first use, the way
        ``pyarrow.parquet.read_table`` would."""
        if self._source is None:
            import pyarrow.parquet as pq

            if self._parquet is None:  # pragma: no cover - set by every loading path
                raise SchemaError("this event log has neither a table nor a file behind it")
            path, event = self._parquet
            self._source = pq.read_table(path, read_dictionary=[event])
        return self._source

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], **options: Any) -> EventLog:
        """Load a Parquet file (or directory of files); event names are read dictionary-coded.

        A file that is not Parquet (or lost its footer in a cut-off copy) is refused with a
        :class:`~workbench.exceptions.CorruptDataError` naming it, a directory without Parquet
        files with an :class:`~workbench.exceptions.EmptyLogError`.

        >>> events.to_parquet("events.parquet")
        >>> wb.EventLog.from_parquet("events.parquet", user="user_id").n_users
        6
        """
        import pyarrow.parquet as pq

        path = existing_path(path, "Parquet file", directory=True)
        if path.is_dir():
            _check_has_data_files(path, "Parquet")
        native = cls._from_parquet_natively(path, options)
        if native is not None:
            return native
        try:
            schema = pq.read_schema(path) if path.is_file() else None
            event = options.get("event")
            if event is None and schema is not None:
                event = next((c for c in EVENT_COLUMNS if c in schema.names), None)
            # Reading the event column as a dictionary lets the engine code names per value.
            table = pq.read_table(path, read_dictionary=[event] if event else None)
        except (
            pa.ArrowInvalid,
            pa.ArrowNotImplementedError,
            pa.ArrowIOError,
            UnicodeDecodeError,  # a column name in a damaged footer that is not text
        ) as err:
            if isinstance(err, PermissionError):
                raise
            raise CorruptDataError(_unreadable(path, "Parquet", err)) from None
        return cls(table, **options)

    @classmethod
    def _from_parquet_natively(cls, path: Path, options: dict[str, Any]) -> EventLog | None:
        """The log read by the native Parquet reader (the user, event and time columns decoded
        in parallel, without building a table; other columns read when first used), or None to
        take the pyarrow path, which raises the errors users know for whatever the native
        reader declined (partitioned directories, unusual types or codecs, nulls, bad options)."""
        import pyarrow.dataset as ds

        if not set(options) <= _NATIVE_OPTIONS:
            return None
        if options.get("time_unit") not in (None, *TIME_UNITS):
            return None
        if not isinstance(options.get("drop_nulls", False), bool):
            return None
        try:
            _plausible_span(options.get("plausible_times", PLAUSIBLE_TIMES))
            # pyarrow's own discovery, so files come in the order read_table reads them.
            dataset = ds.dataset(path, format="parquet", partitioning="hive")
            files = list(dataset.files)
            schema = dataset.schema
            names = schema.names  # a hostile file's names may not even be text
        except (OSError, ValueError, pa.ArrowException):
            return None
        # Hive directories (key=value) add columns no file holds: pyarrow reads those.
        if not files or any("=" in Path(f).parent.name for f in files if path.is_dir()):
            return None
        if len(set(names)) < len(names):
            return None
        log = cls.__new__(cls)
        return log if cls._read_natively(log, path, schema, files, options) else None

    def _read_natively(
        self, path: Path, schema: pa.Schema, files: list[str], options: dict[str, Any]
    ) -> bool:
        """Fill this (new) log from the native reader; False where it declines the files."""
        span = _plausible_span(options.get("plausible_times", PLAUSIBLE_TIMES))
        try:
            self._set_roles(
                schema,
                options.get("user"),
                options.get("event"),
                options.get("time"),
                options.get("session"),
            )
        except (SchemaError, ArgumentError):
            return False
        roles = (self.user_column, self.event_column, self.time_column)
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
            return False
        self.encoded = native
        self._parquet = (path, self.event_column)
        if native.n_rows == 0:
            raise EmptyLogError("the event log is empty (no rows)")
        if span is not None:
            _check_plausible(self, span)
        return True

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike[str], *, encoding: str = "utf-8", **options: Any
    ) -> EventLog:
        """Load a CSV file; timestamps in ISO 8601 are parsed as times. ``encoding`` names the
        file's text encoding when it is not UTF-8 (``"latin-1"``, ``"cp1252"``, ...); text that
        is not valid in it is refused with its line and column.

        >>> events.to_csv("events.csv", index=False)
        >>> wb.EventLog.from_csv("events.csv").time_range[1]
        Timestamp('2026-01-03 12:30:00')
        """
        import codecs

        import pyarrow.csv as pcsv

        path = existing_path(path, "CSV file")
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ArgumentError(
                f"encoding={encoding!r} is not a text encoding Python knows; try 'utf-8', "
                "'latin-1' or 'cp1252'"
            ) from None
        try:
            table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(encoding=encoding))
        except UnicodeError:  # raised by the codec that transcodes a non-UTF-8 file
            raise SchemaError(_not_text(path, None, encoding)) from None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowIOError) as err:
            if isinstance(err, PermissionError):
                raise
            raise CorruptDataError(_unreadable(path, "CSV", err)) from None
        try:
            names = table.column_names
        except UnicodeDecodeError:  # a column name in the header is not text
            raise SchemaError(_not_text(path, None, encoding)) from None
        types = table.schema.types
        undecoded = [n for n, t in zip(names, types, strict=True) if pa.types.is_binary(t)]
        if undecoded:
            raise SchemaError(_not_text(path, undecoded[0], encoding))
        return cls(table, **options)

    # -- what the log holds ---------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.encoded.n_rows)

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return int(self.encoded.n_users)

    @property
    def dropped_rows(self) -> int:
        """Rows skipped because of nulls (only with ``drop_nulls=True``)."""
        return int(self.encoded.dropped_rows)

    @cached_property
    def user_keys(self) -> pa.Array:
        """The original user keys, sorted; position = the engine's dense user id."""
        keys = self.encoded.user_keys()
        source_type = self._schema.field(self.user_column).type
        if pa.types.is_integer(source_type) and keys.type != source_type:
            return keys.cast(source_type)
        return keys

    @cached_property
    def user_ids(self) -> np.ndarray:
        """The dense user ids ``0..n_users-1`` (uint32, read-only), made once per log.

        >>> log.user_ids.tolist()
        [0, 1, 2, 3, 4, 5]
        """
        ids = np.arange(self.n_users, dtype=np.uint32)
        ids.flags.writeable = False
        return ids

    @cached_property
    def users(self) -> pd.Index:
        """The distinct user keys as a pandas Index (sorted)."""
        return pd.Index(self.user_keys.to_pandas(), name=self.user_column)

    @property
    def event_names(self) -> list[str]:
        """Distinct event names, sorted."""
        return list(self.encoded.event_names)

    @cached_property
    def event_counts(self) -> pd.Series:
        """Rows per event name, most frequent first."""
        counts = pd.Series(
            self.encoded.event_counts, index=self.encoded.event_names, name="events", dtype="int64"
        )
        counts.index.name = self.event_column
        return counts.sort_values(ascending=False, kind="stable")

    @property
    def property_names(self) -> list[str]:
        """Columns other than user, event, time and session."""
        roles = {self.user_column, self.event_column, self.time_column, self.session_column}
        return [c for c in self._schema.names if c not in roles]

    @property
    def time_unit(self) -> TimeUnit:
        """The unit of the engine's timestamps (that of the time column)."""
        return cast(TimeUnit, str(self.encoded.time_unit))

    @cached_property
    def time_zone(self) -> str | None:
        t = self._schema.field(self.time_column).type
        return t.tz if pa.types.is_timestamp(t) else None

    @cached_property
    def time_bounds(self) -> tuple[int, int]:
        """First and last event time in engine units (the integers funnels compare).

        >>> log.time_unit, log.time_bounds
        ('us', (1767258000000000, 1767443400000000))
        """
        bounds = self.encoded.time_range()
        if bounds is None:  # every row dropped for nulls is refused at load, so never seen here
            raise EmptyLogError("the event log has no rows, so no time range")
        return int(bounds[0]), int(bounds[1])

    @cached_property
    def time_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last event time.

        >>> log.time_range
        (Timestamp('2026-01-01 09:00:00'), Timestamp('2026-01-03 12:30:00'))
        """
        first, last = self.time_bounds
        return self.to_timestamp(first), self.to_timestamp(last)

    def to_timestamp(self, value: int) -> pd.Timestamp:
        """An engine timestamp as a pandas Timestamp in the log's time zone.

        >>> log.to_timestamp(1767443400000000)
        Timestamp('2026-01-03 12:30:00')
        """
        stamp = pd.Timestamp(value, unit=self.time_unit, tz="UTC" if self.time_zone else None)
        return stamp.tz_convert(self.time_zone) if self.time_zone else stamp

    def engine_time(self, value: Any, what: str = "time") -> int:
        """A point in time (engine integer, datetime, or text) in engine units; naive times are
        read in the log's time zone. ``what`` names the parameter in error messages.

        >>> log.engine_time("2026-01-02") == log.engine_time(pd.Timestamp("2026-01-02"))
        True
        """
        unit = self.time_unit
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            number = int(value)
            if not _INT64_MIN <= number <= _INT64_MAX:
                raise ArgumentError(
                    f"{what}={number} is beyond the 64-bit integers a log's times are; pass a "
                    f"datetime, a date string, or an integer in the log's time unit ({unit})"
                )
            return number
        try:
            stamp = pd.Timestamp(value)
            if stamp is not pd.NaT:
                if self.time_zone is not None and stamp.tz is None:
                    stamp = stamp.tz_localize(self.time_zone)
                if stamp.tz is not None:
                    stamp = stamp.tz_convert("UTC").tz_localize(None)
        except (TypeError, ValueError, OverflowError):
            raise ArgumentError(
                f"cannot read {what}={value!r} as a point in time; pass a datetime, a date "
                "string such as '2026-10-31' or '2026-10-31 18:00', or an integer in the log's "
                f"time unit ({unit})"
            ) from None
        if stamp is pd.NaT:
            raise ArgumentError(f"{what} is missing (NaT); pass a point in time")
        units = epoch_units(stamp, unit)
        if not _INT64_MIN <= units <= _INT64_MAX:
            first, last = (_describe(v, unit) for v in (_INT64_MIN + 1, _INT64_MAX))
            raise ArgumentError(
                f"{what}={value!r} is outside the times a log in {unit} can hold ({first} to "
                f"{last}); pass a time within them"
            )
        return units

    @property
    def column_names(self) -> list[str]:
        """Every column of the input, roles and properties.

        >>> log.column_names[:3]
        ['user_id', 'event', 'time']
        """
        return list(self._schema.names)

    def column(self, name: str) -> pa.ChunkedArray:
        """One input column in its original row order; a log read natively from Parquet reads
        just that column from the file (the first time it is asked for)."""
        if self._source is None and self._parquet is not None and name in self._schema.names:
            import pyarrow.parquet as pq

            if name not in self._read_columns:
                table = pq.read_table(self._parquet[0], columns=[name])
                self._read_columns[name] = table.column(0)
            return self._read_columns[name]
        return self.source.column(name)

    def property_codes(self, name: str) -> tuple[np.ndarray, list[Any]]:
        """Every input row's value of column ``name`` as a code (by input row: uint8, uint16 or
        uint32, the narrowest that holds them; the number of values for a null) and the values
        by code. Coded once per column, so that breakdowns only gather the codes of the rows
        their units are attributed to.

        >>> codes, values = log.property_codes("platform")
        >>> codes[:4].tolist(), values
        ([0, 0, 0, 1], ['ios', 'web', 'android'])
        """
        if name not in self._property_codes:
            encoded = pc.dictionary_encode(decoded(self.property_column(name)))
            labels = encoded.dictionary.to_pylist()
            # As narrow as the values allow: breakdowns read the codes scattered over every
            # row, and a byte per row stays in cache where four bytes do not.
            width = next(
                t for t in (pa.uint8(), pa.uint16(), pa.uint32()) if len(labels) < 2**t.bit_width
            )
            codes = encoded.indices.fill_null(len(labels)).cast(width)
            self._property_codes[name] = (codes.to_numpy(zero_copy_only=False), labels)
        return self._property_codes[name]

    def property_column(self, name: str) -> pa.Array:
        """An input column as one contiguous array (kept: gathers from it are much faster than
        from the chunks a Parquet file arrives in).

        >>> log.property_column("platform").to_pylist()[:4]
        ['ios', 'ios', 'ios', 'web']
        """
        if name not in self._columns:
            column = self.column(name)
            self._columns[name] = (
                column.combine_chunks() if column.num_chunks != 1 else (column.chunk(0))
            )
        return self._columns[name]

    def group_codes(self, columns: Sequence[str]) -> pa.Array:
        """One code per event (in the engine's row order) for each distinct combination of the
        ``columns``' values, null where any of them is missing: what a funnel holding those
        properties constant groups events by. Computed once per log and kept.

        >>> log.group_codes(["platform"]).to_pylist()
        [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0]
        """
        key = tuple(columns)
        if key not in self._group_codes:
            for name in key:
                if name not in self._schema.names:
                    raise ColumnNotFoundError(
                        f"cannot group events by {name!r}: it is not a column of the log;"
                        f"{did_you_mean(name, self.property_names)} the properties are "
                        f"{listing(self.property_names)}"
                    )
                kind = decoded(self.column(name)).type
                if pa.types.is_nested(kind):
                    raise FunnelDefinitionError(
                        f"cannot group events by {name!r} (to hold it constant): it holds "
                        f"{kind} values (lists or structs); use a column of plain values"
                    )
            codes, values = _combined_codes(self, list(key))
            self._group_codes[key] = codes.take(self.encoded.source_rows())
            self._group_values[key] = values
        return self._group_codes[key]

    def group_values(self, columns: Sequence[str]) -> pa.Table:
        """The values each code of :meth:`group_codes` stands for: row ``c`` holds the
        ``columns``' values of the events coded ``c``. A funnel's held values are read here, from
        a few rows, instead of from every unit's row of the log.

        >>> log.group_values(["platform"]).column("platform").to_pylist()
        ['ios', 'web', 'android']
        """
        self.group_codes(columns)
        return self._group_values[tuple(columns)]

    def to_timedelta(self, values: Any) -> Any:
        """Durations in engine units as pandas Timedelta(s).

        >>> log.to_timedelta([60_000_000])
        TimedeltaIndex(['0 days 00:01:00'], dtype='timedelta64[us]', freq=None)
        """
        return pd.to_timedelta(np.asarray(values), unit=self.time_unit)

    def time_units(self, duration: pd.Timedelta, what: str = "window") -> int:
        """A duration in engine units; refuses durations finer than the unit.

        >>> log.time_units(pd.Timedelta("1s"))
        1000000
        """
        per_unit = pd.Timedelta(1, unit=self.time_unit)
        units, remainder = divmod(duration, per_unit)
        if remainder != pd.Timedelta(0):
            raise FunnelDefinitionError(
                f"the {what} {duration} is finer than the log's time unit ({self.time_unit})"
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


def _check_has_data_files(directory: Path, kind: str) -> None:
    # Arrow skips names starting with "_" or "." (_SUCCESS, .crc) and reads every other file.
    files = [p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))]
    if not files:
        raise EmptyLogError(
            f"the directory {str(directory)!r} holds no {kind} files; give the path of a "
            f"{kind} file or of a directory of them"
        )


def _unreadable(path: Path, kind: str, err: Exception) -> str:
    text = str(err).strip()
    detail = text.splitlines()[0].rstrip(".") if text else type(err).__name__
    size = f" ({path.stat().st_size:,} bytes)" if path.is_file() else ""
    return (
        f"{str(path)!r}{size} is not a readable {kind} file: {detail}; check that it is {kind} "
        "and was written or copied completely (a cut-off Parquet file loses its footer)"
        if kind == "Parquet"
        else f"{str(path)!r}{size} is not a readable {kind} file: {detail}; check that every "
        "line has the header's columns and that quotes are closed"
    )


def _not_text(path: Path, column: str | None, encoding: str) -> str:
    """Where a CSV file stops being text in ``encoding``: the first byte that does not decode."""
    line, col, byte = _first_undecodable(path, encoding)
    what = f"column {column!r}" if column is not None else "the file"
    return (
        f"{str(path)!r}: {what} is not {encoding} text (byte 0x{byte:02x} on line {line}, "
        f"column {col}); save the file as UTF-8, or name its encoding: "
        "EventLog.from_csv(path, encoding='latin-1') (or 'cp1252', ...)"
    )


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int, int]:
    """1-based line and column of the first byte of ``path`` that is not text in ``encoding``,
    and the byte; read in blocks, so a large file costs no memory."""
    line, column, carry = 1, 1, b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            data = carry + block
            try:
                text, carry = data.decode(encoding), b""
            except UnicodeError as err:
                if not isinstance(err, UnicodeDecodeError):  # e.g. UTF-16 without its BOM
                    return line, column, data[0] if data else 0
                text = data[: err.start].decode(encoding)
                if block and err.start >= len(data) - 8:
                    carry = data[err.start :]  # a character cut in two by the block's end
                else:
                    line, column = _advance(line, column, text)
                    return line, column, data[err.start]
            line, column = _advance(line, column, text)
            if not block:
                return line, column, 0


def _advance(line: int, column: int, text: str) -> tuple[int, int]:
    newlines = text.count("\n")
    if newlines:
        return line + newlines, len(text) - text.rfind("\n")
    return line, column + len(text)


def epoch_units(stamp: pd.Timestamp, unit: str) -> int:
    """A naive (UTC) timestamp as whole ``unit``s since 1970, floored, exactly (Python ints: no
    overflow, whatever the year).

    >>> epoch_units(pd.Timestamp("9999-12-31"), "s")
    253402214400
    """
    raw = int(stamp.to_datetime64().astype(np.int64))
    have, want = _PER_SECOND[stamp.unit], _PER_SECOND[unit]
    return raw * (want // have) if want >= have else raw // (have // want)


def _plausible_span(span: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if span is None:
        return None
    try:
        start, end = (pd.Timestamp(bound) for bound in span)
        valid = start is not pd.NaT and end is not pd.NaT and start < end
        if valid and start.tz is not None:
            start = start.tz_convert("UTC").tz_localize(None)
        if valid and end.tz is not None:
            end = end.tz_convert("UTC").tz_localize(None)
    except (TypeError, ValueError, OverflowError):
        valid = False
    if not valid:
        raise ArgumentError(
            "plausible_times is a span (start, end) of two points in time, start first, such as "
            f"('1900-01-01', '2200-01-01'), or None to accept any time; got {span!r}"
        )
    return start, end


def _check_plausible(log: EventLog, span: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    """Refuse a log with an event time outside ``span``: name the first such row, its value as
    read, and the fix (the unit integer epochs fit, or filtering a sentinel out)."""
    unit = log.time_unit
    low, high = (epoch_units(bound, unit) for bound in span)
    first, last = log.time_bounds
    if low <= first and last < high:
        return
    column = log.source.column(log.time_column)
    values, _, _ = column_times(column)
    outside = (values < low) | (values >= high)
    outside &= column.is_valid().to_numpy(zero_copy_only=False)
    row = int(np.argmax(outside))
    integers = pa.types.is_integer(column.type)
    when = _describe(int(values[row]), unit)
    if integers:
        when = f"{column[row].as_py()} read as {_UNIT_NAMES[unit]} (time_unit={unit!r}): {when}"
    message = (
        f"column {log.time_column!r} has {int(outside.sum()):,} of {len(values):,} event times "
        f"outside {_day(span[0])} to {_day(span[1])}, the span event times are expected in; "
        f"the first is at row {row}: {when}."
    )
    fits = _fitting_unit(values[column.is_valid().to_numpy(zero_copy_only=False)], unit, span)
    if integers and fits is not None:
        message += f" The values fit as {_UNIT_NAMES[fits]}: pass time_unit={fits!r}."
    else:
        message += (
            " If such times stand for unknown ones (a sentinel such as 9999-12-31), filter those "
            "rows out first."
        )
    message += (
        " To load times outside the span anyway, pass plausible_times=None (or a wider span, "
        "e.g. plausible_times=('1800-01-01', '2300-01-01'))"
    )
    raise ImplausibleTimesError(message)


def _day(stamp: pd.Timestamp) -> str:
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _describe(value: int, unit: str) -> str:
    try:
        return str(pd.Timestamp(np.datetime64(value, cast(Any, unit))))
    except (OverflowError, ValueError):
        return f"around the year {1970 + value / _PER_SECOND[unit] / 31_556_952:,.0f}"


def _fitting_unit(
    values: np.ndarray, unit: str, span: tuple[pd.Timestamp, pd.Timestamp]
) -> str | None:
    """The time unit in which every one of ``values`` falls inside ``span``, if one does."""
    low, high = int(values.min()), int(values.max())
    for other in TIME_UNITS:
        if other == unit:
            continue
        start, end = (epoch_units(bound, other) for bound in span)
        if start <= low and high < end:
            return other
    return None


def _combined_codes(log: EventLog, columns: list[str]) -> tuple[pa.Array, pa.Table]:
    """One uint32 code per input row for each distinct combination of the columns' values, null
    where any is null; and the values of each code, one row per code."""
    valid = np.ones(len(log) + log.dropped_rows, dtype=bool)
    combined: np.ndarray | None = None
    for name in columns:
        encoded = pc.dictionary_encode(decoded(log.column(name))).combine_chunks()
        indices = encoded.indices
        valid &= indices.is_valid().to_numpy(zero_copy_only=False)
        values = indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        if combined is None:
            combined = values
        else:
            # Re-densify (hash-based, linear) so the combined code never overflows.
            combined = pd.factorize(combined * (len(encoded.dictionary) + 1) + values)[0]
    if combined is None:
        raise ArgumentError("group_codes needs at least one column")
    # Any row of a code holds its values; codes seen only where a value is missing are never
    # asked for, and read row 0.
    coded = np.flatnonzero(valid)
    rows = np.zeros(int(combined.max(initial=0)) + 1, dtype=np.int64)
    rows[combined[coded]] = coded
    values = pa.table({name: log.property_column(name).take(pa.array(rows)) for name in columns})
    return pa.array(combined.astype(np.uint32), mask=~valid), values


def column_times(column: pa.ChunkedArray) -> tuple[np.ndarray, str | None, str | None]:
    """A time column as int64 per row, its unit and its time zone: the one reading of times that
    both the engine's encoder and the tracking plan agree on (timestamps in their own unit,
    dates as seconds, integers as they are with no unit, text parsed as microseconds). Nulls
    become the smallest int64.

    >>> values, unit, tz = column_times(pa.chunked_array([pa.array([0, 1], pa.timestamp("ms"))]))
    >>> values.tolist(), unit, tz
    ([0, 1], 'ms', None)
    """
    ctype = column.type
    if pa.types.is_timestamp(ctype):
        values = column.cast(pa.int64())
        unit, tz = ctype.unit, ctype.tz
    elif pa.types.is_date(ctype):
        values = column.cast(pa.timestamp("s")).cast(pa.int64())
        unit, tz = "s", None
    elif pa.types.is_integer(ctype):
        values, unit, tz = column.cast(pa.int64()), None, None
    else:
        values = pc.cast(column, pa.timestamp("us")).cast(pa.int64())
        unit, tz = "us", None
    array = values.combine_chunks().fill_null(np.iinfo(np.int64).min)
    return array.to_numpy(zero_copy_only=False), unit, tz


def check_user_table(users: pd.DataFrame, key: str, *columns: str) -> None:
    """Refuse a user-attribute table that lacks the ``key`` column (or any of ``columns``) or
    lists a user twice, naming the column or the user; every API joining one uses this check.

    >>> check_user_table(pd.DataFrame({"user_id": [1, 1]}), "user_id")
    Traceback (most recent call last):
    ...
    workbench.exceptions.SchemaError: the user table lists user 1 more than once in 'user_id' (1 repeated key(s)); each user needs one row
    """  # noqa: E501
    names = [str(c) for c in users.columns]
    for column in (key, *columns):
        if column not in users.columns:
            raise ColumnNotFoundError(
                f"column {column!r} is not in the user table;{did_you_mean(column, names)} the "
                f"columns are {listing(names)}; name the key column with key= (or on=)"
            )
    repeated = users[key][users[key].duplicated()]
    if len(repeated):
        raise SchemaError(
            f"the user table lists user {plain(repeated.iloc[0])!r} more than once in {key!r} "
            f"({len(repeated)} repeated key(s)); each user needs one row"
        )
