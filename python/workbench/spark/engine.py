"""A funnel on a Spark DataFrame: the same kernel as a local run, inside the cluster.

The plan, in three Spark steps:

1. **One summary pass** (``groupBy(event)``): rows and nulls per event name, first and last
   time. It checks the data as :class:`~workbench.EventLog` would (nulls, an empty log), fixes
   the analysis end (the log's last event, as locally), sizes the tasks and lets the driver warn
   about steps naming events the log never has.
2. **The funnel**: the needed columns, ``repartition(n, user)`` so each user's events meet in one
   task, then ``mapInArrow`` runs the native engine per partition
   (:func:`~workbench.spark.kernel.run_funnel_partition`). Measured on this machine, that beats
   ``groupBy(user).applyInArrow`` (one Python call and one tiny engine run per user: 34x slower)
   and a bucketed ``groupBy(...).applyInArrow`` or a ``sortWithinPartitions`` (Spark sorts rows
   the encoder sorts again anyway): see ``docs/scale-out.md``. Funnels that ignore unrelated
   events (not ``strict_order``, not ``order="strict"``) ship only the rows of the funnel's
   events, plus one placeholder row per user without any, so every user still gets a unit.
   Rows carry their place in the source (``monotonically_increasing_id``), so events at the same
   instant are taken in the source's order, as the local encoder takes them.
3. **The result**: :func:`to_result` collects the per-unit frame as Arrow, numbers the users
   once (sorted distinct keys: the id space of every audience of the result) and builds the
   :class:`~workbench.funnel.FunnelOutcomes` every table and drill-down reads.

Property conditions are evaluated in the tasks on the very rows, with the same code as locally;
held values and breakdown properties travel with the units as columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as sf
from pyspark.sql import types as st

import workbench
from workbench.exceptions import (
    ArgumentError,
    EmptyLogError,
    ImplausibleTimesError,
    InternalError,
    NullValuesError,
    SchemaError,
)
from workbench.funnel import Exclusion, Funnel, FunnelOutcomes, FunnelResult, Step, StepReach
from workbench.funnel.engine import held_columns, step_conditions
from workbench.funnel.outcomes import EXCLUDED, IN_PROGRESS
from workbench.log import (
    EVENT_COLUMNS,
    PLAUSIBLE_TIMES,
    SESSION_COLUMNS,
    TIME_COLUMNS,
    USER_COLUMNS,
    epoch_units,
)
from workbench.spark.columns import arrow_schema, arrow_type, check_columns, find_role
from workbench.spark.environment import map_in_arrow, worker_error
from workbench.spark.kernel import (
    ROW_ORDER,
    FunnelTask,
    attribution_column,
    run_funnel_partition,
    step_columns,
)
from workbench.spark.log import LogSummary, SparkEventLog

__all__ = [
    "ROWS_PER_TASK",
    "FunnelPlan",
    "RunOptions",
    "outcome_frame",
    "outcomes",
    "plan",
    "run",
    "to_result",
]

ROWS_PER_TASK = 2_000_000
"""Rows a task takes at most by default: about 150 MB of Arrow and encoded log in its worker."""
_METADATA = "workbench.outcome"
_UNIT_COLUMNS = ("attempt", "level", "reached", "in_progress", "excluded", "entry_time", "held")
_TIME_UNITS = ("s", "ms", "us", "ns")


class RunOptions(TypedDict, total=False):
    """The keyword arguments :func:`run`, :func:`outcomes` and :func:`plan` share."""

    user: str | None
    event: str | None
    time: str | None
    session: str | None
    time_unit: str | None
    properties: Sequence[str]
    attributions: Sequence[str | int]
    drop_nulls: bool
    plausible_times: tuple[Any, Any] | None
    partitions: int | None


def run(funnel: Funnel, df: DataFrame, **options: Unpack[RunOptions]) -> FunnelResult:
    """Run ``funnel`` on the events of a Spark DataFrame; the same
    :class:`~workbench.FunnelResult` as ``funnel.run(wb.EventLog(...))`` on the same rows.

    Columns are found as :class:`~workbench.EventLog` finds them unless named. ``properties``
    names the event properties to break down by later (``result.breakdown("platform")``), for
    each of ``attributions`` (``"first_touch"``, ``"last_touch"``, step numbers). ``partitions``
    sets the number of tasks (default: the cores, or more so no task takes more than
    :data:`ROWS_PER_TASK` rows). ``drop_nulls`` and ``plausible_times`` are
    :class:`~workbench.EventLog`'s, checked on the driver from the summary pass. The
    result's ``log`` is a :class:`SparkEventLog`: the users of the data, the id space of every
    audience of the result.

    To keep the per-user outcome in the cluster, call :func:`outcomes` and :func:`to_result`.
    """
    return to_result(outcomes(funnel, df, **options), funnel=funnel)


def outcomes(funnel: Funnel, df: DataFrame, **options: Unpack[RunOptions]) -> DataFrame:
    """The per-unit outcome of ``funnel`` as a Spark DataFrame, left in the cluster.

    One row per user (``counting="conversions"``: per attempt, ``attempt`` 1, 2, ..., and one
    row with ``attempt`` 0 for a user who never did step 1), with columns: the user key (named
    like the user column), ``level``, ``reached`` (bit k-1 for step k), ``in_progress``,
    ``excluded``, ``entry_time`` (the chain's step-1 event, typed like the time column; null at
    level 0), ``step_k_from_first`` / ``step_k_from_previous`` for k = 2..N (integers in the
    time column's unit — microseconds for Spark timestamps, seconds for dates; null when the
    chain does not include step k), ``held`` (the held values, with ``hold=``/``session=True``)
    and one struct per attribution holding ``properties`` (``first_touch``, ``last_touch``,
    ``step_k_touch``). The summary pass runs now; the funnel itself when the frame is used.
    Arguments as :func:`run`.
    """
    return outcome_frame(plan(funnel, df, **options))


@dataclass(frozen=True)
class FunnelPlan:
    """A funnel ready to run on Spark: the rows to shuffle, what each task gets, the schema of
    the outcome frame and the description it carries (all made by :func:`plan`)."""

    rows: DataFrame
    task: FunnelTask
    schema: st.StructType
    partitions: int
    user: str
    description: dict[str, Any]


def outcome_frame(plan: FunnelPlan) -> DataFrame:
    """The outcome frame of a plan: each user's rows to one task, the kernel run there."""
    frame = map_in_arrow(
        plan.rows.repartition(plan.partitions, plan.user),
        partial(run_funnel_partition, plan.task),
        plan.schema,
    )
    return frame.withMetadata("level", {_METADATA: json.dumps(plan.description)})


