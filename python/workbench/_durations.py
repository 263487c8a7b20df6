"""Durations as analysts write them: "30m", "2h", "7d", "1w", "90s", "500ms", or a timedelta."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from workbench.exceptions import FunnelDefinitionError

_UNITS = {
    "ms": "milliseconds",
    "s": "seconds",
    "sec": "seconds",
    "m": "minutes",
    "min": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


def parse_duration(
    value: str | dt.timedelta | np.timedelta64, what: str = "window"
) -> pd.Timedelta:
    """A non-negative duration from text or a timedelta.

    >>> parse_duration("2h")
    Timedelta('0 days 02:00:00')
    """
    if isinstance(value, (dt.timedelta, np.timedelta64)):
        duration = pd.Timedelta(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value.lower())
        if not match or match.group(2) not in _UNITS:
            raise FunnelDefinitionError(
                f"cannot read the {what} {value!r}; write a number and a unit "
                f"({', '.join(_UNITS)}), e.g. '30m', '2h', '7d', or pass a timedelta"
            )
        duration = pd.Timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    else:
        raise FunnelDefinitionError(
            f"the {what} must be text such as '1d' or a timedelta; got {value!r}"
        )
    if duration < pd.Timedelta(0):
        raise FunnelDefinitionError(
            f"the {what} must not be negative (got {value!r}); "
            "a zero window means steps at the same instant"
        )
    return duration
