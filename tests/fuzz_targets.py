"""Public calls on hostile file bytes, run in the fuzz worker process (fuzz_harness.Isolated).

Each target takes plain picklable input, calls the package as an analyst would, and checks what
it can of a result (the funnel's counts add up, an audience survives a round trip), so "it
returned" also means "it returned something right".
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

import workbench as wb

BITMAP_KEYS = [*range(0, 200, 3), 70_000, 2**32 + 7]
"""Keys of the bitmap log: in one container, across containers, and above 32 bits."""


@cache
def bitmap_log() -> wb.EventLog:
    frame = pd.DataFrame(
        {
            "user_id": BITMAP_KEYS,
            "event": ["visit"] * len(BITMAP_KEYS),
            "time": pd.Timestamp("2026-01-01"),
        }
    )
    return wb.EventLog(frame)


def check_funnel(log: wb.EventLog) -> list[int]:
    """Run a funnel over the log's first events and check that its numbers add up."""
    steps = [name for name in log.event_names if name][:3]  # "" is no event name a step takes
    if not steps:
        return []
    result = wb.Funnel(steps, window="1d").run(log)
    levels = result.level_counts()
    assert sum(levels) == log.n_users, (levels, log.n_users)
    table = result.table
    for column in ("conversion_from_first", "conversion_from_previous"):
        rates = table[column].dropna()
        assert rates.between(0, 1).all(), table[column].tolist()
    for step in range(1, len(steps) + 1):
        assert len(result.reached(step)) == table["users"].iloc[step - 1]
    return levels


def _file(data: bytes, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return Path(name)


def load_csv(data: bytes, options: dict) -> list[int]:
    path = _file(data, ".csv")
    try:
        log = wb.EventLog.from_csv(path, **options)
        assert len(log) + log.dropped_rows > 0
        return check_funnel(log)
    finally:
        path.unlink()


def load_parquet(data: bytes) -> list[int]:
    path = _file(data, ".parquet")
    try:
        return check_funnel(wb.EventLog.from_parquet(path))
    finally:
        path.unlink()


def read_bitmap(data: bytes, format: str, bits: int | None, missing: str) -> int:
    log = bitmap_log()
    audience = wb.Audience.from_bytes(log, data, format, bits=bits, missing=missing)  # type: ignore[arg-type]
    keys = audience.keys().to_pylist()
    assert set(keys) <= set(BITMAP_KEYS) and keys == sorted(keys)
    # What it read is what it writes: the bytes of the same users read back to the same users.
    again = wb.Audience.from_bytes(log, audience.to_bytes(format), format)  # type: ignore[arg-type]
    assert again == audience
    return len(audience)


def load_saved(data: bytes, kind: str) -> int:
    path = _file(data, ".fwb")
    try:
        log = bitmap_log()
        if kind == "audience":
            audience = wb.Audience.load(path, log)
            assert int(np.count_nonzero(audience.mask())) == len(audience)
            return len(audience)
        store = wb.TagStore.load(path, log)
        assert list(store.sizes().index) == store.names
        return len(store)
    finally:
        path.unlink()
