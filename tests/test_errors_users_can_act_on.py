"""Bad input gets an error that names the column, value or row and what was expected."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench import exceptions as ex


def test_misspelled_column_is_named_with_suggestion_and_listing(shop_df) -> None:
    with pytest.raises(ex.ColumnNotFoundError) as err:
        wb.EventLog(shop_df, user="usr_id")
    message = str(err.value)
    assert "'usr_id'" in message and "did you mean 'user_id'" in message
    assert "'platform'" in message  # lists the columns there are


def test_missing_default_column_says_how_to_name_it() -> None:
    df = pd.DataFrame({"who": [1], "event": ["a"], "time": [dt.datetime(2026, 1, 1)]})
    with pytest.raises(ex.ColumnNotFoundError, match=r"no user column found.*user='\.\.\.'"):
        wb.EventLog(df)


@pytest.mark.parametrize("column", ["user_id", "event", "time"])
def test_nulls_are_counted_and_located(shop_df, column) -> None:
    df = shop_df.astype({"user_id": "Int64"}) if column == "user_id" else shop_df.copy()
    df.loc[[2, 5], column] = None
    with pytest.raises(ex.NullValuesError) as err:
        wb.EventLog(df)
    assert str(err.value) == (
        f"column '{column}' has 2 null value(s), first at row 2; "
        "clean them or pass drop_nulls=True to skip those rows"
    )


def test_drop_nulls_skips_those_rows(shop_df) -> None:
    df = shop_df.copy()
    df.loc[6, "event"] = None
    log = wb.EventLog(df, drop_nulls=True)
    assert len(log) == 7
    assert log.dropped_rows == 1
    assert wb.Funnel(["view", "cart", "pay"]).run(log).levels.to_dict() == {1: 3, 2: 1, 3: 1, 4: 0}


def test_unsupported_time_type_says_what_is_expected(shop_df) -> None:
    df = shop_df.assign(time=shop_df["time"].astype(str))
    with pytest.raises(
        ex.SchemaError, match=r"column 'time' has type (Large)?Utf8.*expected a timestamp"
    ):
        wb.EventLog(df)


def test_integer_epochs_need_a_unit(shop_df) -> None:
    df = shop_df.assign(time=range(len(shop_df)))
    with pytest.raises(ex.SchemaError, match=r"state the unit \(time_unit="):
        wb.EventLog(df)


def test_unsupported_user_key_type(shop_df) -> None:
    df = shop_df.assign(user_id=shop_df["user_id"].astype(float))
    with pytest.raises(
        ex.SchemaError, match=r"column 'user_id' has type Float64.*integers or strings"
    ):
        wb.EventLog(df)


def test_empty_log() -> None:
    table = pa.table(
        {
            "user_id": pa.array([], pa.int64()),
            "event": pa.array([], pa.string()),
            "time": pa.array([], pa.timestamp("ms")),
        }
    )
    with pytest.raises(ex.EmptyLogError, match="empty"):
        wb.EventLog(table)


def test_all_rows_null_is_an_empty_log(shop_df) -> None:
    df = shop_df.copy()
    df["event"] = None
    with pytest.raises(ex.EmptyLogError, match=r"after dropping 8 row\(s\) with nulls"):
        wb.EventLog(df.astype({"event": "string"}), drop_nulls=True)


def test_unknown_step_event_warns_with_closest_names(shop_log) -> None:
    with pytest.warns(
        ex.UnknownEventWarning, match=r"step 2 names event 'crat'.*did you mean 'cart'"
    ):
        result = wb.Funnel(["view", "crat"]).run(shop_log)
    assert result.level_counts() == [1, 3, 0]


def test_negative_window_but_zero_is_fine(shop_log) -> None:
    with pytest.raises(ex.FunnelDefinitionError, match="must not be negative"):
        wb.Funnel(["view", "cart"], window="-1h")
    assert wb.Funnel(["view", "cart"], window="0s").run(shop_log).level_counts() == [1, 3, 0]


def test_unreadable_window() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=r"cannot read the window '3 fortnights'"):
        wb.Funnel(["a"], window="3 fortnights")


def test_window_finer_than_the_log_unit(shop_df) -> None:
    df = shop_df.assign(time=(shop_df["time"] - pd.Timestamp(0)) // pd.Timedelta(1, "s"))
    log = wb.EventLog(df, time_unit="s")
    with pytest.raises(ex.FunnelDefinitionError, match=r"finer than the log's time unit \(s\)"):
        wb.Funnel(["view", "cart"], window="1500ms").run(log)


def test_more_than_32_steps() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match="at most 32 steps; this one has 33"):
        wb.Funnel(["a"] * 33)


def test_no_steps_and_bad_step_types() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match="at least one step"):
        wb.Funnel([])
    with pytest.raises(ex.FunnelDefinitionError, match="steps must be a list"):
        wb.Funnel("view")
    with pytest.raises(ex.FunnelDefinitionError, match="got 42"):
        wb.Funnel(["view", 42])


def test_allow_reentry_needs_strict_order() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match="allow_reentry only applies together"):
        wb.Funnel(["a", "b"], allow_reentry=True)


def test_condition_on_missing_property(shop_log) -> None:
    funnel = wb.Funnel([wb.Step("view", where=wb.col("plaform") == "ios")])
    with pytest.raises(ex.ColumnNotFoundError, match="did you mean 'platform'"):
        funnel.run(shop_log)


def test_condition_with_wrong_value_type(shop_log) -> None:
    funnel = wb.Funnel([wb.Step("view", where=wb.col("price") > "cheap")])
    with pytest.raises(
        ex.FunnelDefinitionError, match=r"cannot compare column 'price' of type double"
    ):
        funnel.run(shop_log)


def test_breakdown_by_unknown_property(shop_log) -> None:
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.ColumnNotFoundError, match="did you mean 'platform'"):
        result.breakdown("platfrom")


def test_user_table_with_duplicate_keys(shop_log) -> None:
    users = pd.DataFrame({"user_id": [1, 1], "tier": ["a", "b"]})
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.SchemaError, match=r"lists user 1 more than once in 'user_id'"):
        result.breakdown("tier", users=users)


def test_every_error_is_a_workbench_error() -> None:
    for name in ex.__all__:
        cls = getattr(ex, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, Warning):
            assert issubclass(cls, ex.WorkbenchError), name
    assert ex.NullValuesError.__module__ == "workbench.exceptions"
