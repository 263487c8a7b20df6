"""Tag picks as a selection expression: what :class:`~workbench.AudienceBuilder` writes when
tags are picked by value and combined with AND/OR/NOT, in the grammar of
:mod:`workbench.audience.selection` (so the expression reads back as the same audience).

>>> tag_groups(["gender:F", "gender:M", "age:25-34", "vip"])
{'gender': ['gender:F', 'gender:M'], 'age': ['age:25-34'], 'tags': ['vip']}
>>> combine([clause(["gender:F"]), clause(["age:25-34", "age:35+"]), clause(["vip"], True)], "and")
'gender:F & (age:25-34 | age:35+) & ~vip'
>>> quote("city:New York")
'"city:New York"'
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.audience.selection import tokenize
from workbench.exceptions import ArgumentError, AudienceError

__all__ = ["OPERATORS", "clause", "combine", "quote", "tag_groups"]

OPERATORS = {"and": " & ", "or": " | "}
UNGROUPED = "tags"
"""The group of tags whose name has no ``column:`` prefix (behaviours, segments)."""


def quote(name: str) -> str:
    """A tag name as the selection grammar reads it: bare when it tokenizes as one name, else in
    double quotes with ``\\`` escaping."""
    try:
        tokens = tokenize(name)
    except AudienceError:
        tokens = []
    if len(tokens) == 2 and tokens[0].kind == "name" and tokens[0].text == name:
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def tag_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """Tag names grouped by their ``column:`` prefix, in store order (others under ``tags``)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        prefix, colon, _ = name.partition(":")
        groups.setdefault(prefix if colon and prefix else UNGROUPED, []).append(name)
    return groups


def clause(tags: Sequence[str], negate: bool = False) -> str:
    """Any of ``tags`` (OR), or with ``negate`` none of them.

    >>> clause(["a", "b"], negate=True)
    '~(a | b)'
    """
    picked = [quote(t) for t in tags]
    if not picked:
        raise ArgumentError("a condition needs at least one tag")
    body = picked[0] if len(picked) == 1 else f"({' | '.join(picked)})"
    return f"~{body}" if negate else body


def combine(clauses: Sequence[str], op: str = "and") -> str:
    """Clauses joined by AND (``&``) or OR (``|``); an empty list selects everyone (``*``)."""
    if op not in OPERATORS:
        raise ArgumentError(f"conditions are combined with 'and' or 'or'; got {op!r}")
    kept = [c for c in clauses if c]
    if not kept:
        return "*"
    return OPERATORS[op].join(kept)
