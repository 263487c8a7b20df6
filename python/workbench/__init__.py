"""Funnel Workbench: where users drop off, who they are, and what to do about it.

The public API in one screen::

    import workbench as wb

    log = wb.EventLog(df)                         # or EventLog.from_parquet("events.parquet")
    funnel = wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("amount") > 0)], window="1d")
    result = funnel.run(log)
    result.table                                  # users, conversion, drop-off, time per step
    result.breakdown("platform")                  # the same per property of the step-1 event
"""

from workbench import exceptions
from workbench.funnel import Funnel, FunnelResult, Step
from workbench.log import EventLog
from workbench.predicates import col

__all__ = [
    "EventLog",
    "Funnel",
    "FunnelResult",
    "Step",
    "col",
    "exceptions",
]

__version__ = "0.1.0"