def plan(
    funnel: Funnel,
    df: DataFrame,
    *,
    user: str | None = None,
    event: str | None = None,
    time: str | None = None,
    session: str | None = None,
    time_unit: str | None = None,
    properties: Sequence[str] = (),
    attributions: Sequence[str | int] = ("first_touch", "last_touch"),
    drop_nulls: bool = False,
    plausible_times: tuple[Any, Any] | None = PLAUSIBLE_TIMES,
    partitions: int | None = None,
) -> FunnelPlan:
    """Check ``funnel`` against the events of ``df`` (one summary pass) and plan its run; the
    arguments are :func:`run`'s."""
    if not isinstance(funnel, Funnel):
        raise ArgumentError(f"funnel= takes a wb.Funnel; got {type(funnel).__name__}")
    if not isinstance(df, DataFrame):
        raise ArgumentError(
            f"df= takes a Spark DataFrame of events; got {type(df).__name__} (for pandas, "
            "Polars or Arrow data use funnel.run(wb.EventLog(data)))"
        )
    if time_unit is not None and time_unit not in _TIME_UNITS:
        raise SchemaError(f"time_unit must be one of 's', 'ms', 'us', 'ns'; got {time_unit!r}")
    if partitions is not None and (
        isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1
    ):
        raise ArgumentError(f"partitions= is a whole number of at least 1; got {partitions!r}")
    schema = df.schema
    if ROW_ORDER in schema.names:
        raise SchemaError(f"the column name {ROW_ORDER!r} is the workbench's own; rename it")
    roles = _roles(schema, user, event, time, session)
    user, event, time, session = roles
    kept_session = session if funnel.session else None
    breakdown = _names(properties, "properties")
    chosen = _attributions(attributions, funnel.n_steps) if breakdown else ()
    items: list[Step | Exclusion] = [*funnel.steps, *funnel.exclusions]
    conditions = {c for item in items if item.where is not None for c in item.where.columns()}
    check_columns(schema, "user", [user])
    check_columns(schema, "event", [event])
    check_columns(schema, "time", [time])
    if kept_session is not None:
        check_columns(schema, "session", [kept_session])
    check_columns(schema, "property", sorted(conditions | set(funnel.hold) | set(breakdown)))
    time_kind = schema[time].dataType
    unit = _time_unit(time, time_kind, time_unit)
    span = _plausible_span(plausible_times)
    if user in _UNIT_COLUMNS or user.startswith("step_") or user in ("first_touch", "last_touch"):
        raise SchemaError(
            f"the user column is called {user!r}, like a column of the outcome; rename it "
            f"first, e.g. df.withColumnRenamed({user!r}, 'user_id')"
        )
    roles_read = [user, event, time, *([kept_session] if kept_session else [])]
    needed = list(
        dict.fromkeys([*roles_read, *sorted(conditions | set(funnel.hold) | set(breakdown))])
    )
    spark = df.sparkSession
    zone = (
        spark.conf.get("spark.sql.session.timeZone")
        if isinstance(time_kind, st.TimestampType)
        else None
    )
    summary = _summarize(
        df,
        roles=(user, event, time, session),
        kinds=schema,
        unit=unit,
        zone=zone,
        drop_nulls=drop_nulls,
    )
    if span is not None:
        _check_plausible(summary, span)
    # An id space without users checks the funnel against the log before any task runs: the
    # window's unit, the analysis end, unknown events (warned about), predicates, sessions.
    space = SparkEventLog(summary, pa.array([], arrow_type(schema[user].dataType)))
    space.time_units(funnel.window, "window")
    for number, step in enumerate(funnel.steps, start=1):
        if step.window is not None:
            space.time_units(step.window, f"window of step {number}")
    step_conditions(space, funnel.steps, "step")
    step_conditions(space, funnel.exclusions, "exclusion")
    held = held_columns(funnel, space)
    end = (
        space.time_bounds[1]
        if funnel.analysis_end is None
        else space.engine_time(funnel.analysis_end, "analysis_end")
    )
    out_schema = _outcome_schema(funnel, schema, user, time, held, breakdown, chosen)
    placeholders = not (funnel.options["strict_order"] or funnel.order == "strict")
    definition = funnel.to_dict()
    definition["analysis_end"] = int(end)
    task = FunnelTask(
        version=workbench.__version__,
        funnel=definition,
        user=user,
        event=event,
        time=time,
        session=kept_session,
        time_unit=time_unit,
        properties=tuple(breakdown),
        attributions=chosen,
        schema=arrow_schema(out_schema),
        placeholders=placeholders,
    )
    # Events at the same instant are taken in the order the source lists them, as locally: the
    # tasks put each partition back in that order before encoding.
    rows = df.select(*needed).withColumn(ROW_ORDER, sf.monotonically_increasing_id())
    if drop_nulls:
        rows = rows.where(
            sf.col(user).isNotNull() & sf.col(event).isNotNull() & sf.col(time).isNotNull()
        )
    shipped = summary.n_rows
    if placeholders:
        names = sorted({n for item in items for n in item.events})
        in_funnel = sf.col(event).isin(names)
        others = (
            rows.where(~in_funnel)
            .groupBy(user)
            .agg(sf.min(time).alias(time), sf.min(ROW_ORDER).alias(ROW_ORDER))
            .withColumn(event, sf.lit(None).cast(st.StringType()))
        )
        rows = rows.where(in_funnel).unionByName(others, allowMissingColumns=True)
        shipped = sum(summary.event_counts.get(n, 0) for n in names)
    n_tasks = partitions or max(
        spark.sparkContext.defaultParallelism, math.ceil(shipped / ROWS_PER_TASK)
    )
    description = {
        "version": workbench.__version__,
        "summary": summary.to_json(),
        "funnel": funnel.to_dict(),
        "analysis_end": int(end),
        "properties": list(breakdown),
        "attributions": list(chosen),
    }
    return FunnelPlan(rows, task, out_schema, n_tasks, user, description)


