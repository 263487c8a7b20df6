"""The driver's view of an event log that lives in Spark.

A :class:`SparkEventLog` is an :class:`~workbench.EventLog` without rows: it knows the log's
users (the sorted distinct keys — the one id space a Spark result and its audiences share),
event names and counts, time unit, zone and range, and the columns. Everything that reads or
counts users works on it as on a local log (``Audience`` algebra, exports, ``TagStore``,
``profile``); what reads rows (``Funnel.run``, ``Audience.did``, the events of
``wb.compare``) is refused by the engine with a pointer to :mod:`workbench.spark`.

>>> space = SparkEventLog.of_users(pa.array([3, 1, 2]), user_column="user_id")
>>> space.n_users, space.user_keys.to_pylist()
(3, [1, 2, 3])
>>> wb.Audience.from_keys(space, [2, 3]).to_bytes("portable")[:2]
b':0'
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core
from workbench.exceptions import EmptyLogError
from workbench.log import EventLog, TimeUnit

__all__ = ["LogSummary", "SparkEventLog"]


@dataclass(frozen=True)
class LogSummary:
    """What one pass of Spark over the events tells the driver: the columns and their Arrow
    types, the time unit and zone, the rows, the rows per event name and the time range."""

    user_column: str
    event_column: str
    time_column: str
    session_column: str | None
    schema: pa.Schema
    time_unit: TimeUnit
    time_zone: str | None
    n_rows: int
    dropped_rows: int
    event_counts: dict[str, int] = field(default_factory=dict)
    time_bounds: tuple[int, int] | None = None

    def to_json(self) -> str:
        """The summary as JSON (kept in the metadata of a Spark outcome frame)."""
        data = asdict(self)
        data["schema"] = base64.b64encode(self.schema.serialize().to_pybytes()).decode()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> LogSummary:
        """Read :meth:`to_json`'s text back."""
        data: dict[str, Any] = json.loads(text)
        data["schema"] = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data["schema"])))
        bounds = data.get("time_bounds")
        data["time_bounds"] = None if bounds is None else (int(bounds[0]), int(bounds[1]))
        return cls(**data)


class SparkEventLog(EventLog):
    """An event log whose rows stay in Spark: its users, event names, times and columns.

    Build it with :func:`workbench.spark.run` (as ``result.log``), or with :meth:`of_users` for
    a bare id space of user keys.
    """

    def __init__(self, summary: LogSummary, user_keys: pa.Array) -> None:
        # The rows are in the cluster: there is nothing to encode, only the users to number.
        self.summary = summary
        self._set_roles(
            summary.schema,
            summary.user_column,
            summary.event_column,
            summary.time_column,
            summary.session_column,
        )
        self.user_column = summary.user_column
        self.event_column = summary.event_column
        self.time_column = summary.time_column
        self.session_column = summary.session_column
        self._source = summary.schema.empty_table()
        names = sorted(summary.event_counts)
        keys = user_keys.combine_chunks() if isinstance(user_keys, pa.ChunkedArray) else user_keys
        if pa.types.is_integer(keys.type):
            keys = keys.cast(pa.int64())
        # Distinct and ascending, as the encoder numbers users; the engine checks it.
        self.encoded = _core.user_space(
            keys,
            event_names=names,
            event_counts=[summary.event_counts[n] for n in names],
            time_unit=summary.time_unit,
        )

    @classmethod
    def of_users(cls, keys: Any, *, user_column: str = "user_id") -> SparkEventLog:
        """A bare id space over the distinct ``keys`` (no events): what audiences built inside a
        Spark task, or from a table of keys, are numbered in.
        """
        array = pa.array(keys) if not isinstance(keys, (pa.Array, pa.ChunkedArray)) else keys
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        array = pc.unique(array).sort()
        event, time = ("event", "time") if user_column not in ("event", "time") else ("name", "at")
        summary = LogSummary(
            user_column=user_column,
            event_column=event,
            time_column=time,
            session_column=None,
            # No events: the event and time columns exist, empty, as in a table with no rows.
            schema=pa.schema(
                [
                    pa.field(user_column, array.type),
                    pa.field(event, pa.string()),
                    pa.field(time, pa.timestamp("us")),
                ]
            ),
            time_unit="us",
            time_zone=None,
            n_rows=0,
            dropped_rows=0,
        )
        return cls(summary, array)

    def __len__(self) -> int:
        return self.summary.n_rows

    @property
    def dropped_rows(self) -> int:
        """Rows Spark skipped because of nulls (only with ``drop_nulls=True``)."""
        return self.summary.dropped_rows

    @cached_property
    def time_zone(self) -> str | None:
        return self.summary.time_zone

    @cached_property
    def time_bounds(self) -> tuple[int, int]:
        """First and last event time in engine units, as Spark found them."""
        if self.summary.time_bounds is None:
            raise EmptyLogError("this id space holds users only: it has no events, so no times")
        return self.summary.time_bounds

    def property_column(self, name: str) -> pa.Array:
        """Refused: the rows of this log stay in Spark."""
        raise EmptyLogError(
            f"the values of {name!r} stay in Spark with the rows of this log; name it in "
            f"properties=[{name!r}] of workbench.spark.run to carry it into the result"
        )

    def group_codes(self, columns: Any) -> pa.Array:
        """Refused: the rows of this log stay in Spark."""
        raise EmptyLogError(
            "grouping events needs the rows, which stay in Spark; workbench.spark.run holds "
            "properties constant inside the cluster"
        )

    def __repr__(self) -> str:
        lines = [f"SparkEventLog({len(self):,} events in Spark, {self.n_users:,} users)"]
        if self.summary.time_bounds is not None:
            lines += [
                f"  {k}: {v}" for k, v in self._summary().items() if k not in ("events", "users")
            ]
        return "\n".join(lines)
