"""Audience key lists for campaign tools: a table of original user keys, optionally joined to
user attributes, written as Parquet or CSV. One writer serves the :class:`Audience` methods and
the functions here.

>>> to_table(result.dropped_after(1), users).to_pylist()
[{'user_id': 2, 'gender': 'M', 'age': 31, 'spend': 40.0}]
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from workbench._files import writing
from workbench.exceptions import AudienceError
from workbench.log import check_user_table

if TYPE_CHECKING:
    from workbench.audience.set import Audience

__all__ = ["key_table", "to_csv", "to_parquet", "to_table"]


def _attribute_frame(attributes: Any) -> pd.DataFrame:
    if isinstance(attributes, pd.DataFrame):
        return attributes
    try:
        return pa.table(attributes).to_pandas()
    except (TypeError, ValueError, pa.ArrowException):
        raise AudienceError(
            "attributes must be a table of users (pandas or Polars DataFrame, pyarrow Table); "
            f"got {type(attributes).__name__}"
        ) from None


def _check_audience(audience: Any) -> None:
    # The Audience class sits a layer above this module: check for what the writer reads.
    if not (hasattr(audience, "keys") and hasattr(audience, "log")):
        raise AudienceError(
            f"an audience key table needs a wb.Audience; got {type(audience).__name__}"
        )


def key_table(
    audience: Audience,
    attributes: Any = None,
    *,
    key: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> pa.Table:
    """The members' original keys (a column named like the log's user column), ascending and
    paged, joined to ``attributes`` on ``key`` (default: the same name). Members without
    attributes get nulls; a user listed twice in ``attributes`` is refused by name.

    >>> key_table(result.entered(), limit=2).to_pylist()
    [{'user_id': 1}, {'user_id': 2}]
    """
    _check_audience(audience)
    column = audience.log.user_column
    keys = pa.table({column: audience.keys(offset, limit)})
    if attributes is None:
        return keys
    attrs = _attribute_frame(attributes)
    on = key or column
    check_user_table(attrs, on)
    if on != column:
        attrs = attrs.rename(columns={on: column})
    frame = keys.to_pandas()
    try:
        frame[column] = frame[column].astype(attrs[column].dtype)
    except (TypeError, ValueError):
        raise AudienceError(
            f"the attribute table's key column {on!r} holds {attrs[column].dtype} values; the "
            f"log's user keys are {audience.log.user_keys.type}"
        ) from None
    return pa.Table.from_pandas(frame.merge(attrs, on=column, how="left"), preserve_index=False)


def to_table(audience: Audience, attributes: Any = None, *, key: str | None = None) -> pa.Table:
    """Every member's key (and attributes) as a pyarrow Table (see :func:`key_table`).

    >>> to_table(result.converted()).num_rows == len(result.converted())
    True
    """
    return key_table(audience, attributes, key=key)


def to_parquet(
    audience: Audience,
    path: str | os.PathLike[str],
    *,
    attributes: Any = None,
    key: str | None = None,
) -> None:
    """Write the members (and their attributes) to Parquet.

    >>> to_parquet(result.dropped_after(1), "dropped.parquet", attributes=users)
    """
    import pyarrow.parquet as pq

    table = key_table(audience, attributes, key=key)
    with writing(path, "audience") as target:
        pq.write_table(table, os.fspath(target))


def to_csv(
    audience: Audience,
    path: str | os.PathLike[str],
    *,
    attributes: Any = None,
    key: str | None = None,
) -> None:
    """Write the members (and their attributes) to CSV: a header row, one user a line.

    >>> to_csv(result.dropped_after(1), "dropped.csv")
    """
    import pyarrow.csv as pcsv

    table = key_table(audience, attributes, key=key)
    with writing(path, "audience") as target:
        pcsv.write_csv(table, os.fspath(target))
