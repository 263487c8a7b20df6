"""Peer implementations of the ClickHouse ``windowFunnel`` (default, non-strict mode) funnel.

Every peer returns the number of users at each *exact* level 0..N (index = level), over all
users that appear in the log: level 0 = users with no step-1 event (or only events unrelated to
the funnel).  All peers must agree exactly; ``bench_funnel.py`` asserts that.

Each peer is a class with ``prepare()`` (untimed: load data into the engine's memory where that
is the point of the peer) and ``run()`` (timed: the funnel query, returning the level counts).

Why the DuckDB and Polars formulations are exact
------------------------------------------------
ClickHouse's greedy scan (per user, pairs ``(ts, step)`` sorted by ``(ts, step)``; a step-1 pair
restarts slot 1; a step-k pair fills slot k from slot k-1 when ``ts <= start(k-1) + W``) gives
slot k the *latest* chain start available so far.  With one step per row that is:

* ``start_1(t)`` = ts of the latest step-1 event at or before t;
* a step-k event at ts t is *valid* iff a valid step-(k-1) event exists at or before t (a tie
  counts: the lower step sorts first) and ``t <= s + W``, where ``s`` is the start carried by the
  latest such event; the valid step-k event then carries ``s``;
* the user's level is the highest k with a valid step-k event.

The carried start is a non-decreasing function of t, so "the latest valid step-(k-1) event at or
before t" is an as-of join (DuckDB ``ASOF JOIN``) or, on rows sorted by (user, ts, step), a
forward fill of the last valid row's start within the user (Polars).  Five passes, one per step.
Rows matching several steps would need one pair per matched step; the benchmark's steps are
distinct event names, so each row matches at most one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _levels_from_reach(total_users: int, reach: Sequence[int]) -> list[int]:
    """reach[k-1] = users with level >= k (k = 1..N)  ->  exact level counts 0..N."""
    n = len(reach)
    out = [total_users - reach[0]]
    for k in range(n):
        out.append(reach[k] - (reach[k + 1] if k + 1 < n else 0))
    return out


def _levels_from_pairs(total_users: int, n_steps: int, pairs) -> list[int]:
    """pairs: iterable of (level, users) for levels that occur in the per-user GROUP BY."""
    out = [0] * (n_steps + 1)
    for level, users in pairs:
        out[int(level)] += int(users)
    if total_users is not None:
        assert sum(out) == total_users
    return out


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------------------------------------
# chdb (ClickHouse in-process)
# ------------------------------------------------------------------------------------------------
def chdb_funnel_sql(
    source: str, steps: Sequence[str], window_ms: int, time_expr: str, mode: str | None = None
) -> str:
    conds = ", ".join(f"event = {_sql_str(s)}" for s in steps)
    params = str(int(window_ms)) + (f", {_sql_str(mode)}" if mode else "")
    return f"""
        SELECT level, count() AS users FROM (
            SELECT user_id, windowFunnel({params})({time_expr}, {conds}) AS level
            FROM {source}
            GROUP BY user_id
        )
        GROUP BY level ORDER BY level
    """


class ChdbParquet:
    """chdb ``windowFunnel`` reading the Parquet file directly (every run re-reads the file)."""

    name = "chdb (Parquet file)"
    key = "chdb_parquet"

    def __init__(self, path: Path, steps: Sequence[str], window_ms: int):
        self.path, self.steps, self.window_ms = Path(path).resolve(), list(steps), window_ms

    def prepare(self) -> None:
        import chdb

        self._chdb = chdb
        self.sql = (
            chdb_funnel_sql(
                f"file({_sql_str(str(self.path))}, Parquet)",
                self.steps,
                self.window_ms,
                "toUInt64(toUnixTimestamp64Milli(ts))",
            )
            + " SETTINGS schema_inference_make_columns_nullable = 0"
        )

    def run(self) -> list[int]:
        res = self._chdb.query(self.sql, "CSV")
        pairs = [line.split(",") for line in str(res).strip().splitlines() if line]
        return _levels_from_pairs(None, len(self.steps), pairs)

    def close(self) -> None:
        pass


class ChdbMemory:
    """chdb ``windowFunnel`` on a table already loaded into a chdb session (load not timed).

    Table engine ``Memory`` with ``event LowCardinality(String)`` and the timestamp stored as
    UInt64 epoch milliseconds (what ``windowFunnel`` needs), i.e. chdb's best case.
    """

    name = "chdb (in-memory table)"
    key = "chdb_memory"

    def __init__(self, path: Path, steps: Sequence[str], window_ms: int):
        self.path, self.steps, self.window_ms = Path(path).resolve(), list(steps), window_ms

    def prepare(self) -> None:
        from chdb import session

        self.sess = session.Session()
        self.sess.query("CREATE DATABASE IF NOT EXISTS bench")
        self.sess.query("DROP TABLE IF EXISTS bench.events")
        self.sess.query(
            "CREATE TABLE bench.events (user_id Int64, event LowCardinality(String), t UInt64) "
            "ENGINE = Memory"
        )
        self.sess.query(
            "INSERT INTO bench.events SELECT user_id, event, toUInt64(toUnixTimestamp64Milli(ts)) "
            f"FROM file({_sql_str(str(self.path))}, Parquet) "
            "SETTINGS schema_inference_make_columns_nullable = 0"
        )
        self.sql = chdb_funnel_sql("bench.events", self.steps, self.window_ms, "t")

    def run(self, mode: str | None = None) -> list[int]:
        """The funnel in ClickHouse's default mode, or with one of its mode flags."""
        sql = self.sql
        if mode is not None:
            sql = chdb_funnel_sql("bench.events", self.steps, self.window_ms, "t", mode)
        res = self.sess.query(sql, "CSV")
        pairs = [line.split(",") for line in str(res).strip().splitlines() if line]
        return _levels_from_pairs(None, len(self.steps), pairs)

    def close(self) -> None:
        try:
            self.sess.query("DROP TABLE IF EXISTS bench.events")
            self.sess.close()
        except Exception:
            pass


