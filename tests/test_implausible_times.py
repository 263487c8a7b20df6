"""Event times implausibly far from the present are refused as misread (docs/funnel-semantics.md,
Input model): integer epochs in the wrong unit get the unit that fits, sentinels the advice to
filter them; 1970 and 2100 data load as they are, and ``plausible_times`` overrides the rule."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench import exceptions as ex
from workbench.log import PLAUSIBLE_TIMES


def epochs(frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    return frame.assign(time=(frame["time"] - pd.Timestamp(0)) // pd.Timedelta(1, unit))


def test_millisecond_epochs_declared_as_seconds_are_refused_naming_the_unit_that_fits(
    shop_df,
) -> None:
    with pytest.raises(ex.ImplausibleTimesError) as err:
        wb.EventLog(epochs(shop_df, "ms"), time_unit="s")
    message = str(err.value)
    assert "column 'time' has 8 of 8 event times outside 1900-01-01 to 2200-01-01" in message
    assert "the first is at row 0: 1767261600000 read as seconds (time_unit='s'): 57972-" in message
    assert "The values fit as milliseconds: pass time_unit='ms'." in message
    assert "plausible_times=None" in message
    assert isinstance(err.value, ex.SchemaError)
    fixed = wb.EventLog(epochs(shop_df, "ms"), time_unit="ms")
    assert fixed.time_range[0] == pd.Timestamp("2026-01-01 09:00")


@pytest.mark.parametrize(("given", "fits"), [("s", "us"), ("ms", "ns"), ("s", "ns")])
def test_any_too_coarse_unit_is_caught_and_the_right_one_named(shop_df, given, fits) -> None:
    with pytest.raises(ex.ImplausibleTimesError, match=f"pass time_unit='{fits}'"):
        wb.EventLog(epochs(shop_df, fits), time_unit=given)


def test_a_sentinel_date_is_refused_at_its_row_with_advice_to_filter_it(shop_df) -> None:
    frame = shop_df.astype({"time": "datetime64[s]"})
    frame.loc[5, "time"] = pd.Timestamp("9999-12-31")
    with pytest.raises(ex.ImplausibleTimesError) as err:
        wb.EventLog(frame)
    message = str(err.value)
    assert "has 1 of 8 event times outside" in message
    assert "the first is at row 5: 9999-12-31 00:00:00" in message
    assert "a sentinel such as 9999-12-31), filter those rows out first" in message


def test_a_date_column_before_1900_is_refused(shop_df) -> None:
    dates = pa.array([dt.date(2026, 1, 1)] * 7 + [dt.date(1, 1, 1)], pa.date32())
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("time"), "time", dates)
    with pytest.raises(ex.ImplausibleTimesError, match=r"at row 7: 0001-01-01"):
        wb.EventLog(table)


@pytest.mark.parametrize("year", [1900, 1970, 2100, 2199])
def test_1970_2100_and_the_ends_of_the_span_load(shop_df, year) -> None:
    frame = shop_df.assign(
        time=shop_df["time"] + (pd.Timestamp(f"{year}-01-01") - pd.Timestamp("2026-01-01"))
    )
    log = wb.EventLog(frame)
    assert log.time_range[0].year == year


def test_small_integer_epochs_in_1970_load(shop_df) -> None:
    # Synthetic logs count seconds from zero; that is 1970, inside the span.
    log = wb.EventLog(shop_df.assign(time=range(8)), time_unit="s")
    assert log.time_range == (pd.Timestamp(0), pd.Timestamp(7, unit="s"))


def test_plausible_times_none_loads_any_time(shop_df) -> None:
    log = wb.EventLog(epochs(shop_df, "ms"), time_unit="s", plausible_times=None)
    assert log.time_range[0].year == 57972
    # What the rule protects against: read in seconds, five minutes become three days, so a
    # one-day window loses conversions and nothing says so.
    right = wb.EventLog(epochs(shop_df, "ms"), time_unit="ms")
    funnel = wb.Funnel(["view", "cart"], window="1d")
    assert funnel.run(right).level_counts() == [1, 1, 2]
    assert funnel.run(log).level_counts() == [1, 3, 0]


def test_a_wider_span_accepts_older_data_and_a_narrower_one_refuses(shop_df) -> None:
    old = shop_df.assign(time=shop_df["time"] - pd.Timedelta(days=365 * 150))
    with pytest.raises(ex.ImplausibleTimesError):
        wb.EventLog(old)
    assert wb.EventLog(old, plausible_times=("1800-01-01", "2200-01-01")).time_range[0].year == 1876
    with pytest.raises(ex.ImplausibleTimesError, match="outside 2026-01-02 to 2027-01-01"):
        wb.EventLog(shop_df, plausible_times=("2026-01-02", "2027-01-01"))


def test_nulls_dropped_are_not_judged(shop_df) -> None:
    frame = epochs(shop_df, "s").astype({"time": "Int64"})
    frame.loc[2, "time"] = None
    log = wb.EventLog(frame, time_unit="s", drop_nulls=True)
    assert log.dropped_rows == 1


def test_the_documented_span_is_the_default() -> None:
    assert PLAUSIBLE_TIMES == ("1900-01-01", "2200-01-01")


def test_one_misread_row_loaded_anyway_cannot_make_a_trend_list_millions_of_days(shop_df) -> None:
    seconds = epochs(shop_df, "s")
    seconds.loc[3, "time"] = 1_767_225_600_000  # one row in milliseconds among seconds
    with pytest.raises(ex.ImplausibleTimesError, match=r"has 1 of 8 event times .* at row 3"):
        wb.EventLog(seconds, time_unit="s")
    log = wb.EventLog(seconds, time_unit="s", plausible_times=None)
    result = wb.Funnel(["view", "cart"]).run(log)
    with pytest.raises(ex.FunnelDefinitionError, match=r"the log spans 20,[0-9,]+ days"):
        result.trends("day")
