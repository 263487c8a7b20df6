"""Tracking plans: the event dictionary, drafting it from data, and checking data against it.

Example:
    >>> from workbench.datasets import ecommerce
    >>> from workbench.plan import TrackingPlan
    >>> demo = ecommerce(n_users=2_000)
    >>> plan = TrackingPlan.load(demo.plan_path)
    >>> report = plan.validate(demo.log())
    >>> sorted(set(report.table["violation"].astype(str)))
    ['missing_required_property']
"""

from workbench.exceptions import PlanError
from workbench.plan.coverage import CoverageReport, with_coverage
from workbench.plan.model import PROPERTY_TYPES, EventSpec, PropertySpec
from workbench.plan.tracking_plan import TrackingPlan
from workbench.plan.validate import VIOLATIONS, ValidationReport

__all__ = [
    "PROPERTY_TYPES",
    "VIOLATIONS",
    "CoverageReport",
    "EventSpec",
    "PlanError",
    "PropertySpec",
    "TrackingPlan",
    "ValidationReport",
    "with_coverage",
]
