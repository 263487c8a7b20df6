"""How long the funnel builder takes to redraw after a change, on about ten million events.

A change in the builder re-runs the funnel, rebuilds the step table, the chart spec and the
drill-down panel (size, profile against the tags, first users). This times each kind of change
an analyst makes, as the kernel spends it (``builder.refresh()``: the same work the debounced
path does off the main thread), and splits one redraw into its parts.

.venv/bin/python benchmarks/bench_builder.py            # ecommerce(420_000 users) ≈ 10M events
.venv/bin/python benchmarks/bench_builder.py 100000     # n_users

Target: every change redraws in under TARGET_S seconds ("well under a second"); the script prints
PASS or FALL SHORT per change, and exits 0 either way (timings depend on the machine's load).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import workbench as wb
from workbench import charts
from workbench.datasets import ecommerce
from workbench.widgets import FunnelBuilder, drill
from workbench.widgets.draft import FilterDraft

TARGET_S = 0.5
REPEAT = 5


def _best(label: str, change: Callable[[], Any], builder: FunnelBuilder) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        change()
        builder.refresh()
        times.append(time.perf_counter() - start)
    if builder.error:
        raise SystemExit(f"{label}: the builder shows an error: {builder.error}")
    best, median = min(times), statistics.median(times)
    verdict = "PASS" if median < TARGET_S else "FALL SHORT"
    print(f"{label:<46} best {best:6.3f} s   median {median:6.3f} s   {verdict}")
    return median


def _part(label: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = work()
    print(f"  {label:<44} {time.perf_counter() - start:6.3f} s")
    return value


def main() -> None:
    n_users = int(sys.argv[1]) if len(sys.argv) > 1 else 420_000
    start = time.perf_counter()
    demo = ecommerce(n_users=n_users)
    log = demo.log()
    tags = wb.TagStore.from_table(
        log, demo.users, categorical=["age_band", "gender", "city_tier", "membership", "ltv_band"]
    )
    print(
        f"log: {len(log):,} events, {log.n_users:,} users, {len(tags)} tags "
        f"(made in {time.perf_counter() - start:.1f} s)"
    )
    builder = FunnelBuilder(log, plan=demo.plan(), tags=tags, users=demo.users, debounce=0)
    opened = time.perf_counter()
    for event in ("product_detail", "add_to_cart", "place_order", "pay_success"):
        builder.add_step(event)
    print(
        f"four steps added (first chart of the kernel included): "
        f"{time.perf_counter() - opened:.2f} s"
    )
    print(f"\nmedian of {REPEAT} redraws per change; target < {TARGET_S} s\n")

    windows = iter(["2h", "1d"] * REPEAT)
    orders = iter(["strict", "sequential"] * REPEAT)
    results = [
        _best(
            "window 2h <-> 1d",
            lambda: setattr(builder.window_text, "value", next(windows)),
            builder,
        ),
        _best(
            "order strict <-> sequential",
            lambda: setattr(builder.order, "value", next(orders)),
            builder,
        ),
    ]
    step = builder.draft.steps[1]
    step.filters.append(FilterDraft("price", ">", "50"))
    values = iter(["50", "100"] * REPEAT)
    results.append(
        _best(
            "filter add_to_cart price > 50 <-> 100",
            lambda: setattr(step.filters[0], "value", next(values)),
            builder,
        )
    )
    step.filters.clear()
    breakdowns = iter(["platform", None] * REPEAT)
    results.append(
        _best(
            "breakdown by platform on <-> off",
            lambda: setattr(builder.breakdown, "value", next(breakdowns)),
            builder,
        )
    )
    clicks = iter([1, 2, 3] * REPEAT)

    def click() -> None:
        builder.chart_widget._vl_selections = {
            "step": {"value": {"vlPoint": {"or": [{"step": next(clicks)}]}}, "store": []}
        }

    start_click = time.perf_counter()
    for _ in range(REPEAT):
        click()
    per_click = (time.perf_counter() - start_click) / REPEAT
    verdict = "PASS" if per_click < TARGET_S else "FALL SHORT"
    print(
        f"{'click a bar (drill-down: size, profile, users)':<46} mean {per_click:6.3f} s"
        f"{'':<19}{verdict}"
    )
    results.append(per_click)

    print("\none redraw, in parts (the engine's run best of 3):")
    funnel = builder.funnel
    engine = []
    for _ in range(3):
        start = time.perf_counter()
        result = funnel.run(log)
        engine.append(time.perf_counter() - start)
    print(f"  {'funnel.run(log) (the engine)':<44} {min(engine):6.3f} s")
    _part("result.table (counts, intervals, times)", lambda: result.table)
    _part("result.worst_step()", result.worst_step)
    chart = _part(
        "charts.funnel(result, clickable=True)", lambda: charts.funnel(result, clickable=True)
    )
    _part("chart.to_dict(validate=False)", lambda: chart.to_dict(validate=False))
    audience = _part(
        "drill_down(result, 2, 'dropped')", lambda: drill.drill_down(result, 2, "dropped")
    )
    _part("profile against the tags", lambda: drill.profile_table(audience, tags))
    indexed = drill.by_key(demo.users, log)  # as the panel keeps it
    _part("first 10 users with attributes", lambda: drill.first_rows(audience, users=indexed))
    worst = max(results)
    print(f"\nload average (1, 5, 15 min) at the end: {os.getloadavg()} on {os.cpu_count()} cores")
    print(
        f"\nslowest change: {worst:.3f} s -> {'PASS' if worst < TARGET_S else 'FALL SHORT'} "
        f"(target < {TARGET_S} s)"
    )


if __name__ == "__main__":
    main()
