"""Fuzzing the file readers with hostile bytes: CSV text, Parquet files and bitmap bytes (every
format), mutated from valid ones or made up. Each call runs in a worker process, so a crash or a
hang fails the example instead of pytest; the property is fuzz_harness's: a correct result or a
WorkbenchError within the time bound."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyroaring
import pytest
from fuzz_harness import Isolated, check
from fuzz_targets import BITMAP_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: a failure in CI replays locally
)


@pytest.fixture(scope="module")
def worker() -> Iterator[Isolated]:
    isolated = Isolated()
    yield isolated
    isolated.close()


def mutations(base: bytes, payload: tuple[int, int] | None = None) -> st.SearchStrategy[bytes]:
    """``base`` with a few bytes flipped, overwritten, inserted or cut: mostly still shaped
    like the format, so the reader gets past its first check. Single-byte changes fall in
    ``payload`` (the data, past headers and before footers) when given, so that many files
    still read and hand hostile values to the engine."""
    size = len(base)
    low, high = payload or (0, size)
    edit = st.one_of(
        st.tuples(st.just("set"), st.integers(low, high - 1), st.integers(0, 255)),
        st.tuples(st.just("set"), st.integers(low, high - 1), st.integers(0, 255)),
        st.tuples(st.just("insert"), st.integers(0, size), st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("cut"), st.integers(0, size), st.integers(1, 64)),
        st.tuples(st.just("truncate"), st.integers(0, size)),
        st.tuples(
            st.just("int32"), st.integers(0, max(size - 4, 0)), st.integers(-(2**31), 2**31 - 1)
        ),
    )

    def apply(edits: list[tuple]) -> bytes:
        data = bytearray(base)
        for kind, at, *rest in edits:
            at = min(at, len(data))
            if kind == "set" and at < len(data):
                data[at] = rest[0]
            elif kind == "insert":
                data[at:at] = rest[0]
            elif kind == "cut":
                del data[at : at + rest[0]]
            elif kind == "truncate":
                del data[at:]
            elif kind == "int32":
                data[at : at + 4] = rest[0].to_bytes(4, "little", signed=True)
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=4).map(apply)


# -- CSV -------------------------------------------------------------------------------------

_FIELDS = st.one_of(
    st.sampled_from(["view", "cart", "pay", "", "NaN", "null", "2026-01-01T10:00:00"]),
    st.sampled_from(["2026-13-45T00:00:00", "9999-12-31T00:00:00", "0001-01-01", "1e400"]),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),
    st.sampled_from(['"unclosed', 'a"b', "caf\udce9", "\x00", "é", "\t", ";"]),
)
_HEADERS = st.lists(
    st.sampled_from(["user_id", "event", "time", "price", "ts", "", "é", "user_id"]),
    min_size=1,
    max_size=5,
)


_TIMES = st.one_of(
    st.datetimes(dt.datetime(1800, 1, 1), dt.datetime(2300, 1, 1)).map(lambda t: t.isoformat()),
    st.sampled_from(["2026-01-01T10:00:00", "2026-01-01T10:00:00Z", "2026-01-01", ""]),
)


@st.composite
def event_csv(draw: st.DrawFn) -> bytes:
    """A CSV shaped like an event log, with hostile values where the types allow them."""
    rows = draw(
        st.lists(
            st.tuples(
                st.one_of(st.integers(-5, 5), st.integers(-(2**64), 2**64)).map(str),
                st.sampled_from(["view", "cart", "pay", "", "é", "a,b"]),
                _TIMES,
                st.one_of(st.floats(allow_nan=True).map(str), st.just("")),
            ),
            min_size=1,
            max_size=8,
        )
    )
    lines = ["user_id,event,time,price"]
    lines += [",".join(f'"{v}"' if "," in v else v for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(_HEADERS)
    width = len(header)
    rows = draw(
        st.lists(st.lists(_FIELDS, min_size=max(width - 1, 0), max_size=width + 1), max_size=6)
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(",".join(fields) for fields in [header, *rows]) + newline
    raw = text.encode("utf-8", errors="surrogateescape")  # \udce9 becomes the byte 0xe9
    return draw(st.one_of(st.just(raw), mutations(raw))) if len(raw) > 4 else raw


def _good_csv() -> bytes:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3],
            "event": ["view", "pay", "view", "view"],
            "time": [
                "2026-01-01T10:00:00",
                "2026-01-01T10:05:00",
                "2026-01-02T09:00:00",
                "2026-01-03T00:00:00",
            ],
        }
    )
    return frame.to_csv(index=False).encode()


@settings(FUZZ, max_examples=80)
@given(
    st.one_of(event_csv(), event_csv(), csv_bytes(), mutations(_good_csv())),
    st.fixed_dictionaries(
        {},
        optional={
            "encoding": st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii"]),
            "time_unit": st.sampled_from(["s", "ms"]),
            "drop_nulls": st.booleans(),
        },
    ),
)
def test_any_csv_bytes_load_correctly_or_are_refused(worker, data, options) -> None:
    check(worker.run("fuzz_targets", "load_csv", data, options))


def test_the_good_csv_loads_and_counts(worker) -> None:
    # Steps are the event names in order (pay, view): only user 1 did pay, and no view after.
    assert check(worker.run("fuzz_targets", "load_csv", _good_csv(), {})) == [2, 1, 0]


# -- Parquet ---------------------------------------------------------------------------------


def _parquet(compression: str) -> bytes:
    """A small log as Parquet; enough rows that the data pages outweigh the footer."""
    n = 300
    table = pa.table(
        {
            "user_id": pa.array([i // 3 for i in range(n)], pa.int64()),
            "event": pa.array(
                [("view", "cart", "pay")[i % 3] for i in range(n)]
            ).dictionary_encode(),
            "time": pa.array([i * 60 for i in range(n)], pa.int64()).cast(pa.timestamp("s")),
            "price": pa.array([float(i % 7) if i % 5 else None for i in range(n)]),
            "platform": pa.array([("ios", "web", None)[i % 3] for i in range(n)]),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    return sink.getvalue()


def _payload(data: bytes) -> tuple[int, int]:
    """Where a Parquet file's pages are: after the magic, before the footer."""
    footer = int.from_bytes(data[-8:-4], "little")
    return 4, len(data) - 8 - footer


