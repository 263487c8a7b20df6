"""Conditions (the public predicate nodes of :mod:`workbench.predicates`) as ClickHouse SQL.

ClickHouse's ``and``/``or``/``not`` follow the same three-valued logic as the workbench: a
comparison with a missing property (NULL) is unknown, ``NOT`` of unknown stays unknown, and
``x IN (...)`` of NULL is NULL. The step condition as a whole is wrapped in ``ifNull(..., 0)`` by
the compiler, so "unknown" ends as "does not match" — the workbench's rule — instead of
windowFunnel's (which skips a row when any of its conditions is NULL).

>>> import workbench as wb
>>> condition((wb.col("price") >= 10) & ~wb.col("platform").isin(["web"]))
"((`price` >= 10) AND (NOT (`platform` IN ('web'))))"
"""

from __future__ import annotations

from workbench.exceptions import FunnelDefinitionError
from workbench.predicates import AllOf, AnyOf, Compare, IsIn, IsNull, Not, Predicate
from workbench.sql.quoting import identifier, literal

__all__ = ["condition"]

_OPERATORS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def condition(node: Predicate) -> str:
    """``node`` as a ClickHouse boolean expression (NULL where a property is missing)."""
    if isinstance(node, Compare):
        if node.value is None:
            raise FunnelDefinitionError(
                f"compare column {node.column!r} with None using .is_null() or .is_not_null()"
            )
        return f"({identifier(node.column)} {_OPERATORS[node.op]} {literal(node.value)})"
    if isinstance(node, IsIn):
        column = identifier(node.column)
        if not node.values:
            # Nothing is in an empty set; a missing value stays unknown.
            return f"if(isNull({column}), NULL, {int(node.negate)})"
        values = ", ".join(literal(v) for v in node.values)
        return f"({column} {'NOT IN' if node.negate else 'IN'} ({values}))"
    if isinstance(node, IsNull):
        return f"{'isNotNull' if node.negate else 'isNull'}({identifier(node.column)})"
    if isinstance(node, AllOf):
        return f"({condition(node.left)} AND {condition(node.right)})"
    if isinstance(node, AnyOf):
        return f"({condition(node.left)} OR {condition(node.right)})"
    if isinstance(node, Not):
        return f"(NOT {condition(node.inner)})"
    raise FunnelDefinitionError(
        f"cannot compile the condition {node!r} ({type(node).__name__}) to SQL; conditions are "
        "built from wb.col(...) comparisons, isin/not_in, is_null/is_not_null, & | ~"
    )
