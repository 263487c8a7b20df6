"""Time the demo generator and the tracking-plan checks.

    .venv/bin/python benchmarks/bench_plan.py          # generator at 1M users, checks on ~10M
    .venv/bin/python benchmarks/bench_plan.py 420000   # users of the log the checks read

Issue 12's bars, printed with PASS / FALL SHORT: ``ecommerce(n_users=1_000_000)`` in at most
10 s and ``plan.validate(log)`` of about ten million events in at most 1 s (best of three).
"""

from __future__ import annotations

import sys
import time

import workbench as wb
from workbench.datasets import ecommerce
from workbench.plan import TrackingPlan

TARGET_GENERATOR = 10.0  # seconds for ecommerce(n_users=1_000_000)
TARGET_VALIDATE = 1.0  # seconds for plan.validate on ~10M events


def _timed(label: str, func):
    start = time.perf_counter()
    value = func()
    seconds = time.perf_counter() - start
    print(f"{label:<40} {seconds:8.2f} s")
    return value, seconds


def _verdict(seconds: float, target: float) -> str:
    return "PASS" if seconds <= target else "FALL SHORT"


def main() -> None:
    n_users = int(sys.argv[1]) if len(sys.argv) > 1 else 420_000
    big, gen_s = _timed("generate ecommerce(1,000,000)", lambda: ecommerce(n_users=1_000_000))
    print(f"{'events':<40} {big.events.num_rows:>11,}")
    del big
    demo, _ = _timed(f"generate ecommerce({n_users:,})", lambda: ecommerce(n_users=n_users))
    print(f"{'events':<40} {demo.events.num_rows:>11,}")
    log, _ = _timed("EventLog (encode)", demo.log)
    plan = demo.plan()
    report, first_s = _timed("plan.validate(log)", lambda: plan.validate(log))
    times = [first_s]
    for _ in range(2):
        report, seconds = _timed("plan.validate(log), again", lambda: plan.validate(log))
        times.append(seconds)
    print(report.summary())
    _timed("plan.coverage(log, report)", lambda: plan.coverage(log, report))
    funnel = wb.Funnel(
        ["browse", "product_detail", "add_to_cart", "place_order", "pay_success"], window="1d"
    )
    _timed("plan.funnel_coverage(funnel, log)", lambda: plan.funnel_coverage(funnel, log, report))
    _timed("TrackingPlan.infer(log)", lambda: TrackingPlan.infer(log))
    best, median = min(times), sorted(times)[1]
    print("\ntargets (issue 12):")
    print(
        f"  generator at 1M users <= {TARGET_GENERATOR:.0f} s          {gen_s:6.2f} s   "
        f"{_verdict(gen_s, TARGET_GENERATOR)}"
    )
    print(
        f"  validate {len(log) / 1e6:.1f}M events <= {TARGET_VALIDATE:.0f} s            "
        f"{best:6.2f} s (median {median:.2f} s)   {_verdict(best, TARGET_VALIDATE)}"
    )


if __name__ == "__main__":
    main()
