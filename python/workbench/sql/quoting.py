"""Names and values written into ClickHouse SQL so that they can only mean themselves.

Every identifier is back-quoted and every string literal single-quoted, with the characters
that could end the quote — and backslashes, which start an escape, and control characters —
escaped as ClickHouse's lexer reads them. No text of a funnel ever reaches SQL unquoted.

>>> identifier("price`; DROP TABLE t; --")
'`price\\\\`; DROP TABLE t; --`'
>>> literal("it's")
"'it\\\\'s'"
"""

from __future__ import annotations

import math
from typing import Any

from workbench.exceptions import FunnelDefinitionError

__all__ = ["identifier", "literal", "table_name"]

# The characters ClickHouse reads as escapes inside quotes, and what each is written as.
_ESCAPES = {
    "\\": "\\\\",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _escaped(text: str, quote: str) -> str:
    out = []
    for char in text:
        if char == quote:
            out.append("\\" + quote)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def identifier(name: str) -> str:
    """A column or table name as a back-quoted ClickHouse identifier.

    >>> identifier("user id")
    '`user id`'
    """
    if not isinstance(name, str) or not name:
        raise FunnelDefinitionError(f"a ClickHouse name is non-empty text; got {name!r}")
    return "`" + _escaped(name, "`") + "`"


def table_name(table: str, database: str | None = None) -> str:
    """``table`` (in ``database`` when given) as a quoted name; a dot inside ``table`` is part
    of the name, not a database separator.

    >>> table_name("events", "analytics")
    '`analytics`.`events`'
    """
    quoted = identifier(table)
    return quoted if database is None else f"{identifier(database)}.{quoted}"


def literal(value: Any) -> str:
    """A Python value (text, whole number, real number, boolean) as a ClickHouse literal.

    >>> literal(10), literal(2.5), literal(True), literal(float("nan"))
    ('10', '2.5', 'true', 'nan')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return "'" + _escaped(value, "'") + "'"
    raise FunnelDefinitionError(
        f"cannot write {value!r} ({type(value).__name__}) as a ClickHouse literal; conditions "
        "compiled to SQL compare with text, whole or real numbers and booleans"
    )
