"""Loading an event log from a bad frame or file gives a workbench error that names the column,
file, line or value and says what to do, never a raw pandas, pyarrow or OS exception."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench import exceptions as ex


def test_duplicate_column_names_in_a_dataframe_are_named(shop_df) -> None:
    frame = shop_df.copy()
    frame.columns = ["user_id", "event", "time", "price", "price"]
    with pytest.raises(ex.SchemaError) as err:
        wb.EventLog(frame)
    assert str(err.value) == (
        "the DataFrame has 2 columns named 'price' (positions 3 and 4); rename or drop one first"
    )


def test_duplicate_column_names_in_an_arrow_table_are_named(shop_df) -> None:
    table = pa.Table.from_pandas(shop_df, preserve_index=False)
    table = table.append_column("user_id", table.column("user_id"))
    with pytest.raises(ex.SchemaError, match=r"2 columns named 'user_id' \(positions 0 and 5\)"):
        wb.EventLog(table)


def test_object_column_mixing_integers_and_strings_is_named_with_its_rows(shop_df) -> None:
    frame = shop_df.copy()
    frame["user_id"] = pd.Series([1, 1, 1, "two", 2, 3, 3, 4], dtype=object)
    with pytest.raises(ex.SchemaError) as err:
        wb.EventLog(frame)
    message = str(err.value)
    assert "column 'user_id' mixes values of several kinds" in message
    assert "int at row 0: 1" in message and "str at row 3: 'two'" in message
    assert "df['user_id'] = df['user_id'].astype(str)" in message


def test_mixed_property_column_is_refused_too(shop_df) -> None:
    frame = shop_df.assign(coupon=pd.Series([5, "SPRING", None, 5, 5, 5, 5, 5], dtype=object))
    with pytest.raises(ex.SchemaError, match=r"column 'coupon' mixes .*str at row 1: 'SPRING'"):
        wb.EventLog(frame)


@pytest.fixture
def parquet_file(shop_df, tmp_path: Path) -> Path:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(shop_df, preserve_index=False), path)
    return path


def test_parquet_file_with_a_corrupt_footer_is_named(parquet_file: Path) -> None:
    data = parquet_file.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little")
    # The footer's length and magic survive; the metadata they point at is overwritten.
    parquet_file.write_bytes(data[: -8 - footer] + b"\xff" * footer + data[-8:])
    with pytest.raises(ex.CorruptDataError) as err:
        wb.EventLog.from_parquet(parquet_file)
    message = str(err.value)
    assert f"'{parquet_file}' ({len(data):,} bytes) is not a readable Parquet file" in message
    assert "written or copied completely" in message


def test_cut_off_parquet_file_is_named(parquet_file: Path) -> None:
    parquet_file.write_bytes(parquet_file.read_bytes()[:100])
    with pytest.raises(ex.CorruptDataError, match=r"\(100 bytes\) is not a readable Parquet"):
        wb.EventLog.from_parquet(parquet_file)


def test_directory_with_no_parquet_files_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")  # what Spark leaves behind; Arrow skips it
    with pytest.raises(ex.EmptyLogError) as err:
        wb.EventLog.from_parquet(folder)
    assert str(err.value) == (
        f"the directory '{folder}' holds no Parquet files; give the path of a Parquet file or "
        "of a directory of them"
    )


def test_directory_holding_a_file_that_is_not_parquet_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("not parquet")
    with pytest.raises(ex.CorruptDataError, match=r"notes\.txt"):
        wb.EventLog.from_parquet(folder)


def test_directory_of_parquet_files_loads(parquet_file: Path, shop_df) -> None:
    assert wb.EventLog.from_parquet(parquet_file.parent).n_users == shop_df["user_id"].nunique()


def test_missing_files_are_named_and_still_file_not_found(tmp_path: Path) -> None:
    for load, what in ((wb.EventLog.from_parquet, "Parquet"), (wb.EventLog.from_csv, "CSV")):
        with pytest.raises(ex.MissingFileError, match=f"no {what} file at '.*nope'") as err:
            load(tmp_path / "nope")
        assert isinstance(err.value, FileNotFoundError)


def test_non_utf8_csv_names_line_column_and_the_encoding_fix(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    text = "user_id,event,time\n1,view,2026-01-01T10:00:00\n2,café_visit,2026-01-01T11:00:00\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ex.SchemaError) as err:
        wb.EventLog.from_csv(path)
    message = str(err.value)
    assert "column 'event' is not utf-8 text (byte 0xe9 on line 3, column 6)" in message
    assert "EventLog.from_csv(path, encoding='latin-1')" in message
    log = wb.EventLog.from_csv(path, encoding="latin-1")
    assert log.event_names == ["café_visit", "view"]


def test_unknown_csv_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user_id,event,time\n1,view,2026-01-01T10:00:00\n")
    with pytest.raises(ex.ArgumentError, match=r"encoding='latin-9x' is not a text encoding"):
        wb.EventLog.from_csv(path, encoding="latin-9x")


def test_csv_with_a_ragged_row_names_the_file_and_the_row(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user_id,event,time\n1,view,2026-01-01T10:00:00,extra\n")
    with pytest.raises(ex.CorruptDataError) as err:
        wb.EventLog.from_csv(path)
    message = str(err.value)
    assert f"'{path}'" in message and "Expected 3 columns, got 4" in message
    assert "1,view,2026-01-01T10:00:00,extra" in message  # the row, as Arrow quotes it
    assert "every line has the header's columns" in message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_unit": "sec"}, r"time_unit is the unit of integer epochs: one of 's', 'ms'"),
        ({"time_unit": 1000}, r"time_unit .* got 1000"),
        ({"drop_nulls": "yes"}, r"drop_nulls= is True or False; got 'yes'"),
        ({"user": 0}, r"user= names a column; got 0"),
        ({"plausible_times": "2026"}, r"plausible_times is a span \(start, end\)"),
    ],
)
def test_load_options_of_the_wrong_kind_are_named(shop_df, options, message) -> None:
    with pytest.raises(ex.ArgumentError, match=message):
        wb.EventLog(shop_df, **options)


def test_user_keys_beyond_64_bits_in_a_frame_are_named_with_their_row(shop_df) -> None:
    frame = shop_df.copy()
    frame["user_id"] = pd.Series([1, 1, 1, 2**64, 2, 3, 3, 4], dtype=object)
    with pytest.raises(ex.SchemaError) as err:
        wb.EventLog(frame)
    message = str(err.value)
    assert "column 'user_id' holds an integer beyond 64 bits at row 3 (18446744073709551616)" in (
        message
    )
    assert "keep such values as text" in message
