"""The e-commerce demo log: users, sessions, a shopping journey, noise, and three planted stories.

Everything is drawn with vectorised numpy from one ``numpy.random.Generator``; no Python loop runs
per user, session or event, so a million users take seconds. The draws happen in a fixed order, so
the same arguments always give the same data, byte for byte.

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

The stories are described for teachers in ``STORIES.md`` next to this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.datasets.stories import CAMPAIGNS, PLATFORMS, RELEASES, Stories, stories_for
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
    """Generate the e-commerce demo: about 18 events per user over ``days`` days from ``start``.

    The same arguments always give identical data. ``n_users=1_000_000`` makes about 18 million
    events in roughly half a minute (see ``STORIES.md`` for what is planted in the data).

    Example:
        >>> demo = ecommerce(n_users=5_000, seed=1)
        >>> demo.events.column_names[:4]
        ['user_id', 'event', 'time', 'session_id']
        >>> list(demo.users.columns)
        ['user_id', 'age_band', 'gender', 'city_tier', 'membership', 'ltv_band']
    """
    if n_users < 1:
        raise ArgumentError(f"n_users must be at least 1, got {n_users}")
    if days < 7:
        raise ArgumentError(f"days must be at least 7 so the stories fit in the period, got {days}")
    start_ms = _parse_day(start)
    rng = np.random.default_rng(seed)
    users = _draw_users(rng, n_users, days)
    sessions = _draw_sessions(rng, users, start_ms, days)
    events = _draw_events(rng, users, sessions)
    table, paid = _to_table(rng, users, sessions, events)
    ltv = np.searchsorted(
        _LTV_EDGES, np.bincount(paid[0], weights=paid[1], minlength=n_users), side="right"
    )
    users_df = pd.DataFrame(
        {
            "user_id": users["user_id"],
            "age_band": pd.Categorical.from_codes(users["age"], _AGE_BANDS),
            "gender": pd.Categorical.from_codes(users["gender"], _GENDERS),
            "city_tier": pd.Categorical.from_codes(users["city"], _CITY_TIERS),
            "membership": pd.Categorical.from_codes(users["membership"], _MEMBERSHIPS),
            "ltv_band": pd.Categorical.from_codes(ltv, _LTV_BANDS, ordered=True),
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


def _parse_day(start: str) -> int:
    try:
        day = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ArgumentError(f"start must be a date like '2026-09-01', got {start!r}") from exc
    return int(day.timestamp() * 1000)


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for every c in ``counts``, concatenated."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at every group of ``counts`` consecutive values."""
    total = np.cumsum(values)
    ends = np.cumsum(counts)
    before = np.concatenate(([0], total[ends[:-1] - 1])) if len(counts) else total[:0]
    return total - np.repeat(before, counts)


def _choice(rng: np.random.Generator, n: int, p) -> np.ndarray:
    """Codes 0..len(p)-1 drawn with probabilities ``p``."""
    cdf = np.cumsum(np.asarray(p, dtype=np.float64))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)


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
    nth = _ragged_arange(per_user)
    # Days between a user's sessions: often the same or next day, sometimes weeks.
    gap_days = np.where(nth == 0, 0, np.floor(rng.exponential(4.0, len(user)))).astype(np.int64)
    day = users["first_day"][user] + _grouped_cumsum(gap_days, per_user)
    hour = _choice(rng, len(user), _HOURLY).astype(np.int64)
    offset_ms = rng.integers(0, _HOUR_MS, len(user))
    start = start_ms + day * _DAY_MS + hour * _HOUR_MS + offset_ms
    # A second session on the same day starts 1-4 hours after the previous one of that day.
    same_day = np.concatenate(([False], (user[1:] == user[:-1]) & (day[1:] == day[:-1])))
    run_counts = np.diff(np.flatnonzero(np.concatenate((~same_day, [True]))))
    later = np.where(same_day, rng.integers(_HOUR_MS, 4 * _HOUR_MS, len(user)), 0)
    start = np.repeat(start[~same_day], run_counts) + _grouped_cumsum(later, run_counts)
    keep = start < start_ms + days * _DAY_MS
    user, nth, start = user[keep], nth[keep], start[keep]
    platform = users["platform"][user]
    version = np.full(len(user), -1, dtype=np.int8)
    for code, releases in _RELEASES.items():
        release_ms = np.array(
            [start_ms + round(frac * days) * _DAY_MS + 10 * _HOUR_MS for _, frac in releases]
        )
        mine = platform == code
        seen_at = start[mine] - users["upgrade_lag_ms"][user[mine]]
        idx = np.searchsorted(release_ms, seen_at, side="right") - 1
        version[mine] = np.maximum(idx, 0)
    return {"user": user, "nth": nth, "start": start, "platform": platform, "version": version}


