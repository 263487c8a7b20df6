"""Confidence on conversion rates: Wilson intervals, the two-proportion test, and their use on
funnel tables, breakdown groups and segments. Expected numbers come from published tables or from
formulas computed here independently (the score equation, Pearson's chi-square)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import workbench as wb
from workbench import stats

Z95 = statistics.NormalDist().inv_cdf(0.975)

# -- Wilson interval -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (5, 10, 0.2366, 0.7634),
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(successes, trials, low, high) -> None:
    got = stats.wilson_interval(successes, trials)
    assert isinstance(got[0], float) and isinstance(got[1], float)
    assert round(got[0], 4) == low
    assert round(got[1], 4) == high


def test_wilson_ends_are_exact_at_zero_and_full_conversion() -> None:
    low, high = stats.wilson_interval([0, 7], [7, 7])
    assert low[0] == 0.0 and high[1] == 1.0


@given(
    st.integers(min_value=1, max_value=10_000).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    ),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_bounds_solve_the_score_equation(counts, confidence) -> None:
    successes, trials = counts
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p_hat = successes / trials
    low, high = stats.wilson_interval(successes, trials, confidence)
    assert 0.0 <= low <= p_hat <= high <= 1.0
    # Each bound p solves (p_hat - p)^2 = z^2 p (1 - p) / n, the score test at level z.
    for bound in (low, high):
        lhs = (p_hat - bound) ** 2
        rhs = z * z * bound * (1 - bound) / trials
        assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12)


def test_wilson_is_vectorised_and_broadcasts() -> None:
    low, high = stats.wilson_interval(np.array([[0, 5], [10, 2]]), 10)
    assert low.shape == high.shape == (2, 2)
    assert round(float(high[0, 0]), 4) == 0.2775
    single_low, _ = stats.wilson_interval(2, 10)
    assert low[1, 1] == single_low


def test_wilson_higher_confidence_is_wider() -> None:
    narrow = stats.wilson_interval(30, 100, 0.90)
    wide = stats.wilson_interval(30, 100, 0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


def test_wilson_with_no_trials_is_nan() -> None:
    low, high = stats.wilson_interval([0, 3], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert not np.isnan(low[1])
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))


@pytest.mark.parametrize(
    ("successes", "trials", "message"),
    [
        (11, 10, r"successes cannot exceed trials: got 11 of 10"),
        (-1, 10, r"successes must not be negative; got -1"),
        (3, -2, r"trials must not be negative; got -2"),
        (0.25, 10, r"whole counts of users, not rates; got 0\.25"),
        ([1, 12], [10, 10], r"got 12 of 10 at position \(1,\)"),
        ([1, float("nan")], 10, r"successes must be counts; got NaN at position \(1,\)"),
        (1, float("inf"), r"trials must be finite counts; got inf"),
        ("many", 10, r"successes must be counts \(numbers\); got 'many'"),
    ],
)
def test_wilson_refuses_counts_that_are_not_counts(successes, trials, message) -> None:
    with pytest.raises(stats.CountsError, match=message) as caught:
        stats.wilson_interval(successes, trials)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, wb.exceptions.WorkbenchError)


@pytest.mark.parametrize("confidence", [0, 1, 95, -0.5, "95%", True])
def test_wilson_refuses_a_confidence_outside_zero_to_one(confidence) -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson_interval(1, 2, confidence)


# -- the normal distribution ---------------------------------------------------------------------


def test_normal_cdf_agrees_with_the_standard_library_and_keeps_the_tails() -> None:
    reference = statistics.NormalDist()
    points = np.linspace(-6, 6, 49)
    assert np.allclose(stats.normal_cdf(points), [reference.cdf(x) for x in points], atol=1e-15)
    # Far in the lower tail 1 - cdf(-z) loses everything; erfc keeps the relative accuracy.
    assert stats.normal_cdf(-10) == pytest.approx(7.619853024160527e-24, rel=1e-12)
    assert stats.normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-14)
    with pytest.raises(ValueError, match="strictly between 0 and 1 is needed; got 1"):
        stats.normal_quantile(1)


# -- two-proportion test -------------------------------------------------------------------------


def pearson_chi_square(s1: int, n1: int, s2: int, n2: int) -> float:
    """Pearson's chi-square of the 2x2 table (no continuity correction), from expected counts."""
    observed = np.array([[s1, n1 - s1], [s2, n2 - s2]], dtype=float)
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    return float(((observed - expected) ** 2 / expected).sum())


