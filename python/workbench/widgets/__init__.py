"""Builders for JupyterLab: a funnel built by clicking, with a drill-down from any step to its
users (:class:`FunnelBuilder`), and an audience built from tags (:class:`AudienceBuilder`).

The widgets are views: what they compute is in plain modules a notebook (or a test) can call
without a browser — :mod:`~workbench.widgets.draft` (a funnel being edited),
:mod:`~workbench.widgets.catalog` (what there is to pick), :mod:`~workbench.widgets.drill`
(the users behind a step, saving and exporting them), :mod:`~workbench.widgets.expression`
(tag picks as a selection expression) and :mod:`~workbench.widgets.code` (a funnel as Python).

>>> builder = wb.FunnelBuilder(log, plan=plan, tags=tags)
>>> builder.add_step("view"); builder.add_step("cart")
>>> len(builder.drill_down(1, "dropped"))
1
"""

from workbench.widgets.audience_builder import AudienceBuilder
from workbench.widgets.code import funnel_code
from workbench.widgets.draft import ExclusionDraft, FilterDraft, FunnelDraft, StepDraft
from workbench.widgets.drill import drill_down
from workbench.widgets.funnel_builder import FunnelBuilder

__all__ = [
    "AudienceBuilder",
    "ExclusionDraft",
    "FilterDraft",
    "FunnelBuilder",
    "FunnelDraft",
    "StepDraft",
    "drill_down",
    "funnel_code",
]
