"""For any funnel (optional steps, exclusions, per-step windows, held properties, either counting
mode, any order) every rate of the step table and of a breakdown stays within [0, 1], and every
drill-down holds exactly the users the table counts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb

EVENTS = ["a", "b", "c", "d", "x"]
RATES = ("conversion_from_previous", "conversion_from_first")

rows_strategy = st.lists(
    st.tuples(
        st.integers(1, 5),  # user
        st.sampled_from(EVENTS),
        st.integers(0, 30),  # seconds: ties are common
        st.sampled_from(["ios", "web", None]),  # a property to break down and hold by
    ),
    min_size=1,
    max_size=50,
)


@st.composite
def funnels(draw: st.DrawFn) -> wb.Funnel:
    n = draw(st.integers(1, 4))
    order = draw(st.sampled_from(["sequential", "strict", "any"]))
    ordered = order != "any"
    steps = []
    for number in range(1, n + 1):
        events = draw(st.lists(st.sampled_from(EVENTS[:4]), min_size=1, max_size=2, unique=True))
        middle = 1 < number < n
        steps.append(
            wb.Step(
                events,
                optional=ordered and middle and draw(st.booleans()),
                within=f"{draw(st.integers(0, 10))}s"
                if ordered and number > 1 and draw(st.booleans())
                else None,
            )
        )
    exclusions = []
    if ordered and n >= 2:
        for _ in range(draw(st.integers(0, 2))):
            after = draw(st.integers(1, n - 1))
            before = draw(st.integers(after + 1, n))
            exclusions.append(
                wb.Exclusion(draw(st.sampled_from(["x", "d"])), after=after, before=before)
            )
    return wb.Funnel(
        steps,
        window=f"{draw(st.integers(0, 20))}s",
        order=order,
        exclusions=exclusions,
        hold="platform" if draw(st.booleans()) else None,
        counting=draw(st.sampled_from(["users", "conversions"])),
        analysis_end=draw(st.one_of(st.none(), st.integers(0, 40))),
    )


def log_of(rows: list[tuple[int, str, int, str | None]]) -> wb.EventLog:
    frame = pd.DataFrame(rows, columns=["user_id", "event", "time", "platform"])
    return wb.EventLog(frame, time_unit="s")


def assert_rates_are_shares(table: pd.DataFrame, where: str) -> None:
    for column in RATES:
        rates = table[column].dropna()
        assert rates.between(0, 1).all(), (where, column, table[column].tolist())
        low = table[f"{column}_low"].dropna()
        high = table[f"{column}_high"].dropna()
        assert low.between(0, 1).all() and high.between(0, 1).all(), (where, column)
        assert (low <= rates.loc[low.index] + 1e-12).all(), (where, column)
        assert (rates.loc[high.index] <= high + 1e-12).all(), (where, column)


def users_behind(result: wb.FunnelResult, units: np.ndarray) -> int:
    """How many distinct users the counted units in ``units`` belong to."""
    out = result.outcomes
    return len(np.unique(out.users[units & out.counted]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy, funnels())
def test_every_rate_is_a_share_and_every_drill_down_matches_its_count(rows, funnel) -> None:
    log = log_of(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wb.exceptions.UnknownEventWarning)
        result = funnel.run(log)
    table = result.table
    assert_rates_are_shares(table, "table")
    out = result.outcomes
    by_users = funnel.counting == "users"
    for step in range(1, funnel.n_steps + 1):
        row = table.iloc[step - 1]
        counted = int(row[result.counted])
        reached = out.reached_step(step)
        assert int((reached & out.counted).sum()) == counted
        # Counting users, a drill-down holds exactly the users counted; counting attempts,
        # the users those attempts belong to.
        assert len(result.reached(step)) == (counted if by_users else users_behind(result, reached))
        in_progress = out.in_progress & (out.levels == step) & (out.levels < funnel.n_steps)
        assert len(result.in_progress(step)) == (
            int(row["in_progress"]) if by_users else users_behind(result, in_progress)
        )
        if step < funnel.n_steps:
            dropped = (out.levels == step) & ~out.in_progress
            expected = int(row["dropped"]) if by_users else users_behind(result, dropped)
            assert len(result.dropped_after(step)) == expected
        else:
            assert int(row["dropped"]) == 0  # the last step is conversion
        if funnel.exclusions and by_users:
            assert len(result.excluded(step)) == int(row["excluded"])
    assert len(result.entered()) == len(result.reached(1))
    assert len(result.converted()) == len(result.reached(funnel.n_steps))

    breakdown = result.breakdown("platform")
    assert_rates_are_shares(breakdown, "breakdown")
    if not by_users:
        return  # a group of attempts is no set of users: see docs/funnel-semantics.md
    for value, group_table in breakdown.groupby("platform", observed=True):
        group = result.breakdown_group("platform", value)
        for step in range(1, funnel.n_steps + 1):
            counted = int(group_table[group_table["step"] == step][result.counted].iloc[0])
            assert len(result.reached(step, group=group)) == counted, (value, step)