def to_result(frame: DataFrame, *, funnel: Funnel | None = None) -> FunnelResult:
    """Collect an outcome frame made by :func:`outcomes` — as returned, or cached — into a
    :class:`~workbench.FunnelResult` on the driver. Rows filtered out first are users left out:
    the result is then the funnel of the users kept.

    ``funnel`` defaults to the definition the frame was made with.
    """
    if not isinstance(frame, DataFrame):
        raise ArgumentError(f"to_result() takes a Spark DataFrame; got {type(frame).__name__}")
    fields = {f.name: f for f in frame.schema.fields}
    text = fields["level"].metadata.get(_METADATA) if "level" in fields else None
    if text is None:
        raise ArgumentError(
            "to_result() takes the frame workbench.spark.outcomes() returned (its 'level' column "
            "carries the run's description); this one has none"
        )
    description = json.loads(text)
    summary = LogSummary.from_json(description["summary"])
    definition = Funnel.from_dict(description["funnel"])
    wanted = _outcome_columns(definition, summary.user_column, description)
    missing = [c for c in wanted if c not in fields]
    if missing:
        raise ArgumentError(
            f"the outcome frame lacks {', '.join(repr(c) for c in missing)}: pass it with all "
            "the columns workbench.spark.outcomes() gave it"
        )
    if funnel is not None and funnel != definition:
        raise ArgumentError("funnel= differs from the funnel this outcome frame was made with")
    try:
        table = frame.toArrow()
    except Exception as error:  # Spark wraps what a task raised; rebuild the workbench error
        rebuilt = worker_error(error, workbench.__version__)
        if rebuilt is None:
            raise
        raise rebuilt from None
    log, out = _collected(
        table,
        summary,
        definition,
        int(description["analysis_end"]),
        [a if isinstance(a, str) else int(a) for a in description["attributions"]],
        description["properties"],
    )
    return FunnelResult(funnel or definition, log, out)


