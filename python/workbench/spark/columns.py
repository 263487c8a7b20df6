"""Spark columns as the engine reads them: which column plays which role, which Spark types
each role takes, and the Arrow type of every column on its way to and from the Python workers.

A type the engine cannot read is refused on the driver, before any job runs, naming the column,
its Spark type and a cast that would do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
from pyspark.sql import types as st

from workbench._names import did_you_mean, listing
from workbench.exceptions import ColumnNotFoundError, SchemaError
from workbench.log import find_column

__all__ = [
    "arrow_schema",
    "arrow_type",
    "check_columns",
    "find_role",
    "spark_type_of",
]

_INTEGERS = (st.ByteType, st.ShortType, st.IntegerType, st.LongType)
_TIMES = (st.TimestampType, st.TimestampNTZType, st.DateType)
# What a property, a held value or a breakdown may be: the plain values Arrow compute compares.
_PROPERTIES = (*_INTEGERS, st.BooleanType, st.FloatType, st.DoubleType, st.StringType, *_TIMES)

_EXPECTED = {
    "user": ((*_INTEGERS, st.StringType), "integers or strings"),
    "event": ((st.StringType,), "strings (event names)"),
    "time": (
        (*_TIMES, *_INTEGERS),
        "a timestamp, a date, or integer epochs with time_unit='s'/'ms'/'us'/'ns'",
    ),
    "session": (_PROPERTIES, "plain values (strings, numbers, booleans, dates or timestamps)"),
    "property": (_PROPERTIES, "plain values (strings, numbers, booleans, dates or timestamps)"),
}
_CASTS = {
    st.DecimalType: "double",
    st.BinaryType: "string",
}


def arrow_type(kind: st.DataType) -> pa.DataType:
    """The Arrow type Spark hands a Python worker for ``kind`` (and expects back).

    >>> arrow_type(st.TimestampType())
    TimestampType(timestamp[us, tz=UTC])
    """
    simple: dict[type[st.DataType], pa.DataType] = {
        st.BooleanType: pa.bool_(),
        st.ByteType: pa.int8(),
        st.ShortType: pa.int16(),
        st.IntegerType: pa.int32(),
        st.LongType: pa.int64(),
        st.FloatType: pa.float32(),
        st.DoubleType: pa.float64(),
        st.StringType: pa.string(),
        st.DateType: pa.date32(),
        st.TimestampType: pa.timestamp("us", tz="UTC"),
        st.TimestampNTZType: pa.timestamp("us"),
    }
    if isinstance(kind, st.StructType):
        return pa.struct([pa.field(f.name, arrow_type(f.dataType)) for f in kind.fields])
    found = simple.get(type(kind))
    if found is None:
        raise SchemaError(f"no Arrow type for Spark type {kind.simpleString()}")
    return found


def arrow_schema(schema: st.StructType) -> pa.Schema:
    """A Spark schema of supported types as an Arrow schema."""
    return pa.schema([pa.field(f.name, arrow_type(f.dataType)) for f in schema.fields])


def spark_type_of(schema: st.StructType, name: str) -> st.DataType:
    """The Spark type of column ``name``."""
    return schema[name].dataType


def find_role(
    schema: st.StructType, role: str, given: str | None, candidates: Sequence[str]
) -> str:
    """The column playing ``role``, found as :class:`~workbench.EventLog` finds it (the name
    given, else the first usual name present), with the same errors."""
    names = pa.schema([pa.field(n, pa.null()) for n in schema.names]).empty_table()
    return find_column(names, role, given, candidates)


def check_columns(schema: st.StructType, role: str, columns: Iterable[str]) -> None:
    """Refuse columns the data lacks, or whose Spark type ``role`` cannot take.

    >>> check_columns(st.StructType([st.StructField("tags", st.ArrayType(st.StringType()))]),
    ...               "property", ["tags"])
    Traceback (most recent call last):
    ...
    workbench.exceptions.SchemaError: the property column 'tags' has Spark type array<string>; expected plain values (strings, numbers, booleans, dates or timestamps): select a plain field of it, or leave it out
    """  # noqa: E501
    accepted, expected = _EXPECTED[role]
    for name in columns:
        if name not in schema.names:
            raise ColumnNotFoundError(
                f"the {role} column {name!r} is not in the Spark DataFrame;"
                f"{did_you_mean(name, schema.names)} the columns are {listing(schema.names)}"
            )
        kind = schema[name].dataType
        if not isinstance(kind, accepted):
            cast = _CASTS.get(type(kind))
            fix = (
                f"cast it first, e.g. df.withColumn({name!r}, sf.col({name!r}).cast({cast!r}))"
                if cast and role in ("property", "session")
                else "select a plain field of it, or leave it out"
                if role in ("property", "session")
                else "cast it to one of those first"
            )
            raise SchemaError(
                f"the {role} column {name!r} has Spark type {kind.simpleString()}; expected "
                f"{expected}: {fix}"
            )
