"""Conversion by entry period: time zones, week and month buckets, empty periods, errors, and a
differential check against pandas on the raw events."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench import stats
from workbench.funnel import conversion_trends


def run(rows, steps=None, window="1h", tz=None, **log_options) -> wb.FunnelResult:
    """A funnel view -> pay (or just view, when nobody pays) over (user, event, UTC time) rows."""
    df = pd.DataFrame(rows, columns=["user_id", "event", "time"])
    df["time"] = pd.to_datetime(df["time"], format="ISO8601")
    if steps is None:
        steps = ["view", "pay"] if (df["event"] == "pay").any() else ["view"]
    if tz is not None:
        df["time"] = df["time"].dt.tz_localize("UTC").dt.tz_convert(tz)
    return wb.Funnel(list(steps), window=window).run(wb.EventLog(df, **log_options))


def step_rows(table: pd.DataFrame, step: int) -> pd.DataFrame:
    return table[table["step"] == step].reset_index(drop=True)


def test_late_evening_utc_is_the_next_day_in_shanghai() -> None:
    result = run(
        [
            (1, "view", "2026-01-01 23:30"),  # 07:30 on Jan 2 in Shanghai
            (1, "pay", "2026-01-01 23:45"),
            (2, "view", "2026-01-01 10:00"),  # 18:00 on Jan 1 in Shanghai
        ]
    )
    utc = step_rows(conversion_trends(result, "day"), 1)
    assert utc["period_start"].tolist() == [pd.Timestamp("2026-01-01", tz="UTC")]
    assert utc["entrants"].tolist() == [2]

    shanghai = conversion_trends(result, "day", tz="Asia/Shanghai")
    first = step_rows(shanghai, 1)
    assert first["period_start"].tolist() == [
        pd.Timestamp("2026-01-01", tz="Asia/Shanghai"),
        pd.Timestamp("2026-01-02", tz="Asia/Shanghai"),
    ]
    assert first["entrants"].tolist() == [1, 1]
    assert step_rows(shanghai, 2)["users"].tolist() == [0, 1]
    # New York is behind UTC: both views fall on Jan 1 there.
    new_york = step_rows(conversion_trends(result, "day", tz="America/New_York"), 1)
    assert new_york["entrants"].tolist() == [2]


def test_default_zone_is_the_logs_own() -> None:
    rows = [(1, "view", "2026-01-01 23:30"), (2, "view", "2026-01-01 10:00")]
    result = run(rows, tz="Asia/Shanghai")
    assert result.log.time_zone == "Asia/Shanghai"
    table = conversion_trends(result)
    assert str(table["period_start"].dt.tz) == "Asia/Shanghai"
    assert table["entrants"].tolist() == [1, 1]  # one per day
    assert step_rows(table, 1)["period_start"].dt.day.tolist() == [1, 2]
    # An explicit zone overrides the log's.
    assert step_rows(conversion_trends(result, tz="UTC"), 1)["entrants"].tolist() == [2]


def test_naive_times_are_read_as_utc() -> None:
    result = run([(1, "view", "2026-01-01 23:30")])
    table = conversion_trends(result)
    assert str(table["period_start"].dt.tz) == "UTC"
    assert table["period_start"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")


def test_weeks_start_on_monday() -> None:
    # 2026-01-04 is a Sunday, 2026-01-05 a Monday.
    result = run(
        [
            (1, "view", "2026-01-04 12:00"),
            (2, "view", "2026-01-05 00:00"),
            (2, "pay", "2026-01-05 00:10"),
            (3, "view", "2026-01-11 23:59"),  # Sunday: same week as user 2
            (4, "view", "2025-12-29 00:00"),  # Monday: same week as user 1
        ]
    )
    weeks = step_rows(conversion_trends(result, "week"), 1)
    assert weeks["period_start"].tolist() == [
        pd.Timestamp("2025-12-29", tz="UTC"),
        pd.Timestamp("2026-01-05", tz="UTC"),
    ]
    assert (weeks["period_start"].dt.day_of_week == 0).all()
    assert weeks["entrants"].tolist() == [2, 2]
    paid = step_rows(conversion_trends(result, "week"), 2)
    assert paid["users"].tolist() == [0, 1]
    assert paid["conversion_from_first"].tolist() == [0.0, 0.5]


def test_months_and_year_boundaries() -> None:
    result = run(
        [
            (1, "view", "2025-12-31 23:00"),
            (2, "view", "2026-01-01 00:00"),
            (3, "view", "2026-01-31 23:59"),
            (4, "view", "2026-03-01 00:00"),
        ]
    )
    months = step_rows(conversion_trends(result, "month"), 1)
    assert months["period_start"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]
    assert months["entrants"].tolist() == [1, 2, 0, 1]
    # In Tokyo (UTC+9), 2025-12-31 23:00 UTC is already January.
    tokyo = step_rows(conversion_trends(result, "month", tz="Asia/Tokyo"), 1)
    assert tokyo["entrants"].tolist() == [2, 1, 1]  # Jan 31 23:59 UTC is Feb 1 there


def test_empty_periods_are_listed_with_zero_entrants() -> None:
    result = run(
        [
            (1, "search", "2026-01-01 08:00"),  # the log starts before anyone enters
            (2, "view", "2026-01-02 08:00"),
            (2, "pay", "2026-01-02 08:30"),
            (3, "view", "2026-01-05 08:00"),
            (4, "search", "2026-01-06 08:00"),
        ]
    )
    table = conversion_trends(result, "day")
    first = step_rows(table, 1)
    assert first["period_start"].dt.day.tolist() == [1, 2, 3, 4, 5, 6]
    assert first["entrants"].tolist() == [0, 1, 0, 0, 1, 0]
    empty = table[table["entrants"] == 0]
    assert empty["users"].eq(0).all()
    assert empty[["conversion_from_first", "low", "high"]].isna().all().all()
    assert step_rows(table, 2)["users"].tolist() == [0, 1, 0, 0, 0, 0]


def test_no_entrants_at_all() -> None:
    with pytest.warns(wb.exceptions.UnknownEventWarning):
        result = run([(1, "search", "2026-01-01"), (2, "search", "2026-01-03")], steps=["buy"])
    table = conversion_trends(result, "day")
    assert table["entrants"].tolist() == [0, 0, 0]
    assert table["conversion_from_first"].isna().all()


def test_long_format_columns_and_wilson_bounds() -> None:
    result = run(
        [(u, "view", "2026-01-01 10:00") for u in range(10)]
        + [(u, "pay", "2026-01-01 10:30") for u in range(5)],
        steps=["view", "pay"],
    )
    table = conversion_trends(result, "day", confidence=0.95)
    assert list(table.columns) == [
        "period_start",
        "step",
        "label",
        "entrants",
        "users",
        "conversion_from_first",
        "low",
        "high",
        "in_progress",
    ]
    assert table["label"].tolist() == ["view", "pay"]
    assert table["users"].tolist() == [10, 5]
    assert table["low"].round(4).tolist() == [1.0, 0.2366]  # step 1 is 100% by definition
    assert table["high"].round(4).tolist() == [1.0, 0.7634]
    assert table["step"].dtype == np.int64 and table["users"].dtype == np.int64
    wider = conversion_trends(result, "day", confidence=0.99)
    assert wider["low"].iloc[1] < table["low"].iloc[1]


def test_daylight_saving_days_start_at_local_midnight() -> None:
    # New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01.
    result = run(
        [
            (1, "view", "2026-03-08 04:59"),  # 23:59 on Mar 7 (EST)
            (2, "view", "2026-03-08 05:00"),  # 00:00 on Mar 8 (EST)
            (3, "view", "2026-03-09 03:59"),  # 23:59 on Mar 8 (EDT)
            (4, "view", "2026-03-09 04:00"),  # 00:00 on Mar 9 (EDT)
        ]
    )
    days = step_rows(conversion_trends(result, "day", tz="America/New_York"), 1)
    assert days["period_start"].tolist() == [
        pd.Timestamp("2026-03-07", tz="America/New_York"),
        pd.Timestamp("2026-03-08", tz="America/New_York"),
        pd.Timestamp("2026-03-09", tz="America/New_York"),
    ]
    assert days["entrants"].tolist() == [1, 2, 1]
    # The day of the change lasts 23 hours.
    starts = days["period_start"]
    assert starts.iloc[2] - starts.iloc[1] == pd.Timedelta(hours=23)


def test_integer_epochs_work_like_timestamps() -> None:
    base = pd.Timestamp("2026-01-01 23:30", tz="UTC")
    seconds = [int(base.timestamp()), int(base.timestamp()) + 600, int(base.timestamp()) + 86_400]
    table = pa.table({"user_id": [1, 1, 2], "event": ["view", "pay", "view"], "ts": seconds})
    log = wb.EventLog(table, time_unit="s")
    result = wb.Funnel(["view", "pay"], window="1h").run(log)
    epochs = step_rows(conversion_trends(result, "day", tz="Asia/Shanghai"), 1)
    assert epochs["period_start"].dt.day.tolist() == [2, 3]
    assert epochs["entrants"].tolist() == [1, 1]


def test_date_columns_bucket_by_day() -> None:
    dates = pa.table(
        {
            "user_id": [1, 2, 3],
            "event": ["view", "view", "view"],
            "time": pa.array([20454, 20454, 20456], pa.date32()),  # 2026-01-01, 01-01, 01-03
        }
    )
    by_date = conversion_trends(wb.Funnel(["view"]).run(wb.EventLog(dates)), "day")
    assert by_date["entrants"].tolist() == [2, 0, 1]
    assert by_date["period_start"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")


def test_trends_add_up_to_the_step_table() -> None:
    result = run(
        [(1, "view", "2026-01-01"), (1, "pay", "2026-01-01 00:10"), (2, "view", "2026-02-10")]
    )
    for period in ("day", "week", "month"):
        table = conversion_trends(result, period)
        totals = table.groupby("step")["users"].sum()
        assert totals.tolist() == result.table["users"].tolist(), period


def test_matches_pandas_on_random_logs() -> None:
    """Each user views once (so the entry event is that view) and may pay later; the expected
    table is built with pandas from the raw events and the engine's levels."""
    rng = np.random.default_rng(11)
    n = 3_000
    users = np.arange(n)
    start = pd.Timestamp("2026-03-01", tz="UTC").value // 10**9
    view = start + rng.integers(0, 70 * 86_400, n)  # spans the New York DST change
    pays = rng.random(n) < 0.4
    pay = view[pays] + rng.integers(0, 2 * 3600, pays.sum())  # some after the 1h window
    df = pd.DataFrame(
        {
            "user_id": np.r_[users, users[pays]],
            "event": ["view"] * n + ["pay"] * int(pays.sum()),
            "time": pd.to_datetime(np.r_[view, pay], unit="s", utc=True),
        }
    )
    result = wb.Funnel(["view", "pay"], window="1h").run(wb.EventLog(df))
    levels = result.levels
    views = df[df["event"] == "view"].set_index("user_id")["time"]
    for zone in ("UTC", "America/New_York", "Asia/Kolkata"):
        wall_clock = views.dt.tz_convert(zone).dt.tz_localize(None)
        buckets = {
            period: wall_clock.dt.to_period(freq).dt.start_time.dt.tz_localize(zone)
            for period, freq in (("day", "D"), ("week", "W-SUN"), ("month", "M"))
        }
        for period, bucket in buckets.items():
            expected = (
                pd.DataFrame({"bucket": bucket, "level": levels.reindex(bucket.index)})
                .groupby("bucket")["level"]
                .agg(entrants="size", paid=lambda s: int((s >= 2).sum()))
            )
            table = conversion_trends(result, period, tz=zone)
            got = step_rows(table, 2).set_index("period_start")
            got = got[got["entrants"] > 0]
            assert got.index.tolist() == expected.index.tolist(), (zone, period)
            assert got["entrants"].tolist() == expected["entrants"].tolist(), (zone, period)
            assert got["users"].tolist() == expected["paid"].tolist(), (zone, period)
            low, high = stats.wilson_interval(expected["paid"], expected["entrants"])
            assert np.allclose(got["low"], low) and np.allclose(got["high"], high)
            # Consecutive periods, none skipped.
            starts = step_rows(table, 1)["period_start"]
            if period == "day":
                assert (starts.diff().dropna().dt.total_seconds().between(82_800, 90_000)).all()


