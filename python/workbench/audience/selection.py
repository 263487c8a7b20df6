"""The crowd-selection language: set expressions over tag names, parsed, never evaluated as Python.

Grammar (loosest binding first; all binary operators are left-associative)::

    expr    := term (("|" | "-" | "^") term)*     union, difference, symmetric difference
    term    := unary ("&" unary)*                 intersection binds tighter than | - ^
    unary   := ("~" | "!") unary | atom           complement against the log's users
    atom    := NAME | QUOTED | "*" | "(" expr ")"

So ``a | b - c`` is ``(a | b) - c`` and ``a | b & c`` is ``a | (b & c)``. ``*`` is every user.

A NAME is a run of characters other than whitespace, quotes, parentheses and the operators
``& | ^ ~ ! *``; a ``-`` *inside* a name with no space around it belongs to the name, so bins such
as ``age:25-34`` need no quotes, while ``vip - churned`` (spaces) is a difference. Anything
else (spaces, operators, a leading ``-``) goes in single or double quotes with ``\\`` escaping
the quote: ``"city:New York"``.

>>> from workbench.audience.selection import parse, to_postfix
>>> to_postfix(parse("(gender:F & age:25-34) | vip - churned"))
['gender:F', 'age:25-34', '&', 'vip', '|', 'churned', '-']
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench._names import closest
from workbench.exceptions import AudienceError, SelectionSyntaxError, UnknownTagError, caret

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "All",
    "Binary",
    "Node",
    "Not",
    "Tag",
    "compile_program",
    "parse",
    "tags_of",
    "to_postfix",
    "tokenize",
    "unknown_tag_message",
]

MAX_LENGTH = 100_000
"""Longest expression accepted, in characters."""
MAX_DEPTH = 100
"""Deepest nesting of parentheses and prefix operators accepted."""

_OPERATORS = {"&", "|", "-", "^", "~", "!", "(", ")", "*"}
_STOP = set("&|^~!()*\"'")


@dataclass(frozen=True)
class Token:
    kind: str  # "name", an operator symbol, or "end"
    text: str
    position: int


@dataclass(frozen=True)
class Tag:
    name: str
    position: int


@dataclass(frozen=True)
class All:
    position: int


@dataclass(frozen=True)
class Not:
    operand: Node
    position: int


@dataclass(frozen=True)
class Binary:
    op: str  # "&", "|", "-", "^"
    left: Node
    right: Node
    position: int


Node = Tag | All | Not | Binary


def tokenize(expression: str) -> list[Token]:
    """Split an expression into tokens; raise SelectionSyntaxError on a bad character."""
    if not isinstance(expression, str):
        raise AudienceError(
            f"a selection expression is text such as 'gender:F & vip'; got "
            f"{type(expression).__name__}"
        )
    if len(expression) > MAX_LENGTH:
        raise SelectionSyntaxError(
            f"expression is {len(expression):,} characters long; "
            f"at most {MAX_LENGTH:,} are accepted",
            expression[:80],
            0,
        )
    tokens: list[Token] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            start, i, buf = i, i + 1, []
            while True:
                if i >= n:
                    raise SelectionSyntaxError(
                        f"unterminated quoted name (opened with {ch})", expression, start
                    )
                c = expression[i]
                if c == "\\" and i + 1 < n:
                    buf.append(expression[i + 1])
                    i += 2
                elif c == ch:
                    i += 1
                    break
                else:
                    buf.append(c)
                    i += 1
            if not buf:
                raise SelectionSyntaxError("empty quoted name", expression, start)
            tokens.append(Token("name", "".join(buf), start))
        elif ch in _OPERATORS:
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch.isprintable():
            start = i
            while i < n:
                c = expression[i]
                if c.isspace() or c in _STOP or not c.isprintable():
                    break
                # '-' joins a name only when a name character follows it directly.
                if c == "-" and (
                    i + 1 >= n
                    or expression[i + 1].isspace()
                    or expression[i + 1] in _STOP
                    or expression[i + 1] == "-"
                ):
                    break
                i += 1
            tokens.append(Token("name", expression[start:i], start))
        else:
            raise SelectionSyntaxError(
                f"unexpected character {ch!r} (U+{ord(ch):04X})", expression, i
            )
    tokens.append(Token("end", "", n))
    return tokens


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, token: Token, expected: str) -> SelectionSyntaxError:
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        return SelectionSyntaxError(
            f"expected {expected} but found {found}", self.expression, token.position
        )

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SelectionSyntaxError(
                f"expression nests deeper than {MAX_DEPTH} levels", self.expression, token.position
            )

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise SelectionSyntaxError("the expression is empty", self.expression, 0)
        node = self.expr()
        token = self.peek()
        if token.kind != "end":
            expected = "an operator (& | - ^) or the end" if token.kind != ")" else "no ')' here"
            raise (
                self.fail(token, expected)
                if token.kind != ")"
                else SelectionSyntaxError("unmatched ')'", self.expression, token.position)
            )
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.peek().kind in ("|", "-", "^"):
            op = self.take()
            node = Binary(op.kind, node, self.term(), op.position)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek().kind == "&":
            op = self.take()
            node = Binary("&", node, self.unary(), op.position)
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind in ("~", "!"):
            self.take()
            self.enter(token)
            operand = self.unary()
            self.depth -= 1
            return Not(operand, token.position)
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "name":
            return Tag(token.text, token.position)
        if token.kind == "*":
            return All(token.position)
        if token.kind == "(":
            self.enter(token)
            node = self.expr()
            self.depth -= 1
            close = self.take()
            if close.kind != ")":
                if close.kind == "end":
                    raise SelectionSyntaxError("unclosed '('", self.expression, token.position)
                raise self.fail(close, "')' or an operator (& | - ^)")
            return node
        raise self.fail(token, "a tag name, '(', '~' or '*'")


def parse(expression: str) -> Node:
    """Parse an expression into a syntax tree (raises :class:`SelectionSyntaxError`).

    >>> parse("a & ~b").op
    '&'
    """
    return _Parser(expression).parse()


def tags_of(node: Node) -> list[Tag]:
    """Every tag reference, left to right."""
    out: list[Tag] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Tag):
            out.append(n)
        elif isinstance(n, Not):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack.extend((n.right, n.left))
    return out


def _postorder(node: Node) -> list[Node]:
    """Nodes children-first, without recursion: a chain of 50,000 ``|`` is as deep as it is long."""
    out: list[Node] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if expanded or isinstance(n, (Tag, All)):
            out.append(n)
        elif isinstance(n, Not):
            stack.append((n, True))
            stack.append((n.operand, False))
        else:
            stack.append((n, True))
            stack.append((n.right, False))
            stack.append((n.left, False))
    return out


def to_postfix(node: Node) -> list[str]:
    """The tree in postfix order: tag names, ``*``, ``~`` and binary operators.

    >>> to_postfix(parse("a - b - c"))
    ['a', 'b', '-', 'c', '-']
    """
    out: list[str] = []
    for n in _postorder(node):
        if isinstance(n, Tag):
            out.append(n.name)
        elif isinstance(n, All):
            out.append("*")
        elif isinstance(n, Not):
            out.append("~")
        else:
            out.append(n.op)
    return out


_NATIVE_OPS = {"&": "and", "|": "or", "-": "sub", "^": "xor"}


def compile_program(expression: str, names: dict[str, int]) -> list[tuple[str, int]]:
    """Parse and resolve tag names against ``names`` (name → index) into native instructions."""
    tree = parse(expression)
    for tag in tags_of(tree):
        if tag.name not in names:
            raise UnknownTagError(unknown_tag_message(tag.name, names, expression, tag.position))
    program: list[tuple[str, int]] = []
    for n in _postorder(tree):
        if isinstance(n, Tag):
            program.append(("tag", names[n.name]))
        elif isinstance(n, All):
            program.append(("all", 0))
        elif isinstance(n, Not):
            program.append(("not", 0))
        else:
            program.append((_NATIVE_OPS[n.op], 0))
    return program


def unknown_tag_message(
    name: str, names: dict[str, int] | list[str], expression: str | None = None, position: int = 0
) -> str:
    pool = list(names)
    hits = closest(name, pool)
    message = f"unknown tag {name!r}"
    if expression is not None:
        message += f" at column {position + 1}"
    if hits:
        message += "; closest: " + ", ".join(repr(h) for h in hits)
    elif pool:
        message += f"; the store has {len(pool)} tags, e.g. " + ", ".join(repr(p) for p in pool[:5])
    else:
        message += "; the store has no tags yet"
    if "-" in name and all(part in pool for part in name.split("-") if part):
        message += f" (for a difference put spaces around '-': {' - '.join(name.split('-'))!r})"
    if expression is not None:
        message += "\n" + caret(expression, position)
    return message
