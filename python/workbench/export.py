"""Audience key lists for campaign tools: Parquet and CSV, optionally with user attributes.

>>> from workbench.export import to_parquet
>>> to_parquet(dropped, "dropped.parquet", attributes=users_df)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from workbench.audience import Audience

__all__ = ["to_csv", "to_parquet", "to_table"]


def to_table(audience: Audience, attributes: Any = None, *, key: str | None = None) -> pa.Table:
    """The members' original keys (and attributes) as a pyarrow Table.

    >>> to_table(dropped).num_rows == len(dropped)   # doctest: +SKIP
    True
    """
    if attributes is None:
        return pa.table({audience.log.user_column: audience.keys()})
    return pa.Table.from_pandas(audience.to_pandas(attributes, key=key), preserve_index=False)


def to_parquet(
    audience: Audience,
    path: str | os.PathLike[str],
    *,
    attributes: Any = None,
    key: str | None = None,
) -> None:
    """Write the members to Parquet.

    >>> to_parquet(dropped, "dropped.parquet")   # doctest: +SKIP
    """
    import pyarrow.parquet as pq

    pq.write_table(to_table(audience, attributes, key=key), os.fspath(path))


def to_csv(
    audience: Audience,
    path: str | os.PathLike[str],
    *,
    attributes: Any = None,
    key: str | None = None,
) -> None:
    """Write the members to CSV (header row, one user per line).

    >>> to_csv(dropped, "dropped.csv")   # doctest: +SKIP
    """
    import pyarrow.csv as pcsv

    pcsv.write_csv(to_table(audience, attributes, key=key), os.fspath(path))
