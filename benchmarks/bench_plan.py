"""Time the demo generator and the tracking-plan checks on about ten million events.

.venv/bin/python benchmarks/bench_plan.py            # ~10M events
.venv/bin/python benchmarks/bench_plan.py 1000000    # n_users (1M users ≈ 24M events)
"""

from __future__ import annotations

import sys
import time

import workbench as wb
from workbench.datasets import ecommerce
from workbench.plan import TrackingPlan


def _timed(label: str, func):
    start = time.perf_counter()
    value = func()
    print(f"{label:<34} {time.perf_counter() - start:8.2f} s")
    return value


def main() -> None:
    n_users = int(sys.argv[1]) if len(sys.argv) > 1 else 420_000
    demo = _timed(f"generate ecommerce({n_users:,})", lambda: ecommerce(n_users=n_users))
    print(f"{'events':<34} {demo.events.num_rows:>10,}")
    log = _timed("EventLog (encode)", demo.log)
    plan = demo.plan()
    report = _timed("plan.validate(log)", lambda: plan.validate(log))
    report = _timed("plan.validate(log), again", lambda: plan.validate(log))
    print(report.summary())
    _timed("plan.coverage(log, report)", lambda: plan.coverage(log, report))
    funnel = wb.Funnel(
        ["browse", "product_detail", "add_to_cart", "place_order", "pay_success"], window="1d"
    )
    _timed("plan.funnel_coverage(funnel, log)", lambda: plan.funnel_coverage(funnel, log, report))
    _timed("TrackingPlan.infer(log)", lambda: TrackingPlan.infer(log))


if __name__ == "__main__":
    main()