def test_a_million_users_is_quick() -> None:
    n = 1_000_000
    rng = np.random.default_rng(3)
    view = 1_767_225_600 + rng.integers(0, 90 * 86_400, n)
    table = pa.table(
        {
            "user_id": np.r_[np.arange(n), np.arange(0, n, 3)],
            "event": pa.array(["view"] * n + ["pay"] * len(range(0, n, 3))).dictionary_encode(),
            "ts": np.r_[view, view[::3] + 60],
        }
    )
    result = wb.Funnel(["view", "pay"], window="1h").run(wb.EventLog(table, time_unit="s"))
    began = time.perf_counter()
    trends = conversion_trends(result, "day", tz="Europe/Paris")
    elapsed = time.perf_counter() - began
    assert step_rows(trends, 1)["entrants"].sum() == n
    assert step_rows(trends, 2)["users"].sum() == len(range(0, n, 3))
    assert elapsed < 2.0, f"trends over 1M users took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"period": "weekly"}, wb.exceptions.FunnelDefinitionError, r"got 'weekly'.*'week'"),
        ({"period": "D"}, wb.exceptions.FunnelDefinitionError, r"'day', 'week' or 'month'"),
        ({"tz": "Asia/Shangai"}, wb.exceptions.FunnelDefinitionError, r"unknown time zone"),
        ({"tz": "Mars/Olympus"}, wb.exceptions.FunnelDefinitionError, r"'Mars/Olympus'"),
        ({"confidence": 1.5}, ValueError, r"confidence must be strictly between 0 and 1"),
    ],
)
def test_errors_name_the_bad_value(kwargs, error, message) -> None:
    result = run([(1, "view", "2026-01-01")])
    with pytest.raises(error, match=message):
        conversion_trends(result, **kwargs)


