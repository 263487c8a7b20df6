"""Audiences: sets of users on Roaring bitmaps, the tags they are combined with, and what the
analyst does with them.

- :mod:`~workbench.audience.set` — :class:`Audience`: the set and its algebra (``& | - ^ ~``),
  user lists, bitmap bytes for other systems;
- :mod:`~workbench.audience.tags` — :class:`TagStore`: one bitmap per user attribute value or
  behaviour;
- :mod:`~workbench.audience.selection` — the crowd-selection language
  (``"(gender:F & age:25-34) | vip - churned"``);
- :mod:`~workbench.audience.insight` — who they are: :func:`profile` (TGI), :func:`compare`,
  :func:`overlap`;
- :mod:`~workbench.audience.export` — key tables for campaign tools (Parquet, CSV).

This package knows nothing of funnels: a funnel result's drill-downs return audiences.

>>> buyers = Audience.did(log, "pay")
>>> tags.select("gender:F & vip")
Audience 'gender:F & vip'(2 of 6 users)
"""

from workbench.audience.export import key_table, to_csv, to_parquet, to_table
from workbench.audience.insight import compare, overlap, profile
from workbench.audience.selection import parse
from workbench.audience.set import (
    Audience,
    BitmapFormat,
    ensure_audience,
    event_user_counts,
    key_array,
    overlap_counts,
)
from workbench.audience.tags import TagStore, bin_labels, value_order

__all__ = [
    "Audience",
    "BitmapFormat",
    "TagStore",
    "bin_labels",
    "compare",
    "ensure_audience",
    "event_user_counts",
    "key_array",
    "key_table",
    "overlap",
    "overlap_counts",
    "parse",
    "profile",
    "to_csv",
    "to_parquet",
    "to_table",
    "value_order",
]
