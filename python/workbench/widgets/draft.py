"""A funnel being edited: plain data a builder's controls change one field at a time, read as a
:class:`~workbench.Funnel` (validated) whenever the screen needs a result.

A draft may be invalid while the analyst is typing — a filter without a value, a window that
reads "1 fortnight" — so it holds text as typed and says what is wrong only when it is read:
:meth:`FunnelDraft.to_funnel` raises a :class:`~workbench.exceptions.FunnelDefinitionError` that
names the step and the filter.

>>> draft = FunnelDraft()
>>> draft.add_step("view"); draft.add_step("cart"); draft.add_step("pay")
>>> draft.steps[1].filters.append(FilterDraft("price", ">", "6"))
>>> draft.window = "2h"
>>> catalog = EventCatalog(log)     # reads "6" as the number the price column holds
>>> draft.to_funnel(catalog)
Funnel(['view', Step(event='cart', where=(col('price') > 6), label=None), 'pay'], window='2h')
>>> FunnelDraft.from_funnel(draft.to_funnel(catalog)).to_funnel() == draft.to_funnel(catalog)
True
>>> draft.steps[1].filters[0].value = ""
>>> draft.to_funnel(catalog)
Traceback (most recent call last):
...
workbench.exceptions.FunnelDefinitionError: step 2, filter 1: price > needs a value
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench._durations import format_duration
from workbench.exceptions import FunnelDefinitionError
from workbench.funnel import CLICKHOUSE_MODES, Exclusion, Funnel, Step
from workbench.predicates import AllOf, Compare, IsIn, IsNull, Predicate
from workbench.widgets.catalog import EventCatalog

__all__ = ["FILTER_OPERATORS", "ExclusionDraft", "FilterDraft", "FunnelDraft", "StepDraft"]

FILTER_OPERATORS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in", "is null", "is not null")
"""The operators a filter row offers."""
_NO_VALUE = ("is null", "is not null")


@dataclass
class FilterDraft:
    """One condition on a property: ``column op value``. ``value`` is text as typed (read as
    the column's type when the funnel is built) or a value already typed; for ``in`` and
    ``not in`` a comma-separated text or a list."""

    column: str = ""
    op: str = "=="
    value: Any = ""

    def to_predicate(self, catalog: EventCatalog | None, where: str) -> Predicate:
        """The filter as a condition; ``where`` names it in errors (``step 2, filter 1``)."""
        if not self.column:
            raise FunnelDefinitionError(f"{where}: choose a property")
        if self.op not in FILTER_OPERATORS:
            raise FunnelDefinitionError(
                f"{where}: the operator is one of {', '.join(FILTER_OPERATORS)}; got {self.op!r}"
            )
        if self.op in _NO_VALUE:
            return IsNull(self.column, negate=self.op == "is not null")

        def read(value: Any) -> Any:
            if catalog is None or not isinstance(value, str):
                return value
            try:
                return catalog.parse_value(self.column, value)
            except (FunnelDefinitionError, KeyError) as error:
                raise FunnelDefinitionError(f"{where}: {_message(error)}") from None

        if self.op in ("in", "not in"):
            raw = self.value
            items = [v.strip() for v in raw.split(",")] if isinstance(raw, str) else list(raw)
            items = [v for v in items if not (isinstance(v, str) and not v)]
            if not items:
                raise FunnelDefinitionError(
                    f"{where}: {self.column} {self.op} needs values, separated by commas"
                )
            return IsIn(self.column, tuple(read(v) for v in items), negate=self.op == "not in")
        if isinstance(self.value, str) and not self.value.strip():
            raise FunnelDefinitionError(f"{where}: {self.column} {self.op} needs a value")
        return Compare(self.column, self.op, read(self.value))


def _message(error: Exception) -> str:
    return str(error.args[0]) if error.args else str(error)


def _filters(condition: Predicate | None) -> tuple[list[FilterDraft], Predicate | None]:
    """Filter rows for a condition that is an AND of simple conditions; otherwise none, and the
    condition kept as it is."""
    if condition is None:
        return [], None
    parts: list[Predicate] = []
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, AllOf):
            stack += [node.right, node.left]
        else:
            parts.append(node)
    rows = []
    for part in parts:
        if isinstance(part, Compare):
            rows.append(FilterDraft(part.column, part.op, part.value))
        elif isinstance(part, IsIn):
            rows.append(FilterDraft(part.column, "not in" if part.negate else "in", part.values))
        elif isinstance(part, IsNull):
            rows.append(FilterDraft(part.column, "is not null" if part.negate else "is null"))
        else:
            return [], condition
    return rows, None


def _checked_events(
    events: list[str], catalog: EventCatalog | None, where: str
) -> str | tuple[str, ...]:
    """A step's (or exclusion's) event names as a Step takes them, each checked against the
    log when a catalog is given."""
    names = [e for e in events if e]
    if not names:
        raise FunnelDefinitionError(f"{where}: choose an event")
    if catalog is not None:
        for name in names:
            catalog.check_event(name, f"{where}: the event")
    return names[0] if len(names) == 1 else tuple(names)


def _combined(parts: list[Predicate]) -> Predicate | None:
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = AllOf(combined, part)
    return combined


@dataclass
class StepDraft:
    """A step being edited: its event (the first name) and alternatives, filters, and options.

    ``condition`` holds a condition the filter rows cannot show (one with ``|`` or ``~``),
    imported from an existing funnel and kept as it is; ``number_label`` a label the funnel
    gave this step by its number."""

    events: list[str]
    filters: list[FilterDraft] = field(default_factory=list)
    optional: bool = False
    within: str = ""
    label: str = ""
    condition: Predicate | None = None
    number_label: str | None = None

    def to_step(self, catalog: EventCatalog | None, number: int) -> Step:
        where = f"step {number}"
        event = _checked_events(self.events, catalog, where)
        parts = [
            f.to_predicate(catalog, f"{where}, filter {i}")
            for i, f in enumerate(self.filters, start=1)
        ]
        if self.condition is not None:
            parts.insert(0, self.condition)
        try:
            return Step(
                event,
                where=_combined(parts),
                label=self.label or None,
                optional=self.optional,
                within=self.within.strip() or None,
            )
        except FunnelDefinitionError as error:
            raise FunnelDefinitionError(f"{where}: {_message(error)}") from None


@dataclass
class ExclusionDraft:
    """An exclusion being edited: events that void a chain between step ``after`` and step
    ``before`` (None: the last step)."""

    events: list[str]
    after: int = 1
    before: int | None = None
    condition: Predicate | None = None

    def to_exclusion(self, catalog: EventCatalog | None, number: int) -> Exclusion:
        return Exclusion(
            _checked_events(self.events, catalog, f"exclusion {number}"),
            where=self.condition,
            after=self.after,
            before=self.before,
        )


@dataclass
class FunnelDraft:
    """Everything a funnel builder shows, as plain data: the funnel's steps and options, and
    the breakdown the chart is split by (``breakdown``, ``attribution``)."""

    steps: list[StepDraft] = field(default_factory=list)
    window: str = "1d"
    order: str = "sequential"
    modes: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(CLICKHOUSE_MODES, False))
    exclusions: list[ExclusionDraft] = field(default_factory=list)
    hold: list[str] = field(default_factory=list)
    session: bool = False
    counting: str = "users"
    analysis_end: Any = None
    labels: dict[str, str] = field(default_factory=dict)
    breakdown: str | None = None
    attribution: str | int = "first_touch"

    # -- editing --------------------------------------------------------------------------------

    def add_step(self, event: str, label: str | None = None) -> None:
        """Append a step for ``event``; ``label`` (a display name) labels the event."""
        self.steps.append(StepDraft([event]))
        if label and label != event:
            self.labels.setdefault(event, label)

    def remove_step(self, index: int) -> None:
        """Remove the step at ``index`` (0-based); exclusions and labels follow the steps."""
        self._check_index(index)
        del self.steps[index]
        number = index + 1
        kept = []
        for exclusion in self.exclusions:
            before = exclusion.before
            if exclusion.after >= number:
                exclusion.after = max(exclusion.after - 1, 1)
            if before is not None and before >= number:
                exclusion.before = before - 1
            kept.append(exclusion)
        self.exclusions = kept
        self._drop_unused_labels()

    def move_step(self, index: int, by: int) -> None:
        """Move the step at ``index`` up (``by`` < 0) or down the funnel."""
        self._check_index(index)
        target = min(max(index + by, 0), len(self.steps) - 1)
        step = self.steps.pop(index)
        self.steps.insert(target, step)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            raise FunnelDefinitionError(
                f"no step {index + 1}: the funnel has {len(self.steps)} step(s)"
            )

    def _drop_unused_labels(self) -> None:
        used = {e for s in self.steps for e in s.events}
        self.labels = {k: v for k, v in self.labels.items() if k in used}

    # -- reading --------------------------------------------------------------------------------

    def to_funnel(self, catalog: EventCatalog | None = None) -> Funnel:
        """The draft as a validated :class:`Funnel` (event names checked against ``catalog``'s
        log when given); what is wrong is named by step and filter."""
        if not self.steps:
            raise FunnelDefinitionError("add a step: pick the event users start with")
        steps = [s.to_step(catalog, n) for n, s in enumerate(self.steps, start=1)]
        exclusions = [e.to_exclusion(catalog, n) for n, e in enumerate(self.exclusions, start=1)]
        labels: dict[str | int, str] = {}
        labels.update(self.labels)
        for number, step in enumerate(self.steps, start=1):
            if step.number_label:
                labels[number] = step.number_label
        return Funnel(
            steps,
            window=self.window.strip() if isinstance(self.window, str) else self.window,
            order=self.order,  # type: ignore[arg-type]
            exclusions=exclusions,
            hold=list(self.hold) or None,
            session=self.session,
            counting=self.counting,  # type: ignore[arg-type]
            analysis_end=self.analysis_end,
            labels=labels,
            **self.modes,
        )

    @classmethod
    def from_funnel(
        cls, funnel: Funnel, *, breakdown: str | None = None, attribution: str | int = "first_touch"
    ) -> FunnelDraft:
        """A draft showing ``funnel``: ``FunnelDraft.from_funnel(f).to_funnel() == f``."""
        if not isinstance(funnel, Funnel):
            raise FunnelDefinitionError(f"from_funnel takes a wb.Funnel; got {funnel!r}")
        steps = []
        for number, step in enumerate(funnel.steps, start=1):
            filters, condition = _filters(step.where)
            number_label = funnel.labels.get(number)
            steps.append(
                StepDraft(
                    step.events,
                    filters,
                    optional=step.optional,
                    within=format_duration(step.window) if step.window is not None else "",
                    label=step.label or "",
                    condition=condition,
                    number_label=number_label,
                )
            )
        return cls(
            steps=steps,
            window=format_duration(funnel.window),
            order=funnel.order,
            modes=dict(funnel.options),
            exclusions=[
                ExclusionDraft(e.events, e.after, e.before, e.where) for e in funnel.exclusions
            ],
            hold=list(funnel.hold),
            session=funnel.session,
            counting=funnel.counting,
            analysis_end=funnel.analysis_end,
            labels={k: v for k, v in funnel.labels.items() if isinstance(k, str)},
            breakdown=breakdown,
            attribution=attribution,
        )

    def breakdown_options(self) -> Mapping[str, Any]:
        """What :meth:`FunnelResult.breakdown` takes for the draft's breakdown."""
        return {"attribution": self.attribution}
