"""Charts of funnels, audiences and tracking plans, as Altair charts you can restyle.

Each function takes the object you already have and returns an Altair chart built from its
public tables (``.properties(width=...)``, ``.configure_axis(...)`` and ``|`` / ``&`` work as on
any Altair chart)::

    wb.charts.funnel(result)                  # one bar per step, drop-off on the same bar
    wb.charts.breakdown(result, "platform")   # conversion per group with interval error bars
    wb.charts.time_to_convert(result, 3)      # the distribution, median and p90 marked
    wb.charts.trends(result, "week")          # conversion by entry week, open weeks hollow
    wb.charts.profile(wb.profile(audience, tags))          # TGI per tag around 100
    wb.charts.overlap([a, b, c])              # users shared by every pair
    wb.charts.violations(plan.validate(log))  # tracking-plan violations by event and type

Importing this package (``import workbench`` alone does not) turns on the ``"workbench"`` theme
(:mod:`~workbench.charts.theme`) and offline display in JupyterLab
(:mod:`~workbench.charts.render`); ``chart.save("funnel.png")`` / ``.svg`` work offline too.

>>> chart = wb.charts.funnel(result, orientation="vertical")
>>> sorted(chart.to_dict())[:4]
['$schema', 'config', 'datasets', 'height']
"""

from workbench.charts import theme
from workbench.charts.breakdown import breakdown
from workbench.charts.funnel import SEGMENTS, STEP_SELECTION, funnel, funnel_frame
from workbench.charts.overlap import overlap
from workbench.charts.profile import profile
from workbench.charts.render import chart_widget, enable_offline, redraw, to_png, to_svg
from workbench.charts.time_to_convert import time_to_convert
from workbench.charts.trends import trends
from workbench.charts.violations import violations

__all__ = [
    "SEGMENTS",
    "STEP_SELECTION",
    "breakdown",
    "chart_widget",
    "enable_offline",
    "funnel",
    "funnel_frame",
    "overlap",
    "profile",
    "redraw",
    "theme",
    "time_to_convert",
    "to_png",
    "to_svg",
    "trends",
    "violations",
]
