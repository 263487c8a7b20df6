"""What a funnel is: its steps, its window and its options, checked when it is built.

A funnel needs no log to be validated: an optional first step, an exclusion outside the steps or
a ClickHouse mode combined with a product option is refused here, at construction. The meaning of
every option is in ``docs/funnel-semantics.md``. A definition is plain data: it round-trips
through :meth:`Funnel.to_dict` / :meth:`Funnel.from_dict` and YAML or JSON files, so a team keeps
its funnels in git beside the tracking plan.

>>> import workbench as wb
>>> funnel = wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("price") > 0)], window="1d")
>>> funnel.to_dict()
{'steps': ['view', 'cart', {'event': 'pay', 'where': {'column': 'price', 'op': '>', 'value': 0}}], 'window': '1d'}
>>> wb.Funnel.from_dict(funnel.to_dict()) == funnel
True
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd

from workbench import _progress, _yaml
from workbench._durations import format_duration, parse_duration
from workbench._files import existing_path, writing
from workbench._names import did_you_mean, listing
from workbench.exceptions import ArgumentError, FunnelDefinitionError
from workbench.funnel.engine import MAX_EXCLUSIONS, MAX_STEPS, run_native
from workbench.funnel.result import FunnelResult
from workbench.log import EventLog
from workbench.predicates import Predicate

if TYPE_CHECKING:
    from workbench.funnel.outcomes import FunnelOutcomes

__all__ = ["CLICKHOUSE_MODES", "Counting", "Exclusion", "Funnel", "Order", "Step"]

Order = Literal["sequential", "strict", "any"]
Counting = Literal["users", "conversions"]
ORDERS: tuple[str, ...] = ("sequential", "strict", "any")
COUNTINGS: tuple[str, ...] = ("users", "conversions")
CLICKHOUSE_MODES: tuple[str, ...] = (
    "strict_deduplication",
    "strict_order",
    "strict_increase",
    "allow_reentry",
)
_FUNNEL_KEYS = (
    "steps",
    "window",
    "order",
    "exclusions",
    "hold",
    "session",
    "counting",
    "analysis_end",
    *CLICKHOUSE_MODES,
    "labels",
)


def _event_names(event: str | Sequence[str], what: str) -> str | tuple[str, ...]:
    if isinstance(event, str):
        if event:
            return event
    elif isinstance(event, (list, tuple)):
        names = tuple(event)
        if names and all(isinstance(e, str) and e for e in names):
            return names
    raise FunnelDefinitionError(
        f"{what} is an event name or a list of alternative names; got {event!r}"
    )


def _condition(where: Any, what: str) -> Predicate | None:
    if where is not None and not isinstance(where, Predicate):
        raise FunnelDefinitionError(
            f"where= of {what} takes a condition such as wb.col('price') > 10; got {where!r}"
        )
    return where


@dataclass(frozen=True)
class Step:
    """One funnel step: an event name (or alternatives) and optional property conditions.

    ``optional=True`` lets a chain skip the step (never the first or the last); ``within``
    limits the time since the chain's previous step (on top of the funnel's window).

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
        object.__setattr__(self, "event", _event_names(self.event, "a step"))
        _condition(self.where, f"step {self.event!r}")
        if self.label is not None and not isinstance(self.label, str):
            raise FunnelDefinitionError(f"a step's label is text; got {self.label!r}")
        if not isinstance(self.optional, bool):
            raise FunnelDefinitionError(f"optional= is True or False; got {self.optional!r}")
        if self.within is not None:
            parse_duration(self.within, "step window (within=)")

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value in (("optional", self.optional), ("within", self.within))
            if value
        )
        return f"Step(event={self.event!r}, where={self.where!r}, label={self.label!r}{extra})"

    @property
    def events(self) -> list[str]:
        """The event names this step accepts.

        >>> Step(["view", "quick_view"]).events
        ['view', 'quick_view']
        """
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def name(self) -> str:
        """The label, or the event names joined by ``|``.

        >>> Step(["view", "quick_view"]).name
        'view | quick_view'
        """
        return self.label or " | ".join(self.events)

    @property
    def window(self) -> pd.Timedelta | None:
        """``within`` as a duration (None without one).

        >>> Step("pay", within="10m").window
        Timedelta('0 days 00:10:00')
        """
        return None if self.within is None else parse_duration(self.within, "step window")

    @property
    def is_plain(self) -> bool:
        """A single event with no condition, label or option: written as its name alone."""
        return self == Step(self.events[0])

    def to_dict(self) -> str | dict[str, Any]:
        """The step as plain data: its event name when plain, else a mapping.

        >>> Step("pay", within="10m").to_dict()
        {'event': 'pay', 'within': '10m'}
        """
        if self.is_plain:
            return self.events[0]
        out: dict[str, Any] = {"event": self.event if isinstance(self.event, str) else self.events}
        if self.where is not None:
            out["where"] = self.where.to_dict()
        if self.label is not None:
            out["label"] = self.label
        if self.optional:
            out["optional"] = True
        if self.within is not None:
            window = self.window
            out["within"] = format_duration(window) if window is not None else None
        return out

    @classmethod
    def from_dict(cls, data: str | Sequence[str] | Mapping[str, Any], where: str = "step") -> Step:
        """Read a step written by :meth:`to_dict` (``where`` names it in errors).

        >>> Step.from_dict({"event": "pay", "within": "10m"})
        Step(event='pay', where=None, label=None, within='10m')
        """
        if isinstance(data, Mapping):
            _check_keys(data, ("event", "where", "label", "optional", "within"), where)
            if "event" not in data:
                raise FunnelDefinitionError(f"{where}: a step needs 'event'; got {dict(data)!r}")
            condition = data.get("where")
            return cls(
                _event_names(data["event"], where),
                where=None if condition is None else Predicate.from_dict(condition),
                label=data.get("label"),
                optional=data.get("optional", False),
                within=data.get("within"),
            )
        return _as_step(data)


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
        object.__setattr__(self, "event", _event_names(self.event, "an exclusion"))
        _condition(self.where, f"exclusion {self.event!r}")
        for name, value in (("after", self.after), ("before", self.before)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise FunnelDefinitionError(
                    f"exclusion {self.event!r}: {name}= is a step number; got {value!r}"
                )

    @property
    def events(self) -> list[str]:
        """The event names that void a chain.

        >>> Exclusion(["refund", "cancel"]).events
        ['refund', 'cancel']
        """
        return [self.event] if isinstance(self.event, str) else list(self.event)

    def bounds(self, n_steps: int) -> tuple[int, int]:
        """``(after, before)`` with the default ``before`` (the last step) filled in.

        >>> Exclusion("refund").bounds(4)
        (1, 4)
        """
        return self.after, n_steps if self.before is None else self.before

    def to_dict(self) -> dict[str, Any]:
        """The exclusion as plain data.

        >>> Exclusion("refund", after=2).to_dict()
        {'event': 'refund', 'after': 2}
        """
        out: dict[str, Any] = {"event": self.event if isinstance(self.event, str) else self.events}
        if self.where is not None:
            out["where"] = self.where.to_dict()
        if self.after != 1:
            out["after"] = self.after
        if self.before is not None:
            out["before"] = self.before
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "exclusion") -> Exclusion:
        """Read an exclusion written by :meth:`to_dict`.

        >>> Exclusion.from_dict({"event": "refund", "after": 2})
        Exclusion(event='refund', where=None, after=2, before=None)
        """
        if not isinstance(data, Mapping) or "event" not in data:
            raise FunnelDefinitionError(
                f"{where}: an exclusion is a mapping with 'event'; got {data!r}"
            )
        _check_keys(data, ("event", "where", "after", "before"), where)
        condition = data.get("where")
        return cls(
            _event_names(data["event"], where),
            where=None if condition is None else Predicate.from_dict(condition),
            after=data.get("after", 1),
            before=data.get("before"),
        )