# -- the driver's side of the plan ----------------------------------------------------------------


def _roles(
    schema: st.StructType,
    user: str | None,
    event: str | None,
    time: str | None,
    session: str | None,
) -> tuple[str, str, str, str | None]:
    found_user = find_role(schema, "user", user, USER_COLUMNS)
    found_event = find_role(schema, "event", event, EVENT_COLUMNS)
    found_time = find_role(schema, "time", time, TIME_COLUMNS)
    if session is not None:
        found_session: str | None = find_role(schema, "session", session, ())
    else:
        found_session = next((c for c in SESSION_COLUMNS if c in schema.names), None)
    roles = [found_user, found_event, found_time]
    if len(set(roles)) < 3:
        raise SchemaError(f"user, event and time must be different columns; got {roles}")
    return found_user, found_event, found_time, found_session


def _names(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    names = list(values)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"{what}= takes column names; got {name!r}")
    if len(set(names)) != len(names):
        raise ArgumentError(f"{what}= names a column twice: {names!r}")
    return names


def _attributions(values: Sequence[str | int], n_steps: int) -> tuple[str | int, ...]:
    if isinstance(values, (str, int)):
        values = [values]
    out: list[str | int] = []
    for value in values:
        if value in ("first_touch", "last_touch"):
            key: str | int = value
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n_steps:
            key = "first_touch" if value == 1 else value
        else:
            raise ArgumentError(
                f"attributions= takes 'first_touch', 'last_touch' or step numbers 1..{n_steps}; "
                f"got {value!r}"
            )
        if key not in out:
            out.append(key)
    return tuple(out)


