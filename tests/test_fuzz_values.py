"""Fuzzing the calls that take Python values: malformed frames, plan and funnel YAML, funnel
definitions as data, and crowd-selection strings. The property is fuzz_harness's (a correct
result or a WorkbenchError within the time bound); where a call succeeds, its result is checked
against a round trip or a plain-Python reference, so "no error" also means "the right answer"."""

from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import yaml
from fuzz_harness import attempt, check
from fuzz_targets import check_funnel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.audience.selection import All, Binary, Not, Tag, parse
from workbench.plan import TrackingPlan

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

SHOP = wb.EventLog(
    pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3, 4],
            "event": ["view", "cart", "pay", "view", "cart", "view", "search"],
            "time": pd.to_datetime("2026-01-01")
            + pd.to_timedelta([0, 5, 60, 0, 2880, 100, 7], "m"),
            "price": [10.0, 10.0, 10.0, 5.0, None, 7.5, None],
            "platform": ["ios", "ios", "ios", "web", "web", None, "android"],
        }
    )
)

# -- malformed frames ------------------------------------------------------------------------

NAMES = ["user_id", "event", "time", "price", "platform", "step", "user_id", "items"]


def column(n: int) -> st.SearchStrategy[list]:
    values = st.one_of(
        st.lists(st.integers(-3, 3), min_size=n, max_size=n),
        st.lists(st.integers(-(2**70), 2**70), min_size=n, max_size=n),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n),
        st.lists(st.sampled_from(["view", "cart", "pay", "", "é", None]), min_size=n, max_size=n),
        st.lists(st.sampled_from([1, "a", None, 2.5, True, b"x"]), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(
            st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)), min_size=n, max_size=n
        ),
        st.lists(
            st.datetimes(dt.datetime(2025, 12, 30), dt.datetime(2026, 1, 3)), min_size=n, max_size=n
        ),
        st.lists(st.lists(st.integers(0, 3), max_size=2), min_size=n, max_size=n),
        st.lists(st.dictionaries(st.sampled_from("ab"), st.integers(0, 3)), min_size=n, max_size=n),
    )
    return values


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A frame of random columns, or (more often) an event log's three columns with random
    properties beside them: hostile values where the roles' types still let it load."""
    n = draw(st.integers(0, 8))
    columns: dict[str, object] = {}
    if draw(st.integers(0, 2)):
        n = max(n, 1)
        columns["user_id"] = draw(
            st.one_of(
                st.lists(st.integers(1, 4), min_size=n, max_size=n),
                st.lists(st.sampled_from(["u1", "u2", ""]), min_size=n, max_size=n),
            )
        )
        columns["event"] = draw(
            st.lists(st.sampled_from(["view", "cart", "pay", "", "é"]), min_size=n, max_size=n)
        )
        columns["time"] = (
            draw(column(n))
            if not draw(st.integers(0, 4))
            else draw(
                st.lists(
                    st.datetimes(dt.datetime(2025, 12, 30), dt.datetime(2026, 1, 3)),
                    min_size=n,
                    max_size=n,
                )
            )
        )
    names = list(columns) + draw(st.lists(st.sampled_from(NAMES), max_size=4))
    values = [*columns.values(), *(draw(column(n)) for _ in range(len(names) - len(columns)))]
    if not names:
        names, values = ["user_id"], [draw(column(n))]
    frame = pd.DataFrame({i: pd.Series(v, dtype=object) for i, v in enumerate(values)})
    frame = frame.infer_objects()
    frame.columns = names
    return frame


def use_frame(frame: pd.DataFrame, options: dict) -> list[int]:
    log = wb.EventLog(frame, **options)
    assert len(log) + log.dropped_rows == len(frame)
    levels = check_funnel(log)
    result = wb.Funnel([e for e in log.event_names if e][:2] or ["x"]).run(log)
    for name in log.property_names[:2]:
        # Each of these may be refused on its own (a list column, text against a number):
        # a refusal is an answer, anything else escapes and fails.
        calls = [lambda n=name: result.breakdown(n)]
        calls += [
            lambda n=name, v=value: wb.Audience.did(log, None, where=wb.col(n) > v)
            for value in (0, "view", 2.5, 2**70)
        ]
        for call in calls:
            try:
                out = call()
            except wb.exceptions.WorkbenchError:
                continue
            if isinstance(out, pd.DataFrame):
                assert out["conversion_from_first"].dropna().between(0, 1).all()
    return levels


