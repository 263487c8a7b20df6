"""Confidence for conversion rates: Wilson intervals and the two-proportion z-test.

Pure numpy and the standard library (no scipy). Every function is vectorised: pass scalars for one
rate, arrays for many.

>>> from workbench import stats
>>> low, high = stats.wilson_interval(5, 10)
>>> round(low, 4), round(high, 4)
(0.2366, 0.7634)
>>> test = stats.two_proportion_test(120, 1000, 90, 1000)
>>> round(test.diff, 3), round(test.p_value, 4)
(0.03, 0.0287)

On a funnel result, :func:`with_confidence` adds intervals to a step or breakdown table, and
:func:`compare_groups` / :func:`compare_segments` test whether two groups of users convert
differently, step by step.
"""

from __future__ import annotations

import math
import statistics
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from workbench._names import did_you_mean, listing
from workbench.exceptions import (
    AudienceError,
    ColumnNotFoundError,
    FunnelDefinitionError,
    SchemaError,
    WorkbenchError,
)

if TYPE_CHECKING:
    from workbench.audience import Audience
    from workbench.funnel import FunnelResult

__all__ = [
    "CountsError",
    "OverlappingGroupsWarning",
    "TestResult",
    "compare_groups",
    "compare_segments",
    "normal_cdf",
    "normal_quantile",
    "two_proportion_test",
    "wilson_interval",
    "with_confidence",
]

_COUNT_COLUMNS = ("users", "conversions")  # what a step table counts


class CountsError(WorkbenchError, ValueError):
    """Counts that cannot be a rate: negative, fractional, successes above trials, or no trials
    where a test needs some. The message names the value and its position."""


class OverlappingGroupsWarning(UserWarning):
    """The two groups of a comparison share users, so the test's independence assumption fails."""


class TestResult(NamedTuple):
    """Outcome of :func:`two_proportion_test`: ``diff = p1 - p2``, its z statistic and two-sided
    p-value (pooled), and the confidence interval ``[low, high]`` of the difference (unpooled)."""

    __test__ = False  # not a pytest test class, despite the name

    diff: Any
    z: Any
    p_value: Any
    low: Any
    high: Any


# -- the normal distribution ---------------------------------------------------------------------

_STANDARD_NORMAL = statistics.NormalDist()
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(z: Any) -> Any:
    """P(Z <= z) for a standard normal Z, accurate far into both tails (via ``math.erfc``).

    >>> round(normal_cdf(1.959963984540054), 6)
    0.975
    """
    values = np.asarray(z, dtype=float)
    out = 0.5 * np.asarray(_erfc(-values / math.sqrt(2.0)), dtype=float)
    return float(out) if out.ndim == 0 else out


def normal_quantile(p: float) -> float:
    """The z with ``normal_cdf(z) == p`` (inverse CDF), for ``0 < p < 1``.

    >>> round(normal_quantile(0.975), 6)
    1.959964
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"a probability strictly between 0 and 1 is needed; got {p!r}")
    return _STANDARD_NORMAL.inv_cdf(p)


def _z_for(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise ValueError(f"confidence is a level such as 0.95; got {confidence!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(
            f"confidence must be strictly between 0 and 1 (e.g. 0.95 for 95%); got {confidence!r}"
        )
    return normal_quantile(0.5 + float(confidence) / 2.0)


# -- input checks --------------------------------------------------------------------------------


def _where(values: np.ndarray, bad: np.ndarray) -> str:
    index = np.argwhere(bad)[0]
    value = values[tuple(index)]
    shown = repr(float(value)) if not float(value).is_integer() else repr(int(value))
    return shown if values.ndim == 0 else f"{shown} at position {tuple(int(i) for i in index)}"


def _counts(name: str, values: Any) -> np.ndarray:
    """``values`` as a float array of whole, non-negative, finite counts, or a CountsError."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise CountsError(f"{name} must be counts (numbers); got {values!r}") from None
    if np.isnan(array).any():
        raise CountsError(f"{name} must be counts; got NaN{_at(array, np.isnan(array))}")
    if np.isinf(array).any():
        raise CountsError(f"{name} must be finite counts; got {_where(array, np.isinf(array))}")
    if (array < 0).any():
        raise CountsError(f"{name} must not be negative; got {_where(array, array < 0)}")
    fractional = array != np.floor(array)
    if fractional.any():
        raise CountsError(
            f"{name} must be whole counts of users, not rates; got {_where(array, fractional)}"
        )
    return array


def _at(values: np.ndarray, bad: np.ndarray) -> str:
    return "" if values.ndim == 0 else f" at position {tuple(int(i) for i in np.argwhere(bad)[0])}"


