"""Funnels: ordered steps within a window, run over an :class:`~workbench.EventLog`.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({
...     "user_id": [1, 1, 1, 2, 2, 3],
...     "event": ["view", "cart", "pay", "view", "cart", "view"],
...     "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05", "2026-01-01 11:00",
...                             "2026-01-01 09:00", "2026-01-03 09:00", "2026-01-02 08:00"]),
... })
>>> result = wb.Funnel(["view", "cart", "pay"], window="1d").run(wb.EventLog(df))
>>> result.level_counts()
[0, 2, 0, 1]
>>> result.table[["step", "users", "conversion_from_first"]]
   step  users  conversion_from_first
0     1      3               1.000000
1     2      1               0.333333
2     3      1               0.333333
"""

from __future__ import annotations

import datetime as dt
import html
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench import _core, _progress
from workbench._durations import parse_duration
from workbench._names import did_you_mean, listing
from workbench.exceptions import (
    ColumnNotFoundError,
    FunnelDefinitionError,
    SchemaError,
    UnknownEventWarning,
)
from workbench.log import EventLog
from workbench.predicates import Predicate

if TYPE_CHECKING:
    from workbench.audience import Audience

__all__ = ["Funnel", "FunnelResult", "Step"]

MAX_STEPS = 32
_MISSING = "(missing)"


@dataclass(frozen=True)
class Step:
    """One funnel step: an event name (or alternatives) and optional property conditions.

    >>> import workbench as wb
    >>> wb.Step(["add_to_cart", "quick_buy"], where=wb.col("price") > 10, label="Cart")
    Step(event=('add_to_cart', 'quick_buy'), where=(col('price') > 10), label='Cart')
    """

    event: str | tuple[str, ...]
    where: Predicate | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.event, (list, tuple)):
            object.__setattr__(self, "event", tuple(self.event))
            if not self.event or not all(isinstance(e, str) for e in self.event):
                raise FunnelDefinitionError(
                    f"a step's alternatives must be one or more event names; got {self.event!r}"
                )
        elif not isinstance(self.event, str):
            raise FunnelDefinitionError(
                f"a step is an event name, a list of names or a Step; got {self.event!r}"
            )
        if self.where is not None and not isinstance(self.where, Predicate):
            raise FunnelDefinitionError(
                f"where= takes a condition such as wb.col('price') > 10; got {self.where!r}"
            )

    @property
    def events(self) -> list[str]:
        """The event names this step accepts."""
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def name(self) -> str:
        """The label, or the event names joined by ``|``."""
        return self.label or " | ".join(self.events)


def _as_step(value: str | Sequence[str] | Step) -> Step:
    if isinstance(value, Step):
        return value
    if isinstance(value, str):
        return Step(value)
    if isinstance(value, Sequence):
        return Step(tuple(value))
    raise FunnelDefinitionError(
        f"a step is an event name, a list of alternative names or a Step; got {value!r}"
    )


