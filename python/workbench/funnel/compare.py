"""Do two groups of a funnel result convert differently? Step by step, with the two-proportion
z-test of :mod:`workbench.stats`.

Entrants are the counted units (not excluded) that did step 1; an entrant converts to step k
when its chain includes step k, exactly as the step table counts them, so the comparison and
the breakdown can be read side by side.

>>> compare_groups(result, "platform", "ios", "web")[["step", "conversion_a", "conversion_b"]]
   step  conversion_a  conversion_b
0     2           0.5           0.5
1     3           0.5           0.0
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench._display import NONE, count, p_value, percent, shown, written, yes
from workbench._names import did_you_mean, listing
from workbench.audience import ensure_audience
from workbench.exceptions import (
    ColumnNotFoundError,
    CountsError,
    FunnelDefinitionError,
    OverlappingGroupsWarning,
)
from workbench.stats import proportion_test

if TYPE_CHECKING:
    from workbench.audience import Audience
    from workbench.funnel.result import FunnelResult

__all__ = ["compare_groups", "compare_segments"]


def _entrants(result: FunnelResult) -> tuple[np.ndarray, np.ndarray]:
    """The units that count as entrants (counted, at step 1) and their reached-step masks."""
    outcomes = result.outcomes
    units = np.flatnonzero(outcomes.reached_step(1))
    return units, outcomes.reached[units]


def _steps_to_compare(step: int | None, n_steps: int) -> list[int]:
    if n_steps < 2:
        raise FunnelDefinitionError(
            "a one-step funnel has no conversion to compare: every entrant is at step 1"
        )
    if step is None:
        return list(range(2, n_steps + 1))
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise FunnelDefinitionError(f"step is a step number 2..{n_steps}; got {step!r}")
    if not 2 <= step <= n_steps:
        raise FunnelDefinitionError(
            f"compare conversion at a step 2..{n_steps} (step 1 is 100% by definition); got {step}"
        )
    return [int(step)]


def _compare(
    result: FunnelResult,
    masks_a: np.ndarray,
    masks_b: np.ndarray,
    names: tuple[Any, Any],
    step: int | None,
    alpha: float,
) -> pd.DataFrame:
    n_steps = result.n_steps
    steps = _steps_to_compare(step, n_steps)

    def reached(masks: np.ndarray) -> np.ndarray:
        return np.array(
            [np.count_nonzero((masks >> np.uint32(k)) & 1) for k in range(n_steps)], np.int64
        )

    reached_a, reached_b = reached(masks_a), reached(masks_b)
    for name, counts in zip(names, (reached_a, reached_b), strict=True):
        if counts[0] == 0:
            raise CountsError(
                f"group {name!r} has no users who did step 1, so it has no conversion rate"
            )
    index = np.asarray(steps) - 1
    s_a, s_b = reached_a[index].astype(float), reached_b[index].astype(float)
    n_a = np.full(len(steps), float(reached_a[0]))
    n_b = np.full(len(steps), float(reached_b[0]))
    test = proportion_test(s_a, n_a, s_b, n_b, alpha)
    labels = result.labels
    table = pd.DataFrame(
        {
            "step": np.asarray(steps, dtype=np.int64),
            "label": [labels[k - 1] for k in steps],
            "group_a": [names[0]] * len(steps),
            "entrants_a": n_a.astype(np.int64),
            "reached_a": s_a.astype(np.int64),
            "conversion_a": s_a / n_a,
            "group_b": [names[1]] * len(steps),
            "entrants_b": n_b.astype(np.int64),
            "reached_b": s_b.astype(np.int64),
            "conversion_b": s_b / n_b,
            "difference": test.diff,
            "low": test.low,
            "high": test.high,
            "z": test.z,
            "p_value": test.p_value,
            "significant": test.p_value < alpha,
        }
    )
    return shown(table, _SHOWN)


def _conversion(f: pd.DataFrame, side: str) -> list[str]:
    return [
        f"{percent(p)} ({count(n)} of {count(d)})"
        for p, n, d in zip(
            f[f"conversion_{side}"], f[f"reached_{side}"], f[f"entrants_{side}"], strict=True
        )
    ]


def _points(value: float) -> str:
    return NONE if pd.isna(value) else f"{value * 100:+.1f} pp"


def _differences(f: pd.DataFrame) -> list[str]:
    return [
        f"{_points(d)} ({_points(lo)} to {_points(hi)})"
        for d, lo, hi in zip(f["difference"], f["low"], f["high"], strict=True)
    ]


# How the table displays in a notebook (the values stay exact for code).
_SHOWN = (
    ("step", written("step")),
    ("label", written("label")),
    ("a", written("group_a")),
    ("conversion a", lambda f: _conversion(f, "a")),
    ("b", written("group_b")),
    ("conversion b", lambda f: _conversion(f, "b")),
    ("difference (CI)", _differences),
    ("p", written("p_value", p_value)),
    ("significant", written("significant", yes)),
)


def compare_groups(
    result: FunnelResult,
    by: str,
    a: Any,
    b: Any,
    *,
    users: pd.DataFrame | None = None,
    on: str | None = None,
    attribution: str | int = "first_touch",
    step: int | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Conversion from step 1 in breakdown group ``a`` against group ``b``, step by step.

    Groups are formed exactly as in ``result.breakdown(by, users=..., on=...,
    attribution=...)``; entrants without a value form the group ``"(missing)"``. One row per
    step 2..N (or only ``step``): ``entrants`` and ``reached`` of each group, the conversion
    rates, their ``difference`` (a - b) with its ``1 - alpha`` confidence interval
    ``low``..``high`` (unpooled), the pooled ``z`` and two-sided ``p_value``, and
    ``significant`` (``p_value < alpha``).

    Each step is its own test: with many steps or pairs expect some false alarms at ``alpha``
    (divide alpha by the number of tests for a Bonferroni bound). With
    ``counting="conversions"`` the entrants are attempts, and one user's attempts are not
    independent, so read the p-values as optimistic.

    >>> compare_groups(result, "platform", "ios", "web", step=2)[["group_a", "group_b", "p_value"]]
      group_a group_b  p_value
    0     ios     web      1.0
    """
    if a == b:
        raise FunnelDefinitionError(f"compare two different groups; both are {by} = {a!r}")
    units, masks = _entrants(result)
    codes, labels = result.group_codes(by, users=users, on=on, attribution=attribution)
    codes = codes[units]
    present = {labels[c] for c in np.unique(codes) if c >= 0}
    picked = []
    for value in (a, b):
        if value not in present:
            shown = [str(v) for v in present]
            raise ColumnNotFoundError(
                f"no user who did step 1 has {by} = {value!r};"
                f"{did_you_mean(str(value), shown)} the values are {listing(sorted(shown))}"
            )
        picked.append(masks[codes == labels.index(value)])
    return _compare(result, picked[0], picked[1], (a, b), step, alpha)


