"""Suggestions for misspelled names, shared by every error that names a column, event or tag."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most like ``name`` (case-insensitive), best first."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` did you mean 'x' or 'y'?`` or an empty string."""
    hits = closest(name, candidates)
    if not hits:
        return ""
    return " did you mean " + " or ".join(repr(h) for h in hits) + "?"


def listing(names: Iterable[str], limit: int = 20) -> str:
    """A short comma-separated listing of names for an error message."""
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", … ({len(names) - limit} more)"
    return shown


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages show ``1``, not ``np.int64(1)``."""
    return value.item() if hasattr(value, "item") else value