def _as_step(value: Any) -> Step:
    if isinstance(value, Step):
        return value
    if isinstance(value, str):
        return Step(value)
    if isinstance(value, (list, tuple)):
        return Step(tuple(value))
    raise FunnelDefinitionError(
        f"a step is an event name, a list of alternative names or a Step; got {value!r}"
    )


def _check_keys(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise FunnelDefinitionError(
                f"{where}: unknown key {key!r};{did_you_mean(str(key), known)} "
                f"the keys are {listing(known)}"
            )


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise FunnelDefinitionError(f"{name}= is True or False; got {value!r}")
    return value


class Funnel:
    """Ordered steps a user must take within a window from the first step.

    Without product options this is ClickHouse's ``windowFunnel`` exactly, including its modes:

    - ``strict_deduplication``: a repeated step (other than step 1) ends the user's scan.
    - ``strict_order``: after the first step-1 event, any unrelated event or a step out of order
      ends the scan.
    - ``strict_increase``: a step joins a chain only if strictly later than the previous step.
    - ``allow_reentry`` (with ``strict_order``): out-of-order steps are skipped instead.

    The product options are ``order``, ``exclusions``, ``hold``, ``session``, ``counting``,
    ``analysis_end``, and ``Step(optional=, within=)``; ``docs/funnel-semantics.md`` says what
    each means.

    Args:
        steps: 1 to 32 steps: event names, lists of alternative names, or :class:`Step`.
        window: ``"30m"``, ``"2h"``, ``"7d"``... or a timedelta; inclusive; zero is allowed.
        labels: display names by event name or by 1-based step number.

    Examples, one per option::

        >>> import workbench as wb
        >>> wb.Funnel(["view", "cart", "pay"], window="2h", strict_order=True)
        Funnel(['view', 'cart', 'pay'], window='2h', strict_order)
        >>> refund = wb.Exclusion("refund", after=2, before=3)
        >>> wb.Funnel(["view", "cart", "pay"], order="strict", session=True, exclusions=[refund])
        Funnel(['view', 'cart', 'pay'], window='1d', order='strict', exclusions=1, session)
        >>> wb.Funnel(["search", "view", "cart"], order="any", window="30m")
        Funnel(['search', 'view', 'cart'], window='30m', order='any')
        >>> wb.Funnel(["view", "cart", "pay"], hold="product_id")     # same product throughout
        Funnel(['view', 'cart', 'pay'], window='1d', hold=['product_id'])
        >>> wb.Funnel(["view", "pay"], counting="conversions")       # every attempt counts
        Funnel(['view', 'pay'], window='1d', counting='conversions')
        >>> coupon = wb.Step("apply_coupon", optional=True)   # may be skipped
        >>> pay = wb.Step("pay", within="10m")                # <= 10 min after the previous step
        >>> wb.Funnel(["cart", coupon, pay], analysis_end="2026-10-31")  # open windows
        Funnel(['cart', Step(event='apply_coupon', where=None, label=None, optional=True), \
Step(event='pay', where=None, label=None, within='10m')], window='1d', analysis_end='2026-10-31')

    Mistakes are refused when the funnel is built, before any log is read::

        >>> wb.Funnel(["view", wb.Step("pay", optional=True)])
        Traceback (most recent call last):
        ...
        workbench.exceptions.FunnelDefinitionError: the last step (2) cannot be optional: it defines conversion
    """  # noqa: E501

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
        if isinstance(steps, (str, Step)) or not isinstance(steps, Sequence):
            raise FunnelDefinitionError(
                f"steps must be a list, e.g. ['view', 'cart', 'pay']; got {steps!r}"
            )
        self.steps: list[Step] = [_as_step(s) for s in steps]
        if not self.steps:
            raise FunnelDefinitionError("a funnel needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise FunnelDefinitionError(
                f"a funnel has at most {MAX_STEPS} steps; this one has {len(self.steps)}"
            )
        if order not in ORDERS:
            raise FunnelDefinitionError(
                f"order must be 'sequential', 'strict' or 'any'; got {order!r};"
                f"{did_you_mean(str(order), ORDERS)}"
            )
        if counting not in COUNTINGS:
            raise FunnelDefinitionError(
                f"counting must be 'users' or 'conversions'; got {counting!r};"
                f"{did_you_mean(str(counting), COUNTINGS)}"
            )
        self.window: pd.Timedelta = parse_duration(window)
        self.order: Order = order
        self.counting: Counting = counting
        if isinstance(exclusions, Exclusion):
            exclusions = [exclusions]
        if not isinstance(exclusions, (list, tuple)):
            raise FunnelDefinitionError(
                f"exclusions= takes a list of wb.Exclusion(...); got {exclusions!r}"
            )
        self.exclusions: list[Exclusion] = list(exclusions)
        if hold is not None and not isinstance(hold, (str, list, tuple)):
            raise FunnelDefinitionError(
                f"hold= takes a column name or a list of them, e.g. hold='product_id'; got {hold!r}"
            )
        self.hold: list[str] = [hold] if isinstance(hold, str) else list(hold or [])
        self.session = _flag(session, "session")
        self.analysis_end = _checked_end(analysis_end)
        self.options: dict[str, bool] = {
            name: _flag(value, name)
            for name, value in zip(
                CLICKHOUSE_MODES,
                (strict_deduplication, strict_order, strict_increase, allow_reentry),
                strict=True,
            )
        }
        if labels is not None and not isinstance(labels, Mapping):
            raise FunnelDefinitionError(
                "labels map event names or step numbers to display names, e.g. "
                f"{{'view': 'Product page', 2: 'Cart'}}; got {labels!r}"
            )
        self.labels: dict[str | int, str] = dict(labels or {})
        self._validate()

    def _validate(self) -> None:
        n = len(self.steps)
        if self.options["allow_reentry"] and not self.options["strict_order"]:
            raise FunnelDefinitionError("allow_reentry only applies together with strict_order")
        if any(self.options.values()) and self.uses_product_options:
            raise FunnelDefinitionError(
                "ClickHouse modes (strict_deduplication, strict_order, strict_increase, "
                "allow_reentry) cannot be combined with order=, exclusions, hold, session, "
                "counting='conversions', optional steps or per-step windows; use order='strict' "
                "for a strict funnel with the product options"
            )
        first = self.steps[0]
        if first.optional:
            raise FunnelDefinitionError("step 1 cannot be optional: every chain starts there")
        if first.within is not None:
            raise FunnelDefinitionError(
                "step 1 has no previous step, so it cannot have its own window (within=)"
            )
        if n > 1 and self.steps[-1].optional:
            raise FunnelDefinitionError(
                f"the last step ({n}) cannot be optional: it defines conversion"
            )
        if len(self.exclusions) > MAX_EXCLUSIONS:
            raise FunnelDefinitionError(
                f"a funnel has at most {MAX_EXCLUSIONS} exclusions; this one has "
                f"{len(self.exclusions)}"
            )
        for index, exclusion in enumerate(self.exclusions, start=1):
            if not isinstance(exclusion, Exclusion):
                raise FunnelDefinitionError(
                    f"exclusions take wb.Exclusion(...) objects; exclusion {index} is {exclusion!r}"
                )
            after, before = exclusion.bounds(n)
            if not 1 <= after < before <= n:
                raise FunnelDefinitionError(
                    f"exclusion {index} ({exclusion.event!r}) must sit between two steps: "
                    f"1 <= after < before <= {n}; got after={after}, before={before}"
                )
        if self.order == "any":
            if self.exclusions:
                raise FunnelDefinitionError(
                    "exclusions need ordered steps (order='sequential' or 'strict')"
                )
            if any(s.optional or s.within is not None for s in self.steps):
                raise FunnelDefinitionError(
                    "optional steps and per-step windows (within=) need ordered steps "
                    "(order='sequential' or 'strict')"
                )
        for name in self.hold:
            if not isinstance(name, str) or not name:
                raise FunnelDefinitionError(f"hold= takes column names; got {name!r}")
        if len(set(self.hold)) != len(self.hold):
            raise FunnelDefinitionError(f"hold= names a column twice: {self.hold!r}")
        for key, label in self.labels.items():
            number = isinstance(key, int) and not isinstance(key, bool)
            if not (isinstance(key, str) or number) or not isinstance(label, str):
                raise FunnelDefinitionError(
                    "labels map event names or step numbers to display names; got "
                    f"{key!r}: {label!r}"
                )
            if number and not 1 <= cast(int, key) <= n:
                raise FunnelDefinitionError(
                    f"labels: step {key} is not a step of this {n}-step funnel"
                )

    # -- what it is -----------------------------------------------------------------------------

    @property
    def uses_product_options(self) -> bool:
        """Whether the funnel needs the product engine (beyond ClickHouse's windowFunnel).

        >>> Funnel(["view", "pay"], order="strict").uses_product_options
        True
        """
        return (
            self.order != "sequential"
            or bool(self.exclusions)
            or bool(self.hold)
            or self.session
            or self.counting != "users"
            or any(s.optional or s.within is not None for s in self.steps)
        )

    @property
    def n_steps(self) -> int:
        """How many steps the funnel has.

        >>> Funnel(["view", "cart", "pay"]).n_steps
        3
        """
        return len(self.steps)

    @property
    def step_labels(self) -> list[str]:
        """What each step is called in tables and charts.

        >>> Funnel(["view", "cart"], labels={"view": "Product page", 2: "Cart"}).step_labels
        ['Product page', 'Cart']
        """
        out = []
        for number, step in enumerate(self.steps, start=1):
            label = self.labels.get(number) or step.label
            if label is None and len(step.events) == 1:
                label = self.labels.get(step.events[0])
            out.append(label or step.name)
        return out

    def __repr__(self) -> str:
        names = [s.events[0] if s.is_plain else s for s in self.steps]
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
        if self.analysis_end is not None:
            flags += f", analysis_end={self.analysis_end!r}"
        return f"Funnel({names!r}, window={format_duration(self.window)!r}{flags})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Funnel):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # compared by definition, not hashed

    # -- running --------------------------------------------------------------------------------

    def run(
        self, log: EventLog, *, progress: bool | _progress.ProgressCallback | None = None
    ) -> FunnelResult:
        """Run on ``log`` with the native engine; the GIL is released and both cores are used.

        >>> funnel.run(log).level_counts()
        [1, 2, 2, 1]
        """
        return FunnelResult(self, log, self.outcomes(log, progress=progress))

    def outcomes(
        self, log: EventLog, *, progress: bool | _progress.ProgressCallback | None = None
    ) -> FunnelOutcomes:
        """The per-unit outcome of a run, without the tables (see :class:`FunnelOutcomes`).

        >>> funnel.outcomes(log).levels.tolist()
        [3, 1, 2, 0, 2, 1]
        """
        if not isinstance(log, EventLog):
            raise ArgumentError(f"run() takes a wb.EventLog; got {type(log).__name__}")
        return run_native(self, log, progress=progress)

    # -- as data and files ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain data (JSON and YAML friendly); options at their defaults are
        left out, so a file lists only what was chosen.

        >>> Funnel(["view", "pay"], window="2h", hold="product_id").to_dict()
        {'steps': ['view', 'pay'], 'window': '2h', 'hold': ['product_id']}
        """
        out: dict[str, Any] = {
            "steps": [s.to_dict() for s in self.steps],
            "window": format_duration(self.window),
        }
        if self.order != "sequential":
            out["order"] = self.order
        if self.exclusions:
            out["exclusions"] = [e.to_dict() for e in self.exclusions]
        if self.hold:
            out["hold"] = list(self.hold)
        if self.session:
            out["session"] = True
        if self.counting != "users":
            out["counting"] = self.counting
        if self.analysis_end is not None:
            end = self.analysis_end
            out["analysis_end"] = end if isinstance(end, (str, int)) else str(pd.Timestamp(end))
        out.update({name: True for name, on in self.options.items() if on})
        if self.labels:
            out["labels"] = dict(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Funnel:
        """Build a funnel from :meth:`to_dict`'s data; unknown keys are refused by name.

        >>> Funnel.from_dict({"steps": ["view", "pay"], "window": "2h"})
        Funnel(['view', 'pay'], window='2h')
        """
        if not isinstance(data, Mapping):
            raise FunnelDefinitionError(f"a funnel is a mapping with 'steps'; got {data!r}")
        _check_keys(data, _FUNNEL_KEYS, "funnel")
        if "steps" not in data:
            raise FunnelDefinitionError("funnel: the definition needs 'steps'")
        steps = data["steps"]
        if not isinstance(steps, list):
            raise FunnelDefinitionError(f"funnel.steps: a list of steps; got {steps!r}")
        exclusions = data.get("exclusions", [])
        if not isinstance(exclusions, list):
            raise FunnelDefinitionError(f"funnel.exclusions: a list; got {exclusions!r}")
        options = {name: data.get(name, False) for name in CLICKHOUSE_MODES}
        return cls(
            [Step.from_dict(s, f"funnel.steps[{i}]") for i, s in enumerate(steps)],
            window=data.get("window", "1d"),
            order=data.get("order", "sequential"),
            exclusions=[
                Exclusion.from_dict(e, f"funnel.exclusions[{i}]") for i, e in enumerate(exclusions)
            ],
            hold=data.get("hold"),
            session=data.get("session", False),
            counting=data.get("counting", "users"),
            analysis_end=data.get("analysis_end"),
            labels=_labels_from_file(data.get("labels"), steps),
            **options,
        )

    def to_yaml(self) -> str:
        """The definition as YAML text.

        >>> print(Funnel(["view", "pay"], window="2h").to_yaml())
        steps:
        - view
        - pay
        window: 2h
        <BLANKLINE>
        """
        return _yaml.dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str | bytes, *, source: str = "<text>") -> Funnel:
        """Read a funnel from YAML (or JSON) text; errors name ``source`` and the line.

        >>> Funnel.from_yaml("steps: [view, pay]\\nwindow: 2h\\n")
        Funnel(['view', 'pay'], window='2h')
        """
        try:
            data = _yaml.load(text)
        except _yaml.UnsafeYamlError as err:
            where = f"{source}:{err.line}:{err.column}" if err.line else source
            raise FunnelDefinitionError(f"{where}: {err.message}") from None
        try:
            return cls.from_dict(cast(Mapping[str, Any], data))
        except FunnelDefinitionError as err:
            raise FunnelDefinitionError(f"{source}: {err}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the definition to ``path``: JSON for ``.json``, YAML otherwise.

        >>> Funnel(["view", "pay"]).save("checkout.yaml").name
        'checkout.yaml'
        """
        with writing(path, "funnel") as target:
            if target.suffix.lower() == ".json":
                text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
            else:
                text = self.to_yaml()
            target.write_text(text, encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Funnel:
        """Read a definition written by :meth:`save` (YAML or JSON).

        >>> Funnel.load(Funnel(["view", "pay"]).save("checkout.json"))
        Funnel(['view', 'pay'], window='1d')
        """
        source = existing_path(path, "funnel file")
        try:
            text = _yaml.read_file(source)
        except _yaml.UnsafeYamlError as err:
            where = f"{source}:{err.line}:{err.column}" if err.line else str(source)
            raise FunnelDefinitionError(f"{where}: {err.message}") from None
        return cls.from_yaml(text, source=str(source))


def _checked_end(value: Any) -> Any:
    """``analysis_end`` as given, once it is known to be a point in time (it is converted to
    the log's time unit and zone when the funnel runs)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value < 2**63:
            raise FunnelDefinitionError(
                f"analysis_end={value} is beyond the 64-bit integers a log's times are; pass a "
                "datetime, a date string, or an integer in the log's time unit"
            )
        return value
    if value is None:
        return value
    try:
        readable = pd.Timestamp(value) is not pd.NaT
    except (TypeError, ValueError, OverflowError):
        readable = False
    if not readable:
        raise FunnelDefinitionError(
            f"analysis_end={value!r} is not a point in time; pass a datetime, a date string "
            "such as '2026-10-31' or '2026-10-31 18:00', or an integer in the log's time unit"
        )
    return value


def _labels_from_file(labels: Any, steps: list[Any]) -> Any:
    """Labels as read from a file: JSON keeps step numbers as text ("2"), so a key made of
    digits that is no event of the funnel is the step number it spells."""
    if not isinstance(labels, Mapping):
        return labels
    events = {e for s in steps for e in _as_step_events(s)}
    return {
        int(k) if isinstance(k, str) and k.isdigit() and k not in events else k: v
        for k, v in labels.items()
    }


def _as_step_events(step: Any) -> list[str]:
    if isinstance(step, str):
        return [step]
    if isinstance(step, Mapping):
        step = step.get("event", [])
    return [e for e in (step if isinstance(step, (list, tuple)) else [step]) if isinstance(e, str)]
