"""The funnel chart: one bar per step, as long as the users who reached it, split into who went
on, who is still in progress and who dropped off there.

Each bar is one row of ``result.table``: its full length is the step's count, its solid part
the users who went on to the next step (at the last step: converted), its warm part those still
inside their window, its light part those whose window closed there (the table's ``dropped``).
So the drop-off after a step is on that step's own bar, and a click on the bar means "this
step's users" — what :meth:`FunnelResult.dropped_after` and the builder's drill-down return.

>>> chart = wb.charts.funnel(result)
>>> bars = chart.layer[0]
>>> bars.mark.type
'bar'
>>> for row in bars.data.values:
...     print(row["name"], row["segment"], row["users"])
1. view converted 3
1. view in progress 1
1. view dropped off 1
2. cart converted 1
2. cart in progress 1
2. cart dropped off 1
3. pay converted 1
"""

from __future__ import annotations

from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from workbench._durations import format_duration
from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.spec import field, inline, unchecked
from workbench.exceptions import ArgumentError
from workbench.funnel import FunnelResult

__all__ = ["SEGMENTS", "STEP_SELECTION", "Orientation", "check_result", "funnel", "funnel_frame"]

Orientation = Literal["horizontal", "vertical"]
SEGMENTS = ("converted", "in progress", "dropped off")
"""The parts of a step's bar, from its start: went on, window still open, dropped off."""
STEP_SELECTION = "step"
"""Name of the click selection of a clickable chart: its value is ``[{"step": k}]``."""
_COLOURS = (theme.CONVERTED, theme.IN_PROGRESS, theme.DROPPED)


def check_result(result: Any, what: str = "result") -> FunnelResult:
    """``result`` when it is a funnel result; else an error saying what the charts take."""
    if not isinstance(result, FunnelResult):
        raise ArgumentError(
            f"{what} must be a wb.FunnelResult (what funnel.run(log) returns); got "
            f"{type(result).__name__}"
        )
    return result


def funnel_frame(result: FunnelResult) -> pd.DataFrame:
    """One row per step with what the chart shows: counts, the bar's parts, and the label and
    tooltip texts (rates with their 95% Wilson interval, durations as people write them).

    >>> funnel_frame(result)[["name", "reached", "converted", "in progress", "dropped off"]]
          name  reached  converted  in progress  dropped off
    0  1. view        5          3            1            1
    1  2. cart        3          1            1            1
    2   3. pay        1          1            0            0
    """
    table = check_result(result).table
    counted = result.counted
    reached = table[counted].to_numpy(dtype=np.int64)
    dropped = table["dropped"].to_numpy(dtype=np.int64)
    waiting = table["in_progress"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "step": table["step"].to_numpy(dtype=np.int64),
            "name": fmt.step_names(table["step"], table["label"]),
            "label": table["label"].astype(str).to_numpy(),
            "reached": reached,
            "converted": np.maximum(reached - dropped - waiting, 0),
            "in progress": waiting,
            "dropped off": dropped,
        }
    )
    first = table["conversion_from_first"]
    previous = table["conversion_from_previous"]
    frame["from_first"] = first.to_numpy(dtype=float)
    frame["from_previous"] = previous.to_numpy(dtype=float)
    frame["t_count"] = [fmt.count(n) for n in reached]
    frame["t_first"] = fmt.rates(
        first, table["conversion_from_first_low"], table["conversion_from_first_high"]
    )
    frame["t_previous"] = fmt.rates(
        previous, table["conversion_from_previous_low"], table["conversion_from_previous_high"]
    )
    frame["t_dropped"] = [fmt.count(n) for n in dropped]
    frame["t_waiting"] = [fmt.count(n) for n in waiting]
    frame["t_median_first"] = table["median_time_from_first"].map(fmt.duration).to_numpy()
    frame["t_median_previous"] = table["median_time_from_previous"].map(fmt.duration).to_numpy()
    frame["t_p90_first"] = table["p90_time_from_first"].map(fmt.duration).to_numpy()
    unit = "user" if counted == "users" else "conversion"
    frame["text"] = [
        f"{n:,} {unit}{'' if n == 1 else 's'}\n"
        + ("entered" if step == 1 else f"{fmt.percent(f)} of step 1 · {fmt.percent(p)} of previous")
        for step, n, f, p in zip(
            frame["step"], reached, frame["from_first"], frame["from_previous"], strict=True
        )
    ]
    return frame


def _segments(frame: pd.DataFrame) -> pd.DataFrame:
    """The bars' parts as rows with their start and end, stacked in :data:`SEGMENTS` order.
    Every step keeps its ``converted`` part (of length 0 if nobody reached it), so each step has
    a bar to click; empty other parts are left out."""
    steps = frame.drop(columns=list(SEGMENTS)).to_dict("records")
    sizes = frame[list(SEGMENTS)].to_numpy(dtype=np.int64)
    rows = []
    for step, parts in zip(steps, sizes, strict=True):
        start, reached = 0, int(step["reached"])
        for segment, size in zip(SEGMENTS, parts.tolist(), strict=True):
            if size or segment == SEGMENTS[0]:
                share = fmt.percent(size / reached if reached else np.nan)
                rows.append(
                    {
                        **step,
                        "segment": segment,
                        "users": size,
                        "start": start,
                        "end": start + size,
                        "t_segment": f"{segment}: {fmt.count(size)} ({share} of the step)",
                    }
                )
            start += size
    return pd.DataFrame(rows)