PARQUET = {"none": _parquet("none"), "snappy": _parquet("snappy")}


@settings(FUZZ, max_examples=100)
@given(
    st.one_of(
        mutations(PARQUET["none"], _payload(PARQUET["none"])),
        mutations(PARQUET["snappy"], _payload(PARQUET["snappy"])),
        mutations(PARQUET["none"]),
        st.binary(max_size=64).map(lambda b: b"PAR1" + b + b"PAR1"),
    )
)
def test_any_parquet_bytes_load_correctly_or_are_refused(worker, data) -> None:
    check(worker.run("fuzz_targets", "load_parquet", data))


def test_the_good_parquet_loads_and_counts(worker) -> None:
    # 1970 data: epoch seconds from zero, inside the plausible span.
    # Steps cart, pay, view (names in order); every user views, then carts and pays: level 2.
    assert check(worker.run("fuzz_targets", "load_parquet", PARQUET["none"])) == [0, 0, 100, 0]


# -- bitmaps ---------------------------------------------------------------------------------

FORMATS = ["portable", "clickhouse", "doris", "starrocks"]


def _bitmaps() -> list[tuple[str, bytes]]:
    """Valid bitmaps of every format, each with the format it is in."""
    log_keys = pd.DataFrame(
        {"user_id": BITMAP_KEYS, "event": "visit", "time": pd.Timestamp("2026-01-01")}
    )
    log = wb.EventLog(log_keys)
    everyone = wb.Audience.all(log)
    small = wb.Audience.from_keys(log, BITMAP_KEYS[:5])
    out = [(f, a.to_bytes(f)) for a in (everyone, small) for f in FORMATS]
    dense = pyroaring.BitMap(range(0, 65_536, 2))  # a bitmap container
    runs = pyroaring.BitMap(range(1000, 9000))
    runs.run_optimize()  # a run container
    wide = pyroaring.BitMap64([2**40, 3])
    out += [("portable", b.serialize()) for b in (dense, runs, wide)]
    return out


BITMAPS = _bitmaps()


@st.composite
def bitmap_case(draw: st.DrawFn) -> tuple[bytes, str]:
    format, base = draw(st.sampled_from(BITMAPS))
    data = draw(st.one_of(mutations(base), st.just(base), st.binary(max_size=48)))
    # Now and then the bytes of one format are read as another.
    return data, draw(st.one_of(st.just(format), st.sampled_from(FORMATS)))


@settings(FUZZ, max_examples=150)
@given(bitmap_case(), st.sampled_from([None, None, 32, 64]), st.sampled_from(["error", "ignore"]))
def test_any_bitmap_bytes_read_correctly_or_are_refused(worker, case, bits, missing) -> None:
    data, format = case
    check(worker.run("fuzz_targets", "read_bitmap", data, format, bits, missing))


def _saved() -> list[bytes]:
    log = wb.EventLog(
        pd.DataFrame({"user_id": BITMAP_KEYS, "event": "visit", "time": pd.Timestamp("2026-01-01")})
    )
    store = wb.TagStore(log)
    store.add("first", wb.Audience.from_keys(log, BITMAP_KEYS[:3]))
    store.add("last", wb.Audience.from_keys(log, BITMAP_KEYS[-3:]))
    with tempfile.TemporaryDirectory() as folder:
        wb.Audience.from_keys(log, BITMAP_KEYS[:4], name="four").save(Path(folder, "a.fwb"))
        store.save(Path(folder, "t.fwb"))
        return [Path(folder, "a.fwb").read_bytes(), Path(folder, "t.fwb").read_bytes()]


SAVED = _saved()


@settings(FUZZ, max_examples=60)
@given(
    st.one_of(st.sampled_from(SAVED).flatmap(mutations), st.binary(max_size=48)),
    st.sampled_from(["audience", "tags"]),
)
def test_any_saved_audience_or_tag_bytes_load_correctly_or_are_refused(worker, data, kind) -> None:
    check(worker.run("fuzz_targets", "load_saved", data, kind))


def test_the_worker_reports_a_crash_and_a_hang_as_failures(worker) -> None:
    """The harness itself: a killed worker is a crash, a call that does not return a hang, and
    the worker comes back for the next example."""
    crashed = worker.run("os", "abort")
    assert crashed.kind == "crashed" and "killed the process" in crashed.detail
    hung = worker.run("time", "sleep", 60, wait=1.0)
    assert hung.kind == "hung" and "did not return" in hung.detail
    format, data = BITMAPS[0]
    assert check(worker.run("fuzz_targets", "read_bitmap", data, format, None, "error")) > 0