def _time_unit(name: str, kind: st.DataType, given: str | None) -> str:
    if isinstance(kind, (st.TimestampType, st.TimestampNTZType)):
        return "us"
    if isinstance(kind, st.DateType):
        return "s"  # as the local encoder reads dates
    if given is None:
        raise SchemaError(
            f"column {name!r} has type {kind.simpleString()}; expected a timestamp; for integer "
            "epochs state the unit (time_unit='s', 'ms', 'us' or 'ns')"
        )
    return given


def _summarize(
    df: DataFrame,
    *,
    roles: tuple[str, str, str, str | None],
    kinds: st.StructType,
    unit: str,
    zone: str | None,
    drop_nulls: bool,
) -> LogSummary:
    user, event, time, session = roles
    kept = sf.col(user).isNotNull() & sf.col(event).isNotNull() & sf.col(time).isNotNull()
    counts = (
        df.groupBy(sf.col(event))
        .agg(
            sf.count(sf.lit(1)).alias("rows"),
            sf.sum(sf.col(user).isNull().cast("long")).alias("null_users"),
            sf.sum(sf.col(time).isNull().cast("long")).alias("null_times"),
            sf.sum(kept.cast("long")).alias("kept"),
            sf.min(sf.when(kept, sf.col(time))).alias("first"),
            sf.max(sf.when(kept, sf.col(time))).alias("last"),
        )
        .toArrow()
    )
    names = counts.column(event).to_pylist()
    rows = counts.column("rows").to_pylist()
    total = sum(rows)
    null_events = sum(r for n, r in zip(names, rows, strict=True) if n is None)
    null_counts = {
        user: int(pc.sum(counts.column("null_users")).as_py() or 0),
        event: null_events,
        time: int(pc.sum(counts.column("null_times")).as_py() or 0),
    }
    if total == 0:
        raise EmptyLogError("the event log is empty (no rows)")
    if not drop_nulls:
        for column, nulls in null_counts.items():
            if nulls:
                raise NullValuesError(
                    f"column {column!r} has {nulls} null value(s); clean them or pass "
                    "drop_nulls=True to skip those rows"
                )
    kept_counts = counts.column("kept").to_pylist()
    event_counts = {
        str(n): int(k or 0) for n, k in zip(names, kept_counts, strict=True) if n is not None and k
    }
    n_kept = sum(event_counts.values())
    if n_kept == 0:
        raise EmptyLogError("the event log is empty: every row has a null user, event or time")
    bounds = (
        int(_engine_times(counts.column("first")).min()),
        int(_engine_times(counts.column("last")).max()),
    )
    # Every column of the data, so a result names what it could carry; a type the engine
    # cannot read is listed as null.
    schema = pa.schema([pa.field(f.name, _arrow_or_null(f.dataType)) for f in kinds.fields])
    return LogSummary(
        user_column=user,
        event_column=event,
        time_column=time,
        session_column=session,
        schema=schema,
        time_unit=unit,  # type: ignore[arg-type]
        time_zone=zone,
        n_rows=n_kept,
        dropped_rows=total - n_kept,
        event_counts=dict(sorted(event_counts.items())),
        time_bounds=bounds,
    )


