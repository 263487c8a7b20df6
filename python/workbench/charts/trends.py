"""Conversion by entry period: did the funnel convert better this week than last? A line with
its 95% Wilson band, and the periods whose entrants may still convert drawn hollow.

>>> chart = trends(result, "day")
>>> [layer["mark"]["type"] for layer in chart.to_dict()["layer"]]
['area', 'line', 'point']
"""

from __future__ import annotations

from typing import Literal

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.funnel import check_result
from workbench.charts.spec import unchecked
from workbench.funnel import FunnelResult

__all__ = ["trends", "trends_frame"]

_DATE_FORMAT = {"day": "%b %d", "week": "%b %d", "month": "%b %Y"}


def trends_frame(
    result: FunnelResult,
    period: Literal["day", "week", "month"] = "day",
    *,
    step: int | None = None,
    tz: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The rows of :meth:`FunnelResult.trends` for one step (default: the last), with the
    period as UTC-tagged wall-clock text (so a chart shows the local date the table shows).

    >>> trends_frame(result, "day")[["period", "entrants", "users", "open"]]
                     period  entrants  users   open
    0  2026-01-01T00:00:00Z         2      1  False
    1  2026-01-02T00:00:00Z         1      0  False
    2  2026-01-03T00:00:00Z         2      0   True
    """
    result = check_result(result)
    step = result.n_steps if step is None else result.outcomes.check_step(step)
    table = result.trends(period, tz, confidence=confidence)
    table = table[table["step"] == step].reset_index(drop=True)
    counted = result.counted
    local = table["period_start"].dt.tz_localize(None)
    frame = pd.DataFrame(
        {
            "period": local.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entrants": table["entrants"].to_numpy(dtype=np.int64),
            counted: table[counted].to_numpy(dtype=np.int64),
            "conversion": table["conversion_from_first"].to_numpy(dtype=float),
            "low": table["low"].to_numpy(dtype=float),
            "high": table["high"].to_numpy(dtype=float),
            "in_progress": table["in_progress"].to_numpy(dtype=np.int64),
        }
    )
    frame["open"] = frame["in_progress"] > 0
    frame["t_period"] = local.dt.strftime("%Y-%m-%d").to_numpy()
    frame["t_conversion"] = fmt.rates(frame["conversion"], frame["low"], frame["high"])
    frame["t_counts"] = [
        f"{fmt.count(u)} of {fmt.count(e)}"
        for u, e in zip(frame[counted], frame["entrants"], strict=True)
    ]
    frame["t_open"] = [
        f"{fmt.count(n)} still inside their window" if n else "none" for n in frame["in_progress"]
    ]
    return frame


@unchecked
def trends(
    result: FunnelResult,
    period: Literal["day", "week", "month"] = "day",
    *,
    step: int | None = None,
    tz: str | None = None,
    confidence: float = 0.95,
) -> alt.LayerChart:
    """Conversion from step 1 to ``step`` (default: the last) of the users who entered in each
    ``period`` (``"day"``, ``"week"`` from Monday, ``"month"``) in time zone ``tz``, with its
    Wilson band at ``confidence``. Periods with entrants still inside their window are drawn as
    hollow points: their conversion may still rise.

    >>> trends(result, "week").to_dict()["layer"][1]["encoding"]["x"]["scale"]["type"]
    'utc'
    """
    frame = trends_frame(result, period, step=step, tz=tz, confidence=confidence)
    k = result.n_steps if step is None else step
    counted = result.counted
    x = alt.X(
        "period:T",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(title=f"entry {period}", format=_DATE_FORMAT.get(period, "%b %d")),
    )
    y_axis = alt.Axis(title=f"conversion to {k}. {result.labels[k - 1]}", format=".0%")
    tooltip = [
        alt.Tooltip("t_period:N", title=period),
        alt.Tooltip("t_counts:N", title=f"{counted} of entrants"),
        alt.Tooltip("t_conversion:N", title="conversion"),
        alt.Tooltip("t_open:N", title="in progress"),
    ]
    base = alt.Chart(frame)
    band = base.mark_area(color=theme.CONVERTED, opacity=0.18).encode(
        x=x, y=alt.Y("low:Q", axis=y_axis, scale=alt.Scale(domain=[0, 1])), y2="high:Q"
    )
    line = base.mark_line(color=theme.CONVERTED, strokeWidth=2).encode(
        x=x, y="conversion:Q", tooltip=tooltip
    )
    points = base.mark_point(size=48, strokeWidth=1.8, opacity=1).encode(
        x=x,
        y="conversion:Q",
        color=alt.Color(
            "open:N",
            scale=alt.Scale(domain=[False, True], range=[theme.CONVERTED, theme.IN_PROGRESS]),
            legend=alt.Legend(
                title=None,
                labelExpr="datum.value ? 'some entrants still in progress' : 'all windows closed'",
            ),
        ),
        fill=alt.when(alt.datum.open)
        .then(alt.value(theme.BACKGROUND))
        .otherwise(alt.value(theme.CONVERTED)),
        tooltip=tooltip,
    )
    title = alt.TitleParams(
        f"Conversion to {k}. {result.labels[k - 1]} by entry {period}",
        subtitle=f"band: {confidence:.0%} Wilson interval; hollow points may still rise",
    )
    return alt.LayerChart(layer=[band, line, points], title=title).properties(width=520, height=240)
