"""Funnel benchmark: the workbench engine against chdb, DuckDB and Polars on one synthetic log.

    .venv/bin/python benchmarks/bench_funnel.py              # 10M events, best of 3
    .venv/bin/python benchmarks/bench_funnel.py --events 1_000_000 --users 100_000
    .venv/bin/python benchmarks/bench_funnel.py --validate   # small tie-heavy logs, many windows

Every engine runs in its own subprocess (so peak RSS is per engine and engines cannot share
caches or allocator state); each subprocess reports best-of-N wall times, the level counts and
its peak RSS (VmHWM from /proc/self/status: what ``getrusage(RUSAGE_SELF).ru_maxrss`` would say
without the value it inherits across exec from the driver).  chdb, DuckDB and Polars all run
in-process, so their memory is inside that figure.  See benchmarks/README.md for the numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402
import peers  # noqa: E402

RESULT_TAG = "@@RESULT "

# (key, label, kind) in the order they are run and printed
ENGINES = [
    ("workbench", "workbench", "workbench"),
    ("chdb_parquet", peers.ChdbParquet.name, "parquet"),
    ("chdb_memory", peers.ChdbMemory.name, "memory"),
    ("duckdb_parquet", peers.DuckdbParquet.name, "parquet"),
    ("duckdb_memory", peers.DuckdbMemory.name, "memory"),
    ("polars_parquet", peers.PolarsParquet.name, "parquet"),
    ("polars_memory", peers.PolarsMemory.name, "memory"),
    ("arrow_read", "pyarrow read_table (no funnel)", "info"),
]
TARGET_E2E = 3.0  # workbench end to end >= 3x faster than chdb reading the Parquet file
TARGET_RERUN = 30.0  # workbench re-run >= 30x faster than chdb on its in-memory table
# ClickHouse's mode flags: each re-run is held to the same margin over chdb's same mode.
MODES = ("strict_order", "strict_increase", "strict_deduplication")


def _int(s: str) -> int:
    return int(str(s).replace("_", ""))


def _maxrss_bytes() -> int:
    """Peak RSS of this process.  On Linux read VmHWM: ``getrusage().ru_maxrss`` survives exec,
    so a worker spawned by a big driver process would inherit the driver's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def _rss_bytes() -> int:
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except Exception:
        return _maxrss_bytes()


# ------------------------------------------------------------------------------------------------
# worker side (one engine per process)
# ------------------------------------------------------------------------------------------------
def _best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def _worker_workbench(path: Path, steps, window: str, repeat: int, rerun_repeat: int) -> dict:
    import workbench

    rss_import = _rss_bytes()
    funnel = workbench.Funnel(list(steps), window=window)
    e2e, load_t, run_t = [], [], []
    log = None
    counts = None
    for _ in range(repeat):
        log = None  # drop the previous log before loading the next one
        t0 = time.perf_counter()
        log = workbench.EventLog.from_parquet(str(path), user="user_id", event="event", time="ts")
        t1 = time.perf_counter()
        counts = list(funnel.run(log).level_counts())
        t2 = time.perf_counter()
        e2e.append(t2 - t0)
        load_t.append(t1 - t0)
        run_t.append(t2 - t1)
    rss_loaded = _rss_bytes()
    rerun_counts, rerun = _best(lambda: list(funnel.run(log).level_counts()), rerun_repeat)
    if rerun_counts != counts:
        raise AssertionError(f"workbench re-run gave {rerun_counts}, first run {counts}")
    modes = {}
    for mode in MODES:
        moded = workbench.Funnel(list(steps), window=window, **{mode: True})
        mode_counts, mode_times = _best(
            lambda f=moded: list(f.run(log).level_counts()), rerun_repeat
        )
        modes[mode] = {"counts": [int(x) for x in mode_counts], "times": mode_times}
    return {
        "modes": modes,
        "counts": [int(x) for x in counts],
        "times": e2e,
        "load_times": load_t,
        "first_run_times": run_t,
        "rerun_times": rerun,
        "rss_after_import": rss_import,
        "rss_loaded": rss_loaded,
        "version": getattr(workbench, "__version__", "?"),
    }


