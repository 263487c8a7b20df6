"""The funnel per group: conversion at every step for each value of a property (or each
segment), side by side with its 95% Wilson interval, or one small funnel per group.

>>> chart = breakdown(result, "platform")
>>> spec = chart.to_dict()
>>> sorted({row["platform"] for row in spec["datasets"][spec["data"]["name"]]})
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
from workbench.charts.funnel import check_result
from workbench.charts.spec import unchecked
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
    frame = pd.DataFrame(
        {
            group: table[group].astype(str).to_numpy(),
            "step": table["step"].to_numpy(dtype=np.int64),
            "name": fmt.step_names(table["step"], table["label"]),
            "value": table[value].to_numpy(dtype=float),
            counted: table[counted].to_numpy(dtype=np.int64),
        }
    )
    order = list(dict.fromkeys(frame[group]))
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
    colour = alt.Color(f"{group}:N", sort=order, title=str(group))
    tooltip = [
        alt.Tooltip(f"{group}:N", title=str(group)),
        alt.Tooltip("name:N", title="step"),
        alt.Tooltip("t_count:N", title=counted),
        alt.Tooltip("t_value:N", title=METRICS[metric]),
    ]
    base = alt.Chart(frame if layout == "grouped" else alt.Undefined)
    grouped = layout == "grouped"
    bars = base.mark_bar().encode(
        x=alt.X("name:N", sort=steps, axis=alt.Axis(title=None, labelAngle=0, labelLimit=120)),
        y=alt.Y("value:Q", axis=value_axis, scale=alt.Scale(domainMin=0)),
        color=colour,
        tooltip=tooltip,
        **({"xOffset": alt.XOffset(f"{group}:N", sort=order)} if grouped else {}),
    )
    layers: list[Any] = [bars]
    if with_interval:
        layers.append(
            base.mark_rule(color="#212529", strokeWidth=1.5).encode(
                x=alt.X("name:N", sort=steps),
                y="low:Q",
                y2="high:Q",
                tooltip=tooltip,
                **({"xOffset": alt.XOffset(f"{group}:N", sort=order)} if grouped else {}),
            )
        )
    title = alt.TitleParams(
        f"{METRICS[metric].capitalize()} by {group}",
        subtitle="error bars: 95% Wilson interval" if with_interval else "",
    )
    if grouped:
        return alt.LayerChart(layer=layers, title=title).properties(
            width=alt.Step(max(14, 72 // max(len(order), 1))), height=280
        )
    return (
        alt.LayerChart(layer=layers, data=frame)
        .properties(width=alt.Step(48), height=180)
        .facet(facet=alt.Facet(f"{group}:N", sort=order, title=None), columns=3, title=title)
    )
