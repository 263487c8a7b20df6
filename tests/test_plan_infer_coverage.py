"""Drafting a plan from data, coverage of planned events, and plan coverage beside a funnel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench.plan import TrackingPlan, with_coverage


def _log() -> wb.EventLog:
    rng = np.random.default_rng(5)
    n = 600
    event = rng.choice(["view", "cart", "pay"], n, p=[0.6, 0.3, 0.1])
    amount = np.where(event == "pay", np.round(rng.uniform(1, 99, n), 2), np.nan)
    coupon = np.where((event == "pay") & (rng.random(n) < 0.5), "SAVE10", None)
    return wb.EventLog(
        pa.table(
            {
                "user_id": rng.integers(0, 50, n),
                "event": event,
                "time": pa.array(np.sort(rng.integers(0, 10**9, n))).cast(
                    pa.timestamp("ms", tz="UTC")
                ),
                "platform": rng.choice(["web", "ios"], n),
                "amount": pa.array(amount, mask=np.isnan(amount)),
                "coupon": coupon,
                "qty": pa.array(
                    np.where(event == "cart", rng.integers(1, 4, n), 0), mask=event != "cart"
                ),
            }
        )
    )


def test_infer_drafts_types_null_rates_and_values() -> None:
    log = _log()
    df = log.source.to_pandas()
    plan = TrackingPlan.infer(log)
    assert set(plan.event_names) == {"view", "cart", "pay"}
    assert plan.event_names[0] == "view"  # busiest first
    platform = plan.common_properties["platform"]
    assert (platform.type, platform.required, platform.allowed) == ("string", True, ("ios", "web"))
    pay = plan.events["pay"].properties
    assert (pay["amount"].type, pay["amount"].required) == ("float", True)
    coupon = pay["coupon"]
    assert not coupon.required
    pays = df[df["event"] == "pay"]
    assert coupon.observed["null_rate"] == pytest.approx(pays["coupon"].isna().mean(), abs=1e-4)
    assert coupon.examples == ("SAVE10",)
    qty = plan.events["cart"].properties["qty"]
    assert qty.type == "integer"
    carts = df[df["event"] == "cart"]
    assert (qty.observed["min"], qty.observed["max"]) == (carts["qty"].min(), carts["qty"].max())
    assert plan.events["pay"].observed["users"] == pays["user_id"].nunique()
    assert "amount" not in plan.events["view"].properties


def test_infer_save_edit_validate(tmp_path: Path) -> None:
    log = _log()
    draft = TrackingPlan.infer(log)
    assert draft.validate(log).ok  # a draft describes its own data
    data = TrackingPlan.load(draft.save(tmp_path / "plan.yaml")).to_dict()
    data["events"]["pay"]["properties"]["coupon"]["required"] = True  # the team's decision
    data["events"]["pay"]["properties"]["amount"]["max"] = 50
    edited = TrackingPlan.from_dict(data)
    report = edited.validate(log)
    df = log.source.to_pandas()
    pays = df[df["event"] == "pay"]
    t = report.table.set_index(["property", "violation"])
    assert t.loc[("coupon", "missing_required_property"), "rows"] == pays["coupon"].isna().sum()
    assert t.loc[("amount", "value_not_allowed"), "rows"] == (pays["amount"] > 50).sum()


def test_coverage_and_funnel_coverage() -> None:
    log = _log()
    df = log.source.to_pandas()
    plan = TrackingPlan.from_dict(
        {
            "languages": ["en"],
            "common_properties": {
                "platform": {"type": "string", "required": True, "allowed": ["web"]}
            },
            "events": {
                "view": {"display_name": "Viewed"},
                "cart": {"properties": {"qty": "integer"}},
                "refund": {},
            },
        }
    )
    cov = plan.coverage(log)
    assert cov.never_seen == ["refund"]
    assert cov.unplanned == ["pay"]
    view = cov.table.set_index("event").loc["view"]
    views = df[df["event"] == "view"]
    assert view["violating_rows"] == (views["platform"] != "web").sum()
    assert view["display_name"] == "Viewed"
    assert "refund" in repr(cov) and "<table" in cov._repr_html_()

    funnel = wb.Funnel(
        ["view", wb.Step("cart", where=wb.col("qty") >= 2), "pay"],
        window="7d",
        labels=plan.display_names(),
    )
    fc = plan.funnel_coverage(funnel, log)
    carts = df[(df["event"] == "cart") & (df["qty"] >= 2)]
    assert fc["rows"].tolist() == [len(views), len(carts), (df["event"] == "pay").sum()]
    assert fc["violating_rows"].tolist() == [
        (views["platform"] != "web").sum(),
        (carts["platform"] != "web").sum(),
        (df["event"] == "pay").sum(),  # every row of an unplanned event breaks the plan
    ]
    assert fc["top_violation"].tolist()[2] == "pay: unplanned_event"
    result = funnel.run(log)
    table = with_coverage(result, fc)
    assert table["label"].tolist()[0] == "Viewed"
    assert table["plan_violation_share"].tolist() == pytest.approx(fc["violation_share"].tolist())
    with pytest.raises(wb.exceptions.ArgumentError, match="different funnel"):
        with_coverage(result, fc.head(1))
    with pytest.raises(wb.exceptions.ArgumentError, match="'step' column"):
        with_coverage(pd.DataFrame({"x": [1]}), fc)
