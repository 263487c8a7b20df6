"""Conversion by entry period: did the funnel convert better this week than last?

Each user who did step 1 is counted in the period (day, week or month, in a time zone) of the
step-1 event of the chain that took them furthest, at the level that chain reached.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({
...     "user_id": [1, 1, 2, 3, 3],
...     "event": ["view", "pay", "view", "view", "pay"],
...     "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:30", "2026-01-01 23:30",
...                             "2026-01-03 09:00", "2026-01-03 09:10"]).tz_localize("UTC"),
... })
>>> two_steps = wb.Funnel(["view", "pay"], window="1h").run(wb.EventLog(df))
>>> table = conversion_trends(two_steps, "day", tz="Asia/Shanghai")
>>> table[table["step"] == 2][["period_start", "entrants", "users", "conversion_from_first"]]
               period_start  entrants  users  conversion_from_first
1 2026-01-01 00:00:00+08:00         1      1                    1.0
3 2026-01-02 00:00:00+08:00         1      0                    0.0
5 2026-01-03 00:00:00+08:00         1      1                    1.0
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from workbench._names import did_you_mean
from workbench.exceptions import FunnelDefinitionError
from workbench.stats import confidence_z, conversion_interval

if TYPE_CHECKING:
    from workbench.funnel.result import FunnelResult

__all__ = ["MAX_PERIODS", "PERIODS", "conversion_trends"]

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
MAX_PERIODS = 50_000
"""Most periods a trend table lists (137 years of days): more means a time far from the rest."""
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _time_zone(tz: str | dt.tzinfo | None, log_zone: str | None) -> str | dt.tzinfo:
    zone = tz if tz is not None else (log_zone or "UTC")
    if not isinstance(zone, (str, dt.tzinfo)):
        raise FunnelDefinitionError(
            f"tz is a time zone name such as 'Europe/Paris' (or a tzinfo); got {zone!r}"
        )
    try:
        pd.Timestamp(0, tz=zone)
    except (KeyError, ValueError, TypeError):
        raise FunnelDefinitionError(
            f"unknown time zone {zone!r}; use an IANA name such as 'UTC', 'Europe/Paris' or "
            "'Asia/Shanghai'"
        ) from None
    return zone


def _local_days(epochs: np.ndarray, unit: str, zone: str | dt.tzinfo) -> np.ndarray:
    """Wall-clock time in ``zone`` of UTC epochs, as naive datetime64."""
    utc = pd.DatetimeIndex(epochs.astype(f"datetime64[{unit}]")).tz_localize("UTC")
    return utc.tz_convert(zone).tz_localize(None).to_numpy()


def _period_codes(local: np.ndarray, period: str) -> np.ndarray:
    """An integer per period: days (day), Monday's day (week) or months (month) since 1970."""
    if period == "month":
        return local.astype("datetime64[M]").astype(np.int64)
    days = local.astype("datetime64[D]").astype(np.int64)
    if period == "week":
        return days - np.mod(days + _EPOCH_WEEKDAY, 7)
    return days


def _period_starts(codes: np.ndarray, period: str, zone: str | dt.tzinfo) -> pd.DatetimeIndex:
    """Local midnight starting each period, as tz-aware timestamps."""
    kind = "datetime64[M]" if period == "month" else "datetime64[D]"
    naive = pd.DatetimeIndex(codes.astype(kind).astype("datetime64[s]"))
    # A few zones move clocks at midnight: take the first midnight of a repeated hour and the
    # first instant after a skipped one.
    return naive.tz_localize(
        zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )


def conversion_trends(
    result: FunnelResult,
    period: Period = "day",
    tz: str | dt.tzinfo | None = None,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Conversion by the period in which users entered the funnel, as a tidy table to chart.

    A user who did step 1 is an entrant of the period holding the step-1 event of their best
    chain (with ``counting="conversions"``, each attempt of its own step-1 event), read in time
    zone ``tz`` (default: the log's time zone, or UTC for naive times, which are taken as UTC).
    Weeks start on Monday; months on the 1st. Every period from the log's first event to its
    last appears, with zero entrants where nobody entered. Excluded users are no entrants, as in
    the step table.

    One row per period and step: ``period_start`` (tz-aware local midnight), ``step``,
    ``label``, ``entrants`` (at step 1 in the period), ``users`` (or ``conversions``: of the
    entrants, those who reached the step), ``conversion_from_first`` (NaN without entrants), its
    Wilson interval ``low``..``high`` at ``confidence`` (exactly 1..1 at step 1, where the rate
    is 1 by definition), and ``in_progress``: entrants of the period whose window is still open
    at the analysis end, so the period's conversion may still rise.

    >>> table = conversion_trends(result, "week", tz="Europe/Paris")
    >>> table[["period_start", "step", "entrants", "users", "in_progress"]]
                   period_start  step  entrants  users  in_progress
    0 2025-12-29 00:00:00+01:00     1         5      5            2
    1 2025-12-29 00:00:00+01:00     2         5      3            2
    2 2025-12-29 00:00:00+01:00     3         5      1            2
    """
    if period not in PERIODS:
        raise FunnelDefinitionError(
            f"period must be one of 'day', 'week' or 'month'; got {period!r};"
            f"{did_you_mean(str(period), PERIODS)}"
        )
    confidence_z(confidence)
    log = result.log
    outcomes = result.outcomes
    zone = _time_zone(tz, log.time_zone)
    unit = outcomes.time_unit
    n_steps = outcomes.n_steps
    units = np.flatnonzero(outcomes.reached_step(1))
    masks = outcomes.reached[units]
    codes = _period_codes(_local_days(outcomes.entry_times[units], unit, zone), period)
    still_open = outcomes.in_progress[units] & (outcomes.levels[units] < n_steps)

    span = np.asarray(log.time_bounds, np.int64)
    ends = np.concatenate([codes, _period_codes(_local_days(span, unit, zone), period)])
    lowest, highest = int(ends.min()), int(ends.max())
    stride = 7 if period == "week" else 1
    n_periods = (highest - lowest) // stride + 1
    if n_periods > MAX_PERIODS:
        first, last = log.time_range
        raise FunnelDefinitionError(
            f"the log spans {n_periods:,} {period}s (from {first} to {last}), more than the "
            f"{MAX_PERIODS:,} a trend lists; a timestamp far from the others is often an "
            "integer epoch read in the wrong time_unit: check log.time_range, or take a longer "
            "period"
        )
    starts = np.arange(lowest, highest + 1, stride, dtype=np.int64)

    index = (codes - lowest) // stride
    reached = np.stack(
        [np.bincount(index[((masks >> k) & 1) != 0], minlength=n_periods) for k in range(n_steps)],
        axis=1,
    ).astype(np.int64)  # [period, step]: entrants of the period who reached the step
    entrants = np.repeat(reached[:, 0], n_steps)
    counts = reached.ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(entrants > 0, counts / entrants, np.nan)
    step_numbers = np.tile(np.arange(1, n_steps + 1, dtype=np.int64), n_periods)
    low, high = conversion_interval(counts, entrants, step_numbers, confidence)
    low = np.where(entrants > 0, low, np.nan)
    high = np.where(entrants > 0, high, np.nan)
    return pd.DataFrame(
        {
            "period_start": _period_starts(starts, period, zone).repeat(n_steps),
            "step": step_numbers,
            "label": np.tile(np.asarray(result.labels, dtype=object), n_periods),
            "entrants": entrants,
            result.counted: counts,
            "conversion_from_first": rate,
            "low": low,
            "high": high,
            "in_progress": np.repeat(np.bincount(index[still_open], minlength=n_periods), n_steps),
        }
    )
