"""The funnel on screen as Python source: what a builder hands back so a notebook keeps the
analysis as code (``builder.code``), written as an analyst would write it.

>>> pay = wb.Step("pay", where=(wb.col("price") > 10) & wb.col("platform").isin(["ios"]))
>>> print(funnel_code(wb.Funnel(["view", pay], window="2h", labels={"view": "Product page"})))
import workbench as wb
<BLANKLINE>
funnel = wb.Funnel(
    [
        "view",
        wb.Step("pay", where=(wb.col("price") > 10) & wb.col("platform").isin(["ios"])),
    ],
    window="2h",
    labels={"view": "Product page"},
)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pandas as pd

from workbench.exceptions import ArgumentError
from workbench.funnel import CLICKHOUSE_MODES, Exclusion, Funnel, Step
from workbench.predicates import AllOf, AnyOf, Compare, IsIn, IsNull, Not, Predicate

__all__ = ["funnel_code", "predicate_code", "value_code"]

_INDENT = "    "


def value_code(value: Any) -> str:
    """A Python literal for a value a funnel holds (text, number, bool, None, date, list).

    >>> value_code("it's"), value_code(2.5), value_code([1, "a"])
    ('"it\\'s"', '2.5', '[1, "a"]')
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        # JSON string syntax is valid Python and always double-quoted.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"float({str(value)!r})"
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_code(v) for v in value) + "]"
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return json.dumps(str(value))
    if hasattr(value, "item"):  # a numpy scalar
        return value_code(value.item())
    raise ArgumentError(f"cannot write {value!r} ({type(value).__name__}) as Python source")


def predicate_code(condition: Predicate) -> str:
    """A condition as ``wb.col(...)`` source.

    >>> predicate_code(~(wb.col("price") < 8) | wb.col("coupon").is_null())
    '~(wb.col("price") < 8) | wb.col("coupon").is_null()'
    """
    return _predicate(condition, top=True)


def _predicate(node: Predicate, top: bool = False) -> str:
    if isinstance(node, Compare):
        text = f"wb.col({value_code(node.column)}) {node.op} {value_code(node.value)}"
        return text if top else f"({text})"
    if isinstance(node, IsIn):
        word = "not_in" if node.negate else "isin"
        return f"wb.col({value_code(node.column)}).{word}({value_code(list(node.values))})"
    if isinstance(node, IsNull):
        word = "is_not_null" if node.negate else "is_null"
        return f"wb.col({value_code(node.column)}).{word}()"
    if isinstance(node, Not):
        return f"~{_predicate(node.inner)}"
    if isinstance(node, (AllOf, AnyOf)):
        symbol = "&" if isinstance(node, AllOf) else "|"
        # & and | read left to right, so a left operand of the same kind needs no brackets
        # (a & b & c) while a right one keeps them: the source rebuilds the same tree.
        left = _predicate(node.left, top=type(node.left) is type(node))
        text = f"{left} {symbol} {_predicate(node.right)}"
        return text if top else f"({text})"
    raise ArgumentError(f"cannot write the condition {node!r} as Python source")


def _events_code(event: str | tuple[str, ...]) -> str:
    return value_code(event if isinstance(event, str) else list(event))


def _step_code(step: Step) -> str:
    if step.is_plain:
        return value_code(step.events[0])
    parts = [_events_code(step.event)]
    if step.where is not None:
        parts.append(f"where={predicate_code(step.where)}")
    if step.label is not None:
        parts.append(f"label={value_code(step.label)}")
    if step.optional:
        parts.append("optional=True")
    if step.within is not None:
        parts.append(f"within={value_code(step.to_dict()['within'])}")  # type: ignore[index]
    return f"wb.Step({', '.join(parts)})"


def _exclusion_code(exclusion: Exclusion) -> str:
    parts = [_events_code(exclusion.event)]
    if exclusion.where is not None:
        parts.append(f"where={predicate_code(exclusion.where)}")
    if exclusion.after != 1:
        parts.append(f"after={exclusion.after}")
    if exclusion.before is not None:
        parts.append(f"before={exclusion.before}")
    return f"wb.Exclusion({', '.join(parts)})"


def funnel_code(funnel: Funnel, *, name: str = "funnel") -> str:
    """Source that rebuilds ``funnel`` (``exec`` it and ``name`` is an equal :class:`Funnel`):
    one step a line, then the options that differ from their defaults.

    >>> source = funnel_code(wb.Funnel(["view", "pay"], order="strict", session=True))
    >>> namespace = {}
    >>> exec(source, namespace)
    >>> namespace["funnel"] == wb.Funnel(["view", "pay"], order="strict", session=True)
    True
    """
    if not isinstance(funnel, Funnel):
        raise ArgumentError(f"funnel_code() takes a wb.Funnel; got {type(funnel).__name__}")
    if not name.isidentifier():
        raise ArgumentError(f"name must be a Python identifier; got {name!r}")
    data = funnel.to_dict()
    lines = ["import workbench as wb", "", f"{name} = wb.Funnel(", f"{_INDENT}["]
    lines += [f"{_INDENT * 2}{_step_code(step)}," for step in funnel.steps]
    lines.append(f"{_INDENT}],")
    options: list[str] = [f"window={value_code(data['window'])}"]
    if funnel.order != "sequential":
        options.append(f"order={value_code(funnel.order)}")
    if funnel.exclusions:
        options.append(
            "exclusions=[" + ", ".join(_exclusion_code(e) for e in funnel.exclusions) + "]"
        )
    if funnel.hold:
        held = funnel.hold
        options.append(f"hold={value_code(held[0] if len(held) == 1 else held)}")
    if funnel.session:
        options.append("session=True")
    if funnel.counting != "users":
        options.append(f"counting={value_code(funnel.counting)}")
    if funnel.analysis_end is not None:
        options.append(f"analysis_end={value_code(data['analysis_end'])}")
    options += [f"{mode}=True" for mode in CLICKHOUSE_MODES if funnel.options[mode]]
    if funnel.labels:
        pairs = ", ".join(
            f"{value_code(key)}: {value_code(label)}" for key, label in funnel.labels.items()
        )
        options.append(f"labels={{{pairs}}}")
    lines += [f"{_INDENT}{option}," for option in options]
    lines.append(")")
    return "\n".join(lines)
