"""The generator's vectorised building blocks agree with the plain numpy and Arrow they replace,
and the demo data does not depend on which way the generator sorts or how many threads it uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import workbench.datasets._columnar as columnar
from workbench.datasets import ecommerce
from workbench.datasets._columnar import (
    bins_of,
    sort_rows,
    sparse_column,
    sparse_strings,
    string_column,
)


@pytest.mark.parametrize("word_bits", [None, 0])  # packed into int64, and np.lexsort
def test_sort_rows_matches_lexsort(word_bits: int | None) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    fields = [rng.integers(0, 40, n), rng.integers(0, 3, n), np.zeros(n, np.int64)]
    fields.append(rng.integers(0, 1 << 20, n))
    chunks = [np.array_split(f, [7, 7, 2_000]) for f in fields]  # uneven, one chunk empty
    got = sort_rows(chunks, keep=[0, 1, 2, 3], word_bits=word_bits)
    order = np.lexsort(fields[::-1])
    for field, sorted_field in zip(fields, got, strict=True):
        assert sorted_field.tolist() == field[order].tolist()


def test_sort_rows_keeps_only_the_fields_asked_for() -> None:
    a, b = np.array([3, 1, 2]), np.array([0, 9, 4])
    (kept,) = sort_rows([[a], [b]], keep=[1])
    assert kept.tolist() == [9, 4, 0]
    assert [f.tolist() for f in sort_rows([[a[:0]], [b[:0]]], keep=[0, 1])] == [[], []]


@pytest.mark.parametrize(
    "p",
    [
        [1.0],
        [0.62, 0.30, 0.0, 0.0, 0.08],  # bins that can never be drawn
        [1e-9, 0.5, 1e-9, 0.5],  # bins far narrower than a bucket
        list(1.0 / np.arange(1, 1_501) ** 0.9),  # the catalog's popularity
    ],
)
def test_bins_of_matches_searchsorted(p: list[float]) -> None:
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    u = np.random.default_rng(5).random(300_000)
    u[:3] = [0.0, cdf[0] % 1.0, np.nextafter(1.0, 0.0)]  # on an edge and at both ends
    assert bins_of(u, cdf).tolist() == np.searchsorted(cdf, u, side="right").tolist()


def _positions(n: int, k: int, seed: int) -> list[np.ndarray]:
    rows = np.random.default_rng(seed).permutation(n)[:k]
    return [rows[: k // 3], rows[k // 3 :]]  # two unsorted groups of rows


@pytest.mark.parametrize("k", [0, 1, 400])
def test_sparse_strings_match_arrow_take(k: int) -> None:
    names = ["card", "paypal", "apple_pay", "", "gift_card ✓"]
    parts = [(p, np.arange(len(p)) % len(names)) for p in _positions(1_000, k, k)]
    codes = np.full(1_000, -1)
    for positions, values in parts:
        codes[positions] = values
    expected = pc.take(pa.array(names), pa.array(codes, mask=codes < 0))
    got = sparse_strings(1_000, parts, names)
    assert got.equals(expected)
    assert got.null_count == 1_000 - k
    assert string_column(codes, names).equals(expected)


@pytest.mark.parametrize(("type_", "fill"), [(pa.float64(), np.nan), (pa.int64(), -1)])
def test_sparse_column_matches_a_masked_array(type_: pa.DataType, fill: float) -> None:
    parts = [(p, p * 3 + 1) for p in _positions(1_000, 250, 1)]
    values = np.full(1_000, fill, dtype=type_.to_pandas_dtype())
    for positions, v in parts:
        values[positions] = v
    got = sparse_column(1_000, parts, type_, fill)
    assert got.equals(
        pa.array(values, type=type_, mask=values == fill if fill == -1 else np.isnan(values))
    )
    assert got.null_count == 750


def test_demo_data_does_not_depend_on_the_sort_or_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packed = ecommerce(n_users=3_000, seed=4)
    monkeypatch.setattr(columnar, "_WORD_BITS", 0)  # every sort through np.lexsort
    monkeypatch.setattr("os.cpu_count", lambda: 1)  # one thread builds every column
    plain = ecommerce(n_users=3_000, seed=4)
    assert plain.events.equals(packed.events)
    pd.testing.assert_frame_equal(plain.users, packed.users)
