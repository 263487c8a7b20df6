"""What breaks the tracking plan: rows in violation per event, by type of violation, events
named as the plan names them.

>>> chart = violations(plan.validate(log))
>>> spec = chart.to_dict()
>>> sorted({row["event"] for row in spec["datasets"][spec["data"]["name"]]})
['pay', 'search', 'view']
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.spec import unchecked
from workbench.exceptions import ArgumentError, PlanError
from workbench.plan import VIOLATIONS, ValidationReport

__all__ = ["violations"]


def _display_names(report: ValidationReport, language: str | None) -> dict[str, str]:
    try:
        return report.plan.display_names(language)
    except PlanError:
        if language is not None:
            raise
        return {}


@unchecked
def violations(report: ValidationReport, *, language: str | None = None) -> alt.Chart:
    """The findings of ``plan.validate(log)`` as stacked bars: one bar per event with rows in
    violation, a colour per kind of violation, the property and the plan's detail in the
    tooltip. Events carry the plan's display name in ``language`` (default: its first).

    >>> violations(plan.validate(log), language="zh").to_dict()["encoding"]["y"]["title"]
    'event'
    """
    if not isinstance(report, ValidationReport):
        raise ArgumentError(
            f"violations() charts what plan.validate(log) returns; got {type(report).__name__}"
        )
    names = _display_names(report, language)
    table = report.table
    frame = pd.DataFrame(
        {
            "event": table["event"].astype(str).to_numpy(),
            "property": table["property"].fillna("").astype(str).to_numpy(),
            "violation": table["violation"].astype(str).str.replace("_", " ").to_numpy(),
            "rows": table["rows"].to_numpy(),
            "share": table["share"].to_numpy(dtype=float),
            "detail": table["detail"].astype(str).to_numpy(),
        }
    )
    frame["name"] = [_named(e, names) for e in frame["event"]]
    frame["t_rows"] = [
        f"{fmt.count(n)} ({fmt.percent(s)} of the event's rows)"
        for n, s in zip(frame["rows"], frame["share"], strict=True)
    ]
    kinds = [v.replace("_", " ") for v in VIOLATIONS]
    order = frame.groupby("name", sort=False)["rows"].sum().sort_values(ascending=False)
    plan_name = f" {report.plan.name!r}" if report.plan.name else ""
    if report.ok:
        title = alt.TitleParams(f"Every row matches the plan{plan_name}")
    else:
        bad = int(report.violating_row_mask.sum())
        title = alt.TitleParams(
            f"{fmt.count(bad)} of {fmt.count(report.n_rows)} rows break the plan{plan_name}",
            subtitle=f"{len(table)} finding(s) in {len(order)} event(s)",
        )
    tooltip: list[Any] = [
        alt.Tooltip("name:N", title="event"),
        alt.Tooltip("property:N", title="property"),
        alt.Tooltip("violation:N", title="violation"),
        alt.Tooltip("t_rows:N", title="rows"),
        alt.Tooltip("detail:N", title="detail"),
    ]
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            y=alt.Y(
                "name:N", sort=order.index.tolist(), title="event", axis=alt.Axis(labelLimit=260)
            ),
            x=alt.X("sum(rows):Q", title="rows in violation", axis=alt.Axis(format=",d")),
            color=alt.Color(
                "violation:N",
                scale=alt.Scale(domain=kinds, range=list(theme.CATEGORY[: len(kinds)])),
                legend=alt.Legend(title=None, columns=2),
            ),
            order=alt.Order("violation:N"),
            tooltip=tooltip,
        )
        .properties(width=420, height=alt.Step(28))
    )


def _named(event: str, names: dict[str, str]) -> str:
    shown = names.get(event)
    return f"{shown} ({event})" if shown and shown != event else event
