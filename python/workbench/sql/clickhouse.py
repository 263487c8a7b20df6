"""A funnel as ClickHouse SQL: the same definition run in the warehouse with ``windowFunnel``.

:func:`clickhouse` returns one row per user — the user key and the level (0: never did step 1) —
and :func:`clickhouse_steps` the step table (users reaching each step and the conversions).
Both give, on the same rows, the levels of :meth:`workbench.Funnel.run`: the workbench's kernel
is ClickHouse's, and the one deliberate difference (a missing property only fails that step's
condition, where ``windowFunnel`` would skip the row) is compiled in with ``ifNull(..., 0)``.

Rows with a null user, event or time are skipped, as ``EventLog(..., drop_nulls=True)`` skips
them. ``windowFunnel`` needs an unsigned integer time: a ``DateTime64`` column is converted in
``time_unit`` (``toUnixTimestamp64Milli`` and friends; the window is counted in that unit), a
``DateTime`` in seconds, integer epochs as they are. What ``windowFunnel`` cannot express — the
product options — is refused, naming the option.

>>> import workbench as wb
>>> print(clickhouse(wb.Funnel(["view", wb.Step("pay", where=wb.col("price") > 0)], window="1h"),
...                  table="events", user="user_id", event="event", time="ts"))
SELECT `user_id`, windowFunnel(3600000)(toUInt64(toUnixTimestamp64Milli(`ts`)),
    ifNull(`event` IN ('view'), 0),
    ifNull((`event` IN ('pay')) AND (`price` > 0), 0)) AS `level`
FROM `events`
WHERE `user_id` IS NOT NULL AND `event` IS NOT NULL AND `ts` IS NOT NULL
GROUP BY `user_id`
ORDER BY `user_id`
"""

from __future__ import annotations

from typing import Literal, TypedDict, Unpack

import pandas as pd

from workbench.exceptions import ArgumentError, FunnelDefinitionError
from workbench.funnel import Funnel, Step
from workbench.sql.conditions import condition
from workbench.sql.quoting import identifier, literal, table_name

__all__ = ["TIME_TYPES", "Columns", "clickhouse", "clickhouse_steps"]

TimeType = Literal["DateTime64", "DateTime", "UInt64", "Int64", "UInt32"]
TIME_TYPES: tuple[str, ...] = ("DateTime64", "DateTime", "UInt64", "Int64", "UInt32")
_UNIT_LENGTH = {
    "s": pd.Timedelta(seconds=1),
    "ms": pd.Timedelta(milliseconds=1),
    "us": pd.Timedelta(microseconds=1),
    "ns": pd.Timedelta(nanoseconds=1),
}
_TO_UNIX = {
    "s": "toUnixTimestamp64Second",
    "ms": "toUnixTimestamp64Milli",
    "us": "toUnixTimestamp64Micro",
    "ns": "toUnixTimestamp64Nano",
}


def clickhouse(
    funnel: Funnel,
    *,
    table: str | None = None,
    database: str | None = None,
    source: str | None = None,
    user: str = "user_id",
    event: str = "event",
    time: str = "time",
    time_type: TimeType = "DateTime64",
    time_unit: str = "ms",
) -> str:
    """SQL giving one row per user of the table: the user key (named like the user column)
    and ``level``, the furthest step of the funnel the user reached.

    ``table`` (with ``database``) names the events table, quoted; ``source`` instead takes a
    FROM clause written by you, inserted as it is (a table function such as
    ``file('events.parquet')``: trusted SQL only). ``time_type`` is the ClickHouse type of the
    time column and ``time_unit`` the unit times are compared in (for integer epochs, their
    unit).
    """
    _check_funnel(funnel)
    origin = _origin(table, database, source)
    columns = [user, event, time]
    if len(set(columns)) < 3:
        raise ArgumentError(f"user, event and time must be different columns; got {columns}")
    if user == "level":
        raise ArgumentError(
            "the user column is called 'level', like the level the query returns; alias it "
            "in a source= subquery"
        )
    window = _window(funnel, time_unit)
    modes = "".join(f", {literal(m)}" for m, on in funnel.options.items() if on)
    steps = ",\n    ".join(f"ifNull({_step(step, event)}, 0)" for step in funnel.steps)
    u, t = identifier(user), identifier(time)
    return (
        f"SELECT {u}, windowFunnel({window}{modes})({_timestamp(t, time_type, time_unit)},\n"
        f"    {steps}) AS `level`\n"
        f"FROM {origin}\n"
        f"WHERE {u} IS NOT NULL AND {identifier(event)} IS NOT NULL AND {t} IS NOT NULL\n"
        f"GROUP BY {u}\n"
        f"ORDER BY {u}"
    )


