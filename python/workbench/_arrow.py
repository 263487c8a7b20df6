"""Arrow idioms shared across the package: dictionary-encoded values read as the plain values
they stand for (a Parquet string column often arrives dictionary-encoded)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["decoded", "decoded_type"]


def decoded_type(kind: pa.DataType) -> pa.DataType:
    """The type of the values: a dictionary's value type, any other type as it is.

    >>> decoded_type(pa.dictionary(pa.int32(), pa.string()))
    DataType(string)
    """
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def decoded(values: Any) -> Any:
    """A (chunked) array with dictionary encoding undone; other arrays are returned as they are.

    >>> decoded(pa.array(["a", "b", "a"]).dictionary_encode()).to_pylist()
    ['a', 'b', 'a']
    """
    kind = values.type
    return values.cast(kind.value_type) if pa.types.is_dictionary(kind) else values
