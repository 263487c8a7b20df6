"""The tracking-plan validator as it was before the native kernels (one masked pass per rule
over every row), kept as the reference the current one must match exactly: same findings,
order, counts, details, sample rows and row masks. Its passes are the old code as it was; the
value readings it shares with the current code (``_as_planned`` and the texts) did not change."""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench._arrow import decoded
from workbench._names import did_you_mean
from workbench.plan import PropertySpec, TrackingPlan, ValidationReport
from workbench.plan._logdata import LogData
from workbench.plan.validate import (
    _EXACT,
    _as_planned,
    _bound,
    _first,
    _values_text,
    column_kind,
)

__all__ = ["reference_validate"]

_SAMPLES = 5


class ReferenceLogData(LogData):
    """Event names coded with Arrow's dictionary_encode and every time read, as before."""

    @classmethod
    def of(cls, log: Any) -> ReferenceLogData:
        data = LogData.of(log)
        return cls(data.table, data.user, data.event, data.time, data.session)

    @cached_property
    def _coded(self) -> tuple[np.ndarray, list[str], None]:
        encoded = pc.dictionary_encode(decoded(self.table.column(self.event)).combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            codes = np.where(encoded.is_null().to_numpy(zero_copy_only=False), -1, codes)
        names = [str(v) for v in encoded.dictionary.to_pylist()]
        return codes.astype(np.int32, copy=False), names, None

    @cached_property
    def event_rows(self) -> np.ndarray:
        valid = self.codes[self.codes >= 0]
        return np.bincount(valid, minlength=len(self.event_names))


class _Collector:
    """Turns violation masks into report rows: counts, first/last time, sample row numbers."""

    def __init__(self, data: LogData) -> None:
        self.data = data
        self.rows: list[dict[str, Any]] = []
        self.index: dict[tuple[str, str | None, str], np.ndarray] = {}
        self.bad = np.zeros(data.n_rows, dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        violation: str,
        prop: str | None,
        detail: Any,
    ) -> None:
        """``detail`` is text, or a function of (event name, row numbers) giving text."""
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return
        self.bad |= mask
        codes = self.data.codes[idx]
        order = np.argsort(codes, kind="stable")
        idx, codes = idx[order], codes[order]
        starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
        ends = np.append(starts[1:], len(idx))
        times = self.data.time_values[idx]
        first = np.minimum.reduceat(times, starts)
        last = np.maximum.reduceat(times, starts)
        event_rows = self.data.event_rows
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            code = int(codes[s])
            name = self.data.event_names[code]
            rows = idx[s:e]
            self.index[(name, prop, violation)] = rows
            self.rows.append(
                {
                    "event": name,
                    "property": prop,
                    "violation": violation,
                    "rows": int(e - s),
                    "share": (e - s) / event_rows[code],
                    "first_seen": first[i],
                    "last_seen": last[i],
                    "detail": detail(name, rows) if callable(detail) else detail,
                    "sample_rows": [int(r) for r in rows[:_SAMPLES]],
                }
            )


def reference_validate(plan: TrackingPlan, log: Any) -> ValidationReport:
    """The report the previous validator gave (same rows, order, details)."""
    data = ReferenceLogData.of(log)
    codes = data.codes
    names = data.event_names
    n_codes = len(names)
    out = _Collector(data)

    planned = np.array([plan.has_event(name) for name in names] + [False], dtype=bool)
    # Index n_codes (the extra slot) stands for a null event name: never checked.
    safe_codes = np.where(codes < 0, n_codes, codes)
    unplanned_rows = ~planned[safe_codes] & (codes >= 0)
    planned_names = plan.event_names
    out.add(
        unplanned_rows,
        "unplanned_event",
        None,
        lambda name, rows: (
            "not in the plan;" + (did_you_mean(name, planned_names) or " no similar planned event")
        ),
    )

    specs_by_event: list[dict[str, PropertySpec]] = [
        plan.properties_of(name) if plan.has_event(name) else {} for name in names
    ]
    columns = data.property_names
    planned_props = {p for specs in specs_by_event for p in specs}
    for prop in list(columns) + sorted(planned_props - set(columns)):
        spec_of = [specs.get(prop) for specs in specs_by_event] + [None]
        on_event = np.array([s is not None for s in spec_of], dtype=bool)
        required = np.array([s is not None and s.required for s in spec_of], dtype=bool)
        if prop not in columns:
            if required.any():
                out.add(
                    required[safe_codes],
                    "missing_required_property",
                    prop,
                    "the log has no column of this name",
                )
            continue
        column = data.column(prop)
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        kind = column_kind(column.type)
        if kind == "float":
            valid &= ~pc.is_nan(column).fill_null(False).to_numpy(zero_copy_only=False)
        if required.any():
            out.add(
                required[safe_codes] & ~valid,
                "missing_required_property",
                prop,
                f"required {_first(spec_of).type} is null",
            )
        unknown = planned & ~on_event
        if unknown.any():
            mask = unknown[safe_codes] & valid
            if mask.any():
                out.add(
                    mask,
                    "unknown_property",
                    prop,
                    lambda name, rows, c=column: (
                        "not planned for this event; values: " + _values_text(c, rows)
                    ),
                )
        # One pass per distinct rule (usually one: the common or the event's own property).
        rules: dict[int, tuple[PropertySpec, np.ndarray]] = {}
        for code, spec in enumerate(spec_of):
            if spec is not None:
                lut = rules.setdefault(id(spec), (spec, np.zeros(n_codes + 1, dtype=bool)))[1]
                lut[code] = True
        for spec, events_lut in rules.values():
            _check_rule(out, data, prop, column, kind, valid, spec, events_lut[safe_codes])
    return ValidationReport(plan, data, cast(Any, out))  # same shape: rows, index, bad


def _check_rule(
    out: _Collector,
    data: LogData,
    prop: str,
    column: pa.Array,
    kind: str,
    valid: np.ndarray,
    spec: PropertySpec,
    on_rows: np.ndarray,
) -> None:
    plain = (kind, spec.type) in _EXACT
    if plain and spec.allowed is None and spec.min is None and spec.max is None:
        return  # the column's type is the planned one and no value rule: nothing can break
    rows = on_rows & valid
    if not rows.any():
        return
    values = _as_planned(column, kind, spec.type, valid)
    bad_type = rows & values.unreadable
    if bad_type.any():
        out.add(
            bad_type,
            "type_mismatch",
            prop,
            lambda name, r: (
                f"plan: {spec.type}; column: {column.type}; values: " + _values_text(column, r)
            ),
        )
    readable = rows & ~values.unreadable
    outside = np.zeros(len(rows), dtype=bool)
    rules = []
    if spec.allowed is not None:
        if spec.type == "string" and kind != "string":
            # Fixed with the rewrite: this raised Arrow's own error (text set, other column).
            inside = np.ones(len(rows), dtype=bool)
        elif spec.type == "string":
            inside = pc.is_in(column, value_set=pa.array(spec.allowed, pa.string()))
            inside = inside.fill_null(False).to_numpy(zero_copy_only=False)
        elif values.numbers is not None:
            inside = np.isin(values.numbers, np.array(spec.allowed, dtype=np.float64))
        else:
            inside = np.ones(len(rows), dtype=bool)
        outside |= ~inside
        shown = ", ".join(map(str, spec.allowed[:10]))
        rules.append(f"allowed: {shown}" + (", …" if len(spec.allowed) > 10 else ""))
    if (spec.min is not None or spec.max is not None) and values.numbers is not None:
        lo = _bound(spec.min, values.unit) if spec.min is not None else -np.inf
        hi = _bound(spec.max, values.unit) if spec.max is not None else np.inf
        outside |= (values.numbers < lo) | (values.numbers > hi)
        low = spec.min if spec.min is not None else "…"
        high = spec.max if spec.max is not None else "…"
        rules.append(f"range: {low} … {high}")
    mask = readable & outside
    if mask.any():
        rule = "; ".join(rules)
        out.add(
            mask,
            "value_not_allowed",
            prop,
            lambda name, r: f"{rule}; seen: " + _values_text(column, r),
        )
