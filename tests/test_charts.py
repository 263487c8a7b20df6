"""Every chart rendered offline to SVG and PNG, and read back: the counts it must show, one bar
per step, Chinese display names drawn as glyphs (not missing-glyph boxes), and clear errors
for the wrong input."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import workbench as wb
from workbench import charts
from workbench.charts.profile import profile_frame
from workbench.charts.time_to_convert import time_to_convert_frame
from workbench.charts.trends import trends_frame
from workbench.exceptions import ArgumentError, ColumnNotFoundError, FunnelDefinitionError

PLAN = {
    "name": "Shop",
    "languages": ["zh", "en"],
    "events": {
        "view": {"display_name": {"zh": "商品页", "en": "Product page"}},
        "cart": {"display_name": {"zh": "加入购物车", "en": "Add to cart"}},
        "pay": {"display_name": {"zh": "支付", "en": "Pay"}},
    },
}


@pytest.fixture(scope="module")
def shop() -> wb.EventLog:
    """Two hundred users through view -> cart -> pay, some still in their window at the end."""
    rng = np.random.default_rng(3)
    rows = []
    start = pd.Timestamp("2026-03-02")
    for user in range(200):
        t = start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 20)))
        platform = ["ios", "web", "android"][user % 3]
        rows.append((user, "view", t, platform, 10.0))
        if rng.random() < 0.6:
            t += pd.Timedelta(minutes=int(rng.integers(1, 300)))
            rows.append((user, "cart", t, platform, 10.0))
            if rng.random() < 0.5:
                t += pd.Timedelta(minutes=int(rng.integers(1, 600)))
                rows.append((user, "pay", t, platform, 10.0))
    df = pd.DataFrame(rows, columns=["user_id", "event", "time", "platform", "price"])
    return wb.EventLog(df)


@pytest.fixture(scope="module")
def result(shop: wb.EventLog) -> wb.FunnelResult:
    return wb.Funnel(["view", "cart", "pay"], window="1d").run(shop)


def svg_texts(svg: str) -> list[str]:
    """The text a person reads in an SVG (each <text>, its <tspan> lines joined)."""
    texts = []
    for match in re.finditer(r"<text[^>]*>(.*?)</text>", svg, flags=re.S):
        inner = re.sub(r"<[^>]+>", "\n", match.group(1))
        texts += [t for t in (line.strip() for line in inner.split("\n")) if t]
    return [t.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") for t in texts]


def bar_labels(svg: str, mark: str) -> list[str]:
    """The accessible description of each bar of the named mark (Vega writes one per item)."""
    group = re.search(
        rf'<g class="mark-rect role-mark {mark}_marks"[^>]*>(.*?)</g>', svg, flags=re.S
    )
    assert group is not None, f"no bars of mark {mark!r} in the SVG"
    return re.findall(r'aria-label="([^"]*)"', group.group(1))


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


# -- the funnel chart ----------------------------------------------------------------------------


def test_the_funnel_svg_shows_every_steps_count_and_one_bar_part_per_segment(result) -> None:
    svg = charts.to_svg(charts.funnel(result))
    table = result.table
    texts = svg_texts(svg)
    for step, users in zip(table["step"], table["users"], strict=True):
        assert f"{users:,} users" in texts, (step, texts)
    assert [t for t in texts if t.startswith(("1. ", "2. ", "3. "))] == [
        "1. view",
        "2. cart",
        "3. pay",
    ]
    parts = bar_labels(svg, "step_bars")
    converted = [p for p in parts if "this part: converted" in p]
    assert len(converted) == 3  # one bar per step
    dropped = [p for p in parts if "this part: dropped off" in p]
    assert len(dropped) == int((table["dropped"] > 0).sum())


def test_funnel_bar_parts_add_up_to_the_step_table(result) -> None:
    frame = charts.funnel_frame(result)
    table = result.table
    parts = frame["converted"] + frame["in progress"] + frame["dropped off"]
    assert parts.tolist() == table["users"].tolist()
    assert frame["dropped off"].tolist() == table["dropped"].tolist()
    assert frame["in progress"].tolist() == table["in_progress"].tolist()
    # What goes on from a step is what the next step counts (no optional steps here).
    assert frame["converted"].tolist()[:-1] == table["users"].tolist()[1:]


def test_funnel_tooltips_carry_the_wilson_interval_and_median_time(result) -> None:
    frame = charts.funnel_frame(result)
    row = result.table.iloc[1]
    low, high = row["conversion_from_first_low"], row["conversion_from_first_high"]
    assert f"95% CI {low * 100:.1f}–{high * 100:.1f}%" in frame["t_first"].iloc[1]
    assert frame["t_median_first"].iloc[1] == wb.charts.labels.duration(
        row["median_time_from_first"]
    )
    assert frame["t_median_first"].iloc[0] == "—"  # step 1 has no time to convert


def test_vertical_funnel_renders_to_png_and_svg_files(result, tmp_path: Path) -> None:
    chart = charts.funnel(result, orientation="vertical")
    chart.save(tmp_path / "funnel.svg")
    chart.save(tmp_path / "funnel.png")
    assert "1. view" in svg_texts((tmp_path / "funnel.svg").read_text())
    width, height = png_size((tmp_path / "funnel.png").read_bytes())
    assert width > 300 and height > 300


def test_a_clickable_funnel_names_its_selection_and_starts_on_the_selected_step(result) -> None:
    spec = charts.funnel(result, clickable=True, selected=2).to_dict()
    (param,) = spec["params"]
    assert param["name"] == charts.STEP_SELECTION
    assert param["select"]["fields"] == ["step"]
    assert param["value"] == [{"step": 2}]


def test_funnel_labels_are_the_plans_chinese_display_names(shop) -> None:
    plan = wb.TrackingPlan.from_dict(PLAN)
    named = wb.Funnel(["view", "cart", "pay"], labels=plan.display_names()).run(shop)
    svg = charts.to_svg(charts.funnel(named))
    assert {"1. 商品页", "2. 加入购物车", "3. 支付"} <= set(svg_texts(svg))


def test_funnel_refuses_what_is_not_a_result(result) -> None:
    with pytest.raises(ArgumentError, match=r"must be a wb\.FunnelResult"):
        charts.funnel(result.table)
    with pytest.raises(ArgumentError, match="orientation must be 'horizontal' or 'vertical'"):
        charts.funnel(result, orientation="diagonal")
    with pytest.raises(FunnelDefinitionError, match=r"step number 1\.\.3"):
        charts.funnel(result, selected=4)


# -- CJK glyphs ------------------------------------------------------------------------------------


def _text_png(text: str) -> np.ndarray:
    chart = alt.Chart(pd.DataFrame({"t": [text]})).mark_text(fontSize=28).encode(text="t:N")
    image = Image.open(io.BytesIO(charts.to_png(chart.properties(width=160, height=50))))
    return np.asarray(image.convert("L"))


def test_a_cjk_font_is_installed_for_the_renderer() -> None:
    if shutil.which("fc-list") is None:
        pytest.fail("fc-list is missing: make test installs fontconfig and a CJK font")
    found = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip(), "no font with Chinese glyphs: make test installs fonts-wqy-microhei"


def test_chinese_text_renders_as_glyphs_not_missing_glyph_boxes() -> None:
    # Missing glyphs all draw the same box, so two different words would give the same
    # picture; drawn glyphs differ, and both differ from a blank chart.
    first, second, blank = _text_png("商品页"), _text_png("购物车"), _text_png(" ")
    assert (first < 128).sum() > 40  # ink on the canvas
    assert np.abs(first.astype(int) - second.astype(int)).sum() > 0
    assert not np.array_equal(first, blank)
    boxes = _text_png("\ue000\ue001\ue002")  # private-use code points: no font has them
    assert not np.array_equal(first, boxes)


# -- the other charts --------------------------------------------------------------------------


def test_breakdown_shows_each_group_with_interval_bars(result) -> None:
    chart = charts.breakdown(result, "platform")
    svg = charts.to_svg(chart)
    texts = svg_texts(svg)
    assert {"ios", "web", "android"} <= set(texts)
    assert {"1. view", "2. cart", "3. pay"} <= set(texts)
    table = result.breakdown("platform", top=6)
    rows = chart.data.values
    assert len(rows) == len(table)
    assert sorted(r["users"] for r in rows) == sorted(table["users"].tolist())
    assert png_size(charts.to_png(chart))[0] > 200


def test_breakdown_as_small_multiples_and_of_counts(result) -> None:
    facet = charts.breakdown(result, "platform", layout="facet", metric="users")
    texts = svg_texts(charts.to_svg(facet))
    assert {"ios", "web", "android"} <= set(texts)
    with pytest.raises(ArgumentError, match="metric must be one of"):
        charts.breakdown(result, "platform", metric="revenue")
    with pytest.raises(ColumnNotFoundError, match="not a column of the log"):
        charts.breakdown(result, "plattform")


def test_time_to_convert_bins_every_user_and_marks_the_tables_median(result) -> None:
    frame, marks = time_to_convert_frame(result, 3)
    times = result.time_to_convert(3)["from_first"]
    assert marks["n"] == len(times) == result.table["users"].iloc[2]
    assert frame["users"].sum() + marks["beyond"] == len(times)
    unit = dict(charts.labels.TIME_UNITS)[marks["unit"]]
    median = result.table["median_time_from_first"].iloc[2].total_seconds() / unit
    assert marks["median"] == pytest.approx(median)
    svg = charts.to_svg(charts.time_to_convert(result, 3))
    assert any(t.startswith("median ") for t in svg_texts(svg))
    ecdf = charts.time_to_convert(result, 3, kind="ecdf", since="previous")
    assert png_size(charts.to_png(ecdf))[0] > 200
    with pytest.raises(FunnelDefinitionError, match=r"step number 2\.\.3"):
        charts.time_to_convert(result, 1)


def test_trends_marks_the_periods_still_in_progress(result) -> None:
    frame = trends_frame(result, "week")
    table = result.trends("week")
    last = table[table["step"] == 3]
    assert frame["entrants"].tolist() == last["entrants"].tolist()
    assert frame["open"].tolist() == (last["in_progress"] > 0).tolist()
    assert frame["open"].iloc[-1]  # the last week's entrants may still pay
    svg = charts.to_svg(charts.trends(result, "week"))
    assert "some entrants still in progress" in svg_texts(svg)
    assert png_size(charts.to_png(charts.trends(result, "day", step=2)))[0] > 200


def test_profile_ranks_tags_around_100_with_their_support(shop, result) -> None:
    users = pd.DataFrame(
        {"user_id": range(200), "tier": ["gold" if u % 4 == 0 else "basic" for u in range(200)]}
    )
    tags = wb.TagStore.from_table(shop, users, categorical=["tier"])
    tags.add_behaviour("paid", "pay")
    table = wb.profile(result.converted(), tags)
    chart = charts.profile(table)
    texts = svg_texts(charts.to_svg(chart))
    assert {"paid", "tier:gold", "tier:basic"} <= set(texts)
    paid = table.set_index("tag").loc["paid"]
    assert f"n={int(paid['count']):,}" in texts
    shown = profile_frame(table)
    assert shown["tgi"].is_monotonic_decreasing
    with pytest.raises(ColumnNotFoundError, match="needs the columns"):
        charts.profile(result.table)


def test_overlap_heatmap_shows_the_shared_counts(result) -> None:
    audiences = [result.entered(), result.reached(2), result.converted()]
    table = wb.overlap(audiences)
    texts = svg_texts(charts.to_svg(charts.overlap(audiences)))
    for value in np.unique(table.to_numpy()):
        assert f"{value:,}" in texts
    shares = charts.overlap(audiences, normalize="row")
    assert "100%" in svg_texts(charts.to_svg(shares))
    with pytest.raises(ArgumentError, match="square"):
        charts.overlap(table.iloc[:2])


def test_violations_chart_names_events_as_the_plan_does(shop) -> None:
    plan = wb.TrackingPlan.from_dict(
        {
            "languages": ["zh"],
            "events": {
                "view": {"display_name": "商品页", "properties": {"price": "float"}},
                "cart": {"display_name": "加入购物车"},
            },
        }
    )
    report = plan.validate(shop)
    chart = charts.violations(report)
    texts = svg_texts(charts.to_svg(chart))
    assert "pay" in texts  # unplanned: no display name
    assert "加入购物车 (cart)" in texts
    assert png_size(charts.to_png(chart))[0] > 200
    with pytest.raises(ArgumentError, match=r"what plan.validate\(log\) returns"):
        charts.violations(report.table)


def test_charts_can_be_restyled_and_combined(result) -> None:
    combined = charts.funnel(result).properties(width=300) | charts.trends(result, "week")
    spec = combined.configure_axis(labelFontSize=14).to_dict()
    assert spec["config"]["axis"]["labelFontSize"] == 14
    assert len(spec["hconcat"]) == 2


def test_the_theme_is_the_workbench_one() -> None:
    assert alt.theme.active == charts.theme.NAME
    spec = alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a").to_dict()
    assert spec["config"]["font"] == charts.theme.FONT
    assert spec["config"]["background"] == charts.theme.BACKGROUND
