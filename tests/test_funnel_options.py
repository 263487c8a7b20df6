"""The product options, one behaviour per test, on logs small enough to check by eye."""

from __future__ import annotations

import chdb
import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench import exceptions as ex


def log_of(rows, **options) -> wb.EventLog:
    columns = ["user_id", "event", "ts", "product", "session_id", "platform"]
    padded = [tuple(r) + (None,) * (len(columns) - len(r)) for r in rows]
    df = pd.DataFrame(padded, columns=columns)
    return wb.EventLog(df, time="ts", time_unit="s", **options)


ABC = ["a", "b", "c"]


def levels(funnel: wb.Funnel, log: wb.EventLog) -> dict:
    return funnel.run(log).levels.to_dict()


def test_strict_order_lets_a_later_clean_attempt_convert() -> None:
    rows = [(1, "a", 0), (1, "x", 1), (1, "b", 2), (1, "a", 10), (1, "b", 11), (1, "c", 12)]
    log = log_of(rows)
    assert levels(wb.Funnel(ABC, window="1h", order="strict"), log) == {1: 3}
    # ClickHouse's strict_order stops at the first unrelated event after step 1.
    assert levels(wb.Funnel(ABC, window="1h", strict_order=True), log) == {1: 1}


def test_strict_order_counts_simultaneous_events_as_not_between() -> None:
    rows = [(1, "a", 0), (1, "x", 0), (1, "b", 5)]
    assert levels(wb.Funnel(["a", "b"], window="1h", order="strict"), log_of(rows)) == {1: 2}


def test_any_order_counts_distinct_steps_in_one_window() -> None:
    rows = [(1, "c", 0), (1, "a", 5), (1, "b", 9), (2, "c", 0), (2, "a", 50)]
    result = wb.Funnel(ABC, window="10s", order="any").run(log_of(rows))
    assert result.levels.to_dict() == {1: 3, 2: 1}


def test_exclusion_voids_the_chain_and_reports_the_user_apart() -> None:
    rows = [
        (1, "a", 0),
        (1, "refund", 5),
        (1, "b", 10),  # excluded between a and b
        (2, "a", 0),
        (2, "b", 5),
        (2, "refund", 6),  # after b: not between a and b
        (3, "a", 0),
        (3, "b", 5),
    ]
    funnel = wb.Funnel(
        ["a", "b"], window="1h", exclusions=[wb.Exclusion("refund", after=1, before=2)]
    )
    result = funnel.run(log_of(rows))
    assert result.levels.to_dict() == {1: 0, 2: 2, 3: 2}
    assert result.table["users"].tolist() == [2, 2]
    assert result.table["excluded"].tolist() == [1, 0]
    assert list(result.excluded()) == [1]
    assert list(result.excluded(1)) == [1]
    assert list(result.excluded(2)) == []


def test_exclusion_outside_the_window_does_not_void() -> None:
    rows = [(1, "a", 0), (1, "refund", 100), (2, "b", 0)]
    funnel = wb.Funnel(["a", "b"], window="10s", exclusions=[wb.Exclusion("refund")])
    assert funnel.run(log_of(rows)).levels.to_dict() == {1: 1, 2: 0}


def test_hold_property_constant_needs_one_value_across_steps() -> None:
    rows = [(1, "a", 0, "p1"), (1, "b", 5, "p2"), (2, "a", 0, "p1"), (2, "b", 5, "p1")]
    log = log_of(rows)
    assert levels(wb.Funnel(["a", "b"], window="1h"), log) == {1: 2, 2: 2}
    assert levels(wb.Funnel(["a", "b"], window="1h", hold="product"), log) == {1: 1, 2: 2}


def test_session_option_holds_the_session_constant() -> None:
    rows = [
        (1, "a", 0, None, "s1"),
        (1, "b", 5, None, "s2"),
        (2, "a", 0, None, "s1"),
        (2, "b", 5, None, "s1"),
    ]
    assert levels(wb.Funnel(["a", "b"], window="1h", session=True), log_of(rows)) == {1: 1, 2: 2}