def test_two_proportion_known_example() -> None:
    test = stats.two_proportion_test(45, 100, 30, 100)
    diff, z, p_value, low, high = test  # a named tuple unpacks
    assert diff == pytest.approx(0.15)
    # pooled p = 0.375; se = sqrt(0.375 * 0.625 * (1/100 + 1/100)) = 0.0684653
    assert z == pytest.approx(0.15 / math.sqrt(0.375 * 0.625 * 0.02))
    assert round(z, 4) == 2.1909
    assert round(p_value, 4) == 0.0285
    # unpooled se = sqrt(0.45 * 0.55 / 100 + 0.3 * 0.7 / 100) = 0.0670075
    assert (round(low, 4), round(high, 4)) == (0.0174, 0.2826)


@given(
    st.integers(min_value=1, max_value=5_000),
    st.integers(min_value=1, max_value=5_000),
    st.data(),
)
def test_two_proportion_z_squared_is_pearson_chi_square(n1, n2, data) -> None:
    s1 = data.draw(st.integers(min_value=0, max_value=n1))
    s2 = data.draw(st.integers(min_value=0, max_value=n2))
    test = stats.two_proportion_test(s1, n1, s2, n2)
    if s1 + s2 in (0, n1 + n2):  # nothing varies: no evidence of a difference
        assert (test.z, test.p_value) == (0.0, 1.0)
        return
    chi2 = pearson_chi_square(s1, n1, s2, n2)
    assert test.z**2 == pytest.approx(chi2, rel=1e-9, abs=1e-12)
    assert np.sign(test.z) == np.sign(s1 / n1 - s2 / n2)
    # chi-square with one degree of freedom: P(X > c) = erfc(sqrt(c / 2)).
    assert test.p_value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9, abs=1e-300)
    assert test.low <= test.diff <= test.high


def test_two_proportion_is_vectorised() -> None:
    test = stats.two_proportion_test([45, 10, 0], [100, 10, 10], [30, 10, 0], 100)
    assert test.diff.shape == (3,)
    assert test.z[0] == pytest.approx(stats.two_proportion_test(45, 100, 30, 100).z)
    assert test.p_value[2] == 1.0 and test.z[2] == 0.0
    assert test.low[2] == test.high[2] == 0.0


def test_two_proportion_wider_at_higher_confidence() -> None:
    a = stats.two_proportion_test(45, 100, 30, 100, confidence=0.9)
    b = stats.two_proportion_test(45, 100, 30, 100, confidence=0.99)
    assert b.low < a.low and b.high > a.high and a.p_value == b.p_value


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 0, 1, 2), r"n1 is 0: a group with no users"),
        (([1, 0], [5, 0], 1, 2), r"n1 is 0 at position \(1,\)"),
        ((1, 2, 0, 0), r"n2 is 0"),
        ((3, 2, 1, 2), r"s1 cannot exceed n1: got 3 of 2"),
        ((1, 2, -1, 2), r"s2 must not be negative; got -1"),
        ((0.5, 2, 1, 2), r"s1 must be whole counts"),
    ],
)
def test_two_proportion_refuses_bad_counts(args, message) -> None:
    with pytest.raises(stats.CountsError, match=message):
        stats.two_proportion_test(*args)


# -- step tables ---------------------------------------------------------------------------------


@pytest.fixture
def result(shop_log) -> wb.FunnelResult:
    return wb.Funnel(["view", "cart", "pay"], window="1d").run(shop_log)


