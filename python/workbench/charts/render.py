"""Charts with no internet: interactive in JupyterLab, static in files and in a result's display.

JupyterLab 4's own Vega renderer stops at Vega-Lite 5 and Altair's default HTML renderer loads
its scripts from a CDN, so neither shows an Altair 6 chart offline. Importing
:mod:`workbench.charts` therefore turns on Altair's ``jupyter`` renderer in offline mode (unless
another renderer than the default was chosen): every chart displays as an ``alt.JupyterChart``
widget whose JavaScript comes from vl-convert's bundle, tooltips and clicks included. The
static path is vl-convert too: :func:`to_svg` and :func:`to_png` (what ``chart.save("x.svg")``
and ``chart.save("x.png")`` do), and the picture a :class:`~workbench.FunnelResult` shows beside
its table.

>>> svg = to_svg(wb.charts.funnel(result))
>>> svg.startswith("<svg") and ">Product page<" not in svg and ">1. view<" in svg
True
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import altair as alt

__all__ = ["chart_widget", "enable_offline", "redraw", "svg_image", "to_png", "to_svg"]


def enable_offline() -> None:
    """Display charts as offline ``JupyterChart`` widgets (interactive, no CDN): what importing
    :mod:`workbench.charts` does when Altair's renderer is still its default. The first chart of
    a kernel takes about a second more while vl-convert bundles the JavaScript.

    >>> enable_offline(); alt.renderers.active
    'jupyter'
    """
    alt.renderers.enable("jupyter", offline=True)


def chart_widget(chart: Any, *, svg: bool = True) -> alt.JupyterChart:
    """An interactive chart widget that works offline: assign ``.chart`` to redraw it, and
    observe ``.selections`` for clicks (a new chart brings a new ``selections`` object). With
    ``svg`` the marks are SVG elements, which a browser test can find and click.

    >>> widget = chart_widget(wb.charts.funnel(result, clickable=True))
    >>> widget.selections.step.value
    []
    """
    alt.JupyterChart.enable_offline()
    return alt.JupyterChart(
        chart, embed_options={"renderer": "svg" if svg else "canvas", "actions": False}
    )


def _selection_names(chart: Any) -> list[str]:
    params = chart.params if chart.params is not alt.Undefined else []
    return [str(p.name) for p in params if p.select is not alt.Undefined]


def redraw(widget: alt.JupyterChart, chart: Any) -> None:
    """Show ``chart`` in a widget made by :func:`chart_widget`. A chart with the same
    selections as the one shown replaces only the spec (not checked against the schema again,
    and the widget's ``selections`` object and its observers stay); any other takes the full
    way through ``widget.chart``.

    >>> widget = chart_widget(wb.charts.funnel(result, clickable=True))
    >>> selections = widget.selections
    >>> redraw(widget, wb.charts.funnel(result, clickable=True, selected=2))
    >>> widget.selections is selections, widget.spec["params"][0]["value"]
    (True, [{'step': 2}])
    """
    shown = widget.chart
    if shown is not None and _selection_names(shown) == _selection_names(chart):
        widget.spec = chart.to_dict(validate=False)
    else:
        widget.chart = chart


def to_svg(chart: Any) -> str:
    """The chart as SVG text, rendered offline by vl-convert (fonts from the system).

    >>> to_svg(alt.Chart().mark_point()).startswith("<svg")
    True
    """
    buffer = io.StringIO()
    chart.save(buffer, format="svg")
    return buffer.getvalue()


def to_png(chart: Any, *, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (``scale`` pixels per CSS pixel), rendered offline by vl-convert.

    >>> to_png(alt.Chart().mark_point())[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    chart.save(buffer, format="png", scale_factor=scale)
    return buffer.getvalue()


def svg_image(chart: Any, alt_text: str) -> str:
    """An ``<img>`` holding the chart's SVG as a data URI: the way a picture survives
    JupyterLab's HTML sanitiser, nbconvert and GitHub's notebook view alike."""
    data = base64.b64encode(to_svg(chart).encode("utf-8")).decode("ascii")
    return (
        f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt_text)}" '
        'style="max-width:100%;height:auto">'
    )


if alt.renderers.active == "default":
    enable_offline()
