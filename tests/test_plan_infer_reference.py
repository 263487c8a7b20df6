"""The NumPy-counting TrackingPlan.infer drafts exactly the plan the pandas one drafted
(tests/plan_infer_reference.py, ties pinned): events, properties, types, null rates, distinct
counts, examples in order, allowed values and ranges, for any mix of columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_infer_reference import reference_infer

import workbench as wb
from workbench.plan import TrackingPlan

_EVENTS = ["view", "cart", "pay", "search"]


@st.composite
def logs(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Few distinct values so that ties between equally frequent values are common.
    k = draw(st.integers(1, 5))
    events = rng.choice(_EVENTS[: draw(st.integers(1, 4))], n)
    columns: dict[str, pa.Array] = {
        "user_id": pa.array(rng.integers(0, draw(st.integers(1, 8)), n)),
        "event": pa.array(events),
        "time": pa.array(rng.integers(0, 10**6, n)),
    }

    def nulls(values: pa.Array) -> pa.Array:
        if draw(st.booleans()):
            return values
        mask = rng.random(n) < draw(st.sampled_from([0.2, 0.6, 1.0]))
        if draw(st.booleans()):  # only on some events, as event-specific properties are
            mask |= events != events[0]
        return pa.array(values.to_pylist(), type=values.type, mask=mask)

    columns["platform"] = nulls(pa.array(rng.choice(["ios", "web", "android", "Ω"][:k], n)))
    columns["qty"] = nulls(pa.array(rng.integers(-k, k, n)))
    columns["big"] = nulls(pa.array(rng.choice([0, 2**40, -(2**50), 7][:k], n)))
    price = rng.choice([0.5, -0.0, 0.0, 1e-5, np.nan, 3.25][: k + 1], n)
    columns["price"] = nulls(pa.array(price))
    columns["vip"] = nulls(pa.array(rng.random(n) < 0.5))
    day = dt.datetime(2026, 1, 1)
    stamps = [day + dt.timedelta(seconds=int(s)) for s in rng.integers(0, k * 10, n)]
    columns["seen"] = nulls(pa.array(stamps, pa.timestamp("ms", tz="UTC")))
    columns["level"] = nulls(pa.array(rng.integers(0, k, n).astype(np.uint8)))
    if draw(st.booleans()):
        columns["tags"] = pa.array([[1]] * n)  # nested: left out by both
    return pa.table(columns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.integers(0, 6))
def test_infer_matches_the_reference(table: pa.Table, max_allowed: int) -> None:
    log = wb.EventLog(table, time_unit="s", progress=False)
    got = TrackingPlan.infer(log, max_allowed=max_allowed).to_dict()
    expected = reference_infer(log, max_allowed=max_allowed).to_dict()
    assert got == expected


def test_a_plain_table_and_string_users_draft_the_same_plan() -> None:
    rng = np.random.default_rng(3)
    n = 500
    table = pa.table(
        {
            # A few rows without a user: the drafts count them as one more user.
            "user_id": pa.array([f"u{i}" if i else None for i in rng.integers(0, 40, n)]),
            "event": pa.array(rng.choice(_EVENTS, n)),
            "time": pa.array(rng.integers(0, 10**6, n)),
            "campaign": pa.array(rng.choice(["a", "b", "c"], n)),
            "amount": pa.array(rng.integers(0, 10**9, n)),  # too wide for the direct ranks
        }
    )
    got = TrackingPlan.infer(table).to_dict()
    assert got == reference_infer(table).to_dict()
    frame = table.to_pandas()
    users = frame.groupby("event")["user_id"].nunique(dropna=False).to_dict()
    assert {e: got["events"][e]["observed"]["users"] for e in _EVENTS} == users
