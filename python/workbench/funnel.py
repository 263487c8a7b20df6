"""Funnels: ordered steps within a window, run over an :class:`~workbench.EventLog`.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({
...     "user_id": [1, 1, 1, 2, 2, 3],
...     "event": ["view", "cart", "pay", "view", "cart", "view"],
...     "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05", "2026-01-01 11:00",
...                             "2026-01-01 09:00", "2026-01-03 09:00", "2026-01-02 08:00"]),
... })
>>> result = wb.Funnel(["view", "cart", "pay"], window="1d").run(wb.EventLog(df))
>>> result.level_counts()
[0, 2, 0, 1]
>>> result.table[["step", "users", "conversion_from_first"]]
   step  users  conversion_from_first
0     1      3               1.000000
1     2      1               0.333333
2     3      1               0.333333

Semantics. Without product options a funnel is ClickHouse's ``windowFunnel``, exactly, with its
modes. The product options (``order``, ``exclusions``, ``hold``, ``session``, ``counting``,
optional steps and per-step windows) follow ``shared/spec/funnel-semantics.md``:

- A *chain* starts at a step-1 event; step k joins it if it happens no later than ``window``
  after the chain's step-1 event (and, with ``Step(within=...)``, no later than that after the
  chain's previous step). At one instant, steps are taken in step order. A user's result is the
  furthest step of their best chain (ties: the first chain to get there; its times are reported).
- ``order="strict"``: no other event of the user may fall strictly between two consecutive steps
  of a chain; a later clean attempt can still convert. ``order="any"``: level k means k
  distinct steps within one window opened by any of them.
- ``Step(optional=True)``: a chain may skip the step (never the first or last step).
- ``Exclusion(event, after=i, before=j)``: such an event strictly after a chain's latest step,
  while the chain has reached step i but not step j, inside the chain's window, voids the chain.
  A user whose best chain is voided is reported as excluded and not counted at any step.
- ``hold=[...]`` / ``session=True``: every step of a chain carries the same values of those
  properties (events with a missing value join no chain); strictness and exclusions are judged
  among events with the same values.
- ``counting="conversions"``: every attempt counts. An attempt starts at a step-1 event after
  the previous attempt completed, expired (window passed), was voided or (strict) broke off.
- Open windows: a unit whose best chain has not completed and whose window from step 1 extends
  past ``analysis_end`` (default: the log's last event) is *in progress*, not dropped.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core, _progress
from workbench._durations import parse_duration
from workbench._names import did_you_mean, listing
from workbench.exceptions import ColumnNotFoundError, FunnelDefinitionError, UnknownEventWarning
from workbench.log import EventLog
from workbench.predicates import Predicate
from workbench.result import FunnelResult

__all__ = ["Exclusion", "Funnel", "FunnelResult", "Step"]

MAX_STEPS = 32
Order = Literal["sequential", "strict", "any"]
Counting = Literal["users", "conversions"]
_CLICKHOUSE_MODES = ("strict_deduplication", "strict_order", "strict_increase", "allow_reentry")


def _event_tuple(event: str | Sequence[str], what: str) -> str | tuple[str, ...]:
    if isinstance(event, str):
        return event
    if isinstance(event, (list, tuple)):
        names = tuple(event)
        if names and all(isinstance(e, str) for e in names):
            return names
    raise FunnelDefinitionError(
        f"{what} is an event name or a list of alternative names; got {event!r}"
    )


@dataclass(frozen=True)
class Step:
    """One funnel step: an event name (or alternatives) and optional property conditions.

    ``optional=True`` lets a chain skip the step; ``within`` limits the time since the chain's
    previous step (on top of the funnel's window).

    >>> import workbench as wb
    >>> wb.Step(["add_to_cart", "quick_buy"], where=wb.col("price") > 10, label="Cart")
    Step(event=('add_to_cart', 'quick_buy'), where=(col('price') > 10), label='Cart')
    """

    event: str | tuple[str, ...]
    where: Predicate | None = None
    label: str | None = None
    optional: bool = False
    within: str | dt.timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", _event_tuple(self.event, "a step"))
        if self.where is not None and not isinstance(self.where, Predicate):
            raise FunnelDefinitionError(
                f"where= takes a condition such as wb.col('price') > 10; got {self.where!r}"
            )
        if self.within is not None:
            parse_duration(self.within, "step window")

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value in (("optional", self.optional), ("within", self.within))
            if value
        )
        return f"Step(event={self.event!r}, where={self.where!r}, label={self.label!r}{extra})"

    @property
    def events(self) -> list[str]:
        """The event names this step accepts."""
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def name(self) -> str:
        """The label, or the event names joined by ``|``."""
        return self.label or " | ".join(self.events)


@dataclass(frozen=True)
class Exclusion:
    """An event that voids a chain when it happens between step ``after`` and step ``before``
    (1-based; default: anywhere between step 1 and the last step).

    >>> import workbench as wb
    >>> wb.Exclusion("refund", after=2, before=3)
    Exclusion(event='refund', where=None, after=2, before=3)
    """

    event: str | tuple[str, ...]
    where: Predicate | None = None
    after: int = 1
    before: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", _event_tuple(self.event, "an exclusion"))
        if self.where is not None and not isinstance(self.where, Predicate):
            raise FunnelDefinitionError(f"where= takes a condition; got {self.where!r}")

    @property
    def events(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event)


def _as_step(value: str | Sequence[str] | Step) -> Step:
    if isinstance(value, Step):
        return value
    if isinstance(value, str):
        return Step(value)
    if isinstance(value, Sequence):
        return Step(tuple(value))
    raise FunnelDefinitionError(
        f"a step is an event name, a list of alternative names or a Step; got {value!r}"
    )


class Funnel:
    """Ordered steps a user must take within a window from the first step.

    Without product options this is ClickHouse's ``windowFunnel`` exactly, including its modes:

    - ``strict_deduplication``: a repeated step (other than step 1) ends the user's scan.
    - ``strict_order``: after the first step-1 event, any unrelated event or a step out of order
      ends the scan.
    - ``strict_increase``: a step joins a chain only if strictly later than the previous step.
    - ``allow_reentry`` (with ``strict_order``): out-of-order steps are skipped instead.

    The product options are described in the module documentation: ``order``, ``exclusions``,
    ``hold``, ``session``, ``counting``, ``analysis_end``, and ``Step(optional=, within=)``.

    Args:
        steps: 1 to 32 steps: event names, lists of alternative names, or :class:`Step`.
        window: ``"30m"``, ``"2h"``, ``"7d"``... or a timedelta; inclusive; zero is allowed.
        labels: display names by event name or by 1-based step number.

    Examples, one per option (``log`` is an :class:`~workbench.EventLog`)::

        >>> import workbench as wb
        >>> wb.Funnel(["view", "cart", "pay"], window="2h", strict_order=True)
        Funnel(['view', 'cart', 'pay'], window=0 days 02:00:00, strict_order)
        >>> refund = wb.Exclusion("refund", after=2, before=3)
        >>> wb.Funnel(["view", "cart", "pay"], order="strict", session=True, exclusions=[refund])
        ... # doctest: +NORMALIZE_WHITESPACE
        Funnel(['view', 'cart', 'pay'], window=1 days 00:00:00, order='strict', exclusions=1,
               session)
        >>> wb.Funnel(["search", "view", "cart"], order="any", window="30m")
        Funnel(['search', 'view', 'cart'], window=0 days 00:30:00, order='any')
        >>> wb.Funnel(["view", "cart", "pay"], hold="product_id")     # same product throughout
        Funnel(['view', 'cart', 'pay'], window=1 days 00:00:00, hold=['product_id'])
        >>> wb.Funnel(["view", "pay"], counting="conversions")       # every attempt counts
        Funnel(['view', 'pay'], window=1 days 00:00:00, counting='conversions')
        >>> coupon = wb.Step("apply_coupon", optional=True)   # may be skipped
        >>> pay = wb.Step("pay", within="10m")                # <= 10 min after the previous step
        >>> wb.Funnel(["cart", coupon, pay], analysis_end="2026-10-31")  # open windows
        Funnel(['cart', Step(event='apply_coupon', where=None, label=None, optional=True), \
Step(event='pay', where=None, label=None, within='10m')], window=1 days 00:00:00)
    """

    def __init__(
        self,
        steps: Sequence[str | Sequence[str] | Step],
        *,
        window: str | dt.timedelta = "1d",
        order: Order = "sequential",
        exclusions: Sequence[Exclusion] = (),
        hold: Sequence[str] | str | None = None,
        session: bool = False,
        counting: Counting = "users",
        analysis_end: Any = None,
        strict_deduplication: bool = False,
        strict_order: bool = False,
        strict_increase: bool = False,
        allow_reentry: bool = False,
        labels: Mapping[str | int, str] | None = None,
    ) -> None:
        if isinstance(steps, (str, Step)):
            raise FunnelDefinitionError("steps must be a list, e.g. ['view', 'cart', 'pay']")
        self.steps: list[Step] = [_as_step(s) for s in steps]
        if not self.steps:
            raise FunnelDefinitionError("a funnel needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise FunnelDefinitionError(
                f"a funnel has at most {MAX_STEPS} steps; this one has {len(self.steps)}"
            )
        if allow_reentry and not strict_order:
            raise FunnelDefinitionError("allow_reentry only applies together with strict_order")
        if order not in ("sequential", "strict", "any"):
            raise FunnelDefinitionError(
                f"order must be 'sequential', 'strict' or 'any'; got {order!r}"
            )
        if counting not in ("users", "conversions"):
            raise FunnelDefinitionError(
                f"counting must be 'users' or 'conversions'; got {counting!r}"
            )
        self.window = parse_duration(window)
        self.order: Order = order
        self.counting: Counting = counting
        self.exclusions = list(exclusions)
        for exclusion in self.exclusions:
            if not isinstance(exclusion, Exclusion):
                raise FunnelDefinitionError(
                    f"exclusions take wb.Exclusion(...) objects; got {exclusion!r}"
                )
        self.hold = [hold] if isinstance(hold, str) else list(hold or [])
        self.session = bool(session)
        self.analysis_end = analysis_end
        self.options = {
            "strict_deduplication": bool(strict_deduplication),
            "strict_order": bool(strict_order),
            "strict_increase": bool(strict_increase),
            "allow_reentry": bool(allow_reentry),
        }
        if any(self.options.values()) and self.uses_product_options:
            raise FunnelDefinitionError(
                "ClickHouse modes (strict_deduplication, strict_order, strict_increase, "
                "allow_reentry) cannot be combined with order=, exclusions, hold, session, "
                "counting='conversions', optional steps or per-step windows; use order='strict' "
                "for a strict funnel with the product options"
            )
        self.labels = dict(labels or {})

    @property
    def uses_product_options(self) -> bool:
        """Whether the funnel needs the product engine (beyond ClickHouse's windowFunnel)."""
        return (
            self.order != "sequential"
            or bool(self.exclusions)
            or bool(self.hold)
            or self.session
            or self.counting != "users"
            or any(s.optional or s.within is not None for s in self.steps)
        )

    @property
    def step_labels(self) -> list[str]:
        """What each step is called in tables and charts."""
        out = []
        for number, step in enumerate(self.steps, start=1):
            label = self.labels.get(number) or step.label
            if label is None and len(step.events) == 1:
                label = self.labels.get(step.events[0])
            out.append(label or step.name)
        return out

    def __repr__(self) -> str:
        names = [
            s.events[0] if len(s.events) == 1 and s == Step(s.events[0]) else s for s in self.steps
        ]
        flags = "".join(f", {k}" for k, v in self.options.items() if v)
        if self.order != "sequential":
            flags += f", order={self.order!r}"
        if self.exclusions:
            flags += f", exclusions={len(self.exclusions)}"
        if self.hold:
            flags += f", hold={self.hold!r}"
        if self.session:
            flags += ", session"
        if self.counting != "users":
            flags += f", counting={self.counting!r}"
        return f"Funnel({names!r}, window={self.window}{flags})"

    def run(
        self, log: EventLog, *, progress: bool | _progress.ProgressCallback | None = None
    ) -> FunnelResult:
        """Run on ``log``; the GIL is released and both cores are used.

        >>> result = funnel.run(log)  # doctest: +SKIP
        """
        if not isinstance(log, EventLog):
            raise TypeError(f"run() takes an EventLog; got {type(log).__name__}")
        event_codes, row_filters = _conditions(log, self.steps, "step")
        window = _engine_duration(log, self.window, "window")
        end = (
            log._time_bounds[1] if self.analysis_end is None else log.engine_time(self.analysis_end)
        )
        callback = _progress.resolve(progress, "Running funnel")
        try:
            if self.uses_product_options:
                output = self._run_analysis(log, event_codes, row_filters, window, end, callback)
            else:
                output = _core.run_funnel(
                    log._native,
                    event_codes,
                    row_filters,
                    window,
                    analysis_end=end,
                    progress=callback,
                    **self.options,
                )
        finally:
            _progress.finish(callback)
        return FunnelResult(self, log, output, window=window, analysis_end=end)

    def _run_analysis(
        self,
        log: EventLog,
        event_codes: list[list[int]],
        row_filters: list[tuple[int, pa.Array]],
        window: int,
        end: int,
        callback: Any,
    ) -> Any:
        n = len(self.steps)
        exclusion_codes, exclusion_filters = _conditions(log, self.exclusions, "exclusion")
        exclusions = []
        for index, (exclusion, codes) in enumerate(
            zip(self.exclusions, exclusion_codes, strict=True)
        ):
            before = n if exclusion.before is None else exclusion.before
            if not 1 <= exclusion.after < before <= n:
                raise FunnelDefinitionError(
                    f"exclusion {index + 1} ({exclusion.event!r}) must sit between two steps: "
                    f"1 <= after < before <= {n}; got after={exclusion.after}, before={before}"
                )
            exclusions.append((exclusion.after, before, codes))
        step_windows = [
            None if s.within is None else _engine_duration(log, parse_duration(s.within), "step")
            for s in self.steps
        ]
        return _core.run_analysis(
            log._native,
            event_codes,
            row_filters,
            window,
            order=self.order,
            counting=self.counting,
            step_windows=step_windows,
            optional=[s.optional for s in self.steps],
            exclusions=exclusions,
            exclusion_filters=exclusion_filters,
            hold_codes=self._hold_codes(log),
            analysis_end=end,
            progress=callback,
        )

    def _hold_codes(self, log: EventLog) -> pa.Array | None:
        columns = list(self.hold)
        if self.session:
            if log.session_column is None:
                raise FunnelDefinitionError(
                    "session=True needs a session column; name it with "
                    "EventLog(..., session='session_id')"
                )
            columns.append(log.session_column)
        if not columns:
            return None
        source = log.source
        for name in columns:
            if name not in source.column_names:
                raise ColumnNotFoundError(
                    f"cannot hold {name!r} constant: it is not a column of the log;"
                    f"{did_you_mean(name, log.property_names)} the properties are "
                    f"{listing(log.property_names)}"
                )
        key = tuple(columns)
        if key not in log._hold_codes:
            # The log never changes, so a re-run reuses the codes (coding 10M rows takes a while);
            # they are kept in the engine's row order.
            codes = _combined_codes(source, columns)
            log._hold_codes[key] = codes.take(log._native.source_rows())
        return log._hold_codes[key]


def _combined_codes(source: pa.Table, columns: list[str]) -> pa.Array:
    """One uint32 code per distinct combination of the columns' values; null where any is null."""
    valid = np.ones(source.num_rows, dtype=bool)
    combined: np.ndarray | None = None
    for name in columns:
        column = source.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        encoded = pc.dictionary_encode(column).combine_chunks()
        indices = encoded.indices
        valid &= indices.is_valid().to_numpy(zero_copy_only=False)
        values = indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        if combined is None:
            combined = values
        else:
            # Re-densify (hash-based, linear) so the combined code never overflows.
            combined = pd.factorize(combined * (len(encoded.dictionary) + 1) + values)[0]
    assert combined is not None
    return pa.array(combined.astype(np.uint32), mask=~valid)


def _conditions(
    log: EventLog, items: Sequence[Step | Exclusion], what: str
) -> tuple[list[list[int]], list[tuple[int, pa.Array]]]:
    """Event codes per item and, for items with conditions, one boolean per input row."""
    event_codes: list[list[int]] = []
    row_filters: list[tuple[int, pa.Array]] = []
    for index, item in enumerate(items):
        codes = []
        for name in item.events:
            code = log._native.event_code(name)
            if code is None:
                warnings.warn(
                    UnknownEventWarning(
                        f"{what} {index + 1} names event {name!r}, which the log never has;"
                        f"{did_you_mean(name, log.event_names) or ' no similar names'}"
                    ),
                    stacklevel=3,
                )
            else:
                codes.append(code)
        event_codes.append(codes)
        if item.where is not None:
            row_filters.append((index, item.where.mask(log.source).combine_chunks()))
    return event_codes, row_filters


def _engine_duration(log: EventLog, duration: Any, what: str) -> int:
    try:
        return log.time_units(duration)
    except ValueError as err:
        raise FunnelDefinitionError(f"{what}: {err}") from None
