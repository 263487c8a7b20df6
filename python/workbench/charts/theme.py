"""One look for every chart: colours, typography and the Altair theme that carries them.

Every chart of :mod:`workbench.charts` takes its colours from the names here, and the theme
``"workbench"`` sets the rest (font, axes, legends, background). Importing
:mod:`workbench.charts` registers the theme and turns it on unless another theme than Altair's
default is already on; ``alt.theme.enable("default")`` goes back to Altair's own look.

The chart is a white card with dark text, so it reads the same in JupyterLab's light and dark
themes and in an exported PNG or SVG (a transparent chart would put dark axis text on a dark
page). The palette is colour-blind safe: the step colour and the drop-off tint differ in
lightness, not only in hue, and in-progress users get a warm colour of their own.

>>> import altair as alt
>>> from workbench.charts import theme
>>> alt.theme.active
'workbench'
>>> theme.config()["config"]["background"]
'#ffffff'
"""

from __future__ import annotations

import altair as alt

__all__ = [
    "BACKGROUND",
    "CATEGORY",
    "CONVERTED",
    "DROPPED",
    "EXCLUDED",
    "FONT",
    "GRID",
    "IN_PROGRESS",
    "MUTED",
    "NAME",
    "OVER",
    "TEXT",
    "UNDER",
    "config",
]

NAME = "workbench"

# Latin text first, then CJK faces in the order a system is likely to have them (the test
# set-up installs WenQuanYi Micro Hei on Debian), then the generic family as the last resort.
FONT = (
    "Inter, 'Helvetica Neue', Helvetica, Arial, 'Noto Sans CJK SC', 'Noto Sans SC', "
    "'WenQuanYi Micro Hei', 'PingFang SC', 'Microsoft YaHei', sans-serif"
)

BACKGROUND = "#ffffff"
TEXT = "#212529"
MUTED = "#495057"
GRID = "#e9ecef"
DOMAIN = "#adb5bd"

CONVERTED = "#3b5bdb"
"""Units that reached a step and went on (or, at the last step, converted)."""
DROPPED = "#bac8ff"
"""Units whose furthest step this was, window closed: the same hue as the step, lighter."""
IN_PROGRESS = "#f08c00"
"""Units whose furthest step this is so far, window still open: they may still go on."""
EXCLUDED = "#868e96"
"""Units voided by an exclusion."""
OVER = "#3b5bdb"
"""Tags over-represented in an audience (TGI above 100)."""
UNDER = "#e8590c"
"""Tags under-represented in an audience (TGI below 100)."""
CATEGORY = (
    "#3b5bdb",
    "#f08c00",
    "#2f9e44",
    "#c2255c",
    "#7048e8",
    "#1098ad",
    "#e8590c",
    "#5c940d",
    "#862e9c",
    "#495057",
)
"""Colours of breakdown groups, in order, distinct for up to ten groups."""


def config() -> alt.theme.ThemeConfig:
    """The theme as Altair's ``ThemeConfig``: what ``alt.theme.enable("workbench")`` applies.

    >>> config()["config"]["font"] == FONT
    True
    """
    axis: alt.theme.AxisConfigKwds = {
        "labelColor": MUTED,
        "titleColor": TEXT,
        "labelFontSize": 12,
        "titleFontSize": 12,
        "titleFontWeight": 600,
        "gridColor": GRID,
        "domainColor": DOMAIN,
        "tickColor": DOMAIN,
        "labelLimit": 260,
    }
    return {
        "config": {
            "background": BACKGROUND,
            "padding": 12,
            "font": FONT,
            "view": {"stroke": None},
            "axis": axis,
            "legend": {
                "labelColor": MUTED,
                "titleColor": TEXT,
                "labelFontSize": 12,
                "titleFontSize": 12,
                "titleFontWeight": 600,
                "orient": "bottom",
                "direction": "horizontal",
                "labelLimit": 260,
            },
            "title": {
                "color": TEXT,
                "subtitleColor": MUTED,
                "fontSize": 15,
                "subtitleFontSize": 12,
                "fontWeight": 600,
                "anchor": "start",
                "offset": 10,
            },
            "header": {"labelColor": TEXT, "titleColor": TEXT, "labelFontSize": 12},
            "text": {"color": TEXT, "fontSize": 12},
            "range": {"category": list(CATEGORY)},
            "bar": {"cornerRadiusEnd": 2},
        }
    }


@alt.theme.register(NAME, enable=False)
def _registered() -> alt.theme.ThemeConfig:
    return config()


if alt.theme.active == "default":
    alt.theme.enable(NAME)
