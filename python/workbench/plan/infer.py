"""Drafting a tracking plan from a log: what events there are and what their properties look like.

Per property column, the values are numbered (strings by the native coder in first-seen order,
other values ascending) and one count over (event code, value number) gives each event's
non-null rows, distinct values, most frequent values and range. Nothing runs per row in Python,
and nothing sorts the rows. Values seen equally often rank in their numbering's order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.exceptions import ArgumentError
from workbench.plan._logdata import LogData, is_text, text_codes
from workbench.plan.model import EventSpec, PropertySpec
from workbench.plan.tracking_plan import TrackingPlan
from workbench.plan.validate import column_kind

__all__ = ["infer"]

_EXAMPLES = 3


def _humanize(name: str) -> str:
    words = name.replace("-", " ").replace("_", " ").replace(".", " ").split()
    return " ".join(words).capitalize() if words else name


class _Values:
    """One property column numbered: each row's value number (``size`` where the row has no
    value) and what each number shows as. Numbers rank values: first seen for strings,
    ascending for the rest (so a number's range is its first and last value)."""

    def __init__(self, column: pa.Array, kind: str, name: str) -> None:
        self.kind = kind
        self.unit, self.tz = "s", None
        if pa.types.is_timestamp(column.type):
            self.unit, self.tz = column.type.unit, column.type.tz
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        if kind == "float":
            valid &= ~pc.is_nan(column).fill_null(False).to_numpy(zero_copy_only=False)
        self.strings: list[Any] | None = None
        if kind in ("string", "other"):
            if kind == "other":
                column = _as_text(column)
            codes, self.strings = text_codes(column, name)
            self.uniques: np.ndarray = np.arange(len(self.strings))
            self.numbers = np.where(valid, codes, len(self.strings))
            return
        if kind == "timestamp":
            stamps = (
                column if pa.types.is_timestamp(column.type) else column.cast(pa.timestamp("s"))
            )
            raw = stamps.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        elif kind == "boolean":
            raw = column.fill_null(False).to_numpy(zero_copy_only=False)
        else:
            raw = column.fill_null(0).to_numpy(zero_copy_only=False)
        self.numbers, self.uniques = _ranked(raw, valid)

    @property
    def size(self) -> int:
        return len(self.uniques)

    def show(self, number: int | np.integer) -> Any:
        """What value ``number`` is, as a plan file writes it."""
        if self.strings is not None:
            return self.strings[number]
        raw = self.uniques[number]
        if self.kind == "timestamp":
            return pd.Timestamp(int(raw), unit=self.unit, tz=self.tz).isoformat()
        if self.kind == "boolean":
            return bool(raw)
        return raw.item() if hasattr(raw, "item") else raw


def _ranked(raw: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank among the distinct valid values of ``raw`` (ascending; the number of
    them where the row is not valid), and those values. Small integer ranges are their own
    ranks; others are hashed, and only the distinct values sorted."""
    # (Unsigned 64-bit values may not fit the shifted int64.)
    small_ints = raw.dtype.kind in "ib" or (raw.dtype.kind == "u" and raw.dtype.itemsize < 8)
    if small_ints and valid.any():
        seen = raw[valid]
        low, high = int(seen.min()), int(seen.max())
        if high - low <= 4 * len(raw) + 1024:
            shifted = raw.astype(np.int64) - low
            present = np.bincount(shifted[valid], minlength=high - low + 1) > 0
            rank = np.cumsum(present) - 1
            values = (np.flatnonzero(present) + low).astype(raw.dtype)
            numbers = np.where(valid, rank[np.clip(shifted, 0, high - low)], len(values))
            return numbers, values
    codes, uniques = pd.factorize(raw[valid])
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    numbers = np.full(len(raw), len(order), dtype=np.int64)
    numbers[valid] = rank[codes]
    return numbers, np.asarray(uniques)[order]


def _pairs(first: np.ndarray, second: np.ndarray, n_second: int) -> tuple[np.ndarray, ...]:
    """The distinct (first, second) pairs in (first, second) order, with how often each occurs."""
    key = first.astype(np.int64) * max(n_second, 1) + second
    space = (int(first.max()) + 1) * max(n_second, 1) if len(first) else 0
    if space <= 4 * len(key) + 4096:
        counts = np.bincount(key, minlength=space)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:
        codes, uniques = pd.factorize(key)
        order = np.argsort(uniques)
        keys, counts = uniques[order], np.bincount(codes, minlength=len(uniques))[order]
    return keys // max(n_second, 1), keys % max(n_second, 1), counts


def _as_text(column: pa.Array) -> pa.Array:
    """A column of another type as strings (unsafe casts where the safe one is refused)."""
    return (
        column.cast(pa.string()) if _castable(column) else pc.cast(column, pa.string(), safe=False)
    )


def _castable(column: pa.Array) -> bool:
    try:
        column.slice(0, 1).cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def infer(log: Any, *, max_allowed: int = 12, name: str = "") -> TrackingPlan:
    """See :meth:`TrackingPlan.infer`."""
    if isinstance(max_allowed, bool) or not isinstance(max_allowed, int) or max_allowed < 0:
        raise ArgumentError(
            f"max_allowed is a whole number of values (0 for no allowed lists); got {max_allowed!r}"
        )
    data = LogData.of(log)
    codes = data.codes
    names = data.event_names
    n_codes = len(names)
    event_rows = data.event_rows
    has_code = codes >= 0

    # Per event: rows, users, first and last time.
    times = data.time_values
    frame = pd.DataFrame({"c": codes[has_code], "t": times[has_code]})
    span = frame.groupby("c")["t"].agg(["min", "max"])
    users_col = data.table.column(data.user)
    if is_text(users_col.type):
        user_numbers = text_codes(users_col, data.user)[0]
    else:
        user_numbers = pd.factorize(users_col.to_numpy(zero_copy_only=False))[0]
    # A missing user counts as one more user of its event, as the drafts always had it.
    n_users = int(user_numbers.max(initial=-1)) + 1
    user_numbers = np.where(user_numbers < 0, n_users, user_numbers)
    user_events = _pairs(codes[has_code], user_numbers[has_code], n_users + 1)[0]
    users = np.bincount(user_events, minlength=n_codes)
    event_slots = np.where(has_code, codes, n_codes)

    common: dict[str, PropertySpec] = {}
    own: list[dict[str, PropertySpec]] = [{} for _ in range(n_codes)]
    for prop in data.property_names:
        column = data.column(prop)
        if pa.types.is_nested(column.type):
            continue  # lists and structs: the plan language has no type to draft for them
        kind = column_kind(column.type)
        ptype = kind if kind != "other" else "string"
        values = _Values(column, kind, prop)
        # Rows without an event or a value are counted apart (event slot n_codes, value number
        # size) and dropped after counting: cheaper than gathering the other rows first.
        slots, numbers, rows = _pairs(event_slots, values.numbers, values.size + 1)
        real = (slots < n_codes) & (numbers < values.size)
        pair_codes, pair_values, pair_rows = slots[real], numbers[real], rows[real]
        nonnull = np.bincount(pair_codes, weights=pair_rows, minlength=n_codes).astype(np.int64)
        if not nonnull.any():
            continue  # an all-null column says nothing about the plan
        numeric = kind in ("integer", "float", "timestamp")

        present = event_rows > 0
        if (nonnull[present] > 0).all() and present.sum() > 1:
            seen = np.bincount(pair_values, weights=pair_rows, minlength=values.size)
            distinct = np.flatnonzero(seen)
            top = distinct[np.argsort(-seen[distinct], kind="stable")[:_EXAMPLES]]
            common[prop] = _spec(
                prop,
                ptype,
                int(event_rows.sum()),
                int(nonnull.sum()),
                len(distinct),
                [values.show(v) for v in top],
                sorted(values.show(v) for v in distinct) if kind == "string" else None,
                values.show(distinct[0]) if numeric else None,
                values.show(distinct[-1]) if numeric else None,
                max_allowed,
            )
            continue
        starts = np.searchsorted(pair_codes, np.arange(n_codes + 1))
        # Within each event, most rows first; ties keep value order (the sort is stable).
        ranked = np.lexsort((-pair_rows, pair_codes))
        for code in np.flatnonzero(nonnull):
            first, last = int(starts[code]), int(starts[code + 1])
            examples = [
                values.show(v) for v in pair_values[ranked[first : min(first + _EXAMPLES, last)]]
            ]
            values_here = None
            if kind == "string" and last - first <= max_allowed:
                values_here = sorted(values.show(v) for v in pair_values[first:last])
            lo = hi = None
            if numeric:
                lo, hi = values.show(pair_values[first]), values.show(pair_values[last - 1])
            own[code][prop] = _spec(
                prop,
                ptype,
                int(event_rows[code]),
                int(nonnull[code]),
                last - first,
                examples,
                values_here,
                lo,
                hi,
                max_allowed,
            )

    return _draft(data, users, span, own, common, name)


def _draft(
    data: LogData,
    users: np.ndarray,
    span: pd.DataFrame,
    own: list[dict[str, PropertySpec]],
    common: dict[str, PropertySpec],
    name: str,
) -> TrackingPlan:
    """The plan of the events seen (busiest first) with their own and the common properties;
    ``users`` and ``span`` (first and last time) by event code."""
    names, event_rows = data.event_names, data.event_rows
    events: dict[str, EventSpec] = {}
    order = np.argsort(-event_rows, kind="stable")  # the busiest events first
    for code in order:
        if event_rows[code] == 0:
            continue
        event = names[code]
        first, last = data.to_time(np.array([span.at[code, "min"], span.at[code, "max"]]))
        events[event] = EventSpec(
            name=event,
            display_name={"en": _humanize(event)},
            properties=dict(sorted(own[code].items())),
            observed={
                "rows": int(event_rows[code]),
                "users": int(users[code]),
                "first_seen": _iso(first),
                "last_seen": _iso(last),
            },
        )
    return TrackingPlan(
        events,
        common_properties=common,
        name=name,
        languages=("en",),
        description="Drafted by TrackingPlan.infer; review the rules, then add descriptions "
        "and owners.",
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else int(value)


def _spec(
    prop: str,
    ptype: str,
    rows: int,
    nonnull: int,
    distinct: int,
    examples: list[Any],
    values: list[Any] | None,
    lo: Any,
    hi: Any,
    max_allowed: int,
) -> PropertySpec:
    null_rate = 1.0 - nonnull / rows if rows else 0.0
    observed: dict[str, Any] = {
        "rows": rows,
        "null_rate": round(null_rate, 4),
        "distinct": distinct,
    }
    if lo is not None:
        observed["min"], observed["max"] = lo, hi
    # Suggest allowed values only where the data says enough: few values, each seen often.
    suggest = values is not None and distinct <= max_allowed and nonnull >= 5 * distinct
    return PropertySpec(
        name=prop,
        type=ptype,  # type: ignore[arg-type]
        required=nonnull == rows,
        allowed=tuple(values) if suggest and values else None,
        examples=tuple(examples),
        observed=observed,
    )
