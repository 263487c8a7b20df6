"""What runs inside a Spark task: the rows of one partition in, one row per unit out.

Rows arrive partitioned by user, so every user's events are in one task. The task builds an
:class:`~workbench.EventLog` of them and runs the native engine — the same code as a local run —
on one thread: Spark already runs one task per core, and a task that started a thread per core
would fight its neighbours for them. The engine releases the GIL while it works.

Units leave as Arrow with the user's original key (dense ids are per partition; the driver
numbers users once, over all of them), the level, the steps reached, the flags, the entry time,
the times to every step, the held values and, per attribution, the properties a breakdown
needs: what :class:`~workbench.funnel.FunnelOutcomes` holds, in columns that cross machines.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import workbench
from workbench import _core
from workbench.exceptions import ExecutorMismatchError, UnknownEventWarning
from workbench.funnel import Funnel, FunnelOutcomes
from workbench.funnel.breakdown import attribution_rows
from workbench.funnel.engine import run_native
from workbench.funnel.outcomes import NO_ROW
from workbench.log import EventLog

__all__ = [
    "PLACEHOLDER_EVENT",
    "ROW_ORDER",
    "FunnelTask",
    "attribution_column",
    "check_version",
    "one_thread",
    "outcome_table",
    "run_funnel_partition",
    "step_columns",
]

ROW_ORDER = "__workbench_row"
"""The column carrying each row's place in the source, so ties keep the source's order."""
PLACEHOLDER_EVENT = ""
"""The event name of a row that only says "this user exists" (a step's name is never empty)."""
_BATCH_ROWS = 262_144


def attribution_column(attribution: str | int) -> str:
    """The outcome column holding the properties of one attribution.

    >>> attribution_column("first_touch"), attribution_column(3)
    ('first_touch', 'step_3_touch')
    """
    return attribution if isinstance(attribution, str) else f"step_{attribution}_touch"


def step_columns(step: int) -> tuple[str, str]:
    """The outcome columns of the times to step ``step`` (from step 1, from the previous).

    >>> step_columns(2)
    ('step_2_from_first', 'step_2_from_previous')
    """
    return f"step_{step}_from_first", f"step_{step}_from_previous"


@dataclass(frozen=True)
class FunnelTask:
    """Everything a task needs, sent with it: the funnel (its analysis end fixed in engine
    units, since a partition's last event is not the log's), the columns, and the schema Spark
    expects back."""

    version: str
    funnel: dict[str, Any]
    user: str
    event: str
    time: str
    session: str | None
    time_unit: str | None
    properties: tuple[str, ...]
    attributions: tuple[str | int, ...]
    schema: pa.Schema
    placeholders: bool


def check_version(version: str) -> None:
    """Refuse to run a task sent by a driver of another workbench version.

    >>> check_version("0.0.0-other")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.exceptions.ExecutorMismatchError: the Spark executors run funnel-workbench ... but the driver runs 0.0.0-other; install the driver's version on every executor (pip install funnel-workbench==0.0.0-other) or ship a packed environment (docs/scale-out.md)
    """  # noqa: E501
    if workbench.__version__ != version:
        raise ExecutorMismatchError(
            f"the Spark executors run funnel-workbench {workbench.__version__} but the driver "
            f"runs {version}; install the driver's version on every executor (pip install "
            f"funnel-workbench=={version}) or ship a packed environment (docs/scale-out.md)"
        )


def one_thread() -> None:
    """Keep the engine to one thread in this worker process (see the module docstring)."""
    _core.limit_threads(1)


def run_funnel_partition(
    task: FunnelTask, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: the partition's events in, its units out."""
    check_version(task.version)
    one_thread()
    received = list(batches)
    if not received or sum(b.num_rows for b in received) == 0:
        return  # an empty partition: more tasks than users
    table = pa.Table.from_batches(received)
    if ROW_ORDER in table.column_names:
        # The encoder breaks time ties by input row: give it the source's order.
        table = table.take(pc.sort_indices(table.column(ROW_ORDER))).drop_columns([ROW_ORDER])
    if task.placeholders:
        events = pc.fill_null(table.column(task.event), PLACEHOLDER_EVENT)
        table = table.set_column(table.schema.get_field_index(task.event), task.event, events)
    log = EventLog(
        table,
        user=task.user,
        event=task.event,
        time=task.time,
        session=task.session,
        time_unit=task.time_unit,
        plausible_times=None,  # the driver checked the log's first and last time
        progress=False,
    )
    funnel = Funnel.from_dict(task.funnel)
    with warnings.catch_warnings():
        # A partition may lack an event the log has; the driver warns about the log as a whole.
        warnings.simplefilter("ignore", UnknownEventWarning)
        outcomes = run_native(funnel, log, progress=False)
    yield from outcome_table(outcomes, log, task).to_batches(max_chunksize=_BATCH_ROWS)


def outcome_table(outcomes: FunnelOutcomes, log: EventLog, task: FunnelTask) -> pa.Table:
    """The units of one partition as the rows of the outcome frame (schema ``task.schema``)."""
    n = outcomes.n_units
    entered = outcomes.levels > 0
    columns: dict[str, Any] = {task.user: outcomes.unit_keys}
    if outcomes.counting == "conversions":
        columns["attempt"] = _attempt_numbers(outcomes.users)
    columns["level"] = outcomes.levels.astype(np.int8)
    columns["reached"] = outcomes.reached.astype(np.int64)
    columns["in_progress"] = outcomes.in_progress
    columns["excluded"] = outcomes.excluded
    columns["entry_time"] = _times(outcomes.entry_times, entered, task.schema.field("entry_time"))
    for reach in outcomes.steps:
        for name, values in zip(
            step_columns(reach.step), (reach.from_first, reach.from_previous), strict=True
        ):
            full = np.zeros(n, dtype=np.int64)
            full[reach.units] = values
            valid = np.zeros(n, dtype=bool)
            valid[reach.units] = True
            columns[name] = pa.array(full, mask=~valid)
    if outcomes.held is not None:
        columns["held"] = _struct(outcomes.held)
    for attribution in task.attributions:
        rows = attribution_rows(outcomes, attribution)
        has_row = rows != NO_ROW
        picked = pa.array(np.where(has_row, rows, 0).astype(np.uint32))
        carried = {
            name: _where(has_row, log.property_column(name).take(picked))
            for name in task.properties
        }
        columns[attribution_column(attribution)] = _struct(pa.table(carried))
    table = pa.table(columns)
    if outcomes.counting == "conversions":
        table = pa.concat_tables([table, _users_without_units(outcomes, table.schema, task)])
    return table.cast(task.schema)


def _attempt_numbers(users: np.ndarray) -> np.ndarray:
    """1, 2, ... within each user's run of units (units are ordered by user, then time)."""
    if len(users) == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.r_[True, users[1:] != users[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(users)), 0))
    return (np.arange(len(users)) - first + 1).astype(np.int32)


def _users_without_units(outcomes: FunnelOutcomes, schema: pa.Schema, task: FunnelTask) -> pa.Table:
    """One row (attempt 0, level 0) per user who never did step 1, counting conversions: the
    driver still needs them in the id space."""
    has_unit = np.zeros(outcomes.n_users, dtype=bool)
    has_unit[outcomes.users] = True
    ids = np.flatnonzero(~has_unit)
    m = len(ids)
    columns: dict[str, Any] = {}
    for f in schema:
        if f.name == task.user:
            columns[f.name] = outcomes.user_keys.take(pa.array(ids))
        elif f.name in ("attempt", "level"):
            columns[f.name] = pa.array(
                np.zeros(m, dtype=np.int8 if f.name == "level" else np.int32)
            )
        elif f.name == "reached":
            columns[f.name] = pa.array(np.zeros(m, dtype=np.int64))
        elif f.name in ("in_progress", "excluded"):
            columns[f.name] = pa.array(np.zeros(m, dtype=bool))
        else:
            columns[f.name] = pa.nulls(m, f.type)
    return pa.table(columns, schema=schema)


def _times(values: np.ndarray, valid: np.ndarray, target: pa.Field) -> pa.Array:
    """Engine times as the outcome's time column (the type of the input's), null where not valid."""
    ints = pa.array(values, mask=~valid)
    kind = target.type
    if pa.types.is_timestamp(kind):
        return ints.cast(pa.timestamp(kind.unit, tz=kind.tz))
    if pa.types.is_date(kind):
        # The engine keeps dates as seconds.
        return pa.array(values // 86_400, mask=~valid).cast(pa.int32()).cast(pa.date32())
    return ints


def _where(valid: np.ndarray, values: pa.Array) -> pa.Array:
    """``values`` with nulls where ``valid`` is false (units without the attributed event)."""
    return pc.if_else(pa.array(valid), values, pa.scalar(None, values.type))


def _struct(table: pa.Table) -> pa.StructArray:
    columns = [table.column(name).combine_chunks() for name in table.column_names]
    return pa.StructArray.from_arrays(columns, names=table.column_names)
