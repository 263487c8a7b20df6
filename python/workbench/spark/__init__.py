"""The same funnel on Apache Spark: the events stay in the cluster, the answers are the local
engine's.

    import workbench as wb, workbench.spark

    result = wb.spark.run(funnel, events_df, user="user_id", event="event", time="ts",
                          properties=["platform"])      # a wb.FunnelResult, as funnel.run(log)
    result.table; result.breakdown("platform"); result.dropped_after(2).to_bytes("clickhouse")

    frame = wb.spark.outcomes(funnel, events_df, ...)  # per user, as a Spark DataFrame
    frame.where("level >= 2").write.parquet(...)      # keep it in the cluster, or
    result = wb.spark.to_result(frame.cache())         # collect it later

    tags = wb.spark.tag_store(result.log, users_df, key="user_id", categorical=["country"])
    vips = wb.spark.audience(result.log, users_df.where("spend > 1000"), key="user_id")
    wb.profile(result.dropped_after(2), tags)

Each Spark task runs the native engine on its partition's users with one thread; the driver
numbers the users once (``result.log``, a :class:`SparkEventLog`) so every audience of a result
shares one id space. ``docs/scale-out.md`` says when to move here and how the engine reaches the
executors. Importing this package needs pyspark (a clear error says what to install otherwise).
"""

from workbench.spark.environment import require_pyspark

require_pyspark()

from workbench.spark.audiences import audience, tag_store  # noqa: E402
from workbench.spark.engine import (  # noqa: E402
    ROWS_PER_TASK,
    FunnelPlan,
    outcome_frame,
    outcomes,
    plan,
    run,
    to_result,
)
from workbench.spark.environment import find_java, local_session  # noqa: E402
from workbench.spark.log import LogSummary, SparkEventLog  # noqa: E402

__all__ = [
    "ROWS_PER_TASK",
    "FunnelPlan",
    "LogSummary",
    "SparkEventLog",
    "audience",
    "find_java",
    "local_session",
    "outcome_frame",
    "outcomes",
    "plan",
    "run",
    "tag_store",
    "to_result",
]
