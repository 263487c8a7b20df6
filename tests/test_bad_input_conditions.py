"""Conditions (`wb.col(...)`) never give a silent wrong answer: text is not compared with numbers,
numbers are compared exactly whatever the column's integer type, and values no column can hold
are refused with a message naming the column, the value and the fix."""

from __future__ import annotations

import decimal
import operator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench import exceptions as ex


@pytest.fixture
def text_price_log() -> wb.EventLog:
    """Prices loaded as text, as a CSV read without types gives them: '9' sorts after '10'."""
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "event": ["view", "pay", "view", "pay"],
            "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05"] * 2),
            "price": ["9", "9", "10", "10"],
        }
    )
    return wb.EventLog(df)


def _assert_names_column_and_fix(message: str) -> None:
    assert "column 'price' holds text" in message
    assert "'9' > '10'" in message  # why it is refused
    assert "pd.to_numeric(df['price'])" in message  # the fix, either way round
    assert "wb.col('price') == '10" in message


def test_text_column_against_number_is_refused_in_step_where(text_price_log) -> None:
    funnel = wb.Funnel(["view", wb.Step("pay", where=wb.col("price") > 10)])
    with pytest.raises(ex.FunnelDefinitionError) as err:
        funnel.run(text_price_log)
    assert str(err.value).startswith("step 2 (pay): ")
    _assert_names_column_and_fix(str(err.value))


def test_text_column_against_number_is_refused_in_exclusion_where(text_price_log) -> None:
    refund = wb.Exclusion("view", where=wb.col("price") >= 10)
    funnel = wb.Funnel(["view", "pay"], exclusions=[refund])
    with pytest.raises(ex.FunnelDefinitionError) as err:
        funnel.run(text_price_log)
    assert str(err.value).startswith("exclusion 1 (view): ")
    _assert_names_column_and_fix(str(err.value))


def test_text_column_against_number_is_refused_in_audience_did(text_price_log) -> None:
    with pytest.raises(ex.FunnelDefinitionError) as err:
        wb.Audience.did(text_price_log, "pay", where=wb.col("price") < 10)
    _assert_names_column_and_fix(str(err.value))


def test_text_column_against_numbers_is_refused_in_isin(text_price_log) -> None:
    funnel = wb.Funnel([wb.Step("view", where=wb.col("price").isin(["9", 10]))])
    with pytest.raises(ex.FunnelDefinitionError) as err:
        funnel.run(text_price_log)
    _assert_names_column_and_fix(str(err.value))
    with pytest.raises(ex.FunnelDefinitionError, match="column 'price' holds text"):
        wb.Audience.did(text_price_log, "view", where=wb.col("price").not_in([9]))


@pytest.mark.parametrize(
    "number", [np.int64(10), np.float32(10), decimal.Decimal(10)], ids=["numpy", "f32", "decimal"]
)
def test_text_column_against_numpy_or_decimal_number_is_refused(text_price_log, number) -> None:
    with pytest.raises(ex.FunnelDefinitionError) as err:
        wb.Audience.did(text_price_log, "view", where=wb.col("price") > number)
    _assert_names_column_and_fix(str(err.value))


def test_text_column_against_text_still_compares_text(text_price_log) -> None:
    assert wb.Audience.did(
        text_price_log, "view", where=wb.col("price") == "9"
    ).keys().to_pylist() == [1]


def test_comparison_with_integer_beyond_64_bits_is_refused(shop_log) -> None:
    funnel = wb.Funnel([wb.Step("view", where=wb.col("price") > 2**70)])
    with pytest.raises(ex.FunnelDefinitionError) as err:
        funnel.run(shop_log)
    message = str(err.value)
    assert "1180591620717411303424" in message and "column 'price'" in message
    assert "beyond the 64-bit integers" in message and "write it as a float" in message


def test_isin_with_integer_beyond_64_bits_is_refused(shop_log) -> None:
    with pytest.raises(ex.FunnelDefinitionError, match=r"18446744073709551616 .*'price'"):
        wb.Audience.did(shop_log, "view", where=wb.col("price").isin([1, 2**64]))


