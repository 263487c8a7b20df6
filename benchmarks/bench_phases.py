"""Where a re-run spends its time, by phase (best of 7), for the profiles in README.md.

    .venv/bin/python benchmarks/bench_phases.py

The Parquet load (best of 5, median beside it), the engine call alone (``funnel.outcomes``), the
public re-run and the step table, on the 10M-event log of ``bench_funnel.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datagen

import workbench as wb


def _best_ms(call: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def _load_ms(path: Path, repeat: int = 5) -> tuple[float, float, wb.EventLog]:
    """Best and median of `repeat` loads, each after the previous log is dropped (as in
    bench_funnel.py, so no load finds the last one's memory still held)."""
    times = []
    log: wb.EventLog | None = None
    for _ in range(repeat):
        log = None
        start = time.perf_counter()
        log = wb.EventLog.from_parquet(path, user="user_id", event="event", time="ts")
        times.append(time.perf_counter() - start)
    assert log is not None
    times.sort()
    return times[0] * 1e3, times[len(times) // 2] * 1e3, log


def main() -> None:
    path = datagen.generate(10_000_000, 1_000_000, 42)
    best, median, log = _load_ms(path)
    print(f"from_parquet (native)            {best:7.1f} ms  (median {median:.1f} ms)")
    funnel = wb.Funnel(list(datagen.FUNNEL.steps), window="1d")
    funnel.run(log).level_counts()
    print(f"engine: funnel.outcomes(log)     {_best_ms(lambda: funnel.outcomes(log)):7.1f} ms")
    rerun = _best_ms(lambda: funnel.run(log).level_counts())
    print(f"run + level_counts               {rerun:7.1f} ms")
    print(f"run + result.table               {_best_ms(lambda: funnel.run(log).table):7.1f} ms")


if __name__ == "__main__":
    main()
