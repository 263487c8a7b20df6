"""``TrackingPlan``: the event dictionary a team agrees on, and the checks that hold data to it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench._files import writing
from workbench._names import did_you_mean
from workbench.exceptions import PlanError
from workbench.plan.model import (
    EventSpec,
    Marks,
    PropertySpec,
    dump_yaml,
    parse_plan,
    plan_file_text,
    read_yaml,
)

if TYPE_CHECKING:
    from workbench.plan.coverage import CoverageReport
    from workbench.plan.validate import ValidationReport

__all__ = ["TrackingPlan"]


class TrackingPlan:
    """Which events exist, what they mean, who owns them, and the properties each must carry.

    Load one from a YAML (or JSON) file, draft one from data with :meth:`infer`, check a log
    with :meth:`validate`, and label funnels and charts with :meth:`display_names`.

    Example:
        >>> from workbench.plan import TrackingPlan
        >>> plan = TrackingPlan.from_dict({
        ...     "languages": ["en", "zh"],
        ...     "events": {"pay_success": {"display_name": {"en": "Paid", "zh": "支付成功"},
        ...                "properties": {"amount": {"type": "float", "required": True}}}},
        ... })
        >>> plan.display_names("zh")
        {'pay_success': '支付成功'}
    """

    def __init__(
        self,
        events: Mapping[str, EventSpec] | None = None,
        *,
        common_properties: Mapping[str, PropertySpec] | None = None,
        name: str = "",
        description: str = "",
        languages: tuple[str, ...] | list[str] = (),
        path: Path | None = None,
    ) -> None:
        self.events: dict[str, EventSpec] = dict(events or {})
        self.common_properties: dict[str, PropertySpec] = dict(common_properties or {})
        self.name = name
        self.description = description
        self.languages: tuple[str, ...] = tuple(languages)
        self.path = path

    # -- reading and writing ----------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> TrackingPlan:
        """Read a plan file; a mistake raises :class:`PlanError` naming file, line and field.

        Example:
            >>> TrackingPlan.load(plan.save("tracking_plan.yaml")) == plan
            True
        """
        path = Path(path)
        data, marks = read_yaml(plan_file_text(path), str(path))
        return cls._from_parsed(data, marks, path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackingPlan:
        """Build a plan from the same structure as the file (``events``, ``common_properties``...).

        Example:
            >>> TrackingPlan.from_dict({"events": {"signup": {}}}).event_names
            ['signup']
        """
        return cls._from_parsed(data, Marks(), None)

    @classmethod
    def from_yaml(cls, text: str | bytes) -> TrackingPlan:
        """Build a plan from YAML text (or UTF-8 bytes); errors give the line in that text."""
        data, marks = read_yaml(text, None)
        return cls._from_parsed(data, marks, None)

    @classmethod
    def _from_parsed(cls, data: Any, marks: Marks, path: Path | None) -> TrackingPlan:
        parsed = parse_plan(data, marks)
        return cls(
            parsed.events,
            common_properties=parsed.common_properties,
            name=parsed.name,
            description=parsed.description,
            languages=parsed.languages,
            path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, in file order (what :meth:`save` writes)."""
        out: dict[str, Any] = {"version": 1}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.languages:
            out["languages"] = list(self.languages)
        if self.common_properties:
            out["common_properties"] = {n: p.to_dict() for n, p in self.common_properties.items()}
        out["events"] = {n: e.to_dict() or None for n, e in self.events.items()}
        return out

    def to_yaml(self) -> str:
        """The plan as YAML text, one key per line so that diffs stay small."""
        return dump_yaml(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the plan as YAML (UTF-8); returns the path.

        Example:
            >>> TrackingPlan.from_dict({"events": {"signup": {}}}).save("plan.yaml").name
            'plan.yaml'
        """
        text = self.to_yaml()
        with writing(path, "tracking plan") as target:
            target.write_text(text, encoding="utf-8")
        return target

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrackingPlan) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- looking things up ------------------------------------------------------------------------

    @property
    def event_names(self) -> list[str]:
        """Planned event names, in file order."""
        return list(self.events)

    def has_event(self, name: str) -> bool:
        return name in self.events

    def event(self, name: str) -> EventSpec:
        """The spec of a planned event; an unknown name gets a :class:`PlanError` that suggests
        close names."""
        try:
            return self.events[name]
        except KeyError:
            raise PlanError(
                f"{name!r} is not in the plan;{did_you_mean(name, self.events) or ''}"
            ) from None

    def properties_of(self, name: str) -> dict[str, PropertySpec]:
        """All properties an event must follow: the common ones, then its own (which win)."""
        return {**self.common_properties, **self.event(name).properties}

    def display_names(self, language: str | None = None) -> dict[str, str]:
        """Event name → display name in ``language`` (default: the plan's first language).

        Events without a name in that language keep their event name. Pass the result as
        ``Funnel(labels=...)``.

        Example:
            >>> plan = TrackingPlan.from_dict({"languages": ["en"], "events": {
            ...     "add_to_cart": {"display_name": "Add to cart"}, "pay": {}}})
            >>> plan.display_names()
            {'add_to_cart': 'Add to cart', 'pay': 'pay'}
        """
        if language is None and self.languages:
            language = self.languages[0]
        if language is not None and self.languages and language not in self.languages:
            raise PlanError(
                f"language {language!r} is not in the plan; it has {', '.join(self.languages)}"
            )
        return {name: spec.label(language) for name, spec in self.events.items()}

    def property_display_names(self, language: str | None = None) -> dict[str, str]:
        """Property name → display name (common properties and every event's own)."""
        if language is None and self.languages:
            language = self.languages[0]
        out: dict[str, str] = {}
        specs = list(self.common_properties.values()) + [
            p for e in self.events.values() for p in e.properties.values()
        ]
        for spec in specs:
            if spec.name in out:
                continue
            names = spec.display_name
            if language is not None and language in names:
                out[spec.name] = names[language]
            elif language is None and names:
                out[spec.name] = next(iter(names.values()))
        return out

    def to_frame(self, language: str | None = None) -> pd.DataFrame:
        """One row per (event, property): the plan as a table to read or filter.

        Example:
            >>> TrackingPlan.from_dict({"events": {"pay": {"properties": {"amount": "float"}}}}
            ...     ).to_frame()[["event", "property", "rule"]]
              event property             rule
            0   pay   amount  float, optional
        """
        labels = self.display_names(language) if self.events else {}
        rows = []
        for name, spec in self.events.items():
            props = self.properties_of(name)
            base = {
                "event": name,
                "display_name": labels.get(name, name),
                "category": spec.category,
                "owner": spec.owner,
            }
            if not props:
                rows.append(
                    {
                        **base,
                        "property": None,
                        "common": False,
                        "rule": None,
                        "description": spec.description,
                    }
                )
            for pname, p in props.items():
                rows.append(
                    {
                        **base,
                        "property": pname,
                        "common": pname not in spec.properties,
                        "rule": p.describe(),
                        "description": p.description,
                    }
                )
        return pd.DataFrame(
            rows,
            columns=[
                "event",
                "display_name",
                "category",
                "owner",
                "property",
                "common",
                "rule",
                "description",
            ],
        )

    # -- working with data ------------------------------------------------------------------------

    @classmethod
    def infer(cls, log: Any, *, max_allowed: int = 12, name: str = "") -> TrackingPlan:
        """Draft a plan from what a log holds: events, properties, types, null rates, examples.

        A property seen on every event becomes a common property. A property is marked required
        when it was never null; strings with at most ``max_allowed`` distinct values get those
        values as ``allowed``. What was observed is kept under ``observed`` for the reviewer.
        Columns of lists or structs are left out: a plan has no type for them.

        Example:
            >>> draft = TrackingPlan.infer(log)
            >>> draft.event_names
            ['view', 'cart', 'pay', 'search']
            >>> draft.save("tracking_plan.yaml").exists()  # then review, edit and commit
            True
        """
        from workbench.plan.infer import infer

        return infer(log, max_allowed=max_allowed, name=name)

    def validate(self, log: Any) -> ValidationReport:
        """Check every row of ``log`` (an EventLog or a table) against the plan.

        Violations: ``unplanned_event``, ``missing_required_property``, ``type_mismatch``,
        ``value_not_allowed``, ``unknown_property`` — counted per event and property, with the
        share of the event's rows, first and last time seen and sample row numbers.

        Example:
            >>> report = plan.validate(log)
            >>> report.ok, report.table["violation"].astype(str).tolist()
            (False, ['unknown_property', 'unplanned_event', 'missing_required_property'])
        """
        from workbench.plan.validate import validate

        return validate(self, log)

    def coverage(self, log: Any, report: ValidationReport | None = None) -> CoverageReport:
        """Per planned event: rows seen and the share that breaks the plan; events never seen.

        Example:
            >>> plan.coverage(log).never_seen
            ['refund']
        """
        from workbench.plan.coverage import coverage

        return coverage(self, log, report)

    def funnel_coverage(
        self, funnel: Any, log: Any, report: ValidationReport | None = None
    ) -> pd.DataFrame:
        """Per funnel step: the share of the step's rows that break the plan, and the main reason.

        Put it beside a funnel result with :func:`with_coverage`.

        Example:
            >>> cov = plan.funnel_coverage(funnel, log)
            >>> cov[["step", "rows", "violating_rows", "top_violation"]]
               step  rows  violating_rows                          top_violation
            0     1     5               1  view.price: missing_required_property
            1     2     4               0                                    NaN
            2     3     1               1            pay.price: unknown_property
            >>> wb.with_coverage(result, cov)[["step", "users", "plan_violation_share"]]
               step  users  plan_violation_share
            0     1      5                   0.2
            1     2      3                   0.0
            2     3      1                   1.0
        """
        from workbench.plan.coverage import funnel_coverage

        return funnel_coverage(self, funnel, log, report)

    # -- display ----------------------------------------------------------------------------------

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        source = f" from {self.path}" if self.path else ""
        return (
            f"TrackingPlan{name}({len(self.events)} events, {len(self.common_properties)} common "
            f"properties{source})"
        )

    def _repr_html_(self) -> str:
        title = html.escape(repr(self))
        return f"<div><strong>{title}</strong>{self.to_frame().to_html(index=False)}</div>"
