"""An event log loads from every source an analyst has, with the same result."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb

FUNNEL = wb.Funnel(["view", "cart", "pay"], window="1d")


def expected_counts(log: wb.EventLog) -> list[int]:
    return FUNNEL.run(log).level_counts()


def test_pandas_polars_arrow_duckdb_parquet_csv_agree(shop_df, tmp_path) -> None:
    reference = expected_counts(wb.EventLog(shop_df))
    assert reference == [1, 1, 1, 1]
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    pq.write_table(table, tmp_path / "events.parquet")
    shop_df.to_csv(tmp_path / "events.csv", index=False)
    sources = {
        "polars": pl.from_pandas(shop_df),
        "arrow table": table,
        "record batch": table.to_batches()[0],
        "duckdb relation": duckdb.from_arrow(table),
        "capsule": _CapsuleOnly(table),
    }
    for name, data in sources.items():
        assert expected_counts(wb.EventLog(data)) == reference, name
    assert expected_counts(wb.EventLog.from_parquet(tmp_path / "events.parquet")) == reference
    assert expected_counts(wb.EventLog.from_csv(tmp_path / "events.csv")) == reference


class _CapsuleOnly:
    """An object that speaks only the Arrow PyCapsule stream protocol."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Shanghai"])
def test_timestamps_of_any_unit_and_zone(shop_df, unit, tz) -> None:
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    times = table.column("time").cast(
        pa.timestamp(unit, tz=tz) if tz is None else pa.timestamp(unit)
    )
    if tz is not None:
        times = pa.chunked_array([c.cast(pa.timestamp(unit, tz=tz)) for c in times.chunks])
    table = table.set_column(table.schema.get_field_index("time"), "time", times)
    log = wb.EventLog(table)
    assert log.time_unit == unit
    assert expected_counts(log) == [1, 1, 1, 1]
    first, _ = log.time_range
    assert str(first.tz) == str(tz) if tz else first.tz is None


@pytest.mark.parametrize("unit,scale", [("s", 1), ("ms", 1_000), ("us", 1_000_000)])
def test_integer_epochs_with_a_stated_unit(shop_df, unit, scale) -> None:
    df = shop_df.copy()
    df["time"] = (df["time"] - pd.Timestamp(0)) // pd.Timedelta(1, "s") * scale
    log = wb.EventLog(df, time_unit=unit)
    assert expected_counts(log) == [1, 1, 1, 1]
    assert log.time_range[0] == pd.Timestamp("2026-01-01 09:00")


def test_string_keys_come_back_as_given(shop_df) -> None:
    df = shop_df.assign(user_id=shop_df["user_id"].map(lambda u: f"user-{u}"))
    result = FUNNEL.run(wb.EventLog(df))
    assert result.levels.to_dict() == {"user-1": 3, "user-2": 1, "user-3": 2, "user-4": 0}


def test_dictionary_and_large_string_columns(shop_df) -> None:
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    index = table.schema.get_field_index("event")
    as_dict = table.set_column(index, "event", table.column("event").dictionary_encode())
    as_large = table.set_column(index, "event", table.column("event").cast(pa.large_string()))
    assert expected_counts(wb.EventLog(as_dict)) == [1, 1, 1, 1]
    assert expected_counts(wb.EventLog(as_large)) == [1, 1, 1, 1]


def test_multi_chunk_columns_keep_row_order(shop_df) -> None:
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    chunked = pa.concat_tables([table.slice(0, 3), table.slice(3)])
    assert chunked.column("event").num_chunks == 2
    result = wb.Funnel([wb.Step("view", where=wb.col("platform") == "web"), "cart"]).run(
        wb.EventLog(chunked)
    )
    assert result.levels.to_dict() == {1: 0, 2: 1, 3: 2, 4: 0}


def test_summary_facts(shop_log) -> None:
    assert len(shop_log) == 8
    assert shop_log.n_users == 4
    assert shop_log.users.tolist() == [1, 2, 3, 4]
    assert shop_log.event_counts.to_dict() == {"view": 3, "cart": 3, "pay": 1, "search": 1}
    assert shop_log.property_names == ["platform", "price"]
    assert shop_log.time_range == (
        pd.Timestamp("2026-01-01 09:00"),
        pd.Timestamp("2026-01-03 09:00"),
    )
    assert "8 events, 4 users" in repr(shop_log)
    assert "<table>" in shop_log._repr_html_()


def test_columns_found_by_common_names() -> None:
    df = pd.DataFrame(
        {
            "distinct_id": ["a"],
            "event_name": ["x"],
            "timestamp": [dt.datetime(2026, 1, 1)],
            "session_id": ["s1"],
        }
    )
    log = wb.EventLog(df)
    assert (log.user_column, log.event_column, log.time_column, log.session_column) == (
        "distinct_id",
        "event_name",
        "timestamp",
        "session_id",
    )


def test_unsorted_input_sorts_by_user_then_time() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 50, n),
            "event": rng.choice(["a", "b"], n),
            "time": pd.to_datetime(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    sorted_result = wb.Funnel(["a", "b"], window="1h").run(
        wb.EventLog(df.sort_values(["user_id", "time"]))
    )
    shuffled_result = wb.Funnel(["a", "b"], window="1h").run(
        wb.EventLog(df.sample(frac=1, random_state=1))
    )
    assert sorted_result.level_counts() == shuffled_result.level_counts()