def _worker_peer(key: str, path: Path, steps, window_ms: int, repeat: int) -> dict:
    cls = peers.PEERS[key]
    obj = cls(path, steps, window_ms)
    __import__(key.split("_")[0])  # import the engine before measuring the baseline RSS
    rss_import = _rss_bytes()
    t0 = time.perf_counter()
    obj.prepare()
    prep = time.perf_counter() - t0
    rss_loaded = _rss_bytes()
    counts, times = _best(obj.run, repeat)
    modes = {}
    if key == "chdb_memory":
        for mode in MODES:
            mode_counts, mode_times = _best(lambda m=mode: obj.run(m), repeat)
            modes[mode] = {"counts": [int(x) for x in mode_counts], "times": mode_times}
    obj.close()
    return {
        "modes": modes,
        "counts": [int(x) for x in counts],
        "times": times,
        "prepare_time": prep,
        "rss_after_import": rss_import,
        "rss_loaded": rss_loaded,
    }


def run_worker(args) -> None:
    steps = datagen.FUNNEL.steps
    path = Path(args.path)
    window_ms = args.window_ms
    if args.worker == "arrow_read":
        import pyarrow.parquet as pq

        rss_import = _rss_bytes()
        tbl, times = _best(lambda: pq.read_table(path), args.repeat)
        res = {
            "counts": None,
            "times": times,
            "rss_after_import": rss_import,
            "rss_loaded": _rss_bytes(),
            "rows": tbl.num_rows,
        }
        del tbl
    elif args.worker == "workbench":
        window = (
            dt.timedelta(milliseconds=window_ms)
            if window_ms != datagen.FUNNEL.window_ms
            else datagen.FUNNEL.window
        )
        res = _worker_workbench(path, steps, window, args.repeat, args.rerun_repeat)
    else:
        res = _worker_peer(args.worker, path, steps, window_ms, args.repeat)
    res["peak_rss"] = _maxrss_bytes()
    print(RESULT_TAG + json.dumps(res), flush=True)


def spawn(
    key: str, path: Path, window_ms: int, repeat: int, rerun_repeat: int, timeout: float
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        key,
        "--path",
        str(path),
        "--window-ms",
        str(window_ms),
        "--repeat",
        str(repeat),
        "--rerun-repeat",
        str(rerun_repeat),
    ]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    wall = time.perf_counter() - t0
    for line in p.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            res = json.loads(line[len(RESULT_TAG) :])
            res["process_wall"] = wall
            return res
    tail = (p.stderr or p.stdout).strip().splitlines()[-6:]
    return {"error": f"exit code {p.returncode}: " + " | ".join(tail)}


# ------------------------------------------------------------------------------------------------
# driver side
# ------------------------------------------------------------------------------------------------
def _cpu_busy(seconds: float = 1.0) -> float | None:
    """Fraction of all cores busy over the next ``seconds`` (from /proc/stat), or None."""

    def sample():
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        return vals[3] + vals[4], sum(vals)  # idle + iowait, total

    try:
        i0, t0 = sample()
        time.sleep(seconds)
        i1, t1 = sample()
        return 1.0 - (i1 - i0) / max(1, t1 - t0)
    except OSError:
        return None


def _fmt_t(s: float) -> str:
    return f"{s * 1000:9.1f} ms" if s < 10 else f"{s:9.2f} s "


def _mb(b: float) -> str:
    return f"{b / 2**20:7.0f} MiB"


def _workbench_available() -> tuple[bool, str]:
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "import workbench; workbench.EventLog.from_parquet; workbench.Funnel",
        ],
        capture_output=True,
        text=True,
    )
    if p.returncode == 0:
        return True, ""
    return False, (p.stderr.strip().splitlines() or ["?"])[-1]