class Funnel:
    """Ordered steps a user must take within a window from the first step.

    The default counts a user at the highest step reached by any chain that starts at a step-1
    event and reaches each later step no later than ``window`` after that start; other events
    may come between steps. This is ClickHouse's ``windowFunnel`` exactly, including its options:

    - ``strict_deduplication``: a repeated step (other than step 1) ends the user's scan.
    - ``strict_order``: after the first step-1 event, any unrelated event or a step out of order
      ends the scan.
    - ``strict_increase``: a step joins a chain only if strictly later than the previous step.
    - ``allow_reentry`` (with ``strict_order``): out-of-order steps are skipped instead.

    Args:
        steps: 1 to 32 steps: event names, lists of alternative names, or :class:`Step`.
        window: ``"30m"``, ``"2h"``, ``"7d"``... or a timedelta; inclusive; zero is allowed.
        labels: display names by event name or by 1-based step number.

    >>> import workbench as wb
    >>> wb.Funnel(["view", "cart", "pay"], window="2h", strict_order=True)
    Funnel(['view', 'cart', 'pay'], window=0 days 02:00:00, strict_order)
    """

    def __init__(
        self,
        steps: Sequence[str | Sequence[str] | Step],
        *,
        window: str | dt.timedelta = "1d",
        strict_deduplication: bool = False,
        strict_order: bool = False,
        strict_increase: bool = False,
        allow_reentry: bool = False,
        labels: Mapping[str | int, str] | None = None,
    ) -> None:
        if isinstance(steps, (str, Step)):
            raise FunnelDefinitionError("steps must be a list, e.g. ['view', 'cart', 'pay']")
        self.steps: list[Step] = [_as_step(s) for s in steps]
        if not self.steps:
            raise FunnelDefinitionError("a funnel needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise FunnelDefinitionError(
                f"a funnel has at most {MAX_STEPS} steps; this one has {len(self.steps)}"
            )
        if allow_reentry and not strict_order:
            raise FunnelDefinitionError("allow_reentry only applies together with strict_order")
        self.window = parse_duration(window)
        self.options = {
            "strict_deduplication": bool(strict_deduplication),
            "strict_order": bool(strict_order),
            "strict_increase": bool(strict_increase),
            "allow_reentry": bool(allow_reentry),
        }
        self.labels = dict(labels or {})

    @property
    def step_labels(self) -> list[str]:
        """What each step is called in tables and charts."""
        out = []
        for number, step in enumerate(self.steps, start=1):
            label = self.labels.get(number) or step.label
            if label is None and len(step.events) == 1:
                label = self.labels.get(step.events[0])
            out.append(label or step.name)
        return out

    def __repr__(self) -> str:
        names = [s.events[0] if len(s.events) == 1 and not s.where else s for s in self.steps]
        flags = "".join(f", {k}" for k, v in self.options.items() if v)
        return f"Funnel({names!r}, window={self.window}{flags})"

    def run(
        self, log: EventLog, *, progress: bool | _progress.ProgressCallback | None = None
    ) -> FunnelResult:
        """Run on ``log``; the GIL is released and both cores are used.

        >>> result = funnel.run(log)  # doctest: +SKIP
        """
        if not isinstance(log, EventLog):
            raise TypeError(f"run() takes an EventLog; got {type(log).__name__}")
        event_codes: list[list[int]] = []
        row_filters: list[tuple[int, pa.Array]] = []
        for index, step in enumerate(self.steps):
            codes = []
            for name in step.events:
                code = log._native.event_code(name)
                if code is None:
                    warnings.warn(
                        UnknownEventWarning(
                            f"step {index + 1} names event {name!r}, which the log never has;"
                            f"{did_you_mean(name, log.event_names) or ' no similar names'}"
                        ),
                        stacklevel=2,
                    )
                else:
                    codes.append(code)
            event_codes.append(codes)
            if step.where is not None:
                mask = step.where.mask(log.source)
                row_filters.append((index, mask.combine_chunks()))
        try:
            window = log.time_units(self.window)
        except ValueError as err:
            raise FunnelDefinitionError(f"window: {err}") from None
        callback = _progress.resolve(progress, "Running funnel")
        try:
            output = _core.run_funnel(
                log._native, event_codes, row_filters, window, progress=callback, **self.options
            )
        finally:
            _progress.finish(callback)
        return FunnelResult(self, log, output)


