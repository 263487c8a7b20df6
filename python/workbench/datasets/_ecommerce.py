"""The e-commerce demo log: users, sessions, a shopping journey, noise, and three planted stories.

Everything is drawn with vectorised numpy from one ``numpy.random.Generator``; no Python loop runs
per user, session or event. The draws happen in a fixed order, so the same arguments always give
the same data, byte for byte; making it faster must keep that order (compare old and new output
with ``Table.equals`` before changing how anything is computed).

How one event is made, in order:
1. users: platform, acquisition campaign (with its flight dates), intent, profile attributes;
2. sessions: a count per user, start days spaced by gaps, an hour from a daily rhythm, the app
   version the user had installed that day;
3. events: per session, how far down the journey it goes (browse → product_detail → add_to_cart →
   place_order → pay) plus noise events; each event gets a sort key inside its session, then the
   time since the previous event of the session, so times grow within a session;
4. properties: products drawn by popularity, cart items taken from the products viewed in the same
   session, order amounts summed from the cart;
5. the rows are sorted by time, as an export from an analytics tool would be.

Both orderings (inside sessions, then by time) sort one packed int64 per event, and the columns
are built from small integer codes, the sparse ones only from the rows that carry them
(``_columnar``). Work that draws nothing (laying the events out, finding their sessions, packing
what goes to the export) runs in a background thread beside the draws, which keep their order:
numpy lets go of the GIL on big arrays, and the machine has more than one core.

Fresh memory is what costs most: an array too big for malloc to keep (a session-long float
already is) comes from the kernel, which zeroes every page before the first write. So the
generator works in place, a cache-sized run at a time, or over arrays it no longer needs (the
keys' buffer takes the sorted sessions, the gaps' the times, the used-up slots the sparse
columns). At a million users its arrays take about 4.3 GiB of fresh memory from the kernel,
against 8.1 GiB before. Pages the process has only just freed cost far less than pages it has
never held (in a virtual machine those go back to the host, which must hand them out again),
so what sets the cost is the peak: the table (2.9 GiB) is built last, and everything that only
goes into it is let go as soon as its column is built (peak RSS 4.0 → 3.4 GiB).

The stories are described for teachers in ``STORIES.md`` next to this file.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.datasets._columnar import (
    PackedFields,
    Spare,
    bins_of,
    rows_of,
    scatter,
    sort_rows,
    sparse_column,
    sparse_strings,
    string_column,
)
from workbench.datasets.stories import (
    CAMPAIGNS,
    PLATFORMS,
    RELEASES,
    Stories,
    release_time,
    stories_for,
)
from workbench.exceptions import ArgumentError

# What is planted does not depend on the period; its dates do (EcommerceDemo.stories).
_STORY = stories_for("2026-09-01", 60)

if TYPE_CHECKING:
    from workbench.log import EventLog
    from workbench.plan import TrackingPlan

__all__ = ["EcommerceDemo", "ecommerce"]

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000

_PLATFORM_P = (0.40, 0.27, 0.33)  # web, ios, android (stories.PLATFORMS)

# name, share of users, flight (first, last) as fractions of the period, intent multiplier.
_CAMPAIGNS = tuple((c.name, c.share, c.flight, c.intent) for c in CAMPAIGNS)
_JUNK_CAMPAIGN = [c.name for c in CAMPAIGNS].index(_STORY.junk_campaign.name)

# App releases per platform code: (version, release day as a fraction of the period).
_RELEASES = {
    PLATFORMS.index(platform): tuple((r.version, r.at) for r in releases)
    for platform, releases in RELEASES.items()
}
_BROKEN_PAY = (  # the payment SDK callback fails on this build
    PLATFORMS.index(_STORY.payment_failure.platform),
    _STORY.payment_failure.version,
)
_BROKEN_TRACKING = (  # this build sends the event without the property
    PLATFORMS.index(_STORY.tracking_bug.platform),
    _STORY.tracking_bug.version,
)

EVENTS = (
    "app_open",  # 0
    "signup",  # 1
    "login",  # 2
    "browse",  # 3
    "search",  # 4
    "product_detail",  # 5
    "add_to_wishlist",  # 6
    "share",  # 7
    "add_to_cart",  # 8
    "remove_from_cart",  # 9
    "place_order",  # 10
    "pay_success",  # 11
    "pay_fail",  # 12
)
_E = {name: code for code, name in enumerate(EVENTS)}
# Median seconds since the previous event of the session, per event (log-normal spread).
_GAP_MEDIAN_S = np.array([0, 25, 8, 12, 15, 30, 20, 25, 45, 20, 60, 35, 30], dtype=np.float64)

_CATEGORIES = (
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
)
_CATEGORY_P = (0.18, 0.2, 0.14, 0.12, 0.1, 0.09, 0.07, 0.1)
# Median price per category (log-normal spread around it).
_CATEGORY_PRICE = (180.0, 45.0, 60.0, 28.0, 55.0, 16.0, 30.0, 9.0)
_N_PRODUCTS = 1_500
_QUERIES = (
    "headphones",
    "phone case",
    "charger",
    "laptop stand",
    "dress",
    "sneakers",
    "jacket",
    "t-shirt",
    "lamp",
    "pillow",
    "mug",
    "sofa cover",
    "lipstick",
    "sunscreen",
    "serum",
    "yoga mat",
    "dumbbells",
    "running shoes",
    "novel",
    "cookbook",
    "lego",
    "puzzle",
    "coffee",
    "tea",
    "olive oil",
    "snacks",
)
_SHARE_CHANNELS = ("whatsapp", "wechat", "messenger", "copy_link", "email")
_SHARE_P = (0.32, 0.22, 0.16, 0.22, 0.08)
_PAY_METHODS = ("card", "paypal", "apple_pay", "google_pay", "gift_card")
# Preferred payment method per platform (rows: web, ios, android).
_PAY_P = np.array(
    [
        [0.62, 0.30, 0.00, 0.00, 0.08],
        [0.30, 0.12, 0.52, 0.00, 0.06],
        [0.38, 0.14, 0.00, 0.42, 0.06],
    ]
)
_ERROR_CODES = ("card_declined", "insufficient_funds", "gateway_timeout", "sdk_callback_error")

_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
_AGE_P = (0.19, 0.34, 0.24, 0.14, 0.09)
_AGE_INTENT = np.array([0.8, 1.05, 1.15, 1.05, 0.9])
_GENDERS = ("female", "male", "undisclosed")
_GENDER_P = (0.49, 0.44, 0.07)
_CITY_TIERS = ("tier_1", "tier_2", "tier_3", "tier_4")
_CITY_P = (0.3, 0.32, 0.24, 0.14)
_MEMBERSHIPS = ("none", "silver", "gold")
_MEMBERSHIP_P = (0.74, 0.19, 0.07)
_MEMBERSHIP_INTENT = np.array([0.9, 1.25, 1.6])
_LTV_BANDS = ("none", "low", "mid", "high")
_LTV_EDGES = np.array([0.005, 120.0, 450.0])  # total paid: 0 → none, < 120 → low, < 450 → mid

_PLATFORM_INTENT = np.array([0.85, 1.15, 1.0])


@dataclass(frozen=True)
class EcommerceDemo:
    """A generated e-commerce event log with a user-attribute table and its tracking plan.

    Attributes:
        events: one row per event, sorted by time: ``user_id`` (int64), ``event`` (string),
            ``time`` (timestamp[ms, UTC]), ``session_id`` (int64), and properties ``platform``,
            ``app_version``, ``campaign``, ``category``, ``product_id``, ``price``, ``quantity``,
            ``order_id``, ``amount``, ``payment_method``, ``query``, ``share_channel``,
            ``error_code`` (null where an event does not carry them).
        users: one row per user: ``user_id``, ``age_band``, ``gender``, ``city_tier``,
            ``membership``, ``ltv_band``.
        plan_path: the tracking plan shipped for this data (``ecommerce_plan.yaml``).

    Example:
        >>> demo = ecommerce(n_users=2_000)
        >>> demo.events.num_rows > 10_000
        True
    """

    events: pa.Table
    users: pd.DataFrame
    plan_path: Path
    n_users: int
    seed: int
    start: str
    days: int

    def log(self) -> EventLog:
        """The events as a ``workbench.EventLog`` (user ``user_id``, time ``time``, session
        ``session_id``).

        Example:
            >>> log = ecommerce(n_users=2_000).log()
        """
        from workbench.log import EventLog

        return EventLog(
            self.events, user="user_id", event="event", time="time", session="session_id"
        )

    @property
    def stories(self) -> Stories:
        """What is planted in this period, with its dates: the truth the case studies' exercises
        check answers against (see ``STORIES.md``).

        Example:
            >>> ecommerce(n_users=500).stories.tracking_bug.fixed
            Timestamp('2026-10-05 10:00:00+0000', tz='UTC')
        """
        return stories_for(self.start, self.days)

    def plan(self) -> TrackingPlan:
        """The shipped tracking plan, loaded.

        Example:
            >>> sorted(ecommerce(n_users=500).plan().event_names)[:2]
            ['add_to_cart', 'add_to_wishlist']
        """
        from workbench.plan import TrackingPlan

        return TrackingPlan.load(self.plan_path)


def plan_path() -> Path:
    """Path of the example tracking plan shipped with the demo data."""
    return Path(str(resources.files("workbench.datasets").joinpath("ecommerce_plan.yaml")))


def ecommerce(
    n_users: int = 20_000,
    seed: int = 7,
    start: str = "2026-09-01",
    days: int = 60,
) -> EcommerceDemo:
    """Generate the e-commerce demo: about 24 events per user over ``days`` days from ``start``.

    The same arguments always give identical data. ``n_users=1_000_000`` makes about 24 million
    events, about 3 GiB in Arrow (see ``STORIES.md`` for what is planted in the data).

    Example:
        >>> demo = ecommerce(n_users=5_000, seed=1)
        >>> demo.events.column_names[:4]
        ['user_id', 'event', 'time', 'session_id']
        >>> list(demo.users.columns)
        ['user_id', 'age_band', 'gender', 'city_tier', 'membership', 'ltv_band']
    """
    _whole("n_users", n_users, least=1, why="")
    _whole("seed", seed, least=0, why="")
    _whole("days", days, least=7, why=" so the stories fit in the period")
    start_ms = _parse_day(start)
    rng = np.random.default_rng(seed)
    users = _draw_users(rng, n_users, days)
    sessions = _draw_sessions(rng, users, start_ms, days)
    events = _draw_events(rng, users, sessions)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # No draws there: laid out beside the properties' draws. Handed over in a list that
        # _to_table empties, so that nothing here keeps the layout alive once it is used up.
        layout = [pool.submit(_layout, events)]
        table, paid = _to_table(rng, users, sessions, events, layout)
    ltv = np.searchsorted(
        _LTV_EDGES, np.bincount(paid[0], weights=paid[1], minlength=n_users), side="right"
    )
    users_df = pd.DataFrame(
        {
            "user_id": users["user_id"],
            "age_band": pd.Categorical.from_codes(users["age"], pd.Index(_AGE_BANDS)),
            "gender": pd.Categorical.from_codes(users["gender"], pd.Index(_GENDERS)),
            "city_tier": pd.Categorical.from_codes(users["city"], pd.Index(_CITY_TIERS)),
            "membership": pd.Categorical.from_codes(users["membership"], pd.Index(_MEMBERSHIPS)),
            "ltv_band": pd.Categorical.from_codes(ltv, pd.Index(_LTV_BANDS), ordered=True),
        }
    )
    return EcommerceDemo(
        events=table,
        users=users_df,
        plan_path=plan_path(),
        n_users=n_users,
        seed=seed,
        start=start,
        days=days,
    )


def _whole(name: str, value: object, *, least: int, why: str) -> None:
    # numpy's generator would take a float seed's repr or a bool as a count and fail far away.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ArgumentError(f"{name} must be at least {least}{why}, got {value}")


def _parse_day(start: str) -> int:
    if not isinstance(start, str):
        raise ArgumentError(f"start must be a date like '2026-09-01', got {start!r}")
    try:
        day = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ArgumentError(f"start must be a date like '2026-09-01', got {start!r}") from exc
    return int(day.timestamp() * 1000)


def _choice(rng: np.random.Generator, n: int, p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Codes 0..len(p)-1 drawn with probabilities ``p``."""
    cdf = np.cumsum(np.asarray(p, dtype=np.float64))
    cdf /= cdf[-1]
    return bins_of(rng.random(n), cdf)


