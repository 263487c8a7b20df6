"""Funnel Workbench: where users drop off, who they are, and what to do about it.

The public API in one screen::

    import workbench as wb

    log = wb.EventLog(df)                         # or EventLog.from_parquet("events.parquet")
    funnel = wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("amount") > 0)], window="1d")
    result = funnel.run(log)
    result.table                                  # users, conversion, drop-off, time per step
    result.breakdown("platform")                  # the same per property of the step-1 event

    dropped = result.dropped_after(2)             # an Audience (Roaring bitmap) of users
    tags = wb.TagStore.from_table(log, users_df, key="user_id", categorical=["gender"])
    wb.profile(dropped, tags)                     # who they are: share, TGI, lift per tag
    tags.select("gender:F & vip - churned")       # crowd selection; export with .to_bytes()

    plan = wb.TrackingPlan.infer(log)             # draft tracking plan; plan.validate(log)
    demo = wb.datasets.ecommerce()                # seeded demo shop with stories to discover

Where each concept lives: :mod:`workbench.log` (the event log), :mod:`workbench.funnel`
(definition, engine, outcomes, result), :mod:`workbench.audience` (sets, tags, selection,
insight, export), :mod:`workbench.plan` (tracking plan), :mod:`workbench.stats` (intervals and
tests on counts), :mod:`workbench.exceptions` (every error).

>>> wb.__version__ == wb._core.__version__
True
"""

from workbench import _core, datasets, exceptions, stats
from workbench.audience import Audience, TagStore, compare, overlap, profile
from workbench.exceptions import PlanError
from workbench.funnel import Exclusion, Funnel, FunnelOutcomes, FunnelResult, Step
from workbench.log import EventLog
from workbench.plan import CoverageReport, TrackingPlan, ValidationReport, with_coverage
from workbench.predicates import col

__version__: str = _core.__version__

__all__ = [
    "Audience",
    "CoverageReport",
    "EventLog",
    "Exclusion",
    "Funnel",
    "FunnelOutcomes",
    "FunnelResult",
    "PlanError",
    "Step",
    "TagStore",
    "TrackingPlan",
    "ValidationReport",
    "__version__",
    "col",
    "compare",
    "datasets",
    "exceptions",
    "overlap",
    "profile",
    "stats",
    "with_coverage",
]
