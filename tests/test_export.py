"""Key lists for campaigns, and the loop end to end: funnel → dropped users → profile → tag
expression → export → reload in pyroaring and chdb → the same users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pyroaring
import pytest

import workbench as wb
from workbench.audience import Audience, TagStore, profile

RNG = np.random.default_rng(21)


@pytest.fixture(scope="module")
def shop():
    n_users = 2000
    rows = []
    for user in range(n_users):
        key = 10_000 + user * 7
        t = pd.Timestamp("2026-03-01") + pd.Timedelta(minutes=int(RNG.integers(0, 10_000)))
        rows.append((key, "view", t))
        if RNG.random() < 0.6:
            rows.append((key, "cart", t + pd.Timedelta(minutes=5)))
            if RNG.random() < 0.5:
                rows.append((key, "pay", t + pd.Timedelta(minutes=9)))
    df = pd.DataFrame(rows, columns=["user_id", "event", "time"])
    log = wb.EventLog(df)
    keys = log.user_keys.to_numpy()
    users = pd.DataFrame(
        {
            "user_id": keys,
            "gender": RNG.choice(["F", "M"], len(keys)),
            "age": RNG.integers(18, 70, len(keys)),
            "vip": RNG.random(len(keys)) < 0.1,
        }
    )
    return log, users


def test_csv_and_parquet_key_lists(shop, tmp_path):
    log, users = shop
    a = Audience.did(log, "pay")
    a.to_parquet(tmp_path / "a.parquet")
    a.to_csv(tmp_path / "a.csv", attributes=users)
    assert (
        pq.read_table(tmp_path / "a.parquet").column("user_id").to_pylist() == a.keys().to_pylist()
    )
    csv = pcsv.read_csv(tmp_path / "a.csv")
    assert csv.column("user_id").to_pylist() == a.keys().to_pylist()
    assert csv.column_names == ["user_id", "gender", "age", "vip"]


def test_end_to_end_drop_off_to_warehouse(shop, tmp_path):
    import chdb

    log, users = shop
    result = wb.Funnel(["view", "cart", "pay"], window="1h").run(log)
    dropped = result.dropped_after(2)  # added to cart, never paid (window closed)
    levels = result.levels
    open_windows = set(result.in_progress().keys().to_pylist())
    assert dropped.keys().to_pylist() == sorted(set(levels[levels == 2].index) - open_windows)

    store = TagStore.from_table(
        log,
        users,
        categorical=["gender"],
        bins={"age": [18, 25, 35, 50, 70]},
        predicates={"vip": wb.col("vip")},
    )
    table = profile(dropped, store, min_support=0.01)
    assert set(table["tag"]) <= set(store.names) and len(table) > 0
    row = table.set_index("tag").loc["gender:F"]
    in_drop = set(dropped.keys().to_pylist())
    women = set(users.loc[users.gender == "F", "user_id"])
    assert row["count"] == len(women & in_drop)

    target = dropped & store.select("(gender:F & ~age:50-69) | vip")
    expected = sorted(
        in_drop
        & (
            set(users.loc[(users.gender == "F") & (users.age < 50), "user_id"])
            | set(users.loc[users.vip, "user_id"])
        )
    )
    assert target.keys().to_pylist() == expected and expected

    portable = tmp_path / "target.roaring"
    portable.write_bytes(target.to_bytes())
    assert list(pyroaring.BitMap.deserialize(portable.read_bytes())) == expected
    state = target.to_bytes("clickhouse").hex()
    got = str(
        chdb.query(
            f"SELECT arrayJoin(bitmapToArray(CAST(unhex('{state}') AS "
            "AggregateFunction(groupBitmap, UInt32))))",
            "CSV",
        )
    ).split()
    assert [int(x) for x in got] == expected
    # And back: a warehouse-made bitmap of the same users is the same audience.
    back = Audience.from_bytes(log, pyroaring.BitMap(expected).serialize())
    assert back == target