def _draw_events(
    rng: np.random.Generator, users: dict[str, np.ndarray], sessions: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    s_user = sessions["user"]
    n_s = len(s_user)
    platform = sessions["platform"]
    app = platform != 0
    junk = users["junk"][s_user]
    intent = users["intent"][s_user]
    first = sessions["nth"] == 0
    u = lambda: rng.random(n_s)  # noqa: E731 - one uniform per session

    browse = u() < np.where(junk, 0.97, 0.92)
    p_detail = np.clip(0.52 * intent * np.where(junk, 0.55, 1.0), 0.02, 0.95)
    detail = browse & (u() < p_detail)
    p_cart = np.clip(0.32 * intent * np.where(junk, 0.02, 1.0), 0.0, 0.9)
    cart = detail & (u() < p_cart)
    p_order = np.clip(0.48 * intent * np.where(junk, 0.08, 1.0), 0.0, 0.9)
    order = cart & (u() < p_order)
    attempt = order & (u() < 0.96)
    broken = (platform == _BROKEN_PAY[0]) & (sessions["version"] == _version_code(*_BROKEN_PAY))
    paid = attempt & (u() < np.where(broken, 0.31, 0.94))
    failed = attempt & ~paid

    counts = {
        "app_open": app.astype(np.int64),
        "signup": (first & (u() < np.where(junk, 0.35, 0.6))).astype(np.int64),
        "login": ((~first) & (u() < np.where(app, 0.06, 0.3))).astype(np.int64),
        "browse": browse * (1 + rng.poisson(1.1, n_s)),
        "search": browse * rng.poisson(np.where(junk, 0.1, 0.55), n_s),
        "product_detail": detail * (1 + rng.poisson(1.4, n_s)),
        "share": detail * rng.poisson(np.where(junk, 0.01, 0.06), n_s),
        "add_to_cart": cart * (1 + rng.poisson(0.35, n_s)),
        "place_order": order.astype(np.int64),
        "pay_success": paid.astype(np.int64),
        "pay_fail": failed.astype(np.int64),
    }
    counts["add_to_wishlist"] = detail * rng.binomial(counts["product_detail"], 0.08)
    counts["remove_from_cart"] = (counts["add_to_cart"] >= 2) & (u() < 0.25)
    counts["remove_from_cart"] = counts["remove_from_cart"].astype(np.int64)

    parts_session, parts_event, parts_key = [], [], []
    # Sort key inside a session: the journey's order, noise events scattered where they belong.
    key_base = {
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
    per_type: dict[str, np.ndarray] = {}
    for name in EVENTS:
        c = np.asarray(counts[name], dtype=np.int64)
        sess = np.repeat(np.arange(n_s, dtype=np.int64), c)
        base, spread = key_base[name]
        parts_session.append(sess)
        parts_event.append(np.full(len(sess), _E[name], dtype=np.int8))
        parts_key.append(base + spread * rng.random(len(sess)))
        per_type[name] = sess
    return {
        "session": np.concatenate(parts_session),
        "event": np.concatenate(parts_event),
        "key": np.concatenate(parts_key),
        "counts": counts,
        "per_type": per_type,
    }


def _version_code(platform: int, version: str) -> int:
    return [v for v, _ in _RELEASES[platform]].index(version)


def _pick_in_group(rng: np.random.Generator, group: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each entry of ``group`` (a session), a random position among that session's rows of a
    type laid out session by session with ``counts`` rows each."""
    starts = np.cumsum(counts) - counts
    return starts[group] + np.floor(rng.random(len(group)) * counts[group]).astype(np.int64)


def _to_table(
    rng: np.random.Generator,
    users: dict[str, np.ndarray],
    sessions: dict[str, np.ndarray],
    events: dict[str, np.ndarray],
) -> tuple[pa.Table, tuple[np.ndarray, np.ndarray]]:
    n_s = len(sessions["user"])
    per_type = events["per_type"]
    counts = events["counts"]
    n_rows = len(events["session"])
    # Offsets of each event type's block in the concatenated arrays (same order as EVENTS).
    block = {}
    offset = 0
    for name in EVENTS:
        block[name] = offset
        offset += len(per_type[name])

    product = np.full(n_rows, -1, dtype=np.int64)
    category = np.full(n_rows, -1, dtype=np.int64)
    quantity = np.zeros(n_rows, dtype=np.int64)
    has_quantity = np.zeros(n_rows, dtype=bool)
    amount = np.full(n_rows, np.nan)
    order_id = np.full(n_rows, -1, dtype=np.int64)
    pay_method = np.full(n_rows, -1, dtype=np.int64)
    query = np.full(n_rows, -1, dtype=np.int64)
    share_channel = np.full(n_rows, -1, dtype=np.int64)
    error_code = np.full(n_rows, -1, dtype=np.int64)
    key = events["key"]

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
    product_names = np.array([f"SKU{i:05d}" for i in rng.permutation(90_000)[:_N_PRODUCTS]])

    def rows(name: str) -> slice:
        return slice(block[name], block[name] + len(per_type[name]))

    b = rows("browse")
    category[b] = _choice(rng, len(per_type["browse"]), _CATEGORY_P)
    d = rows("product_detail")
    product[d] = _choice(rng, len(per_type["product_detail"]), popularity)
    # Items that interest a user later in the journey come from the products viewed in the session.
    detail_counts = np.asarray(counts["product_detail"], dtype=np.int64)
    for name in ("add_to_wishlist", "share", "add_to_cart"):
        r = rows(name)
        pick = block["product_detail"] + _pick_in_group(rng, per_type[name], detail_counts)
        product[r] = product[pick]
        if name != "add_to_cart":
            key[r] = key[pick] + 0.001 + 0.01 * rng.random(len(per_type[name]))
    r = rows("add_to_cart")
    quantity[r] = 1 + rng.poisson(0.15, len(per_type["add_to_cart"]))
    has_quantity[r] = True
    r_rm = rows("remove_from_cart")
    cart_counts = np.asarray(counts["add_to_cart"], dtype=np.int64)
    removed = block["add_to_cart"] + _pick_in_group(rng, per_type["remove_from_cart"], cart_counts)
    product[r_rm] = product[removed]
    quantity[r_rm] = quantity[removed]
    has_quantity[r_rm] = True
    has_product = product >= 0
    category[has_product] = product_category[product[has_product]]
    price = np.where(has_product, product_price[np.maximum(product, 0)], np.nan)

    # Order amount: what stayed in the cart.
    cart_value = np.bincount(
        per_type["add_to_cart"], weights=price[r] * quantity[r], minlength=n_s
    ) - np.bincount(
        per_type["remove_from_cart"], weights=price[r_rm] * quantity[r_rm], minlength=n_s
    )
    cart_value = np.round(cart_value, 2)
    ordered_sessions = per_type["place_order"]
    session_order_id = np.full(n_s, -1, dtype=np.int64)
    session_order_id[ordered_sessions] = 7_000_001 + np.arange(len(ordered_sessions)) * 3
    s_user = sessions["user"]
    pref = users["pay_pref"][s_user]
    cdf = np.cumsum(_PAY_P, axis=1)[sessions["platform"]]
    session_method = (pref[:, None] > cdf).sum(axis=1)
    for name in ("place_order", "pay_success", "pay_fail"):
        r = rows(name)
        sess = per_type[name]
        amount[r] = cart_value[sess]
        order_id[r] = session_order_id[sess]
        pay_method[r] = session_method[sess]
    r = rows("pay_fail")
    broken_version = _version_code(*_BROKEN_PAY)
    broken = (sessions["platform"][per_type["pay_fail"]] == _BROKEN_PAY[0]) & (
        sessions["version"][per_type["pay_fail"]] == broken_version
    )
    normal_error = _choice(rng, len(broken), (0.45, 0.2, 0.3, 0.05)).astype(np.int64)
    error_code[r] = np.where(broken & (rng.random(len(broken)) < 0.9), 3, normal_error)
    r = rows("search")
    query[r] = rng.integers(0, len(_QUERIES), len(per_type["search"]))
    r = rows("share")
    share_channel[r] = _choice(rng, len(per_type["share"]), _SHARE_P)

    # Inside each session: order by key, then add the time since the previous event.
    session = events["session"]
    # One int64 sort key (session, then position key quantised to 2^-20) sorts much faster than
    # np.lexsort; the key is below 8, so 23 bits hold it.
    order = np.argsort((session << 23) | (key * (1 << 20)).astype(np.int64), kind="stable")
    session, event = session[order], events["event"][order]
    per_session = np.bincount(session, minlength=n_s)
    gap_s = _GAP_MEDIAN_S[event] * rng.lognormal(0.0, 0.8, len(event))
    nth = _ragged_arange(per_session)
    gap_ms = np.where(nth == 0, 0, np.maximum(gap_s * 1000, 200)).astype(np.int64)
    time_ms = sessions["start"][session] + _grouped_cumsum(gap_ms, per_session)

    # The tracking bug: the iOS build in _BROKEN_TRACKING sends add_to_cart without product_id.
    s_platform = sessions["platform"][session]
    s_version = sessions["version"][session]
    product_sorted = product[order]
    bug = (
        (event == _E["add_to_cart"])
        & (s_platform == _BROKEN_TRACKING[0])
        & (s_version == _version_code(*_BROKEN_TRACKING))
    )
    product_sorted[bug] = -1

    # Export order: by time (stable, so a session's events stay in order on ties).
    by_time = np.argsort(time_ms, kind="stable")
    order = order[by_time]
    session, event, time_ms = session[by_time], event[by_time], time_ms[by_time]
    s_platform, s_version = s_platform[by_time], s_version[by_time]
    product_sorted = product_sorted[by_time]
    user = s_user[session]

    version_names = [
        pa.array([v for v, _ in _RELEASES.get(p, ())] or [""], pa.string())
        for p in range(len(PLATFORMS))
    ]
    version_strings = np.full(len(event), -1, dtype=np.int64)
    version_dict: list[str] = []
    for p in (1, 2):
        mine = s_platform == p
        version_strings[mine] = len(version_dict) + s_version[mine]
        version_dict.extend(version_names[p].to_pylist())
    session_ids = 900_000_000 + np.arange(n_s, dtype=np.int64) * 13

    def labels(codes: np.ndarray, names) -> pa.Array:
        codes = np.asarray(codes, dtype=np.int64)
        idx = pa.array(codes, mask=codes < 0)
        return pc.take(pa.array(list(names), pa.string()), idx)

    def nullable(values: np.ndarray, valid: np.ndarray, type_: pa.DataType) -> pa.Array:
        return pa.array(values, type=type_, mask=~valid)

    price_s = price[order]
    amount_s = amount[order]
    table = pa.table(
        {
            "user_id": pa.array(users["user_id"][user]),
            "event": labels(event, EVENTS),
            "time": pa.array(time_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "session_id": pa.array(session_ids[session]),
            "platform": labels(s_platform, PLATFORMS),
            "app_version": labels(version_strings, version_dict),
            "campaign": labels(users["campaign"][user], [c[0] for c in _CAMPAIGNS]),
            "category": labels(category[order], _CATEGORIES),
            "product_id": labels(product_sorted, product_names),
            "price": nullable(price_s, ~np.isnan(price_s), pa.float64()),
            "quantity": nullable(quantity[order], has_quantity[order], pa.int64()),
            "order_id": nullable(order_id[order], order_id[order] >= 0, pa.int64()),
            "amount": nullable(amount_s, ~np.isnan(amount_s), pa.float64()),
            "payment_method": labels(pay_method[order], _PAY_METHODS),
            "query": labels(query[order], _QUERIES),
            "share_channel": labels(share_channel[order], _SHARE_CHANNELS),
            "error_code": labels(error_code[order], _ERROR_CODES),
        }
    )
    paid_rows = event == _E["pay_success"]
    return table, (user[paid_rows], amount_s[paid_rows])
