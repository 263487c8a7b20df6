"""A funnel definition survives every way it is kept: ``to_dict``/``from_dict``, YAML and JSON
text and files, and the Python source a builder hands back — for every option, on random
definitions (hypothesis) and on the hand-written ones that pin the awkward cases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.funnel import CLICKHOUSE_MODES
from workbench.predicates import AllOf, AnyOf, Compare, IsIn, IsNull, Not, Predicate
from workbench.widgets.code import funnel_code

EVENTS = ["view", "cart", "pay", "search", "add_to_cart", "支付", "sign up", "it's"]
COLUMNS = ["price", "platform", "商品", "has space", "quote'd"]

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=0, max_size=8
)
values = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    text,
)
events = st.one_of(
    st.sampled_from(EVENTS),
    st.lists(st.sampled_from(EVENTS), min_size=2, max_size=3, unique=True).map(tuple),
)
durations = st.one_of(
    st.sampled_from(["0s", "30m", "2h", "1d", "7d", "90s", "1500ms", "250us"]),
    st.integers(0, 10**15).map(lambda us: dt.timedelta(microseconds=us)),
    st.integers(0, 10**12).map(lambda ns: pd.Timedelta(ns, unit="ns")),
)


def leaves() -> st.SearchStrategy[Predicate]:
    column = st.sampled_from(COLUMNS)
    return st.one_of(
        st.builds(Compare, column, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), values),
        st.builds(IsIn, column, st.lists(values, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(IsNull, column, st.booleans()),
    )


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(AllOf, inner, inner), st.builds(AnyOf, inner, inner), st.builds(Not, inner)
    ),
    max_leaves=5,
)


@st.composite
def funnels(draw: st.DrawFn) -> wb.Funnel:
    n = draw(st.integers(1, 5))
    clickhouse = draw(st.booleans())
    order = "sequential" if clickhouse else draw(st.sampled_from(["sequential", "strict", "any"]))
    ordered = order != "any"
    steps = []
    for number in range(1, n + 1):
        inner = 1 < number < n
        steps.append(
            wb.Step(
                draw(events),
                where=draw(st.none() | conditions),
                label=draw(st.none() | text.filter(bool)),
                optional=(not clickhouse and ordered and inner and draw(st.booleans())),
                within=(
                    draw(st.none() | durations)
                    if not clickhouse and ordered and number > 1
                    else None
                ),
            )
        )
    exclusions = []
    if not clickhouse and ordered and n >= 2:
        for _ in range(draw(st.integers(0, 2))):
            after = draw(st.integers(1, n - 1))
            before = draw(st.none() | st.integers(after + 1, n))
            exclusions.append(
                wb.Exclusion(
                    draw(events), where=draw(st.none() | conditions), after=after, before=before
                )
            )
    modes = dict.fromkeys(CLICKHOUSE_MODES, False)
    if clickhouse:
        modes = {mode: draw(st.booleans()) for mode in CLICKHOUSE_MODES}
        modes["allow_reentry"] = modes["allow_reentry"] and modes["strict_order"]
    labels = draw(
        st.dictionaries(st.sampled_from(EVENTS) | st.integers(1, n), text.filter(bool), max_size=3)
    )
    return wb.Funnel(
        steps,
        window=draw(durations),
        order=order,
        exclusions=exclusions,
        hold=[]
        if clickhouse
        else draw(st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True)),
        session=False if clickhouse else draw(st.booleans()),
        counting="users" if clickhouse else draw(st.sampled_from(["users", "conversions"])),
        analysis_end=draw(
            st.none()
            | st.integers(0, 2**40)
            | st.sampled_from(["2026-10-31", "2026-10-31 18:00"])
            | st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))
        ),
        labels=labels,
        **modes,
    )


ROUND_TRIPS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ROUND_TRIPS
@given(funnels())
def test_a_funnel_round_trips_through_plain_data(funnel: wb.Funnel) -> None:
    again = wb.Funnel.from_dict(funnel.to_dict())
    assert again == funnel
    assert again.to_dict() == funnel.to_dict()
    # The data is plain: JSON holds it (step numbers as label keys come back as text, which
    # from_dict reads as the numbers they spell).
    assert wb.Funnel.from_dict(json.loads(json.dumps(funnel.to_dict()))) == funnel


@ROUND_TRIPS
@given(funnels())
def test_a_funnel_round_trips_through_yaml_text(funnel: wb.Funnel) -> None:
    assert wb.Funnel.from_yaml(funnel.to_yaml()) == funnel


@ROUND_TRIPS
@given(funnel=funnels(), name=st.sampled_from(["checkout.yaml", "checkout.yml", "checkout.json"]))
def test_a_funnel_round_trips_through_files(
    funnel: wb.Funnel, name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = funnel.save(tmp_path_factory.mktemp("funnels") / name)
    assert wb.Funnel.load(path) == funnel


@ROUND_TRIPS
@given(funnels())
def test_the_builders_python_source_rebuilds_the_funnel(funnel: wb.Funnel) -> None:
    namespace: dict[str, object] = {}
    exec(funnel_code(funnel), namespace)
    rebuilt = namespace["funnel"]
    assert isinstance(rebuilt, wb.Funnel)
    assert rebuilt.to_dict() == funnel.to_dict()


def test_a_file_with_every_option_reads_back(tmp_path: Path) -> None:
    funnel = wb.Funnel(
        [
            "view",
            wb.Step(["cart", "quick_buy"], where=wb.col("price") > 10, label="Cart"),
            wb.Step("coupon", optional=True),
            wb.Step("pay", within="10m", where=wb.col("method").isin(["card", "支付宝"])),
        ],
        window="2d",
        order="strict",
        exclusions=[wb.Exclusion("refund", after=2, before=4, where=~wb.col("test").is_null())],
        hold=["product_id"],
        session=True,
        counting="conversions",
        analysis_end="2026-10-31 18:00",
        labels={"view": "商品页", 4: "Pay"},
    )
    for name in ("f.yaml", "f.json"):
        assert wb.Funnel.load(funnel.save(tmp_path / name)) == funnel
    text = (tmp_path / "f.yaml").read_text(encoding="utf-8")
    assert "商品页" in text  # written as it reads, not as escapes


def test_labels_by_step_number_survive_json_which_writes_keys_as_text(tmp_path: Path) -> None:
    funnel = wb.Funnel(["view", "pay"], labels={2: "Paid", "view": "Product page"})
    data = json.loads((funnel.save(tmp_path / "f.json")).read_text())
    assert data["labels"] == {"2": "Paid", "view": "Product page"}
    assert wb.Funnel.load(tmp_path / "f.json") == funnel


def test_clickhouse_modes_round_trip_through_the_builders_source() -> None:
    funnel = wb.Funnel(
        ["a", "b", "c"], window="1h", strict_order=True, allow_reentry=True, strict_increase=True
    )
    namespace: dict[str, object] = {}
    exec(funnel_code(funnel), namespace)
    assert namespace["funnel"] == funnel


def test_sub_microsecond_windows_round_trip() -> None:
    funnel = wb.Funnel(["a", "b"], window=pd.Timedelta(1500, unit="ns"))
    assert funnel.to_dict()["window"] == "1500ns"
    assert wb.Funnel.from_dict(funnel.to_dict()) == funnel


@pytest.mark.parametrize("value", [1e-05, 1e16, -2.5e-7, 1500.0])
@pytest.mark.parametrize("name", ["f.json", "f.yaml"])
def test_a_number_written_with_an_exponent_reads_back_as_that_number(
    value: float, name: str, tmp_path: Path
) -> None:
    # json writes 1e-05 with no point, which YAML 1.1 (the loader for both) would read as text.
    funnel = wb.Funnel(["view", wb.Step("pay", where=wb.col("price") == value)])
    assert wb.Funnel.load(funnel.save(tmp_path / name)) == funnel


@pytest.mark.parametrize(
    "text", ["0E0", "1e5", "-2.5E-7", ".5e3", "1_000e2", "12", "0x1F", "1.5", ".inf", "yes", "~"]
)
@pytest.mark.parametrize("name", ["f.json", "f.yaml"])
def test_text_that_reads_like_a_number_stays_text(text: str, name: str, tmp_path: Path) -> None:
    # The loader reads exponents without a point (0E0) as numbers, so the writer must quote them.
    funnel = wb.Funnel(
        [text, wb.Step("pay", where=wb.col("coupon") == text)], labels={"pay": text, 1: text}
    )
    assert wb.Funnel.from_yaml(funnel.to_yaml()) == funnel
    assert wb.Funnel.load(funnel.save(tmp_path / name)) == funnel
