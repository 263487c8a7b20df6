"""The Spark path in local mode beside the local engine, on the shared synthetic log.

    .venv/bin/python benchmarks/bench_spark.py                      # 1M and 10M events
    .venv/bin/python benchmarks/bench_spark.py --events 1_000_000 --repeat 3
    .venv/bin/python benchmarks/bench_spark.py --strategies         # how the kernel meets Spark

What is timed (best of ``--repeat``, median beside it), each on the same Parquet file
(``datagen.generate``: shuffled rows, ``user_id``/``event``/``ts``) and the same funnel
(``datagen.FUNNEL``, five steps, 1 day, windowFunnel's default mode):

* local — ``EventLog.from_parquet`` then ``funnel.run(log)``; and the run alone on a loaded log.
* Spark ``run()`` — ``workbench.spark.run(funnel, spark.read.parquet(path))``: the summary pass,
  the shuffle by user, the kernel in every task, the per-user outcome collected as Arrow and the
  FunnelResult built on the driver.
* Spark kept in the cluster — ``workbench.spark.outcomes(...)`` written to Spark's ``noop`` sink:
  everything but the collection.
* the peer: Spark alone moving the same rows — the three columns repartitioned by user and
  written to ``noop``, the shuffle any per-user computation on Spark pays. The kernel's share is
  the ratio of "kept in cluster" to it: PASS when at most ``TARGET_OVER_SHUFFLE`` (the funnel
  costs no more than twice the bare shuffle).

Peak memory is sampled every 20 ms: the local engine's as this process's resident set, Spark's as
the whole tree (this driver, the JVM that holds Spark's driver and executors in local mode, and
its Python workers), so the JVM's heap is counted as the OS sees it.

Every run's level counts are checked against the local engine's. ``--strategies`` times the ways
the kernel can meet Spark's rows (one Python call per user with ``groupBy(user).applyInArrow``,
per hash bucket, per partition after ``sortWithinPartitions``, per partition unsorted) at
``--strategy-events``. Spark runs ``local[N]`` with N = the cores, its Python workers on this
interpreter. Keep the machine otherwise idle: the script reports how busy the CPU was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datagen
import psutil
import pyarrow as pa
from bench_funnel import _cpu_busy as cpu_busy

import workbench as wb
import workbench.spark as ws

TARGET_OVER_SHUFFLE = 2.0
"""The Spark funnel (kept in the cluster) may cost at most this many bare shuffles by user."""


class PeakMemory:
    """The largest resident set seen while the block runs: this process, or with ``tree`` also
    every process it started (Spark's JVM and Python workers)."""

    def __init__(self, tree: bool) -> None:
        self.tree = tree
        self.peak = 0
        self._done = threading.Event()

    def _rss(self) -> int:
        me = psutil.Process()
        processes = [me, *me.children(recursive=True)] if self.tree else [me]
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._rss())
            self._done.wait(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def timed(
    work: Callable[[], Any], repeat: int, tree: bool = False
) -> tuple[float, float, Any, int]:
    """Best and median wall time of ``repeat`` runs, the last run's value and the peak memory."""
    times, value = [], None
    with PeakMemory(tree) as memory:
        for _ in range(repeat):
            start = time.perf_counter()
            value = work()
            times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), value, memory.peak


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def seconds(best: float, median: float) -> str:
    return f"{best:7.2f} s ({median:.2f})"


def funnel() -> wb.Funnel:
    return wb.Funnel(list(datagen.FUNNEL.steps), window=datagen.FUNNEL.window)


def rerun(
    path: Path, steps: wb.Funnel, roles: dict[str, str], repeat: int
) -> tuple[float, float, int]:
    """The run alone on a loaded log (the log is dropped before Spark starts)."""
    log = wb.EventLog.from_parquet(path, **roles)
    best, median, _, _ = timed(lambda: steps.run(log).level_counts(), repeat)
    return best, median, log.n_users


