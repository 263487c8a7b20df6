"""What a notebook shows for a funnel result: the chart (an SVG picture drawn offline) beside
the compact table, and the table alone when the chart libraries are missing."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import workbench as wb


def test_a_result_shows_its_chart_beside_the_compact_table(shop_log) -> None:
    result = wb.Funnel(["view", "cart", "pay"]).run(shop_log)
    bundle = result._repr_mimebundle_()
    html = bundle["text/html"]
    assert html.startswith("<div style='display:flex")
    (data,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    svg = base64.b64decode(data).decode("utf-8")
    assert svg.startswith("<svg") and ">1. view<" in svg
    assert 'alt="Funnel chart: view 3, cart 2, pay 1"' in html
    # The compact table: five figures a step, durations as people write them.
    headers = re.findall(r"<th>([^<]*)</th>", html)
    assert headers == [
        "step",
        "label",
        "users",
        "conversion",
        "dropped",
        "in progress",
        "median time",
    ]
    assert "<td>1h</td>" in html
    assert "Full table: result.table" in html
    assert bundle["text/plain"] == repr(result)
    assert result._repr_mimebundle_()["text/html"] is html  # drawn once


def test_without_altair_a_result_shows_its_table_alone(tmp_path) -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["altair"] = None  # as if it were not installed
        import pandas as pd, workbench as wb
        df = pd.DataFrame({"user_id": [1, 1], "event": ["view", "pay"],
                           "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05"])})
        html = wb.Funnel(["view", "pay"]).run(wb.EventLog(df))._repr_mimebundle_()["text/html"]
        print("svg" in html, "<table" in html, "Full table: result.table" in html)
        """
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert shown == ["False", "True", "True"]


def test_profile_and_comparison_tables_display_rounded_labelled_values(shop_log) -> None:
    users = pd.DataFrame({"user_id": [1, 2, 3, 4], "tier": ["gold", "basic", "basic", "gold"]})
    tags = wb.TagStore.from_table(shop_log, users, categorical=["tier"])
    result = wb.Funnel(["view", "cart"]).run(shop_log)
    table = wb.profile(result.entered(), tags)
    html = table._repr_html_()
    assert re.findall(r"<th>([^<]*)</th>", html) == [
        "tag",
        "users",
        "share",
        "share of base",
        "TGI",
        "lift (95% CI)",
        "p",
    ]
    assert "<td>66.7%</td>" in html and "0.000000" not in html
    assert table["audience_share"].iloc[0] == pytest.approx(2 / 3)  # exact for code
    assert type(table[["tag", "tgi"]]) is pd.DataFrame  # a slice is a plain table again
    comparison = result.compare_groups("platform", "ios", "web")
    text = repr(comparison)
    assert "conversion a" in text and "difference (CI)" in text and " pp " in text
    assert comparison["difference"].dtype == float
    compared = wb.compare(result.reached(2), result.entered() - result.reached(2), tags)
    assert "odds ratio" in compared._repr_html_()
