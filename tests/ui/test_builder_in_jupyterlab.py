"""Build a funnel by clicking in a real JupyterLab, in Debian's chromium, with no internet: pick
four steps from the demo shop's events through the widgets, see the chart drawn (one bar per
step, the plan's Chinese display names as glyphs), click a step's bar and then the worst
step's, and read that step's audience size in the drill-down panel. The numbers are checked
against the same funnel run here, outside the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

import workbench as wb
from workbench.datasets import ecommerce

N_USERS = 5_000
STEPS = ("product_detail", "add_to_cart", "place_order", "pay_success")
SETUP = f"""\
import workbench as wb
demo = wb.datasets.ecommerce(n_users={N_USERS})
log = demo.log()
tags = wb.TagStore.from_table(log, demo.users, categorical=["age_band", "gender", "membership"])
builder = wb.FunnelBuilder(log, plan=demo.plan(), tags=tags, users=demo.users, language="zh")
builder"""
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def expected() -> wb.FunnelResult:
    """The funnel the clicks build, run here: the numbers the panel must show."""
    demo = ecommerce(n_users=N_USERS)
    labels = {e: demo.plan().display_names("zh")[e] for e in STEPS}
    return wb.Funnel(list(STEPS), labels=labels).run(demo.log())


def bar(chart: Locator, step: int, label: str) -> Locator:
    """The solid part of a step's bar (Vega writes each bar's description as its aria-label)."""
    return chart.locator(
        f"g.step_bars_marks path[aria-label*='name: {step}. {label};']"
        "[aria-label*='segment: converted']"
    )


def glyphs_differ(page: Page, first: str, second: str) -> bool:
    """Whether two texts draw differently in the chart's font: missing glyphs all draw the
    same box, so two different Chinese words would look alike without a CJK font."""
    return bool(
        page.evaluate(
            """([a, b]) => {
                const draw = text => {
                    const canvas = document.createElement('canvas');
                    canvas.width = 120; canvas.height = 40;
                    const ctx = canvas.getContext('2d');
                    ctx.font = "24px Inter, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif";
                    ctx.fillText(text, 4, 30);
                    return Array.from(ctx.getImageData(0, 0, 120, 40).data).join(',');
                };
                return draw(a) !== draw(b);
            }""",
            [first, second],
        )
    )


def test_build_a_funnel_by_clicking_and_drill_into_the_worst_step(
    lab,
    write_notebook: Callable[..., Path],
    open_notebook,
    page: Page,
    screenshot: Callable[[str], Path],
    expected: wb.FunnelResult,
) -> None:
    write_notebook(
        lab.root / "builder.ipynb",
        SETUP,
        "builder.result",
        'wb.charts.trends(builder.result, "week")',
    )
    notebook = open_notebook(lab, "builder.ipynb")
    notebook.run_cell(0)
    builder = notebook.panel.locator(".funnel-builder")
    expect(builder).to_be_visible(timeout=WAIT_MS)

    # Four steps, each searched, picked from the list and added.
    search = builder.locator(".funnel-builder-search input")
    events = builder.locator(".funnel-builder-events select")
    for number, event in enumerate(STEPS, start=1):
        search.fill(event.split("_")[0])
        option = events.locator("option", has_text=f" · {event} · ")
        expect(option).to_have_count(1, timeout=WAIT_MS)
        events.select_option(label=option.inner_text())
        builder.locator(".funnel-builder-add").click()
        expect(builder.locator(".funnel-builder-step")).to_have_count(number, timeout=WAIT_MS)

    # The chart: one bar per step, with the step table's counts and the plan's Chinese names.
    chart = builder.locator(".funnel-builder-chart")
    labels = expected.labels
    table = expected.table
    for step, label in enumerate(labels, start=1):
        expect(bar(chart, step, label)).to_have_count(1, timeout=WAIT_MS)
        users = int(table["users"].iloc[step - 1])
        expect(
            chart.locator("g.step_labels_marks text", has_text=f"{users:,} users")
        ).to_have_count(1)
        expect(chart.locator("g.role-axis-label text", has_text=f"{step}. {label}")).to_have_count(
            1
        )
    assert chart.locator("g.step_bars_marks path[aria-label*='segment: converted']").count() == 4
    assert glyphs_differ(page, labels[0], labels[1])  # a CJK font draws them
    size = builder.locator(".drill-down .audience-size")

    # The builder opens on the worst step, with who dropped off after it.
    worst = expected.worst_step()
    dropped = len(expected.dropped_after(worst))
    expect(size).to_contain_text(
        f"{dropped:,} users dropped after {labels[worst - 1]}", timeout=WAIT_MS
    )
    screenshot("funnel-built")

    # A click on another step's bar moves the panel there; a click on the worst step's back.
    other = 1 if worst != 1 else 2
    bar(chart, other, labels[other - 1]).click()
    other_dropped = len(expected.dropped_after(other))
    expect(size).to_contain_text(
        f"{other_dropped:,} users dropped after {labels[other - 1]}", timeout=WAIT_MS
    )
    bar(chart, worst, labels[worst - 1]).click()
    expect(size).to_contain_text(
        f"{dropped:,} users dropped after {labels[worst - 1]}", timeout=WAIT_MS
    )
    panel = builder.locator(".drill-down")
    expect(panel.locator("table.workbench-table tbody tr")).to_have_count(10)
    expect(panel.locator("g.mark-rect").first).to_be_visible(timeout=WAIT_MS)  # profile chart
    panel.scroll_into_view_if_needed()
    screenshot("drill-down-worst-step")

    # The result's own display: a picture of the chart beside the compact table, and a chart
    # shown on its own is drawn offline too.
    notebook.run_cell(1)
    picture = notebook.code_cells.nth(1).locator("img[src^='data:image/svg+xml']")
    expect(picture).to_be_visible(timeout=WAIT_MS)
    assert re.search(r"Funnel chart: 查看商品详情 [\d,]+", picture.get_attribute("alt") or "")
    notebook.run_cell(2)
    trend = notebook.code_cells.nth(2).locator(".vega-embed canvas, .vega-embed svg")
    expect(trend.first).to_be_visible(timeout=WAIT_MS)
    screenshot("result-and-trend")
    assert notebook.errors() == []
