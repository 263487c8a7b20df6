"""The native Parquet reader against the pyarrow path on the same files: identical logs on random
files of every layout it takes, and, for every file it does not take, the error users always got.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench import _core
from workbench.exceptions import ColumnNotFoundError, EmptyLogError, NullValuesError

STEPS = ["e1", "e2", "e3"]


def _pyarrow_log(path: Path, **options) -> wb.EventLog:
    """The log from_parquet reads through pyarrow (its path for what the native reader declines)."""
    declined = classmethod(lambda cls, path, options: None)
    with mock.patch.object(wb.EventLog, "_from_parquet_natively", declined):
        return wb.EventLog.from_parquet(path, **options)


def _same_log(native: wb.EventLog, reference: wb.EventLog) -> None:
    assert native._source is None, "the native reader declined"
    for a, b in zip(native.encoded.encoded_rows(), reference.encoded.encoded_rows(), strict=True):
        assert a.equals(b)
    assert native.encoded.source_rows().equals(reference.encoded.source_rows())
    assert native.user_keys.equals(reference.user_keys)
    assert native.event_names == reference.event_names
    assert native.encoded.event_counts == reference.encoded.event_counts
    assert native.time_unit == reference.time_unit
    assert native.time_zone == reference.time_zone
    assert native.property_names == reference.property_names
    assert native.source.equals(reference.source)
    steps = [e for e in STEPS if e in reference.event_names] or reference.event_names[:1]
    funnel = wb.Funnel(steps, window="1h")
    assert funnel.run(native).level_counts() == funnel.run(reference).level_counts()


def _random_table(rng: np.random.Generator, n: int, case: int) -> pa.Table:
    users = rng.integers(-(10**12), 10**12, max(2, n // 7))
    keys = users[rng.integers(0, len(users), n)]
    names = np.array(["e1", "e2", "e3", "other", "zz", "a b", "é"])[rng.integers(0, 7, n)]
    times = rng.integers(0, 10_000, n) * [1, 7, 1000][case % 3]
    user_kind = case % 5
    if user_kind == 0:
        user = pa.array(keys, pa.int64())
    elif user_kind == 1:
        user = pa.array((keys % 2**31).astype(np.int32), pa.int32())
    elif user_kind == 2:
        user = pa.array(np.abs(keys).astype(np.uint64), pa.uint64())
    elif user_kind == 3:
        user = pa.array([f"u{k % 997}" for k in keys], pa.string())
    else:
        user = pa.array((keys % 200).astype(np.int16), pa.int16())
    unit = ["s", "ms", "us", "ns"][case % 4]
    tz = None if case % 2 else "Europe/Paris"
    time = pa.array(times, pa.timestamp(unit, tz=tz))
    event = pa.array(names, pa.string())
    if case % 3 == 0:
        event = event.dictionary_encode()
    return pa.table(
        {
            "user_id": user,
            "event": event,
            "ts": time,
            "price": pa.array(rng.random(n)),
        }
    )


@pytest.mark.parametrize("case", range(20))
def test_native_reader_gives_the_pyarrow_log_on_random_files(tmp_path: Path, case: int) -> None:
    rng = np.random.default_rng(case)
    n = int(rng.integers(1, 5_000))
    table = _random_table(rng, n, case)
    path = tmp_path / "events.parquet"
    pq.write_table(
        table,
        path,
        row_group_size=int(rng.integers(1, n + 1)),
        use_dictionary=bool(case % 4 != 1),
        compression=["snappy", "zstd", "none", "gzip", "lz4"][case % 5],
    )
    native = wb.EventLog.from_parquet(path, user="user_id", event="event", time="ts")
    _same_log(native, _pyarrow_log(path, user="user_id", event="event", time="ts"))


@pytest.mark.parametrize("spread", [2**62, 10**6, 50])
def test_large_files_with_plain_fallback_pages_match_pyarrow(tmp_path: Path, spread: int) -> None:
    """Enough rows for the sort's many buckets and long per-user runs, with every column's
    dictionary overflowing into plain pages part-way through each row group."""
    rng = np.random.default_rng(spread % 1000)
    n = 200_000
    users = rng.integers(-spread, spread, 20_000)
    table = pa.table(
        {
            "user_id": pa.array(users[rng.integers(0, len(users), n)], pa.int64()),
            "event": pa.array([f"event {i}" for i in rng.integers(0, 300, n)], pa.string()),
            "ts": pa.array(rng.integers(0, 50, n) * 1000, pa.timestamp("ms")),
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=70_000, dictionary_pagesize_limit=512)
    encodings = pq.ParquetFile(path).metadata.row_group(0).column(1).encodings
    assert "PLAIN" in encodings and "RLE_DICTIONARY" in encodings
    native = wb.EventLog.from_parquet(path, user="user_id", event="event", time="ts")
    _same_log(native, _pyarrow_log(path, user="user_id", event="event", time="ts"))


def test_a_directory_of_files_is_read_in_pyarrows_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    folder = tmp_path / "events"
    (folder / "nested").mkdir(parents=True)
    for i, name in enumerate(["b.parquet", "a.parquet", "nested/c.parquet", "_ignored.parquet"]):
        table = _random_table(rng, 300 + i, 0)
        pq.write_table(table, folder / name, row_group_size=100)
    native = wb.EventLog.from_parquet(folder, user="user_id", event="event", time="ts")
    reference = wb.EventLog(pq.read_table(folder, read_dictionary=["event"]))
    _same_log(native, reference)


def test_integer_epochs_with_a_unit_and_nullable_columns_without_nulls(tmp_path: Path) -> None:
    table = pa.table(
        {
            "user_id": pa.array([3, 1, 3, 2, 1], pa.int64()),
            "event": pa.array(["e1", "e2", "e2", "e1", "e3"]),
            "time": pa.array([5, 1, 6, 2, 3], pa.int64()),
        },
        schema=pa.schema(
            [
                pa.field("user_id", pa.int64(), nullable=True),
                pa.field("event", pa.string(), nullable=True),
                pa.field("time", pa.int64(), nullable=True),
            ]
        ),
    )
    path = tmp_path / "epochs.parquet"
    pq.write_table(table, path)
    native = wb.EventLog.from_parquet(path, time_unit="s")
    _same_log(native, _pyarrow_log(path, time_unit="s"))


def test_drop_nulls_reads_natively_and_matches(tmp_path: Path) -> None:
    table = pa.table(
        {
            "user_id": pa.array([1, None, 2, 2]),
            "event": pa.array(["e1", "e2", None, "e2"]),
            "ts": pa.array([1, 2, 3, None], pa.timestamp("s")),
        }
    )
    path = tmp_path / "nulls.parquet"
    pq.write_table(table, path)
    native = wb.EventLog.from_parquet(path, drop_nulls=True)
    _same_log(native, _pyarrow_log(path, drop_nulls=True))
    assert native.dropped_rows == 3


def _error_of(call) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


def _declines(path: Path, **options) -> None:
    """The native reader refuses the file, and from_parquet raises what the pyarrow path does."""
    files = [str(path)] if path.is_file() else sorted(str(p) for p in path.rglob("*.parquet"))
    if files:
        names = (
            options.get("user", "user_id"),
            options.get("event", "event"),
            options.get("time", "ts"),
        )
        native, why = _core.encode_parquet(files, names=names)
        assert native is None and why
    got = _error_of(lambda: wb.EventLog.from_parquet(path, **options))
    expected = _error_of(lambda: _pyarrow_log(path, **options))
    assert got == expected


GOOD = pa.table(
    {
        "user_id": pa.array([1, 2, 1]),
        "event": pa.array(["e1", "e2", "e3"]),
        "ts": pa.array([1, 2, 3], pa.timestamp("ms", tz="UTC")),
    }
)


def test_corrupt_footer(tmp_path: Path) -> None:
    path = tmp_path / "good.parquet"
    pq.write_table(GOOD, path)
    data = path.read_bytes()
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(data[:-12] + b"\0" * 8 + b"PAR1")
    _declines(broken)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 not really a parquet file")
    _declines(garbage)


def test_directory_without_parquet_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyLogError):
        wb.EventLog.from_parquet(empty)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "notes.txt").write_text("not parquet")
    expected = _error_of(lambda: _pyarrow_log(texts))
    assert _error_of(lambda: wb.EventLog.from_parquet(texts)) == expected


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "no_event.parquet"
    pq.write_table(GOOD.drop(["event"]), path)
    with pytest.raises(ColumnNotFoundError, match="no event column found"):
        wb.EventLog.from_parquet(path)
    _declines(path, event="action")


def test_nullable_user_column_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "null_users.parquet"
    pq.write_table(GOOD.set_column(0, "user_id", pa.array([1, None, 2])), path)
    _declines(path)
    with pytest.raises(NullValuesError, match="column 'user_id' has 1 null value"):
        wb.EventLog.from_parquet(path)


def test_wrong_types_keep_their_messages(tmp_path: Path) -> None:
    path = tmp_path / "int_events.parquet"
    pq.write_table(GOOD.set_column(1, "event", pa.array([1, 2, 3])), path)
    _declines(path)
    path = tmp_path / "epochs_without_unit.parquet"
    pq.write_table(GOOD.set_column(2, "ts", pa.array([1, 2, 3])), path)
    _declines(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(GOOD.slice(0, 0), path)
    with pytest.raises(EmptyLogError):
        wb.EventLog.from_parquet(path)


def test_partitioned_directories_go_through_pyarrow(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    pq.write_to_dataset(GOOD.append_column("day", pa.array(["a", "b", "a"])), folder, ["day"])
    log = wb.EventLog.from_parquet(folder)
    assert log._source is not None
    assert "day" in log.property_names


def test_properties_are_read_when_first_used(tmp_path: Path) -> None:
    path = tmp_path / "props.parquet"
    pq.write_table(GOOD.append_column("platform", pa.array(["ios", "web", "ios"])), path)
    log = wb.EventLog.from_parquet(path)
    assert log._source is None
    assert log.property_names == ["platform"]
    result = wb.Funnel(["e1", "e3"], window="1h").run(log)
    table = result.breakdown("platform")
    assert table.loc[table["step"] == 1, "platform"].tolist() == ["ios"]
    assert os.fspath(log._parquet[0]) == os.fspath(path)
