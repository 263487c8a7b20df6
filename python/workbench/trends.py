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
>>> result = wb.Funnel(["view", "pay"], window="1h").run(wb.EventLog(df))
>>> table = conversion_trends(result, "day", tz="Asia/Shanghai")
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
import pyarrow as pa
import pyarrow.compute as pc

from workbench._names import did_you_mean
from workbench.exceptions import FunnelDefinitionError, SchemaError
from workbench.stats import _entrant_units, _rate_bounds, _z_for

if TYPE_CHECKING:
    from workbench.funnel import FunnelResult

__all__ = ["PERIODS", "conversion_trends"]

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _time_zone(tz: str | dt.tzinfo | None, log_zone: str | None) -> str | dt.tzinfo:
    zone = tz if tz is not None else (log_zone or "UTC")
    try:
        pd.Timestamp(0, tz=zone)
    except (KeyError, ValueError, TypeError):
        raise FunnelDefinitionError(
            f"unknown time zone {zone!r}; use an IANA name such as 'UTC', 'Europe/Paris' or "
            "'Asia/Shanghai'"
        ) from None
    return zone


def _engine_times(column: pa.ChunkedArray, unit: str) -> np.ndarray:
    """A time column (as the engine reads it) as int64 epochs in the engine's unit."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        values = pc.cast(column, pa.int64())
    elif pa.types.is_date32(kind):
        days = pc.cast(pc.cast(column, pa.int32()), pa.int64())
        values = pc.multiply(days, 86_400)  # the engine reads days as s
    elif pa.types.is_integer(kind):
        values = pc.cast(column, pa.int64())
    else:
        raise SchemaError(f"cannot read times of type {kind} for trends")
    return values.to_numpy().astype(np.int64, copy=False)


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

    >>> import altair as alt                                                   # doctest: +SKIP
    >>> table = conversion_trends(result, "week", tz="Europe/Paris")           # doctest: +SKIP
    >>> alt.Chart(table).mark_line().encode(x="period_start", y="conversion_from_first",
    ...                                     color="label")                     # doctest: +SKIP
    """
    from workbench.result import _IN_PROGRESS  # not at the top: result.py delegates to here

    if period not in PERIODS:
        raise FunnelDefinitionError(
            f"period must be one of 'day', 'week' or 'month'; got {period!r};"
            f"{did_you_mean(str(period), PERIODS)}"
        )
    z = _z_for(confidence)
    log = result.log
    zone = _time_zone(tz, log.time_zone)
    unit = log.time_unit
    n_steps = int(result.n_steps)
    units, masks = _entrant_units(result)
    rows = pa.array(result._entry_rows[units], pa.uint32())
    entry_times = _engine_times(log.source.column(log.time_column).take(rows), unit)
    codes = _period_codes(_local_days(entry_times, unit, zone), period)
    still_open = ((result._unit_flags[units] & _IN_PROGRESS) != 0) & (
        result._unit_levels[units] < n_steps
    )

    span = log._time_bounds  # None only when every row was dropped for nulls
    ends = codes
    if span is not None:
        log_ends = _period_codes(_local_days(np.asarray(span, np.int64), unit, zone), period)
        ends = np.concatenate([codes, log_ends])
    lowest, highest = (int(ends.min()), int(ends.max())) if len(ends) else (0, -1)
    stride = 7 if period == "week" else 1
    starts = np.arange(lowest, highest + 1, stride, dtype=np.int64)
    n_periods = len(starts)

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
    low, high = _rate_bounds(counts.astype(float), entrants.astype(float), step_numbers, z)
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
