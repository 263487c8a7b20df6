"""The namespace every docstring example runs in (``make test`` runs them all as doctests).

Examples in the API reference use these names without building them, as polars' doctests do:
``events`` (a small shop's event log as a DataFrame), ``log`` (it as an EventLog), ``funnel``
(view → cart → pay in a day), ``result`` (that funnel run on that log), ``users`` (a user
attribute table), ``tags`` (a TagStore built from it) and ``plan`` (the shop's tracking plan).
Each example runs in a fresh temporary folder, so the files it writes go nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb

_EVENTS = [
    # user, event, time, platform, price, session
    (1, "view", "2026-01-01 10:00", "ios", 10.0, 1),
    (1, "cart", "2026-01-01 10:05", "ios", 10.0, 1),
    (1, "pay", "2026-01-01 11:00", "ios", 10.0, 1),
    (2, "view", "2026-01-01 09:00", "web", 5.0, 2),
    (2, "cart", "2026-01-03 09:00", "web", 5.0, 3),
    (3, "view", "2026-01-02 08:00", "web", None, 4),
    (3, "cart", "2026-01-02 08:30", "web", 20.0, 4),
    (4, "search", "2026-01-02 08:00", "android", None, 5),
    (5, "view", "2026-01-03 12:00", "android", 8.0, 6),
    (5, "cart", "2026-01-03 12:10", "android", 8.0, 6),
    (6, "view", "2026-01-03 12:30", "ios", 12.0, 7),
]
_USERS = {
    "user_id": [1, 2, 3, 4, 5, 6],
    "gender": ["F", "M", "F", "M", "F", "F"],
    "age": [22, 31, 40, 28, 35, 19],
    "spend": [120.0, 40.0, 300.0, 0.0, 80.0, 15.0],
}


_PLAN = {
    "name": "Shop",
    "languages": ["en", "zh"],
    "common_properties": {
        "platform": {"type": "string", "required": True, "allowed": ["ios", "android", "web"]},
    },
    "events": {
        "view": {
            "display_name": {"en": "Product page", "zh": "商品页"},
            "properties": {"price": {"type": "float", "required": True, "min": 0}},
        },
        "cart": {
            "display_name": {"en": "Add to cart", "zh": "加入购物车"},
            "properties": {"price": {"type": "float", "required": True, "min": 0}},
        },
        "pay": {"display_name": {"en": "Pay", "zh": "支付"}},
        "refund": {"display_name": {"en": "Refund", "zh": "退款"}},
    },
}


def doctest_names() -> dict[str, Any]:
    """A fresh copy of every name the docstring examples use."""
    events = pd.DataFrame(
        _EVENTS, columns=["user_id", "event", "time", "platform", "price", "session_id"]
    )
    events["time"] = pd.to_datetime(events["time"])
    log = wb.EventLog(events)
    funnel = wb.Funnel(["view", "cart", "pay"], window="1d")
    users = pd.DataFrame(_USERS)
    tags = wb.TagStore.from_table(
        log,
        users,
        categorical=["gender"],
        bins={"age": [18, 25, 35, float("inf")]},
        predicates={"vip": wb.col("spend") > 100},
    )
    return {
        "wb": wb,
        "pd": pd,
        "np": np,
        "pa": pa,
        "events": events,
        "log": log,
        "funnel": funnel,
        "result": funnel.run(log),
        "users": users,
        "tags": tags,
        "plan": wb.TrackingPlan.from_dict(_PLAN),
    }


@pytest.fixture(autouse=True)
def _doctest_namespace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        request.getfixturevalue("doctest_namespace").update(doctest_names())
        monkeypatch.chdir(tmp_path)