def test_with_confidence_on_the_step_table(result) -> None:
    table = stats.with_confidence(result.table)
    users = result.table["users"].to_numpy()  # [3, 2, 1]
    # Step 1 converts 100% by definition: no sampling, so no width.
    for rate in ("conversion_from_first", "conversion_from_previous"):
        assert table[[f"{rate}_low", f"{rate}_high"]].iloc[0].tolist() == [1.0, 1.0]
    low, high = stats.wilson_interval(users[1:], users[0])
    assert np.allclose(table["conversion_from_first_low"][1:], low)
    assert np.allclose(table["conversion_from_first_high"][1:], high)
    low, high = stats.wilson_interval(users[1:], users[:-1])
    assert np.allclose(table["conversion_from_previous_low"][1:], low)
    assert np.allclose(table["conversion_from_previous_high"][1:], high)
    # Each pair of bounds follows its rate.
    columns = list(table.columns)
    at = columns.index("conversion_from_first")
    assert columns[at + 1 : at + 3] == ["conversion_from_first_low", "conversion_from_first_high"]
    source = result.table.copy()
    before = list(source.columns)
    stats.with_confidence(source)
    assert list(source.columns) == before  # the input is not modified
    # Applying twice replaces rather than duplicates.
    assert list(stats.with_confidence(table).columns) == columns


def test_with_confidence_on_a_breakdown_uses_each_groups_denominators(result) -> None:
    table = stats.with_confidence(result.breakdown("platform"), confidence=0.9)
    for platform, group in table.groupby("platform", observed=True):
        users = group.sort_values("step")["users"].to_numpy()
        low, high = stats.wilson_interval(users[1:], users[0], 0.9)
        assert np.allclose(group["conversion_from_first_low"][1:], low), platform
        assert np.allclose(group["conversion_from_first_high"][1:], high), platform
        low, _ = stats.wilson_interval(users[1:], users[:-1], 0.9)
        assert np.allclose(group["conversion_from_previous_low"][1:], low), platform
        assert group["conversion_from_first_low"].iloc[0] == 1.0
    web = table[table["platform"] == "web"]  # users 2, 1, 0
    assert web["conversion_from_previous_low"].iloc[-1] == 0.0  # 0 of 1 at the previous step
    assert web["conversion_from_first_low"].iloc[-1] == 0.0


def test_with_confidence_handles_shuffled_rows_empty_groups_and_plain_frames() -> None:
    table = pd.DataFrame(
        {
            "tier": ["b", "a", "a", "b", "c", "c"],
            "step": [2, 2, 1, 1, 1, 2],
            "users": [3, 5, 10, 4, 0, 0],
        }
    )
    out = stats.with_confidence(table)
    by_key = out.set_index(["tier", "step"])
    assert by_key.loc[("a", 2), "conversion_from_first_low"] == pytest.approx(0.2366, abs=5e-5)
    expected_b = stats.wilson_interval(3, 4)
    assert by_key.loc[("b", 2), "conversion_from_first_low"] == expected_b[0]
    # A group nobody entered has no rate and so no interval.
    assert (
        by_key.loc[("c", 1), ["conversion_from_first_low", "conversion_from_first_high"]]
        .isna()
        .all()
    )
    # Columns without a rate to follow go at the end.
    assert list(out.columns[-4:]) == [
        "conversion_from_first_low",
        "conversion_from_first_high",
        "conversion_from_previous_low",
        "conversion_from_previous_high",
    ]


def test_with_confidence_on_an_empty_breakdown(result) -> None:
    empty = result.breakdown("platform").head(0)
    out = stats.with_confidence(empty)
    assert len(out) == 0 and "conversion_from_previous_high" in out.columns


def test_with_confidence_errors_name_the_problem() -> None:
    with pytest.raises(wb.exceptions.ColumnNotFoundError, match=r"'users' is missing.*'user'"):
        stats.with_confidence(pd.DataFrame({"step": [1], "user": [3]}))
    repeated = pd.DataFrame({"step": [1, 1], "users": [3, 2], "tier": ["a", "b"]})
    with pytest.raises(wb.exceptions.SchemaError, match=r"repeats a step.*before 'step'"):
        stats.with_confidence(repeated)
