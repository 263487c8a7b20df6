"""Audience set algebra, constructors and paging against plain Python sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.audience import Audience
from workbench.exceptions import AudienceError


def make_log(users=(5, 7, 9, 11, 13), rows=None, **kw):
    if rows is None:
        rows = [
            (5, "view", "2026-01-01 10:00", 5.0),
            (5, "cart", "2026-01-01 10:01", 20.0),
            (5, "buy", "2026-01-01 10:02", 20.0),
            (7, "view", "2026-01-01 11:00", 1.0),
            (7, "cart", "2026-01-01 11:05", 3.0),
            (9, "view", "2026-01-02 09:00", 50.0),
            (9, "buy", "2026-01-02 09:30", 50.0),
            (9, "buy", "2026-01-03 09:30", 5.0),
            (11, "view", "2026-01-05 09:00", 1.0),
            (13, "cart", "2026-01-05 09:00", 1.0),
        ]
    df = pd.DataFrame(rows, columns=["user_id", "event", "time", "price"])
    df["time"] = pd.to_datetime(df["time"])
    return wb.EventLog(df, **kw)


@pytest.fixture(scope="module")
def log():
    return make_log()


def keys(a: Audience) -> list:
    return a.keys().to_pylist()


def test_did_counts_events_times_predicates_and_windows(log):
    assert keys(Audience.did(log, "buy")) == [5, 9]
    assert keys(Audience.did(log, "buy", min_times=2)) == [9]
    assert keys(Audience.did(log, ["buy", "cart"])) == [5, 7, 9, 13]
    assert keys(Audience.did(log, None)) == [5, 7, 9, 11, 13]
    assert keys(Audience.did(log, "buy", where=wb.col("price") > 10)) == [5, 9]
    assert keys(Audience.did(log, "buy", where=wb.col("price") < 10)) == [9]
    assert keys(Audience.did(log, "view", start="2026-01-02")) == [9, 11]
    assert keys(Audience.did(log, "view", end="2026-01-02")) == [5, 7]
    assert keys(Audience.did(log, "buy", start="2026-01-03", min_times=1)) == [9]


def test_unknown_event_suggests_close_names(log):
    with pytest.raises(AudienceError, match=r"'biy'.*'buy'"):
        Audience.did(log, "biy")
    with pytest.raises(AudienceError, match="min_times"):
        Audience.did(log, "buy", min_times=0)


def test_from_keys_names_missing_keys_and_counts_them(log):
    assert keys(Audience.from_keys(log, [13, 5, 5])) == [5, 13]
    with pytest.raises(AudienceError) as err:
        Audience.from_keys(log, [5, 1, 2, 3, 4, 6, 8])
    message = str(err.value)
    assert message.startswith("6 user key(s) are not in the event log")
    assert "1, 2, 3, 4, 6" in message and "8" not in message.split("e.g.")[1].split(";")[0]
    with pytest.raises(AudienceError, match="integers"):
        Audience.from_keys(log, ["a"])


def test_string_keyed_logs():
    rows = [("ann", "view", "2026-01-01", 1.0), ("bob", "buy", "2026-01-01", 1.0)]
    slog = make_log(rows=rows)
    a = Audience.from_keys(slog, ["bob"])
    assert keys(a) == ["bob"] and "bob" in a and "ann" not in a and "zed" not in a
    assert keys(~a) == ["ann"]
    with pytest.raises(AudienceError, match="strings"):
        a.to_bytes()


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from([5, 7, 9, 11, 13])), st.sets(st.sampled_from([5, 7, 9, 11, 13])))
def test_algebra_matches_python_sets(log, xs, ys):
    a, b = Audience.from_keys(log, sorted(xs)), Audience.from_keys(log, sorted(ys))
    everyone = {5, 7, 9, 11, 13}
    assert keys(a & b) == sorted(xs & ys)
    assert keys(a | b) == sorted(xs | ys)
    assert keys(a - b) == sorted(xs - ys)
    assert keys(a ^ b) == sorted(xs ^ ys)
    assert keys(~a) == sorted(everyone - xs)
    assert len(a) == len(xs)
    assert (a == b) == (xs == ys)
    assert all((k in a) == (k in xs) for k in everyone | {0, 99})
    assert list(a) == sorted(xs)


def test_paging_and_ids(log):
    a = Audience.all(log)
    assert keys(a) == [5, 7, 9, 11, 13]
    assert a.keys(1, 2).to_pylist() == [7, 9]
    assert a.keys(4).to_pylist() == [13]
    assert a.keys(10).to_pylist() == []
    assert a.ids(0, 2).to_pylist() == [0, 1]
    assert len(Audience.empty(log)) == 0 and not Audience.empty(log)


def test_audiences_of_different_logs_do_not_mix(log):
    other = make_log()
    with pytest.raises(AudienceError, match=r"right side of intersect \(&\).*another event log"):
        Audience.all(log) & Audience.all(other)
    assert Audience.all(log) != Audience.all(other)
    with pytest.raises(AudienceError, match="an Audience and a set"):
        Audience.all(log) & {5}


def test_from_mask_and_levels(log):
    assert keys(Audience.from_mask(log, [True, False, True, False, False])) == [5, 9]
    levels = np.array([3, 2, 1, 1, 0], dtype=np.uint8)
    assert keys(Audience.from_levels(log, levels, 1, 1)) == [9, 11]
    assert keys(Audience.from_levels(log, levels, 2)) == [5, 7]
    with pytest.raises(AudienceError, match="levels cover 2 users"):
        Audience.from_levels(log, levels[:2], 1)


def test_to_pandas_joins_attributes_and_pages(log):
    users = pd.DataFrame({"uid": [5, 9, 100], "city": ["Oslo", "Rome", "Nowhere"]})
    a = Audience.from_keys(log, [5, 7, 9])
    frame = a.to_pandas(users, key="uid")
    assert frame["user_id"].tolist() == [5, 7, 9]
    assert frame["city"].tolist()[0] == "Oslo" and pd.isna(frame["city"][1])
    assert a.to_pandas(offset=1, limit=1)["user_id"].tolist() == [7]
    with pytest.raises(wb.exceptions.ColumnNotFoundError, match="'user_id' is not in the user"):
        a.to_pandas(users)


def test_repr_names_size(log):
    assert "2 of 5 users" in repr(Audience.did(log, "buy"))
    assert isinstance(Audience.did(log, "buy").keys(), pa.Array)
