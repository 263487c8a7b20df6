"""A funnel compiled to ClickHouse SQL (windowFunnel) gives, in real ClickHouse (chdb), the levels
and step table of the workbench engine on the same rows: random logs, every mode, property
conditions with missing values; hostile names and values keep their meaning; options windowFunnel
cannot express are refused by name; exported audiences meet ClickHouse's own bitmaps."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from chdb import session as chs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
import workbench.sql as wsql
from workbench.exceptions import FunnelDefinitionError, UnknownEventWarning

EVENTS = ["view", "cart", "pay", "other"]
CONDITIONS = [
    wb.col("price") >= 5,
    wb.col("platform").isin(["ios", "android"]),
    wb.col("platform").not_in(["web"]),
    ~(wb.col("price") < 8),
    wb.col("price").is_null(),
    wb.col("price").is_not_null() & (wb.col("platform") != "ios"),
    (wb.col("platform") == "web") | (wb.col("price") > 10),
    wb.col("platform").isin([]),
    ~wb.col("platform").not_in([]),
]
MODES = [
    {},
    {"strict_deduplication": True},
    {"strict_order": True},
    {"strict_increase": True},
    {"strict_order": True, "allow_reentry": True},
    {"strict_deduplication": True, "strict_order": True, "strict_increase": True},
]


@pytest.fixture(scope="module")
def clickhouse() -> Any:
    return chs.Session()


def load(session: Any, name: str, df: pd.DataFrame) -> None:
    """Put ``df`` into ClickHouse as table ``name`` (our quoting names it; the test checks the
    name ClickHouse stored)."""
    frame = df  # noqa: F841  (read by chdb's Python() table function)
    session.query(f"DROP TABLE IF EXISTS {wsql.table_name(name)}")
    session.query(
        f"CREATE TABLE {wsql.table_name(name)} ENGINE = Memory AS SELECT * FROM Python(frame)"
    )


def levels_in_clickhouse(session: Any, sql: str, user: str) -> pd.Series:
    out = session.query(sql, "DataFrame")
    return pd.Series(out["level"].to_numpy(dtype="int64"), index=out[user].to_list(), name="level")


def local_levels(funnel: wb.Funnel, df: pd.DataFrame, **roles: str) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEventWarning)
        levels = funnel.run(wb.EventLog(df, **roles)).levels
    return pd.Series(levels.to_numpy(dtype="int64"), index=levels.index.to_list(), name="level")


rows = st.lists(
    st.tuples(
        st.integers(1, 8),
        st.sampled_from(EVENTS),
        st.one_of(st.integers(0, 3_000), st.sampled_from([0, 30, 600])),
        st.sampled_from(["ios", "web", "android", None]),
        st.one_of(st.none(), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=80,
)


@st.composite
def funnels(draw: Any) -> wb.Funnel:
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        names = draw(st.lists(st.sampled_from(EVENTS[:3]), min_size=1, max_size=2, unique=True))
        steps.append(
            wb.Step(tuple(names), where=draw(st.one_of(st.none(), st.sampled_from(CONDITIONS))))
        )
    window = draw(st.sampled_from(["0s", "30s", "10m", "1h"]))
    return wb.Funnel(steps, window=window, **draw(st.sampled_from(MODES)))


def frame(data: list[tuple[Any, ...]]) -> pd.DataFrame:
    df = pd.DataFrame(data, columns=["user_id", "event", "s", "platform", "price"])
    start = pd.Timestamp("2026-05-01 12:00:00.123456")
    df["ts"] = (start + pd.to_timedelta(df.pop("s"), unit="s")).astype("datetime64[us]")
    df["price"] = df["price"].astype("float64")
    df["platform"] = df["platform"].astype("string")  # text even when every value is missing
    return df


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=rows, funnel=funnels())
def test_compiled_funnels_give_the_engines_levels_and_step_table(
    clickhouse: Any, data: list[tuple[Any, ...]], funnel: wb.Funnel
) -> None:
    df = frame(data)
    load(clickhouse, "events", df)
    roles = {"user": "user_id", "event": "event", "time": "ts"}
    sql = wsql.clickhouse(funnel, table="events", time_unit="us", **roles)
    got = levels_in_clickhouse(clickhouse, sql, "user_id")
    pd.testing.assert_series_equal(got, local_levels(funnel, df, **roles), obj=sql)
    table = clickhouse.query(
        wsql.clickhouse_steps(funnel, table="events", time_unit="us", **roles), "DataFrame"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEventWarning)
        expected = funnel.run(wb.EventLog(df, **roles)).table
    assert table["step"].tolist() == expected["step"].tolist()
    assert table["users"].tolist() == expected["users"].tolist()
    for column in ("conversion_from_first", "conversion_from_previous"):
        np.testing.assert_allclose(table[column], expected[column], equal_nan=True, err_msg=column)


HOSTILE_EVENTS = [
    "it's",
    "back`tick",
    "back\\slash",
    "x'); DROP TABLE events; --",
    "ünï🚀",
    "nul\0here",
    "new\nline",
]
HOSTILE_COLUMNS = {
    "user_id": "user`'\\ id",
    "event": "ev\0ent",
    "ts": "t'); --",
    "price": "pr`ice\\",
}


def test_hostile_names_and_values_keep_their_meaning(clickhouse: Any) -> None:
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, n),
            "event": rng.choice([*HOSTILE_EVENTS, "other"], n),
            "ts": (
                pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 7200, n), unit="s")
            ).astype("datetime64[us]"),
            "price": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 20, n)),
        }
    ).rename(columns=HOSTILE_COLUMNS)
    table = "events`; DROP TABLE events; --'\\"
    load(clickhouse, table, df)
    stored = clickhouse.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()", "DataFrame"
    )
    assert table in stored["name"].tolist()
    funnel = wb.Funnel(
        [
            wb.Step([HOSTILE_EVENTS[0], HOSTILE_EVENTS[5]]),
            wb.Step(HOSTILE_EVENTS[1], where=wb.col(HOSTILE_COLUMNS["price"]) > 3),
            wb.Step([HOSTILE_EVENTS[2], HOSTILE_EVENTS[3]]),
            wb.Step(
                HOSTILE_EVENTS[4],
                where=~wb.col(HOSTILE_COLUMNS["event"]).isin(["it's", "nul\0here"]),
            ),
            HOSTILE_EVENTS[6],
        ],
        window="1h",
    )
    roles = {
        "user": HOSTILE_COLUMNS["user_id"],
        "event": HOSTILE_COLUMNS["event"],
        "time": HOSTILE_COLUMNS["ts"],
    }
    sql = wsql.clickhouse(funnel, table=table, time_unit="us", **roles)
    got = levels_in_clickhouse(clickhouse, sql, roles["user"])
    expected = local_levels(funnel, df, **roles)
    pd.testing.assert_series_equal(got, expected)
    assert expected.max() >= 3  # the names matched: users went deep into the funnel
    assert str(
        clickhouse.query(f"SELECT count() FROM {wsql.table_name(table)}", "CSV")
    ).strip() == str(n)


@pytest.mark.parametrize(
    ("funnel", "named"),
    [
        (wb.Funnel(["a", "b"], order="strict"), "order='strict'"),
        (wb.Funnel(["a", "b"], order="any"), "order='any'"),
        (wb.Funnel(["a", "b"], exclusions=[wb.Exclusion("x")]), "exclusions"),
        (wb.Funnel(["a", "b"], hold="platform"), "hold"),
        (wb.Funnel(["a", "b"], session=True), "session=True"),
        (wb.Funnel(["a", "b"], counting="conversions"), "counting='conversions'"),
        (wb.Funnel(["a", wb.Step("b", optional=True), "c"]), "optional step 2"),
        (wb.Funnel(["a", wb.Step("b", within="5m")]), "within= of step 2"),
    ],
)
def test_options_window_funnel_cannot_express_are_refused_by_name(
    funnel: wb.Funnel, named: str
) -> None:
    with pytest.raises(FunnelDefinitionError, match=f"windowFunnel cannot express {named}"):
        wsql.clickhouse(funnel, table="events")


def test_time_types_and_bad_arguments(clickhouse: Any) -> None:
    df = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "event": ["a", "b", "a", "b"], "epoch": [100, 160, 100, 300]}
    )
    load(clickhouse, "epochs", df)
    funnel = wb.Funnel(["a", "b"], window="2m")
    sql = wsql.clickhouse(funnel, table="epochs", time="epoch", time_type="Int64", time_unit="s")
    assert levels_in_clickhouse(clickhouse, sql, "user_id").tolist() == [2, 1]
    clickhouse.query(
        "CREATE OR REPLACE TABLE dt ENGINE = Memory AS "
        "SELECT user_id, event, toDateTime(epoch) AS t FROM epochs"
    )
    sql = wsql.clickhouse(funnel, table="dt", time="t", time_type="DateTime", time_unit="s")
    assert levels_in_clickhouse(clickhouse, sql, "user_id").tolist() == [2, 1]
    with pytest.raises(wb.exceptions.ArgumentError, match="DateTime column holds seconds"):
        wsql.clickhouse(funnel, table="dt", time="t", time_type="DateTime", time_unit="ms")
    with pytest.raises(FunnelDefinitionError, match=r"finer than the time unit \(s\)"):
        wsql.clickhouse(wb.Funnel(["a", "b"], window="1500ms"), table="dt", time_unit="s")
    with pytest.raises(wb.exceptions.ArgumentError, match=r"table= .* or source="):
        wsql.clickhouse(funnel)
    with pytest.raises(FunnelDefinitionError, match=r"cannot write .* as a ClickHouse literal"):
        wsql.clickhouse(wb.Funnel([wb.Step("a", where=wb.col("d") > pd.Timestamp(0))]), table="t")
    assert "FROM file('e.parquet')" in wsql.clickhouse(funnel, source="file('e.parquet')")


def test_exported_audiences_intersect_clickhouse_bitmaps_in_the_same_database(
    clickhouse: Any,
) -> None:
    rng = np.random.default_rng(11)
    n = 3_000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 2**40, 500)[rng.integers(0, 500, n)],  # 64-bit keys
            "event": rng.choice(["view", "cart", "pay"], n),
            "ts": (
                pd.Timestamp("2026-02-01") + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
            ).astype("datetime64[us]"),
        }
    )
    load(clickhouse, "shop", df)
    funnel = wb.Funnel(["view", "cart", "pay"], window="2h")
    result = funnel.run(wb.EventLog(df, time="ts"))
    dropped = result.dropped_after(2)
    clickhouse.query(
        "CREATE OR REPLACE TABLE audiences "
        "(name String, members AggregateFunction(groupBitmap, UInt64)) ENGINE = Memory"
    )
    state = wsql.literal(dropped.to_bytes("clickhouse", bits=64).hex())
    clickhouse.query(
        "INSERT INTO audiences SELECT 'dropped at cart', "
        f"CAST(unhex({state}) AS AggregateFunction(groupBitmap, UInt64))"
    )
    levels = wsql.clickhouse(funnel, table="shop", time="ts", time_unit="us")
    both = clickhouse.query(
        "SELECT bitmapCardinality(bitmapAnd(a.members, b.members)) AS both, "
        "bitmapCardinality(a.members) AS ours, bitmapCardinality(b.members) AS theirs "
        "FROM audiences AS a, "
        "(SELECT groupBitmapState(toUInt64(user_id)) AS members "
        f"FROM ({levels}) WHERE level >= 2) AS b",
        "DataFrame",
    )
    reached = result.reached(2)
    assert both["ours"].tolist() == [len(dropped)] and both["theirs"].tolist() == [len(reached)]
    assert both["both"].tolist() == [len(dropped & reached)] == [len(dropped)]
    keys = clickhouse.query(
        "SELECT arrayJoin(bitmapToArray(members)) AS k FROM audiences ORDER BY k", "DataFrame"
    )["k"].tolist()
    assert keys == dropped.keys().to_pylist()
