"""The same funnel as SQL for the warehouse: ClickHouse's ``windowFunnel``, which the
workbench's kernel reproduces exactly.

    import workbench as wb, workbench.sql

    sql = wb.sql.clickhouse(funnel, table="events", user="user_id", event="event", time="ts")
    steps = wb.sql.clickhouse_steps(funnel, table="events", ...)   # the step table

Every name and value is quoted (:mod:`workbench.sql.quoting`); conditions compile from the
public predicate nodes (:mod:`workbench.sql.conditions`); options ``windowFunnel`` cannot express
are refused by name. An audience goes the other way with ``audience.to_bytes("clickhouse")``: a
``groupBitmap`` state ClickHouse reads with ``CAST(unhex(...) AS AggregateFunction(groupBitmap,
UInt64))``.
"""

from workbench.sql.clickhouse import TIME_TYPES, clickhouse, clickhouse_steps
from workbench.sql.conditions import condition
from workbench.sql.quoting import identifier, literal, table_name

__all__ = [
    "TIME_TYPES",
    "clickhouse",
    "clickhouse_steps",
    "condition",
    "identifier",
    "literal",
    "table_name",
]
