"""What an analyst reads off a funnel result: the step table, levels, times, breakdowns, and the
drill-downs to the users behind each number."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench as wb


@pytest.fixture
def result(shop_log) -> wb.FunnelResult:
    return wb.Funnel(["view", "cart", "pay"], window="1d").run(shop_log)


def test_step_table_counts_conversion_and_drop_off(result) -> None:
    table = result.table
    assert table["users"].tolist() == [3, 2, 1]
    assert table["dropped"].tolist() == [1, 1, 0]
    assert table["conversion_from_first"].round(4).tolist() == [1.0, 0.6667, 0.3333]
    assert table["conversion_from_previous"].round(4).tolist() == [1.0, 0.6667, 0.5]
    assert table["label"].tolist() == ["view", "cart", "pay"]


def test_step_table_times_are_median_and_p90(result) -> None:
    table = result.table
    # cart reached by user 1 after 5 minutes and user 3 after 30 minutes.
    assert table.loc[1, "median_time_from_first"] == pd.Timedelta(minutes=17.5)
    assert table.loc[1, "p90_time_from_first"] == pd.Timedelta(minutes=27.5)
    assert table.loc[2, "median_time_from_previous"] == pd.Timedelta(minutes=55)
    assert pd.isna(table.loc[0, "median_time_from_first"])


def test_levels_by_original_key(result) -> None:
    assert result.levels.to_dict() == {1: 3, 2: 1, 3: 2, 4: 0}
    assert result.level_counts() == [1, 1, 1, 1]


def test_time_to_convert_per_user(result) -> None:
    times = result.time_to_convert(2)
    assert times.index.tolist() == [1, 3]
    assert times["from_first"].tolist() == [pd.Timedelta(minutes=5), pd.Timedelta(minutes=30)]
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match=r"step number 2\.\.3"):
        result.time_to_convert(1)


def test_breakdown_by_step_one_property(result) -> None:
    table = result.breakdown("platform")
    by_platform = table.pivot(index="platform", columns="step", values="users")
    assert by_platform.loc["ios"].tolist() == [1, 1, 1]
    assert by_platform.loc["web"].tolist() == [2, 1, 0]
    # android user 4 never did step 1, so has no step-1 event to attribute.
    assert "android" not in by_platform.index
    assert table["platform"].cat.categories.tolist() == ["web", "ios"]  # biggest group first


def test_breakdown_by_user_attribute_table(result) -> None:
    users = pd.DataFrame({"user_id": [1, 2, 3, 4], "tier": ["gold", "basic", "gold", "basic"]})
    table = result.breakdown("tier", users=users)
    gold = table[table["tier"] == "gold"]
    assert gold["users"].tolist() == [2, 2, 1]
    assert table[table["tier"] == "basic"]["users"].tolist() == [1, 0, 0]


def test_breakdown_missing_attribute_is_its_own_group(result) -> None:
    users = pd.DataFrame({"user_id": [1], "tier": ["gold"]})
    table = result.breakdown("tier", users=users)
    assert set(table["tier"]) == {"gold", "(missing)"}
    assert table[table["tier"] == "(missing)"]["users"].tolist() == [2, 1, 0]


def test_property_step_and_alternatives(shop_log) -> None:
    funnel = wb.Funnel(
        [wb.Step("view", where=wb.col("platform") == "web"), ["cart", "pay"]], window="1d"
    )
    assert funnel.run(shop_log).levels.to_dict() == {1: 0, 2: 1, 3: 2, 4: 0}
    cheap = wb.Funnel([wb.Step("view", where=wb.col("price") < 8)]).run(shop_log)
    assert cheap.levels.to_dict() == {1: 0, 2: 1, 3: 0, 4: 0}  # null price never matches
    expensive = wb.Funnel([wb.Step("view", where=~(wb.col("price") < 8))]).run(shop_log)
    assert expensive.levels.to_dict() == {1: 1, 2: 0, 3: 0, 4: 0}
    listed = wb.Funnel([wb.Step("view", where=wb.col("platform").isin(["ios", "android"]))])
    assert listed.run(shop_log).levels.to_dict() == {1: 1, 2: 0, 3: 0, 4: 0}
    missing = wb.Funnel([wb.Step("view", where=wb.col("price").is_null())]).run(shop_log)
    assert missing.levels.to_dict() == {1: 0, 2: 0, 3: 1, 4: 0}


def test_labels_by_name_or_number(shop_log) -> None:
    funnel = wb.Funnel(["view", "cart", "pay"], labels={"view": "Viewed", 3: "Paid"})
    assert funnel.run(shop_log).table["label"].tolist() == ["Viewed", "cart", "Paid"]


def test_repr_and_html(result) -> None:
    assert "FunnelResult(3 steps" in repr(result)
    html = result._repr_html_()
    assert "66.7%" in html and "<table" in html


def test_result_is_independent_of_other_runs(shop_log) -> None:
    funnel = wb.Funnel(["view", "cart"])
    first = funnel.run(shop_log)
    wb.Funnel(["cart", "pay"]).run(shop_log)
    assert first.level_counts() == funnel.run(shop_log).level_counts()


def keys(audience: wb.Audience) -> list:
    return audience.keys().to_pylist()


def test_drill_downs_are_the_users_the_table_counts(shop_log) -> None:
    result = wb.Funnel(["view", "cart", "pay"], window="1d").run(shop_log)
    levels = result.levels
    table = result.table
    assert keys(result.entered()) == sorted(levels[levels >= 1].index)
    assert keys(result.reached(2)) == sorted(levels[levels >= 2].index)
    assert keys(result.converted()) == sorted(levels[levels == 3].index)
    for step in (1, 2):
        dropped = result.dropped_after(step)
        assert keys(dropped) == sorted(levels[levels == step].index)
        assert len(dropped) == table.loc[step - 1, "dropped"]
        assert dropped.name == f"dropped after {table.loc[step - 1, 'label']}"
    assert len(result.entered()) == sum(result.level_counts()[1:])
    # A breakdown group is just another audience intersected.
    cheap = wb.Audience.did(shop_log, "view", where=wb.col("price") < 8)
    assert keys(result.dropped_after(1, group=cheap)) == sorted(
        set(levels[levels == 1].index) & set(keys(cheap))
    )
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match="after the last step"):
        result.dropped_after(3)
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match=r"step number 1\.\.3"):
        result.reached(0)


def test_users_in_progress_are_not_dropped(shop_log) -> None:
    # The log ends 2026-01-03 09:00: with a 2-day window user 3's cart (2 Jan) may still lead
    # to a payment, so they are in progress at step 2, not dropped there.
    result = wb.Funnel(["view", "cart", "pay"], window="2d").run(shop_log)
    assert keys(result.in_progress(2)) == [3]
    assert 3 not in keys(result.dropped_after(2))
    assert result.table.loc[1, "dropped"] + result.table.loc[1, "in_progress"] == 2
    assert len(result.dropped_after(2)) == result.table.loc[1, "dropped"]
