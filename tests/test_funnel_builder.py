"""The funnel builder without a browser: set its controls and traits as a click would, fake the
chart's selection as the browser reports it, and check the funnel, the chart spec, the
drill-down audience and what the panels show."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pandas as pd
import pyroaring
import pytest

import workbench as wb
from workbench.widgets import FunnelBuilder, FunnelDraft
from workbench.widgets.code import funnel_code

PLAN = {
    "languages": ["en", "zh"],
    "events": {
        "view": {"display_name": {"en": "Product page", "zh": "商品页"}},
        "cart": {"display_name": {"en": "Add to cart", "zh": "加入购物车"}},
        "pay": {"display_name": {"en": "Pay", "zh": "支付"}},
    },
}


@pytest.fixture
def shop() -> tuple[wb.EventLog, pd.DataFrame]:
    rows = []
    for user in range(1, 41):
        start = pd.Timestamp("2026-02-01") + pd.Timedelta(hours=user)
        platform = "ios" if user % 2 else "web"
        rows.append((user, "view", start, platform, 5.0 + user, user % 5))
        if user % 4 != 0:
            rows.append(
                (user, "cart", start + pd.Timedelta(minutes=5), platform, 5.0 + user, user % 5)
            )
        if user % 4 == 1:
            rows.append(
                (user, "pay", start + pd.Timedelta(minutes=30), platform, 5.0 + user, user % 5)
            )
        if user == 2:
            rows.append((user, "refund", start + pd.Timedelta(minutes=10), platform, 0.0, 2))
    # Someone searches a month later, so every window above has closed by the analysis end.
    rows.append((99, "search", pd.Timestamp("2026-03-01"), "web", 0.0, 9))
    df = pd.DataFrame(rows, columns=["user_id", "event", "time", "platform", "price", "session_id"])
    users = pd.DataFrame(
        {"user_id": range(1, 41), "tier": ["gold" if u % 3 == 0 else "basic" for u in range(1, 41)]}
    )
    return wb.EventLog(df), users


@pytest.fixture
def builder(shop) -> FunnelBuilder:
    log, users = shop
    tags = wb.TagStore.from_table(log, users, categorical=["tier"])
    plan = wb.TrackingPlan.from_dict(PLAN)
    return FunnelBuilder(log, plan=plan, tags=tags, users=users)


def click_bar(builder: FunnelBuilder, step: int) -> None:
    """What the browser sends when a step's bar is clicked: the Vega selection signal."""
    builder.chart_widget._vl_selections = {
        "step": {"value": {"vlPoint": {"or": [{"step": step}]}}, "store": []}
    }


def chart_rows(builder: FunnelBuilder, mark: str = "step_bars") -> list[dict]:
    spec = builder.chart_widget.spec
    layer = next(layer for layer in spec["layer"] if layer.get("name") == mark)
    return spec["datasets"][layer["data"]["name"]]


def add_by_clicking(builder: FunnelBuilder, search: str, event: str) -> None:
    builder.search.value = search
    assert event in [value for _, value in builder.event_list.options]
    builder.event_list.value = event
    builder.add_button.click()


def test_steps_picked_from_the_searchable_list_make_the_funnel(builder) -> None:
    builder.search.value = "add"  # display names are searched too
    assert [v for _, v in builder.event_list.options] == ["cart"]
    assert builder.event_list.options[0][0] == "Add to cart · cart · 30 events"
    add_by_clicking(builder, "", "view")
    add_by_clicking(builder, "car", "cart")
    add_by_clicking(builder, "pa", "pay")
    expected = wb.Funnel(
        ["view", "cart", "pay"],
        labels={"view": "Product page", "cart": "Add to cart", "pay": "Pay"},
    )
    assert builder.funnel == expected
    assert (
        builder.result.table["users"].tolist()
        == expected.run(builder.event_log).table["users"].tolist()
    )


