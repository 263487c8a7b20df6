"""On a nanosecond log a window of centuries ends past the largest int64: the window is open (the
users are in progress), never wrapped round into the past, and the ClickHouse kernel and the
product engine agree on who is in progress (one rule, funnel/open_window.rs)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb

T0 = pd.Timestamp("2026-01-01")
LONGEST = "106751d"  # about 292 years: 2026 + the window is past 2262, the end of int64 ns


@pytest.fixture
def ns_log() -> wb.EventLog:
    rows = [
        (1, "a", T0),
        (1, "b", T0 + pd.Timedelta(hours=1)),  # converted: never in progress
        (2, "a", T0),  # started, window open for centuries
        (3, "a", T0 + pd.Timedelta(days=1)),
        (4, "x", T0 + pd.Timedelta(days=2)),  # the log's last event: the analysis end
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "event", "time"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(2, "time", table.column("time").cast(pa.timestamp("ns")))
    log = wb.EventLog(table)
    assert log.time_unit == "ns"
    return log


def test_a_window_past_the_largest_time_keeps_users_in_progress_in_both_engines(ns_log) -> None:
    # No other event falls between a user's steps, so strict order gives the same levels and
    # the two engines can be compared user by user.
    clickhouse = wb.Funnel(["a", "b"], window=LONGEST).run(ns_log)
    product = wb.Funnel(["a", "b"], window=LONGEST, order="strict").run(ns_log)
    assert not clickhouse.funnel.uses_product_options and product.funnel.uses_product_options
    assert clickhouse.levels.to_dict() == product.levels.to_dict() == {1: 2, 2: 1, 3: 1, 4: 0}
    for result in (clickhouse, product):
        assert result.in_progress().keys().to_pylist() == [2, 3]
        assert result.dropped_after(1).keys().to_pylist() == []
        assert result.table["in_progress"].tolist() == [2, 0]
        assert result.table["dropped"].tolist() == [0, 0]


def test_an_explicit_analysis_end_near_the_largest_time_agrees_too(ns_log) -> None:
    end = "2262-04-01"  # inside int64 nanoseconds; every window of LONGEST still reaches past it
    clickhouse = wb.Funnel(["a", "b"], window=LONGEST, analysis_end=end).run(ns_log)
    product = wb.Funnel(["a", "b"], window=LONGEST, order="strict", analysis_end=end).run(ns_log)
    assert clickhouse.in_progress() == wb.Audience.from_keys(ns_log, [2, 3])
    assert product.in_progress().keys().to_pylist() == [2, 3]


def test_a_short_window_closes_in_both_engines(ns_log) -> None:
    # The control: a day's window from step 1 is over at the analysis end for users 2 and 3.
    for order in ("sequential", "strict"):
        result = wb.Funnel(["a", "b"], window="1d", order=order).run(ns_log)
        assert result.in_progress().keys().to_pylist() == []
        assert result.dropped_after(1).keys().to_pylist() == [2, 3]