def test_in_progress_and_conversions_counting() -> None:
    rows = [
        (1, "view", "2026-01-01 10:00"),
        (1, "pay", "2026-01-01 10:30"),
        (2, "view", "2026-01-02 10:00"),
        (3, "view", "2026-01-02 23:00"),
        (4, "search", "2026-01-02 23:30"),  # the log ends here, inside user 3's window
    ]
    result = run(rows, window="1h")
    table = conversion_trends(result, "day")
    day2 = table[table["period_start"].dt.day == 2]
    assert day2["in_progress"].tolist() == [1, 1]  # user 3, still inside the window
    assert table[table["period_start"].dt.day == 1]["in_progress"].tolist() == [0, 0]

    # Counting attempts: user 1 tries again the next day.
    df = pd.DataFrame(
        [
            (1, "view", "2026-01-01 10:00"),
            (1, "pay", "2026-01-01 10:30"),
            (1, "view", "2026-01-02 10:00"),
            (2, "view", "2026-01-02 11:00"),
            (2, "pay", "2026-01-02 11:10"),
        ],
        columns=["user_id", "event", "time"],
    )
    df["time"] = pd.to_datetime(df["time"])
    funnel = wb.Funnel(["view", "pay"], window="1h", counting="conversions")
    table = conversion_trends(funnel.run(wb.EventLog(df)), "day")
    assert "conversions" in table.columns and "users" not in table.columns
    assert step_rows(table, 1)["entrants"].tolist() == [1, 2]
    assert step_rows(table, 2)["conversions"].tolist() == [1, 1]
