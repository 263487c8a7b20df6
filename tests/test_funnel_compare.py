"""Comparing two groups of a funnel result step by step: counts from the raw data, the breakdown
table beside it, exclusions, optional steps and attempts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench import stats
from workbench.funnel.compare import compare_groups, compare_segments


@pytest.fixture
def result(shop_log) -> wb.FunnelResult:
    return wb.Funnel(["view", "cart", "pay"], window="1d").run(shop_log)


# -- comparing breakdown groups and segments -----------------------------------------------------


def ab_log(rng: np.random.Generator, n_a: int = 400, n_b: int = 300) -> tuple[pd.DataFrame, dict]:
    """Users on two platforms; each views once, some add to cart, some of those pay."""
    rows = []
    truth: dict = {}
    start = pd.Timestamp("2026-02-01")
    for platform, n, p_cart, p_pay in (("ios", n_a, 0.5, 0.5), ("android", n_b, 0.35, 0.4)):
        for i in range(n):
            user = f"{platform}-{i}"
            t = start + pd.Timedelta(minutes=int(rng.integers(0, 10_000)))
            rows.append((user, "view", t, platform))
            level = 1
            if rng.random() < p_cart:
                rows.append((user, "cart", t + pd.Timedelta(minutes=5), platform))
                level = 2
                if rng.random() < p_pay:
                    rows.append((user, "pay", t + pd.Timedelta(minutes=9), platform))
                    level = 3
            truth[user] = (platform, level)
    # Someone who never views: not an entrant of any group.
    rows.append(("lurker", "cart", start, "ios"))
    return pd.DataFrame(rows, columns=["user_id", "event", "time", "platform"]), truth


@pytest.fixture(scope="module")
def ab() -> tuple[wb.FunnelResult, dict]:
    df, truth = ab_log(np.random.default_rng(7))
    return wb.Funnel(["view", "cart", "pay"], window="1h").run(wb.EventLog(df)), truth


def test_compare_groups_matches_counts_from_the_raw_data(ab) -> None:
    result, truth = ab
    frame = pd.DataFrame.from_dict(truth, orient="index", columns=["platform", "level"])
    out = compare_groups(result, "platform", "ios", "android")
    assert out["step"].tolist() == [2, 3]
    assert out["label"].tolist() == ["cart", "pay"]
    for row in out.itertuples():
        ios = frame[frame["platform"] == "ios"]["level"]
        android = frame[frame["platform"] == "android"]["level"]
        assert (row.entrants_a, row.entrants_b) == (len(ios), len(android))
        assert row.reached_a == (ios >= row.step).sum()
        assert row.reached_b == (android >= row.step).sum()
        expected = stats.two_proportion_test(row.reached_a, len(ios), row.reached_b, len(android))
        assert row.difference == pytest.approx(expected.diff)
        assert row.p_value == pytest.approx(expected.p_value)
        assert (row.low, row.high) == pytest.approx((expected.low, expected.high))
        assert row.significant == (expected.p_value < 0.05)
        assert (row.group_a, row.group_b) == ("ios", "android")
    # 0.25 vs 0.14 at 400 vs 300 users is a real difference.
    assert out.loc[out["step"] == 3, "significant"].item()


def test_compare_groups_one_step_alpha_and_user_tables(ab) -> None:
    result, truth = ab
    one = compare_groups(result, "platform", "android", "ios", step=2, alpha=0.001)
    assert len(one) == 1 and one["step"].item() == 2
    both = compare_groups(result, "platform", "ios", "android", step=2)
    assert one["difference"].item() == pytest.approx(-both["difference"].item())
    assert one["p_value"].item() == pytest.approx(both["p_value"].item())
    assert one["significant"].item() == (one["p_value"].item() < 0.001)
    # Groups from a user-attribute table, with the same attribution as result.breakdown.
    users = pd.DataFrame({"user_id": list(truth), "cohort": [k[:3] for k in truth]})
    by_table = compare_groups(result, "cohort", "ios", "and", users=users, step=3)
    by_event = compare_groups(result, "platform", "ios", "android", step=3)
    assert by_table["p_value"].item() == pytest.approx(by_event["p_value"].item())


def test_compare_groups_agrees_with_the_breakdown_table(ab) -> None:
    result, _ = ab
    breakdown = result.breakdown("platform").set_index(["platform", "step"])["users"]
    out = compare_groups(result, "platform", "ios", "android")
    assert out["reached_a"].tolist() == [breakdown[("ios", 2)], breakdown[("ios", 3)]]
    assert out["entrants_b"].tolist() == [breakdown[("android", 1)]] * 2


def test_compare_groups_errors(ab, result) -> None:
    ab_result, _ = ab
    with pytest.raises(
        wb.exceptions.ColumnNotFoundError, match=r"platform = 'andriod'.*did you mean 'android'"
    ):
        compare_groups(ab_result, "platform", "ios", "andriod")
    with pytest.raises(wb.exceptions.ColumnNotFoundError, match=r"'platfrom'"):
        compare_groups(ab_result, "platfrom", "ios", "android")
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match="two different groups"):
        compare_groups(ab_result, "platform", "ios", "ios")
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match=r"step 2\.\.3.*got 1"):
        compare_groups(ab_result, "platform", "ios", "android", step=1)
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match=r"got 4"):
        compare_groups(ab_result, "platform", "ios", "android", step=4)
    with pytest.raises(ValueError, match="alpha"):
        compare_groups(ab_result, "platform", "ios", "android", alpha=5)
    # android user 4 of the shop log never viewed: android has no entrants to compare.
    with pytest.raises(wb.exceptions.ColumnNotFoundError, match=r"the values are 'ios', 'web'"):
        compare_groups(result, "platform", "android", "web")


def test_compare_groups_in_a_one_step_funnel_says_why_not(shop_log) -> None:
    one = wb.Funnel(["view"]).run(shop_log)
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match="one-step funnel"):
        compare_groups(one, "platform", "ios", "web")


def test_compare_segments_uses_levels_of_each_segments_entrants(ab) -> None:
    result, truth = ab
    log = result.log
    ios_keys = [k for k, (p, _) in truth.items() if p == "ios"] + ["lurker"]
    ios = wb.Audience.from_keys(log, ios_keys, name="ios")
    rest = ~ios
    out = compare_segments(result, ios, rest)
    by_groups = compare_groups(result, "platform", "ios", "android")
    # The lurker is in the ios segment but never did step 1, so is no entrant.
    assert out["entrants_a"].tolist() == by_groups["entrants_a"].tolist()
    for column in ("reached_a", "reached_b", "entrants_b", "difference", "z", "p_value", "low"):
        assert out[column].tolist() == pytest.approx(by_groups[column].tolist()), column
    assert out["group_a"].iloc[0] == "ios"
    assert out["group_b"].iloc[0] == (rest.name or "b")


def test_compare_segments_warns_about_overlap_and_refuses_bad_segments(ab, shop_log) -> None:
    result, truth = ab
    log = result.log
    keys = list(truth)
    a = wb.Audience.from_keys(log, keys[:300])
    b = wb.Audience.from_keys(log, keys[250:])
    with pytest.warns(wb.exceptions.OverlappingGroupsWarning, match="share 50 entrants"):
        compare_segments(result, a, b, step=3)
    lurker = wb.Audience.from_keys(log, ["lurker"], name="lurkers")
    with pytest.raises(stats.CountsError, match="group 'lurkers' has no users who did step 1"):
        compare_segments(result, lurker, b)
    other = wb.Audience.all(shop_log)
    with pytest.raises(wb.exceptions.AudienceError, match=r"segment_b.*another event log"):
        compare_segments(result, a, other)
    with pytest.raises(wb.exceptions.AudienceError, match=r"must be a wb\.Audience; got list"):
        compare_segments(result, a, [1, 2])


# -- the unit model: exclusions, optional steps, attempts ----------------------------------------


def test_excluded_users_are_no_entrants_as_in_the_step_table() -> None:
    rows = [
        ("a1", "view", 0, "ios"),
        ("a1", "cart", 60, "ios"),
        ("a2", "view", 0, "ios"),
        ("a2", "refund", 30, "ios"),  # voids a2's chain
        ("a2", "cart", 60, "ios"),
        ("b1", "view", 0, "web"),
        ("b2", "view", 0, "web"),
        ("b2", "cart", 60, "web"),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts", "platform"])
    log = wb.EventLog(df, time_unit="s")
    funnel = wb.Funnel(["view", "cart"], window="1h", exclusions=[wb.Exclusion("refund")])
    result = funnel.run(log)
    table = stats.with_confidence(result.breakdown("platform"))
    ios = table[table["platform"] == "ios"]
    assert ios["users"].tolist() == [1, 1]  # a2 is excluded, not an entrant
    out = compare_groups(result, "platform", "ios", "web")
    assert out[["entrants_a", "reached_a", "entrants_b", "reached_b"]].iloc[0].tolist() == [
        1,
        1,
        2,
        1,
    ]
    everyone = wb.Audience.all(log)
    web = wb.Audience.from_keys(log, ["b1", "b2"], name="web")
    with pytest.warns(wb.exceptions.OverlappingGroupsWarning, match="share 2 entrants"):
        both = compare_segments(result, everyone, web)
    assert both["entrants_a"].item() == 3


def test_optional_steps_count_reached_steps_not_levels() -> None:
    # u1 skips the optional step 2: level 3, yet never reached step 2.
    rows = [
        ("u1", "view", 0),
        ("u1", "pay", 20),
        ("u2", "view", 0),
        ("u2", "cart", 10),
        ("u2", "pay", 20),
        ("u3", "view", 0),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts"])
    log = wb.EventLog(df, time_unit="s")
    steps = ["view", wb.Step("cart", optional=True), "pay"]
    result = wb.Funnel(steps, window="1h").run(log)
    assert result.table["users"].tolist() == [3, 1, 2]
    a = wb.Audience.from_keys(log, ["u1", "u2"], name="payers")
    b = wb.Audience.from_keys(log, ["u3"], name="browser")
    out = compare_segments(result, a, b)
    assert out["reached_a"].tolist() == [1, 2]
    assert out["reached_b"].tolist() == [0, 0]


def test_counting_conversions_compares_attempts_and_keeps_the_column_name() -> None:
    rows = [
        ("u1", "view", 0, "ios"),
        ("u1", "pay", 60, "ios"),
        ("u1", "view", 10_000, "ios"),  # a second attempt, which never pays
        ("u2", "view", 0, "web"),
        ("u2", "pay", 60, "web"),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts", "platform"])
    log = wb.EventLog(df, time_unit="s")
    result = wb.Funnel(["view", "pay"], window="1h", counting="conversions").run(log)
    table = stats.with_confidence(result.table)
    assert table["conversions"].tolist() == [3, 2]
    low, _ = stats.wilson_interval(2, 3)
    assert table["conversion_from_first_low"].iloc[1] == low
    out = compare_groups(result, "platform", "ios", "web")
    assert out[["entrants_a", "reached_a", "entrants_b", "reached_b"]].iloc[0].tolist() == [
        2,
        1,
        1,
        1,
    ]


# -- the FunnelResult methods that delegate here ---------------------------------------------------


def test_result_methods_delegate(ab) -> None:
    result, _ = ab
    direct = compare_groups(result, "platform", "ios", "android")
    pd.testing.assert_frame_equal(result.compare_groups("platform", "ios", "android"), direct)
    ios = result.breakdown_group("platform", "ios")
    android = result.breakdown_group("platform", "android")
    pd.testing.assert_frame_equal(
        result.compare_segments(ios, android, step=3),
        compare_segments(result, ios, android, step=3),
    )
    assert {"period_start", "entrants", "low", "high"} <= set(result.trends("week").columns)


def test_step_and_breakdown_tables_carry_wilson_bounds(ab) -> None:
    result, _ = ab
    for table in (result.table, result.breakdown("platform")):
        for rate in ("conversion_from_first", "conversion_from_previous"):
            assert (table[f"{rate}_low"] <= table[rate]).all()
            assert (table[rate] <= table[f"{rate}_high"]).all()
