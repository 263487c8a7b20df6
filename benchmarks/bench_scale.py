"""How load-and-run grows with the log: 1M, 10M, 50M and 100M events, workbench beside chdb
reading the same Parquet file, each in its own process so peak memory is its own.

    .venv/bin/python benchmarks/bench_scale.py                 # 1M, 10M, 50M, 100M events
    .venv/bin/python benchmarks/bench_scale.py --sizes 1e6 1e7

workbench: ``EventLog.from_parquet`` then the 5-step funnel of ``datagen.FUNNEL``; chdb: the same
funnel as one query over the file (``schema_inference_make_columns_nullable = 0``). The logs have
one candidate user per ten events. Issue 12's bars: time and peak memory grow linearly (per
event within 1.5x of the 10M figure at every size) and workbench's peak memory stays below
chdb's at every size. The table is copied into benchmarks/README.md for the engineers' guide.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_funnel
import datagen

LINEAR = 1.5  # per-event time and memory within this factor of the 10M figure


def _size(text: str) -> int:
    return int(float(text.replace("_", "")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=_size, default=[10**6, 10**7, 5 * 10**7, 10**8])
    ap.add_argument("--repeat", type=int, default=2, help="loads per process (best is kept)")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    fn = datagen.FUNNEL
    rows = []
    for events in args.sizes:
        users = max(1, events // 10)
        path = datagen.generate(events, users, 42, verbose=True)
        print(f"{events:>12,} events: running workbench ...", end="", flush=True)
        ours = bench_funnel.spawn("workbench", path, fn.window_ms, args.repeat, 3, args.timeout)
        print(" chdb ...", end="", flush=True)
        theirs = bench_funnel.spawn("chdb_parquet", path, fn.window_ms, 1, 1, args.timeout)
        print(" done", flush=True)
        for who, res in (("workbench", ours), ("chdb", theirs)):
            if "error" in res:
                print(f"  {who}: ERROR {res['error']}")
        if "error" in ours or "error" in theirs:
            continue
        if ours["counts"] != theirs["counts"]:
            print(f"  FAILURE: counts differ: {ours['counts']} vs {theirs['counts']}")
        rows.append(
            {
                "events": events,
                "users": sum(ours["counts"]),
                "load": min(ours["load_times"]),
                "run": min(ours["rerun_times"]),
                "total": min(ours["times"]),
                "peak": ours["peak_rss"],
                "chdb": min(theirs["times"]),
                "chdb_peak": theirs["peak_rss"],
            }
        )
    if not rows:
        return 1
    mib = 2**20
    print()
    print(
        "| events | users | load | re-run | load + first run | peak RSS | bytes/event "
        "| chdb (Parquet) | chdb peak RSS | speed-up | memory vs chdb |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['events'] / 1e6:g}M | {r['users']:,} | {r['load']:.2f} s "
            f"| {r['run'] * 1e3:.0f} ms | {r['total']:.2f} s | {r['peak'] / mib:,.0f} MiB "
            f"| {r['peak'] / r['events']:.0f} | {r['chdb']:.2f} s "
            f"| {r['chdb_peak'] / mib:,.0f} MiB | {r['chdb'] / r['total']:.1f}x "
            f"| {r['peak'] / r['chdb_peak']:.2f} |"
        )
    reference = next((r for r in rows if r["events"] == 10**7), rows[len(rows) // 2])
    per_event = reference["total"] / reference["events"]
    bytes_per_event = reference["peak"] / reference["events"]
    print("\ntargets (issue 12):")
    ok_time = ok_memory = ok_chdb = True
    for r in rows:
        if r["events"] < 10**7:
            continue  # a million events is start-up cost, not growth
        t = (r["total"] / r["events"]) / per_event
        m = (r["peak"] / r["events"]) / bytes_per_event
        ok_time &= t <= LINEAR
        ok_memory &= m <= LINEAR
    for r in rows:
        ok_chdb &= r["peak"] < r["chdb_peak"]
    print(f"  time grows linearly (per event within {LINEAR}x of 10M)     " + _pass(ok_time))
    print(f"  peak memory grows linearly (per event within {LINEAR}x)     " + _pass(ok_memory))
    print("  peak memory below chdb's at every size                      " + _pass(ok_chdb))
    return 0


def _pass(ok: bool) -> str:
    return "PASS" if ok else "FALL SHORT"


if __name__ == "__main__":
    raise SystemExit(main())