def test_the_chart_has_one_bar_per_step_with_the_step_tables_counts(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    rows = chart_rows(builder)
    converted = [r for r in rows if r["segment"] == "converted"]
    assert [r["name"] for r in converted] == ["1. Product page", "2. Add to cart", "3. Pay"]
    assert [r["reached"] for r in converted] == [40, 30, 10]
    assert "<td>30</td>" in builder.table.value
    assert "20 dropped" not in builder.error


def test_the_builder_opens_on_the_worst_step_with_its_dropped_users(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    worst = builder.result.worst_step()
    assert worst == 2  # 20 of 30 carts never paid; 10 of 40 views never carted
    assert (builder.step, builder.kind) == (2, "dropped")
    dropped = builder.result.dropped_after(2)
    assert builder.panel.audience == dropped
    assert f"{len(dropped):,} users dropped after Add to cart" in builder.panel.size.value
    spec = builder.chart_widget.spec
    assert spec["params"][0]["value"] == [{"step": 2}]  # the chart shows the same step


def test_clicking_a_bar_opens_that_steps_drill_down(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    click_bar(builder, 1)
    assert builder.step == 1
    assert builder.panel.audience == builder.result.dropped_after(1)
    assert "10 users dropped after Product page" in builder.panel.size.value
    assert [v for _, v in builder.kind_buttons.options] == ["dropped", "converted", "in_progress"]
    builder.kind_buttons.value = "converted"
    assert builder.panel.audience == builder.result.reached(1)
    click_bar(builder, 3)  # the last step: nobody drops off after it
    assert builder.kind == "converted"
    assert [v for _, v in builder.kind_buttons.options] == ["converted", "in_progress"]
    assert builder.panel.audience == builder.result.converted()


def test_a_click_still_reaches_python_after_the_chart_is_redrawn(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    builder.window_text.value = "10m"  # a new chart object, a new selections object
    assert builder.result.table["users"].tolist() == [40, 30, 0]
    click_bar(builder, 1)
    assert builder.step == 1
    assert builder.panel.audience == builder.result.dropped_after(1)


def test_the_drill_down_lists_the_first_users_with_their_attributes(builder) -> None:
    for event in ("view", "cart"):
        builder.add_step(event)
    builder.drill_down(1, "dropped")
    html = builder.panel.rows.value
    assert "<th>tier</th>" in html
    assert "<td>4</td>" in html and "<td>basic</td>" in html  # user 4 never carted
    assert "Who they are" in builder.panel.profile_widget.spec["title"]["text"]


def test_code_drill_down_returns_what_the_panel_shows(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    audience = builder.drill_down(2, "in_progress")
    assert audience == builder.result.in_progress(2)
    assert builder.panel.audience == audience
    assert (builder.step, builder.kind) == (2, "in_progress")
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match="after the last step"):
        builder.drill_down(3, "dropped")
    with pytest.raises(wb.exceptions.ArgumentError, match="kind must be"):
        builder.drill_down(1, "lost")


def test_filters_suggest_values_from_the_data_and_read_them_as_the_columns_type(builder) -> None:
    builder.add_step("view")
    builder.add_step("cart")
    step_row = builder.steps_box.children[1]
    add_filter = step_row.children[0].children[2]
    add_filter.click()
    filter_row = builder.steps_box.children[1].children[1]
    column, op, value = filter_row.children[1:4]
    assert "price" in column.options and "platform" in column.options
    column.value = "platform"
    filter_row = builder.steps_box.children[1].children[1]
    column, op, value = filter_row.children[1:4]
    assert sorted(value.options) == ["ios", "web"]
    value.value = "ios"
    assert builder.funnel.steps[1] == wb.Step("cart", where=wb.col("platform") == "ios")
    column.value = "price"
    filter_row = builder.steps_box.children[1].children[1]
    column, op, value = filter_row.children[1:4]
    op.value = ">"
    value.value = "20"
    assert builder.funnel.steps[1] == wb.Step("cart", where=wb.col("price") > 20)
    assert builder.result.table["users"].tolist() == [40, 18]  # price 21 and up


def test_an_invalid_definition_shows_its_error_in_the_panel(builder) -> None:
    builder.add_step("view")
    builder.add_step("cart")
    before = builder.chart_widget.spec
    builder.window_text.value = "1 fortnight"
    assert "cannot read the window '1 fortnight'" in builder.error
    assert "cannot read the window" in builder.status.value
    assert builder.chart_widget.spec == before  # the last good chart stays
    builder.window_text.value = "2h"
    assert builder.error == ""
    builder.steps_box.children[1].children[0].children[2].click()  # a filter with no property
    assert builder.error == "step 2, filter 1: choose a property"
    with pytest.raises(wb.exceptions.FunnelDefinitionError, match="choose a property"):
        _ = builder.funnel


def test_alternatives_reorder_and_removal(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    events = builder.steps_box.children[0].children[0].children[1]
    events.value = ["view", "refund"]
    assert builder.funnel.steps[0] == wb.Step(("view", "refund"))
    down = builder.steps_box.children[0].children[0].children[6]
    down.click()
    assert [s.events for s in builder.funnel.steps] == [["cart"], ["view", "refund"], ["pay"]]
    remove = builder.steps_box.children[1].children[0].children[7]
    remove.click()
    assert [s.events for s in builder.funnel.steps] == [["cart"], ["pay"]]


def test_every_option_reaches_the_funnel(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    builder.order.value = "strict"
    builder.counting.value = "conversions"
    builder.hold.value = ["platform"]
    builder.session.value = True
    builder.add_exclusion.click()
    exclusion = builder.exclusions_box.children[0]
    exclusion.children[0].value = ["refund"]
    exclusion.children[1].value = 1
    exclusion.children[2].value = 2
    step = builder.steps_box.children[1].children[0]
    step.children[3].value = True  # optional
    builder.steps_box.children[2].children[0].children[4].value = "30m"  # within
    expected = wb.Funnel(
        ["view", wb.Step("cart", optional=True), wb.Step("pay", within="30m")],
        order="strict",
        counting="conversions",
        hold="platform",
        session=True,
        exclusions=[wb.Exclusion("refund", after=1, before=2)],
        labels={"view": "Product page", "cart": "Add to cart", "pay": "Pay"},
    )
    assert builder.funnel == expected
    assert builder.error == ""
    builder.order.value = "sequential"
    builder.counting.value = "users"
    builder.hold.value = []
    builder.session.value = False
    builder.exclusions_box.children[0].children[3].click()
    builder.steps_box.children[1].children[0].children[3].value = False
    builder.steps_box.children[2].children[0].children[4].value = ""
    builder.modes["strict_order"].value = True
    builder.modes["allow_reentry"].value = True
    assert builder.funnel.options["allow_reentry"] and builder.funnel.options["strict_order"]
    builder.modes["strict_order"].value = False
    assert builder.error == "allow_reentry only applies together with strict_order"


def test_a_breakdown_adds_its_chart_by_the_chosen_attribution(builder) -> None:
    for event in ("view", "cart"):
        builder.add_step(event)
    builder.breakdown.value = "platform"
    builder.attribution.value = "last_touch"
    (chart,) = builder.breakdown_box.children
    rows = chart.spec["datasets"][chart.spec["data"]["name"]]
    assert {r["group"] for r in rows} == {"ios", "web"}
    table = builder.result.breakdown("platform", attribution="last_touch")
    assert sorted(r["users"] for r in rows) == sorted(table["users"].tolist())
    builder.breakdown.value = None
    assert builder.breakdown_box.children == ()


def test_the_code_rebuilds_the_funnel_on_screen(builder) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    builder.steps_box.children[1].children[0].children[2].click()
    builder.steps_box.children[1].children[1].children[1].value = "price"
    builder.steps_box.children[1].children[1].children[2].value = ">="
    builder.steps_box.children[1].children[1].children[3].value = "12.5"
    builder.order.value = "strict"
    namespace: dict[str, object] = {}
    exec(builder.code, namespace)
    assert namespace["funnel"] == builder.funnel
    assert 'wb.col("price") >= 12.5' in builder.code
    assert builder.code_view.value.startswith("<pre>import workbench as wb")


def test_from_funnel_opens_an_existing_definition(shop) -> None:
    log, _ = shop
    funnel = wb.Funnel(
        [
            "view",
            wb.Step("cart", where=(wb.col("price") > 10) | wb.col("platform").is_null()),
            wb.Step("pay", within="1h"),
        ],
        window="2d",
        order="strict",
        exclusions=[wb.Exclusion("refund", after=1, before=2)],
        labels={2: "Basket"},
    )
    builder = FunnelBuilder.from_funnel(log, funnel)
    assert builder.funnel == funnel
    assert builder.window.value == "2d" and builder.order.value == "strict"
    assert "condition kept from the funnel" in builder.steps_box.children[1].children[1].value
    namespace: dict[str, object] = {}
    exec(funnel_code(builder.funnel), namespace)
    assert namespace["funnel"] == funnel


def test_assigning_the_definition_trait_loads_it(builder) -> None:
    builder.definition = {"steps": ["view", "pay"], "window": "2h"}
    assert builder.funnel == wb.Funnel(["view", "pay"], window="2h")
    assert builder.window.value == "2h"
    assert builder.definition == {"steps": ["view", "pay"], "window": "2h"}
    builder.definition = {"steps": ["view"], "windw": "2h"}
    assert "unknown key 'windw'" in builder.error


def test_save_as_segment_and_export_from_the_panel(builder, tmp_path: Path) -> None:
    for event in ("view", "cart", "pay"):
        builder.add_step(event)
    panel = builder.panel
    panel.segment_name.value = "cart leavers"
    panel.save_button.click()
    assert "Saved 20 users as segment &#x27;cart leavers&#x27;" in panel.message.value
    assert builder.segments["cart leavers"] == builder.result.dropped_after(2)
    assert len(builder.tags["cart leavers"]) == 20
    panel.folder.value = str(tmp_path / "exports")
    for format, suffix in (("csv", ".csv"), ("parquet", ".parquet"), ("bitmap", ".roaring")):
        panel.format.value = format
        panel.export_button.click()
        path = tmp_path / "exports" / f"cart-leavers{suffix}"
        assert path.exists(), panel.message.value
    keys = sorted(builder.result.dropped_after(2).keys().to_pylist())
    assert sorted(pd.read_csv(tmp_path / "exports" / "cart-leavers.csv")["user_id"]) == keys
    table = pd.read_parquet(tmp_path / "exports" / "cart-leavers.parquet")
    assert list(table.columns) == ["user_id", "tier"]
    bitmap = pyroaring.BitMap.deserialize(
        (tmp_path / "exports" / "cart-leavers.roaring").read_bytes()
    )
    assert sorted(bitmap) == keys
    panel.save_button.click()  # the same name again
    assert "already has a tag &#x27;cart leavers&#x27;" in panel.message.value


def test_changes_in_a_kernel_are_debounced_and_run_off_the_main_thread(
    shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, _ = shop
    monkeypatch.setattr("workbench.widgets.funnel_builder.in_kernel", lambda: True)

    threads: list[str] = []
    compute = FunnelBuilder._compute

    def spied(self: FunnelBuilder, *args: object) -> object:
        threads.append(threading.current_thread().name)
        return compute(self, *args)

    monkeypatch.setattr(FunnelBuilder, "_compute", spied)

    async def session() -> tuple[FunnelBuilder, list[dict]]:
        builder = FunnelBuilder(log, debounce=0.05)
        runs: list[dict] = []
        builder.observe(lambda change: runs.append(change["new"]), names="definition")
        builder.add_step("view")
        builder.add_step("cart")
        builder.add_step("pay")
        assert runs == []  # nothing yet: the debounce is still waiting
        for _ in range(100):
            await asyncio.sleep(0.02)
            if runs:
                break
        await asyncio.sleep(0.2)
        return builder, runs

    builder, runs = asyncio.run(session())
    assert runs == [{"steps": ["view", "cart", "pay"], "window": "1d"}]  # one run for three
    assert threads and all(name != "MainThread" for name in threads)
    assert builder.result.table["users"].tolist() == [40, 30, 10]


def test_a_draft_reads_back_as_the_funnel_it_came_from() -> None:
    funnel = wb.Funnel(
        [
            "a",
            wb.Step(
                ["b", "c"],
                where=wb.col("x").isin([1, 2]) & (wb.col("y") != "z"),
                label="B",
                optional=True,
            ),
            "d",
        ],
        window="90m",
        hold=["p", "q"],
        counting="conversions",
        analysis_end="2026-01-01",
        labels={"a": "A", 3: "D"},
    )
    assert FunnelDraft.from_funnel(funnel).to_funnel() == funnel
