"""The native engine: a funnel definition and an event log in, :class:`FunnelOutcomes` out.

Steps and exclusions become event codes (plus one boolean per row for property conditions);
funnels without product options run ClickHouse's ``windowFunnel`` kernel, the others the product
engine (``crates/funnel_core/src/funnel/``). Both release the GIL, use every core, and decide who
is in progress with the same open-window rule (``funnel/open_window.rs``).

>>> outcomes = run_native(wb.Funnel(["view", "cart", "pay"]), log)
>>> outcomes.levels.tolist(), outcomes.in_progress.tolist()
([3, 1, 2, 0, 2, 1], [False, False, False, False, True, True])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core, _progress
from workbench._names import did_you_mean
from workbench.exceptions import FunnelDefinitionError, UnknownEventWarning, WorkbenchError
from workbench.funnel.outcomes import FunnelOutcomes, StepReach

if TYPE_CHECKING:
    from workbench.funnel.definition import Funnel
    from workbench.log import EventLog

__all__ = [
    "MAX_EXCLUSIONS",
    "MAX_STEPS",
    "held_columns",
    "run_native",
    "step_conditions",
]

MAX_STEPS: int = _core.MAX_STEPS
"""Most steps a funnel may have (as in ClickHouse: a row's matched steps fit in 32 bits)."""
MAX_EXCLUSIONS = 32
"""Most exclusions a funnel may have (a row's matched exclusions fit in 32 bits)."""


class _Condition(Protocol):
    @property
    def events(self) -> list[str]: ...
    @property
    def where(self) -> Any: ...


def step_conditions(
    log: EventLog, items: Sequence[_Condition], what: str
) -> tuple[list[list[int]], list[tuple[int, pa.Array]]]:
    """Event codes per step (or exclusion) and, for those with a condition, one boolean per
    input row. An event the log never has matches nothing, with an :class:`UnknownEventWarning`.

    >>> step_conditions(log, wb.Funnel(["view", wb.Step("pay", where=wb.col("price") > 9)]).steps,
    ...                 "step")[0]
    [[3], [1]]
    """
    event_codes: list[list[int]] = []
    row_filters: list[tuple[int, pa.Array]] = []
    for index, item in enumerate(items):
        codes = []
        for name in item.events:
            code = log.encoded.event_code(name)
            if code is None:
                warnings.warn(
                    UnknownEventWarning(
                        f"{what} {index + 1} names event {name!r}, which the log never has;"
                        f"{did_you_mean(name, log.event_names) or ' no similar names'}"
                    ),
                    stacklevel=4,
                )
            else:
                codes.append(code)
        event_codes.append(codes)
        if item.where is not None:
            try:
                mask = item.where.mask(log.source)
            except WorkbenchError as err:
                # Say which step's condition is at fault, keeping the class the caller catches.
                raise type(err)(f"{what} {index + 1} ({' | '.join(item.events)}): {err}") from None
            row_filters.append((index, mask.combine_chunks()))
    return event_codes, row_filters


def held_columns(funnel: Funnel, log: EventLog) -> list[str]:
    """The properties a chain holds constant: ``hold`` and, with ``session=True``, the log's
    session column.

    >>> held_columns(wb.Funnel(["view", "pay"], hold="platform", session=True), log)
    ['platform', 'session_id']
    """
    columns = list(funnel.hold)
    if funnel.session:
        if log.session_column is None:
            raise FunnelDefinitionError(
                "session=True needs a session column; name it with "
                "EventLog(..., session='session_id')"
            )
        columns.append(log.session_column)
    return columns


def run_native(
    funnel: Funnel,
    log: EventLog,
    *,
    progress: bool | _progress.ProgressCallback | None = None,
) -> FunnelOutcomes:
    """Run ``funnel`` over ``log`` in the native engine."""
    event_codes, row_filters = step_conditions(log, funnel.steps, "step")
    window = log.time_units(funnel.window, "window")
    end = (
        log.time_bounds[1]
        if funnel.analysis_end is None
        else log.engine_time(funnel.analysis_end, "analysis_end")
    )
    held = held_columns(funnel, log)
    callback = _progress.resolve(progress, "Running funnel")
    try:
        if funnel.uses_product_options:
            n = funnel.n_steps
            exclusion_codes, exclusion_filters = step_conditions(
                log, funnel.exclusions, "exclusion"
            )
            exclusions = [
                (*exclusion.bounds(n), codes)
                for exclusion, codes in zip(funnel.exclusions, exclusion_codes, strict=True)
            ]
            step_windows = [
                None if s.window is None else log.time_units(s.window, f"window of step {i}")
                for i, s in enumerate(funnel.steps, start=1)
            ]
            output = _core.run_analysis(
                log.encoded,
                event_codes,
                row_filters,
                window,
                order=funnel.order,
                counting=funnel.counting,
                step_windows=step_windows,
                optional=[s.optional for s in funnel.steps],
                exclusions=exclusions,
                exclusion_filters=exclusion_filters,
                hold_codes=log.group_codes(held) if held else None,
                analysis_end=end,
                progress=callback,
            )
        else:
            output = _core.run_funnel(
                log.encoded,
                event_codes,
                row_filters,
                window,
                analysis_end=end,
                progress=callback,
                **funnel.options,
            )
    finally:
        _progress.finish(callback)
    return _outcomes(output, log, funnel, held, end)


def _numpy(array: Any) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=True))


def _null_where(mask: pa.BooleanArray, values: pa.Array) -> pa.Array:
    return pc.if_else(mask, pa.scalar(None, values.type), values)


def _outcomes(
    output: Any, log: EventLog, funnel: Funnel, held: list[str], end: int
) -> FunnelOutcomes:
    # Every array is a view of the engine's own memory (no copy on the way here).
    levels = _numpy(output.levels())
    users = output.unit_users()
    entry_rows = _numpy(output.entry_rows())
    steps = []
    for step in range(2, funnel.n_steps + 1):
        units, from_first, from_previous, rows = output.step_times(step)
        steps.append(
            StepReach(step, _numpy(units), _numpy(from_first), _numpy(from_previous), _numpy(rows))
        )
    held_table = None
    if held:
        # The engine read each unit's held code; its values come from the few rows of distinct
        # values, where taking at every unit's entry row of the log is a random read per unit.
        # Units that never entered hold nothing: taking with valid indices and nulling after is
        # twice as fast as taking with null indices.
        held_codes = output.held_codes()  # None when there are no units to hold anything
        codes = np.empty(0, np.uint32) if held_codes is None else _numpy(held_codes)
        outside = codes == _core.NO_HOLD
        values = log.group_values(held)
        indices = pa.array(np.where(outside, 0, codes) if outside.any() else codes)
        outside_mask = pa.array(outside)
        held_table = pa.table(
            {name: _null_where(outside_mask, values.column(name).take(indices)) for name in held}
        )
    return FunnelOutcomes(
        n_steps=funnel.n_steps,
        counting=funnel.counting,
        time_unit=log.time_unit,
        analysis_end=end,
        user_keys=log.user_keys,
        users=log.user_ids if users is None else _numpy(users),
        levels=levels,
        reached=_numpy(output.reached()),
        flags=_numpy(output.flags()),
        entry_times=_numpy(output.entry_times()),
        steps=tuple(steps),
        entry_rows=entry_rows,
        last_rows=_numpy(output.last_rows()),
        held=held_table,
        level_totals=tuple(output.level_counts()),
    )
