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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.funnel.outcomes import FunnelOutcomes
from workbench.stats import conversion_interval, previous_steps

__all__ = ["TIME_COLUMNS", "GroupCounts", "group_counts", "grouped_step_table", "step_tables"]

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


@dataclass(frozen=True)
class GroupCounts:
    """What the engine counted per group of units, one row per group: units whose chain
    includes each step (``reached``), counted units at each level 0..N (``at_level``), of them
    in progress (``open_at``), excluded units by level (``excluded_at``), and the time columns
    (``TIME_COLUMNS``, in the log's time unit, NaN where no unit reached the step)."""

    reached: np.ndarray
    at_level: np.ndarray
    open_at: np.ndarray
    excluded_at: np.ndarray
    times: dict[str, np.ndarray]

    @property
    def members(self) -> np.ndarray:
        """Units in each group: every unit with a group is counted at one level or excluded."""
        return self.at_level.sum(axis=1) + self.excluded_at.sum(axis=1)


def group_counts(outcomes: FunnelOutcomes, codes: np.ndarray, n_groups: int) -> GroupCounts:
    """Count every group of ``codes`` (a group per unit, -1 for none) in one native pass.

    >>> counts = group_counts(funnel.outcomes(log), np.array([0, 1, 1, -1, 0, 0]), 2)
    >>> counts.reached.tolist(), counts.members.tolist()
    ([[3, 2, 1], [2, 1, 0]], [3, 2])
    """
    n = outcomes.n_steps
    native = outcomes.group_counts(codes, n_groups)

    def grid(name: str, width: int) -> np.ndarray:
        return native[name].to_numpy(zero_copy_only=False).reshape(n_groups, width)

    return GroupCounts(
        reached=grid("reached", n).astype(np.int64),
        at_level=grid("at_level", n + 1).astype(np.int64),
        open_at=grid("open_at", n + 1).astype(np.int64),
        excluded_at=grid("excluded_at", n + 1).astype(np.int64),
        times={name: grid(name, n) for name in TIME_COLUMNS},
    )


def grouped_step_table(
    outcomes: FunnelOutcomes,
    codes: np.ndarray,
    n_groups: int,
    *,
    labels: Sequence[str],
    optional: Sequence[bool] | None = None,
    exclusions: bool = False,
    groups: np.ndarray | None = None,
    counts: GroupCounts | None = None,
    confidence: float | None = None,
) -> pd.DataFrame:
    """The step tables of ``groups`` (default: all ``n_groups``, in that order) one after
    another, as one frame: what a breakdown shows, built without a frame per group. ``counts``:
    :func:`group_counts` of ``codes``, when the caller has it. With ``confidence``, the
    conversion rates get their Wilson bounds (the columns and values
    :func:`~workbench.stats.with_confidence` adds).

    >>> codes = np.array([0, 1, 1, -1, 0, 0])
    >>> table = grouped_step_table(funnel.outcomes(log), codes, 2, labels=["v", "c", "p"])
    >>> table[["step", "users", "dropped"]].to_numpy().tolist()
    [[1, 3, 0], [2, 2, 0], [3, 1, 0], [1, 2, 1], [2, 1, 1], [3, 0, 0]]
    """
    n = outcomes.n_steps
    counted_name = "users" if outcomes.counting == "users" else "conversions"
    if counts is None:
        counts = group_counts(outcomes, codes, n_groups)
    present = np.arange(n_groups) if groups is None else np.asarray(groups, dtype=np.int64)
    k = len(present)
    reached = counts.reached[present]
    at_level = counts.at_level[present, 1:]
    open_at = counts.open_at[present, 1:].copy()
    excluded_at = counts.excluded_at[present, 1:]
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
    step_numbers = np.tile(steps, k)
    columns: dict[str, Any] = {
        "step": step_numbers,
        "label": list(labels) * k,
        counted_name: reached.ravel(),
    }
    rates = {
        "conversion_from_previous": (from_previous, reached[:, previous_index]),
        "conversion_from_first": (from_first, np.repeat(reached[:, :1], n, axis=1)),
    }
    for name, (rate, trials) in rates.items():
        columns[name] = rate.ravel()
        if confidence is not None:
            low, high = conversion_interval(
                reached.ravel(), trials.ravel(), step_numbers, confidence
            )
            columns[f"{name}_low"], columns[f"{name}_high"] = low, high
    columns["dropped"] = dropped.ravel()
    columns["in_progress"] = open_at.ravel()
    if exclusions:
        columns["excluded"] = excluded_at.ravel()
    if any(skippable):
        columns["optional"] = np.tile(np.asarray(skippable, dtype=bool), k)
    unit: Any = outcomes.time_unit
    for name in TIME_COLUMNS:
        columns[name] = pd.to_timedelta(counts.times[name][present].ravel(), unit=unit)
    return pd.DataFrame(columns)
