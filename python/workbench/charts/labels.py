"""How numbers read on a chart: counts with separators, rates as percentages, intervals as
ranges and durations as people write them. Tooltips and labels are text made here, because
Vega formats neither durations nor "—" for a rate nobody could have.

>>> count(12345), percent(0.4567), interval(0.2, 0.35)
('12,345', '45.7%', '20.0–35.0%')
>>> duration(pd.Timedelta(hours=27)), duration(pd.NaT)
('1d 3h', '—')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench._display import NONE, count, interval, p_value, percent
from workbench._durations import humanize_duration

__all__ = [
    "NONE",
    "TIME_UNITS",
    "count",
    "duration",
    "interval",
    "p_value",
    "percent",
    "rates",
    "step_names",
    "time_unit_for",
]

TIME_UNITS: tuple[tuple[str, float], ...] = (
    ("days", 86_400.0),
    ("hours", 3_600.0),
    ("minutes", 60.0),
    ("seconds", 1.0),
)


def rates(values: Any, lows: Any, highs: Any) -> list[str]:
    """Shares with their 95% interval, as a tooltip reads them.

    >>> rates([0.5], [0.2366], [0.7634])
    ['50.0% (95% CI 23.7–76.3%)']
    """
    return [
        f"{percent(v)} (95% CI {interval(lo, hi)})"
        for v, lo, hi in zip(values, lows, highs, strict=True)
    ]


def duration(value: Any) -> str:
    """A duration rounded for reading (``1d 3h``, ``14m``), or ``—`` without one.

    >>> duration(pd.Timedelta(minutes=14, seconds=20))
    '14m 20s'
    """
    return NONE if value is None or pd.isna(value) else humanize_duration(value)


def time_unit_for(seconds: np.ndarray) -> tuple[str, float]:
    """The unit a distribution of durations reads best in: the largest unit its median holds at
    least once (seconds for anything under a minute).

    >>> time_unit_for(np.array([30.0, 5_400.0, 7_200.0]))
    ('hours', 3600.0)
    """
    finite = seconds[np.isfinite(seconds)]
    median = float(np.median(finite)) if len(finite) else 0.0
    for name, size in TIME_UNITS:
        if median >= size:
            return name, size
    return TIME_UNITS[-1]


def step_names(steps: Any, labels: Any) -> list[str]:
    """Axis names of steps: the number and the label (two steps may share a label).

    >>> step_names([1, 2], ["view", "cart"])
    ['1. view', '2. cart']
    """
    return [f"{int(s)}. {label}" for s, label in zip(steps, labels, strict=True)]