def compare_segments(
    result: FunnelResult,
    segment_a: Audience,
    segment_b: Audience,
    *,
    step: int | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Conversion from step 1 among one set of users against another's, step by step.

    The columns are those of :func:`compare_groups`, with the audiences' names (or
    ``"a"``/``"b"``) as ``group_a``/``group_b``. The test assumes the two sets do not overlap;
    if they share entrants an :class:`~workbench.exceptions.OverlappingGroupsWarning` says how
    many (compare ``a - b`` with ``b - a`` instead).

    >>> ios = wb.Audience.did(log, "view", where=wb.col("platform") == "ios", name="ios")
    >>> compare_segments(result, ios, ~ios, step=3)[["group_a", "group_b", "difference"]]
      group_a  group_b  difference
    0     ios  not ios         0.5
    """
    units, masks = _entrants(result)
    unit_users = result.outcomes.users[units]
    members = []
    for label, segment in (("segment_a", segment_a), ("segment_b", segment_b)):
        members.append(ensure_audience(segment, result.log, label).mask()[unit_users])
    shared = int(np.count_nonzero(members[0] & members[1]))
    if shared:
        warnings.warn(
            OverlappingGroupsWarning(
                f"the two segments share {shared:,} entrants; the test assumes independent "
                "groups, so its p-value is not reliable"
            ),
            stacklevel=3,
        )
    names = (segment_a.name or "a", segment_b.name or "b")
    return _compare(result, masks[members[0]], masks[members[1]], names, step, alpha)
