"""The stories planted in the demo shop, as data.

The generator reads its campaigns, app releases and the three planted problems from here, and the
case studies' exercises check answers against the same records, so the truth has one home.
``STORIES.md`` tells teachers the same in words. A case study never prints these: it asks the
student to find them in the data.

>>> story = stories_for(start="2026-09-01", days=60)
>>> story.payment_failure.platform, story.payment_failure.version
('android', '4.8.0')
>>> story.payment_failure.released
Timestamp('2026-10-01 10:00:00+0000', tz='UTC')
>>> story.tracking_bug.event, story.tracking_bug.property, story.junk_campaign.name
('add_to_cart', 'product_id', 'influencer_oct')
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = [
    "CAMPAIGNS",
    "PLATFORMS",
    "RELEASES",
    "Campaign",
    "JunkCampaign",
    "PaymentFailure",
    "Release",
    "Stories",
    "TrackingBug",
    "stories_for",
]

PLATFORMS: tuple[str, ...] = ("web", "ios", "android")
"""Where users come from; the apps (ios, android) have versions, the web has none."""

RELEASE_HOUR = 10
"""Releases go out at 10:00 UTC."""


@dataclass(frozen=True)
class Campaign:
    """An acquisition channel: its share of users, when it runs (fractions of the period) and how
    much more (or less) its users mean to buy than average."""

    name: str
    share: float
    flight: tuple[float, float]
    intent: float


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign("organic", 0.40, (0.0, 1.0), 1.0),
    Campaign("google_search", 0.16, (0.0, 1.0), 1.15),
    Campaign("meta_feed", 0.10, (0.0, 1.0), 0.9),
    Campaign("newsletter", 0.06, (0.0, 1.0), 1.3),
    Campaign("referral", 0.06, (0.0, 1.0), 1.2),
    Campaign("influencer_oct", 0.22, (0.30, 0.55), 1.0),
)


@dataclass(frozen=True)
class Release:
    """An app version and when it ships, as a fraction of the period (< 0: before it starts)."""

    version: str
    at: float


RELEASES: dict[str, tuple[Release, ...]] = {
    "ios": (
        Release("5.4.2", -1.0),
        Release("5.5.0", 0.12),
        Release("5.6.0", 0.33),
        Release("5.6.1", 0.57),
        Release("5.7.0", 0.82),
    ),
    "android": (Release("4.6.3", -1.0), Release("4.7.0", 0.20), Release("4.8.0", 0.50)),
}


@dataclass(frozen=True)
class PaymentFailure:
    """Story 1: on one app build the payment SDK's callback fails, so most orders never end in
    ``pay_success``; the failed attempts send ``pay_fail`` with ``error_code``."""

    platform: str
    version: str
    released: pd.Timestamp
    error_code: str


@dataclass(frozen=True)
class JunkCampaign:
    """Story 2: a campaign that brings the most traffic of any paid channel and almost no
    customers."""

    name: str
    starts: pd.Timestamp
    ends: pd.Timestamp


@dataclass(frozen=True)
class TrackingBug:
    """Story 3: one app build sends an event without a required property; the next build fixes
    it. A funnel that needs the property loses those users, but they did not drop off."""

    platform: str
    version: str
    fixed_in: str
    released: pd.Timestamp
    fixed: pd.Timestamp
    event: str
    property: str


@dataclass(frozen=True)
class Stories:
    """The three planted stories of one generated period."""

    payment_failure: PaymentFailure
    junk_campaign: JunkCampaign
    tracking_bug: TrackingBug


def release_time(platform: str, version: str, start: str, days: int) -> pd.Timestamp:
    """When ``version`` of the ``platform`` app ships in a period of ``days`` from ``start``.

    >>> release_time("ios", "5.6.1", "2026-09-01", 60)
    Timestamp('2026-10-05 10:00:00+0000', tz='UTC')
    """
    release = next(r for r in RELEASES[platform] if r.version == version)
    first = pd.Timestamp(start, tz="UTC")
    return first + pd.Timedelta(days=round(release.at * days), hours=RELEASE_HOUR)


def stories_for(start: str, days: int) -> Stories:
    """The planted stories, with their dates, for a period of ``days`` from ``start``."""
    first = pd.Timestamp(start, tz="UTC")
    junk = next(c for c in CAMPAIGNS if c.name == "influencer_oct")
    return Stories(
        payment_failure=PaymentFailure(
            platform="android",
            version="4.8.0",
            released=release_time("android", "4.8.0", start, days),
            error_code="sdk_callback_error",
        ),
        junk_campaign=JunkCampaign(
            name=junk.name,
            starts=first + pd.Timedelta(days=junk.flight[0] * days),
            ends=first + pd.Timedelta(days=junk.flight[1] * days),
        ),
        tracking_bug=TrackingBug(
            platform="ios",
            version="5.6.0",
            fixed_in="5.6.1",
            released=release_time("ios", "5.6.0", start, days),
            fixed=release_time("ios", "5.6.1", start, days),
            event="add_to_cart",
            property="product_id",
        ),
    )
