"""How long users take to reach a step: the distribution behind the table's median and p90,
as a histogram or a cumulative curve (ECDF), with the median and p90 marked.

The distribution is binned here, so a chart of millions of users carries a few dozen rows.

>>> chart = time_to_convert(result, 3)
>>> [layer["mark"]["type"] for layer in chart.to_dict()["layer"]]
['bar', 'rule', 'text']
"""

from __future__ import annotations

from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.funnel import check_result
from workbench.charts.spec import unchecked
from workbench.exceptions import ArgumentError
from workbench.funnel import FunnelResult

__all__ = ["time_to_convert", "time_to_convert_frame"]

Since = Literal["first", "previous"]


def _seconds(result: FunnelResult, step: int, since: Since) -> np.ndarray:
    if since not in ("first", "previous"):
        raise ArgumentError(f"since must be 'first' or 'previous'; got {since!r}")
    times = result.time_to_convert(step)[f"from_{since}"]
    return np.asarray(times.dt.total_seconds(), dtype=float)


def time_to_convert_frame(
    result: FunnelResult, step: int, *, since: Since = "first", bins: int = 40
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The binned distribution of the time to reach ``step`` (from step 1 or from the previous
    step) and its marks: ``unit`` (the unit the times read in), ``median``, ``p90`` (in that
    unit), ``n`` (users) and ``beyond`` (users past the last bin, which ends at the p99).

    >>> frame, marks = time_to_convert_frame(result, 2, bins=4)
    >>> marks["unit"], marks["n"], round(marks["median"], 1)
    ('minutes', 3, 10.0)
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ArgumentError(f"bins must be a whole number of at least 1; got {bins!r}")
    seconds = _seconds(check_result(result), step, since)
    unit, size = fmt.time_unit_for(seconds)
    values = seconds / size
    marks: dict[str, Any] = {"unit": unit, "n": len(values), "median": np.nan, "p90": np.nan}
    if not len(values):
        marks["beyond"] = 0
        return pd.DataFrame(columns=["start", "end", "users", "share", "cumulative"]), marks
    marks["median"], marks["p90"] = (float(q) for q in np.quantile(values, [0.5, 0.9]))
    upper = float(np.quantile(values, 0.99))
    if upper <= 0:
        upper = max(float(values.max()), 1.0)
    edges = np.linspace(0.0, upper, bins + 1)
    counts, _ = np.histogram(np.clip(values, 0, upper), bins=edges)
    marks["beyond"] = int((values > upper).sum())
    counts[-1] -= marks["beyond"]
    frame = pd.DataFrame(
        {
            "start": edges[:-1],
            "end": edges[1:],
            "users": counts.astype(np.int64),
        }
    )
    frame["share"] = frame["users"] / len(values)
    frame["cumulative"] = np.cumsum(counts) / len(values)
    return frame, marks


@unchecked
def time_to_convert(
    result: FunnelResult,
    step: int,
    *,
    since: Since = "first",
    kind: Literal["histogram", "ecdf"] = "histogram",
    bins: int = 40,
) -> alt.LayerChart:
    """The distribution of the time users took to reach ``step`` (2..N) — from step 1
    (``since="first"``) or from the previous step of their chain — with the median and p90.

    ``kind="histogram"`` shows how many users took how long (bins up to the 99th percentile;
    the subtitle counts the users beyond); ``"ecdf"`` the share who had reached the step by
    each time.

    >>> time_to_convert(result, 2, kind="ecdf").to_dict()["layer"][0]["mark"]["type"]
    'line'
    """
    if kind not in ("histogram", "ecdf"):
        raise ArgumentError(f"kind must be 'histogram' or 'ecdf'; got {kind!r}")
    frame, marks = time_to_convert_frame(result, step, since=since, bins=bins)
    unit = marks["unit"]
    label = result.labels[step - 1]
    origin = "step 1" if since == "first" else "the previous step"
    subtitle = f"{fmt.count(marks['n'])} users; median {_in(marks['median'], unit)}, p90 " + (
        f"{_in(marks['p90'], unit)}"
    )
    if marks["beyond"]:
        subtitle += f"; {fmt.count(marks['beyond'])} took longer than the last bin"
    title = alt.TitleParams(f"Time from {origin} to {step}. {label}", subtitle=subtitle)
    time_axis = alt.Axis(title=f"time ({unit})", format="~r")
    frame = frame.assign(
        t_range=[
            f"{_in(a, unit)} – {_in(b, unit)}"
            for a, b in zip(frame["start"], frame["end"], strict=True)
        ],
        t_users=[fmt.count(n) for n in frame["users"]],
        t_share=[fmt.percent(s) for s in frame["share"]],
        t_cumulative=[fmt.percent(s) for s in frame["cumulative"]],
    )
    tooltip = [
        alt.Tooltip("t_range:N", title="time"),
        alt.Tooltip("t_users:N", title="users"),
        alt.Tooltip("t_share:N", title="share"),
        alt.Tooltip("t_cumulative:N", title="reached by then"),
    ]
    if kind == "histogram":
        shape: Any = (
            alt.Chart(frame)
            .mark_bar(color=theme.CONVERTED, cornerRadiusEnd=0)
            .encode(
                x=alt.X("start:Q", axis=time_axis, scale=alt.Scale(domainMin=0)),
                x2="end:Q",
                y=alt.Y("users:Q", axis=alt.Axis(title="users", format=",d", tickMinStep=1)),
                y2=alt.datum(0),
                tooltip=tooltip,
            )
        )
    else:
        points = pd.concat(
            [pd.DataFrame({"end": [0.0], "cumulative": [0.0]}), frame], ignore_index=True
        ).fillna({"t_range": "", "t_users": "", "t_share": "", "t_cumulative": "0.0%"})
        shape = (
            alt.Chart(points)
            .mark_line(color=theme.CONVERTED, interpolate="step-after", strokeWidth=2)
            .encode(
                x=alt.X("end:Q", axis=time_axis, scale=alt.Scale(domainMin=0)),
                y=alt.Y("cumulative:Q", axis=alt.Axis(title="reached by then", format=".0%")),
                tooltip=tooltip,
            )
        )
    quantiles = pd.DataFrame(
        {
            "at": [marks["median"], marks["p90"]],
            "mark": [f"median {_in(marks['median'], unit)}", f"p90 {_in(marks['p90'], unit)}"],
        }
    ).dropna()
    rules = (
        alt.Chart(quantiles)
        .mark_rule(color=theme.IN_PROGRESS, strokeDash=[4, 3], strokeWidth=1.5)
        .encode(x="at:Q", tooltip=alt.Tooltip("mark:N", title="marks"))
    )
    texts = (
        alt.Chart(quantiles)
        .mark_text(align="left", dx=4, dy=-4, baseline="bottom", color=theme.MUTED)
        .encode(x="at:Q", y=alt.value(0), text="mark:N")
    )
    return alt.LayerChart(layer=[shape, rules, texts], title=title).properties(
        width=460, height=240
    )


def _in(value: float, unit: str) -> str:
    """A time in ``unit`` as it reads on the chart (``3.5 hours``)."""
    if value is None or np.isnan(value):
        return fmt.NONE
    return f"{value:.3g} {unit}"