@settings(FUZZ, max_examples=100)
@given(
    frames(),
    st.fixed_dictionaries(
        {},
        optional={
            "time_unit": st.sampled_from(["s", "ms", "us", "ns"]),
            "drop_nulls": st.booleans(),
            "plausible_times": st.sampled_from([None, ("1800-01-01", "2300-01-01")]),
        },
    ),
)
def test_any_frame_loads_and_runs_correctly_or_is_refused(frame, options) -> None:
    check(attempt(use_frame, frame, options))


# -- plan YAML -------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.sampled_from(["string", "integer", "float", "boolean", "timestamp", "flaot", "yes", None]),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    st.text(max_size=6),
    st.booleans(),
)
PROPERTY = st.fixed_dictionaries(
    {},
    optional={
        "type": SCALARS,
        "required": SCALARS,
        "allowed": st.one_of(st.lists(SCALARS, max_size=3), SCALARS),
        "min": SCALARS,
        "max": SCALARS,
        "display_name": st.one_of(
            st.dictionaries(st.sampled_from(["en", "zh", "fr"]), SCALARS), SCALARS
        ),
        "bogus": SCALARS,
    },
)
EVENT = st.fixed_dictionaries(
    {},
    optional={
        "properties": st.one_of(
            st.dictionaries(st.sampled_from(["price", "platform", "p"]), PROPERTY), SCALARS
        ),
        "owner": SCALARS,
        "display_name": st.dictionaries(st.sampled_from(["en", "zh"]), SCALARS),
    },
)
PLAN = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 2, "1"]),
        "name": SCALARS,
        "languages": st.one_of(st.lists(st.sampled_from(["en", "zh"]), max_size=2), SCALARS),
        "common_properties": st.dictionaries(st.sampled_from(["platform", "price"]), PROPERTY),
        "events": st.one_of(
            st.dictionaries(
                st.sampled_from(["view", "cart", "pay", "refund", ""]), st.one_of(EVENT, st.none())
            ),
            st.lists(SCALARS, max_size=2),
        ),
    },
)
HOSTILE = [
    "&a ",
    "*a",
    "!!python/object:os.system ",
    "[",
    "{",
    "'",
    '"',
    "\t",
    "\x07",
    "\x00",
    ": ",
    "- ",
    "\n  ",
    "\ufeff",
    "%YAML 1.1\n",
    "---\n",
    "é",
    "\udce9",
]


@st.composite
def yaml_texts(draw: st.DrawFn, structure: st.SearchStrategy) -> str:
    text = yaml.safe_dump(draw(structure), allow_unicode=True, sort_keys=False)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(HOSTILE)) + text[at:]
    return text


def use_plan(text: str) -> int:
    plan = TrackingPlan.from_yaml(text)
    assert TrackingPlan.from_yaml(plan.to_yaml()) == plan  # what it reads, it writes back
    report = plan.validate(SHOP)
    assert report.n_rows == len(SHOP)
    assert report.violating_row_mask.sum() <= len(SHOP)
    return len(plan.event_names)


@settings(FUZZ, max_examples=150)
@given(yaml_texts(PLAN))
def test_any_plan_text_reads_and_validates_correctly_or_is_refused(text) -> None:
    check(attempt(use_plan, text))


def use_plan_file(data: bytes, folder: str) -> int:
    path = f"{folder}/plan-{random.random()}.yaml"
    with open(path, "wb") as out:
        out.write(data)
    return len(TrackingPlan.load(path).event_names)


