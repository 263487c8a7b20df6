"""The per-unit outcome of a funnel run: the contract between engines and everything above.

Every engine (the native one now; Spark, which runs the same kernel per partition) returns a
:class:`FunnelOutcomes`. The result tables, trends, statistics, charts and drill-downs read only
this, never an engine's internals, so a newcomer can follow one event from the engine to a chart
through one set of documented arrays.

A *unit* is a user (``counting="users"``) or one attempt (``counting="conversions"``). Users are
named by their dense id, an index into ``user_keys``: the id space audiences share.

>>> out = funnel.outcomes(log)
>>> out.n_units, out.levels.tolist()
(6, [3, 1, 2, 0, 2, 1])
>>> out.unit_keys.to_pylist()
[1, 2, 3, 4, 5, 6]
>>> out.steps[0].step, out.steps[0].units.tolist()
(2, [0, 2, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import pyarrow as pa

# The flag bits and the no-row marker are the engine's own (funnel_core/src/funnel/output.rs).
from workbench import _core
from workbench._core import EXCLUDED, IN_PROGRESS, NO_ROW
from workbench.exceptions import FunnelDefinitionError

__all__ = ["EXCLUDED", "IN_PROGRESS", "NO_ROW", "FunnelOutcomes", "StepReach"]


def _narrow_codes(codes: np.ndarray) -> np.ndarray:
    """Unsigned codes of 8, 16 or 32 bits as they are (the engine reads each width); others as
    uint32."""
    if codes.dtype in (np.uint8, np.uint16, np.uint32):
        return codes
    return codes.astype(np.uint32)


def _frozen(array: np.ndarray, dtype: type, name: str, length: int | None = None) -> np.ndarray:
    """``array`` as a read-only 1-D array of ``dtype`` (no copy when it already is one)."""
    out: np.ndarray = np.asarray(array, dtype=dtype)
    if out.ndim != 1 or (length is not None and len(out) != length):
        raise FunnelDefinitionError(
            f"outcome array {name!r} must be one-dimensional with {length} entries; "
            f"got shape {out.shape}"
        )
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class StepReach:
    """The units that reached one step k ≥ 2, and how long it took them.

    Attributes:
        step: the 1-based step number (2..N).
        units: unit indices (into the per-unit arrays) that reached it, ascending.
        from_first: time from the chain's step-1 event to this step, in the log's time unit.
        from_previous: time from the chain's previous reached step to this step.
        rows: input row of the event that made the step (uint32), or None when the engine's
            rows are not local (Spark).
    """

    step: int
    units: np.ndarray
    from_first: np.ndarray
    from_previous: np.ndarray
    rows: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.units)
        object.__setattr__(self, "units", _frozen(self.units, np.int64, "units"))
        object.__setattr__(self, "from_first", _frozen(self.from_first, np.int64, "from_first", n))
        object.__setattr__(
            self, "from_previous", _frozen(self.from_previous, np.int64, "from_previous", n)
        )
        if self.rows is not None:
            object.__setattr__(self, "rows", _frozen(self.rows, np.uint32, "rows", n))


@dataclass(frozen=True, eq=False)
class FunnelOutcomes:
    """How far each unit got, with its flags and times: immutable arrays, one entry per unit.

    Attributes:
        n_steps: the number of steps of the funnel run.
        counting: ``"users"`` (one unit per user of the id space, in id order) or
            ``"conversions"`` (one unit per attempt, ordered by user then time).
        time_unit: the unit of every time below (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``).
        analysis_end: the instant at which open windows were judged (engine time).
        user_keys: the original key of each dense user id (the id space of audiences).
        users: dense user id of each unit (uint32).
        levels: furthest step of the unit's best chain (uint8; 0: never did step 1).
        reached: the steps in that chain, bit k-1 for step k (uint32); with optional steps a
            chain may skip one, so this is not always a prefix of ``levels``.
        flags: ``IN_PROGRESS`` (1: not completed, window still open at the analysis end) and
            ``EXCLUDED`` (2: best chain voided by an exclusion) bits per unit (uint8).
        entry_times: time of the chain's step-1 event (int64; 0 at level 0).
        steps: one :class:`StepReach` per step 2..N (index 0 is step 2).
        entry_rows, last_rows: input row of the chain's step-1 and last events (uint32,
            ``NO_ROW`` = 2**32-1 at level 0), or None when rows are not local.
        held: with ``hold=``/``session=True``, the held values that made the unit's chain
            (one column per held property, null at level 0); None otherwise.
        attributed: for engines whose rows are not local (Spark), the breakdown properties
            named at run time as they were on each unit's attributed event: one table per
            attribution (``"first_touch"``, ``"last_touch"`` or a step number k >= 2), one row
            per unit, null where the unit has no such event; None when rows are local (the
            values are then read from the log at ``entry_rows``/``last_rows``/``rows``).
        level_totals: units at each exact level 0..N, excluded units left out, when the engine
            counted them as it ran (the native engine does, in a fraction of what counting the
            levels again here costs); None to count them from ``levels`` when asked.
    """

    n_steps: int
    counting: Literal["users", "conversions"]
    time_unit: str
    analysis_end: int
    user_keys: pa.Array
    users: np.ndarray
    levels: np.ndarray
    reached: np.ndarray
    flags: np.ndarray
    entry_times: np.ndarray
    steps: tuple[StepReach, ...]
    entry_rows: np.ndarray | None = None
    last_rows: np.ndarray | None = None
    held: pa.Table | None = None
    attributed: Mapping[str | int, pa.Table] | None = None
    level_totals: tuple[int, ...] | None = None
    _derived: dict[str, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        n = len(self.levels)
        fields = (
            ("users", np.uint32),
            ("levels", np.uint8),
            ("reached", np.uint32),
            ("flags", np.uint8),
            ("entry_times", np.int64),
        )
        for name, dtype in fields:
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype, name, n))
        for name in ("entry_rows", "last_rows"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _frozen(getattr(self, name), np.uint32, name, n))
        if len(self.steps) != max(self.n_steps - 1, 0):
            raise FunnelDefinitionError(
                f"outcomes of a {self.n_steps}-step funnel need {self.n_steps - 1} step reaches; "
                f"got {len(self.steps)}"
            )
        if self.level_totals is not None and len(self.level_totals) != self.n_steps + 1:
            raise FunnelDefinitionError(
                f"outcomes of a {self.n_steps}-step funnel need {self.n_steps + 1} level totals; "
                f"got {len(self.level_totals)}"
            )
        if self.held is not None and self.held.num_rows != n:
            raise FunnelDefinitionError(
                f"outcome table 'held' has {self.held.num_rows} rows for {n} units"
            )
        if self.attributed is not None:
            tables: dict[str | int, pa.Table] = {}
            for key, table in self.attributed.items():
                attribution = self._attribution_key(key)
                if table.num_rows != n:
                    raise FunnelDefinitionError(
                        f"outcome table 'attributed[{key!r}]' has {table.num_rows} rows for {n} "
                        "units"
                    )
                tables[attribution] = table
            object.__setattr__(self, "attributed", MappingProxyType(tables))

    # -- derived views (computed once, kept) ----------------------------------------------------

    def _keep(self, name: str, values: np.ndarray) -> np.ndarray:
        values.flags.writeable = False
        self._derived[name] = values
        return values

    @property
    def n_units(self) -> int:
        """How many units there are (users of the id space, or attempts)."""
        return len(self.levels)

    @property
    def n_users(self) -> int:
        """How many users the id space holds (``len(user_keys)``)."""
        return len(self.user_keys)

    @property
    def in_progress(self) -> np.ndarray:
        """Per unit: not completed, and its window still open at the analysis end."""
        cached = self._derived.get("in_progress")
        if cached is None:
            cached = self._keep("in_progress", (self.flags & IN_PROGRESS) != 0)
        return cached

    @property
    def excluded(self) -> np.ndarray:
        """Per unit: its best chain was voided by an exclusion (counted at no step)."""
        cached = self._derived.get("excluded")
        if cached is None:
            cached = self._keep("excluded", (self.flags & EXCLUDED) != 0)
        return cached

    @property
    def counted(self) -> np.ndarray:
        """Per unit: counted in the step table (not excluded)."""
        cached = self._derived.get("counted")
        if cached is None:
            cached = self._keep("counted", ~self.excluded)
        return cached

    def level_counts(self) -> list[int]:
        """Units at each exact level 0..N (level 0: never did step 1), excluded units left out.

        >>> funnel.outcomes(log).level_counts()
        [1, 2, 2, 1]
        """
        if self.level_totals is not None:
            return list(self.level_totals)
        # Count every unit, then take the excluded ones back out (rarely any): no copy of the
        # levels on the common path.
        counts = np.bincount(self.levels, minlength=self.n_steps + 1)
        excluded = self.excluded
        if excluded.any():
            counts -= np.bincount(self.levels[excluded], minlength=self.n_steps + 1)
        return [int(c) for c in counts]

    @property
    def unit_keys(self) -> pa.Array:
        """The original user key of each unit.

        >>> funnel.outcomes(log).unit_keys[0].as_py()
        1
        """
        return self.user_keys.take(pa.array(self.users))

    def reached_step(self, step: int) -> np.ndarray:
        """Per unit: its counted chain includes ``step`` (1-based).

        >>> funnel.outcomes(log).reached_step(2).tolist()
        [True, False, True, False, True, False]
        """
        self.check_step(step)
        return (((self.reached >> np.uint32(step - 1)) & np.uint32(1)) != 0) & self.counted

    def _attribution_key(self, attribution: str | int) -> str | int:
        """``attribution`` as the key of :attr:`attributed`: step 1 is ``"first_touch"``."""
        if attribution in ("first_touch", "last_touch"):
            return attribution
        if isinstance(attribution, (int, np.integer)) and not isinstance(attribution, bool):
            step = self.check_step(int(attribution))
            return "first_touch" if step == 1 else step
        raise FunnelDefinitionError(
            f"attribution must be 'first_touch', 'last_touch' or a step number; got {attribution!r}"
        )

    def attributed_values(self, by: str, attribution: str | int = "first_touch") -> pa.Array:
        """Per unit, property ``by`` on its attributed event as the engine carried it (for
        outcomes whose rows are not local); a clear error names what was carried otherwise.

        >>> out = wb.FunnelOutcomes(1, "users", "s", 0, pa.array([7]), [0], [1], [1], [0], [5],
        ...                         (), attributed={"first_touch": pa.table({"city": ["Oslo"]})})
        >>> out.attributed_values("city").to_pylist()
        ['Oslo']
        """
        key = self._attribution_key(attribution)
        tables = self.attributed or {}
        table = tables.get(key)
        if table is None or by not in table.column_names:
            carried = sorted({c for t in tables.values() for c in t.column_names})
            attributions = [str(a) for a in tables]
            raise FunnelDefinitionError(
                f"this result was computed where its events live (Spark) and carries no "
                f"{by!r} for attribution {attribution!r}; it carries "
                f"{carried or 'no properties'} for {attributions or 'no attribution'}: run "
                f"again naming it, e.g. properties=[{by!r}]"
                + ("" if key in ("first_touch", "last_touch") else f", attributions=[{key}]")
            )
        return table.column(by).combine_chunks()

    def check_step(self, step: int, first: int = 1) -> int:
        """``step`` as an int when it is a step number ``first..n_steps``; else a clear error.

        >>> funnel.outcomes(log).check_step(4)
        Traceback (most recent call last):
        ...
        workbench.exceptions.FunnelDefinitionError: step must be a step number 1..3 of this funnel; got 4
        """  # noqa: E501
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise FunnelDefinitionError(
                f"step must be a step number {first}..{self.n_steps}; got {step!r}"
            )
        if not first <= int(step) <= self.n_steps:
            raise FunnelDefinitionError(
                f"step must be a step number {first}..{self.n_steps} of this funnel; got {step}"
            )
        return int(step)

    def group_counts(self, codes: np.ndarray, n_groups: int) -> dict[str, pa.Array]:
        """Per group (``codes``: a group per unit, negative for none): units at each level, in
        progress and excluded, units reaching each step, and the median and p90 times to each
        step (linear interpolation, as ``np.quantile``), counted in one native pass.

        >>> counts = funnel.outcomes(log).group_counts(np.zeros(6, np.int64), 1)
        >>> counts["reached"].to_pylist()
        [5, 3, 1]
        """
        steps = self.steps
        return _core.group_tables(
            pa.array(self.levels),
            pa.array(self.reached),
            pa.array(self.flags),
            [pa.array(reach.units) for reach in steps],
            [pa.array(reach.from_first) for reach in steps],
            [pa.array(reach.from_previous) for reach in steps],
            pa.array(np.asarray(codes, dtype=np.int64)),
            n_groups,
        )

    def attributed_groups(
        self, row_codes: np.ndarray, rows: np.ndarray, n_values: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """A group per unit from a property coded per input row (``row_codes``: uint8, uint16
        or uint32, read as they are; ``n_values`` for a missing value) read at each unit's
        attributed input row ``rows`` (``NO_ROW``: none), and the property code of each group,
        in one native pass. Values are numbered in the order units first show them; units
        without a value get the code after the last, units that never entered -1.

        >>> outcomes = funnel.outcomes(log)
        >>> row_codes, values = log.property_codes("platform")
        >>> codes, shown = outcomes.attributed_groups(row_codes, outcomes.entry_rows, len(values))
        >>> codes.tolist(), [values[v] for v in shown.tolist()]
        ([0, 1, 1, -1, 2, 0], ['ios', 'web', 'android'])
        """
        codes, shown = _core.attributed_groups(
            pa.array(_narrow_codes(np.asarray(row_codes))),
            pa.array(np.asarray(rows, dtype=np.uint32)),
            pa.array(np.asarray(self.levels, dtype=np.uint8)),
            n_values,
        )
        return codes.to_numpy(), shown.to_numpy()

    def attributed_codes(
        self, row_codes: np.ndarray, rows: np.ndarray, n_values: int
    ) -> np.ndarray:
        """Each unit's property code on its attributed input row, as :meth:`attributed_groups`
        reads it but not renumbered: ``n_values`` without a row or a value, -1 for units that
        never entered.

        >>> outcomes = funnel.outcomes(log)
        >>> row_codes, values = log.property_codes("platform")
        >>> outcomes.attributed_codes(row_codes, outcomes.entry_rows, len(values)).tolist()
        [0, 1, 1, -1, 2, 0]
        """
        codes = _core.attributed_codes(
            pa.array(_narrow_codes(np.asarray(row_codes))),
            pa.array(np.asarray(rows, dtype=np.uint32)),
            pa.array(np.asarray(self.levels, dtype=np.uint8)),
            n_values,
        )
        return codes.to_numpy()

    def user_levels(self) -> np.ndarray:
        """Furthest step per dense user id over counted units (0 for excluded users), uint8.

        >>> funnel.outcomes(log).user_levels().tolist()
        [3, 1, 2, 0, 2, 1]
        """
        cached = self._derived.get("user_levels")
        if cached is None:
            if self.counting == "users":
                levels = np.where(self.counted, self.levels, 0).astype(np.uint8)
            else:
                levels = np.zeros(self.n_users, dtype=np.uint8)
                counted = self.counted
                np.maximum.at(levels, self.users[counted], self.levels[counted])
            cached = self._keep("user_levels", levels)
        return cached

    def per_user(self, unit_mask: np.ndarray) -> np.ndarray:
        """Per dense user id: some unit of the user is flagged in ``unit_mask``."""
        users = np.zeros(self.n_users, dtype=bool)
        users[self.users[unit_mask]] = True
        return users
