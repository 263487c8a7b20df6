"""Audiences and tag stores from Spark tables, built where the rows are.

Each task turns its partition's user keys into one Roaring bitmap of the original keys (the
portable 64-bit format; a few bytes per thousand users where keys are dense), or into an Arrow
array of keys when they are text or negative (Roaring holds non-negative integers); the driver
merges them onto the id space of a log — a :class:`~workbench.spark.SparkEventLog` of a Spark
result, or any local :class:`~workbench.EventLog` — so only members cross the network, compressed.

A tag store is built the same way: each task runs :meth:`~workbench.TagStore.from_table` on its
rows (the same tags, bins and conditions as locally) and sends one bitmap per tag; the driver
merges them in the local store's order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import types as st

import workbench
from workbench._names import did_you_mean, listing
from workbench.audience import Audience, TagStore, value_order
from workbench.exceptions import ArgumentError, AudienceError, ColumnNotFoundError
from workbench.log import EventLog
from workbench.predicates import Predicate
from workbench.spark.columns import arrow_schema, arrow_type, check_columns
from workbench.spark.environment import map_in_arrow, worker_error
from workbench.spark.kernel import check_version, one_thread
from workbench.spark.log import SparkEventLog

__all__ = ["audience", "key_payload", "merge_payloads", "tag_store"]

_ALL = -1  # the family of the payload listing every key of a partition
_PAYLOAD = st.StructType(
    [
        st.StructField("family", st.IntegerType(), False),
        st.StructField("name", st.StringType(), True),
        st.StructField("kind", st.StringType(), False),
        st.StructField("payload", st.BinaryType(), False),
        st.StructField("rows", st.LongType(), False),
    ]
)


def key_payload(keys: pa.Array) -> tuple[str, bytes]:
    """Distinct user keys as ``("bitmap", portable 64-bit Roaring bytes)`` when they are
    non-negative integers, else ``("keys", Arrow IPC bytes)``.

    >>> key_payload(pa.array([5, 3, 5]))[0], key_payload(pa.array(["a"]))[0]
    ('bitmap', 'keys')
    """
    distinct = pc.unique(keys)
    if pa.types.is_integer(distinct.type) and (len(distinct) == 0 or pc.min(distinct).as_py() >= 0):
        space = SparkEventLog.of_users(distinct)
        return "bitmap", Audience.all(space).to_bytes("portable", bits=64)
    sink = pa.BufferOutputStream()
    table = pa.table({"key": distinct})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return "keys", sink.getvalue().to_pybytes()


def merge_payloads(
    log: EventLog,
    payloads: Iterable[tuple[str, bytes]],
    *,
    missing: Literal["error", "ignore"] = "error",
    name: str | None = None,
) -> Audience:
    """The users of ``log`` in any of the payloads (see :func:`key_payload`); keys the log lacks
    raise :class:`AudienceError` unless ``missing="ignore"``.

    >>> merge_payloads(log, [key_payload(pa.array([1, 2])), key_payload(pa.array([2, 6]))])
    Audience(3 of 6 users)
    """
    merged = Audience.empty(log)
    texts = []
    for kind, payload in payloads:
        if kind == "bitmap":
            merged = merged | Audience.from_bytes(
                log, payload, "portable", bits=64, missing=missing
            )
        else:
            texts.append(pa.ipc.open_stream(payload).read_all().column("key"))
    if texts:
        keys = pc.unique(pa.chunked_array(texts).combine_chunks())
        known = log.user_keys
        if pa.types.is_integer(known.type) != pa.types.is_integer(keys.type):
            raise AudienceError(
                f"the log's user keys are {known.type} but the keys given are {keys.type}"
            )
        if pa.types.is_integer(known.type):
            keys = keys.cast(known.type)
        absent = keys.filter(pc.invert(pc.is_in(keys, value_set=known)))
        if len(absent) and missing != "ignore":
            shown = ", ".join(repr(k) for k in absent.slice(0, 5).to_pylist())
            raise AudienceError(
                f"{len(absent)} user key(s) are not in the event log, e.g. {shown}; pass "
                "missing='ignore' to drop them"
            )
        flags = pc.is_in(known, value_set=keys).to_numpy(zero_copy_only=False)
        merged = merged | Audience.from_mask(log, flags)
    return merged.named(name) if name is not None else Audience(log, merged.bitmap, None)


def audience(
    log: EventLog,
    df: DataFrame,
    *,
    key: str | None = None,
    name: str | None = None,
    missing: Literal["error", "ignore"] = "error",
) -> Audience:
    """The users of ``log`` whose keys are in column ``key`` of a Spark DataFrame (default: the
    log's user column), built per partition as bitmaps and merged on the driver. Filter the
    frame first: ``audience(result.log, outcome_frame.where("level >= 2"))``.
    """
    if missing not in ("error", "ignore"):
        raise ArgumentError(f"missing= is 'error' or 'ignore'; got {missing!r}")
    column = _key_column(log, df, key)
    frame = map_in_arrow(
        df.select(column), partial(_key_partition, workbench.__version__, column), _PAYLOAD
    )
    rows = _collect(frame)
    return merge_payloads(log, _payloads(rows), missing=missing, name=name)


@dataclass(frozen=True)
class TagTask:
    """What a tag-building task needs: the key column and the tags to build."""

    version: str
    key: str
    categorical: tuple[str, ...]
    bins: dict[str, list[float]]
    predicates: dict[str, Any]


def tag_store(
    log: EventLog,
    users: DataFrame,
    *,
    key: str | None = None,
    categorical: Iterable[str] = (),
    bins: Mapping[str, Sequence[float]] | None = None,
    predicates: Mapping[str, Predicate | Callable[[Any], Any]] | None = None,
) -> TagStore:
    """:meth:`TagStore.from_table <workbench.TagStore.from_table>` over a Spark table of user
    attributes: the same tag names, in the same order, with the same members. ``predicates``
    take ``wb.col(...)`` conditions, or functions of a pandas DataFrame (one partition's rows)
    returning one flag per row. Rows whose key is not a user of ``log`` are counted in
    ``store.skipped_rows``.
    """
    column = _key_column(log, users, key)
    categorical = tuple(categorical)
    edges_of = {c: [float(e) for e in edges] for c, edges in (bins or {}).items()}
    predicates = dict(predicates or {})
    for label, condition in predicates.items():
        if not (isinstance(condition, Predicate) or callable(condition)):
            raise ArgumentError(
                f"the condition of tag {label!r} is a wb.col(...) condition or a function of a "
                f"pandas DataFrame on a Spark table; got {type(condition).__name__}"
            )
    read = sorted(
        set(categorical)
        | set(edges_of)
        | {c for p in predicates.values() if isinstance(p, Predicate) for c in p.columns()}
    )
    check_columns(users.schema, "property", read)
    needed = [column, *[c for c in read if c != column]]
    # The same checks and names as locally, on no rows, before any task runs.
    empty = arrow_schema(users.select(*needed).schema).empty_table()
    scratch = TagStore(log)
    bin_names = {c: scratch.add_bins(empty, c, e, key=column) for c, e in edges_of.items()}
    for label, condition in predicates.items():
        if isinstance(condition, Predicate):
            scratch.add_predicate(label, empty, condition, key=column)
    schema = st.StructType(
        _PAYLOAD.fields
        + [
            st.StructField(f"value_{i}", users.schema[c].dataType, True)
            for i, c in enumerate(categorical)
        ]
    )
    task = TagTask(workbench.__version__, column, categorical, edges_of, predicates)
    frame = map_in_arrow(users.select(*needed), partial(_tag_partition, task), schema)
    table = _collect(frame)
    families = defaultdict(list)
    for row in table.to_pylist():
        families[row["family"]].append(row)
    store = TagStore(log)
    everyone = merge_payloads(log, _payloads(families[_ALL]), missing="ignore")
    for index in range(len(categorical)):
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        values: dict[str, Any] = {}
        for row in families[index]:
            by_name[row["name"]].append(row)
            values[row["name"]] = row[f"value_{index}"]
        names = list(values)
        for position in value_order([values[n] for n in names]):
            label = names[position]
            store.add(label, _members(log, by_name[label], label))
    offset = len(categorical)
    by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in families[offset]:
        by_tag[row["name"]].append(row)
    for label in [*(n for c in edges_of for n in bin_names[c]), *predicates]:
        store.add(label, _members(log, by_tag[label], label))
    store.skipped_rows = int(sum(r["rows"] for r in families[_ALL])) - len(everyone)
    return store


# -- inside the tasks ------------------------------------------------------------------------


def _key_partition(
    version: str, column: str, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    check_version(version)
    one_thread()
    received = list(batches)
    if not received:
        return
    keys = pa.Table.from_batches(received).column(column)
    if keys.null_count:
        raise AudienceError(f"the key column {column!r} has {keys.null_count} null(s)")
    kind, payload = key_payload(keys.combine_chunks())
    yield _payload_batch([(_ALL, None, kind, payload, len(keys))])


def _tag_partition(task: TagTask, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    check_version(task.version)
    one_thread()
    received = list(batches)
    if not received or sum(b.num_rows for b in received) == 0:
        return
    table = pa.Table.from_batches(received)
    keys = table.column(task.key)
    if keys.null_count:
        raise AudienceError(f"the key column {task.key!r} has {keys.null_count} null(s)")
    space = SparkEventLog.of_users(keys, user_column=task.key)
    store = TagStore(space)
    rows: list[tuple[int, str | None, str, bytes, int]] = []
    values: list[dict[int, Any]] = []
    kind, payload = key_payload(keys.combine_chunks())
    rows.append((_ALL, None, kind, payload, table.num_rows))
    values.append({})
    for index, column in enumerate(task.categorical):
        names = store.add_categorical(table, column, key=task.key)
        distinct = pc.unique(table.column(column).combine_chunks()).drop_null().to_pylist()
        ordered = [distinct[i] for i in value_order(distinct)]
        for label, value in zip(names, ordered, strict=True):
            rows.append((index, label, *key_payload(store[label].keys()), 0))
            values.append({index: value})
    offset = len(task.categorical)
    named = [n for c, e in task.bins.items() for n in store.add_bins(table, c, e, key=task.key)]
    for label, condition in task.predicates.items():
        named.append(store.add_predicate(label, table, condition, key=task.key))
    for label in named:
        rows.append((offset, label, *key_payload(store[label].keys()), 0))
        values.append({})
    batch = _payload_batch(rows)
    for index, column in enumerate(task.categorical):
        kind_of = table.schema.field(column).type
        column_values = pa.array([v.get(index) for v in values], type=kind_of)
        batch = batch.append_column(f"value_{index}", column_values)
    yield batch


def _payload_batch(rows: list[tuple[int, str | None, str, bytes, int]]) -> pa.RecordBatch:
    family, name, kind, payload, count = zip(*rows, strict=True) if rows else ([],) * 5
    return pa.RecordBatch.from_arrays(
        [
            pa.array(family, pa.int32()),
            pa.array(name, pa.string()),
            pa.array(kind, pa.string()),
            pa.array(payload, pa.binary()),
            pa.array(count, pa.int64()),
        ],
        names=["family", "name", "kind", "payload", "rows"],
    )


# -- on the driver -------------------------------------------------------------------------


def _key_column(log: EventLog, df: DataFrame, key: str | None) -> str:
    if not isinstance(log, EventLog):
        raise ArgumentError(f"log= takes a wb.EventLog (or a Spark result's log); got {log!r}")
    if not isinstance(df, DataFrame):
        raise ArgumentError(f"takes a Spark DataFrame of user keys; got {type(df).__name__}")
    column = key or log.user_column
    if column not in df.schema.names:
        raise ColumnNotFoundError(
            f"the key column {column!r} is not in the Spark DataFrame;"
            f"{did_you_mean(column, df.schema.names)} the columns are {listing(df.schema.names)};"
            " name it with key="
        )
    kind = arrow_type(df.schema[column].dataType) if _plain(df.schema[column].dataType) else None
    integer_log = pa.types.is_integer(log.user_keys.type)
    if (
        kind is None
        or pa.types.is_integer(kind) != integer_log
        or not (pa.types.is_integer(kind) or pa.types.is_string(kind))
    ):
        raise AudienceError(
            f"the log's user keys are {log.user_keys.type} but column {column!r} holds "
            f"{df.schema[column].dataType.simpleString()}"
        )
    return column


def _plain(kind: st.DataType) -> bool:
    return isinstance(kind, (st.ByteType, st.ShortType, st.IntegerType, st.LongType, st.StringType))


def _collect(frame: DataFrame) -> pa.Table:
    try:
        return frame.toArrow()
    except Exception as error:  # Spark wraps what a task raised; rebuild the workbench error
        rebuilt = worker_error(error, workbench.__version__)
        if rebuilt is None:
            raise
        raise rebuilt from None


def _payloads(rows: Any) -> list[tuple[str, bytes]]:
    if isinstance(rows, pa.Table):
        rows = rows.to_pylist()
    return [(r["kind"], r["payload"]) for r in rows]


def _members(log: EventLog, rows: list[dict[str, Any]], label: str) -> Audience:
    return merge_payloads(log, _payloads(rows), missing="ignore", name=label)
