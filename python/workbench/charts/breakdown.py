"""The funnel per group: conversion at every step for each value of a property (or each
segment), side by side with its 95% Wilson interval, or one small funnel per group.

>>> chart = breakdown(result, "platform")
>>> sorted({row["group"] for row in chart.data.values})
['android', 'ios', 'web']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from workbench.audience import Audience
from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.funnel import check_result
from workbench.charts.spec import field, inline, unchecked
from workbench.exceptions import ArgumentError
from workbench.funnel import FunnelResult

__all__ = ["METRICS", "breakdown"]

Metric = Literal["conversion_from_first", "conversion_from_previous", "users"]
METRICS: dict[str, str] = {
    "conversion_from_first": "conversion from step 1",
    "conversion_from_previous": "conversion from previous step",
    "users": "users",
}


@unchecked
def breakdown(
    result: FunnelResult,
    by: str | Mapping[str, Audience],
    *,
    users: pd.DataFrame | None = None,
    on: str | None = None,
    attribution: str | int = "first_touch",
    top: int | None = 6,
    metric: Metric = "conversion_from_first",
    layout: Literal["grouped", "facet"] = "grouped",
) -> alt.LayerChart | alt.FacetChart:
    """Conversion per step for each group of :meth:`FunnelResult.breakdown` (same ``by``,
    ``users``, ``on``, ``attribution``, ``top``), with interval error bars.

    Args:
        metric: ``"conversion_from_first"`` (default), ``"conversion_from_previous"`` or the
            count, ``"users"`` (no interval then).
        layout: ``"grouped"`` (the groups' bars side by side at each step) or ``"facet"`` (one
            small funnel per group, three to a row).

    >>> breakdown(result, "gender", users=users, layout="facet").to_dict()["columns"]
    3
    """
    result = check_result(result)
    if metric not in METRICS:
        raise ArgumentError(
            f"metric must be one of {', '.join(map(repr, METRICS))}; got {metric!r}"
        )
    if layout not in ("grouped", "facet"):
        raise ArgumentError(f"layout must be 'grouped' or 'facet'; got {layout!r}")
    table = result.breakdown(by, users=users, on=on, attribution=attribution, top=top)
    group = "segment" if isinstance(by, Mapping) else by
    counted = result.counted
    value = counted if metric == "users" else metric
    # The group is written as "group": a property's name may hold characters Vega reads as
    # a path ("a.b"); the legend carries its name.
    frame = pd.DataFrame(
        {
            "group": table[group].astype(str).to_numpy(),
            "step": table["step"].to_numpy(dtype=np.int64),
            "name": fmt.step_names(table["step"], table["label"]),
            "value": table[value].to_numpy(dtype=float),
            counted: table[counted].to_numpy(dtype=np.int64),
        }
    )
    order = list(dict.fromkeys(frame["group"]))
    steps = list(dict.fromkeys(frame.sort_values("step", kind="stable")["name"]))
    with_interval = metric != "users"
    if with_interval:
        frame["low"] = table[f"{metric}_low"].to_numpy(dtype=float)
        frame["high"] = table[f"{metric}_high"].to_numpy(dtype=float)
        frame["t_value"] = fmt.rates(frame["value"], frame["low"], frame["high"])
    else:
        frame["t_value"] = [fmt.count(v) for v in frame["value"]]
    frame["t_count"] = [fmt.count(n) for n in frame[counted]]
    value_axis = alt.Axis(title=METRICS[metric], format=".0%" if with_interval else ",d")
    tooltip = [
        field(alt.Tooltip, "group:N", title=str(group)),
        field(alt.Tooltip, "name:N", title="step"),
        field(alt.Tooltip, "t_count:N", title=counted),
        field(alt.Tooltip, "t_value:N", title=METRICS[metric]),
    ]
    grouped = layout == "grouped"
    step_x = field(
        alt.X, "name:N", sort=steps, axis=alt.Axis(title=None, labelAngle=0, labelLimit=120)
    )
    offset = {"xOffset": field(alt.XOffset, "group:N", sort=order)} if grouped else {}
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=step_x,
            y=field(alt.Y, "value:Q", axis=value_axis, scale=alt.Scale(domainMin=0)),
            color=field(alt.Color, "group:N", sort=order, title=str(group)),
            tooltip=tooltip,
            **offset,
        )
    )
    layers: list[Any] = [bars]
    if with_interval:
        layers.append(
            alt.Chart()
            .mark_rule(color=theme.TEXT, strokeWidth=1.5)
            .encode(
                x=step_x,
                y=field(alt.Y, "low:Q"),
                y2=alt.Y2(field="high"),
                tooltip=tooltip,
                **offset,
            )
        )
    title = alt.TitleParams(
        f"{METRICS[metric].capitalize()} by {group}",
        subtitle="error bars: 95% Wilson interval" if with_interval else "",
    )
    if grouped:
        chart = alt.LayerChart(
            layer=layers,
            title=title,
            width=alt.Step(max(14, 72 // max(len(order), 1))),
            height=280,
        )
        # The rows go in last: chart methods copy the chart, data included.
        chart.data = inline(frame)
        return chart
    return alt.LayerChart(layer=layers, data=inline(frame), width=alt.Step(48), height=180).facet(
        facet=field(alt.Facet, "group:N", sort=order, title=None), columns=3, title=title
    )
