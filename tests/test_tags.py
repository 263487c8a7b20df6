"""Tag stores: attribute, bin, predicate and behaviour tags; selection against pandas."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.audience import Audience, TagStore, bin_labels
from workbench.exceptions import (
    AudienceError,
    CorruptDataError,
    SelectionSyntaxError,
    UnknownTagError,
)

N = 400
RNG = np.random.default_rng(3)
USER_KEYS = np.arange(N) * 10 + 1


@pytest.fixture(scope="module")
def log():
    n_rows = 3000
    df = pd.DataFrame(
        {
            "user_id": RNG.choice(USER_KEYS, n_rows),
            "event": RNG.choice(["view", "cart", "buy"], n_rows, p=[0.6, 0.3, 0.1]),
            "time": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(RNG.integers(0, 86400 * 30, n_rows), "s"),
            "price": RNG.integers(1, 100, n_rows).astype(float),
        }
    )
    return wb.EventLog(df)


@pytest.fixture(scope="module")
def users(log):
    keys = np.concatenate([log.user_keys.to_numpy(), [999_999]])  # one user not in the log
    n = len(keys)
    return pd.DataFrame(
        {
            "user_id": keys,
            "gender": RNG.choice(["F", "M", None], n, p=[0.45, 0.45, 0.1]),
            "age": RNG.integers(15, 80, n),
            "city": RNG.choice(["Berlin", "New York", "São Paulo"], n),
            "spend": RNG.random(n) * 2000,
        }
    )


@pytest.fixture(scope="module")
def store(log, users):
    s = TagStore.from_table(
        log,
        users,
        categorical=["gender", "city"],
        bins={"age": [18, 25, 35, 65, float("inf")]},
        predicates={"vip": wb.col("spend") > 1500},
    )
    s.add_behaviour("buyer", "buy")
    s.add_behaviour("early", None, end="2026-01-10")
    s.add_behaviour("big_buyer", "buy", where=wb.col("price") >= 50, min_times=2)
    return s


def in_log(users, log):
    return users[users["user_id"].isin(log.user_keys.to_pylist())]


def keys_where(frame) -> list[int]:
    return sorted(frame["user_id"].tolist())


def test_names_and_sizes_follow_the_user_table(store, users, log):
    assert store.names[:5] == [
        "gender:F",
        "gender:M",
        "city:Berlin",
        "city:New York",
        "city:São Paulo",
    ]
    assert "age:18-24" in store and "age:65+" in store and "vip" in store
    known = in_log(users, log)
    assert store.skipped_rows == 1
    sizes = store.sizes()
    assert sizes["gender:F"] == (known["gender"] == "F").sum()
    assert sizes["age:25-34"] == known["age"].between(25, 34).sum()
    assert sizes["age:65+"] == (known["age"] >= 65).sum()
    assert sizes["vip"] == (known["spend"] > 1500).sum()


def test_select_matches_pandas(store, users, log):
    k = in_log(users, log)
    buyers = set(Audience.did(log, "buy").keys().to_pylist())
    got = store.select("(gender:F & age:25-34) | vip - buyer").keys().to_pylist()
    expected = set(keys_where(k[(k.gender == "F") & k.age.between(25, 34)])) | set(
        keys_where(k[k.spend > 1500])
    )
    assert got == sorted(expected - buyers)
    got = store.select("'city:New York' & ~gender:M").keys().to_pylist()
    assert got == keys_where(k[(k.city == "New York") & (k.gender != "M")])


def test_behaviour_tags_match_pandas(store, log):
    src = log.source.to_pandas()
    early = src[src.time < pd.Timestamp("2026-01-10")].user_id.unique()
    assert store["early"].keys().to_pylist() == sorted(early)
    big = src[(src.event == "buy") & (src.price >= 50)].groupby("user_id").size()
    assert store["big_buyer"].keys().to_pylist() == sorted(big[big >= 2].index)


def test_python_operators_equal_the_string_form(store):
    a = (store["gender:F"] & store["age:25-34"]) | store["vip"] - store["buyer"]
    # Python's '-' binds tighter than '|', the string form's does not: spell both explicitly.
    assert a == store.select("(gender:F & age:25-34) | (vip - buyer)")
    assert ~store["vip"] == store.select("~vip") == store.select("* - vip")
    assert store["vip"] ^ store["buyer"] == store.select("vip ^ buyer")


def test_unknown_tags_and_bad_syntax(store):
    with pytest.raises(UnknownTagError, match="closest: 'gender:F'"):
        store["gender:f"]
    with pytest.raises(UnknownTagError, match="column 7"):
        store.select("vip & gendr:F")
    with pytest.raises(SelectionSyntaxError, match="the end of the expression at column 6"):
        store.select("vip &")
    assert isinstance(UnknownTagError("x"), AudienceError)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_hostile_text_never_crashes_select(store, text):
    with contextlib.suppress(SelectionSyntaxError, UnknownTagError):
        store.select(text)


def test_duplicate_tags_and_foreign_audiences_are_refused(store, log):
    with pytest.raises(AudienceError, match="already exists"):
        store.add("vip", store["vip"])
    other = wb.EventLog(pd.DataFrame({"user_id": [1], "event": ["x"], "time": [pd.Timestamp(0)]}))
    with pytest.raises(AudienceError, match="another event log"):
        store.add("foreign", Audience.all(other))


def test_bins_label_rules():
    assert bin_labels([18, 25, 35], integer=True) == ["18-24", "25-34"]
    assert bin_labels([0, 0.5, 1], integer=False) == ["0-0.5", "0.5-1"]
    assert bin_labels([float("-inf"), 18, float("inf")], integer=True) == ["<18", "18+"]


def test_bad_bins_and_columns(log, users):
    s = TagStore(log)
    with pytest.raises(AudienceError, match="strictly ascending"):
        s.add_bins(users, "age", [30, 20])
    with pytest.raises(AudienceError, match="numeric"):
        s.add_bins(users, "city", [0, 1])
    with pytest.raises(AudienceError, match=r"no column 'agee'.*'age'"):
        s.add_categorical(users, "agee")
    with pytest.raises(AudienceError, match="no key column"):
        s.add_categorical(users.rename(columns={"user_id": "uid"}), "gender")


def test_save_load_and_export_every_tag(store, log, tmp_path):
    import pyroaring

    path = tmp_path / "tags.fwb"
    store.save(path)
    loaded = TagStore.load(path, log)
    assert loaded.names == store.names
    assert all(loaded[n] == store[n] for n in store.names)
    exported = store.to_bytes()
    assert set(exported) == set(store.names)
    assert list(pyroaring.BitMap.deserialize(exported["vip"])) == store["vip"].keys().to_pylist()
    path.write_bytes(b"FWBITMAP\x01\x00" + b"\xff" * 20)
    with pytest.raises(CorruptDataError):
        TagStore.load(path, log)