def _draw_users(rng: np.random.Generator, n: int, days: int) -> dict[str, np.ndarray]:
    platform = _choice(rng, n, _PLATFORM_P)
    campaign = _choice(rng, n, [c[1] for c in _CAMPAIGNS])
    lo = np.array([c[2][0] for c in _CAMPAIGNS])[campaign]
    hi = np.array([c[2][1] for c in _CAMPAIGNS])[campaign]
    # Users arrive over the whole period, a bit front-loaded (the shop already has a user base).
    arrival = np.where(campaign == _JUNK_CAMPAIGN, rng.random(n), rng.random(n) ** 1.6)
    first_day = np.floor((lo + arrival * (hi - lo)) * days).astype(np.int64)
    first_day = np.minimum(first_day, days - 1)
    age = _choice(rng, n, _AGE_P)
    gender = _choice(rng, n, _GENDER_P)
    city = _choice(rng, n, _CITY_P)
    membership = _choice(rng, n, _MEMBERSHIP_P)
    intent = (
        rng.lognormal(0.0, 0.45, n)
        * _PLATFORM_INTENT[platform]
        * _MEMBERSHIP_INTENT[membership]
        * _AGE_INTENT[age]
        * np.array([c[3] for c in _CAMPAIGNS])[campaign]
    )
    # How many days a user waits before installing a new app version.
    upgrade_lag_ms = (rng.exponential(2.5, n) * _DAY_MS).astype(np.int64)
    return {
        "user_id": 100_001 + np.arange(n, dtype=np.int64) * 7 + rng.integers(0, 7, n),
        "platform": platform,
        "campaign": campaign,
        "first_day": first_day,
        "age": age,
        "gender": gender,
        "city": city,
        "membership": membership,
        "intent": intent,
        "junk": campaign == _JUNK_CAMPAIGN,
        "upgrade_lag_ms": upgrade_lag_ms,
        "pay_pref": rng.random(n),
    }


