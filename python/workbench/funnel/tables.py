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

__all__ = ["TIME_COLUMNS", "grouped_step_table", "step_tables"]

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
    table = grouped_step_table(
        outcomes, codes, n_groups, labels=labels, optional=optional, exclusions=exclusions
    )
    n = outcomes.n_steps
    return [table.iloc[g * n : (g + 1) * n].reset_index(drop=True) for g in range(n_groups)]


def grouped_step_table(
    outcomes: FunnelOutcomes,
    codes: np.ndarray,
    n_groups: int,
    *,
    labels: Sequence[str],
    optional: Sequence[bool] | None = None,
    exclusions: bool = False,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """The step tables of ``groups`` (default: all ``n_groups``) one after another, as one
    frame: what a breakdown shows, built without a frame per group.

    >>> codes = np.array([0, 1, 1, -1, 0, 0])
    >>> table = grouped_step_table(funnel.outcomes(log), codes, 2, labels=["v", "c", "p"])
    >>> table[["step", "users", "dropped"]].to_numpy().tolist()
    [[1, 3, 0], [2, 2, 0], [3, 1, 0], [1, 2, 1], [2, 1, 1], [3, 0, 0]]
    """
    n = outcomes.n_steps
    counted_name = "users" if outcomes.counting == "users" else "conversions"
    native = outcomes.group_counts(codes, n_groups)

    def grid(name: str, width: int) -> np.ndarray:
        return native[name].to_numpy(zero_copy_only=False).reshape(n_groups, width)

    reached = grid("reached", n).astype(np.int64)
    at_level = grid("at_level", n + 1)[:, 1:].astype(np.int64)
    open_at = grid("open_at", n + 1)[:, 1:].astype(np.int64)
    excluded_at = grid("excluded_at", n + 1)[:, 1:].astype(np.int64)
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
    present = np.arange(n_groups) if groups is None else np.asarray(groups, dtype=np.int64)
    k = len(present)
    columns: dict[str, Any] = {
        "step": np.tile(steps, k),
        "label": list(labels) * k,
        counted_name: reached[present].ravel(),
        "conversion_from_previous": from_previous[present].ravel(),
        "conversion_from_first": from_first[present].ravel(),
        "dropped": dropped[present].ravel(),
        "in_progress": open_at[present].ravel(),
    }
    if exclusions:
        columns["excluded"] = excluded_at[present].ravel()
    if any(skippable):
        columns["optional"] = np.tile(np.asarray(skippable, dtype=bool), k)
    table = pd.DataFrame(columns)
    unit: Any = outcomes.time_unit
    for name in TIME_COLUMNS:
        table[name] = pd.to_timedelta(grid(name, n)[present].ravel(), unit=unit)
    return table
