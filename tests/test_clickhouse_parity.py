"""The engine reproduces ClickHouse's windowFunnel level for level, checked against real
ClickHouse (chdb) on many random logs: every mode combination, timestamp ties, rows that match
several steps, zero windows, events before the first step, users who never start."""

from __future__ import annotations

import itertools

import chdb
import numpy as np
import pandas as pd
import pytest

import workbench as wb

EVENTS = ["a", "b", "c", "d", "e", "f"]
MODES = [
    (),
    ("strict_deduplication",),
    ("strict_order",),
    ("strict_increase",),
    ("strict_order", "allow_reentry"),
    ("strict_deduplication", "strict_order"),
    ("strict_deduplication", "strict_increase"),
    ("strict_order", "strict_increase"),
    ("strict_deduplication", "strict_order", "strict_increase", "allow_reentry"),
]


def random_log(rng: np.random.Generator, n_rows: int, n_users: int, span_s: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_rows).astype("int64"),
            "event": rng.choice(EVENTS, n_rows, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1]),
            # Whole seconds over a short span: plenty of exact ties.
            "ts": rng.integers(1_700_000_000, 1_700_000_000 + span_s, n_rows).astype("uint64"),
            "price": np.where(rng.random(n_rows) < 0.2, np.nan, rng.integers(0, 10, n_rows)),
        }
    )


def random_steps(rng: np.random.Generator) -> list[list[str]]:
    n_steps = int(rng.integers(1, 6))
    # Alternatives overlap across steps, so one row can match several steps.
    return [
        sorted(set(rng.choice(EVENTS, int(rng.integers(1, 3)), replace=True).tolist()))
        for _ in range(n_steps)
    ]


def clickhouse_levels(df: pd.DataFrame, steps, window: int, modes, price_step=None) -> pd.Series:
    conditions = []
    for index, alts in enumerate(steps):
        cond = "event IN (" + ", ".join(f"'{e}'" for e in alts) + ")"
        if index == price_step:
            # ClickHouse skips a whole row when any funnel argument is NULL; ours treats a
            # missing property as "does not match this step" only, hence ifNull.
            cond = f"ifNull({cond} AND price >= 5, 0)"
        conditions.append(cond)
    params = ", ".join([str(window), *[f"'{m}'" for m in modes]])
    sql = (
        f"SELECT user_id, windowFunnel({params})(ts, {', '.join(conditions)}) AS level "
        "FROM Python(df) GROUP BY user_id ORDER BY user_id"
    )
    out = chdb.query(sql, "DataFrame")
    return pd.Series(out["level"].to_numpy(), index=out["user_id"].to_numpy())


def engine_levels(df: pd.DataFrame, steps, window: int, modes, price_step=None) -> pd.Series:
    log = wb.EventLog(df, time="ts", time_unit="s")
    funnel_steps = [
        wb.Step(alts, where=wb.col("price") >= 5) if i == price_step else alts
        for i, alts in enumerate(steps)
    ]
    funnel = wb.Funnel(funnel_steps, window=f"{window}s", **{m: True for m in modes})
    return funnel.run(log).levels


@pytest.mark.parametrize("seed", range(24))
def test_levels_match_clickhouse_for_every_mode(seed: int) -> None:
    rng = np.random.default_rng(seed)
    df = random_log(rng, n_rows=int(rng.integers(50, 1500)), n_users=60, span_s=120)
    for modes in MODES:
        steps = random_steps(rng)
        window = int(rng.choice([0, 1, 5, 20, 60, 200]))
        expected = clickhouse_levels(df, steps, window, modes)
        got = engine_levels(df, steps, window, modes)
        pd.testing.assert_series_equal(
            got.astype("int64"),
            expected.astype("int64"),
            check_names=False,
            check_index_type=False,
            obj=f"levels for steps={steps} window={window} modes={modes}",
        )


@pytest.mark.parametrize("seed", range(8))
def test_property_steps_match_clickhouse(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    df = random_log(rng, n_rows=800, n_users=40, span_s=90)
    for modes, price_step in itertools.product(MODES[:5], [0, 1]):
        steps = random_steps(rng)
        while len(steps) < 2:
            steps = random_steps(rng)
        expected = clickhouse_levels(df, steps, 30, modes, price_step=price_step)
        got = engine_levels(df, steps, 30, modes, price_step=price_step)
        assert got.astype("int64").tolist() == expected.astype("int64").tolist(), (steps, modes)


def test_thirty_two_steps_match_clickhouse() -> None:
    rng = np.random.default_rng(7)
    df = random_log(rng, n_rows=3000, n_users=30, span_s=400)
    steps = [[EVENTS[i % len(EVENTS)]] for i in range(32)]
    expected = clickhouse_levels(df, steps, 300, ())
    got = engine_levels(df, steps, 300, ())
    assert got.astype("int64").tolist() == expected.astype("int64").tolist()
    assert expected.max() > 5  # the case exercises long chains