def test_hold_and_session_match_clickhouse_grouped_by_the_held_value() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 80, n),
            "event": rng.choice(["a", "b", "c", "x"], n),
            "ts": rng.integers(0, 500, n).astype("uint64"),
            "product": rng.choice(["p1", "p2", "p3"], n),
        }
    )
    sql = (
        "SELECT user_id, max(level) AS level FROM (SELECT user_id, product, "
        "windowFunnel(60)(ts, event = 'a', event = 'b', event = 'c') AS level "
        "FROM Python(df) GROUP BY user_id, product) GROUP BY user_id ORDER BY user_id"
    )
    expected = chdb.query(sql, "DataFrame")
    log = wb.EventLog(df, time="ts", time_unit="s")
    got = wb.Funnel(ABC, window="60s", hold="product").run(log).levels
    assert got.tolist() == expected["level"].tolist()


def test_conversions_count_every_attempt_after_the_previous_one_ended() -> None:
    rows = [
        (1, "a", 0),
        (1, "b", 5),  # attempt 1 converts at 5
        (1, "a", 6),
        (1, "b", 8),  # attempt 2 converts at 8
        (1, "a", 9),  # attempt 3 expires without b
        (2, "a", 0),
        (2, "a", 3),
        (2, "b", 4),  # one attempt: a@3 falls inside it
    ]
    result = wb.Funnel(["a", "b"], window="5s", counting="conversions").run(log_of(rows))
    assert result.table["conversions"].tolist() == [4, 3]
    assert result.counted == "conversions"
    assert result.levels.to_dict() == {1: 2, 2: 2}  # per user: the furthest any attempt got


def test_optional_step_may_be_skipped() -> None:
    rows = [(1, "a", 0), (1, "c", 5), (2, "a", 0), (2, "b", 2), (2, "c", 5)]
    funnel = wb.Funnel(["a", wb.Step("b", optional=True), "c"], window="1h")
    result = funnel.run(log_of(rows))
    assert result.levels.to_dict() == {1: 3, 2: 3}
    assert result.table["users"].tolist() == [2, 1, 2]


def test_per_step_window_limits_time_from_the_previous_step() -> None:
    rows = [(1, "a", 0), (1, "b", 100), (1, "c", 105), (2, "a", 0), (2, "b", 10), (2, "c", 15)]
    funnel = wb.Funnel(["a", wb.Step("b", within="30s"), "c"], window="1h")
    assert funnel.run(log_of(rows)).levels.to_dict() == {1: 1, 2: 3}


def test_open_windows_are_in_progress_not_dropped() -> None:
    rows = [(1, "a", 0), (2, "a", 95), (3, "a", 0), (3, "b", 1), (4, "x", 100)]
    result = wb.Funnel(["a", "b"], window="10s").run(log_of(rows))
    table = result.table
    assert table["in_progress"].tolist() == [1, 0]  # user 2's window is open at t=100
    assert table["dropped"].tolist() == [1, 0]  # user 1 only
    assert list(result.in_progress()) == [2]
    assert list(result.in_progress(1)) == [2]
    assert list(result.in_progress(2)) == []
    assert list(result.dropped_after(1)) == [1]
    later = wb.Funnel(["a", "b"], window="10s", analysis_end=200).run(log_of(rows))
    assert later.table["in_progress"].tolist() == [0, 0]


def test_breakdown_attribution_first_last_and_named_step() -> None:
    rows = [
        (1, "a", 0, None, None, "web"),
        (1, "b", 5, None, None, "ios"),
        (1, "c", 9, None, None, "android"),
        (2, "a", 0, None, None, "web"),
    ]
    result = wb.Funnel(ABC, window="1h").run(log_of(rows))
    first = result.breakdown("platform")
    assert set(first["platform"]) == {"web"}
    last = result.breakdown("platform", attribution="last_touch")
    by_last = last[last["step"] == 1].set_index("platform")["users"].to_dict()
    assert by_last == {"android": 1, "web": 1}
    second = result.breakdown("platform", attribution=2)
    assert second[second["step"] == 1].set_index("platform")["users"].to_dict() == {
        "ios": 1,
        "(missing)": 1,
    }


