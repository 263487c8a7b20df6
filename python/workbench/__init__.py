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

from typing import TYPE_CHECKING, Any

from workbench import _core, _display, datasets, exceptions, stats
from workbench.audience import Audience, TagStore, compare, overlap, profile
from workbench.exceptions import PlanError
from workbench.funnel import Exclusion, Funnel, FunnelOutcomes, FunnelResult, Step
from workbench.log import EventLog
from workbench.plan import CoverageReport, TrackingPlan, ValidationReport, with_coverage
from workbench.predicates import col

if TYPE_CHECKING:
    from workbench import charts, widgets
    from workbench.widgets import AudienceBuilder, FunnelBuilder

__version__: str = _core.__version__

# Charts and widgets need Altair and ipywidgets: they load on first use, never with the package.
_display.register("funnel result", "workbench.charts.display:funnel_picture")
_LAZY = {
    "charts": ("workbench.charts", None),
    "widgets": ("workbench.widgets", None),
    "FunnelBuilder": ("workbench.widgets", "FunnelBuilder"),
    "AudienceBuilder": ("workbench.widgets", "AudienceBuilder"),
}


def __getattr__(name: str) -> Any:
    """``wb.charts``, ``wb.widgets``, ``wb.FunnelBuilder`` and ``wb.AudienceBuilder``, imported
    when first used."""
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)


__all__ = [
    "Audience",
    "AudienceBuilder",
    "CoverageReport",
    "EventLog",
    "Exclusion",
    "Funnel",
    "FunnelBuilder",
    "FunnelOutcomes",
    "FunnelResult",
    "PlanError",
    "Step",
    "TagStore",
    "TrackingPlan",
    "ValidationReport",
    "__version__",
    "charts",
    "col",
    "compare",
    "datasets",
    "exceptions",
    "overlap",
    "profile",
    "stats",
    "widgets",
    "with_coverage",
]
