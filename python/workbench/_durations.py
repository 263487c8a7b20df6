"""Durations as analysts write them: "30m", "2h", "7d", "1w", "90s", "500ms", "250us", "10ns",
or a timedelta; and back again (``1d``, not ``1 days 00:00:00``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from workbench.exceptions import FunnelDefinitionError

__all__ = ["format_duration", "humanize_duration", "parse_duration"]

# What analysts write → pandas' own unit names.
_UNITS = {
    "ns": "ns",
    "us": "us",
    "ms": "ms",
    "s": "s",
    "sec": "s",
    "m": "min",
    "min": "min",
    "h": "h",
    "d": "D",
    "w": "W",
}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
# Largest first, so a duration is written in the biggest unit that divides it exactly.
_WRITTEN = (
    ("d", pd.Timedelta(days=1)),
    ("h", pd.Timedelta(hours=1)),
    ("m", pd.Timedelta(minutes=1)),
    ("s", pd.Timedelta(seconds=1)),
    ("ms", pd.Timedelta(milliseconds=1)),
    ("us", pd.Timedelta(microseconds=1)),
    ("ns", pd.Timedelta(nanoseconds=1)),
)
_LONGEST = pd.Timedelta.max.floor("D")


def parse_duration(
    value: str | dt.timedelta | np.timedelta64, what: str = "window"
) -> pd.Timedelta:
    """A non-negative duration from text or a timedelta; ``what`` names it in errors.

    >>> parse_duration("2h")
    Timedelta('0 days 02:00:00')
    >>> parse_duration("500us")
    Timedelta('0 days 00:00:00.000500')
    """
    if isinstance(value, str):
        match = _PATTERN.match(value.lower())
        if not match or match.group(2) not in _UNITS:
            raise FunnelDefinitionError(
                f"cannot read the {what} {value!r}; write a number and a unit "
                f"({', '.join(_UNITS)}), e.g. '30m', '2h', '7d', or pass a timedelta"
            )
        unit: Any = _UNITS[match.group(2)]
        number: Any = float(match.group(1))
    elif isinstance(value, (dt.timedelta, np.timedelta64)):
        unit, number = None, value
    else:
        raise FunnelDefinitionError(
            f"the {what} must be text such as '1d' or a timedelta; got {value!r}"
        )
    try:
        duration = pd.Timedelta(number, unit=unit) if unit else pd.Timedelta(number)
        too_long = duration is not pd.NaT and abs(duration) > _LONGEST
    except (OverflowError, ValueError):  # beyond what a Timedelta holds
        too_long = True
    if too_long:
        raise FunnelDefinitionError(
            f"the {what} {value!r} is longer than the longest duration a log can hold "
            f"({format_duration(_LONGEST)}, about 292 years)"
        ) from None
    if duration is pd.NaT:
        raise FunnelDefinitionError(f"the {what} is missing (NaT); pass a duration such as '1d'")
    if duration < pd.Timedelta(0):
        raise FunnelDefinitionError(
            f"the {what} must not be negative (got {value!r}); "
            "a zero window means steps at the same instant"
        )
    return duration


def format_duration(value: pd.Timedelta | dt.timedelta | float) -> str:
    """A duration as people write it: one number and the largest unit that divides it exactly
    (``1d``, ``90m``, ``1500ms``); NaN or NaT gives an empty string.

    >>> format_duration(pd.Timedelta("1 days"))
    '1d'
    >>> format_duration(pd.Timedelta(minutes=90)), format_duration(pd.Timedelta(0))
    ('90m', '0s')
    """
    if value is None or pd.isna(value):
        return ""
    duration = pd.Timedelta(value)
    if duration == pd.Timedelta(0):
        return "0s"
    sign = "-" if duration < pd.Timedelta(0) else ""
    duration = abs(duration)
    for unit, size in _WRITTEN:
        count, rest = divmod(duration, size)
        if rest == pd.Timedelta(0):
            return f"{sign}{count}{unit}"
    return f"{sign}{duration.value}ns"


def humanize_duration(value: pd.Timedelta | dt.timedelta | float) -> str:
    """A duration rounded for reading in a table: ``1d 3h``, ``14m``, ``42s``, ``0.35s``.

    >>> humanize_duration(pd.Timedelta(hours=27, minutes=10)), humanize_duration(pd.Timedelta(seconds=42.4))
    ('1d 3h', '42s')
    """  # noqa: E501
    if value is None or pd.isna(value):
        return ""
    seconds = pd.Timedelta(value).total_seconds()
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds >= 86_400:
        days, rest = divmod(round(seconds / 3600), 24)
        return f"{sign}{days}d {rest}h" if rest else f"{sign}{days}d"
    if seconds >= 3600:
        hours, rest = divmod(round(seconds / 60), 60)
        return f"{sign}{hours}h {rest}m" if rest else f"{sign}{hours}h"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{sign}{minutes}m {rest}s" if rest else f"{sign}{minutes}m"
    if seconds >= 1:
        return f"{sign}{round(seconds)}s"
    return f"{sign}{seconds:.2g}s"
