"""The step table: per step, how many units reached it, conversion, drop-off, units in progress
and time to convert, for one group of units or for many groups in one counting pass.

>>> everyone = np.zeros(6, np.int64)  # one group holding all six units
>>> table = step_tables(funnel.outcomes(log), everyone, 1, labels=["view", "cart", "pay"])[0]
>>> table[["step", "users", "dropped", "in_progress", "median_time_from_first"]]
   step  users  dropped  in_progress median_time_from_first
0     1      5        1            1                    NaT
1     2      3        1            1        0 days 00:10:00
2     3      1        0            0        0 days 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.funnel.outcomes import FunnelOutcomes
from workbench.stats import previous_steps

__all__ = ["TIME_COLUMNS", "step_tables"]

TIME_COLUMNS = (
    "median_time_from_first",
    "p90_time_from_first",
    "median_time_from_previous",
    "p90_time_from_previous",
)


def step_tables(
    outcomes: FunnelOutcomes,
    codes: np.ndarray,
    n_groups: int,
    *,
    labels: Sequence[str],
    optional: Sequence[bool] | None = None,
    exclusions: bool = False,
) -> list[pd.DataFrame]:
    """The step table of each group (``codes``: a group per unit, -1 for none), in one pass
    over the units whatever the number of groups.

    Columns: ``step``, ``label``, ``users`` (or ``conversions``: units whose chain includes the
    step), ``conversion_from_previous`` (from the previous step that is not optional),
    ``conversion_from_first``, ``dropped`` (furthest step here, window closed),
    ``in_progress`` (furthest step here, window still open), ``excluded`` (with exclusions:
    voided after reaching the step), ``optional`` (with optional steps), and median and p90 time
    to reach the step from step 1 and from the chain's previous step.
    """
    n = outcomes.n_steps
    counted_name = "users" if outcomes.counting == "users" else "conversions"
    member = codes >= 0
    counted = member & outcomes.counted
    levels = outcomes.levels

    def per_group_and_level(mask: np.ndarray) -> np.ndarray:
        slots = codes[mask] * (n + 1) + levels[mask]
        counts = np.bincount(slots, minlength=n_groups * (n + 1))
        return counts.reshape(n_groups, n + 1)[:, 1:]

    masks = outcomes.reached[counted]
    counted_codes = codes[counted]
    reached = np.stack(
        [
            np.bincount(counted_codes, weights=(masks >> np.uint32(k)) & 1, minlength=n_groups)
            for k in range(n)
        ],
        axis=1,
    ).astype(np.int64)
    at_level = per_group_and_level(counted)
    open_at = per_group_and_level(counted & outcomes.in_progress)
    excluded_at = per_group_and_level(member & outcomes.excluded)
    steps = np.arange(1, n + 1)
    skippable = list(optional) if optional is not None else [False] * n
    previous_index = previous_steps(steps, skippable) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        first = reached[:, :1].astype(float)
        first[first == 0] = np.nan
        from_first = reached / first
        previous = reached[:, previous_index].astype(float)
        previous[previous == 0] = np.nan
        from_previous = reached / previous
    dropped = at_level - open_at
    dropped[:, -1] = 0
    open_at[:, -1] = 0
    times = _time_quantiles(outcomes, codes, counted, n_groups)
    tables = []
    for group in range(n_groups):
        columns: dict[str, Any] = {
            "step": steps,
            "label": list(labels),
            counted_name: reached[group],
            "conversion_from_previous": from_previous[group],
            "conversion_from_first": from_first[group],
            "dropped": dropped[group].astype("int64"),
            "in_progress": open_at[group].astype("int64"),
        }
        if exclusions:
            columns["excluded"] = excluded_at[group].astype("int64")
        if any(skippable):
            columns["optional"] = np.asarray(skippable, dtype=bool)
        table = pd.DataFrame(columns)
        unit: Any = outcomes.time_unit
        for name in TIME_COLUMNS:
            table[name] = pd.to_timedelta(times[name][group], unit=unit)
        tables.append(table)
    return tables


def _time_quantiles(
    outcomes: FunnelOutcomes, codes: np.ndarray, counted: np.ndarray, n_groups: int
) -> dict[str, np.ndarray]:
    """Median and p90 of the times to each step, per group (NaN where nobody reached it)."""
    out = {name: np.full((n_groups, outcomes.n_steps), np.nan) for name in TIME_COLUMNS}
    for reach in outcomes.steps:
        keep = counted[reach.units]
        if not keep.any():
            continue
        if n_groups == 1:
            # One group (the step table itself, redrawn on every change in a builder): numpy's
            # quantile is the same linear interpolation, without a group-by.
            for since, times in (("first", reach.from_first), ("previous", reach.from_previous)):
                median, p90 = np.quantile(times[keep], [0.5, 0.9])
                out[f"median_time_from_{since}"][0, reach.step - 1] = median
                out[f"p90_time_from_{since}"][0, reach.step - 1] = p90
            continue
        frame = pd.DataFrame(
            {
                "group": codes[reach.units[keep]],
                "first": reach.from_first[keep],
                "previous": reach.from_previous[keep],
            }
        )
        # Linear interpolation, as np.percentile, computed per group in one pass.
        quantiles: Any = frame.groupby("group").quantile(np.array([0.5, 0.9]))
        for (group, q), row in quantiles.iterrows():
            prefix = "median" if q == 0.5 else "p90"
            out[f"{prefix}_time_from_first"][group, reach.step - 1] = row["first"]
            out[f"{prefix}_time_from_previous"][group, reach.step - 1] = row["previous"]
    return out
