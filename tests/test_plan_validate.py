"""Validation: every violation type, counted per event and property; a row-by-row reference."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.plan import VIOLATIONS, TrackingPlan

PLAN = TrackingPlan.from_dict(
    {
        "common_properties": {
            "platform": {"type": "string", "required": True, "allowed": ["web", "ios"]}
        },
        "events": {
            "view": {"properties": {"page": {"type": "string", "required": True}}},
            "buy": {
                "properties": {
                    "amount": {"type": "float", "required": True, "min": 0, "max": 1000},
                    "qty": {"type": "integer", "allowed": [1, 2, 3]},
                }
            },
            "never": {},
        },
    }
)


def _table() -> pa.Table:
    return pa.table(
        {
            "user_id": [1, 1, 2, 2, 3, 3, 4, 4],
            "event": ["view", "buy", "view", "buy", "oops", "buy", "view", "oops"],
            "time": pa.array(np.arange(8) * 60_000, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "platform": ["web", "web", "android", "ios", "ios", None, "ios", "web"],
            "page": ["home", None, None, None, None, "x", "cart", None],
            "amount": [None, 10.0, None, -5.0, None, 2000.0, None, None],
            "qty": pa.array([None, 1, None, 7, None, 2, None, None], pa.int64()),
        }
    )


def _finding(report: Any, event: str, prop: str | None, violation: str) -> pd.Series:
    t = report.table
    hit = t[
        (t["event"] == event)
        & (t["violation"] == violation)
        & ((t["property"] == prop) if prop else t["property"].isna())
    ]
    assert len(hit) == 1, f"expected one finding for {event}.{prop} {violation}:\n{t}"
    return hit.iloc[0]


def test_each_violation_type_on_a_hand_made_log() -> None:
    report = PLAN.validate(wb.EventLog(_table()))
    t = report.table
    assert set(t["violation"].astype(str)) == set(VIOLATIONS) - {"type_mismatch"}
    oops = _finding(report, "oops", None, "unplanned_event")
    assert (oops["rows"], oops["sample_rows"]) == (2, [4, 7])
    assert oops["first_seen"] == pd.Timestamp("1970-01-01 00:04", tz="UTC")
    assert oops["last_seen"] == pd.Timestamp("1970-01-01 00:07", tz="UTC")
    missing = _finding(report, "view", "page", "missing_required_property")
    assert (missing["rows"], missing["share"], missing["sample_rows"]) == (1, 1 / 3, [2])
    platform = _finding(report, "view", "platform", "value_not_allowed")
    assert platform["sample_rows"] == [2] and "'android'" in platform["detail"]
    assert _finding(report, "buy", "platform", "missing_required_property")["rows"] == 1
    amount = _finding(report, "buy", "amount", "value_not_allowed")
    assert amount["sample_rows"] == [3, 5] and amount["share"] == pytest.approx(2 / 3)
    assert _finding(report, "buy", "qty", "value_not_allowed")["sample_rows"] == [3]
    unknown = _finding(report, "buy", "page", "unknown_property")
    assert unknown["sample_rows"] == [5]
    # Rows 3 and 5 break several rules each but count once among the rows that break the plan.
    assert report.violating_rows["buy"] == 2
    assert not report.ok
    assert "oops" in report.summary() and "<table" in report._repr_html_()


def test_type_mismatch_per_row_and_per_column() -> None:
    plan = TrackingPlan.from_dict(
        {
            "events": {
                "e": {
                    "properties": {
                        "n": {"type": "integer", "min": 0},
                        "s": {"type": "string"},
                        "f": {"type": "float"},
                        "b": {"type": "boolean"},
                    }
                }
            }
        }
    )
    table = pa.table(
        {
            "user_id": [1, 2, 3, 4],
            "event": ["e"] * 4,
            "time": pa.array([0, 1, 2, 3], pa.int64()),
            "n": [1.0, 2.5, None, -3.0],  # floats: 2.5 is not an integer; -3 is out of range
            "s": [1, 2, None, 4],  # numbers where text is planned: every non-null row
            "f": ["1.5", "abc", "7", None],  # text that reads as a number is fine, "abc" is not
            "b": [0, 1, 2, None],  # 0/1 read as booleans, 2 does not
        }
    )
    report = plan.validate(wb.EventLog(table, time_unit="s"))
    assert _finding(report, "e", "n", "type_mismatch")["sample_rows"] == [1]
    assert _finding(report, "e", "n", "value_not_allowed")["sample_rows"] == [3]
    assert _finding(report, "e", "s", "type_mismatch")["sample_rows"] == [0, 1, 3]
    assert _finding(report, "e", "f", "type_mismatch")["sample_rows"] == [1]
    assert _finding(report, "e", "b", "type_mismatch")["sample_rows"] == [2]
    assert len(report.table) == 5


def test_a_required_column_absent_from_the_log() -> None:
    plan = TrackingPlan.from_dict(
        {"events": {"e": {"properties": {"coupon": {"type": "string", "required": True}}}}}
    )
    table = pa.table({"user_id": [1, 2], "event": ["e", "e"], "time": [0, 5]})
    row = _finding(plan.validate(table), "e", "coupon", "missing_required_property")
    assert row["rows"] == 2 and "no column" in row["detail"]


def test_timestamps_ranges_and_clean_logs() -> None:
    plan = TrackingPlan.from_dict(
        {
            "events": {
                "e": {
                    "properties": {
                        "due": {"type": "timestamp", "min": "2026-01-01", "max": "2026-12-31"}
                    }
                }
            }
        }
    )
    table = pa.table(
        {
            "user_id": [1, 2, 3],
            "event": ["e"] * 3,
            "time": [0, 1, 2],
            "due": pa.array(pd.to_datetime(["2026-03-01", "2025-06-01", "2026-05-05"], utc=True)),
        }
    )
    report = plan.validate(wb.EventLog(table, time_unit="s"))
    assert _finding(report, "e", "due", "value_not_allowed")["sample_rows"] == [1]
    clean = plan.validate(wb.EventLog(table.slice(0, 1), time_unit="s"))
    assert clean.ok and clean.table.empty and "matches the plan" in clean.summary()


def test_report_rows_returns_the_offending_rows() -> None:
    report = PLAN.validate(_table())
    rows = report.rows("buy")
    assert rows["_row"].to_pylist() == [3, 5]
    assert report.rows("buy", "qty", "value_not_allowed")["qty"].to_pylist() == [7]
    assert report.rows("view", "nothing").num_rows == 0


# -- against a row-by-row reference on random logs ------------------------------------------------

EVENTS = ["a", "b", "c"]


def _reference(plan: TrackingPlan, df: pd.DataFrame, props: list[str]) -> dict[tuple, int]:
    """The checks written the slow, obvious way: one row at a time."""
    found: dict[tuple, int] = {}

    def hit(key: tuple) -> None:
        found[key] = found.get(key, 0) + 1

    for row in df.itertuples(index=False):
        event = row.event
        if not plan.has_event(event):
            hit((event, None, "unplanned_event"))
            continue
        specs = plan.properties_of(event)
        for prop in props:
            value = getattr(row, prop)
            spec = specs.get(prop)
            null = value is None or (isinstance(value, float) and math.isnan(value))
            if null:
                if spec is not None and spec.required:
                    hit((event, prop, "missing_required_property"))
                continue
            if spec is None:
                hit((event, prop, "unknown_property"))
                continue
            bad = spec.allowed is not None and value not in spec.allowed
            bad |= spec.min is not None and value < spec.min
            bad |= spec.max is not None and value > spec.max
            if bad:
                hit((event, prop, "value_not_allowed"))
    return found


prop_rule = st.fixed_dictionaries(
    {"required": st.booleans()},
    optional={
        "allowed": st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),
        "min": st.integers(0, 4),
        "max": st.integers(0, 4),
    },
)


@settings(max_examples=60, deadline=None)
@given(
    rules=st.dictionaries(
        st.sampled_from(EVENTS[:2]),
        st.dictionaries(st.sampled_from(["x", "y"]), prop_rule, max_size=2),
        min_size=1,
    ),
    rows=st.lists(
        st.tuples(
            st.sampled_from(EVENTS),
            st.one_of(st.none(), st.integers(0, 5)),
            st.one_of(st.none(), st.integers(0, 5)),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_matches_a_row_by_row_reference(rules: dict, rows: list) -> None:
    events = {}
    for name, props in rules.items():
        specs = {}
        for prop, rule in props.items():
            rule = dict(rule, type="integer")
            if "min" in rule and "max" in rule and rule["min"] > rule["max"]:
                rule["min"], rule["max"] = rule["max"], rule["min"]
            specs[prop] = rule
        events[name] = {"properties": specs}
    plan = TrackingPlan.from_dict({"events": events})
    df = pd.DataFrame(rows, columns=["event", "x", "y"])
    table = pa.table(
        {
            "user_id": np.arange(len(df)) % 3,
            "event": df["event"],
            "time": np.arange(len(df)),
            "x": pa.array([r[1] for r in rows], pa.int64()),
            "y": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    report = plan.validate(table)
    got = {
        (r.event, None if pd.isna(r.property) else r.property, str(r.violation)): r.rows
        for r in report.table.itertuples(index=False)
    }
    reference = pd.DataFrame(
        {"event": df["event"], "x": [r[1] for r in rows], "y": [r[2] for r in rows]}, dtype=object
    )
    assert got == _reference(plan, reference, ["x", "y"])
    # Every row behind a finding is in the row mask, and nothing else.
    flagged = set()
    for r in report.table.itertuples(index=False):
        prop = None if pd.isna(r.property) else r.property
        flagged |= set(report.rows(r.event, prop, str(r.violation))["_row"].to_pylist())
    assert flagged == set(np.flatnonzero(report.violating_row_mask))
