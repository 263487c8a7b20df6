"""Funnel Workbench: where users drop off, who they are, and what to do about it.

The public API in one screen::

    import workbench as wb

    log = wb.EventLog(df)                         # or EventLog.from_parquet("events.parquet")
    funnel = wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("amount") > 0)], window="1d")
    result = funnel.run(log)
    result.table                                  # users, conversion, drop-off, time per step
    result.breakdown("platform")                  # the same per property of the step-1 event

    plan = wb.TrackingPlan.infer(log)             # draft tracking plan; plan.validate(log)
    demo = wb.datasets.ecommerce()                # seeded demo shop with stories to discover
"""

from workbench import datasets, exceptions
from workbench.funnel import Funnel, FunnelResult, Step
from workbench.log import EventLog
from workbench.plan import CoverageReport, PlanError, TrackingPlan, ValidationReport, with_coverage
from workbench.predicates import col

__all__ = [
    "CoverageReport",
    "EventLog",
    "Funnel",
    "FunnelResult",
    "PlanError",
    "Step",
    "TrackingPlan",
    "ValidationReport",
    "col",
    "datasets",
    "exceptions",
    "with_coverage",
]

__version__ = "0.1.0"
