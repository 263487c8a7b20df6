"""Bitmap interchange: pyroaring both ways, ClickHouse via chdb, Doris layout, corrupt bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyroaring
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench import _core
from workbench.audience import Audience
from workbench.exceptions import AudienceError, CorruptDataError


def log_of(user_keys) -> wb.EventLog:
    n = len(user_keys)
    df = pd.DataFrame(
        {"user_id": np.asarray(user_keys, dtype=np.int64), "event": ["e"] * n, "time": np.arange(n)}
    )
    return wb.EventLog(df, time_unit="s")


RNG = np.random.default_rng(7)
KEYS32 = np.unique(np.concatenate([np.arange(0, 70_000, 1), RNG.integers(0, 2**32, 3000)]))
LOG32 = log_of(KEYS32)


def random_audience(log, seed, density=0.3):
    mask = np.random.default_rng(seed).random(log.n_users) < density
    return Audience.from_mask(log, mask)


def test_portable_bytes_equal_pyroaring_and_round_trip_both_ways():
    for seed in range(3):
        a = random_audience(LOG32, seed)
        expected = pyroaring.BitMap(a.keys().to_numpy())
        data = a.to_bytes()
        assert pyroaring.BitMap.deserialize(data) == expected
        assert len(data) == len(expected.serialize())
        back = Audience.from_bytes(LOG32, expected.serialize())
        assert back == a


def test_keys_beyond_32_bits_use_portable_64_bit_roaring():
    log = log_of([1, 2**32 + 5, 2**40, 2**63 - 1])
    a = Audience.all(log)
    data = a.to_bytes()
    assert list(pyroaring.BitMap64.deserialize(data)) == [1, 2**32 + 5, 2**40, 2**63 - 1]
    assert Audience.from_bytes(log, pyroaring.BitMap64([2**40, 1]).serialize(), bits=64) == (
        Audience.from_keys(log, [1, 2**40])
    )
    with pytest.raises(AudienceError, match="bits=64"):
        a.to_bytes(bits=32)
    small = Audience.from_keys(log, [1])
    assert list(pyroaring.BitMap64.deserialize(small.to_bytes(bits=64))) == [1]


def test_negative_keys_cannot_be_bitmaps():
    log = log_of([-3, 4])
    with pytest.raises(AudienceError, match="-3 is negative"):
        Audience.all(log).to_bytes()
    assert Audience.from_keys(log, [4]).to_bytes() == pyroaring.BitMap([4]).serialize()


def test_bytes_with_users_missing_from_the_log():
    data = pyroaring.BitMap([0, 1, 999_999_999]).serialize()
    with pytest.raises(AudienceError, match=r"1 user key\(s\) in the bitmap.*999999999"):
        Audience.from_bytes(LOG32, data)
    assert Audience.from_bytes(LOG32, data, missing="ignore").keys().to_pylist() == [0, 1]


def _chdb(sql: str) -> str:
    import chdb

    return str(chdb.query(sql, "CSV")).strip()


@pytest.mark.parametrize("n", [0, 1, 5, 32, 33, 100, 5000])
def test_clickhouse_state_equals_group_bitmap_state_bytes(n):
    log = log_of(np.arange(10_000) * 3)
    a = Audience.from_mask(log, np.arange(10_000) < n)
    ours = a.to_bytes("clickhouse", bits=32).hex().upper()
    theirs = _chdb(f"SELECT hex(groupBitmapState(toUInt32(number * 3))) FROM numbers({n})")
    assert ours == theirs.strip('"')


def test_clickhouse_loads_our_states_32_and_64_bit():
    a = random_audience(LOG32, 11, 0.05)
    hexed = a.to_bytes("clickhouse", bits=32).hex()
    got = _chdb(
        f"SELECT arrayJoin(bitmapToArray(CAST(unhex('{hexed}') AS "
        "AggregateFunction(groupBitmap, UInt32))))"
    )
    assert [int(x) for x in got.split()] == a.keys().to_pylist()
    log64 = log_of([3, 2**33, 2**33 + 1, *list(range(10, 60))])
    b = Audience.all(log64)
    hexed = b.to_bytes("clickhouse", bits=64).hex()
    got = _chdb(
        f"SELECT arrayJoin(bitmapToArray(CAST(unhex('{hexed}') AS "
        "AggregateFunction(groupBitmap, UInt64))))"
    )
    assert [int(x) for x in got.split()] == b.keys().to_pylist()
    theirs = bytes.fromhex(
        _chdb("SELECT hex(groupBitmapState(toUInt64(number) * 7)) FROM numbers(100)").strip('"')
    )
    assert _core.bitmap_keys(theirs, "clickhouse", 64).to_pylist() == [i * 7 for i in range(100)]


def test_doris_layout_by_type_code():
    log = log_of([1, 7, 2**40])
    assert Audience.empty(log).to_bytes("doris") == b"\x00"
    assert Audience.from_keys(log, [7]).to_bytes("doris") == b"\x01" + (7).to_bytes(4, "little")
    assert Audience.from_keys(log, [2**40]).to_bytes("doris") == b"\x03" + (2**40).to_bytes(
        8, "little"
    )
    two = Audience.from_keys(log, [1, 7]).to_bytes("doris")
    assert two[0] == 2 and pyroaring.BitMap.deserialize(two[1:]) == pyroaring.BitMap([1, 7])
    wide = Audience.all(log).to_bytes("doris")
    # type 4, varint bucket count 2, then (u32 high bits, portable bitmap) per bucket
    assert wide[:2] == b"\x04\x02" and wide[2:6] == (0).to_bytes(4, "little")
    assert Audience.from_bytes(log, wide, "doris") == Audience.all(log)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["portable", "clickhouse", "doris"]))
def test_garbage_bytes_raise_clear_errors(data, fmt):
    try:
        _core.bitmap_keys(data, fmt)
    except CorruptDataError as err:
        assert "corrupt" in str(err)


def test_truncated_and_trailing_bytes_are_reported():
    data = random_audience(LOG32, 3).to_bytes()
    with pytest.raises(CorruptDataError, match="portable Roaring"):
        Audience.from_bytes(LOG32, data[:-3])
    with pytest.raises(CorruptDataError, match="trailing"):
        Audience.from_bytes(LOG32, data + b"\x00", bits=32)
    with pytest.raises(AudienceError, match="unknown bitmap format"):
        Audience.from_bytes(LOG32, data, "parquet")


def test_save_and_load_onto_a_log_with_other_users(tmp_path):
    a = random_audience(LOG32, 5)
    path = tmp_path / "a.fwb"
    a.save(path)
    assert Audience.load(path, LOG32) == a
    smaller = log_of(KEYS32[::2])
    moved = Audience.load(path, smaller)
    assert moved.keys().to_pylist() == sorted(set(a.keys().to_pylist()) & set(KEYS32[::2].tolist()))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptDataError, match="workbench bitmap file"):
        Audience.load(path, LOG32)