class Columns(TypedDict, total=False):
    """Where the events are and how their columns are typed: :func:`clickhouse`'s keywords."""

    table: str | None
    database: str | None
    source: str | None
    user: str
    event: str
    time: str
    time_type: TimeType
    time_unit: str


def clickhouse_steps(funnel: Funnel, **columns: Unpack[Columns]) -> str:
    """SQL giving the step table: per ``step`` (1..N), the ``users`` who reached it and the
    ``conversion_from_first`` and ``conversion_from_previous`` (NaN when nobody reached the
    step before) — the same numbers as the first columns of ``funnel.run(log).table``.
    Arguments as :func:`clickhouse`.

    >>> import workbench as wb
    >>> print(clickhouse_steps(wb.Funnel(["view", "pay"]), table="events"))  # doctest: +ELLIPSIS
    SELECT step, users, users / first_value(users) OVER w AS conversion_from_first, ...
    """
    per_user = clickhouse(funnel, **columns)
    n = funnel.n_steps
    indented = per_user.replace("\n", "\n    ")
    return (
        "SELECT step, users, users / first_value(users) OVER w AS conversion_from_first, "
        "users / lagInFrame(users, 1, users) OVER w AS conversion_from_previous\n"
        "FROM (\n"
        "    SELECT step, countIf(`level` >= step) AS users\n"
        f"    FROM (\n    {indented}\n    )\n"
        f"    ARRAY JOIN range(1, {n + 1}) AS step\n"
        "    GROUP BY step\n"
        ")\n"
        "WINDOW w AS (ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)\n"
        "ORDER BY step"
    )


def _check_funnel(funnel: Funnel) -> None:
    if not isinstance(funnel, Funnel):
        raise ArgumentError(f"funnel= takes a wb.Funnel; got {type(funnel).__name__}")
    refused = []
    if funnel.order != "sequential":
        refused.append(f"order={funnel.order!r}")
    if funnel.exclusions:
        refused.append("exclusions")
    if funnel.hold:
        refused.append("hold")
    if funnel.session:
        refused.append("session=True")
    if funnel.counting != "users":
        refused.append(f"counting={funnel.counting!r}")
    for number, step in enumerate(funnel.steps, start=1):
        if step.optional:
            refused.append(f"optional step {number}")
        if step.within is not None:
            refused.append(f"within= of step {number}")
    if refused:
        raise FunnelDefinitionError(
            "windowFunnel cannot express " + ", ".join(refused) + "; run this funnel with the "
            "workbench (funnel.run, or workbench.spark.run on a cluster), or drop the option"
        )


def _origin(table: str | None, database: str | None, source: str | None) -> str:
    if (table is None) == (source is None):
        raise ArgumentError("name the events with table= (a table name) or source= (a FROM clause)")
    if source is not None:
        if database is not None:
            raise ArgumentError("database= goes with table=, not with source=")
        if not isinstance(source, str) or not source.strip():
            raise ArgumentError(f"source= is a FROM clause as text; got {source!r}")
        return source
    return table_name(table, database)  # type: ignore[arg-type]


def _window(funnel: Funnel, unit: str) -> int:
    if unit not in _TO_UNIX:
        raise ArgumentError(f"time_unit must be one of 's', 'ms', 'us', 'ns'; got {unit!r}")
    per_unit = _UNIT_LENGTH[unit]
    units, remainder = divmod(funnel.window, per_unit)
    if remainder != pd.Timedelta(0):
        raise FunnelDefinitionError(
            f"the window {funnel.window} is finer than the time unit ({unit}); pass "
            "time_unit= finer"
        )
    return int(units)


def _timestamp(column: str, time_type: str, unit: str) -> str:
    if time_type == "DateTime64":
        return f"toUInt64({_TO_UNIX[unit]}({column}))"
    if time_type == "DateTime":
        if unit != "s":
            raise ArgumentError("a DateTime column holds seconds: pass time_unit='s'")
        return f"toUInt64(toUnixTimestamp({column}))"
    if time_type in ("UInt64", "Int64", "UInt32"):
        return f"toUInt64({column})"
    raise ArgumentError(f"time_type must be one of {', '.join(TIME_TYPES)}; got {time_type!r}")


def _step(step: Step, event: str) -> str:
    names = ", ".join(literal(name) for name in step.events)
    matched = f"{identifier(event)} IN ({names})"
    if step.where is None:
        return matched
    return f"({matched}) AND {condition(step.where)}"
