"""TrackingPlan.infer as it was before it was rewritten with NumPy counts, kept as the
reference the current one must match exactly. One change from the old code: ties between values
seen equally often are now pinned (strings by first appearance, other values ascending, as a
stable sort of the sorted groups leaves them); pandas' default quicksort left them unspecified.
The helpers that shape the plan (``_spec`` and the names and times) are shared with the current
code: they did not change."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.exceptions import ArgumentError
from workbench.plan._logdata import LogData
from workbench.plan.infer import _EXAMPLES, _as_text, _draft, _spec
from workbench.plan.model import PropertySpec
from workbench.plan.tracking_plan import TrackingPlan
from workbench.plan.validate import column_kind

__all__ = ["reference_infer"]


def _column_values(column: pa.Array, kind: str) -> tuple[np.ndarray, np.ndarray, list[Any] | None]:
    """(valid mask, values as numbers or dictionary codes, the dictionary for strings)."""
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    if kind == "float":
        valid &= ~pc.is_nan(column).fill_null(False).to_numpy(zero_copy_only=False)
    if kind in ("string", "other"):
        if kind == "other":
            column = _as_text(column)
        encoded = pc.dictionary_encode(column)
        codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return valid, codes, encoded.dictionary.to_pylist()
    if kind == "timestamp":
        stamps = column if pa.types.is_timestamp(column.type) else column.cast(pa.timestamp("s"))
        return valid, stamps.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), None
    if kind == "boolean":
        return valid, column.fill_null(False).to_numpy(zero_copy_only=False), None
    return valid, column.fill_null(0).to_numpy(zero_copy_only=False), None


def reference_infer(log: Any, *, max_allowed: int = 12, name: str = "") -> TrackingPlan:
    """The old :meth:`TrackingPlan.infer`, ties pinned."""
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
    users_col = data.table.column(data.user).combine_chunks()
    user_codes = (
        pc.dictionary_encode(users_col).indices.fill_null(-1).to_numpy(zero_copy_only=False)
    )
    pairs = pd.DataFrame({"c": codes[has_code], "u": user_codes[has_code]}).drop_duplicates()
    users = pairs.groupby("c").size().reindex(range(n_codes), fill_value=0).to_numpy()

    common: dict[str, PropertySpec] = {}
    own: list[dict[str, PropertySpec]] = [{} for _ in range(n_codes)]
    for prop in data.property_names:
        column = data.column(prop)
        if pa.types.is_nested(column.type):
            continue  # lists and structs: the plan language has no type to draft for them
        kind = column_kind(column.type)
        ptype = kind if kind != "other" else "string"
        valid, values, dictionary = _column_values(column, kind)
        rows_valid = valid & has_code
        nonnull = np.bincount(codes[rows_valid], minlength=n_codes)
        if not nonnull.any():
            continue  # an all-null column says nothing about the plan
        pair = pd.DataFrame({"c": codes[rows_valid], "v": values[rows_valid]})
        counts: Any = pair.groupby(["c", "v"]).size().sort_values(ascending=False, kind="stable")
        distinct = counts.groupby(level=0).size().reindex(range(n_codes), fill_value=0)
        top: Any = counts.groupby(level=0).head(_EXAMPLES)
        numeric = kind in ("integer", "float", "timestamp")
        ranges = pair.groupby("c")["v"].agg(["min", "max"]) if numeric else None

        unit, tz = "s", None
        if pa.types.is_timestamp(column.type):
            unit, tz = column.type.unit, column.type.tz

        def show(
            raw: Any,
            *,
            dictionary: Any = dictionary,
            kind: str = kind,
            unit: Any = unit,
            tz: Any = tz,
        ) -> Any:
            if dictionary is not None:
                return dictionary[int(raw)]
            if kind == "timestamp":
                return pd.Timestamp(int(raw), unit=unit, tz=tz).isoformat()
            if kind == "boolean":
                return bool(raw)
            return raw.item() if hasattr(raw, "item") else raw

        present = event_rows > 0
        if (nonnull[present] > 0).all() and present.sum() > 1:
            total_rows = int(event_rows.sum())
            total_nonnull = int(nonnull.sum())
            seen = pd.Series(values[rows_valid])
            all_values = seen.groupby(seen).size().sort_values(ascending=False, kind="stable")
            lo = hi = None
            if numeric:
                lo, hi = all_values.index.min(), all_values.index.max()
            common[prop] = _spec(
                prop,
                ptype,
                total_rows,
                total_nonnull,
                len(all_values),
                [show(v) for v in all_values.index[:_EXAMPLES]],
                sorted(show(v) for v in all_values.index) if kind == "string" else None,
                show(lo) if lo is not None else None,
                show(hi) if hi is not None else None,
                max_allowed,
            )
            continue
        for code in np.flatnonzero(nonnull):
            examples = [show(v) for v in top.loc[code].index]
            values_here = None
            if kind == "string" and distinct[code] <= max_allowed:
                values_here = sorted(show(v) for v in counts.loc[code].index)
            lo = hi = None
            if ranges is not None:
                lo, hi = show(ranges.at[code, "min"]), show(ranges.at[code, "max"])
            own[code][prop] = _spec(
                prop,
                ptype,
                int(event_rows[code]),
                int(nonnull[code]),
                int(distinct[code]),
                examples,
                values_here,
                lo,
                hi,
                max_allowed,
            )

    return _draft(data, users, span, own, common, name)