# Share of sessions starting in each UTC hour: quiet nights, lunch bump, evening peak.
_HOURLY = np.array(
    [
        1.2,
        0.8,
        0.5,
        0.4,
        0.4,
        0.6,
        1.2,
        2.4,
        3.4,
        3.8,
        4.0,
        4.4,
        5.2,
        5.0,
        4.4,
        4.2,
        4.4,
        5.0,
        6.0,
        7.4,
        8.2,
        7.8,
        5.6,
        3.0,
    ]
)


def _draw_sessions(
    rng: np.random.Generator, users: dict[str, np.ndarray], start_ms: int, days: int
) -> dict[str, np.ndarray]:
    n = len(users["user_id"])
    junk = users["junk"]
    expected_returns = np.where(junk, 0.25, 1.2 + 3.2 * np.minimum(users["intent"], 3.0))
    per_user = 1 + np.minimum(rng.poisson(expected_returns), 40)
    user = np.repeat(np.arange(n, dtype=np.int64), per_user)
    user_start = np.cumsum(per_user)
    user_start -= per_user
    # Integer sums and products are exact, so they are made in place, in any order: every
    # session-long temporary is memory the kernel zeroes first.
    nth = np.arange(len(user))
    nth -= user_start[user]
    # Days between a user's sessions: often the same or next day, sometimes weeks.
    gaps = rng.exponential(4.0, len(user))
    day = _floored(gaps)
    day[user_start] = 0
    np.cumsum(day, out=day)
    _add_by(day, users["first_day"] - day[user_start], user)
    hour = _choice(rng, len(user), _HOURLY)
    start = rng.integers(0, _HOUR_MS, len(user))  # the offset in the hour, then the rest added
    # A second session on the same day starts 1-4 hours after the previous one of that day.
    same_day = np.concatenate(([False], (user[1:] == user[:-1]) & (day[1:] == day[:-1])))
    hour *= _HOUR_MS
    start += hour
    del hour
    day *= _DAY_MS
    start += day
    del day
    start += start_ms
    later = rng.integers(_HOUR_MS, 4 * _HOUR_MS, len(user))
    later[~same_day] = 0
    day_start = np.flatnonzero(~same_day)
    run = np.cumsum(~same_day)
    run -= 1
    np.cumsum(later, out=later)
    _add_by(later, start[day_start] - later[day_start], run)
    start = later
    keep = start < start_ms + days * _DAY_MS
    user, nth, start = user[keep], nth[keep], start[keep]
    platform = users["platform"][user]
    version = np.full(len(user), -1, dtype=np.int8)
    first_day = str(pd.Timestamp(start_ms, unit="ms").date())
    for code, releases in _RELEASES.items():
        # The planted truth says when each version ships; sessions see it from then on.
        release_ms = np.array(
            [
                release_time(PLATFORMS[code], v, first_day, days).value // 1_000_000
                for v, _ in releases
            ]
        )
        mine = platform == code
        seen_at = start[mine] - users["upgrade_lag_ms"][user[mine]]
        idx = np.searchsorted(release_ms, seen_at, side="right") - 1
        version[mine] = np.maximum(idx, 0)
    return {"user": user, "nth": nth, "start": start, "platform": platform, "version": version}


