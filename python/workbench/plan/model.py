"""The tracking plan as data: events, their properties, and the YAML file they live in.

A plan file is YAML (JSON works too, as YAML reads it), keyed by name so that a change touches
the lines of one event or property and nothing else::

    version: 1
    name: Shop
    languages: [en, zh]            # the first is the default for display names
    common_properties:             # carried by every event (SDK "super properties")
      platform: {type: string, required: true, allowed: [web, ios, android]}
    events:
      add_to_cart:
        display_name: {en: Add to cart, zh: 加入购物车}
        description: A product was put in the cart.
        owner: checkout-team
        category: purchase
        properties:
          product_id: {type: string, required: true}
          price: {type: float, required: true, min: 0}

Reading keeps the position of every key and value, so an error says
``plan.yaml:14:17: events.add_to_cart.properties.price.type: 'flaot' is not a property type``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from workbench import _yaml
from workbench._files import existing_path
from workbench._names import did_you_mean
from workbench.exceptions import PlanError

__all__ = ["PROPERTY_TYPES", "EventSpec", "PropertySpec", "PropertyType", "parse_plan"]

PropertyType = Literal["string", "integer", "float", "boolean", "timestamp"]
PROPERTY_TYPES: tuple[str, ...] = ("string", "integer", "float", "boolean", "timestamp")

_PLAN_KEYS = ("version", "name", "description", "languages", "common_properties", "events")
_EVENT_KEYS = ("display_name", "description", "owner", "category", "properties", "observed")
_PROPERTY_KEYS = (
    "type",
    "required",
    "allowed",
    "min",
    "max",
    "description",
    "display_name",
    "examples",
    "observed",
)

Scalar = str | int | float | bool


@dataclass(frozen=True)
class PropertySpec:
    """What a property must look like on the events that carry it.

    Attributes:
        name: the column name in the event log.
        type: one of ``string``, ``integer``, ``float``, ``boolean``, ``timestamp``.
        required: a null (or a missing column) on a row of the event is a violation.
        allowed: the only values allowed (strings or integers), or None for any.
        min, max: inclusive range for numbers (or timestamps), or None for open.
        description, display_name: for people; ``display_name`` maps language → text.
        examples: example values (filled in by :meth:`TrackingPlan.infer`).
        observed: what inference saw (rows, null_rate, distinct, min, max); not checked.

    Example:
        >>> PropertySpec("price", "float", required=True, min=0).describe()
        'float, required, ≥ 0'
    """

    name: str
    type: PropertyType
    required: bool = False
    allowed: tuple[Scalar, ...] | None = None
    min: float | pd.Timestamp | None = None
    max: float | pd.Timestamp | None = None
    description: str = ""
    display_name: Mapping[str, str] = field(default_factory=dict)
    examples: tuple[Any, ...] = ()
    observed: Mapping[str, Any] | None = None

    def describe(self) -> str:
        """A one-line summary of the rule: type, required, allowed values or range."""
        parts = [self.type, "required" if self.required else "optional"]
        if self.allowed is not None:
            shown = ", ".join(map(str, self.allowed[:8]))
            more = f", … ({len(self.allowed) - 8} more)" if len(self.allowed) > 8 else ""
            parts.append(f"one of {shown}{more}")
        if self.min is not None and self.max is not None:
            parts.append(f"{self.min} … {self.max}")
        elif self.min is not None:
            parts.append(f"≥ {self.min}")
        elif self.max is not None:
            parts.append(f"≤ {self.max}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.required:
            out["required"] = True
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.isoformat() if isinstance(value, pd.Timestamp) else value
        if self.description:
            out["description"] = self.description
        if self.display_name:
            out["display_name"] = _Flow(self.display_name)
        if self.examples:
            out["examples"] = [_plain(v) for v in self.examples]
        if self.observed:
            out["observed"] = {k: _plain(v) for k, v in self.observed.items()}
        return out


@dataclass(frozen=True)
class EventSpec:
    """One planned event: who owns it, what it means, and the properties it carries.

    ``properties`` holds the event's own properties only; the plan's common properties apply
    too (see :meth:`TrackingPlan.properties_of`).

    Example:
        >>> EventSpec("signup", display_name={"en": "Sign up"}).label("en")
        'Sign up'
    """

    name: str
    display_name: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    owner: str = ""
    category: str = ""
    properties: Mapping[str, PropertySpec] = field(default_factory=dict)
    observed: Mapping[str, Any] | None = None

    def label(self, language: str | None = None) -> str:
        """The display name in ``language`` (or the first one given), else the event name."""
        if language is not None and language in self.display_name:
            return self.display_name[language]
        if language is None and self.display_name:
            return next(iter(self.display_name.values()))
        return self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.display_name:
            out["display_name"] = _Flow(self.display_name)
        for key in ("description", "owner", "category"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.properties:
            out["properties"] = {name: p.to_dict() for name, p in self.properties.items()}
        if self.observed:
            out["observed"] = {k: _plain(v) for k, v in self.observed.items()}
        return out


class _Flow(dict):
    """A small mapping written on one line (``{en: Paid, zh: 支付成功}``)."""


def _plain(value: Any) -> Any:
    """A value YAML can write without tags (numpy scalars, timestamps)."""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- reading: YAML with positions -----------------------------------------------------------------

Path_ = tuple[str | int, ...]


@dataclass
class Marks:
    """Where each key and value of the parsed document sits (1-based line, column)."""

    file: str | None = None
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def error(self, message: str, path: Path_, *, at_key: bool = False) -> PlanError:
        spot = (
            (self.keys if at_key else self.values).get(path)
            or self.values.get(path)
            or self.keys.get(path)
        )
        dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path)
        dotted = dotted.replace(".[", "[")
        return PlanError(
            message,
            file=self.file,
            line=spot[0] if spot else None,
            column=spot[1] if spot else None,
            field=dotted or None,
        )


def read_yaml(text: str | bytes, file: str | None) -> tuple[Any, Marks]:
    """Parse YAML text into Python data plus the position of every key and value. The text is
    untrusted (:mod:`workbench._yaml`): aliases, deep nesting and oversized text are refused."""
    marks = Marks(file=file)
    try:
        node = _yaml.compose(text)
        if node is None:
            raise PlanError("the plan file is empty", file=file, line=1)
        data = _build(node, (), marks, _yaml.Values())
    except _yaml.UnsafeYamlError as err:
        raise PlanError(err.message, file=file, line=err.line, column=err.column) from None
    return data, marks


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(node: yaml.Node, path: Path_, marks: Marks, values: _yaml.Values) -> Any:
    marks.values[path] = _position(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = values.of(key_node)
            if not isinstance(key, (str, int, float, bool)):
                raise marks.error(f"a key must be a name, got {key!r}", path)
            key = str(key) if not isinstance(key, str) else key
            child = (*path, key)
            if key in out:
                first = marks.keys.get(child)
                raise PlanError(
                    f"{key!r} appears twice (first on line {first[0] if first else '?'})",
                    file=marks.file,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    field=".".join(map(str, child)),
                )
            marks.keys[child] = _position(key_node)
            out[key] = _build(value_node, child, marks, values)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), marks, values) for i, item in enumerate(node.value)]
    return values.of(node)


# -- checking the document ------------------------------------------------------------------------


@dataclass
class ParsedPlan:
    name: str
    description: str
    languages: tuple[str, ...]
    common_properties: dict[str, PropertySpec]
    events: dict[str, EventSpec]


def parse_plan(data: Any, marks: Marks) -> ParsedPlan:
    """Check a plan document (as Python data) and build the specs; raise :class:`PlanError`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise marks.error(f"a plan is a mapping with 'events' in it, got {type(data).__name__}", ())
    _check_keys(data, _PLAN_KEYS, (), marks)
    version = data.get("version", 1)
    if version != 1:
        raise marks.error(f"this workbench reads plan version 1, got {version!r}", ("version",))
    name = _text(data, "name", (), marks)
    description = _text(data, "description", (), marks)
    languages_raw = data.get("languages") or []
    if isinstance(languages_raw, str):
        languages_raw = [languages_raw]
    if not isinstance(languages_raw, list) or not all(isinstance(x, str) for x in languages_raw):
        raise marks.error("languages is a list of language codes, e.g. [en, zh]", ("languages",))
    languages = tuple(languages_raw)
    common_raw = data.get("common_properties") or {}
    if not isinstance(common_raw, Mapping):
        raise marks.error(
            "common_properties maps property names to their rules", ("common_properties",)
        )
    common = {
        str(pname): _property(str(pname), spec, ("common_properties", pname), marks, languages)
        for pname, spec in common_raw.items()
    }
    events_raw = data.get("events") or {}
    if not isinstance(events_raw, Mapping):
        raise marks.error(
            "events maps event names to their definitions (a list is not accepted: names must be "
            "keys so that a diff touches one event)",
            ("events",),
        )
    events = {}
    for ename, spec in events_raw.items():
        events[ename] = _event(ename, spec, ("events", ename), marks, languages)
    return ParsedPlan(name or "", description or "", languages, common, events)