@settings(FUZZ, max_examples=100)
@given(
    st.one_of(
        st.binary(max_size=64),
        yaml_texts(PLAN).map(lambda t: t.encode("utf-8", errors="surrogateescape")),
    )
)
def test_any_plan_file_bytes_read_or_are_refused(tmp_path_factory, data) -> None:
    check(attempt(use_plan_file, data, str(tmp_path_factory.getbasetemp())))


# -- funnel definitions as data ----------------------------------------------------------------

CONDITION = st.recursive(
    st.one_of(
        st.fixed_dictionaries(
            {
                "column": st.sampled_from(["price", "platform", "nope", 5]),
                "op": st.sampled_from([">", "==", "~", None]),
                "value": SCALARS,
            }
        ),
        st.fixed_dictionaries(
            {
                "column": st.sampled_from(["price", "platform"]),
                "isin": st.one_of(st.lists(SCALARS, max_size=3), SCALARS),
            }
        ),
        st.fixed_dictionaries(
            {"column": st.sampled_from(["price", "platform"]), "is_null": SCALARS}
        ),
        SCALARS,
    ),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"and": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
    ),
    max_leaves=4,
)
STEP = st.one_of(
    st.sampled_from(["view", "cart", "pay", "search", "nope"]),
    st.fixed_dictionaries(
        {
            "event": st.one_of(
                st.sampled_from(["view", "cart", "pay"]),
                st.lists(st.sampled_from(["view", "cart"]), max_size=2),
                SCALARS,
            )
        },
        optional={
            "where": CONDITION,
            "optional": SCALARS,
            "within": st.sampled_from(["5m", "1d", "-1h", "500us", "9999999999d", 5]),
            "label": SCALARS,
        },
    ),
    SCALARS,
)
FUNNEL = st.fixed_dictionaries(
    {"steps": st.one_of(st.lists(STEP, max_size=4), SCALARS)},
    optional={
        "window": st.sampled_from(["1d", "0s", "500us", "9999999999d", "1 fortnight", 86400]),
        "order": st.sampled_from(["sequential", "strict", "any", "strcit", 1]),
        "exclusions": st.lists(
            st.fixed_dictionaries(
                {"event": st.sampled_from(["search", "pay"])},
                optional={"after": SCALARS, "before": SCALARS},
            ),
            max_size=2,
        ),
        "hold": st.one_of(
            st.sampled_from(["platform", "price", "nope"]),
            st.lists(st.sampled_from(["platform", "user_id"]), max_size=2),
            SCALARS,
        ),
        "counting": st.sampled_from(["users", "conversions", "attempts"]),
        "analysis_end": st.one_of(SCALARS, st.sampled_from(["2026-01-02", "2300-01-01", 2**64])),
        "strict_order": SCALARS,
        "labels": st.one_of(
            st.dictionaries(st.sampled_from(["view", "1", "2", 3]), SCALARS), SCALARS
        ),
    },
)


VALID_FUNNEL = st.fixed_dictionaries(
    {
        "steps": st.lists(
            st.one_of(
                st.sampled_from(["view", "cart", "pay", "search"]),
                st.fixed_dictionaries(
                    {"event": st.sampled_from(["view", "cart", "pay"])},
                    optional={
                        "where": st.fixed_dictionaries(
                            {
                                "column": st.sampled_from(["price", "platform"]),
                                "op": st.sampled_from([">", "==", "!="]),
                                "value": st.sampled_from([5, 7.5, "ios", 2**63, -1]),
                            }
                        ),
                        "within": st.sampled_from(["5m", "1h"]),
                    },
                ),
            ),
            min_size=1,
            max_size=4,
        )
    },
    optional={
        "window": st.sampled_from(["1d", "0s", "10m", "500us"]),
        "order": st.sampled_from(["sequential", "strict", "any"]),
        "hold": st.sampled_from(["platform", "price"]),
        "counting": st.sampled_from(["users", "conversions"]),
        "analysis_end": st.sampled_from(["2026-01-01 00:30", "2026-01-02", "2199-01-01"]),
    },
)


