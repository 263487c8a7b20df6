"""Profiles and selections on a log spanning several Roaring chunks (65 536 users each, the last
one partial), with tags of every shape the native layout treats differently: empty, sparse
arrays, arrays dense enough to be laid out as bitmaps, bitmaps, whole ranges, and chunks
nobody of the audience reaches. Every count and every selected user is checked against
pyroaring and numpy."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyroaring
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.audience import Audience, TagStore, profile

N_USERS = 150_000  # chunks 0 and 1 whole, chunk 2 partial (18 928 users)
DENSITIES = (0.0, 0.0005, 0.01, 0.02, 0.05, 0.2, 0.7, 1.0)
SPANS = ((0, N_USERS), (0, 65_536), (131_072, N_USERS), (60_000, 70_000), (65_536, 131_072))
EXPRESSIONS = (
    "t0",
    "~t0",
    "*",
    "t0 & t1",
    "t0 | t1",
    "t0 - t1",
    "t0 ^ t1",
    "~(t0 | t1) & t2",
    "(t0 & t1) | t2 - ~t1",
    "* - t2 ^ t0",
)


@pytest.fixture(scope="module")
def log() -> wb.EventLog:
    events = pa.table(
        {
            "user_id": pa.array(np.arange(N_USERS, dtype=np.int64)),
            "event": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(N_USERS, dtype=np.int32)), pa.array(["visit"])
            ),
            "time": pa.array(np.zeros(N_USERS, dtype=np.int64)),
        }
    )
    return wb.EventLog(events, time_unit="s", progress=False)


def _mask(density: float, span: tuple[int, int], seed: int) -> np.ndarray:
    mask = np.zeros(N_USERS, dtype=bool)
    first, last = span
    mask[first:last] = np.random.default_rng(seed).random(last - first) < density
    return mask


masks = st.builds(
    _mask, st.sampled_from(DENSITIES), st.sampled_from(SPANS), st.integers(0, 2**32 - 1)
)


def _store(log: wb.EventLog, tag_masks: list[np.ndarray]) -> TagStore:
    store = TagStore(log)
    for i, mask in enumerate(tag_masks):
        store.add(f"t{i}", Audience.from_mask(log, mask))
    return store


@settings(max_examples=25, deadline=None)
@given(st.lists(masks, min_size=1, max_size=6), masks)
def test_tag_counts_match_pyroaring(log, tag_masks, audience_mask):
    store = _store(log, tag_masks)
    audience = Audience.from_mask(log, audience_mask)
    ours = store.counts([audience])
    ref = pyroaring.BitMap(np.flatnonzero(audience_mask).astype(np.uint32))
    for (inside, size), mask in zip(ours.tolist(), tag_masks, strict=True):
        tag = pyroaring.BitMap(np.flatnonzero(mask).astype(np.uint32))
        assert (inside, size) == (ref.intersection_cardinality(tag), len(tag))
    if audience_mask.any():
        table = profile(audience, store, min_support=0)
        by_tag = dict(zip(table["tag"], table["count"], strict=True))
        assert by_tag == {f"t{i}": row[0] for i, row in enumerate(ours.tolist())}


@settings(max_examples=25, deadline=None)
@given(st.lists(masks, min_size=3, max_size=3))
def test_selections_match_numpy(log, tag_masks):
    store = _store(log, tag_masks)
    t0, t1, t2 = tag_masks
    everyone = np.ones(N_USERS, dtype=bool)
    expected = {
        "t0": t0,
        "~t0": ~t0,
        "*": everyone,
        "t0 & t1": t0 & t1,
        "t0 | t1": t0 | t1,
        "t0 - t1": t0 & ~t1,
        "t0 ^ t1": t0 ^ t1,
        "~(t0 | t1) & t2": ~(t0 | t1) & t2,
        "(t0 & t1) | t2 - ~t1": ((t0 & t1) | t2) & t1,
        "* - t2 ^ t0": (everyone & ~t2) ^ t0,
    }
    for expression in EXPRESSIONS:
        chosen = store.select(expression)
        want = np.flatnonzero(expected[expression])
        assert len(chosen) == len(want), expression
        assert np.array_equal(chosen.ids().to_numpy(), want), expression
