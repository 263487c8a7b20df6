"""What a funnel run gives an analyst: the step table, levels, times, breakdowns, drill-downs.

Everything is computed on demand from per-unit arrays the engine returns (a unit is a user, or an
attempt with ``counting="conversions"``); nothing is re-run.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench._names import did_you_mean, listing
from workbench.exceptions import ColumnNotFoundError, FunnelDefinitionError, SchemaError
from workbench.log import EventLog
from workbench.stats import with_confidence

if TYPE_CHECKING:
    from workbench.audience import Audience
    from workbench.funnel import Funnel

__all__ = ["FunnelResult"]

MISSING = "(missing)"
OTHER = "(other)"
_IN_PROGRESS = 1
_EXCLUDED = 2
_NO_ROW = np.uint32(0xFFFFFFFF)
_TIME_COLUMNS = (
    "median_time_from_first",
    "p90_time_from_first",
    "median_time_from_previous",
    "p90_time_from_previous",
)


class FunnelResult:
    """How far each user (or attempt) got.

    ``table``: users, conversion, drop-off and times per step; ``levels``: the furthest step per
    user by original key; ``breakdown(...)``: the table per group; ``dropped_after(k)``: an
    Audience of the users who stopped at step k.

    >>> result = wb.Funnel(["view", "cart"]).run(log)   # doctest: +SKIP
    >>> result.breakdown("platform")                    # doctest: +SKIP
    """

    def __init__(
        self, funnel: Funnel, log: EventLog, output: Any, *, window: int, analysis_end: int
    ) -> None:
        self.funnel = funnel
        self.log = log
        self._output = output
        self._window = window
        self.analysis_end = log.to_timestamp(analysis_end)
        self._analysis_end = analysis_end

    # -- shape -------------------------------------------------------------------------------

    @property
    def n_steps(self) -> int:
        return len(self.funnel.steps)

    @property
    def labels(self) -> list[str]:
        return self.funnel.step_labels

    @property
    def counted(self) -> str:
        """What the table counts: ``"users"`` or ``"conversions"``."""
        return "users" if self.funnel.counting == "users" else "conversions"

    # -- per-unit arrays ------------------------------------------------------------------------

    @cached_property
    def _unit_levels(self) -> np.ndarray:
        return self._output.levels().to_numpy(zero_copy_only=True)

    @cached_property
    def _unit_users(self) -> np.ndarray:
        users = self._output.unit_users()
        if users is None:
            return np.arange(len(self._unit_levels), dtype=np.uint32)
        return users.to_numpy(zero_copy_only=True)

    @cached_property
    def _unit_reached(self) -> np.ndarray:
        reached = self._output.reached()
        if reached is not None:
            return reached.to_numpy(zero_copy_only=True)
        levels = self._unit_levels.astype(np.uint64)
        return ((np.uint64(1) << levels) - np.uint64(1)).astype(np.uint32)

    @cached_property
    def _entry_rows(self) -> np.ndarray:
        return self._output.entry_rows().to_numpy(zero_copy_only=True)

    @cached_property
    def _last_rows(self) -> np.ndarray:
        return self._output.last_rows().to_numpy(zero_copy_only=True)

    @cached_property
    def _unit_flags(self) -> np.ndarray:
        flags = self._output.flags()
        if flags is not None:
            return flags.to_numpy(zero_copy_only=True)
        return np.zeros(len(self._unit_levels), dtype=np.uint8)

    @cached_property
    def _clean(self) -> np.ndarray:
        return (self._unit_flags & _EXCLUDED) == 0

    @cached_property
    def _step_times(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for step in range(2, self.n_steps + 1):
            units, from_first, from_previous, rows = self._output.step_times(step)
            out.append(
                (
                    units.to_numpy(zero_copy_only=True),
                    from_first.to_numpy(zero_copy_only=True),
                    from_previous.to_numpy(zero_copy_only=True),
                    rows.to_numpy(zero_copy_only=True),
                )
            )
        return out

    # -- per user -------------------------------------------------------------------------------

    def level_counts(self) -> list[int]:
        """Units at each exact level 0..N (level 0: never did step 1), excluded units left out.

        Counting users, that is every user of the log.
        """
        return [int(c) for c in self._output.level_counts()]

    @cached_property
    def _levels(self) -> np.ndarray:
        """Furthest step per dense user id over clean units (0 for excluded users)."""
        levels = np.zeros(self.log.n_users, dtype=np.uint8)
        clean = self._clean
        np.maximum.at(levels, self._unit_users[clean], self._unit_levels[clean])
        return levels

    def levels_array(self) -> np.ndarray:
        """Level per dense user id (uint8), aligned with ``log.user_keys``."""
        return self._levels

    @cached_property
    def levels(self) -> pd.Series:
        """Furthest step reached by each user, indexed by the original user key."""
        return pd.Series(self._levels, index=self.log.users, name="level")

    def _user_flag(self, flag: int) -> np.ndarray:
        users = np.zeros(self.log.n_users, dtype=bool)
        users[self._unit_users[(self._unit_flags & flag) != 0]] = True
        return users

    def time_to_convert(self, step: int) -> pd.DataFrame:
        """For every unit that reached ``step`` (2..N): time from step 1 and from the previous
        step of its chain, indexed by user key.

        >>> result.time_to_convert(3).median()   # doctest: +SKIP
        """
        if not 2 <= step <= self.n_steps:
            raise FunnelDefinitionError(
                f"time to convert is defined for steps 2..{self.n_steps}; got {step}"
            )
        units, from_first, from_previous, _ = self._step_times[step - 2]
        keep = self._clean[units]
        users = self._unit_users[units[keep]]
        index = pd.Index(
            self.log.user_keys.take(pa.array(users)).to_pandas(), name=self.log.user_column
        )
        return pd.DataFrame(
            {
                "from_first": self.log.to_timedelta(from_first[keep]),
                "from_previous": self.log.to_timedelta(from_previous[keep]),
            },
            index=index,
        )

    # -- tables ---------------------------------------------------------------------------------

    @cached_property
    def table(self) -> pd.DataFrame:
        """Per step: units reaching it, conversion (with 95% Wilson bounds ``*_low``/``*_high``),
        drop-off, in progress, excluded, and median and p90 time to reach it from step 1 and
        from the previous step."""
        return with_confidence(self._step_table(None))

    def _step_table(self, in_group: np.ndarray | None) -> pd.DataFrame:
        """The step table over all units, or over those flagged in ``in_group``."""
        if in_group is None:
            codes = np.zeros(len(self._unit_levels), dtype=np.int64)
        else:
            codes = np.where(in_group, 0, -1)
        return self._group_frame(codes, 1, every_group=True).drop(columns="_group")

    def _group_frame(
        self, codes: np.ndarray, n_groups: int, *, every_group: bool = False
    ) -> pd.DataFrame:
        """The step tables of the groups with members (all groups with ``every_group``), one
        after another in group order, each row's group code in ``_group`` (``codes``: a group
        per unit, -1 for none). The counting and the time quantiles are one native pass over
        the units, whatever the number of groups."""
        n = self.n_steps
        counts = self._output.group_tables(pa.array(codes, pa.int64()), n_groups)

        def grid(name: str, width: int) -> np.ndarray:
            return counts[name].to_numpy(zero_copy_only=False).reshape(n_groups, width)

        reached = grid("reached", n).astype(np.int64)
        at_level, open_at = grid("at_level", n + 1), grid("open_at", n + 1)
        excluded_at = grid("excluded_at", n + 1)
        present = (
            np.arange(n_groups)
            if every_group
            else np.flatnonzero(at_level.sum(axis=1) + excluded_at.sum(axis=1) > 0)
        )
        reached, at_level = reached[present], at_level[present, 1:]
        open_at, excluded_at = open_at[present, 1:].copy(), excluded_at[present, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            first = reached[:, :1].astype(float)
            first[first == 0] = np.nan
            from_first = reached / first
            previous = np.concatenate([reached[:, :1], reached[:, :-1]], axis=1).astype(float)
            previous[previous == 0] = np.nan
            from_previous = reached / previous
        dropped = (at_level - open_at).astype(np.int64)
        dropped[:, -1] = 0
        open_at[:, -1] = 0
        columns: dict[str, Any] = {
            "_group": np.repeat(present, n),
            "step": np.tile(np.arange(1, n + 1), len(present)),
            "label": self.labels * len(present),
            self.counted: reached.ravel(),
            "conversion_from_previous": from_previous.ravel(),
            "conversion_from_first": from_first.ravel(),
            "dropped": dropped.ravel(),
            "in_progress": open_at.ravel().astype(np.int64),
        }
        if self.funnel.exclusions:
            columns["excluded"] = excluded_at.ravel().astype(np.int64)
        table = pd.DataFrame(columns)
        for name in _TIME_COLUMNS:
            values = grid(name, n)[present].ravel()
            table[name] = pd.to_timedelta(values, unit=self.log.time_unit)
        return table

    def breakdown(
        self,
        by: str | Mapping[str, Audience],
        *,
        users: pd.DataFrame | None = None,
        on: str | None = None,
        attribution: str | int = "first_touch",
        top: int | None = None,
    ) -> pd.DataFrame:
        """The step table per group.

        ``by`` is an event property (its value on the step-1 event by default; ``attribution``
        ``"last_touch"`` takes the chain's last step, an int ``k`` takes step k), a column of a
        user-attribute table ``users`` joined on the user key (``on``), or a mapping of segment
        names to :class:`~workbench.Audience` (a user may be in several). ``top`` keeps the N
        largest groups and puts the rest in ``"(other)"``.

        >>> result.breakdown("platform")                                  # doctest: +SKIP
        >>> result.breakdown("age_band", users=users_df, top=5)           # doctest: +SKIP
        >>> result.breakdown({"vip": vips, "new": newcomers})             # doctest: +SKIP
        """
        if isinstance(by, Mapping):
            return self._segment_breakdown(by)
        codes, labels = self._group_codes(by, users, on, attribution)
        # Units that never did step 1 have no step-1 event to attribute: they stay out of groups.
        codes[self._unit_levels == 0] = -1
        groups = pd.Index(labels, dtype=object)
        if top is not None:
            codes, groups = _keep_top(codes, groups, self._clean, top)
        table = self._group_frame(codes, len(groups))
        if not len(table):
            empty = table.drop(columns="_group")
            empty.insert(0, by, pd.Series(dtype=object))
            return with_confidence(empty)
        labels = np.asarray(groups, dtype=object)[table.pop("_group").to_numpy()]
        table.insert(0, by, labels)
        return with_confidence(_ordered_groups(table, by, self.counted))

    def _segment_breakdown(self, segments: Mapping[str, Audience]) -> pd.DataFrame:
        frames = []
        for name, audience in segments.items():
            member = np.zeros(self.log.n_users, dtype=bool)
            member[audience.ids().to_numpy(zero_copy_only=False)] = True
            table = self._step_table(member[self._unit_users])
            table.insert(0, "segment", name)
            frames.append(table)
        if not frames:
            raise FunnelDefinitionError("breakdown by segments needs at least one segment")
        return with_confidence(pd.concat(frames, ignore_index=True))

    def _attribution(self, attribution: str | int) -> int:
        """The engine's attribution code: 0 first touch, -1 last touch, k step k."""
        if attribution == "first_touch":
            return 0
        if attribution == "last_touch":
            return -1
        if isinstance(attribution, (int, np.integer)) and not isinstance(attribution, bool):
            step = int(attribution)
            if not 1 <= step <= self.n_steps:
                raise FunnelDefinitionError(
                    f"attribution step must be between 1 and {self.n_steps}; got {step}"
                )
            return step
        raise FunnelDefinitionError(
            f"attribution must be 'first_touch', 'last_touch' or a step number; got {attribution!r}"
        )

    def _group_codes(
        self,
        by: str,
        users: pd.DataFrame | None,
        on: str | None,
        attribution: str | int = "first_touch",
    ) -> tuple[np.ndarray, list[Any]]:
        """A group code per unit and the group labels; a unit with no value gets the code of
        ``"(missing)"`` (the caller leaves out units that never entered)."""
        if users is None:
            if by not in self.log.column_names:
                raise ColumnNotFoundError(
                    f"cannot break down by {by!r}: it is not a column of the log;"
                    f"{did_you_mean(by, self.log.property_names)} the properties are "
                    f"{listing(self.log.property_names)}"
                )
            # The log codes the column once, in its row order; the engine reads each unit's
            # code at its attributed row (-1 for units that never entered, as breakdowns want).
            row_codes, labels = self.log.property_codes(by)
            units = self._output.attribute(row_codes, len(labels), self._attribution(attribution))
            return units.to_numpy(zero_copy_only=False, writable=True), [*labels, MISSING]
        key = on or self.log.user_column
        for column in (key, by):
            if column not in users.columns:
                raise ColumnNotFoundError(
                    f"column {column!r} is not in the user table;"
                    f"{did_you_mean(column, map(str, users.columns))} the columns are "
                    f"{listing(map(str, users.columns))}"
                )
        duplicated = users[key][users[key].duplicated()]
        if len(duplicated):
            raise SchemaError(
                f"the user table has {len(duplicated)} duplicate key(s) in {key!r}, "
                f"e.g. {duplicated.iloc[0]}; each user needs one row"
            )
        attribute = users.set_index(key)[by].reindex(self.log.users)
        user_codes, labels = pd.factorize(attribute)
        missing = len(labels)
        user_codes = np.where(user_codes < 0, missing, user_codes)
        return user_codes[self._unit_users].astype(np.int64), [*labels.tolist(), MISSING]

    def _group_values(
        self,
        by: str,
        users: pd.DataFrame | None,
        on: str | None,
        attribution: str | int = "first_touch",
    ) -> pd.Series:
        """One value per unit (None where it has none)."""
        codes, labels = self._group_codes(by, users, on, attribution)
        values = np.array([*labels[:-1], None], dtype=object)[codes]
        return pd.Series(values, dtype="object")

    # -- drill-down: audiences from the same arrays, no re-run ---------------------------------

    def reached(self, step: int, group: Audience | None = None) -> Audience:
        """Users who reached ``step`` (1-based), optionally within ``group``.

        >>> result.reached(2)   # doctest: +SKIP
        """
        from workbench import audience

        return audience.reached(self, step, group)

    def dropped_after(self, step: int, group: Audience | None = None) -> Audience:
        """Users whose furthest step was ``step`` and who are not in progress: the drop-off.

        >>> result.dropped_after(2).to_pandas()   # doctest: +SKIP
        """
        from workbench import audience

        return audience.dropped_after(self, step, group) - self.in_progress()

    def entered(self, group: Audience | None = None) -> Audience:
        """Users who did step 1."""
        from workbench import audience

        return audience.entered(self, group)

    def converted(self, group: Audience | None = None) -> Audience:
        """Users who completed every step."""
        from workbench import audience

        return audience.converted(self, group)

    def in_progress(self, step: int | None = None) -> Audience:
        """Users whose best chain is still inside its window at the analysis end (at ``step``:
        those whose furthest step so far is ``step``).

        >>> result.in_progress(2)   # doctest: +SKIP
        """
        from workbench.audience import Audience

        flags = self._user_flag(_IN_PROGRESS) & (self._levels < self.n_steps)
        if step is not None:
            flags &= self._levels == self._checked_step(step)
        name = "in progress" if step is None else f"in progress at step {step}"
        return Audience.from_mask(self.log, flags, name=name)

    def excluded(self, step: int | None = None) -> Audience:
        """Users whose best chain was voided by an exclusion (at ``step``: voided after
        reaching it).

        >>> result.excluded()   # doctest: +SKIP
        """
        from workbench.audience import Audience

        flags = self._user_flag(_EXCLUDED) & (self._levels == 0)
        if step is not None:
            voided_at = np.zeros(self.log.n_users, dtype=np.uint8)
            excluded_units = ~self._clean
            np.maximum.at(
                voided_at, self._unit_users[excluded_units], self._unit_levels[excluded_units]
            )
            flags &= voided_at == self._checked_step(step)
        name = "excluded" if step is None else f"excluded at step {step}"
        return Audience.from_mask(self.log, flags, name=name)

    def _checked_step(self, step: int) -> int:
        if not 1 <= step <= self.n_steps:
            raise FunnelDefinitionError(f"step must be between 1 and {self.n_steps}; got {step}")
        return step

    # -- trends and confidence -----------------------------------------------------------------

    def trends(
        self, period: str = "day", tz: str | None = None, *, confidence: float = 0.95
    ) -> pd.DataFrame:
        """Conversion by entry period (``"day"``, ``"week"`` from Monday, ``"month"``) in time
        zone ``tz`` (default: the log's, else UTC): one row per period and step, every period
        listed, with Wilson bounds; see :func:`workbench.trends.conversion_trends`.

        >>> result.trends("week", tz="Europe/Paris")   # doctest: +SKIP
        """
        from workbench.trends import conversion_trends

        return conversion_trends(self, period, tz, confidence=confidence)

    def compare_groups(
        self,
        by: str,
        a: Any,
        b: Any,
        *,
        users: pd.DataFrame | None = None,
        on: str | None = None,
        attribution: str | int = "first_touch",
        step: int | None = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Does breakdown group ``a`` convert differently from ``b``? Per step: both rates, the
        difference with its confidence interval, z, p-value and ``significant``; see
        :func:`workbench.stats.compare_groups`.

        >>> result.compare_groups("platform", "ios", "android", step=3)   # doctest: +SKIP
        """
        from workbench.stats import compare_groups

        return compare_groups(
            self, by, a, b, users=users, on=on, attribution=attribution, step=step, alpha=alpha
        )

    def compare_segments(
        self,
        segment_a: Audience,
        segment_b: Audience,
        *,
        step: int | None = None,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """The same test between two sets of users (Audiences that should not overlap); see
        :func:`workbench.stats.compare_segments`.

        >>> result.compare_segments(vips, ~vips)   # doctest: +SKIP
        """
        from workbench.stats import compare_segments

        return compare_segments(self, segment_a, segment_b, step=step, alpha=alpha)

    def breakdown_group(
        self,
        by: str,
        value: Any,
        *,
        users: pd.DataFrame | None = None,
        on: str | None = None,
        attribution: str | int = "first_touch",
    ) -> Audience:
        """The users of one breakdown group (same attribution as :meth:`breakdown`), to pass as
        ``group=`` to a drill-down.

        >>> android = result.breakdown_group("platform", "android")  # doctest: +SKIP
        >>> result.dropped_after(3, group=android)                  # doctest: +SKIP
        """
        from workbench.audience import Audience

        values = self._group_values(by, users, on, attribution).fillna(MISSING)
        in_group = (values.to_numpy(dtype=object) == value) & (self._unit_levels > 0)
        flags = np.zeros(self.log.n_users, dtype=bool)
        flags[self._unit_users[in_group]] = True
        return Audience.from_mask(self.log, flags, name=f"{by} = {value}")

    # -- display --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        header = f"FunnelResult({self.n_steps} steps, window={self.funnel.window})"
        columns = ["step", "label", self.counted, "conversion_from_first", "dropped"]
        return header + "\n" + self.table[columns].to_string(index=False)

    def _repr_html_(self) -> str:
        table = self.table.copy()
        for column in [c for c in table.columns if c.startswith("conversion_from_")]:
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        for column in _TIME_COLUMNS:
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else str(v))
        caption = html.escape(
            f"Funnel of {self.n_steps} steps, window {self.funnel.window}, counting "
            f"{self.counted}; {self.log.n_users:,} users in the log"
        )
        return f"<div><p><strong>{caption}</strong></p>{table.to_html(index=False)}</div>"


def _keep_top(
    codes: np.ndarray, groups: pd.Index, clean: np.ndarray, top: int
) -> tuple[np.ndarray, pd.Index]:
    """Keep the ``top`` groups with most entrants; fold the rest into ``(other)``."""
    if top < 1:
        raise FunnelDefinitionError(f"top must be at least 1; got {top}")
    entrants = np.bincount(codes[(codes >= 0) & clean], minlength=len(groups))
    if len(groups) <= top:
        return codes, groups
    order = sorted(range(len(groups)), key=lambda g: (-entrants[g], str(groups[g])))
    kept = order[:top]
    remap = np.full(len(groups) + 1, top, dtype=np.int64)
    for new, old in enumerate(kept):
        remap[old] = new
    new_codes = np.where(codes >= 0, remap[codes], -1)
    return new_codes, pd.Index([groups[g] for g in kept] + [OTHER], dtype=object)


def _ordered_groups(out: pd.DataFrame, by: str, counted: str) -> pd.DataFrame:
    """Groups largest first (by step-1 count), steps in order within each group."""
    first = out[out["step"] == 1].copy()
    first["_name"] = first[by].astype(str)
    order = first.sort_values([counted, "_name"], ascending=[False, True])[by].tolist()
    if OTHER in order:
        order = [g for g in order if g != OTHER] + [OTHER]
    out[by] = pd.Categorical(out[by], categories=order, ordered=True)
    return out.sort_values([by, "step"], kind="stable").reset_index(drop=True)