def _check_keys(data: Mapping, known: tuple[str, ...], path: Path_, marks: Marks) -> None:
    for key in data:
        if key not in known:
            raise marks.error(
                f"unknown field {key!r};{did_you_mean(str(key), known) or ''} the fields are "
                + ", ".join(known),
                (*path, key),
                at_key=True,
            )


def _text(data: Mapping, key: str, path: Path_, marks: Marks) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise marks.error(f"{key} is text, got a {type(value).__name__}", (*path, key))
    return str(value)


def _display_name(
    value: Any, path: Path_, marks: Marks, languages: tuple[str, ...]
) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {languages[0] if languages else "en": value}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise marks.error(
            "display_name is text or a mapping of language to text, e.g. {en: Pay, zh: 支付}", path
        )
    if languages:
        for lang in value:
            if lang not in languages:
                raise marks.error(
                    f"language {lang!r} is not in the plan's languages ({', '.join(languages)})",
                    (*path, lang),
                    at_key=True,
                )
    return dict(value)


def _event(
    name: Any, spec: Any, path: Path_, marks: Marks, languages: tuple[str, ...]
) -> EventSpec:
    if not isinstance(name, str) or not name:
        raise marks.error("an event name must be non-empty text", path, at_key=True)
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise marks.error(
            f"an event is a mapping (display_name, description, owner, category, properties); "
            f"got {spec!r}",
            path,
        )
    _check_keys(spec, _EVENT_KEYS, path, marks)
    props_raw = spec.get("properties") or {}
    if not isinstance(props_raw, Mapping):
        raise marks.error("properties maps property names to their rules", (*path, "properties"))
    props = {
        str(p): _property(str(p), v, (*path, "properties", p), marks, languages)
        for p, v in props_raw.items()
    }
    observed = spec.get("observed")
    if observed is not None and not isinstance(observed, Mapping):
        raise marks.error(
            "observed is a mapping written by TrackingPlan.infer", (*path, "observed")
        )
    return EventSpec(
        name=name,
        display_name=_display_name(
            spec.get("display_name"), (*path, "display_name"), marks, languages
        ),
        description=_text(spec, "description", path, marks),
        owner=_text(spec, "owner", path, marks),
        category=_text(spec, "category", path, marks),
        properties=props,
        observed=dict(observed) if observed else None,
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _property(
    name: str, spec: Any, path: Path_, marks: Marks, languages: tuple[str, ...]
) -> PropertySpec:
    if isinstance(spec, str):  # shorthand: `price: float`
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise marks.error(
            f"a property is a type name or a mapping with at least 'type'; got {spec!r}", path
        )
    _check_keys(spec, _PROPERTY_KEYS, path, marks)
    if "type" not in spec:
        raise marks.error(
            "a property needs a type: one of " + ", ".join(PROPERTY_TYPES), path, at_key=True
        )
    ptype = spec["type"]
    if ptype not in PROPERTY_TYPES:
        hint = did_you_mean(str(ptype), PROPERTY_TYPES)
        raise marks.error(
            f"{ptype!r} is not a property type;{hint or ''} use one of "
            + ", ".join(PROPERTY_TYPES),
            (*path, "type"),
        )
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise marks.error(f"required is true or false, got {required!r}", (*path, "required"))
    allowed = spec.get("allowed")
    if allowed is not None:
        if not isinstance(allowed, list) or not allowed:
            raise marks.error("allowed is a non-empty list of values", (*path, "allowed"))
        check = {
            "string": lambda v: isinstance(v, str),
            "integer": _is_int,
            "float": _is_number,
            "boolean": lambda v: isinstance(v, bool),
        }.get(ptype)
        if check is None:
            raise marks.error(
                f"allowed values are not supported for {ptype} properties; use min and max",
                (*path, "allowed"),
            )
        for i, value in enumerate(allowed):
            if not check(value):
                raise marks.error(
                    f"{value!r} is not a {ptype}; every allowed value must be one",
                    (*path, "allowed", i),
                )
        allowed = tuple(allowed)
    bounds: dict[str, Any] = {}
    for key in ("min", "max"):
        value = spec.get(key)
        if value is None:
            bounds[key] = None
        elif ptype in ("integer", "float"):
            if not _is_number(value):
                raise marks.error(f"{key} must be a number, got {value!r}", (*path, key))
            bounds[key] = value
        elif ptype == "timestamp":
            try:
                stamp = pd.Timestamp(value)
            except (ValueError, TypeError):
                raise marks.error(
                    f"{key} must be a date or time like 2026-09-01, got {value!r}", (*path, key)
                ) from None
            bounds[key] = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        else:
            raise marks.error(f"{key} applies to numbers and timestamps, not {ptype}", (*path, key))
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        raise marks.error(
            f"min ({bounds['min']}) is greater than max ({bounds['max']})", (*path, "min")
        )
    examples = spec.get("examples") or []
    if not isinstance(examples, list):
        examples = [examples]
    observed = spec.get("observed")
    if observed is not None and not isinstance(observed, Mapping):
        raise marks.error(
            "observed is a mapping written by TrackingPlan.infer", (*path, "observed")
        )
    return PropertySpec(
        name=name,
        type=ptype,
        required=required,
        allowed=allowed,
        min=bounds["min"],
        max=bounds["max"],
        description=_text(spec, "description", path, marks),
        display_name=_display_name(
            spec.get("display_name"), (*path, "display_name"), marks, languages
        ),
        examples=tuple(examples),
        observed=dict(observed) if observed else None,
    )


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Plan data as block-style YAML, keys in the plan's order, text as written (UTF-8)."""

    class _Dumper(_yaml.Dumper):
        pass

    def _flow_list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
        flow = all(isinstance(v, (str, int, float, bool)) or v is None for v in value)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)

    def _flow_dict(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
        return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)

    _Dumper.add_representer(list, _flow_list)
    _Dumper.add_representer(_Flow, _flow_dict)
    return _yaml.dump(
        dict(data),
        dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )


def plan_file_text(path: str | Path) -> str:
    """The text of a plan file; bytes that are not UTF-8 text, NUL bytes or a file too large to
    be a plan are refused with the file, line and column."""
    found = existing_path(path, "tracking plan")
    try:
        return _yaml.read_file(found)
    except _yaml.UnsafeYamlError as err:
        raise PlanError(err.message, file=found, line=err.line, column=err.column) from None
