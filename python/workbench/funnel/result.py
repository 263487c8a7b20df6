"""What a funnel run gives an analyst: the step table, levels, times, breakdowns, trends and the
drill-down from any step to the users behind it.

Everything is computed on demand from the run's :class:`~workbench.funnel.FunnelOutcomes`;
nothing is re-run. The drill-downs live here, and only here: each returns an
:class:`~workbench.Audience` whose members are exactly the users the step table counts.

>>> result.table[["step", "label", "users", "dropped", "in_progress"]]
   step label  users  dropped  in_progress
0     1  view      5        1            1
1     2  cart      3        1            1
2     3   pay      1        0            0
>>> result.dropped_after(1)
Audience 'dropped after view'(1 of 6 users)
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench import _display
from workbench._durations import format_duration, humanize_duration
from workbench.audience import Audience, ensure_audience
from workbench.exceptions import ArgumentError, FunnelDefinitionError
from workbench.funnel.breakdown import (
    MISSING,
    keep_top,
    largest_first,
    property_groups,
    user_table_groups,
)
from workbench.funnel.outcomes import FunnelOutcomes
from workbench.funnel.tables import group_counts, grouped_step_table, step_tables
from workbench.log import EventLog
from workbench.stats import with_confidence

if TYPE_CHECKING:
    from workbench.funnel.definition import Funnel

__all__ = ["FunnelResult"]


class FunnelResult:
    """How far each user (or attempt) got: tables, breakdowns, trends and drill-downs.

    Attributes:
        funnel: the definition that was run.
        log: the event log it ran on (the id space of every audience it returns).
        outcomes: the per-unit outcome every table here is computed from.

    >>> result.level_counts()
    [1, 2, 2, 1]
    >>> result.breakdown("platform")[["platform", "step", "users"]].head(3)
      platform  step  users
    0      ios     1      2
    1      ios     2      1
    2      ios     3      1
    """

    def __init__(self, funnel: Funnel, log: EventLog, outcomes: FunnelOutcomes) -> None:
        if outcomes.n_users != log.n_users:
            raise FunnelDefinitionError(
                f"the outcomes cover {outcomes.n_users:,} users but the log has "
                f"{log.n_users:,}: they come from another log"
            )
        self.funnel = funnel
        self.log = log
        self.outcomes = outcomes
        self._shown: str | None = None  # the notebook display, drawn once

    # -- shape -------------------------------------------------------------------------------

    @property
    def n_steps(self) -> int:
        """How many steps the funnel has."""
        return self.outcomes.n_steps

    @property
    def labels(self) -> list[str]:
        """What each step is called in tables and charts."""
        return self.funnel.step_labels

    @property
    def counted(self) -> str:
        """What the table counts: ``"users"`` or ``"conversions"``."""
        return "users" if self.outcomes.counting == "users" else "conversions"

    @property
    def analysis_end(self) -> pd.Timestamp:
        """When open windows were judged: units whose window reaches past it are in progress.

        >>> result.analysis_end
        Timestamp('2026-01-03 12:30:00')
        """
        return self.log.to_timestamp(self.outcomes.analysis_end)

    # -- per user -------------------------------------------------------------------------------

    def level_counts(self) -> list[int]:
        """Units at each exact level 0..N (level 0: never did step 1), excluded units left out.

        Counting users, that is every user of the log.

        >>> result.level_counts()
        [1, 2, 2, 1]
        """
        return self.outcomes.level_counts()

    def levels_array(self) -> np.ndarray:
        """Furthest step per dense user id (uint8), aligned with ``log.user_keys``; 0 for users
        who never entered or whose best chain was excluded.

        >>> result.levels_array().tolist()
        [3, 1, 2, 0, 2, 1]
        """
        return self.outcomes.user_levels()

    @cached_property
    def levels(self) -> pd.Series:
        """Furthest step reached by each user, indexed by the original user key.

        >>> result.levels.to_dict()
        {1: 3, 2: 1, 3: 2, 4: 0, 5: 2, 6: 1}
        """
        return pd.Series(self.levels_array(), index=self.log.users, name="level")

    def time_to_convert(self, step: int) -> pd.DataFrame:
        """For every counted unit that reached ``step`` (2..N): the time from step 1 and from
        the previous step of its chain, indexed by user key — the distribution behind the
        table's medians.

        >>> result.time_to_convert(2)["from_first"]
        user_id
        1   0 days 00:05:00
        3   0 days 00:30:00
        5   0 days 00:10:00
        Name: from_first, dtype: timedelta64[us]
        """
        step = self.outcomes.check_step(step, first=2)
        reach = self.outcomes.steps[step - 2]
        keep = self.outcomes.counted[reach.units]
        users = self.outcomes.users[reach.units[keep]]
        index = pd.Index(
            self.log.user_keys.take(pa.array(users)).to_pandas(), name=self.log.user_column
        )
        return pd.DataFrame(
            {
                "from_first": self.log.to_timedelta(reach.from_first[keep]),
                "from_previous": self.log.to_timedelta(reach.from_previous[keep]),
            },
            index=index,
        )

    # -- tables ---------------------------------------------------------------------------------

    def _tables(self, codes: np.ndarray, n_groups: int) -> list[pd.DataFrame]:
        return step_tables(
            self.outcomes,
            codes,
            n_groups,
            labels=self.labels,
            optional=[s.optional for s in self.funnel.steps],
            exclusions=bool(self.funnel.exclusions),
        )

    @cached_property
    def table(self) -> pd.DataFrame:
        """Per step: units reaching it, conversion (with 95% Wilson bounds ``*_low``/``*_high``),
        drop-off, in progress, excluded, and median and p90 time to reach it from step 1 and
        from the previous step.

        >>> result.table.columns.tolist()[:8]
        ['step', 'label', 'users', 'conversion_from_previous', 'conversion_from_previous_low', \
'conversion_from_previous_high', 'conversion_from_first', 'conversion_from_first_low']
        """
        codes = np.zeros(self.outcomes.n_units, dtype=np.int64)
        return with_confidence(self._tables(codes, 1)[0])

    def worst_step(self) -> int:
        """The step after which the largest share of the users who reached it dropped off (the
        first such step on a tie): where a drill-down into ``dropped_after`` starts.

        >>> result.worst_step()  # 1 of the 3 who reached cart dropped, 1 of 5 after view
        2
        """
        if self.n_steps < 2:
            return 1
        table = self.table
        reached = table[self.counted].to_numpy(dtype=float)[:-1]
        dropped = table["dropped"].to_numpy(dtype=float)[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(reached > 0, dropped / reached, -1.0)
        return int(np.argmax(share)) + 1

    def group_codes(
        self,
        by: str,
        *,
        users: pd.DataFrame | None = None,
        on: str | None = None,
        attribution: str | int = "first_touch",
    ) -> tuple[np.ndarray, list[Any]]:
        """A breakdown group code per unit (-1 for units that never entered) and the group
        labels, as :meth:`breakdown` forms them.

        >>> codes, labels = result.group_codes("platform")
        >>> codes.tolist(), labels
        ([0, 1, 1, -1, 2, 0], ['ios', 'web', 'android', '(missing)'])
        """
        if users is None:
            if on is not None:
                raise ArgumentError("on= names the key column of users=; pass users= too")
            return property_groups(self.log, self.outcomes, by, attribution)
        return user_table_groups(self.log, self.outcomes, by, users, on)

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

        >>> result.breakdown("gender", users=users)[["gender", "step", "users"]]
          gender  step  users
        0      F     1      4
        1      F     2      3
        2      F     3      1
        3      M     1      1
        4      M     2      0
        5      M     3      0
        >>> vip = wb.Audience.from_keys(log, [1, 3], name="vip")
        >>> result.breakdown({"vip": vip})[["segment", "step", "users"]]
          segment  step  users
        0     vip     1      2
        1     vip     2      2
        2     vip     3      1
        """
        if isinstance(by, Mapping):
            return self._segment_breakdown(by)
        if top is None and users is None and on is None:
            # Groups are ordered by size below: the log's own codes need no numbering.
            codes, labels = property_groups(
                self.log, self.outcomes, by, attribution, numbered=False
            )
        else:
            codes, labels = self.group_codes(by, users=users, on=on, attribution=attribution)
        if top is not None:
            codes, labels = keep_top(codes, labels, self.outcomes.counted, top)
        # One native pass counts every group; the frame is then built once, in its final order.
        counts = group_counts(self.outcomes, codes, len(labels))
        present = np.flatnonzero(counts.members)
        if not len(present):
            empty = self.table.head(0)
            empty = empty[[c for c in empty.columns if not c.endswith(("_low", "_high"))]]
            empty.insert(0, by, pd.Series(dtype=object))
            return with_confidence(empty)
        present = largest_first(present, counts.reached[:, 0], labels)
        table = grouped_step_table(
            self.outcomes,
            codes,
            len(labels),
            labels=self.labels,
            optional=[s.optional for s in self.funnel.steps],
            exclusions=bool(self.funnel.exclusions),
            groups=present,
            counts=counts,
            confidence=0.95,
        )
        names = np.empty(len(labels), dtype=object)
        names[:] = labels
        shown = names[present]
        # Groups by position: the codes of an ordered categorical whose categories are `shown`.
        group = pd.Categorical.from_codes(
            np.repeat(np.arange(len(shown)), self.n_steps),
            dtype=pd.CategoricalDtype(list(shown), ordered=True),
        )
        table.insert(0, by, pd.Series(group))
        return table

    def _segment_breakdown(self, segments: Mapping[str, Audience]) -> pd.DataFrame:
        if not segments:
            raise FunnelDefinitionError("breakdown by segments needs at least one segment")
        frames = []
        for name, audience in segments.items():
            member = ensure_audience(audience, self.log, f"segment {name!r}").mask()
            codes = np.where(member[self.outcomes.users], 0, -1).astype(np.int64)
            table = self._tables(codes, 1)[0]
            table.insert(0, "segment", name)
            frames.append(table)
        return with_confidence(pd.concat(frames, ignore_index=True))

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

        >>> web = result.breakdown_group("platform", "web")
        >>> web, result.dropped_after(1, group=web).keys().to_pylist()
        (Audience 'platform = web'(2 of 6 users), [2])
        """
        codes, labels = self.group_codes(by, users=users, on=on, attribution=attribution)
        if value not in labels:
            shown = [str(v) for v in labels if v != MISSING]
            raise FunnelDefinitionError(
                f"no user who did step 1 has {by} = {value!r}; the values are {shown}"
            )
        in_group = codes == labels.index(value)
        return Audience.from_mask(
            self.log, self.outcomes.per_user(in_group), name=f"{by} = {value}"
        )

    # -- drill-down: audiences from the outcome arrays, no re-run ------------------------------

    def _label(self, step: int) -> str:
        return self.labels[step - 1]

    def _drill(self, units: np.ndarray, group: Audience | None, name: str) -> Audience:
        audience = Audience.from_mask(self.log, self.outcomes.per_user(units), name=name)
        if group is None:
            return audience
        group = ensure_audience(group, self.log, "group")
        return (audience & group).named(f"{name}, {group.name}" if group.name else name)

    def reached(self, step: int, group: Audience | None = None) -> Audience:
        """Users whose counted chain includes ``step`` (1-based): the step table's count, so an
        optional step counts only the users who took it. ``group`` keeps only its members.

        >>> result.reached(2)
        Audience 'reached cart'(3 of 6 users)
        """
        step = self.outcomes.check_step(step)
        return self._drill(self.outcomes.reached_step(step), group, f"reached {self._label(step)}")

    def dropped_after(self, step: int, group: Audience | None = None) -> Audience:
        """Users whose furthest step was ``step`` and whose window has closed: the drop-off the
        table shows at that step (users still in progress are not dropped).

        >>> result.dropped_after(2).keys().to_pylist()
        [3]
        """
        out = self.outcomes
        step = out.check_step(step)
        if step == out.n_steps:
            # The table's drop-off at the last step is 0, in a one-step funnel too.
            raise FunnelDefinitionError(
                f"nobody drops off after the last step ({out.n_steps}): it is conversion; use "
                "converted()"
            )
        units = out.counted & (out.levels == step) & ~out.in_progress
        return self._drill(units, group, f"dropped after {self._label(step)}")

    def entered(self, group: Audience | None = None) -> Audience:
        """Users who did step 1 (excluded users are not counted).

        >>> result.entered()
        Audience 'entered view'(5 of 6 users)
        """
        return self._drill(self.outcomes.reached_step(1), group, f"entered {self._label(1)}")

    def converted(self, group: Audience | None = None) -> Audience:
        """Users who completed every step.

        >>> result.converted().keys().to_pylist()
        [1]
        """
        n = self.n_steps
        return self._drill(self.outcomes.reached_step(n), group, f"converted to {self._label(n)}")

    def in_progress(self, step: int | None = None, group: Audience | None = None) -> Audience:
        """Users whose best chain is still inside its window at the analysis end (at ``step``:
        those whose furthest step so far is ``step``).

        >>> result.in_progress(), result.in_progress(2).keys().to_pylist()
        (Audience 'in progress'(2 of 6 users), [5])
        """
        out = self.outcomes
        units = out.counted & out.in_progress & (out.levels < out.n_steps)
        name = "in progress"
        if step is not None:
            units &= out.levels == out.check_step(step)
            name = f"in progress at {self._label(step)}"
        return self._drill(units, group, name)

    def excluded(self, step: int | None = None, group: Audience | None = None) -> Audience:
        """Users whose best chain was voided by an exclusion (at ``step``: voided after
        reaching it).

        >>> result.excluded()
        Audience 'excluded'(0 of 6 users)
        """
        out = self.outcomes
        units = out.excluded.copy()
        name = "excluded"
        if step is not None:
            units &= out.levels == out.check_step(step)
            name = f"excluded at {self._label(step)}"
        # A user with a counted unit (counting conversions) is not excluded as a user.
        users = out.per_user(units) & (out.user_levels() == 0)
        audience = Audience.from_mask(self.log, users, name=name)
        return audience if group is None else self._drill_group(audience, group)

    def _drill_group(self, audience: Audience, group: Audience) -> Audience:
        group = ensure_audience(group, self.log, "group")
        name = f"{audience.name}, {group.name}" if group.name else audience.name or ""
        return (audience & group).named(name)

    # -- trends and confidence -----------------------------------------------------------------

    def trends(
        self, period: str = "day", tz: str | None = None, *, confidence: float = 0.95
    ) -> pd.DataFrame:
        """Conversion by entry period (``"day"``, ``"week"`` from Monday, ``"month"``) in time
        zone ``tz`` (default: the log's, else UTC): one row per period and step, every period
        listed, with Wilson bounds; see :func:`workbench.funnel.trends.conversion_trends`.

        >>> result.trends("day")[["period_start", "step", "entrants", "users"]].head(3)
                       period_start  step  entrants  users
        0 2026-01-01 00:00:00+00:00     1         2      2
        1 2026-01-01 00:00:00+00:00     2         2      1
        2 2026-01-01 00:00:00+00:00     3         2      1
        """
        from workbench.funnel.trends import conversion_trends

        return conversion_trends(self, period, tz, confidence=confidence)  # type: ignore[arg-type]

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
        :func:`workbench.funnel.compare.compare_groups`.

        >>> result.compare_groups("platform", "ios", "web", step=3)["significant"].tolist()
        [False]
        """
        from workbench.funnel.compare import compare_groups

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
        :func:`workbench.funnel.compare.compare_segments`.

        >>> vip = wb.Audience.from_keys(log, [1, 3], name="vip")
        >>> result.compare_segments(vip, ~vip, step=2)["difference"].round(3).tolist()
        [0.667]
        """
        from workbench.funnel.compare import compare_segments

        return compare_segments(self, segment_a, segment_b, step=step, alpha=alpha)

    # -- display --------------------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """The compact table a notebook shows: users, conversion, drop-off, in progress and
        median time to each step, rates as percentages and durations as people write them
        (the full table is :attr:`table`).

        >>> result.summary()
           step label  users conversion  dropped  in progress median time
        0     1  view      5     100.0%        1            1           —
        1     2  cart      3      60.0%        1            1         10m
        2     3   pay      1      20.0%        0            0          1h
        """
        table = self.table
        shown = pd.DataFrame(
            {
                "step": table["step"],
                "label": table["label"],
                self.counted: table[self.counted],
                "conversion": table["conversion_from_first"].map(_percent),
                "dropped": table["dropped"],
                "in progress": table["in_progress"],
                "median time": table["median_time_from_first"].map(
                    lambda t: humanize_duration(t) or "—"
                ),
            }
        )
        if "excluded" in table.columns:
            shown.insert(6, "excluded", table["excluded"])
        return shown

    def __repr__(self) -> str:
        header = (
            f"FunnelResult({self.n_steps} steps, window {format_duration(self.funnel.window)}, "
            f"{self.log.n_users:,} users in the log)"
        )
        return header + "\n" + self.summary().to_string(index=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """What a notebook shows: the funnel chart beside the compact :meth:`summary` (the
        chart is an SVG picture drawn offline by :mod:`workbench.charts`; without Altair, the
        table alone). The full table is :attr:`table`.

        >>> sorted(result._repr_mimebundle_())
        ['text/html', 'text/plain']
        """
        return {"text/plain": repr(self), "text/html": self._display_html()}

    def _repr_html_(self) -> str:
        return self._display_html()

    def _display_html(self) -> str:
        if self._shown is None:
            caption = html.escape(
                f"Funnel of {self.n_steps} steps, window {format_duration(self.funnel.window)}, "
                f"counting {self.counted}; {self.log.n_users:,} users in the log. "
                "Full table: result.table"
            )
            table = f"<p><strong>{caption}</strong></p>{self.summary().to_html(index=False)}"
            chart = _display.picture("funnel result", self)
            if chart is None:
                self._shown = f"<div>{table}</div>"
            else:
                self._shown = (
                    "<div style='display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start'>"
                    f"<div>{chart}</div><div>{table}</div></div>"
                )
        return self._shown


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.1%}"