def _floored(values: np.ndarray) -> np.ndarray:
    """``np.floor(values).astype(np.int64)``, over ``values`` (not needed afterwards)."""
    ints = values.view(np.int64)
    for a in range(0, len(values), _RUN):
        run = np.floor(values[a : a + _RUN])
        ints[a : a + _RUN] = run
    return ints


def _add_by(out: np.ndarray, per_group: np.ndarray, group: np.ndarray) -> None:
    """``out += per_group[group]``, a run at a time (no gather as long as ``out``)."""
    for a in range(0, len(out), _RUN):
        out[a : a + _RUN] += per_group[group[a : a + _RUN]]


# Sort key of an event inside its session, ``base + spread * uniform``: the journey's order, with
# noise events scattered where they belong.
_KEY_BASE = {
    "app_open": (0.0, 0.0),
    "signup": (0.1, 0.2),
    "login": (0.3, 0.2),
    "browse": (1.0, 1.0),
    "search": (1.0, 1.6),
    "product_detail": (2.0, 1.0),
    "share": (2.0, 1.0),
    "add_to_wishlist": (2.0, 1.0),
    "add_to_cart": (3.0, 1.0),
    "remove_from_cart": (3.6, 0.4),
    "place_order": (4.0, 0.0),
    "pay_success": (5.0, 0.0),
    "pay_fail": (5.0, 0.0),
}
_KEY_STEPS = 1 << 20  # keys are compared quantised to 2^-20
_RUN = 1 << 18  # events worked on at a time where a pass per step would leave the cache
_PRODUCT_EVENTS = ("product_detail", "add_to_wishlist", "share", "add_to_cart", "remove_from_cart")
_ORDER_EVENTS = ("place_order", "pay_success", "pay_fail")
_CART_EVENTS = ("add_to_cart", "remove_from_cart")


@dataclass(frozen=True)
class _Events:
    """The events of every type, before they are ordered: for each name in ``EVENTS``, how many
    each session has (``counts``), the session of every event (``session``, ascending) and its
    sort key inside the session (``key``, views of ``keys``, which holds them all in EVENTS
    order: one buffer the sort inside sessions can write over)."""

    counts: dict[str, np.ndarray]
    session: dict[str, np.ndarray]
    key: dict[str, np.ndarray]
    keys: np.ndarray


def _draw_events(
    rng: np.random.Generator, users: dict[str, np.ndarray], sessions: dict[str, np.ndarray]
) -> _Events:
    s_user = sessions["user"]
    n_s = len(s_user)
    platform = sessions["platform"]
    app = platform != 0
    junk = users["junk"][s_user]
    intent = users["intent"][s_user]
    first = sessions["nth"] == 0
    # A session-long float array is just too big to be reused by malloc, so every fresh one is
    # memory the kernel zeroes: the uniforms (each compared at once) share one buffer, and the
    # chances and Poisson means another.
    drawn, chance = np.empty(n_s), np.empty(n_s)
    u = lambda: rng.random(out=drawn)  # noqa: E731 - one uniform per session

    browse = _below(u(), junk, 0.97, 0.92)
    detail = browse & (u() < _chance(chance, 0.52, intent, junk, 0.55, 0.02, 0.95))
    cart = detail & (u() < _chance(chance, 0.32, intent, junk, 0.02, 0.0, 0.9))
    order = cart & (u() < _chance(chance, 0.48, intent, junk, 0.08, 0.0, 0.9))
    attempt = order & (u() < 0.96)
    broken = (platform == _BROKEN_PAY[0]) & (sessions["version"] == _version_code(*_BROKEN_PAY))
    paid = attempt & _below(u(), broken, 0.31, 0.94)
    failed = attempt & ~paid

    def mean(mask: np.ndarray, if_set: float, otherwise: float) -> np.ndarray:
        chance.fill(otherwise)  # np.where(mask, if_set, otherwise), in the reused buffer
        chance[mask] = if_set
        return chance

    # Which sessions every event belongs to is worked out in the background (no draws there)
    # while the next counts and the keys are drawn.
    counts: dict[str, np.ndarray] = {}
    rows: dict[str, Future[np.ndarray]] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:

        def add(name: str, count: np.ndarray) -> None:
            counts[name] = count
            rows[name] = pool.submit(rows_of, count)

        add("app_open", app)
        add("signup", first & _below(u(), junk, 0.35, 0.6))
        add("login", (~first) & _below(u(), app, 0.06, 0.3))
        add("browse", _times(browse, rng.poisson(1.1, n_s), plus=1))
        add("search", _times(browse, rng.poisson(mean(junk, 0.1, 0.55), n_s)))
        add("product_detail", _times(detail, rng.poisson(1.4, n_s), plus=1))
        add("share", _times(detail, rng.poisson(mean(junk, 0.01, 0.06), n_s)))
        add("add_to_cart", _times(cart, rng.poisson(0.35, n_s), plus=1))
        add("place_order", order)
        add("pay_success", paid)
        add("pay_fail", failed)
        add("add_to_wishlist", _times(detail, rng.binomial(counts["product_detail"], 0.08)))
        add("remove_from_cart", (counts["add_to_cart"] >= 2) & (u() < 0.25))

        # The same uniforms as rng.random(size); scaled in place, which gives the same bits as
        # base + spread * u (IEEE products and sums do not depend on the operands' order).
        sizes = [int(counts[name].sum()) for name in EVENTS]
        keys = np.empty(sum(sizes), dtype=np.float64)
        key, at = {}, 0
        for name, size in zip(EVENTS, sizes, strict=True):
            base, spread = _KEY_BASE[name]
            key[name] = rng.random(out=keys[at : at + size])
            key[name] *= spread
            key[name] += base
            at += size
        session = {name: rows[name].result() for name in EVENTS}
    return _Events(counts=counts, session=session, key=key, keys=keys)