def test_breakdown_top_n_groups_the_rest_as_other() -> None:
    rows = [(u, "a", 0, None, None, f"p{u % 4}") for u in range(12)] + [
        (u, "a", 0, None, None, "rare") for u in range(12, 13)
    ]
    table = wb.Funnel(["a"]).run(log_of(rows)).breakdown("platform", top=2)
    assert table["platform"].cat.categories.tolist() == ["p0", "p1", "(other)"]
    assert table.set_index("platform")["users"].to_dict() == {"p0": 3, "p1": 3, "(other)": 7}


def test_breakdown_by_segments_of_users() -> None:
    rows = [(1, "a", 0), (1, "b", 1), (2, "a", 0), (3, "a", 0), (3, "b", 2)]
    log = log_of(rows)
    result = wb.Funnel(["a", "b"]).run(log)
    vips = wb.Audience.from_keys(log, [1, 2])
    table = result.breakdown({"vip": vips, "everyone": ~wb.Audience.empty(log)})
    assert table[table["segment"] == "vip"]["users"].tolist() == [2, 1]
    assert table[table["segment"] == "everyone"]["users"].tolist() == [3, 2]


def test_product_options_with_clickhouse_modes_are_refused() -> None:
    with pytest.raises(ex.FunnelDefinitionError, match="cannot be combined"):
        wb.Funnel(["a", "b"], strict_order=True, order="strict")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "sideways"}, "order must be 'sequential', 'strict' or 'any'"),
        ({"counting": "sessions"}, "counting must be 'users' or 'conversions'"),
        ({"order": "any", "exclusions": [wb.Exclusion("x")]}, "exclusions need ordered steps"),
    ],
)
def test_bad_options_say_what_is_allowed(kwargs, message) -> None:
    log = log_of([(1, "a", 0), (1, "x", 1), (1, "b", 2)])
    with pytest.raises(ex.FunnelDefinitionError, match=message):
        wb.Funnel(["a", "b"], **kwargs).run(log)


def test_first_and_last_steps_cannot_be_optional() -> None:
    log = log_of([(1, "a", 0), (1, "b", 1)])
    with pytest.raises(ex.FunnelDefinitionError, match="step 1 cannot be optional"):
        wb.Funnel([wb.Step("a", optional=True), "b"]).run(log)
    with pytest.raises(ex.FunnelDefinitionError, match=r"last step .* cannot be optional"):
        wb.Funnel(["a", wb.Step("b", optional=True)]).run(log)


def test_exclusion_outside_the_steps_is_refused() -> None:
    log = log_of([(1, "a", 0), (1, "x", 1), (1, "b", 2)])
    with pytest.raises(ex.FunnelDefinitionError, match=r"1 <= after < before <= 2; got after=2"):
        wb.Funnel(["a", "b"], exclusions=[wb.Exclusion("x", after=2, before=2)]).run(log)


def test_session_without_a_session_column() -> None:
    df = pd.DataFrame({"user_id": [1], "event": ["a"], "ts": [0]})
    log = wb.EventLog(df, time="ts", time_unit="s")
    with pytest.raises(ex.FunnelDefinitionError, match="session=True needs a session column"):
        wb.Funnel(["a"], session=True).run(log)


def test_holding_an_unknown_property() -> None:
    log = log_of([(1, "a", 0, "p")])
    with pytest.raises(ex.ColumnNotFoundError, match="did you mean 'product'"):
        wb.Funnel(["a"], hold="prodct").run(log)


