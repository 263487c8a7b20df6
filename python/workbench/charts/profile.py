"""Who an audience is: each tag's TGI as a bar diverging from 100 (the share everyone has),
ranked, with its lift interval and the number of users behind it.

>>> chart = profile(wb.profile(result.entered(), tags))
>>> [row["tag"] for row in chart.data.values][:2]
['gender:F', 'age:18-24']
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from workbench._names import listing
from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.spec import field, inline, unchecked
from workbench.exceptions import ArgumentError, ColumnNotFoundError

__all__ = ["profile", "profile_frame"]

_NEEDED = ("tag", "count", "tgi")


def profile_frame(table: pd.DataFrame, *, top: int = 20) -> pd.DataFrame:
    """The rows of a profile table the chart shows: the ``top`` tags furthest from 100 (either
    way), ranked by TGI, with their texts.

    >>> profile_frame(wb.profile(result.entered(), tags), top=3)[["tag", "tgi", "side"]]
             tag    tgi   side
    0   gender:F  120.0   over
    1   gender:M   60.0  under
    2  age:25-34   60.0  under
    """
    if not isinstance(table, pd.DataFrame):
        raise ArgumentError(
            f"profile() charts the table wb.profile(audience, tags) returns; got "
            f"{type(table).__name__}"
        )
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise ColumnNotFoundError(
            f"a profile table needs the columns {listing(_NEEDED)}; {listing(missing)} missing "
            "(make it with wb.profile(audience, tags))"
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ArgumentError(f"top must be a whole number of at least 1; got {top!r}")
    frame = table.copy()
    frame["tgi"] = frame["tgi"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.abs(np.log(frame["tgi"].to_numpy() / 100.0))
    frame = frame.assign(_distance=np.nan_to_num(distance, nan=-1.0, posinf=1e9))
    frame = frame.nlargest(top, "_distance", keep="first").drop(columns="_distance")
    frame = frame.sort_values(["tgi", "count"], ascending=[False, False], kind="stable")
    frame = frame.reset_index(drop=True)
    frame["base"] = 100.0
    frame["side"] = np.where(frame["tgi"] >= 100, "over", "under")
    has_interval = {"lift_low", "lift_high"} <= set(frame.columns)
    frame["low"] = frame["lift_low"] * 100 if has_interval else np.nan
    frame["high"] = frame["lift_high"] * 100 if has_interval else np.nan
    frame["t_count"] = [f"n={fmt.count(n)}" for n in frame["count"]]
    frame["t_tgi"] = [fmt.NONE if pd.isna(t) else f"{t:.0f}" for t in frame["tgi"]]
    frame["t_interval"] = [
        fmt.NONE if pd.isna(lo) or pd.isna(hi) else f"{lo:.0f}–{hi:.0f}"
        for lo, hi in zip(frame["low"], frame["high"], strict=True)
    ]
    for share in ("audience_share", "base_share"):
        frame[f"t_{share}"] = [fmt.percent(s) for s in frame[share]] if share in frame else fmt.NONE
    frame["t_p"] = (
        [fmt.p_value(p) for p in frame["p_value"]] if "p_value" in frame.columns else fmt.NONE
    )
    return frame.drop(
        columns=[c for c in frame.columns if c not in _KEPT and not c.startswith("t_")]
    )


_KEPT = ("tag", "count", "tgi", "base", "side", "low", "high")


@unchecked
def profile(table: pd.DataFrame, *, top: int = 20, title: str | None = None) -> alt.LayerChart:
    """The profile table of an audience (``wb.profile(audience, tags)``) as a ranked chart:
    one bar per tag from 100 to its TGI (right: over-represented, left: under), the 95% lift
    interval as a line through it, and the users with the tag (``n=``) beside it. The ``top``
    tags furthest from 100 are shown.

    >>> profile(wb.profile(result.entered(), tags), top=3).to_dict()["layer"][0]["mark"]["type"]
    'bar'
    """
    frame = profile_frame(table, top=top)
    order = frame["tag"].tolist()
    y = field(alt.Y, "tag:N", sort=order, axis=alt.Axis(title=None, labelLimit=220))
    shown = (
        ("tag", "tag"),
        ("t_count", "users with it"),
        ("t_audience_share", "share in the audience"),
        ("t_base_share", "share in the base"),
        ("t_tgi", "TGI"),
        ("t_interval", "TGI 95% interval"),
        ("t_p", "p-value"),
    )
    tooltip = [field(alt.Tooltip, f"{name}:N", title=title) for name, title in shown]
    base = alt.Chart(inline(frame))
    bars = base.mark_bar(height={"band": 0.7}).encode(
        y=y,
        x=field(
            alt.X,
            "tgi:Q",
            axis=alt.Axis(title="TGI (100 = same share as the base)"),
            scale=alt.Scale(zero=False, padding=12),
        ),
        x2=alt.X2(field="base"),
        color=field(
            alt.Color,
            "side:N",
            scale=alt.Scale(domain=["over", "under"], range=[theme.OVER, theme.UNDER]),
            legend=alt.Legend(title=None, labelExpr="datum.value + '-represented'"),
        ),
        tooltip=tooltip,
    )
    whiskers = base.mark_rule(color=theme.TEXT, strokeWidth=1.2).encode(
        y=y, x=field(alt.X, "low:Q"), x2=alt.X2(field="high"), tooltip=tooltip
    )
    hundred = (
        alt.Chart(alt.InlineData(values=[{"base": 100.0}]))
        .mark_rule(color=theme.MUTED)
        .encode(x=field(alt.X, "base:Q"))
    )
    support = (
        base.mark_text(align="left", dx=6, color=theme.MUTED, fontSize=11)
        .encode(y=y, x=field(alt.X, "right:Q"), text=field(alt.Text, "t_count:N"))
        .transform_calculate(right="max(datum.tgi, isValid(datum.high) ? datum.high : 0)")
    )
    chart = alt.LayerChart(
        layer=[bars, whiskers, hundred, support],
        title=alt.TitleParams(
            title or "Who they are: TGI per tag",
            subtitle="bars from 100; line: 95% interval; n: users with the tag",
        ),
        width=420,
        height=alt.Step(22),
    )
    # The rows go in last, for all layers but the line at 100: chart methods copy the data.
    chart.data = inline(frame)
    return chart