def _versions() -> str:
    out = []
    for mod in ("chdb", "duckdb", "polars", "pyarrow"):
        with contextlib.suppress(Exception):
            out.append(f"{mod} {__import__(mod).__version__}")
    return ", ".join(out)


def bench(args) -> int:
    fn = datagen.FUNNEL
    t0 = time.perf_counter()
    path = datagen.generate(args.events, args.users, args.seed, verbose=True)
    gen_s = time.perf_counter() - t0
    import pyarrow.parquet as pq

    md = pq.ParquetFile(path).metadata
    print(
        f"log: {path}  ({md.num_rows:,} rows, {md.num_row_groups} row groups, "
        f"{path.stat().st_size / 1e6:.0f} MB; ready in {gen_s:.1f}s)"
    )
    print(
        f"funnel: {' -> '.join(fn.steps)}  window {fn.window} ({fn.window_ms} ms), "
        "ClickHouse windowFunnel default mode"
    )
    la = os.getloadavg()
    busy = _cpu_busy()
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {_versions()}"
    )
    print(
        f"  load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; CPU busy in the last second: "
        + (f"{busy:.0%}" if busy is not None else "?")
    )
    if busy is not None and busy > 0.15:
        print("  WARNING: something else is using the CPU: timings will be noisy.")
    print(
        f"best of {args.repeat} runs per engine (workbench re-run: best of {args.rerun_repeat}); "
        "each engine in its own process\n"
    )

    keys = [k for k, _, _ in ENGINES if args.engines is None or k in args.engines]
    if "workbench" in keys:
        ok, why = _workbench_available()
        if not ok:
            print(f"workbench: NOT AVAILABLE ({why}); benchmarking the peers only\n")
            keys.remove("workbench")
    label = {k: lbl for k, lbl, _ in ENGINES}
    res: dict[str, dict] = {}
    for k in keys:
        print(f"  running {label[k]} ...", end="", flush=True)
        r = spawn(k, path, fn.window_ms, args.repeat, args.rerun_repeat, args.timeout)
        res[k] = r
        print(
            " " + (f"ERROR: {r['error']}" if "error" in r else f"done in {r['process_wall']:.1f}s"),
            flush=True,
        )
    ok_keys = [k for k in keys if "error" not in res[k] and k != "arrow_read"]

    # ---- level counts --------------------------------------------------------------------------
    print("\nusers at each exact level (level 0 = in the log, no step-1 event):")
    n_levels = len(fn.steps) + 1
    head = "level".ljust(7) + "".join(f"{k:>16s}" for k in ok_keys)
    print(head)
    for lvl in range(n_levels):
        print(f"{lvl:<7d}" + "".join(f"{res[k]['counts'][lvl]:>16,}" for k in ok_keys))
    print("total".ljust(7) + "".join(f"{sum(res[k]['counts']):>16,}" for k in ok_keys))
    ref_key = "chdb_parquet" if "chdb_parquet" in ok_keys else (ok_keys[0] if ok_keys else None)
    mismatches = [k for k in ok_keys if res[k]["counts"] != res[ref_key]["counts"]]
    failed = [k for k in keys if "error" in res[k]]
    if mismatches:
        print(
            f"\nFAILURE: level counts differ from {label[ref_key]} for: "
            + ", ".join(label[k] for k in mismatches)
        )
    elif ok_keys:
        print(
            f"\nlevel counts: ALL {len(ok_keys)} ENGINES AGREE EXACTLY "
            f"(reference: {label[ref_key]})"
        )

    # ---- times ---------------------------------------------------------------------------------
    def best(k, field="times"):
        return min(res[k][field]) if k in ok_keys else None

    print("\nwall time, best of N (median in brackets); memory = peak RSS of the engine's process")
    print(
        f"{'':36s}{'best':>12s}{'median':>14s}{'peak RSS':>12s}{'after import':>14s}{'loaded':>12s}"
    )

    def row(name, times, k, show_mem=True):
        srt = sorted(times)
        med = srt[len(srt) // 2]
        mem = (
            (
                f"{_mb(res[k]['peak_rss']):>12s}{_mb(res[k]['rss_after_import']):>14s}"
                f"{_mb(res[k]['rss_loaded']):>12s}"
            )
            if show_mem
            else ""
        )
        print(f"{name:36s}{_fmt_t(min(times)):>12s}  ({_fmt_t(med).strip():>10s}){mem}")

    if "workbench" in ok_keys:
        w = res["workbench"]
        row("(a) workbench end to end (Parquet)", w["times"], "workbench")
        print(f"{'      of which EventLog.from_parquet':36s}{_fmt_t(min(w['load_times'])):>12s}")
        print(f"{'      of which first funnel.run':36s}{_fmt_t(min(w['first_run_times'])):>12s}")
        row("(b) workbench re-run (loaded log)", w["rerun_times"], "workbench", show_mem=False)
    tags = {
        "chdb_parquet": "(c)",
        "chdb_memory": "(d)",
        "duckdb_parquet": "(e)",
        "duckdb_memory": "(e)",
        "polars_parquet": "(f)",
        "polars_memory": "(f)",
    }
    for k in ok_keys:
        if k == "workbench":
            continue
        row(f"{tags[k]} {label[k]}", res[k]["times"], k)
        if k.endswith("_memory"):
            print(
                f"{'      load into memory (not timed)':36s}{_fmt_t(res[k]['prepare_time']):>12s}"
            )
    if "arrow_read" in res and "error" not in res["arrow_read"]:
        row("decode floor: pyarrow read_table", res["arrow_read"]["times"], "arrow_read")
    for k in failed:
        print(f"{label[k]:36s}  ERROR: {res[k]['error']}")

    # ---- ratios and targets ---------------------------------------------------------------------
    verdicts = []
    if "workbench" in ok_keys:
        w = res["workbench"]
        e2e, rerun = min(w["times"]), min(w["rerun_times"])
        print("\nspeed-up of workbench (peer time / workbench time; > 1 means workbench is faster)")
        for k in ok_keys:
            if k == "workbench":
                continue
            kind = next(kd for kk, _, kd in ENGINES if kk == k)
            base, what = (e2e, "end to end") if kind == "parquet" else (rerun, "re-run")
            print(f"  workbench {what:10s} vs {label[k]:32s} {best(k) / base:8.1f}x")
        print("\ntargets (issue 12):")
        if "chdb_parquet" in ok_keys:
            r = best("chdb_parquet") / e2e
            verdicts.append(r >= TARGET_E2E)
            print(
                f"  {f'end to end >= {TARGET_E2E:.0f}x faster than chdb (Parquet file)':52s}"
                f"{r:8.1f}x   {'PASS' if r >= TARGET_E2E else 'FALL SHORT'}"
            )
        if "chdb_memory" in ok_keys:
            r = best("chdb_memory") / rerun
            verdicts.append(r >= TARGET_RERUN)
            print(
                f"  {f're-run >= {TARGET_RERUN:.0f}x faster than chdb (in-memory table)':52s}"
                f"{r:8.1f}x   {'PASS' if r >= TARGET_RERUN else 'FALL SHORT'}"
            )
        if "chdb_memory" in ok_keys:
            theirs = res["chdb_memory"].get("modes", {})
            for mode in MODES:
                if mode not in theirs or mode not in w.get("modes", {}):
                    continue
                ours = w["modes"][mode]
                if ours["counts"] != theirs[mode]["counts"]:
                    mismatches.append("workbench")
                    print(
                        f"  FAILURE: {mode} counts differ: {ours['counts']} "
                        f"vs {theirs[mode]['counts']}"
                    )
                    continue
                r = min(theirs[mode]["times"]) / min(ours["times"])
                verdicts.append(r >= TARGET_RERUN)
                label_ = f"{mode} re-run >= {TARGET_RERUN:.0f}x chdb's {mode}"
                print(
                    f"  {label_:52s}{r:8.1f}x   {'PASS' if r >= TARGET_RERUN else 'FALL SHORT'}"
                    f"   ({_fmt_t(min(ours['times'])).strip()} vs "
                    f"{_fmt_t(min(theirs[mode]['times'])).strip()})"
                )
        for ck in ("chdb_parquet", "chdb_memory"):
            if ck in ok_keys:
                a, b = w["peak_rss"], res[ck]["peak_rss"]
                verdicts.append(a <= b)
                print(
                    f"  {'peak RSS <= ' + label[ck]:52s}{_mb(a).strip()} vs {_mb(b).strip()}   "
                    f"{'PASS' if a <= b else 'FALL SHORT'}"
                )
    busy_end = _cpu_busy(0.5)
    if busy_end is not None and busy_end > 0.15:
        print(
            f"\nWARNING: CPU {busy_end:.0%} busy right after the run: something else is running; "
            "timings are noisy."
        )
    if args.json:
        out = {
            "events": args.events,
            "users": args.users,
            "seed": args.seed,
            "repeat": args.repeat,
            "path": str(path),
            "funnel": list(fn.steps),
            "window_ms": fn.window_ms,
            "loadavg_start": la,
            "cpu_busy_start": busy,
            "cpu_busy_end": busy_end,
            "results": res,
        }
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"\nraw results written to {args.json}")
    if mismatches or failed:
        return 1
    return 0


