"""The pictures results show in a notebook beside their tables (wired in ``workbench/__init__``).

>>> funnel_picture(result).startswith('<img src="data:image/svg+xml;base64,')
True
"""

from __future__ import annotations

from workbench.charts.funnel import funnel
from workbench.charts.render import svg_image
from workbench.funnel import FunnelResult

__all__ = ["funnel_picture"]


def funnel_picture(result: FunnelResult) -> str:
    """The funnel chart of ``result`` as an SVG picture (static: it needs no JavaScript)."""
    steps = ", ".join(
        f"{label} {n:,}"
        for label, n in zip(result.labels, result.table[result.counted], strict=True)
    )
    return svg_image(funnel(result), f"Funnel chart: {steps}")