# ------------------------------------------------------------------------------------------------
# DuckDB: exact windowFunnel as SQL with ASOF JOINs
# ------------------------------------------------------------------------------------------------
def duckdb_funnel_sql(source: str, steps: Sequence[str], window_ms: int) -> str:
    n = len(steps)
    case = " ".join(f"WHEN {_sql_str(s)} THEN {i + 1}" for i, s in enumerate(steps))
    in_list = ", ".join(_sql_str(s) for s in steps)
    ctes = [
        f"""e AS MATERIALIZED (
            SELECT user_id, epoch_ms(ts) AS t, CASE event {case} END AS step
            FROM {source} WHERE event IN ({in_list})
        )""",
        "v1 AS (SELECT user_id, t, t AS s FROM e WHERE step = 1)",
    ]
    for k in range(2, n + 1):
        ctes.append(
            f"""v{k} AS (
            SELECT x.user_id, x.t, p.s
            FROM (SELECT user_id, t FROM e WHERE step = {k}) x
            ASOF JOIN v{k - 1} p ON x.user_id = p.user_id AND x.t >= p.t
            WHERE x.t <= p.s + {int(window_ms)}
        )"""
        )
    reach = ", ".join(
        f"(SELECT count(DISTINCT user_id) FROM v{k}) AS r{k}" for k in range(1, n + 1)
    )
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT (SELECT count(DISTINCT user_id) FROM {source}) AS total, {reach}"
    )


class _DuckdbBase:
    def __init__(self, path: Path, steps: Sequence[str], window_ms: int):
        self.path, self.steps, self.window_ms = Path(path).resolve(), list(steps), window_ms

    def run(self) -> list[int]:
        row = self.con.execute(self.sql).fetchone()
        return _levels_from_reach(int(row[0]), [int(x) for x in row[1:]])

    def close(self) -> None:
        self.con.close()


class DuckdbMemory(_DuckdbBase):
    """DuckDB SQL (ASOF JOIN formulation) on an in-memory table (load not timed)."""

    name = "DuckDB SQL (in-memory table)"
    key = "duckdb_memory"

    def prepare(self) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:")
        self.con.execute(
            f"CREATE TABLE events AS SELECT * FROM read_parquet({_sql_str(str(self.path))})"
        )
        self.sql = duckdb_funnel_sql("events", self.steps, self.window_ms)


class DuckdbParquet(_DuckdbBase):
    """DuckDB SQL (ASOF JOIN formulation) reading the Parquet file on every run."""

    name = "DuckDB SQL (Parquet file)"
    key = "duckdb_parquet"

    def prepare(self) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:")
        self.sql = duckdb_funnel_sql(
            f"read_parquet({_sql_str(str(self.path))})", self.steps, self.window_ms
        )


