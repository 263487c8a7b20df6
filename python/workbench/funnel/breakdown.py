"""Breakdown groups: which group each unit of a funnel result belongs to.

A unit is grouped by an event property as it was on one event of its chain (its *attribution*:
the step-1 event by default, the chain's last step, or step k), or by a column of a user table
joined on the user key. Units that never did step 1 have no chain to attribute and stay out of
every group; entrants without a value form the group ``"(missing)"``; ``top`` keeps the largest
groups and folds the rest into ``"(other)"``.

>>> codes, groups = property_groups(log, funnel.outcomes(log), "platform")
>>> codes.tolist(), groups
([0, 1, 1, -1, 2, 0], ['ios', 'web', 'android', '(missing)'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench._arrow import decoded
from workbench._names import did_you_mean, listing, plain
from workbench.exceptions import (
    ArgumentError,
    ColumnNotFoundError,
    FunnelDefinitionError,
)
from workbench.funnel.outcomes import NO_ROW, FunnelOutcomes
from workbench.log import EventLog, check_user_table

__all__ = [
    "MISSING",
    "OTHER",
    "attribution_rows",
    "keep_top",
    "largest_first",
    "property_groups",
    "user_table_groups",
]

MISSING = "(missing)"
OTHER = "(other)"
# Names the step table already uses: a group column called so would collide with them.
_TABLE_COLUMNS = frozenset(
    {
        "step",
        "label",
        "users",
        "conversions",
        "dropped",
        "in_progress",
        "excluded",
        "optional",
        "conversion_from_first",
        "conversion_from_previous",
    }
)


def attribution_rows(outcomes: FunnelOutcomes, attribution: str | int) -> np.ndarray:
    """The input row each unit is attributed to (``NO_ROW``: none): ``"first_touch"`` (the
    chain's step-1 event), ``"last_touch"`` (its last step) or a step number k.

    >>> attribution_rows(funnel.outcomes(log), "last_touch").tolist()[:3]
    [2, 3, 6]
    """
    if outcomes.entry_rows is None or outcomes.last_rows is None:
        raise FunnelDefinitionError(
            "this result has no event rows to attribute properties to (it was computed "
            "elsewhere); break down by a property carried in the outcomes instead"
        )
    if attribution == "first_touch":
        return outcomes.entry_rows
    if attribution == "last_touch":
        return outcomes.last_rows
    if isinstance(attribution, (int, np.integer)) and not isinstance(attribution, bool):
        step = outcomes.check_step(int(attribution))
        if step == 1:
            return outcomes.entry_rows
        reach = outcomes.steps[step - 2]
        rows = np.full(outcomes.n_units, NO_ROW, dtype=np.uint32)
        if reach.rows is not None:
            rows[reach.units] = reach.rows
        return rows
    raise FunnelDefinitionError(
        f"attribution must be 'first_touch', 'last_touch' or a step number; got {attribution!r}"
    )


def _check_group_column(by: str) -> None:
    if not isinstance(by, str):
        raise ArgumentError(f"by= names a column (or maps names to audiences); got {by!r}")
    if by in _TABLE_COLUMNS:
        raise FunnelDefinitionError(
            f"cannot break down by {by!r}: the step table has a column of that name; rename "
            f"the property first (e.g. df.rename(columns={{{by!r}: '{by}_value'}}))"
        )


def _groupable(values: pa.Array, by: str) -> pa.Array:
    values = decoded(values)
    kind = values.type
    if pa.types.is_nested(kind):
        raise FunnelDefinitionError(
            f"cannot break down by {by!r}: it holds {kind} values (lists or structs); break "
            "down by a column of plain values"
        )
    return values


def property_groups(
    log: EventLog,
    outcomes: FunnelOutcomes,
    by: str,
    attribution: str | int = "first_touch",
    *,
    numbered: bool = True,
) -> tuple[np.ndarray, list[Any]]:
    """A group code per unit (-1 for units that never entered) and the group labels, from the
    event property ``by`` on each unit's attributed event. Groups are numbered in the order
    units first show them; with ``numbered=False`` a property of few values may keep the
    log's codes instead (every value a label, shown or not): one pass less, for callers that
    order groups themselves.
    """
    _check_group_column(by)
    if by not in log.column_names:
        raise ColumnNotFoundError(
            f"cannot break down by {by!r}: it is not a column of the log;"
            f"{did_you_mean(by, log.property_names)} the properties are "
            f"{listing(log.property_names)}"
        )
    if outcomes.entry_rows is None:
        # The engine's rows are elsewhere (Spark): it carried the values per unit instead.
        picked = _groupable(outcomes.attributed_values(by, attribution), by)
        encoded = pc.dictionary_encode(picked)
        labels = encoded.dictionary.to_pylist()
        codes = encoded.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
        codes = codes.astype(np.int64)
        codes[outcomes.levels == 0] = -1
    else:
        codes, labels = _coded_by_row(log, outcomes, by, attribution, numbered)
    return codes, [*labels, MISSING]


# Above this many values, unnumbered codes would leave a breakdown counting groups no unit shows.
_FEW_VALUES = 4096


def _coded_by_row(
    log: EventLog, outcomes: FunnelOutcomes, by: str, attribution: str | int, numbered: bool
) -> tuple[np.ndarray, list[Any]]:
    """Group codes from the log's rows: the log codes the column once; a breakdown reads the
    codes of its units' attributed rows and numbers the values in the order units (with a row,
    whatever their level) first show them, in one native pass. Units without a row or a value
    get the code after the last value; units that never entered, -1."""
    rows = attribution_rows(outcomes, attribution)
    _groupable(log.property_column(by), by)
    row_codes, values = log.property_codes(by)
    if not numbered and len(values) <= _FEW_VALUES:
        return outcomes.attributed_codes(row_codes, rows, len(values)), values
    codes, shown = outcomes.attributed_groups(row_codes, rows, len(values))
    return codes, [values[v] for v in shown.tolist()]


def user_table_groups(
    log: EventLog,
    outcomes: FunnelOutcomes,
    by: str,
    users: pd.DataFrame,
    on: str | None = None,
) -> tuple[np.ndarray, list[Any]]:
    """A group code per unit (-1 for units that never entered) and the labels, from column
    ``by`` of the user table ``users`` joined on ``on`` (default: the log's user column)."""
    _check_group_column(by)
    if not isinstance(users, pd.DataFrame):
        raise ArgumentError(f"users= takes a pandas DataFrame of users; got {type(users).__name__}")
    key = on or log.user_column
    check_user_table(users, key, by)
    table = users.set_index(key)
    if not table.index.isin(log.users).any():
        theirs = f"like {plain(table.index[0])!r} ({table.index.dtype})" if len(table) else "none"
        raise FunnelDefinitionError(
            f"no key in users[{key!r}] is a user of the log, so every user would be "
            f"{MISSING!r} (the table's keys: {theirs}; the log's: like {plain(log.users[0])!r} "
            f"({log.users.dtype})); join on the log's user keys, converted to their kind"
        )
    attribute = table[by].reindex(log.users)
    try:
        user_codes, labels = pd.factorize(attribute)
    except TypeError:
        raise FunnelDefinitionError(
            f"cannot break down by {by!r}: the user table's column holds lists or mappings; "
            "break down by a column of plain values"
        ) from None
    missing = len(labels)
    user_codes = np.where(user_codes < 0, missing, user_codes)
    codes = user_codes[outcomes.users].astype(np.int64)
    codes[outcomes.levels == 0] = -1
    return codes, [*labels.tolist(), MISSING]


def keep_top(
    codes: np.ndarray, groups: list[Any], counted: np.ndarray, top: int
) -> tuple[np.ndarray, list[Any]]:
    """Keep the ``top`` groups with most entrants; fold the rest into ``"(other)"``.

    >>> keep_top(np.array([0, 1, 1, 2, -1]), ["a", "b", "c"], np.ones(5, bool), 1)
    (array([ 1,  0,  0,  1, -1]), ['b', '(other)'])
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ArgumentError(f"top must be a whole number of at least 1; got {top!r}")
    entrants = np.bincount(codes[(codes >= 0) & counted], minlength=len(groups))
    if len(groups) <= top:
        return codes, groups
    order = sorted(range(len(groups)), key=lambda g: (-entrants[g], str(groups[g])))
    kept = order[:top]
    remap = np.full(len(groups) + 1, top, dtype=np.int64)
    for new, old in enumerate(kept):
        remap[old] = new
    new_codes = np.where(codes >= 0, remap[codes], -1)
    return new_codes, [groups[g] for g in kept] + [OTHER]


def largest_first(groups: np.ndarray, entrants: np.ndarray, labels: Sequence[Any]) -> np.ndarray:
    """``groups`` in the order a breakdown shows them: most units at step 1 (``entrants[g]``)
    first, a tie by the label as text, ``"(other)"`` last.

    >>> largest_first(np.array([0, 1, 2, 3]), np.array([5, 9, 5, 20]), ["b", "c", "a", OTHER])
    array([1, 2, 0, 3])
    """
    order = sorted(
        groups.tolist(),
        key=lambda g: (str(labels[g]) == OTHER, -int(entrants[g]), str(labels[g])),
    )
    return np.asarray(order, dtype=np.int64)
