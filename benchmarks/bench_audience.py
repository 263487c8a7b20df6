"""Audience bitmaps beside pyroaring on the same sets: a 4-tag expression with its cardinality,
profiling one audience against every tag, and serializing every tag (time and bytes).

    .venv/bin/python benchmarks/bench_audience.py              # 1M x 100 tags, then 10M x 200
    .venv/bin/python benchmarks/bench_audience.py --users 1000000 --tags 50

Issue 12's bars, printed with PASS / FALL SHORT: the public ``wb.profile(audience, tags)`` (the
whole table) at least 3x faster than a pyroaring loop of ``intersection_cardinality`` over the
same sets, and the 4-tag selection at least as fast as pyroaring.

User keys are 0..N-1, so the exported bitmaps of original keys hold the same values as the
pyroaring bitmaps and the byte sizes are directly comparable.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyroaring

import workbench as wb
from workbench.audience import Audience, TagStore, profile

TARGET_PROFILE = 3.0  # pyroaring loop / full profile table
TARGET_SELECT = 1.0  # pyroaring / workbench for the 4-tag selection
SIZES = ((1_000_000, 100), (10_000_000, 200))


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_and_median(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[0], times[len(times) // 2], out


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "FALL SHORT"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--tags", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    sizes = SIZES if args.users is None else ((args.users, args.tags or 100),)
    lines = []
    for n, k in sizes:
        lines += run(n, k, args.repeat)
        print()
    print("targets (issue 12):")
    for line in lines:
        print("  " + line)


def run(n: int, k: int, repeat: int) -> list[str]:
    """Benchmark one size; returns its target lines."""
    rng = np.random.default_rng(42)
    print(f"== {n:,} users, {k} tags")

    t0 = time.perf_counter()
    events = pa.table(
        {
            "user_id": pa.array(np.arange(n, dtype=np.int64)),
            "event": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array(["visit"])
            ),
            "time": pa.array(np.zeros(n, dtype=np.int64)),
        }
    )
    log = wb.EventLog(events, time_unit="s", progress=False)
    print(f"log of {n:,} users encoded in {time.perf_counter() - t0:.1f} s")

    densities = np.geomspace(0.001, 0.5, k)
    store = TagStore(log)
    bitmaps: list[pyroaring.BitMap] = []
    t0 = time.perf_counter()
    for i, d in enumerate(densities):
        ids = np.flatnonzero(rng.random(n) < d).astype(np.uint32)
        store.add(f"t{i}", Audience(log, wb._core.audience_from_ids(log.encoded, pa.array(ids))))
        bitmaps.append(pyroaring.BitMap(ids))
    print(
        f"{k} tags (densities {densities[0]:.1%}..{densities[-1]:.0%}) built in "
        f"{time.perf_counter() - t0:.1f} s\n"
    )

    # Four tags of decreasing density, as a campaign selection might combine them.
    picks = [k - 1, int(k * 0.8), int(k * 0.5), int(k * 0.2)]
    expr = f"(t{picks[0]} & t{picks[1]}) | t{picks[2]} - t{picks[3]}"
    a, b, c, d = (bitmaps[p] for p in picks)
    ours_t, ours_med, ours_n = best_and_median(lambda: len(store.select(expr)), repeat)
    roar_t, roar_med, roar_n = best_and_median(lambda: len(((a & b) | c) - d), repeat)
    assert ours_n == roar_n, (ours_n, roar_n)
    print(f"expression {expr!r}: {ours_n:,} users")
    print(
        f"  workbench {ours_t * 1e3:8.2f} ms   pyroaring {roar_t * 1e3:8.2f} ms   "
        f"ratio (pyroaring / workbench) {roar_t / ours_t:5.2f}x"
    )

    audience = store.select(expr)
    aud_bm = ((a & b) | c) - d

    def native_counts() -> np.ndarray:
        return store.counts([audience])

    def roaring_loop() -> list[tuple[int, int]]:
        return [(aud_bm.intersection_cardinality(t), len(t)) for t in bitmaps]

    profile(audience, store, min_support=0)  # the first profile lays the tags out by chunk
    counts_t, counts = best_of(native_counts, repeat)
    loop_t, loop_med, loop = best_and_median(roaring_loop, repeat)
    prof_t, prof_med, table = best_and_median(
        lambda: profile(audience, store, min_support=0), repeat
    )
    assert [int(x) for x in counts.reshape(-1, 2)[:, 0]] == [x for x, _ in loop]
    print(f"profile against {k} tags:")
    print(
        f"  native counts {counts_t * 1e3:8.2f} ms   full profile table {prof_t * 1e3:8.2f} ms   "
        f"pyroaring loop {loop_t * 1e3:8.2f} ms"
    )
    print(
        f"  ratio loop / native counts {loop_t / counts_t:5.2f}x   "
        f"loop / full profile {loop_t / prof_t:5.2f}x"
    )
    assert isinstance(table, pd.DataFrame)

    ser_t, ours = best_of(store.to_bytes, 3)
    roar_ser_t, theirs = best_of(lambda: [bm.serialize() for bm in bitmaps], 3)
    ours_bytes = sum(len(v) for v in ours.values())
    theirs_bytes = sum(len(v) for v in theirs)
    same = sum(len(ours[f"t{i}"]) == len(theirs[i]) for i in range(k))
    print(f"serialize {k} tags (portable Roaring of original keys):")
    print(
        f"  workbench {ser_t * 1e3:8.1f} ms, {ours_bytes:,} bytes   "
        f"pyroaring {roar_ser_t * 1e3:8.1f} ms, {theirs_bytes:,} bytes"
    )
    print(
        f"  byte ratio {ours_bytes / theirs_bytes:.4f}   tags with equal size {same}/{k}   "
        f"time ratio (pyroaring / workbench) {roar_ser_t / ser_t:5.2f}x"
    )
    profile_ratio, select_ratio = loop_t / prof_t, roar_t / ours_t
    size = f"{n / 1e6:g}M users x {k} tags"
    return [
        f"{size}: profile table >= {TARGET_PROFILE:.0f}x pyroaring loop  "
        f"{profile_ratio:6.2f}x (median {loop_med / prof_med:.2f}x)  "
        f"{verdict(profile_ratio, TARGET_PROFILE)}",
        f"{size}: 4-tag selection >= pyroaring           "
        f"{select_ratio:6.2f}x (median {roar_med / ours_med:.2f}x)  "
        f"{verdict(select_ratio, TARGET_SELECT)}",
    ]


if __name__ == "__main__":
    main()