# ------------------------------------------------------------------------------------------------
# Polars: exact windowFunnel with vectorised forward fills on rows sorted by (user, ts, step)
# ------------------------------------------------------------------------------------------------
def polars_funnel(frame, steps: Sequence[str], window_ms: int, engine: str = "auto") -> list[int]:
    """``frame``: a polars DataFrame or LazyFrame with user_id, event, ts."""
    import polars as pl

    lf = frame.lazy()
    mapping = {s: i + 1 for i, s in enumerate(steps)}
    total = lf.select(pl.col("user_id").n_unique().alias("total"))
    e = (
        lf.filter(pl.col("event").is_in(list(steps)))
        .select(
            pl.col("user_id"),
            pl.col("ts").dt.epoch("ms").alias("t"),
            pl.col("event").replace_strict(mapping, return_dtype=pl.Int8).alias("step"),
        )
        .sort(["t", "step"])
        .sort("user_id", maintain_order=True)  # two passes: faster than one 3-key sort here
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"))
        .with_columns(
            # row number of the first row of this user (rows are sorted by user)
            pl.when((pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True))
            .then(pl.col("_i"))
            .otherwise(None)
            .forward_fill()
            .alias("_g")
        )
    )
    # start carried by the latest valid step-(k-1) row at or before this row, within the user:
    # forward-fill (row index, start) of valid rows; discard fills that come from another user.
    valid = pl.col("step") == 1
    start = pl.col("t")
    cols = []
    for k in range(1, len(steps) + 1):
        if k > 1:
            last_i = pl.when(pl.col(f"_v{k - 1}")).then(pl.col("_i")).otherwise(None).forward_fill()
            last_s = (
                pl.when(pl.col(f"_v{k - 1}"))
                .then(pl.col(f"_s{k - 1}"))
                .otherwise(None)
                .forward_fill()
            )
            ok_prev = last_i.is_not_null() & (last_i >= pl.col("_g"))
            valid = (pl.col("step") == k) & ok_prev & (pl.col("t") <= last_s + window_ms)
            start = last_s
        cols.append((f"_v{k}", valid, f"_s{k}", start))
    for vname, vexpr, sname, sexpr in cols:
        e = e.with_columns(vexpr.fill_null(False).alias(vname), sexpr.alias(sname))
    aggs = [
        pl.col("user_id").filter(pl.col(f"_v{k}")).n_unique().alias(f"r{k}")
        for k in range(1, len(steps) + 1)
    ]
    res = pl.concat([total, e.select(aggs)], how="horizontal").collect(engine=engine)
    row = res.row(0)
    return _levels_from_reach(int(row[0]), [int(x) for x in row[1:]])


class PolarsMemory:
    """Polars on a DataFrame already read into memory (read not timed)."""

    name = "Polars (in-memory DataFrame)"
    key = "polars_memory"

    def __init__(self, path: Path, steps: Sequence[str], window_ms: int):
        self.path, self.steps, self.window_ms = Path(path).resolve(), list(steps), window_ms

    def prepare(self) -> None:
        import polars as pl

        self.df = pl.read_parquet(self.path)

    def run(self) -> list[int]:
        return polars_funnel(self.df, self.steps, self.window_ms)

    def close(self) -> None:
        del self.df


class PolarsParquet(PolarsMemory):
    """Polars lazily scanning the Parquet file on every run."""

    name = "Polars (Parquet file)"
    key = "polars_parquet"

    def prepare(self) -> None:
        pass

    def run(self) -> list[int]:
        import polars as pl

        return polars_funnel(pl.scan_parquet(self.path), self.steps, self.window_ms)

    def close(self) -> None:
        pass


PEERS = {
    c.key: c
    for c in (ChdbParquet, ChdbMemory, DuckdbParquet, DuckdbMemory, PolarsParquet, PolarsMemory)
}


# ------------------------------------------------------------------------------------------------
# A plain-Python transcription of ClickHouse's scan, for validating the peers on small logs.
# ------------------------------------------------------------------------------------------------
def reference_levels(path: Path, steps: Sequence[str], window_ms: int) -> list[int]:
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    users = t.column("user_id").to_pylist()
    events = t.column("event").to_pylist()
    ts = t.column("ts").cast("int64").to_pylist()
    idx = {s: i + 1 for i, s in enumerate(steps)}
    per_user: dict[int, list[tuple[int, int]]] = {}
    for u, ev, tt in zip(users, events, ts, strict=True):
        lst = per_user.setdefault(u, [])
        if ev in idx:
            lst.append((tt, idx[ev]))
    n = len(steps)
    out = [0] * (n + 1)
    for pairs in per_user.values():
        pairs.sort()
        start = [None] * (n + 1)
        level = 0
        for tt, k in pairs:
            if k == 1:
                start[1] = tt
            elif start[k - 1] is not None and tt <= start[k - 1] + window_ms:
                start[k] = start[k - 1]
            else:
                continue
            level = max(level, k)
            if level == n:
                break
        out[level] += 1
    return out