def test_strict_attempts_end_when_another_event_breaks_them() -> None:
    rows = [
        (1, "a", 0),
        (1, "x", 1),
        (1, "b", 2),  # attempt 1 broken by x: level 1
        (1, "a", 3),
        (1, "b", 4),  # attempt 2 converts
        (1, "a", 5),
        (1, "x", 6),  # attempt 3 broken: level 1
    ]
    result = wb.Funnel(["a", "b"], window="1h", order="strict", counting="conversions").run(
        log_of(rows)
    )
    assert sorted(result.outcomes.levels.tolist()) == [1, 1, 2]
    assert result.table["conversions"].tolist() == [3, 1]
    assert result.table["in_progress"].tolist() == [0, 0]  # broken attempts cannot move on
    assert result.table["dropped"].tolist() == [2, 0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: wb.Funnel([wb.Step("a", optional=True), "b"]), "step 1 cannot be optional"),
        (lambda: wb.Funnel(["a", wb.Step("b", optional=True)]), r"last step \(2\) cannot"),
        (lambda: wb.Funnel([wb.Step("a", within="5m"), "b"]), "step 1 has no previous step"),
        (
            lambda: wb.Funnel(["a", "b"], exclusions=[wb.Exclusion("x", after=2, before=2)]),
            r"exclusion 1 \('x'\) must sit between two steps",
        ),
        (
            lambda: wb.Funnel(["a", "b", "c"], exclusions=[wb.Exclusion("x", before=4)]),
            r"before <= 3; got after=1, before=4",
        ),
        (lambda: wb.Funnel(["a", "b"], order="strict", strict_order=True), "ClickHouse modes"),
        (lambda: wb.Funnel(["a", "b"], allow_reentry=True), "only applies together with strict"),
        (
            lambda: wb.Funnel(["a", "b"], order="any", exclusions=[wb.Exclusion("x")]),
            "exclusions need ordered steps",
        ),
        (lambda: wb.Funnel(["a", "b"], order="sideways"), "order must be 'sequential'"),
        (lambda: wb.Funnel(["a", "b"], hold=["p", "p"]), "names a column twice"),
        (lambda: wb.Funnel(["a", "b"], labels={3: "C"}), "step 3 is not a step of this 2-step"),
        (lambda: wb.Funnel(["a", "b"], analysis_end="next tuesday"), "is not a point in time"),
        (lambda: wb.Funnel(["a", "b"], session="yes"), r"session= is True or False"),
    ],
)
def test_definitions_are_refused_when_built_without_any_log(build, message) -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=message):
        build()


def test_optional_step_rates_stay_within_zero_and_one_and_agree_with_drill_downs() -> None:
    # Users 1-3 skip the optional step b; user 4 takes it; user 5 takes it and stops there.
    rows = [
        (1, "a", 0), (1, "c", 5),
        (2, "a", 0), (2, "c", 5),
        (3, "a", 0), (3, "c", 6),
        (4, "a", 0), (4, "b", 2), (4, "c", 5),
        (5, "a", 0), (5, "b", 1),
        (6, "x", 5000),
    ]  # fmt: skip
    result = wb.Funnel(["a", wb.Step("b", optional=True), "c"], window="1h").run(log_of(rows))
    table = result.table
    assert table["users"].tolist() == [5, 2, 4]
    assert table["optional"].tolist() == [False, True, False]
    # From the step before that is not optional: b from a (2 of 5), c from a (4 of 5), never > 1.
    assert table["conversion_from_previous"].tolist() == [1.0, 0.4, 0.8]
    for column in ("conversion_from_previous", "conversion_from_first"):
        assert table[column].between(0, 1).all()
        assert table[f"{column}_low"].le(table[column]).all()
        assert table[f"{column}_high"].between(table[column], 1).all()
    for step in (1, 2, 3):
        assert len(result.reached(step)) == table.loc[step - 1, "users"]
    assert result.reached(2).keys().to_pylist() == [4, 5]  # only the users who took b
    assert result.dropped_after(2).keys().to_pylist() == [5]
    assert table["dropped"].tolist() == [0, 1, 0]