def _tooltip(counted: str) -> list[alt.Tooltip]:
    shown = (
        ("name", "step"),
        ("t_count", counted),
        ("t_first", "conversion from step 1"),
        ("t_previous", "conversion from previous"),
        ("t_dropped", "dropped off here"),
        ("t_waiting", "in progress here"),
        ("t_median_first", "median time from step 1"),
        ("t_median_previous", "median time from previous"),
        ("t_p90_first", "p90 time from step 1"),
        ("t_segment", "this part"),
    )
    return [field(alt.Tooltip, f"{name}:N", title=title) for name, title in shown]


def _title(result: FunnelResult, frame: pd.DataFrame) -> alt.TitleParams:
    entered = int(frame["reached"].iloc[0])
    last = int(frame["reached"].iloc[-1])
    rate = fmt.percent(last / entered) if entered else fmt.NONE
    return alt.TitleParams(
        f"{fmt.count(last)} of {fmt.count(entered)} {result.counted} converted ({rate})",
        subtitle=(
            f"{result.n_steps} steps within {format_duration(result.funnel.window)}; the light "
            "part of a bar dropped off after that step"
        ),
    )


@unchecked
def funnel(
    result: FunnelResult,
    *,
    orientation: Orientation = "horizontal",
    clickable: bool = False,
    selected: int | None = None,
    title: str | alt.TitleParams | None = None,
) -> alt.LayerChart:
    """The funnel of ``result`` as an Altair chart: one bar per step, labelled with its count
    and its conversion from step 1 and from the previous step, the drop-off after the step on
    the same bar (lighter), users still in progress apart (warm colour), and a tooltip with the
    95% Wilson intervals and the median time to convert.

    Args:
        result: what ``funnel.run(log)`` returned; labels are its step labels (display names
            from the tracking plan when the funnel was built with ``labels=``).
        orientation: ``"horizontal"`` (steps down the side; long names read best) or
            ``"vertical"`` (steps along the bottom).
        clickable: add the click selection :data:`STEP_SELECTION` (``fields=["step"]``), so an
            ``alt.JupyterChart`` reports the clicked step to Python.
        selected: a step to highlight (the others are drawn paler); with ``clickable``, the
            selection starts on it.
        title: the chart's title (default: how many converted, and the window).

    >>> chart = wb.charts.funnel(result, orientation="vertical").properties(width=300)
    >>> [(row["name"], row["reached"]) for row in chart.layer[1].data.values]
    [('1. view', 5), ('2. cart', 3), ('3. pay', 1)]
    """
    frame = funnel_frame(result)
    if orientation not in ("horizontal", "vertical"):
        raise ArgumentError(f"orientation must be 'horizontal' or 'vertical'; got {orientation!r}")
    if not isinstance(clickable, bool):
        raise ArgumentError(f"clickable= is True or False; got {clickable!r}")
    if selected is not None:
        selected = result.outcomes.check_step(selected)
    counted = result.counted
    top = max(int(frame["reached"].max()), 1)
    horizontal = orientation == "horizontal"
    order = frame["name"].tolist()
    steps = alt.Y if horizontal else alt.X
    size, size2 = (alt.X, alt.X2) if horizontal else (alt.Y, alt.Y2)
    step_axis = alt.Axis(title=None, labelLimit=260 if horizontal else 90, labelAngle=0)
    count_scale = alt.Scale(domain=[0, top * (1.5 if horizontal else 1.3)], nice=False)
    count_axis = alt.Axis(title=counted, format=",d", tickMinStep=1, labelFlush=True)

    highlight = alt.OpacityValue(value=1)
    params: list[alt.Parameter] = []
    if clickable:
        pick = alt.selection_point(
            name=STEP_SELECTION,
            fields=["step"],
            on="click",
            clear="dblclick",
            value=[{"step": selected}] if selected is not None else alt.Undefined,
        )
        params.append(pick)
        highlight = alt.OpacityValue(
            value=0.4, condition={"param": STEP_SELECTION, "empty": True, "value": 1}
        )
    elif selected is not None:
        highlight = alt.OpacityValue(
            value=0.4, condition={"test": f"datum.step === {selected}", "value": 1}
        )

    bars = (
        alt.Chart(name="step_bars")
        .mark_bar(cursor="pointer" if clickable else "default")
        .encode(
            field(steps, "name:N", sort=order, axis=step_axis),
            field(size, "start:Q", scale=count_scale, axis=count_axis),
            size2(field="end"),
            color=field(
                alt.Color,
                "segment:N",
                scale=alt.Scale(domain=list(SEGMENTS), range=list(_COLOURS)),
                legend=alt.Legend(title=None),
            ),
            opacity=highlight,
            tooltip=_tooltip(counted),
        )
    )
    if params:
        bars = bars.add_params(*params)
    text_at: dict[str, Any] = (
        {"align": "left", "baseline": "middle", "dx": 6}
        if horizontal
        else {"align": "center", "baseline": "bottom", "dy": -6}
    )
    texts = (
        alt.Chart(name="step_labels")
        .mark_text(lineBreak="\n", lineHeight=15, color=theme.TEXT, **text_at)
        .encode(
            field(steps, "name:N", sort=order),
            field(size, "reached:Q", scale=count_scale),
            text=field(alt.Text, "text:N"),
            tooltip=_tooltip(counted)[:-1],
        )
    )
    chart = alt.LayerChart(
        layer=[bars, texts],
        title=title if title is not None else _title(result, frame),
        width=460 if horizontal else alt.Step(110),
        height=alt.Step(46) if horizontal else 300,
    )
    # The rows go in last: each chart method copies the chart, data included.
    chart.layer[0].data = inline(_segments(frame))
    chart.layer[1].data = inline(frame.drop(columns=list(SEGMENTS)))
    return chart
