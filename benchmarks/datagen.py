"""Seeded synthetic event log for the funnel benchmarks (shared by every benchmark).

    from benchmarks.datagen import generate, FUNNEL      # or: import datagen (from benchmarks/)
    path = generate(events=10_000_000, users=1_000_000, seed=42)

The log mimics a product-analytics stream:

* ``users`` candidate user ids (random, non-dense int64 keys); activity per user is heavy-tailed
  (log-normal weights), so a few users have thousands of events and many have one or two.  Users
  that draw no event do not appear in the log (about 0.87 M of 1 M appear at 10 M events).
* 25 event types with a Zipf-like frequency (``page_view`` ~30 %, ``purchase`` ~0.2 %).
* ~15 % of the events are "journeys": a user walks the first *d* steps of the checkout funnel
  (``view_item`` → ``add_to_cart`` → ``begin_checkout`` → ``add_payment_info`` → ``purchase``)
  with log-normal gaps (median ~20 min, a long tail that overruns the 1-day window); 5 % of the
  gaps are exactly zero, so consecutive steps share a timestamp.
* Timestamps span 30 days at millisecond resolution; 10 % of the background events are truncated
  to whole seconds, which adds more exact ties.
* Rows are shuffled (the file is NOT sorted by user or time).

Output: Parquet with columns ``user_id`` int64, ``event`` string, ``ts`` timestamp[ms, tz=UTC],
cached under ``benchmarks/data/`` by (events, users, seed, tie_unit_ms, version).
Everything is vectorised numpy; 10 M events take a few seconds.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).resolve().parent / "data"
GENERATOR_VERSION = 2

DAY_MS = 86_400_000
SPAN_DAYS = 30
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

# 25 event types, most common first.  The funnel steps sit at different frequencies.
EVENT_TYPES = [
    "page_view",
    "screen_view",
    "scroll",
    "click",
    "session_start",
    "search",
    "view_item",
    "view_item_list",
    "select_item",
    "login",
    "user_engagement",
    "share",
    "add_to_wishlist",
    "add_to_cart",
    "view_cart",
    "remove_from_cart",
    "begin_checkout",
    "view_promotion",
    "sign_up",
    "add_shipping_info",
    "add_payment_info",
    "generate_lead",
    "refund",
    "purchase",
    "tutorial_complete",
]


@dataclass(frozen=True)
class FunnelDef:
    steps: tuple[str, ...]
    window_ms: int
    window: str  # the same window as a workbench duration string


FUNNEL = FunnelDef(
    steps=("view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"),
    window_ms=DAY_MS,
    window="1d",
)


def _event_probs() -> np.ndarray:
    ranks = np.arange(1, len(EVENT_TYPES) + 1, dtype=np.float64)
    p = ranks**-1.6
    # "purchase" etc. are rarer than their rank alone suggests
    p[EVENT_TYPES.index("purchase")] *= 0.4
    p[EVENT_TYPES.index("refund")] *= 0.3
    return p / p.sum()


def cache_path(events: int, users: int, seed: int, tie_unit_ms: int = 1) -> Path:
    suffix = "" if tie_unit_ms == 1 else f"_tie{tie_unit_ms}"
    return DATA_DIR / f"events_e{events}_u{users}_s{seed}{suffix}_v{GENERATOR_VERSION}.parquet"


def make_table(events: int, users: int, seed: int = 42, tie_unit_ms: int = 1) -> pa.Table:
    """Build the log in memory.  ``tie_unit_ms`` > 1 rounds every timestamp down to that unit
    (used by the validation mode to force many exact ties)."""
    rng = np.random.default_rng(seed)

    # --- user keys and activity --------------------------------------------------------------
    # unique, non-dense keys: random positive increments, then shuffled
    keys = rng.permutation(10_000_000 + np.cumsum(rng.integers(1, 20_000, size=users)))
    weights = rng.lognormal(mean=0.0, sigma=1.3, size=users)
    weights /= weights.sum()

    def draw_users(n: int, shuffle: bool) -> np.ndarray:
        # multinomial counts per user, expanded (sorted by user; shuffled when needed)
        counts = rng.multinomial(n, weights)
        u = np.repeat(np.arange(users, dtype=np.int64), counts)
        return rng.permutation(u) if shuffle else u

    span_ms = SPAN_DAYS * DAY_MS
    codes_of = {name: i for i, name in enumerate(EVENT_TYPES)}
    step_codes = np.array([codes_of[s] for s in FUNNEL.steps], dtype=np.int8)

    # --- journeys through the funnel ---------------------------------------------------------
    depth_p = np.array([0.45, 0.25, 0.14, 0.09, 0.07])
    mean_depth = float((np.arange(1, 6) * depth_p).sum())
    n_journeys = max(1, int(events * 0.15 / mean_depth))
    depth = rng.choice(np.arange(1, 6), size=n_journeys, p=depth_p)
    j_total = int(depth.sum())
    if j_total > events:  # tiny logs
        depth = np.ones(events, dtype=np.int64)[:n_journeys]
        j_total = int(depth.sum())
    j_user = draw_users(len(depth), shuffle=True)
    j_start = rng.integers(0, span_ms, size=len(depth))
    # row -> journey index, step within journey
    j_idx = np.repeat(np.arange(len(depth)), depth)
    first_row = np.concatenate(([0], np.cumsum(depth)[:-1]))
    j_step = np.arange(j_total) - first_row[j_idx]
    gaps = rng.lognormal(mean=np.log(20 * 60_000), sigma=2.0, size=j_total).astype(np.int64)
    gaps[rng.random(j_total) < 0.05] = 0  # exact ties between consecutive steps
    gaps[j_step == 0] = 0
    # cumulative gap within each journey
    cg = np.cumsum(gaps)
    j_ts = j_start[j_idx] + cg - cg[first_row][j_idx]

    # --- background events -------------------------------------------------------------------
    n_bg = events - j_total
    b_user = draw_users(n_bg, shuffle=False)  # other columns are iid; rows shuffled below
    b_code = rng.choice(len(EVENT_TYPES), size=n_bg, p=_event_probs()).astype(np.int8)
    b_ts = rng.integers(0, span_ms, size=n_bg)
    trunc = rng.random(n_bg) < 0.10
    b_ts[trunc] -= b_ts[trunc] % 1000

    user_idx = np.concatenate([j_user[j_idx], b_user])
    code = np.concatenate([step_codes[j_step], b_code])
    ts = np.concatenate([j_ts, b_ts]) + START_MS
    if tie_unit_ms > 1:
        ts -= ts % tie_unit_ms

    order = rng.permutation(events)
    user_id = keys[user_idx[order]]
    code = code[order]
    ts = ts[order]

    event = pa.DictionaryArray.from_arrays(
        pa.array(code.astype(np.int32)), pa.array(EVENT_TYPES, pa.string())
    ).cast(pa.string())
    return pa.table(
        {
            "user_id": pa.array(user_id, pa.int64()),
            "event": event,
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        }
    )


def generate(
    events: int = 10_000_000,
    users: int = 1_000_000,
    seed: int = 42,
    tie_unit_ms: int = 1,
    force: bool = False,
    verbose: bool = False,
) -> Path:
    """Write (or reuse) the cached Parquet file and return its path."""
    path = cache_path(events, users, seed, tie_unit_ms)
    if path.exists() and not force:
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    table = make_table(events, users, seed, tie_unit_ms)
    t1 = time.perf_counter()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    pq.write_table(table, tmp, row_group_size=1 << 20, compression="snappy")
    tmp.replace(path)
    if verbose:
        print(
            f"generated {events:,} events in {t1 - t0:.1f}s, wrote {path.name} "
            f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t1:.1f}s"
        )
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--users", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--tie-unit-ms", type=int, default=1)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    p = generate(a.events, a.users, a.seed, a.tie_unit_ms, force=a.force, verbose=True)
    print(p)


if __name__ == "__main__":
    main()
