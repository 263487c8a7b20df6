"""What is built from a result refuses input that would make it wrong or huge: the plan coverage
of another funnel, a trend over a timestamp far from the rest, drop-off after the last step."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import workbench as wb
from workbench import exceptions as ex
from workbench.funnel.trends import MAX_PERIODS


def test_with_coverage_of_a_same_length_funnel_of_other_events_is_refused(shop_log) -> None:
    plan = wb.TrackingPlan.infer(shop_log)
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    other = plan.funnel_coverage(wb.Funnel(["search", "pay"]), shop_log)
    with pytest.raises(ex.ArgumentError) as err:
        wb.with_coverage(result, other)
    message = str(err.value)
    assert "the coverage was computed for a different funnel" in message
    assert "['search', 'pay']" in message and "['view', 'cart']" in message
    assert "plan.funnel_coverage(result.funnel, log)" in message
    # The coverage of the funnel itself is accepted.
    own = plan.funnel_coverage(result.funnel, shop_log)
    assert wb.with_coverage(result, own)["plan_violation_share"].tolist() == [0.0, 0.0]


def test_with_coverage_of_reordered_steps_is_refused(shop_log) -> None:
    plan = wb.TrackingPlan.infer(shop_log)
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.ArgumentError, match="different funnel"):
        wb.with_coverage(result, plan.funnel_coverage(wb.Funnel(["cart", "view"]), shop_log))


def test_trends_refuse_a_far_future_row_instead_of_listing_every_day(shop_df) -> None:
    far = pd.DataFrame(
        {"user_id": [9], "event": ["view"], "time": [pd.Timestamp("2199-06-01")]}
    ).astype({"time": shop_df["time"].dtype})
    log = wb.EventLog(pd.concat([shop_df, far], ignore_index=True))
    result = wb.Funnel(["view", "cart"]).run(log)
    started = time.perf_counter()
    with pytest.raises(ex.FunnelDefinitionError) as err:
        result.trends("day")
    assert time.perf_counter() - started < 2  # refused up front, not after building rows
    message = str(err.value)
    assert f"more than the {MAX_PERIODS:,} a trend lists" in message
    assert "63,3" in message and "days" in message  # how many there would be
    assert "2199-06-01" in message  # the far time, to go and find
    assert "integer epoch read in the wrong time_unit" in message
    assert "take a longer period" in message
    # A month per row is few enough periods: 174 years of months.
    months = result.trends("month")
    assert months["period_start"].nunique() == (2199 - 2026) * 12 + 6


def test_dropped_after_the_last_step_is_refused_in_a_one_step_funnel_too(shop_log) -> None:
    result = wb.Funnel(["view"]).run(shop_log)
    assert result.table["dropped"].tolist() == [0]
    with pytest.raises(ex.FunnelDefinitionError, match=r"nobody drops off after the last step"):
        result.dropped_after(1)
    assert len(result.converted()) == result.table["users"].iloc[0]