def _not_above(successes: np.ndarray, trials: np.ndarray, s_name: str, n_name: str) -> None:
    s, n = np.broadcast_arrays(successes, trials)
    above = s > n
    if above.any():
        index = tuple(int(i) for i in np.argwhere(above)[0])
        where = "" if s.ndim == 0 else f" at position {index}"
        raise CountsError(
            f"{s_name} cannot exceed {n_name}: got {int(s[index])} of {int(n[index])}{where}"
        )


def _scalar_or_array(value: np.ndarray) -> Any:
    return float(value) if value.ndim == 0 else value


# -- Wilson score interval -----------------------------------------------------------------------


def _wilson(successes: np.ndarray, trials: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds without input checks; NaN where trials is 0 or NaN."""
    s, n = np.broadcast_arrays(np.asarray(successes, float), np.asarray(trials, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        z2n = z * z / n
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = z / (1.0 + z2n) * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    # Exact ends: no rounding crumbs when nobody (or everybody) converted.
    low = np.where(s == 0, 0.0, low)
    high = np.where(s == n, 1.0, high)
    missing = ~(n > 0)
    low = np.where(missing, np.nan, low)
    high = np.where(missing, np.nan, high)
    return low, high


def _rate_bounds(
    counts: np.ndarray, trials: np.ndarray, steps: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds of a funnel's conversion rates. At step 1 the rate is 1 by definition (the
    entrants are the trials), not an estimate, so its interval is exactly [1, 1]."""
    low, high = _wilson(counts, trials, z)
    definitional = (steps == 1) & (trials > 0)
    return np.where(definitional, 1.0, low), np.where(definitional, 1.0, high)


def wilson_interval(successes: Any, trials: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval for the rate ``successes / trials``.

    Unlike the textbook ``p ± z·sqrt(p(1-p)/n)``, it stays inside [0, 1] and is sensible for small
    counts and for rates of 0% or 100%. Vectorised: scalars give floats, arrays give arrays
    (broadcast together). Zero trials give NaN bounds.

    Raises :class:`CountsError` (a ``ValueError``) for negative or fractional counts, or
    successes above trials.

    >>> [round(v, 4) for v in wilson_interval(0, 10)]
    [0.0, 0.2775]
    >>> low, high = wilson_interval([10, 5], [10, 10])
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.7225, 0.2366], [1.0, 0.7634])
    """
    z = _z_for(confidence)
    s = _counts("successes", successes)
    n = _counts("trials", trials)
    _not_above(s, n, "successes", "trials")
    low, high = _wilson(s, n, z)
    return _scalar_or_array(low), _scalar_or_array(high)


# -- two-proportion test -------------------------------------------------------------------------


def _two_proportion(
    s1: np.ndarray, n1: np.ndarray, s2: np.ndarray, n2: np.ndarray, z_crit: float
) -> tuple[np.ndarray, ...]:
    """The test without input checks; all trials must be positive."""
    p1, p2 = s1 / n1, s2 / n2
    diff = p1 - p2
    pooled = (s1 + s2) / (n1 + n2)
    se_pooled = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se_pooled > 0, diff / se_pooled, 0.0)
    # Both rates 0% or both 100%: no evidence of any difference (z = 0, p = 1).
    p_value = np.minimum(np.asarray(_erfc(np.abs(z) / math.sqrt(2.0)), dtype=float), 1.0)
    se = np.sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2)
    return diff, z, p_value, diff - z_crit * se, diff + z_crit * se


def two_proportion_test(s1: Any, n1: Any, s2: Any, n2: Any, confidence: float = 0.95) -> TestResult:
    """Do two groups convert at different rates? ``s1`` of ``n1`` against ``s2`` of ``n2``.

    Returns ``diff = s1/n1 - s2/n2``; ``z`` and the two-sided ``p_value`` of the pooled z-test
    (the null hypothesis: both groups share one rate); and ``low``/``high``, the unpooled (Wald)
    confidence interval of the difference. When both rates are 0% or both 100%, ``z`` is 0 and
    the p-value 1. The groups must be independent samples (no user in both). Vectorised like
    :func:`wilson_interval`.

    Raises :class:`CountsError` for a group with no trials, negative or fractional counts, or
    successes above trials.

    >>> t = two_proportion_test(45, 100, 30, 100)
    >>> round(t.diff, 2), round(t.z, 3), round(t.p_value, 4)
    (0.15, 2.191, 0.0285)
    >>> round(t.low, 4), round(t.high, 4)
    (0.0174, 0.2826)
    """
    z_crit = _z_for(confidence)
    a_s, a_n = _counts("s1", s1), _counts("n1", n1)
    b_s, b_n = _counts("s2", s2), _counts("n2", n2)
    for name, n in (("n1", a_n), ("n2", b_n)):
        if (n == 0).any():
            raise CountsError(
                f"{name} is 0{_at(n, n == 0)}: a group with no users has no conversion rate to "
                "compare"
            )
    _not_above(a_s, a_n, "s1", "n1")
    _not_above(b_s, b_n, "s2", "n2")
    a_s, a_n, b_s, b_n = np.broadcast_arrays(a_s, a_n, b_s, b_n)
    return TestResult(*(_scalar_or_array(v) for v in _two_proportion(a_s, a_n, b_s, b_n, z_crit)))


# -- step tables ---------------------------------------------------------------------------------


def with_confidence(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """A copy of a step table with Wilson bounds for its conversion rates.

    Adds ``conversion_from_first_low``/``_high`` (denominator: the count at step 1 of the same
    group) and ``conversion_from_previous_low``/``_high`` (denominator: the count at the previous
    step of the same group), each pair right after its rate when the table has it. Works on
    ``result.table`` and on ``result.breakdown(...)``: the columns before ``step`` identify a
    group. Only ``step`` and the count, ``users`` (or ``conversions``), are required. At step 1
    both rates are 1 by definition, so their interval is exactly [1, 1] (NaN without entrants).

    >>> import pandas as pd
    >>> table = pd.DataFrame({"step": [1, 2, 3], "users": [10, 5, 0]})
    >>> with_confidence(table)["conversion_from_first_low"].round(4).tolist()
    [1.0, 0.2366, 0.0]
    >>> with_confidence(table)["conversion_from_previous_high"].round(4).tolist()
    [1.0, 0.7634, 0.4345]
    """
    z = _z_for(confidence)
    counted = next((c for c in _COUNT_COLUMNS if c in table.columns), "users")
    for column in ("step", counted):
        if column not in table.columns:
            raise ColumnNotFoundError(
                f"with_confidence needs a step table with columns 'step' and 'users' (or "
                f"'conversions'); {column!r} is missing;"
                f"{did_you_mean(column, map(str, table.columns))} "
                f"the columns are {listing(map(str, table.columns))}"
            )
    out = table.copy()
    steps = out["step"].to_numpy(dtype=np.int64)
    users = _counts(counted, out[counted].to_numpy(dtype=float))
    group_columns = list(out.columns[: out.columns.get_loc("step")])
    if group_columns and len(out):
        grouped = out.groupby(group_columns, observed=True, dropna=False, sort=False)
        group = grouped.ngroup().to_numpy(dtype=np.int64)
    else:
        group = np.zeros(len(out), dtype=np.int64)
    span = int(steps.max()) + 1 if len(out) else 1
    keys = pd.Index(group * span + steps)
    if keys.has_duplicates:
        repeated = out.loc[keys.duplicated(), [*group_columns, "step"]].iloc[0].to_dict()
        raise SchemaError(
            f"the table repeats a step within one group ({repeated}); a breakdown table needs "
            "its group columns before 'step'"
        )

    def users_at(step_numbers: np.ndarray) -> np.ndarray:
        position = keys.get_indexer(group * span + step_numbers)
        return np.where(position >= 0, users[np.maximum(position, 0)], np.nan)

    first = users_at(np.ones_like(steps))
    previous = users_at(np.maximum(steps - 1, 1))
    bounds = {
        "conversion_from_first": _rate_bounds(users, first, steps, z),
        "conversion_from_previous": _rate_bounds(users, previous, steps, z),
    }
    for rate, (low, high) in bounds.items():
        for suffix, values in (("_low", low), ("_high", high)):
            name = rate + suffix
            if name in out.columns:
                out = out.drop(columns=name)
            anchor = name.replace("_high", "_low") if suffix == "_high" else rate
            at = out.columns.get_loc(anchor) + 1 if anchor in out.columns else len(out.columns)
            out.insert(at, name, values)
    return out


# -- comparing groups of users -------------------------------------------------------------------


def _entrant_units(result: FunnelResult) -> tuple[np.ndarray, np.ndarray]:
    """The units that count as entrants, as the step table counts them: not excluded and at
    step 1. Returns their unit indices and their reached-step bitmasks (bit k-1: step k)."""
    reached = result._unit_reached
    units = np.flatnonzero(result._clean & ((reached & 1) != 0))
    return units, reached[units]


def _reached_counts(masks: np.ndarray, n_steps: int) -> np.ndarray:
    """How many of the bitmasks have step k, for k = 1..n_steps."""
    return np.array([np.count_nonzero((masks >> k) & 1) for k in range(n_steps)], dtype=np.int64)


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


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise ValueError(f"alpha is a significance level such as 0.05; got {alpha!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha is a significance level such as 0.05, in (0, 1); got {alpha!r}")
    return float(alpha)


def _compare(
    result: FunnelResult,
    masks_a: np.ndarray,
    masks_b: np.ndarray,
    names: tuple[Any, Any],
    step: int | None,
    alpha: float,
) -> pd.DataFrame:
    n_steps = int(result.n_steps)
    steps = _steps_to_compare(step, n_steps)
    alpha = _check_alpha(alpha)
    reached_a = _reached_counts(masks_a, n_steps)
    reached_b = _reached_counts(masks_b, n_steps)
    for name, reached in zip(names, (reached_a, reached_b), strict=True):
        if reached[0] == 0:
            raise CountsError(
                f"group {name!r} has no users who did step 1, so it has no conversion rate"
            )
    index = np.asarray(steps) - 1
    s_a, s_b = reached_a[index].astype(float), reached_b[index].astype(float)
    n_a = np.full(len(steps), float(reached_a[0]))
    n_b = np.full(len(steps), float(reached_b[0]))
    z_crit = normal_quantile(1.0 - alpha / 2.0)
    diff, z, p_value, low, high = _two_proportion(s_a, n_a, s_b, n_b, z_crit)
    labels = result.labels
    return pd.DataFrame(
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
            "difference": diff,
            "low": low,
            "high": high,
            "z": z,
            "p_value": p_value,
            "significant": p_value < alpha,
        }
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
    attribution=...)``, and counted as its table counts them (excluded users are no entrants);
    entrants without a value form the group ``"(missing)"``. One row per step 2..N (or only
    ``step``): ``entrants`` and ``reached`` (entrants who reached the step) of each group, the
    conversion rates, their ``difference`` (a - b) with its ``1 - alpha`` confidence interval
    ``low``..``high`` (unpooled), the pooled ``z`` and two-sided ``p_value``, and
    ``significant`` (``p_value < alpha``).

    Each step is its own test: with many steps or pairs expect some false alarms at ``alpha``
    (divide alpha by the number of tests for a Bonferroni bound). With
    ``counting="conversions"`` the entrants are attempts, and one user's attempts are not
    independent, so read the p-values as optimistic.

    >>> compare_groups(result, "platform", "ios", "android")   # doctest: +SKIP
       step label group_a  entrants_a  reached_a  conversion_a  ...  p_value  significant
    0     2  cart     ios        1200        420         0.350  ...   0.0004         True
    """
    if a == b:
        raise FunnelDefinitionError(f"compare two different groups; both are {by} = {a!r}")
    units, masks = _entrant_units(result)
    # The same groups as result.breakdown(...), so the two can be read side by side.
    all_codes, labels = result._group_codes(by, users, on, attribution)
    codes = all_codes[units]
    present = pd.Index([labels[c] for c in np.unique(codes)], dtype=object)
    labels_index = pd.Index(labels, dtype=object)
    picked = []
    for value in (a, b):
        if value not in present:
            shown = [str(v) for v in present]
            raise ColumnNotFoundError(
                f"no user who did step 1 has {by} = {value!r};"
                f"{did_you_mean(str(value), shown)} the values are {listing(sorted(shown))}"
            )
        picked.append(masks[codes == labels_index.get_loc(value)])
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

    Entrants are the members who did step 1 (excluded users are no entrants, as in the step
    table); an entrant converts to step k when their best chain reached step k. The columns are
    those of :func:`compare_groups`, with the audiences' names (or ``"a"``/``"b"``) as
    ``group_a``/``group_b``. The test assumes the two sets do not overlap; if they share
    entrants an :class:`OverlappingGroupsWarning` says how many (compare ``a - b`` with
    ``b - a`` instead).

    >>> ios = wb.Audience.did(log, "app_open")                    # doctest: +SKIP
    >>> compare_segments(result, ios, ~ios, step=3)               # doctest: +SKIP
    """
    units, masks = _entrant_units(result)
    unit_users = result._unit_users[units]
    members = []
    for label, segment in (("segment_a", segment_a), ("segment_b", segment_b)):
        if not hasattr(segment, "ids") or not hasattr(segment, "log"):
            raise AudienceError(
                f"{label} must be a workbench.Audience; got {type(segment).__name__}"
            )
        if segment.log is not result.log:
            raise AudienceError(
                f"{label} ({segment!r}) belongs to another event log than this funnel result; "
                "build it from result.log"
            )
        member = np.zeros(result.log.n_users, dtype=bool)
        member[np.asarray(segment.ids().to_numpy(zero_copy_only=False), dtype=np.int64)] = True
        members.append(member[unit_users])
    shared = int(np.count_nonzero(members[0] & members[1]))
    if shared:
        warnings.warn(
            OverlappingGroupsWarning(
                f"the two segments share {shared:,} entrants; the test assumes independent "
                "groups, so its p-value is not reliable"
            ),
            stacklevel=2,
        )
    names = (segment_a.name or "a", segment_b.name or "b")
    return _compare(result, masks[members[0]], masks[members[1]], names, step, alpha)