def test_comparison_with_nan_is_refused_and_points_at_is_null(shop_log) -> None:
    with pytest.raises(ex.FunnelDefinitionError) as err:
        wb.Audience.did(shop_log, "view", where=wb.col("price") == float("nan"))
    assert "column 'price' compares with NaN" in str(err.value)
    assert "wb.col('price').is_null()" in str(err.value)


def test_comparison_with_a_list_points_at_isin(shop_log) -> None:
    with pytest.raises(
        ex.FunnelDefinitionError, match=r"wb\.col\('platform'\)\.isin\(\[\.\.\.\]\)"
    ):
        wb.Audience.did(shop_log, "view", where=wb.col("platform") == ["ios", "web"])


@pytest.mark.parametrize("values", ["ios", 5, {"ios": 1}], ids=["string", "number", "mapping"])
def test_isin_takes_a_list_not_a_string_or_one_value(values) -> None:
    # A string would otherwise be read as its letters: isin("ios") matching 'i', 'o' and 's'.
    with pytest.raises(ex.FunnelDefinitionError, match=r"isin\(\) takes a list of values"):
        wb.col("platform").isin(values)
    with pytest.raises(ex.FunnelDefinitionError, match=r"not_in\(\) takes a list of values"):
        wb.col("platform").not_in(values)


def test_numbers_outside_a_small_integer_column_compare_exactly() -> None:
    table = pa.table({"age": pa.array([1, 2, 3, None, 127], pa.int8())})

    def rows(condition: wb.predicates.Predicate) -> list[bool]:
        return condition.mask(table).to_pylist()

    # 300 does not fit an int8, 2.5 is no integer: neither is an error, both are exact.
    assert rows(wb.col("age") < 300) == [True, True, True, False, True]
    assert rows(wb.col("age") > 300) == [False] * 5
    assert rows(wb.col("age") > 2.5) == [False, False, True, False, True]
    assert rows(wb.col("age") <= 2.5) == [True, True, False, False, False]
    assert rows(wb.col("age") == 2.5) == [False] * 5
    assert rows(wb.col("age") != 2.5) == [True, True, True, False, True]  # null never matches
    assert rows(wb.col("age").isin([2.0, 2.5, 300])) == [False, True, False, False, False]


_INTEGER_TYPES = {
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
}
_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@st.composite
def _integer_column_and_value(draw: st.DrawFn) -> tuple[str, list[int | None], str, int | float]:
    name = draw(st.sampled_from(sorted(_INTEGER_TYPES)))
    info = np.iinfo(_INTEGER_TYPES[name].to_pandas_dtype())
    values = draw(
        st.lists(
            st.one_of(st.none(), st.integers(int(info.min), int(info.max))), min_size=1, max_size=8
        )
    )
    edge = draw(st.sampled_from([int(info.min), int(info.max), 0, -1, 1]))
    value = draw(
        st.one_of(
            st.integers(-(2**63), 2**64 - 1),
            st.integers(edge - 2, edge + 2),  # just inside and just outside the type's range
            st.floats(-1e20, 1e20, allow_nan=False),
            st.just(edge + 0.5),
        )
    )
    return name, values, draw(st.sampled_from(sorted(_OPS))), value


@settings(max_examples=300, deadline=None)
@given(_integer_column_and_value())
def test_integer_column_comparisons_agree_with_exact_arithmetic(case) -> None:
    name, values, op, value = case
    table = pa.table({"n": pa.array(values, _INTEGER_TYPES[name])})
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        with pytest.raises(ex.FunnelDefinitionError, match="beyond the 64-bit integers"):
            wb.predicates.Compare("n", op, value).mask(table)
        return
    got = wb.predicates.Compare("n", op, value).mask(table).to_pylist()
    # Python compares ints with floats exactly; a missing value never matches.
    assert got == [v is not None and _OPS[op](v, value) for v in values]
    hit = wb.col("n").isin([value]).mask(table).to_pylist()
    assert hit == [v is not None and v == value for v in values]