def use_funnel(definition: object) -> list[int]:
    funnel = wb.Funnel.from_dict(definition)  # type: ignore[arg-type]
    assert wb.Funnel.from_dict(funnel.to_dict()) == funnel
    assert wb.Funnel.from_yaml(funnel.to_yaml()) == funnel
    result = funnel.run(SHOP)
    levels = result.level_counts()
    excluded = int(result.outcomes.excluded.sum())
    if funnel.counting == "users":
        assert sum(levels) + excluded == SHOP.n_users
    assert result.table["conversion_from_previous"].dropna().between(0, 1).all()
    return levels


@settings(FUZZ, max_examples=150)
@given(st.one_of(VALID_FUNNEL, VALID_FUNNEL, FUNNEL, SCALARS))
def test_any_funnel_definition_runs_correctly_or_is_refused(definition) -> None:
    check(attempt(use_funnel, definition))


@settings(FUZZ, max_examples=100)
@given(yaml_texts(st.one_of(VALID_FUNNEL, FUNNEL)))
def test_any_funnel_text_reads_correctly_or_is_refused(text) -> None:
    check(attempt(lambda t: use_funnel(wb.Funnel.from_yaml(t).to_dict()), text))


# -- crowd selection -------------------------------------------------------------------------

TAGS = {"a": [1, 2], "b": [2, 3], "gender:F": [1, 3, 4], "age:25-34": [4], "x y": [1]}
STORE = wb.TagStore(SHOP)
for _name, _keys in TAGS.items():
    STORE.add(_name, wb.Audience.from_keys(SHOP, _keys))
EVERYONE = set(SHOP.users.tolist())


def reference(node: object) -> set:
    """The users an expression selects, by plain set algebra on its parse tree."""
    if isinstance(node, Tag):
        return set(TAGS[node.name])
    if isinstance(node, All):
        return set(EVERYONE)
    if isinstance(node, Not):
        return EVERYONE - reference(node.operand)
    assert isinstance(node, Binary)
    left, right = reference(node.left), reference(node.right)
    return {"&": left & right, "|": left | right, "-": left - right, "^": left ^ right}[node.op]


TOKENS = st.sampled_from(
    ["a", "b", "gender:F", "age:25-34", "'x y'", '"x y"', "c", "&", "|", "-", "^", "~", "!",
     "(", ")", "*", " ", "'", "\\", "é", "\x00", "((((", "a-b", "-a"]
)  # fmt: skip


EXPRESSIONS = st.recursive(
    st.sampled_from(["a", "b", "gender:F", "age:25-34", "'x y'", '"x y"', "*", "c"]),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["~", "!", "~ "]), inner).map("".join),
        st.tuples(inner, st.sampled_from([" & ", "|", " - ", "^", "&"]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=8,
)


def use_selection(expression: str) -> int:
    selected = STORE.select(expression)
    assert set(selected.keys().to_pylist()) == reference(parse(expression))
    return len(selected)


@settings(FUZZ, max_examples=200)
@given(
    st.one_of(
        EXPRESSIONS, EXPRESSIONS, st.lists(TOKENS, max_size=12).map("".join), st.text(max_size=20)
    )
)
def test_any_selection_string_selects_correctly_or_is_refused(expression) -> None:
    check(attempt(use_selection, expression))


def test_the_fuzzed_calls_succeed_on_good_input() -> None:
    """The targets themselves: good input gives the known answers."""
    assert check(attempt(use_selection, "(a | b) - ~gender:F")) == 2
    # User 2 added to cart two days after the view, past the window: level 1 with user 3.
    assert check(attempt(use_funnel, {"steps": ["view", "cart", "pay"]})) == [1, 2, 0, 1]
    assert check(attempt(use_plan, TrackingPlan.infer(SHOP).to_yaml())) == 4
    frame = SHOP.source.to_pandas()
    assert check(attempt(use_frame, frame, {})) == [2, 1, 1, 0]  # steps cart, pay, search
    assert check(attempt(use_plan, "events: {view: {}}\n")) == 1
