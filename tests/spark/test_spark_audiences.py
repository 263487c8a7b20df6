"""Audiences and tag stores from Spark tables are built per partition as bitmaps and merged on
the driver, into the id space of a Spark result: the same members, tag names and order as the
local TagStore, and drill-downs, exports and profiles that agree with the local ones."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
import workbench.spark as ws
from workbench.exceptions import AudienceError

_ROWS = [
    (1, "view", "2026-01-01 10:00", "ios"),
    (1, "cart", "2026-01-01 10:05", "ios"),
    (1, "pay", "2026-01-01 11:00", "ios"),
    (2, "view", "2026-01-01 09:00", "web"),
    (2, "cart", "2026-01-03 09:00", "web"),
    (3, "view", "2026-01-02 08:00", "web"),
    (3, "cart", "2026-01-02 08:30", "web"),
    (4, "search", "2026-01-02 08:00", "android"),
    (5, "view", "2026-01-03 12:00", "android"),
    (5, "cart", "2026-01-03 12:10", "android"),
    (6, "view", "2026-01-03 12:30", "ios"),
    (7, "view", "2026-01-03 12:31", "web"),
]
EVENTS = pd.DataFrame(_ROWS, columns=["user_id", "event", "time", "platform"])
EVENTS["time"] = pd.to_datetime(EVENTS["time"], utc=True).astype("datetime64[us, UTC]")
USERS = pd.DataFrame(
    {
        "user_id": [1, 2, 3, 4, 5, 6, 7, 99],  # 99 has no events: skipped, as locally
        "gender": ["F", "M", "F", "M", "F", "F", None, "M"],
        "age": [22, 31, 40, 28, 35, 19, 70, 50],
        "spend": [120.0, 40.0, 300.0, 0.0, 80.0, 15.0, 5.0, 1.0],
    }
)
FUNNEL = wb.Funnel(["view", "cart", "pay"], window="1d")
TAGS: dict[str, Any] = {
    "categorical": ["gender"],
    "bins": {"age": [18, 25, 35, float("inf")]},
    "predicates": {"vip": wb.col("spend") > 100, "young": lambda t: t["age"] < 25},
}


@pytest.fixture(scope="module")
def both(spark: Any) -> tuple[wb.FunnelResult, wb.FunnelResult, Any]:
    events = pa.Table.from_pandas(EVENTS, preserve_index=False)
    local = FUNNEL.run(wb.EventLog(events))
    remote = ws.run(FUNNEL, spark.createDataFrame(events), partitions=3)
    users = spark.createDataFrame(pa.Table.from_pandas(USERS, preserve_index=False)).repartition(3)
    return local, remote, users


def test_a_tag_store_from_a_spark_table_equals_the_local_one(both: Any) -> None:
    local, remote, users = both
    mine = ws.tag_store(remote.log, users, **TAGS)
    theirs = wb.TagStore.from_table(local.log, USERS, **TAGS)
    assert mine.names == theirs.names
    assert mine.skipped_rows == theirs.skipped_rows == 1
    for name in theirs.names:
        assert mine[name].keys().to_pylist() == theirs[name].keys().to_pylist(), name
    assert mine.belongs_to(remote.log)
    pd.testing.assert_frame_equal(
        wb.profile(remote.entered(), mine, min_support=0),
        wb.profile(local.entered(), theirs, min_support=0),
    )
    assert mine.select("gender:F & ~age:35+").keys().to_pylist() == [1, 6]


def test_an_audience_from_a_frame_kept_in_spark_is_the_drill_down(spark: Any, both: Any) -> None:
    local, remote, _ = both
    events = spark.createDataFrame(pa.Table.from_pandas(EVENTS, preserve_index=False))
    frame = ws.outcomes(FUNNEL, events)
    reached = ws.audience(remote.log, frame.where("level >= 2"), name="reached cart")
    assert reached == remote.reached(2)
    assert reached.keys().to_pylist() == local.reached(2).keys().to_pylist() == [1, 3, 5]
    assert reached.name == "reached cart"
    # The export is the local one, byte for byte.
    assert reached.to_bytes("clickhouse") == local.reached(2).to_bytes("clickhouse")
    # Combined with the result's own audiences: one id space.
    assert (reached - remote.converted()).keys().to_pylist() == [3, 5]


def test_text_keys_travel_as_arrays_and_unknown_keys_are_named(spark: Any) -> None:
    space = ws.SparkEventLog.of_users(pa.array(["ann", "bo", "cy"]))
    keys = spark.createDataFrame(pa.table({"user_id": ["bo", "cy", "zed"]})).repartition(2)
    with pytest.raises(AudienceError, match=r"1 user key\(s\) are not in the event log.*'zed'"):
        ws.audience(space, keys)
    assert ws.audience(space, keys, missing="ignore").keys().to_pylist() == ["bo", "cy"]
    numbers = spark.createDataFrame(pa.table({"user_id": [1, 2]}))
    with pytest.raises(AudienceError, match=r"log's user keys are string but column 'user_id'"):
        ws.audience(space, numbers)


def test_what_needs_the_rows_is_refused_on_a_spark_log(both: Any) -> None:
    _, remote, _ = both
    with pytest.raises(wb.exceptions.EmptyLogError, match=r"Audience.did reads events.*Spark"):
        wb.Audience.did(remote.log, "pay")
    with pytest.raises(wb.exceptions.EmptyLogError, match=r"a funnel reads events"):
        FUNNEL.run(remote.log)
    with pytest.raises(wb.exceptions.EmptyLogError, match=r"counting the events of audiences"):
        wb.compare(remote.converted(), remote.entered() - remote.converted())
    with pytest.raises(
        wb.exceptions.FunnelDefinitionError,
        match=r"carries no 'platform'.*properties=\['platform'\]",
    ):
        remote.breakdown("platform")
    assert len(remote.log) == len(EVENTS) and remote.log.event_names == [
        "cart",
        "pay",
        "search",
        "view",
    ]
