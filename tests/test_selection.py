"""The crowd-selection parser: precedence, error positions, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.audience.selection import (
    MAX_DEPTH,
    MAX_LENGTH,
    compile_program,
    parse,
    to_postfix,
    tokenize,
)
from workbench.exceptions import SelectionSyntaxError, UnknownTagError


def pf(expression: str) -> list[str]:
    return to_postfix(parse(expression))


def test_precedence_not_over_and_over_or_minus_xor():
    assert pf("a | b & c") == ["a", "b", "c", "&", "|"]
    assert pf("a & b | c") == ["a", "b", "&", "c", "|"]
    assert pf("a | b - c") == ["a", "b", "|", "c", "-"]
    assert pf("a - b | c") == ["a", "b", "-", "c", "|"]
    assert pf("a - b - c") == ["a", "b", "-", "c", "-"]
    assert pf("~a & b") == ["a", "~", "b", "&"]
    assert pf("!(a | b)") == ["a", "b", "|", "~"]
    assert pf("~~a") == ["a", "~", "~"]
    assert pf("a ^ b & c") == ["a", "b", "c", "&", "^"]
    assert pf("* - a") == ["*", "a", "-"]
    assert pf("(gender:F & age:25-34) | vip - churned") == [
        "gender:F",
        "age:25-34",
        "&",
        "vip",
        "|",
        "churned",
        "-",
    ]


def test_names_hyphens_quotes_and_unicode():
    assert pf("age:25-34") == ["age:25-34"]
    assert pf("a-b - c") == ["a-b", "c", "-"]
    assert pf("a -b") == ["a", "b", "-"]
    assert pf("a- b") == ["a", "b", "-"]
    assert pf("'city:New York' & \"it's\"") == ["city:New York", "it's", "&"]
    assert pf(r"'a\'b'") == ["a'b"]
    assert pf("城市:北京 | ciudad:São-Paulo") == ["城市:北京", "ciudad:São-Paulo", "|"]
    assert pf("age:65+ | score:0.5") == ["age:65+", "score:0.5", "|"]


@pytest.mark.parametrize(
    ("expression", "column", "fragment"),
    [
        ("a & ", 5, "expected a tag name, '(', '~' or '*' but found the end"),
        ("a & & b", 5, "found '&'"),
        ("(a | b", 1, "unclosed '('"),
        ("a | b)", 6, "unmatched ')'"),
        ("a b", 3, "expected an operator"),
        ("", 1, "empty"),
        ("a & 'open", 5, "unterminated quoted name"),
        ("a & ''", 5, "empty quoted name"),
        ("a\x00b", 2, "unexpected character"),
        ("()", 2, "found ')'"),
    ],
)
def test_errors_point_at_the_token(expression, column, fragment):
    with pytest.raises(SelectionSyntaxError) as err:
        parse(expression)
    assert err.value.position == column - 1
    assert f"at column {column}" in str(err.value)
    assert fragment in str(err.value)
    caret_line = str(err.value).splitlines()[-1]
    assert caret_line.index("^") == 2 + column - 1


def test_unknown_tags_list_closest_names_and_hint_at_spaces():
    names = {"gender:F": 0, "gender:M": 1, "vip": 2, "churned": 3}
    with pytest.raises(UnknownTagError, match=r"unknown tag 'gender:f ' |closest: 'gender:F'"):
        compile_program("vip & gendr:F", names)
    with pytest.raises(UnknownTagError, match=r"column 7"):
        compile_program("vip & gendr:F", names)
    with pytest.raises(UnknownTagError, match=r"spaces around '-'"):
        compile_program("vip-churned", names)
    assert compile_program("vip - churned", names) == [("tag", 2), ("tag", 3), ("sub", 0)]


def test_depth_and_length_limits_give_errors_not_crashes():
    deep = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(SelectionSyntaxError, match="nests deeper"):
        parse(deep)
    nots = "~" * (MAX_DEPTH + 1) + "a"
    with pytest.raises(SelectionSyntaxError, match="nests deeper"):
        parse(nots)
    assert pf("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == ["a"]
    with pytest.raises(SelectionSyntaxError, match="at most"):
        parse("a" * (MAX_LENGTH + 1))
    # A long flat chain is fine (no recursion on chains).
    chain = " | ".join(["a"] * 20_000)
    assert len(pf(chain)) == 2 * 20_000 - 1


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('echo pwned')",
        "a; DROP TABLE users; --",
        "${jndi:ldap://x}",
        "{{7*7}}",
        "a' or '1'='1",
        "lambda: 0",
        "\u202egnp.exe",
    ],
)
def test_injection_looking_strings_are_names_or_syntax_errors(hostile):
    try:
        tree = parse(hostile)
    except SelectionSyntaxError:
        return
    # Whatever parsed is only tag names and set operators; resolving them fails cleanly.
    with pytest.raises(UnknownTagError):
        compile_program(hostile, {"a": 0})
    assert tree is not None


ALPHABET = st.sampled_from([*list("ab&|-^~!()*'\" \\:\t\n"), "é", "城", "\x00", "\u202e"])


@settings(max_examples=400, deadline=None)
@given(st.text(ALPHABET, max_size=60))
def test_random_input_parses_or_raises_syntax_error(text):
    try:
        tokens = tokenize(text)
        program = compile_program(text, {"a": 0, "b": 1})
    except (SelectionSyntaxError, UnknownTagError):
        return
    assert tokens[-1].kind == "end"
    # A valid program leaves exactly one value on a stack machine.
    depth = 0
    for op, _ in program:
        depth += 1 if op in ("tag", "all") else 0 if op == "not" else -1
        assert depth >= 1
    assert depth == 1


SETS = {"a": {1, 2, 3}, "b": {2, 3, 4}, "c": {3, 5}}
EVERYONE = set(range(8))


def _eval(tree):
    from workbench.audience.selection import All, Not, Tag

    if isinstance(tree, Tag):
        return SETS[tree.name]
    if isinstance(tree, All):
        return EVERYONE
    if isinstance(tree, Not):
        return EVERYONE - _eval(tree.operand)
    left, right = _eval(tree.left), _eval(tree.right)
    return {"&": left & right, "|": left | right, "-": left - right, "^": left ^ right}[tree.op]


trees = st.recursive(
    st.sampled_from(["a", "b", "c", "*"]),
    lambda inner: st.one_of(
        st.tuples(st.just("~"), inner),
        st.tuples(st.sampled_from("&|-^"), inner, inner),
    ),
    max_leaves=12,
)

PREC = {"&": 2, "|": 1, "-": 1, "^": 1}


def _prec(tree) -> int:
    if isinstance(tree, str):
        return 4
    return 3 if tree[0] == "~" else PREC[tree[0]]


def _print_minimal(tree) -> str:
    """Print with parentheses only where the documented precedence needs them."""
    if isinstance(tree, str):
        return tree
    if tree[0] == "~":
        inner = _print_minimal(tree[1])
        return f"~{inner}" if _prec(tree[1]) >= 3 else f"~({inner})"
    op, left, right = tree
    p = PREC[op]
    ls = _print_minimal(left)
    rs = _print_minimal(right)
    ls = ls if _prec(left) >= p else f"({ls})"
    rs = rs if _prec(right) > p else f"({rs})"  # left-associative
    return f"{ls} {op} {rs}"


def _eval_tuple(tree):
    if isinstance(tree, str):
        return EVERYONE if tree == "*" else SETS[tree]
    if tree[0] == "~":
        return EVERYONE - _eval_tuple(tree[1])
    left, right = _eval_tuple(tree[1]), _eval_tuple(tree[2])
    return {"&": left & right, "|": left | right, "-": left - right, "^": left ^ right}[tree[0]]


@settings(max_examples=300, deadline=None)
@given(trees)
def test_minimal_parentheses_round_trip_through_the_documented_precedence(tree):
    assert _eval(parse(_print_minimal(tree))) == _eval_tuple(tree)