def measure(spark: Any, events: int, repeat: int) -> dict[str, Any]:
    path = datagen.generate(events=events, users=events // 10, seed=42)
    steps = funnel()
    roles = {"user": "user_id", "event": "event", "time": "ts"}

    def local() -> list[int]:
        return steps.run(wb.EventLog.from_parquet(path, **roles)).level_counts()

    local_best, local_median, expected, local_peak = timed(local, repeat)
    rerun_best, rerun_median, users = rerun(path, steps, roles, repeat)
    df = spark.read.parquet(str(path))
    run_best, run_median, result, run_peak = timed(
        lambda: ws.run(steps, df, **roles), repeat, tree=True
    )
    if result.level_counts() != expected:
        raise SystemExit(
            f"Spark disagrees at {events:,} events: {result.level_counts()} != {expected}"
        )
    tasks = ws.plan(steps, df, **roles).partitions

    def kept() -> None:
        ws.outcomes(steps, df, **roles).write.format("noop").mode("overwrite").save()

    def shuffle() -> None:
        df.select(*roles.values()).repartition(tasks, "user_id").write.format("noop").mode(
            "overwrite"
        ).save()

    kept_best, kept_median, _, _ = timed(kept, repeat, tree=True)
    shuffle_best, shuffle_median, _, _ = timed(shuffle, repeat, tree=True)
    over = kept_best / shuffle_best
    return {
        "events": events,
        "users": users,
        "local": seconds(local_best, local_median),
        "local peak": gib(local_peak),
        "local re-run": seconds(rerun_best, rerun_median),
        "Spark run()": seconds(run_best, run_median),
        "Spark peak": gib(run_peak),
        "kept in cluster": seconds(kept_best, kept_median),
        "bare shuffle": seconds(shuffle_best, shuffle_median),
        "kept / shuffle": f"{over:.2f}x {'PASS' if over <= TARGET_OVER_SHUFFLE else 'FALL SHORT'}",
        "run / local": f"{run_best / local_best:.1f}x",
        "tasks": tasks,
    }


# -- how the kernel meets Spark's rows -------------------------------------------------------


def _levels(steps: wb.Funnel, table: pa.Table) -> pa.RecordBatch:
    log = wb.EventLog(table, user="user_id", event="event", time="ts", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        levels = steps.outcomes(log).levels
    return pa.RecordBatch.from_arrays(
        [log.user_keys, pa.array(levels.astype("int32"))], names=["user_id", "level"]
    )


def _one_thread() -> None:
    from workbench.spark import kernel

    kernel.one_thread()


def _per_table(steps: wb.Funnel, table: pa.Table) -> pa.Table:
    _one_thread()
    return pa.Table.from_batches([_levels(steps, table.select(["user_id", "event", "ts"]))])


def _per_partition(steps: wb.Funnel, batches: Any) -> Any:
    _one_thread()
    received = list(batches)
    if received:
        yield _levels(steps, pa.Table.from_batches(received))


def strategies(spark: Any, events: int) -> list[tuple[str, float]]:
    from pyspark.sql import functions as sf

    path = datagen.generate(events=events, users=events // 10, seed=42)
    df = spark.read.parquet(str(path)).cache()
    df.count()
    n = 2 * spark.sparkContext.defaultParallelism
    schema = "user_id long, level int"
    # Tasks get the funnel as an argument: this script is not importable on the workers.
    steps = funnel()

    # A function with type hints: pyspark 4.3's applyInArrow infers its kind from them (and
    # fails on a partial).
    def per_table(table: pa.Table) -> pa.Table:
        return _per_table(steps, table)

    per_partition = partial(_per_partition, funnel())

    def reached(frame: Any) -> int:
        return int(frame.where("level >= 1").count())

    ways: list[tuple[str, Callable[[], int]]] = [
        (
            "groupBy(user).applyInArrow: one call per user",
            lambda: reached(df.groupBy("user_id").applyInArrow(per_table, schema)),
        ),
        (
            f"groupBy(hash bucket of {n}).applyInArrow",
            lambda: reached(
                df.withColumn("bucket", sf.pmod(sf.xxhash64("user_id"), sf.lit(n)))
                .groupBy("bucket")
                .applyInArrow(per_table, schema)
            ),
        ),
        (
            "repartition + sortWithinPartitions + mapInArrow",
            lambda: reached(
                df.repartition(n, "user_id")
                .sortWithinPartitions("user_id", "ts")
                .mapInArrow(per_partition, schema)
            ),
        ),
        (
            "repartition + mapInArrow (the encoder sorts)",
            lambda: reached(df.repartition(n, "user_id").mapInArrow(per_partition, schema)),
        ),
    ]
    out = []
    for label, way in ways:
        best, _, count, _ = timed(way, 1)
        out.append((f"{label} [{count:,} users entered]", best))
    df.unpersist()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--strategies", action="store_true")
    parser.add_argument("--strategy-events", type=int, default=1_000_000)
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    busy = cpu_busy()
    spark = ws.local_session(
        cores,
        config={
            "spark.driver.memory": args.driver_memory,
            "spark.ui.showConsoleProgress": "false",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(
        f"local[{cores}] Spark {spark.version}, workbench {wb.__version__}; CPU busy before: "
        f"{'?' if busy is None else f'{busy:.0%}'}"
    )
    if args.strategies:
        print(
            f"\nHow the kernel meets Spark's rows, {args.strategy_events:,} events (one run each):"
        )
        for label, best in strategies(spark, args.strategy_events):
            print(f"  {best:8.2f} s  {label}")
    rows = [measure(spark, events, args.repeat) for events in args.events]
    columns = list(rows[0])
    widths = [
        max(len(c), *(len(f"{r[c]:,}" if isinstance(r[c], int) else r[c]) for r in rows))
        for c in columns
    ]
    print("\nbest of", args.repeat, "(median)")
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        cells = [f"{r[c]:,}" if isinstance(r[c], int) else r[c] for c in columns]
        print(" | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)))
    after = cpu_busy()
    print(f"CPU busy after: {'?' if after is None else f'{after:.0%}'}")


if __name__ == "__main__":
    main()