def _plausible_span(span: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``plausible_times=`` as two naive UTC timestamps, start first (None: any time)."""
    if span is None:
        return None
    try:
        start, end = (pd.Timestamp(bound) for bound in span)
        bounds = [
            b.tz_convert("UTC").tz_localize(None) if b.tz is not None else b for b in (start, end)
        ]
        if bounds[0] is not pd.NaT and bounds[1] is not pd.NaT and bounds[0] < bounds[1]:
            return bounds[0], bounds[1]
    except (TypeError, ValueError, OverflowError, AttributeError):
        pass
    raise ArgumentError(
        "plausible_times is a span (start, end) of two points in time, start first, such as "
        f"('1900-01-01', '2200-01-01'), or None to accept any time; got {span!r}"
    )


def _check_plausible(summary: LogSummary, span: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    """Refuse, as :class:`~workbench.EventLog` does, event times outside ``span``: from the
    summary's first and last time, so no task meets them (nearly always epochs read in the
    wrong unit, or a sentinel date standing for "unknown")."""
    unit = summary.time_unit
    low, high = (epoch_units(bound, unit) for bound in span)
    if summary.time_bounds is None:
        raise InternalError("the summary pass found no event times")
    first, last = summary.time_bounds
    if low <= first and last < high:
        return
    outside = [_when(t, unit) for t in (first, last) if not low <= t < high]
    raise ImplausibleTimesError(
        f"column {summary.time_column!r} has event times outside {span[0].date()} to "
        f"{span[1].date()}, the span event times are expected in: {' and '.join(outside)}. "
        "For integer epochs check time_unit= (milliseconds read as seconds land thousands of "
        "years ahead); if such times stand for unknown ones (a sentinel such as 9999-12-31), "
        "filter those rows out first. To run on times outside the span anyway, pass "
        "plausible_times=None (or a wider span)"
    )


def _when(value: int, unit: str) -> str:
    try:
        return str(pd.Timestamp(np.datetime64(value, unit)))  # type: ignore[call-overload]
    except (OverflowError, ValueError):
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
        return f"around the year {1970 + value / per_second / 31_556_952:,.0f}"


def _arrow_or_null(kind: st.DataType) -> pa.DataType:
    try:
        return arrow_type(kind)
    except SchemaError:
        return pa.null()


def _engine_times(column: pa.ChunkedArray) -> np.ndarray:
    """The non-null times as the engine reads them: timestamps in their unit, dates as seconds."""
    kind = column.type
    values = column.combine_chunks()
    if pa.types.is_timestamp(kind):
        values = values.cast(pa.int64())
    elif pa.types.is_date(kind):
        values = pc.multiply(values.cast(pa.int32()).cast(pa.int64()), 86_400)
    else:
        values = values.cast(pa.int64())
    valid = values.drop_null()
    return np.asarray(valid.to_numpy(), dtype=np.int64)


def _outcome_schema(
    funnel: Funnel,
    schema: st.StructType,
    user: str,
    time: str,
    held: list[str],
    properties: list[str],
    attributions: tuple[str | int, ...],
) -> st.StructType:
    time_kind = schema[time].dataType
    entry = (
        time_kind
        if isinstance(time_kind, (st.TimestampType, st.TimestampNTZType, st.DateType))
        else st.LongType()
    )
    fields = [st.StructField(user, schema[user].dataType, False)]
    if funnel.counting == "conversions":
        fields.append(st.StructField("attempt", st.IntegerType(), False))
    fields += [
        st.StructField("level", st.ByteType(), False),
        st.StructField("reached", st.LongType(), False),
        st.StructField("in_progress", st.BooleanType(), False),
        st.StructField("excluded", st.BooleanType(), False),
        st.StructField("entry_time", entry, True),
    ]
    for step in range(2, funnel.n_steps + 1):
        fields += [st.StructField(name, st.LongType(), True) for name in step_columns(step)]
    if held:
        fields.append(
            st.StructField(
                "held", st.StructType([st.StructField(h, schema[h].dataType) for h in held])
            )
        )
    for attribution in attributions:
        fields.append(
            st.StructField(
                attribution_column(attribution),
                st.StructType([st.StructField(p, schema[p].dataType) for p in properties]),
            )
        )
    return st.StructType(fields)


def _outcome_columns(funnel: Funnel, user: str, description: dict[str, Any]) -> list[str]:
    """The columns :func:`to_result` reads from an outcome frame."""
    names = [user, "level", "reached", "in_progress", "excluded", "entry_time"]
    if funnel.counting == "conversions":
        names.append("attempt")
    names += [c for step in range(2, funnel.n_steps + 1) for c in step_columns(step)]
    if funnel.hold or funnel.session:
        names.append("held")
    if description["properties"]:
        names += [attribution_column(a) for a in description["attributions"]]
    return names


def _collected(
    table: pa.Table,
    summary: LogSummary,
    funnel: Funnel,
    end: int,
    attributions: list[str | int],
    properties: list[str],
) -> tuple[SparkEventLog, FunnelOutcomes]:
    """The collected frame as the driver's id space and the outcomes over it."""
    user = summary.user_column
    conversions = funnel.counting == "conversions"
    order = [(user, "ascending")] + ([("attempt", "ascending")] if conversions else [])
    table = table.sort_by(order)
    keys = table.column(user).combine_chunks()
    n = len(keys)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(
            zero_copy_only=False
        )
    ids = np.cumsum(starts) - 1
    log = SparkEventLog(summary, keys.filter(pa.array(starts)))
    if conversions:
        unit_rows = table.column("attempt").to_numpy() > 0
        table = table.filter(pa.array(unit_rows))
        users = ids[unit_rows]
    else:
        if log.n_users != n:
            raise InternalError(f"the outcome frame lists {n} units for {log.n_users} users")
        users = ids
    levels = _numbers(table, "level", np.uint8)
    entered = levels > 0
    flags = np.where(_numbers(table, "in_progress", bool), IN_PROGRESS, 0) | np.where(
        _numbers(table, "excluded", bool), EXCLUDED, 0
    )
    steps = []
    for step in range(2, funnel.n_steps + 1):
        first_name, previous_name = step_columns(step)
        first = table.column(first_name).combine_chunks()
        valid = first.is_valid().to_numpy(zero_copy_only=False)
        units = np.flatnonzero(valid)
        steps.append(
            StepReach(
                step,
                units,
                first.drop_null().to_numpy(),
                table.column(previous_name).combine_chunks().drop_null().to_numpy(),
            )
        )
    held = _flattened(table, "held") if "held" in table.column_names else None
    attributed = (
        {a: _flattened(table, attribution_column(a)) for a in attributions} if properties else None
    )
    outcomes = FunnelOutcomes(
        n_steps=funnel.n_steps,
        counting=funnel.counting,
        time_unit=summary.time_unit,
        analysis_end=end,
        user_keys=log.user_keys,
        users=users.astype(np.uint32),
        levels=levels,
        reached=_numbers(table, "reached", np.int64).astype(np.uint32),
        flags=flags.astype(np.uint8),
        entry_times=np.where(entered, _entry_times(table.column("entry_time")), 0),
        steps=tuple(steps),
        held=held,
        attributed=attributed,
    )
    return log, outcomes


def _numbers(table: pa.Table, name: str, dtype: Any) -> np.ndarray:
    return np.asarray(
        table.column(name).combine_chunks().to_numpy(zero_copy_only=False), dtype=dtype
    )


def _entry_times(column: pa.ChunkedArray) -> np.ndarray:
    values = column.combine_chunks()
    if pa.types.is_date(values.type):
        values = pc.multiply(values.cast(pa.int32()).cast(pa.int64()), 86_400)
    else:
        values = values.cast(pa.int64())
    return np.asarray(values.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _flattened(table: pa.Table, name: str) -> pa.Table:
    struct = table.column(name).combine_chunks()
    names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
    # flatten() keeps a null struct's fields null (a user without units has one).
    return pa.table(dict(zip(names, struct.flatten(), strict=True)))
