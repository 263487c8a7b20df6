"""Confidence for conversion rates: Wilson intervals, the two-proportion z-test, and the normal
distribution they rest on. Everything here works on counts; nothing knows about funnels.

Pure numpy and the standard library (no scipy). Every function is vectorised: pass scalars for one
rate, arrays for many.

>>> from workbench import stats
>>> low, high = stats.wilson_interval(5, 10)
>>> round(low, 4), round(high, 4)
(0.2366, 0.7634)
>>> test = stats.two_proportion_test(120, 1000, 90, 1000)
>>> round(test.diff, 3), round(test.p_value, 4)
(0.03, 0.0287)

:func:`with_confidence` adds intervals to a step table (``result.table``, a breakdown), and a
funnel result's ``compare_groups`` / ``compare_segments`` use :func:`two_proportion_test`.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from workbench._names import did_you_mean, listing
from workbench.exceptions import ArgumentError, ColumnNotFoundError, CountsError, SchemaError

__all__ = [
    "TestResult",
    "confidence_z",
    "conversion_interval",
    "normal_cdf",
    "normal_quantile",
    "previous_steps",
    "proportion_test",
    "two_proportion_test",
    "two_sided_p",
    "wilson_interval",
    "with_confidence",
]

_COUNT_COLUMNS = ("users", "conversions")  # what a step table counts


class TestResult(NamedTuple):
    """Outcome of :func:`two_proportion_test`: ``diff = p1 - p2``, its z statistic and two-sided
    p-value (pooled), and the confidence interval ``[low, high]`` of the difference (unpooled)."""

    diff: Any
    z: Any
    p_value: Any
    low: Any
    high: Any


TestResult.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name


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
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 < p < 1.0:
        raise ArgumentError(f"a probability strictly between 0 and 1 is needed; got {p!r}")
    return _STANDARD_NORMAL.inv_cdf(float(p))


def two_sided_p(z: Any) -> Any:
    """P(|Z| >= |z|) for a standard normal Z: the two-sided p-value of a z statistic.

    >>> round(two_sided_p(1.959963984540054), 6)
    0.05
    """
    values = np.abs(np.asarray(z, dtype=float))
    out = np.minimum(np.asarray(_erfc(values / math.sqrt(2.0)), dtype=float), 1.0)
    return float(out) if out.ndim == 0 else out


def confidence_z(confidence: float, name: str = "confidence") -> float:
    """The z of a two-sided interval at ``confidence`` (0.95 → 1.96); ``name`` is the parameter
    named in the error when it is not a level strictly between 0 and 1.

    >>> round(confidence_z(0.95), 4)
    1.96
    """
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise ArgumentError(f"{name} is a level such as 0.95; got {confidence!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ArgumentError(
            f"{name} must be strictly between 0 and 1 (e.g. 0.95 for 95%); got {confidence!r}"
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


def conversion_interval(
    reached: Any, entrants: Any, steps: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds of a funnel's conversion rates ``reached / entrants`` at step numbers
    ``steps``. At step 1 the rate is 1 by definition (the entrants are the trials), not an
    estimate, so its interval is exactly [1, 1]; NaN where there are no entrants.

    >>> low, high = conversion_interval([10, 5], [10, 10], [1, 2])
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([1.0, 0.2366], [1.0, 0.7634])
    """
    z = confidence_z(confidence)
    counts = _counts("reached", reached)
    trials = _counts("entrants", entrants)
    _not_above(counts, trials, "reached", "entrants")
    low, high = _wilson(counts, trials, z)
    definitional = (np.asarray(steps) == 1) & (trials > 0)
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
    z = confidence_z(confidence)
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
    p_value = np.asarray(two_sided_p(z), dtype=float)
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
    z_crit = confidence_z(confidence)
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
    step of the same group, or, when the table has an ``optional`` column, at the nearest earlier
    step that is not optional), each pair right after its rate when the table has it. Works on
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
    confidence_z(confidence)
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
    previous = users_at(previous_steps(steps, out.get("optional")))
    bounds = {
        "conversion_from_first": _bounds(users, first, steps, confidence),
        "conversion_from_previous": _bounds(users, previous, steps, confidence),
    }
    for rate, (low, high) in bounds.items():
        for suffix, values in (("_low", low), ("_high", high)):
            name = rate + suffix
            if name in out.columns:
                out = out.drop(columns=name)
            anchor = name.replace("_high", "_low") if suffix == "_high" else rate
            at = out.columns.tolist().index(anchor) + 1 if anchor in out.columns else out.shape[1]
            out.insert(at, name, values)
    return out


def previous_steps(steps: Any, optional: Any = None) -> np.ndarray:
    """For each step number, the step its conversion "from previous" is measured from: the
    step before it, skipping optional steps (a chain that skipped one still reached the step
    before it, so every rate stays within [0, 1]). Step 1 maps to itself.

    >>> previous_steps([1, 2, 3, 4], [False, False, True, False]).tolist()
    [1, 1, 2, 2]
    """
    numbers = np.asarray(steps, dtype=np.int64)
    if optional is None:
        return np.maximum(numbers - 1, 1)
    skippable = {
        int(k) for k, o in zip(numbers, np.asarray(optional, dtype=bool), strict=True) if o
    }
    out = np.empty_like(numbers)
    for i, k in enumerate(numbers):
        previous = max(int(k) - 1, 1)
        while previous > 1 and previous in skippable:
            previous -= 1
        out[i] = previous
    return out


def _bounds(
    users: np.ndarray, trials: np.ndarray, steps: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conversion_interval` where a missing denominator (NaN) leaves NaN bounds."""
    known = ~np.isnan(trials)
    low = np.full(len(users), np.nan)
    high = np.full(len(users), np.nan)
    if known.any():
        low[known], high[known] = conversion_interval(
            users[known], trials[known], steps[known], confidence
        )
    return low, high


def proportion_test(
    s1: np.ndarray, n1: np.ndarray, s2: np.ndarray, n2: np.ndarray, alpha: float
) -> TestResult:
    """:func:`two_proportion_test` at significance ``alpha`` (interval at ``1 - alpha``), for
    callers that have checked their counts (every trial count positive)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise ArgumentError(f"alpha is a significance level such as 0.05; got {alpha!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ArgumentError(f"alpha is a significance level such as 0.05, in (0, 1); got {alpha!r}")
    z_crit = normal_quantile(1.0 - float(alpha) / 2.0)
    return TestResult(*_two_proportion(s1, n1, s2, n2, z_crit))
