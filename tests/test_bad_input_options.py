"""Options and parameters of the wrong kind or out of range get a workbench error naming the
parameter, the value and what it takes: windows, analysis_end, hold, breakdowns, labels, bins,
option strings and user tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench import exceptions as ex


@pytest.fixture
def nested_log(shop_df) -> wb.EventLog:
    """The shop log with a list column and a struct column, as JSON events often carry."""
    n = len(shop_df)
    return wb.EventLog(shop_df.assign(items=[[i] for i in range(n)], device=[{"os": "ios"}] * n))


# -- windows and analysis end ---------------------------------------------------------------


@pytest.mark.parametrize(
    "window", ["9999999999d", dt.timedelta(days=999_999_999), np.timedelta64(2**62, "D")]
)
def test_out_of_range_window_is_refused_with_the_longest(window) -> None:
    with pytest.raises(ex.FunnelDefinitionError) as err:
        wb.Funnel(["view", "cart"], window=window)
    assert "is longer than the longest duration a log can hold (106751d, about 292 years)" in str(
        err.value
    )


def test_microsecond_window_counts_exactly_on_a_microsecond_log() -> None:
    rows = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "event": ["view", "cart", "view", "cart"],
            "time": pd.to_datetime(["2026-01-01"] * 4)
            + pd.to_timedelta([0, 500, 0, 501], unit="us"),
        }
    )
    log = wb.EventLog(rows)
    assert log.time_unit == "us"
    funnel = wb.Funnel(["view", "cart"], window="500us")
    assert funnel.window == pd.Timedelta(microseconds=500)
    assert funnel.run(log).levels.to_dict() == {1: 2, 2: 1}  # the window is inclusive
    assert funnel.to_dict()["window"] == "500us"


def test_microsecond_window_on_a_second_log_is_refused(shop_df) -> None:
    log = wb.EventLog(shop_df.assign(time=range(len(shop_df))), time_unit="s")
    with pytest.raises(ex.FunnelDefinitionError, match=r"finer than the log's time unit \(s\)"):
        wb.Funnel(["view", "cart"], window="500us").run(log)


@pytest.mark.parametrize("end", ["end of october", "2026-02-30", object()])
def test_unparseable_analysis_end_is_refused_when_the_funnel_is_built(end) -> None:
    with pytest.raises(ex.FunnelDefinitionError) as err:
        wb.Funnel(["view", "cart"], analysis_end=end)
    assert "is not a point in time" in str(err.value)
    assert "a date string such as '2026-10-31'" in str(err.value)


def test_analysis_end_beyond_int64_is_refused() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=r"analysis_end=2{0}.* beyond the 64-bit"):
        wb.Funnel(["view"], analysis_end=2**64)


def test_analysis_end_outside_what_a_nanosecond_log_holds_is_refused(shop_df) -> None:
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    table = table.set_column(2, "time", table.column("time").cast(pa.timestamp("ns")))
    funnel = wb.Funnel(["view", "cart"], analysis_end="2300-01-01")
    with pytest.raises(ex.ArgumentError) as err:
        funnel.run(wb.EventLog(table))
    assert "analysis_end='2300-01-01' is outside the times a log in ns can hold" in str(err.value)
    assert "2262-04-11" in str(err.value)


def test_analysis_end_far_ahead_works_on_a_microsecond_log(shop_log) -> None:
    result = wb.Funnel(["view", "cart"], analysis_end="9999-01-01").run(shop_log)
    assert result.analysis_end == pd.Timestamp("9999-01-01")
    # By then every window has closed: user 2, who never added to cart in time, dropped.
    assert len(result.in_progress()) == 0
    assert result.dropped_after(1).keys().to_pylist() == [2]


# -- funnel options of the wrong kind ----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hold": 5}, r"hold= takes a column name or a list of them.*got 5"),
        ({"labels": 5}, r"labels map event names or step numbers to display names.*got 5"),
        ({"labels": ["a"]}, r"labels map .*got \['a'\]"),
        ({"exclusions": "refund"}, r"exclusions= takes a list of wb.Exclusion\(\.\.\.\); got"),
        ({"order": "strcit"}, r"order must be .*got 'strcit'; did you mean 'strict'"),
        ({"counting": "attempts"}, r"counting must be 'users' or 'conversions'"),
    ],
)
def test_funnel_options_of_the_wrong_kind_are_named(options, message) -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=message):
        wb.Funnel(["view", "cart"], **options)


def test_funnel_file_with_options_of_the_wrong_kind_names_them() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=r"hold= takes a column name"):
        wb.Funnel.from_dict({"steps": ["view", "cart"], "hold": {"a": 1}})
    with pytest.raises(ex.FunnelDefinitionError, match=r"labels map"):
        wb.Funnel.from_dict({"steps": ["view", "cart"], "labels": ["View"]})


@pytest.mark.parametrize("column", ["items", "device"])
def test_hold_on_a_list_or_struct_column_is_refused(nested_log, column) -> None:
    funnel = wb.Funnel(["view", "cart"], hold=column)
    with pytest.raises(ex.FunnelDefinitionError) as err:
        funnel.run(nested_log)
    message = str(err.value)
    assert f"cannot group events by {column!r} (to hold it constant)" in message
    assert "(lists or structs); use a column of plain values" in message


# -- breakdowns ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["step", "users", "conversion_from_first"])
def test_breakdown_property_named_like_a_table_column_is_refused(shop_df, name) -> None:
    log = wb.EventLog(shop_df.assign(**{name: "x"}))
    result = wb.Funnel(["view", "cart"]).run(log)
    with pytest.raises(ex.FunnelDefinitionError) as err:
        result.breakdown(name)
    message = str(err.value)
    assert f"cannot break down by {name!r}: the step table has a column of that name" in message
    assert f"df.rename(columns={{{name!r}: '{name}_value'}})" in message


@pytest.mark.parametrize("column", ["items", "device"])
def test_breakdown_by_a_list_or_struct_column_is_refused(nested_log, column) -> None:
    result = wb.Funnel(["view", "cart"]).run(nested_log)
    with pytest.raises(
        ex.FunnelDefinitionError, match=f"cannot break down by '{column}': it holds"
    ):
        result.breakdown(column)


def test_breakdown_by_a_user_table_column_of_lists_is_refused(shop_log) -> None:
    users = pd.DataFrame({"user_id": [1, 2, 3, 4], "segments": [["a"], ["b"], [], ["a"]]})
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.FunnelDefinitionError, match="user table's column holds lists"):
        result.breakdown("segments", users=users)


def test_breakdown_by_a_user_table_keyed_by_another_kind_of_key_is_refused(shop_log) -> None:
    # Keys as text against integer user ids: every user would silently land in "(missing)".
    users = pd.DataFrame({"user_id": ["1", "2", "3", "4"], "tier": ["a", "b", "a", "b"]})
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.FunnelDefinitionError) as err:
        result.breakdown("tier", users=users)
    message = str(err.value)
    assert "no key in users['user_id'] is a user of the log" in message
    assert "'(missing)'" in message and "like '1'" in message and "like 1 (int64)" in message


# -- option strings and bitmaps ----------------------------------------------------------------


def test_unknown_missing_option_is_refused(shop_log) -> None:
    data = wb.Audience.all(shop_log).to_bytes()
    with pytest.raises(ex.AudienceError, match=r"missing= is 'error' or 'ignore'; got 'skip'"):
        wb.Audience.from_bytes(shop_log, data, missing="skip")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.to_bytes("roaring"), r"unknown bitmap format 'roaring'; format= is one of"),
        (lambda a: a.to_bytes(bits=7), r"bits=Some\(7\)|bits"),
        (lambda a: a.ids(-1), r"offset is a whole number, zero or more; got -1"),
        (lambda a: a.keys(0, "all"), r"limit is a whole number, zero or more; got 'all'"),
    ],
)
def test_audience_options_of_the_wrong_kind_are_named(shop_log, call, message) -> None:
    with pytest.raises(ex.AudienceError, match=message):
        call(wb.Audience.all(shop_log))


def test_levels_of_the_wrong_kind_are_named(shop_log) -> None:
    levels = wb.Funnel(["view", "cart"]).run(shop_log).levels_array()
    with pytest.raises(
        ex.AudienceError, match="min_level is a whole number, zero or more; got 'a'"
    ):
        wb.Audience.from_levels(shop_log, levels, "a")


# -- user tables for tags --------------------------------------------------------------------


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": [1, 2, 3, 4], "gender": ["F", "M", "F", "M"], "age": [22, 31, 40, 28]}
    )


def test_a_user_listed_twice_in_a_tag_table_is_refused_by_name(shop_log, people) -> None:
    # Two rows for user 3 would tag them both F and M.
    twice = pd.concat([people, pd.DataFrame({"user_id": [3], "gender": ["M"], "age": [40]})])
    for build in (
        lambda: wb.TagStore.from_table(shop_log, twice, categorical=["gender"]),
        lambda: wb.TagStore.from_table(shop_log, twice, bins={"age": [18, 30, 65]}),
        lambda: wb.TagStore(shop_log).add_predicate("old", twice, wb.col("age") > 35),
    ):
        with pytest.raises(ex.SchemaError) as err:
            build()
        message = str(err.value)
        assert "the user table lists user 3 more than once in 'user_id'" in message
        assert "each user needs one row" in message and "tags.add(name" in message


def test_a_tag_table_keyed_by_no_user_of_the_log_is_refused(shop_log, people) -> None:
    strangers = people.assign(user_id=[101, 102, 103, 104])
    with pytest.raises(ex.AudienceError, match=r"no key .* is a user of the log.*like 101"):
        wb.TagStore.from_table(shop_log, strangers, categorical=["gender"])


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([18, float("nan"), 65], r"need numbers for edges .*got nan"),
        (["young", "old"], r"need numbers for edges .*got 'young'"),
        (30, r"are a list of edges, e.g. \[18, 25, 35, float\('inf'\)\]; got 30"),
        ([18, 65, 30], r"need at least two strictly ascending edges"),
        ([True, 5], r"need numbers for edges .*got True"),
    ],
    ids=["nan", "text", "number", "descending", "bool"],
)
def test_bad_bin_edges_are_named(shop_log, people, edges, message) -> None:
    with pytest.raises(ex.AudienceError, match=message):
        wb.TagStore.from_table(shop_log, people, bins={"age": edges})


def test_a_tag_condition_must_give_true_or_false(shop_log, people) -> None:
    store = wb.TagStore(shop_log)
    with pytest.raises(
        ex.AudienceError, match=r"one True or False per row; got str values such as .yes."
    ):
        store.add_predicate("flag", people, ["yes", "no", "yes", "no"])


def test_a_categorical_tag_of_a_list_column_is_refused(shop_log, people) -> None:
    lists = people.assign(gender=[["F"], ["M"], ["F"], ["M"]])
    with pytest.raises(ex.AudienceError, match=r"cannot make a tag per value of 'gender'"):
        wb.TagStore.from_table(shop_log, lists, categorical=["gender"])


def test_tag_names_are_text(shop_log) -> None:
    store = wb.TagStore(shop_log)
    with pytest.raises(ex.AudienceError, match=r"a tag's name is non-empty text; got 5"):
        store.add(5, wb.Audience.all(shop_log))  # type: ignore[arg-type]
    with pytest.raises(ex.UnknownTagError, match="tag names are text; got 5"):
        store[5]  # type: ignore[index]


# -- parameters the fuzz suite and the sweep found unchecked ------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda log: wb.Audience.did(log, 5), r"event is an event name, a list of them, or None"),
        (lambda log: wb.Audience.did(log, [5]), r"event names are text; got 5"),
        (
            lambda log: wb.Audience.did(log, "view", where=["yes"] * len(log.source)),
            r"where= is one True or False per input row; got str values such as 'yes'",
        ),
        (
            lambda log: wb.Audience.did(log, "view", start="2026-02-01", end="2026-01-01"),
            r"start='2026-02-01' is after end='2026-01-01'",
        ),
        (
            lambda log: wb.Audience.from_mask(log, ["a"] * log.n_users),
            r"a mask is one True or False per user of the log; got str values",
        ),
        (
            lambda log: wb.Audience.from_levels(log, [-1, 300, 2, 1], 1),
            r"levels are whole numbers from 0 to 255",
        ),
        (
            lambda log: wb.Audience.from_levels(log, [1.5, 2.0, 0.0, 1.0], 1),
            r"levels are whole numbers .*got float64 values",
        ),
        (lambda log: wb.Audience.all(log).named(5), r"an audience's name is text; got 5"),
        (
            lambda log: wb.Audience.from_bytes(log, "not bytes"),
            r"bitmap bytes are bytes; got str",
        ),
        (
            lambda log: wb.Audience.all(log).to_bytes("portable", bits=128),
            r"bits= is 32, 64 or None \(the format's default\); got 128",
        ),
        (lambda log: wb.Audience.all(log).to_bytes(5), r"unknown bitmap format 5; format= is one"),
        (
            lambda log: wb.overlap(wb.Audience.all(log)),
            r"overlap takes a list of audiences; got Audience",
        ),
        (
            lambda log: wb.overlap([wb.Audience.all(log)] * 2, names="ab"),
            r"names= is a list of names, one per audience; got 'ab'",
        ),
        (
            lambda log: wb.compare(wb.Audience.all(log), wb.Audience.all(log), events="yes"),
            r"events= is True or False; got 'yes'",
        ),
    ],
)
def test_audience_parameters_of_the_wrong_kind_are_named(shop_log, call, message) -> None:
    with pytest.raises(ex.AudienceError, match=message):
        call(shop_log)


def test_profile_min_support_of_the_wrong_kind_is_named(shop_log, people) -> None:
    tags = wb.TagStore.from_table(shop_log, people, categorical=["gender"])
    with pytest.raises(ex.AudienceError, match=r"min_support is a share .*; got '1%'"):
        wb.profile(wb.Audience.all(shop_log), tags, min_support="1%")
    with pytest.raises(ex.AudienceError, match=r"store must be a wb.TagStore; got list"):
        wb.profile(wb.Audience.all(shop_log), [])


def test_trend_time_zone_of_the_wrong_kind_is_named(shop_log) -> None:
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    with pytest.raises(ex.FunnelDefinitionError, match=r"tz is a time zone name .*got 8"):
        result.trends("day", tz=8)


def test_plan_parameters_of_the_wrong_kind_are_named(shop_log) -> None:
    plan = wb.TrackingPlan.infer(shop_log)
    with pytest.raises(ex.ArgumentError, match=r"funnel_coverage takes a funnel .*got str"):
        plan.funnel_coverage("view > cart", shop_log)
    with pytest.raises(ex.ArgumentError, match=r"max_allowed is a whole number .*got '12'"):
        wb.TrackingPlan.infer(shop_log, max_allowed="12")


def test_yaml_given_as_bytes_is_read_as_utf8_with_positions() -> None:
    assert wb.Funnel.from_yaml(b"steps: [view, pay]\n").n_steps == 2
    assert wb.TrackingPlan.from_yaml(b"events: {signup: {}}\n").event_names == ["signup"]
    with pytest.raises(ex.PlanError, match=r"^line 1, column 13: byte 0xe9 is not UTF-8"):
        wb.TrackingPlan.from_yaml(b"events: {caf\xe9: {}}\n")


def test_progress_of_the_wrong_kind_is_named(shop_df) -> None:
    with pytest.raises(ex.ArgumentError, match=r"progress= is True, False, None .*got 'yes'"):
        wb.EventLog(shop_df, progress="yes")