class FunnelResult:
    """How far each user got. Tables are computed on demand from per-user arrays.

    >>> result.table            # doctest: +SKIP
    >>> result.levels           # level per user, by original user key   # doctest: +SKIP
    >>> result.breakdown("platform")                                     # doctest: +SKIP
    """

    def __init__(self, funnel: Funnel, log: EventLog, output: Any) -> None:
        self.funnel = funnel
        self.log = log
        self._output = output

    @property
    def n_steps(self) -> int:
        return len(self.funnel.steps)

    @property
    def labels(self) -> list[str]:
        return self.funnel.step_labels

    def level_counts(self) -> list[int]:
        """Users at each exact level 0..N (level 0: never did step 1), over all users in the log."""
        return [int(c) for c in self._output.level_counts()]

    def levels_array(self) -> np.ndarray:
        """Level per dense user id (uint8), aligned with ``log.user_keys``."""
        return self._levels

    @cached_property
    def _levels(self) -> np.ndarray:
        return self._output.levels().to_numpy(zero_copy_only=True)

    @cached_property
    def levels(self) -> pd.Series:
        """Level reached by each user, indexed by the original user key."""
        return pd.Series(self._levels, index=self.log.users, name="level")

    @cached_property
    def _entry_rows(self) -> np.ndarray:
        return self._output.entry_rows().to_numpy(zero_copy_only=True)

    @cached_property
    def _step_times(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for step in range(2, self.n_steps + 1):
            users, from_first, from_previous = self._output.step_times(step)
            out.append(
                (
                    users.to_numpy(zero_copy_only=True),
                    from_first.to_numpy(zero_copy_only=True),
                    from_previous.to_numpy(zero_copy_only=True),
                )
            )
        return out

    def time_to_convert(self, step: int) -> pd.DataFrame:
        """For every user who reached ``step`` (2..N): time from step 1 and from the previous step.

        >>> result.time_to_convert(3).median()   # doctest: +SKIP
        """
        if not 2 <= step <= self.n_steps:
            raise FunnelDefinitionError(
                f"time to convert is defined for steps 2..{self.n_steps}; got {step}"
            )
        users, from_first, from_previous = self._step_times[step - 2]
        index = pd.Index(
            self.log.user_keys.take(pa.array(users)).to_pandas(), name=self.log.user_column
        )
        return pd.DataFrame(
            {
                "from_first": self.log.to_timedelta(from_first),
                "from_previous": self.log.to_timedelta(from_previous),
            },
            index=index,
        )

    @cached_property
    def table(self) -> pd.DataFrame:
        """Per step: users reaching it, conversion, drop-off, median and p90 time to reach it."""
        return self._step_table(None)

    def _step_table(self, in_group: np.ndarray | None) -> pd.DataFrame:
        n = self.n_steps
        levels = self._levels if in_group is None else self._levels[in_group]
        counts = np.bincount(levels, minlength=n + 1)
        reached = counts[::-1].cumsum()[::-1][1:]  # users at level >= k, k = 1..n
        with np.errstate(divide="ignore", invalid="ignore"):
            first = reached[0] if reached[0] else np.nan
            from_first = reached / first
            previous = np.concatenate([[reached[0]], reached[:-1]]).astype(float)
            previous[previous == 0] = np.nan
            from_previous = reached / previous
        dropped = reached - np.concatenate([reached[1:], [0]])
        dropped[-1] = 0
        stats = {name: [pd.NaT] * n for name in _TIME_COLUMNS}
        for step in range(2, n + 1):
            users, to_first, to_previous = self._step_times[step - 2]
            if in_group is not None:
                keep = in_group[users]
                to_first, to_previous = to_first[keep], to_previous[keep]
            if len(to_first):
                q_first = np.percentile(to_first, [50, 90])
                q_prev = np.percentile(to_previous, [50, 90])
                values = [q_first[0], q_first[1], q_prev[0], q_prev[1]]
                for name, value in zip(_TIME_COLUMNS, values, strict=True):
                    stats[name][step - 1] = pd.Timedelta(value, unit=self.log.time_unit)
        table = pd.DataFrame(
            {
                "step": np.arange(1, n + 1),
                "label": self.labels,
                "users": reached.astype("int64"),
                "conversion_from_previous": from_previous,
                "conversion_from_first": from_first,
                "dropped": dropped.astype("int64"),
            }
        )
        for name in _TIME_COLUMNS:
            table[name] = pd.to_timedelta(pd.Series(stats[name], dtype="object"))
        return table

    def breakdown(
        self,
        by: str,
        *,
        users: pd.DataFrame | None = None,
        on: str | None = None,
    ) -> pd.DataFrame:
        """The step table per value of an event property of the step-1 event, or of a column
        of a user-attribute table (``users``) joined on the user key (``on``).

        >>> result.breakdown("platform")                        # doctest: +SKIP
        >>> result.breakdown("age_band", users=users_df)        # doctest: +SKIP
        """
        values = self._group_values(by, users, on)
        codes, groups = pd.factorize(values.fillna(_MISSING), sort=True)
        # Users who never did step 1 have no step-1 event to attribute: they stay out of groups.
        codes[self._levels == 0] = -1
        frames = []
        for code in np.unique(codes[codes >= 0]):
            group = groups[code]
            in_group = codes == code
            table = self._step_table(in_group)
            table.insert(0, by, group)
            frames.append(table)
        if not frames:
            return self._step_table(np.zeros(len(self._levels), dtype=bool)).head(0)
        out = pd.concat(frames, ignore_index=True)
        order = (
            out[out["step"] == 1].sort_values(["users", by], ascending=[False, True])[by].tolist()
        )
        out[by] = pd.Categorical(out[by], categories=order, ordered=True)
        return out.sort_values([by, "step"], kind="stable").reset_index(drop=True)

    def _group_values(self, by: str, users: pd.DataFrame | None, on: str | None) -> pd.Series:
        """One value per dense user id (NaN outside any group)."""
        if users is None:
            source = self.log.source
            if by not in source.column_names:
                raise ColumnNotFoundError(
                    f"cannot break down by {by!r}: it is not a column of the log;"
                    f"{did_you_mean(by, self.log.property_names)} the properties are "
                    f"{listing(self.log.property_names)}"
                )
            entered = self._levels > 0
            rows = self._entry_rows[entered]
            picked = source.column(by).take(pa.array(rows)).to_pandas()
            values = pd.Series(np.nan, index=np.arange(len(self._levels)), dtype="object")
            values[entered] = picked.to_numpy(dtype=object)
            values[~entered] = None
            return values
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
        attribute = users.set_index(key)[by]
        values = attribute.reindex(self.log.users).reset_index(drop=True).astype("object")
        values[self._levels == 0] = None
        return values

    # -- drill-down: audiences from the same arrays, no re-run -------------------------------------

    def reached(self, step: int, group: Audience | None = None) -> Audience:
        """Users who reached ``step`` (1-based), optionally within ``group``.

        >>> result.reached(2)   # doctest: +SKIP
        """
        from workbench import audience

        return audience.reached(self, step, group)

    def dropped_after(self, step: int, group: Audience | None = None) -> Audience:
        """Users whose furthest step was ``step``: the drop-off after it.

        >>> result.dropped_after(2).to_pandas()   # doctest: +SKIP
        """
        from workbench import audience

        return audience.dropped_after(self, step, group)

    def entered(self, group: Audience | None = None) -> Audience:
        """Users who did step 1."""
        from workbench import audience

        return audience.entered(self, group)

    def converted(self, group: Audience | None = None) -> Audience:
        """Users who completed every step."""
        from workbench import audience

        return audience.converted(self, group)

    def breakdown_group(
        self, by: str, value: Any, *, users: pd.DataFrame | None = None, on: str | None = None
    ) -> Audience:
        """The users of one breakdown group (same attribution as :meth:`breakdown`), to pass as
        ``group=`` to a drill-down.

        >>> android = result.breakdown_group("platform", "android")  # doctest: +SKIP
        >>> result.dropped_after(3, group=android)                  # doctest: +SKIP
        """
        from workbench.audience import Audience

        values = self._group_values(by, users, on).fillna(_MISSING).to_numpy(dtype=object)
        flags = (values == value) & (self._levels > 0)
        return Audience.from_mask(self.log, flags, name=f"{by} = {value}")

    def __repr__(self) -> str:
        header = f"FunnelResult({self.n_steps} steps, window={self.funnel.window})"
        table = self.table[["step", "label", "users", "conversion_from_first", "dropped"]]
        return header + "\n" + table.to_string(index=False)

    def _repr_html_(self) -> str:
        table = self.table.copy()
        for column in ("conversion_from_previous", "conversion_from_first"):
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        for column in _TIME_COLUMNS:
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else str(v))
        caption = html.escape(
            f"Funnel of {self.n_steps} steps, window {self.funnel.window}; "
            f"{self.log.n_users:,} users in the log"
        )
        return f"<div><p><strong>{caption}</strong></p>{table.to_html(index=False)}</div>"


_TIME_COLUMNS = (
    "median_time_from_first",
    "p90_time_from_first",
    "median_time_from_previous",
    "p90_time_from_previous",
)