def _below(uniform: np.ndarray, mask: np.ndarray, if_set: float, otherwise: float) -> np.ndarray:
    """``uniform < np.where(mask, if_set, otherwise)``, without the float array."""
    out = uniform < otherwise
    out[mask] = uniform[mask] < if_set
    return out


def _chance(
    out: np.ndarray,
    scale: float,
    intent: np.ndarray,
    junk: np.ndarray,
    junk_factor: float,
    low: float,
    high: float,
) -> np.ndarray:
    """``np.clip(scale * intent * np.where(junk, junk_factor, 1.0), low, high)`` in ``out``,
    bit for bit: a product with 1.0 changes nothing, so only the junk sessions are scaled."""
    np.multiply(scale, intent, out=out)
    out[junk] *= junk_factor
    return np.clip(out, low, high, out=out)


def _times(mask: np.ndarray, counts: np.ndarray, plus: int = 0) -> np.ndarray:
    """``mask * (plus + counts)``, over ``counts`` (a fresh draw)."""
    counts += plus
    counts *= mask
    return counts


def _version_code(platform: int, version: str) -> int:
    return [v for v, _ in _RELEASES[platform]].index(version)


def _pick_in_group(rng: np.random.Generator, group: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each entry of ``group`` (a session), a random position among that session's rows of a
    type laid out session by session with ``counts`` rows each."""
    starts = np.cumsum(counts)
    starts -= counts
    return starts[group] + np.floor(rng.random(len(group)) * counts[group]).astype(np.int64)


@dataclass(frozen=True)
class _Properties:
    """What the events carry, per event name, aligned with ``_Events.session``."""

    product_names: list[str]
    category: dict[str, np.ndarray]  # browse and the product events
    product: dict[str, np.ndarray]  # the product events; -1 where the tracking bug drops it
    price: dict[str, np.ndarray]
    quantity: dict[str, np.ndarray]  # add_to_cart, remove_from_cart
    order_id: np.ndarray  # per session, -1 without an order
    amount: np.ndarray  # per session: what stayed in the cart
    payment_method: np.ndarray  # per session, -1 without an order
    error_code: np.ndarray  # pay_fail
    query: np.ndarray  # search
    share_channel: np.ndarray  # share


def _draw_properties(
    rng: np.random.Generator,
    users: dict[str, np.ndarray],
    sessions: dict[str, np.ndarray],
    events: _Events,
) -> _Properties:
    """Draw what the events carry. Sets the keys of wishlist and share events just after the
    product view they come from."""
    n_s = len(sessions["user"])
    session = events.session
    # The catalog: popularity is Zipf-like, prices log-normal around the category's median.
    product_category = _choice(rng, _N_PRODUCTS, _CATEGORY_P).astype(np.int64)
    product_price = (
        np.round(
            np.array(_CATEGORY_PRICE)[product_category] * rng.lognormal(0.0, 0.5, _N_PRODUCTS), 0
        )
        - 0.01
    )
    product_price = np.maximum(product_price, 0.99)
    popularity = 1.0 / np.arange(1, _N_PRODUCTS + 1) ** 0.9
    product_names = [f"SKU{i:05d}" for i in rng.permutation(90_000)[:_N_PRODUCTS]]

    browse_category = _choice(rng, len(session["browse"]), _CATEGORY_P)
    product = {"product_detail": _choice(rng, len(session["product_detail"]), popularity)}
    # Items that interest a user later in the journey come from the products viewed in the session.
    for name in ("add_to_wishlist", "share", "add_to_cart"):
        pick = _pick_in_group(rng, session[name], events.counts["product_detail"])
        product[name] = product["product_detail"][pick]
        if name != "add_to_cart":
            after = events.key["product_detail"][pick]
            events.key[name][:] = after + 0.001 + 0.01 * rng.random(len(pick))
    quantity = {"add_to_cart": 1 + rng.poisson(0.15, len(session["add_to_cart"]))}
    removed = _pick_in_group(rng, session["remove_from_cart"], events.counts["add_to_cart"])
    product["remove_from_cart"] = product["add_to_cart"][removed]
    quantity["remove_from_cart"] = quantity["add_to_cart"][removed]
    price = {name: product_price[product[name]] for name in _PRODUCT_EVENTS}

    # Order amount: what stayed in the cart.
    cart_value = np.bincount(
        session["add_to_cart"],
        weights=price["add_to_cart"] * quantity["add_to_cart"],
        minlength=n_s,
    )
    cart_value -= np.bincount(
        session["remove_from_cart"],
        weights=price["remove_from_cart"] * quantity["remove_from_cart"],
        minlength=n_s,
    )
    ordered = session["place_order"]
    order_id = np.full(n_s, -1, dtype=np.int64)
    order_id[ordered] = 7_000_001 + np.arange(len(ordered)) * 3
    cdf = np.cumsum(_PAY_P, axis=1)[sessions["platform"][ordered]]
    payment_method = np.full(n_s, -1, dtype=np.int8)
    payment_method[ordered] = (users["pay_pref"][sessions["user"][ordered]][:, None] > cdf).sum(1)

    failed = session["pay_fail"]
    broken = (sessions["platform"][failed] == _BROKEN_PAY[0]) & (
        sessions["version"][failed] == _version_code(*_BROKEN_PAY)
    )
    normal_error = _choice(rng, len(broken), (0.45, 0.2, 0.3, 0.05)).astype(np.int64)
    error_code = np.where(broken & (rng.random(len(broken)) < 0.9), 3, normal_error)
    query = rng.integers(0, len(_QUERIES), len(session["search"]))
    share_channel = _choice(rng, len(session["share"]), _SHARE_P)

    category = {name: product_category[product[name]].astype(np.int8) for name in _PRODUCT_EVENTS}
    category["browse"] = browse_category.astype(np.int8)
    # The tracking bug: the iOS build in _BROKEN_TRACKING sends add_to_cart without product_id.
    cart = session["add_to_cart"]
    bug = (sessions["platform"][cart] == _BROKEN_TRACKING[0]) & (
        sessions["version"][cart] == _version_code(*_BROKEN_TRACKING)
    )
    product["add_to_cart"] = np.where(bug, -1, product["add_to_cart"])
    product = {name: codes.astype(np.int16) for name, codes in product.items()}
    return _Properties(
        product_names=product_names,
        category=category,
        product=product,
        price=price,
        quantity=quantity,
        order_id=order_id,
        amount=np.round(cart_value, 2, out=cart_value),
        payment_method=payment_method,
        error_code=error_code,
        query=query,
        share_channel=share_channel,
    )


@dataclass(frozen=True)
class _Order:
    """The events in the export, which is by time: for each exported row its time (``time``,
    ms since the epoch), session, event code and the session codes carried to it
    (``carried``)."""

    time: np.ndarray
    session: np.ndarray
    code: np.ndarray
    carried: dict[str, np.ndarray]


def _landing(
    slot: np.ndarray, at: dict[str, np.ndarray], slots: np.ndarray, names: Sequence[str]
) -> tuple[dict[str, np.ndarray], Spare]:
    """Where the events of the given names (in ``_Events`` order) land in the export, from each
    exported row's ``slot`` in the session-by-session layout and each event's slot there
    (``at``, views of ``slots``). Uses up ``at``; ``slot`` and ``slots`` come back with the
    rows' numbers as spare arrays, once nothing reads them."""
    n = len(slot)
    row_of = np.empty(n, dtype=np.int64)
    for a in range(0, n, _RUN):  # numbered a run at a time: no arange as long as the log
        row_of[slot[a : a + _RUN]] = np.arange(a, min(n, a + _RUN))
    rows = {name: row_of[at[name]] for name in names}
    at.clear()
    return rows, Spare([slot, row_of, slots])


def _order(
    rng: np.random.Generator,
    sessions: dict[str, np.ndarray],
    events: _Events,
    layout: _Layout,
    carry: dict[str, np.ndarray],
    names: Sequence[str],
) -> tuple[_Order, dict[str, np.ndarray], Spare]:
    """Order the events inside their sessions by key, give them times, and sort them by time;
    ``carry`` holds non-negative codes per session to carry to every exported row. Also says
    where the events of ``names`` land (``_landing``), with the arrays left spare.

    Uses up ``events`` and ``layout``: only the sessions of order events remain, to look up
    order properties."""
    per_session, session_start = layout.per_session, layout.start
    session = events.session
    n = int(per_session.sum())
    # The gaps between events are the next draw; numpy lets go of the GIL while it draws, so
    # they come in the background while the sessions are sorted (nothing else draws meanwhile).
    with ThreadPoolExecutor(max_workers=1) as pool:
        gaps = pool.submit(rng.lognormal, 0.0, 0.8, n)
        s_sorted, code_sorted, at_sorted = _in_session_order(events, layout)
        gap_ms = gaps.result()

    # Then the time since the previous event of the session, a cache-sized run of events at a
    # time so that no temporary as long as the log is made; the times go over the gaps.
    time_ms = gap_ms.view(np.int64)
    for a in range(0, n, _RUN):
        gap = gap_ms[a : a + _RUN]
        gap *= _GAP_MEDIAN_S[code_sorted[a : a + _RUN]]
        gap *= 1000
        np.maximum(gap, 200, out=gap)
        time_ms[a : a + _RUN] = gap  # numpy copies the run first: the two overlap
    del gap_ms
    _session_times(time_ms, session_start[per_session > 0], sessions["start"][per_session > 0])

    # Export order: by time; on equal times, by session (a session's own times all differ).
    with ThreadPoolExecutor(max_workers=1) as pool:
        fields = pool.submit(_layout_fields, s_sorted, code_sorted, at_sorted, carry)
        earliest = int(time_ms.min()) if n else 0
        time_ms -= earliest
        time_out, slot = sort_rows(  # the ranks were used up by the sort inside sessions
            [[time_ms], [at_sorted]], keep=(0, 1), spare=[time_ms, layout.ranks]
        )
        del time_ms
        time_out += earliest
        # Where the events land needs only the slots: it is worked out on the other core while
        # this one gathers the fields in export order, over the layout order (no longer needed).
        landing = pool.submit(_landing, slot, layout.at, layout.slots, names)
        session_out, code_out, *carried = fields.result().take(
            slot, spare=[at_sorted, code_sorted], last=True
        )
        rows, spare = landing.result()
    del s_sorted, code_sorted, at_sorted
    events.counts.clear()  # the rest needs only where events land
    for name in set(EVENTS) - {*_ORDER_EVENTS}:
        del session[name]
    order = _Order(
        time=time_out,
        session=session_out,
        code=code_out,
        carried=dict(zip(carry, carried, strict=True)),
    )
    return order, rows, spare


def _session_times(gaps: np.ndarray, firsts: np.ndarray, starts: np.ndarray) -> None:
    """Turn the ``gaps`` of events laid out session by session into times, in place: a session
    whose first event is at ``firsts`` starts at ``starts`` and each later event comes a gap
    after the one before.

    One running sum does it: each session's first item becomes its start minus where the sum
    stands just before it (the previous session's start plus its gaps), so the sum reaches the
    start there. Integer sums are exact, so this is the same as summing within sessions.

    Example:
        >>> times = np.array([9, 5, 7, 9, 2])
        >>> _session_times(times, np.array([0, 3]), np.array([100, 50]))
        >>> times.tolist()
        [100, 105, 112, 50, 52]
    """
    if not len(firsts):
        return
    gaps[firsts] = 0
    within = np.add.reduceat(gaps, firsts)  # every session's gaps after its first event
    lead = starts.copy()
    lead[1:] -= starts[:-1]
    lead[1:] -= within[:-1]
    gaps[firsts] = lead
    np.cumsum(gaps, out=gaps)


@dataclass(frozen=True)
class _Layout:
    """The events laid out session by session, in EVENTS order inside a session: how many each
    session has (``per_session``), its first slot (``start``), and per event name each event's
    slot (``at``) and its place among its session's events (``rank``). The ``at`` and ``rank``
    of every name are views of one buffer each (``slots``, ``ranks``), for later steps to write
    over once they are used up."""

    per_session: np.ndarray
    start: np.ndarray
    at: dict[str, np.ndarray]
    rank: dict[str, np.ndarray]
    slots: np.ndarray
    ranks: np.ndarray


def _layout(events: _Events) -> _Layout:
    """Lay the events out; needs only how many of each name every session has, not the keys."""
    session, counts = events.session, events.counts
    per_session = np.zeros(len(counts[EVENTS[0]]), dtype=np.int64)
    for name in EVENTS:
        per_session += counts[name]
    session_start = np.cumsum(per_session)
    session_start -= per_session
    n = sum(len(s) for s in session.values())
    slots, ranks = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    at, rank, done = {}, {}, 0
    earlier = session_start.copy()  # first slot of the next event type in each session
    first = np.empty_like(earlier)  # reused for every name: fresh memory costs its zeroing
    ordinal = np.arange(max((len(s) for s in session.values()), default=0))
    for name in EVENTS:
        c, s = counts[name], session[name]
        at[name], rank[name] = slots[done : done + len(s)], ranks[done : done + len(s)]
        done += len(s)
        # The place in the session is worked out per session and gathered, like the slot: one
        # gather per event instead of two and a difference. The sessions are valid rows, so
        # "clip" changes nothing (and, unlike "raise", does not gather through a copy).
        if len(c) and c.max() <= 1:
            np.take(earlier, s, out=at[name], mode="clip")
            np.subtract(earlier, session_start, out=first)
            np.take(first, s, out=rank[name], mode="clip")
        else:
            np.cumsum(c, out=first)
            np.subtract(earlier, first, out=first)  # minus this type's events in earlier sessions
            first += c
            np.take(first, s, out=at[name], mode="clip")
            at[name] += ordinal[: len(s)]
            first -= session_start
            np.take(first, s, out=rank[name], mode="clip")
            rank[name] += ordinal[: len(s)]
        earlier += c
    return _Layout(
        per_session=per_session,
        start=session_start,
        at=at,
        rank=rank,
        slots=slots,
        ranks=ranks,
    )


def _quantised(keys: np.ndarray) -> np.ndarray:
    """The keys as int64 steps of 2^-20, over the keys themselves (not needed afterwards)."""
    steps = keys.view(np.int64)
    for a in range(0, len(keys), _RUN):
        run = keys[a : a + _RUN]
        run *= _KEY_STEPS
        steps[a : a + _RUN] = run  # numpy copies the run first: the two overlap
    return steps


def _layout_fields(
    s_sorted: np.ndarray,
    code_sorted: np.ndarray,
    at_sorted: np.ndarray,
    carry: dict[str, np.ndarray],
) -> PackedFields:
    """The session, event code and carried session codes of every layout slot, packed; built
    beside the sort by time. The two layouts hold the same sessions in the same slots, so what
    belongs to a session is laid out through ``s_sorted``."""
    code = np.empty(len(code_sorted), dtype=np.int8)
    code[at_sorted] = code_sorted
    # Packed over s_sorted, which nothing reads afterwards; the session codes are looked up a
    # chunk at a time, never made as long as the log.
    return PackedFields(
        [s_sorted, code, *((codes, s_sorted) for codes in carry.values())], over_first=True
    )


def _in_session_order(
    events: _Events, layout: _Layout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The events ordered by key inside their sessions (equal keys keep the EVENTS order): the
    session, event code and layout slot of every event in that order. Uses up the keys and
    ranks."""
    session, rank = events.session, layout.rank
    keys = _quantised(events.keys)
    bounds = np.cumsum([0, *(len(session[name]) for name in EVENTS)])
    events.key.clear()
    s_sorted, code_sorted, rank_sorted = sort_rows(
        [
            [session[name] for name in EVENTS],
            [keys[a:b] for a, b in itertools.pairwise(bounds)],
            [np.full(len(session[name]), code, dtype=np.int8) for code, name in enumerate(EVENTS)],
            [rank.pop(name) for name in EVENTS],
        ],
        keep=(0, 2, 3),
        grouped=True,  # the events of each name come session by session
        spare=[keys],  # packed, the keys are not needed: the sessions go over them
    )
    at_sorted = rank_sorted
    _add_by(at_sorted, layout.start, s_sorted)
    return s_sorted, code_sorted, at_sorted


def _session_codes(
    users: dict[str, np.ndarray], sessions: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], list[str]]:
    """What every row takes from its session, as small non-negative codes (``app_version`` one
    above its index in the returned versions, 0 on the web), and the app versions."""
    s_user = sessions["user"]
    platform = sessions["platform"].astype(np.int8)
    version = np.zeros(len(s_user), dtype=np.int8)
    versions: list[str] = []
    for p in (1, 2):
        mine = platform == p
        version[mine] = 1 + len(versions) + sessions["version"][mine]
        versions.extend(v for v, _ in _RELEASES[p])
    codes = {  # the int64 last: the export's gather writes it over the packed words
        "platform": platform,
        "app_version": version,
        "campaign": users["campaign"][s_user].astype(np.int8),
        "user_id": users["user_id"][s_user],
    }
    return codes, versions


def _per_row_columns(order: _Order, versions: list[str]) -> dict[str, Callable[[], pa.Array]]:
    """How to build the columns every row has: its user, event, time and session's attributes."""
    n = len(order.time)
    carried = order.carried

    def version() -> pa.Array:
        codes = carried["app_version"]
        codes -= 1  # 0 was the web's: no app version
        return string_column(codes, versions)

    def session_id() -> pa.Array:
        ids = order.session  # nothing else reads it: the ids are made in place
        ids *= 13
        ids += 900_000_000
        return pa.array(ids)

    return {
        "user_id": lambda: pa.array(carried["user_id"]),
        "event": lambda: string_column(order.code, EVENTS),
        "time": lambda: pa.Array.from_buffers(
            pa.timestamp("ms", tz="UTC"), n, [None, pa.py_buffer(order.time)]
        ),
        "session_id": session_id,
        "platform": lambda: string_column(carried["platform"], PLATFORMS),
        "app_version": version,
        "campaign": lambda: string_column(carried["campaign"], [c[0] for c in _CAMPAIGNS]),
    }


def _submit(
    pool: ThreadPoolExecutor, columns: dict[str, Callable[[], pa.Array]]
) -> dict[str, Future[pa.Array]]:
    return {name: pool.submit(build) for name, build in columns.items()}


def _to_table(
    rng: np.random.Generator,
    users: dict[str, np.ndarray],
    sessions: dict[str, np.ndarray],
    events: _Events,
    layout: list[Future[_Layout]],
) -> tuple[pa.Table, tuple[np.ndarray, np.ndarray]]:
    """The export table, and who paid what in export order. Uses up ``layout`` and, in
    ``users`` and ``sessions``, what only the events need.

    The table is the last thing made and the biggest (3 GiB at a million users): every array
    that only goes into it is let go as soon as its column is built, so that the columns are
    built over memory the process has just freed, not over fresh pages the kernel must zero.
    """
    props = _draw_properties(rng, users, sessions, events)
    carry, versions = _session_codes(users, sessions)
    order, row, spare = _order(rng, sessions, events, layout.pop().result(), carry, _ROWS_READ)
    del carry
    _drop(
        users, ("platform", "campaign", "first_day", "intent", "junk", "upgrade_lag_ms", "pay_pref")
    )
    _drop(sessions, ("nth", "start", "platform", "version"))
    n = len(order.time)
    session = events.session
    # numpy and Arrow let go of the GIL on big arrays, so columns build side by side, the
    # per-row columns first; the spare arrays take three of the sparse columns.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        per_row = _submit(pool, _per_row_columns(order, versions))
        del order
        # Who paid what, in export order (the lifetime value sums payments in that order); the
        # rows are distinct, so any sort gives the same order.
        in_order = np.argsort(row["pay_success"])
        paid = (
            sessions["user"][session["pay_success"]][in_order],
            props.amount[session["pay_success"]][in_order],
        )
        properties = _property_columns(n, row, session, props, spare)
        del row, props, spare  # each column's closure now holds all that is left of them
        futures = per_row | _submit(pool, properties)
        del properties
        columns = {name: f.result() for name, f in futures.items()}
    return pa.table(columns), paid


def _drop(arrays: dict[str, np.ndarray], names: Sequence[str]) -> None:
    for name in names:
        del arrays[name]


# The event names whose rows some property column reads (_property_columns).
_ROWS_READ = ("browse", "search", "share", "pay_fail", *_PRODUCT_EVENTS, *_ORDER_EVENTS)


def _property_columns(
    n: int,
    row: dict[str, np.ndarray],
    session: dict[str, np.ndarray],
    props: _Properties,
    spare: Spare,
) -> dict[str, Callable[[], pa.Array]]:
    """How to build the property columns of ``n`` rows from where the events land (``row``).
    Every closure holds only its own inputs, looked up here: once it has run, what no other
    column reads is freed."""

    def by_row(names: Sequence[str], values: dict[str, np.ndarray]) -> list[Any]:
        return [(row[name], values[name]) for name in names]

    def per_order(values: np.ndarray) -> list[Any]:
        return [(row[name], values[session[name]]) for name in _ORDER_EVENTS]

    def column(build: Callable[..., pa.Array], *args: Any) -> Callable[[], pa.Array]:
        return functools.partial(build, *args)

    category = by_row(("browse", *_PRODUCT_EVENTS), props.category)
    product = by_row(_PRODUCT_EVENTS, props.product)
    return {
        "category": column(_coded, n, np.int8, category, _CATEGORIES),
        "product_id": column(_coded, n, np.int16, product, props.product_names),
        "price": column(
            sparse_column, n, by_row(_PRODUCT_EVENTS, props.price), pa.float64(), np.nan, spare
        ),
        "quantity": column(
            sparse_column, n, by_row(_CART_EVENTS, props.quantity), pa.int64(), 0, spare
        ),
        "order_id": column(sparse_column, n, per_order(props.order_id), pa.int64(), -1, spare),
        "amount": column(sparse_column, n, per_order(props.amount), pa.float64(), np.nan),
        "payment_method": column(sparse_strings, n, per_order(props.payment_method), _PAY_METHODS),
        "query": column(sparse_strings, n, [(row["search"], props.query)], _QUERIES),
        "share_channel": column(
            sparse_strings, n, [(row["share"], props.share_channel)], _SHARE_CHANNELS
        ),
        "error_code": column(
            sparse_strings, n, [(row["pay_fail"], props.error_code)], _ERROR_CODES
        ),
    }


def _coded(
    n: int,
    dtype: type,
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
) -> pa.Array:
    """A string column of ``n`` rows, null but for codes into ``names`` at ``positions`` in
    every ``(positions, codes)`` of ``parts``."""
    return string_column(scatter(n, -1, dtype, parts), names)