def validate(args) -> int:
    """Small logs with many exact ties, several windows: every peer (and workbench, if it
    imports) must equal a Python transcription of ClickHouse's scan and chdb itself."""
    fn = datagen.FUNNEL
    wb_ok, why = _workbench_available()
    if not wb_ok:
        print(f"workbench not available ({why}); validating the peers only")
    cases = [
        (100_000, 2_000, 60_000, 1),
        (100_000, 500, 3_600_000, 2),
        (50_000, 20_000, 1_000, 3),
        (200_000, 5_000, 1, 4),
    ]
    windows = [0, 1_000, 3_600_000, 86_400_000, 7 * 86_400_000]
    bad = 0
    for ev, us, tie, seed in cases:
        path = datagen.generate(ev, us, seed, tie_unit_ms=tie)
        for w in windows:
            got = {"reference": peers.reference_levels(path, fn.steps, w)}
            for k, cls in peers.PEERS.items():
                o = cls(path, fn.steps, w)
                o.prepare()
                got[k] = o.run()
                o.close()
            if wb_ok:
                r = spawn("workbench", path, w, 1, 1, args.timeout)
                got["workbench"] = r.get("counts", r.get("error"))
            same = len({json.dumps(v) for v in got.values()}) == 1
            bad += not same
            print(
                f"events={ev:>7,} users={us:>6,} ties every {tie:>9,} ms  window={w:>11,} ms: "
                + ("OK " + str(got["chdb_parquet"]) if same else "MISMATCH " + json.dumps(got))
            )
    print("validation:", "ALL AGREE" if not bad else f"{bad} MISMATCHES")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description="Funnel benchmark: workbench vs chdb, DuckDB, Polars")
    ap.add_argument("--events", type=_int, default=10_000_000)
    ap.add_argument("--users", type=_int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is reported")
    ap.add_argument(
        "--rerun-repeat",
        type=int,
        default=10,
        help="runs of the workbench re-run on the loaded log (it is fast)",
    )
    ap.add_argument(
        "--engines",
        nargs="+",
        choices=[k for k, _, _ in ENGINES],
        default=None,
        help="subset of engines to run (default: all)",
    )
    ap.add_argument("--timeout", type=float, default=300, help="seconds per engine process")
    ap.add_argument("--json", help="also write the raw results to this JSON file")
    ap.add_argument(
        "--validate",
        action="store_true",
        help="check every engine against chdb on small tie-heavy logs, several windows",
    )
    # internal: run one engine in this process
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument(
        "--window-ms", type=int, default=datagen.FUNNEL.window_ms, help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.worker:
        run_worker(args)
        return 0
    if args.validate:
        return validate(args)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
