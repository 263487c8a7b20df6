"""Shared fixtures: small logs built the way analysts build them."""

from __future__ import annotations

import pandas as pd
import pytest

import workbench as wb


@pytest.fixture
def shop_df() -> pd.DataFrame:
    """Three users through view -> cart -> pay, with a platform property."""
    rows = [
        (1, "view", "2026-01-01 10:00", "ios", 10.0),
        (1, "cart", "2026-01-01 10:05", "ios", 10.0),
        (1, "pay", "2026-01-01 11:00", "ios", 10.0),
        (2, "view", "2026-01-01 09:00", "web", 5.0),
        (2, "cart", "2026-01-03 09:00", "web", 5.0),
        (3, "view", "2026-01-02 08:00", "web", None),
        (3, "cart", "2026-01-02 08:30", "web", 20.0),
        (4, "search", "2026-01-02 08:00", "android", None),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "event", "time", "platform", "price"])
    df["time"] = pd.to_datetime(df["time"])
    return df


@pytest.fixture
def shop_log(shop_df: pd.DataFrame) -> wb.EventLog:
    return wb.EventLog(shop_df)
