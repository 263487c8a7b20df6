"""The same Funnel gives the same answer on Spark (local mode, real PySpark) as in process, on
random logs: every ClickHouse mode, property steps with missing values, and the product options
(strict order, any order, exclusions, held properties and sessions, conversions, optional steps,
per-step windows, open windows), down to each unit's times, audiences and breakdowns."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from equality import assert_same_result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
import workbench.spark as ws
from workbench.exceptions import UnknownEventWarning

EVENTS = ["view", "cart", "pay", "refund", "other"]
START = pd.Timestamp("2026-03-01", tz="UTC")
CONDITIONS = [
    wb.col("price") >= 5,
    wb.col("platform").isin(["ios", "android"]),
    ~(wb.col("price") < 8),
    wb.col("price").is_null(),
    (wb.col("platform") == "web") | (wb.col("price") > 10),
    wb.col("platform").not_in(["web"]) & wb.col("price").is_not_null(),
]
SLOW = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

rows = st.lists(
    st.tuples(
        st.integers(1, 7),
        st.sampled_from(EVENTS),
        # Seconds: windows that close and stay open, and instants many rows share (ties are
        # taken in the source's order by both engines).
        st.one_of(st.integers(0, 5_000), st.sampled_from([0, 60, 600, 4_990])),
        st.sampled_from(["ios", "web", "android", None]),
        st.one_of(st.none(), st.integers(0, 20)),
        st.sampled_from([1, 2, 3, None]),
    ),
    min_size=1,
    max_size=70,
)


SCHEMA = pa.schema(
    [
        ("user_id", pa.int64()),
        ("event", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("platform", pa.string()),
        ("price", pa.float64()),
        ("session_id", pa.int64()),
    ]
)


def frame(data: list[tuple[Any, ...]]) -> pa.Table:
    """The rows as Arrow, the one input both engines read (Spark takes Arrow tables too)."""
    users, events, seconds, platforms, prices, sessions = zip(*data, strict=True)
    start = int(START.value // 1000)
    times = [start + s * 1_000_000 for s in seconds]
    return pa.Table.from_arrays(
        [
            pa.array(users),
            pa.array(events),
            pa.array(times).cast(pa.timestamp("us", tz="UTC")),
            pa.array(platforms, pa.string()),
            pa.array(prices, pa.float64()),
            pa.array(sessions, pa.int64()),
        ],
        schema=SCHEMA,
    )


def steps_of(draw: Any, n: int) -> list[wb.Step]:
    steps = []
    for _ in range(n):
        names = draw(st.lists(st.sampled_from(EVENTS[:4]), min_size=1, max_size=2, unique=True))
        where = draw(st.one_of(st.none(), st.sampled_from(CONDITIONS)))
        steps.append(wb.Step(tuple(names), where=where))
    return steps


@st.composite
def clickhouse_funnels(draw: Any) -> wb.Funnel:
    modes = draw(
        st.sampled_from(
            [
                {},
                {"strict_deduplication": True},
                {"strict_order": True},
                {"strict_increase": True},
                {"strict_order": True, "allow_reentry": True},
                {"strict_deduplication": True, "strict_order": True, "strict_increase": True},
            ]
        )
    )
    window = draw(st.sampled_from(["0s", "1m", "10m", "1h", "2h"]))
    return wb.Funnel(steps_of(draw, draw(st.integers(1, 4))), window=window, **modes)


@st.composite
def product_funnels(draw: Any) -> wb.Funnel:
    n = draw(st.integers(2, 4))
    steps = steps_of(draw, n)
    order = draw(st.sampled_from(["sequential", "strict", "any"]))
    options: dict[str, Any] = {
        "order": order,
        "counting": draw(st.sampled_from(["users", "conversions"])),
        "window": draw(st.sampled_from(["5m", "30m", "1h"])),
    }
    held = draw(st.sampled_from(["none", "hold", "session", "both"]))
    if held in ("hold", "both"):
        options["hold"] = "platform"
    if held in ("session", "both"):
        options["session"] = True
    if draw(st.booleans()):
        options["analysis_end"] = str(START + pd.Timedelta(seconds=draw(st.integers(0, 6_000))))
    if order != "any":
        for i in range(1, n):
            optional = i < n - 1 and draw(st.booleans())
            within = draw(st.one_of(st.none(), st.sampled_from(["2m", "20m"])))
            steps[i] = wb.Step(
                steps[i].event, where=steps[i].where, optional=optional, within=within
            )
        if draw(st.booleans()):
            after = draw(st.integers(1, n - 1))
            before = draw(st.integers(after + 1, n))
            where = draw(st.one_of(st.none(), st.just(wb.col("price") > 3)))
            options["exclusions"] = [
                wb.Exclusion(["refund", "other"], where=where, after=after, before=before)
            ]
    return wb.Funnel(steps, **options)


def both(
    spark: Any, df: pd.DataFrame, funnel: wb.Funnel
) -> tuple[wb.FunnelResult, wb.FunnelResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEventWarning)
        local = funnel.run(wb.EventLog(df, session="session_id"))
        remote = ws.run(
            funnel,
            spark.createDataFrame(df),
            session="session_id",
            properties=["platform", "price"],
            attributions=("first_touch", "last_touch", *range(2, funnel.n_steps + 1)),
            partitions=3,
        )
    return local, remote


@SLOW
@given(data=rows, funnel=clickhouse_funnels())
def test_clickhouse_modes_match_the_local_engine(spark: Any, data: list, funnel: wb.Funnel) -> None:
    local, remote = both(spark, frame(data), funnel)
    assert_same_result(local, remote, breakdowns=("platform", "price"))


@SLOW
@given(data=rows, funnel=product_funnels())
def test_product_options_match_the_local_engine(spark: Any, data: list, funnel: wb.Funnel) -> None:
    local, remote = both(spark, frame(data), funnel)
    assert_same_result(local, remote, breakdowns=("platform",))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_larger_log_over_many_tasks_matches(spark: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 2_000, n),
            "event": rng.choice(EVENTS, n, p=[0.35, 0.25, 0.1, 0.05, 0.25]),
            "time": (START + pd.to_timedelta(rng.integers(0, 86_400 * 3, n), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "platform": rng.choice(["ios", "web", "android"], n),
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 20, n)),
            "session_id": rng.integers(0, 5, n),
        }
    )
    funnels = [
        wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("price") > 4)], window="6h"),
        wb.Funnel(["view", "cart", "pay"], window="1d", strict_order=True),
        wb.Funnel(["view", "cart", "pay"], window="1d", order="strict", hold="platform"),
        wb.Funnel(
            ["view", "pay"],
            window="2h",
            counting="conversions",
            exclusions=[wb.Exclusion("refund")],
        ),
    ]
    table = pa.Table.from_pandas(df, preserve_index=False)
    for funnel in funnels:
        local, remote = both(spark, table, funnel)
        assert_same_result(local, remote, breakdowns=("platform",))
