"""What "the same answer on Spark" means, checked field by field: the per-unit outcome arrays,
the step table, the level of every user, every drill-down audience and the breakdowns."""

from __future__ import annotations

import numpy as np
import pandas as pd

import workbench as wb


def assert_same_outcomes(local: wb.FunnelOutcomes, remote: wb.FunnelOutcomes) -> None:
    assert remote.n_steps == local.n_steps
    assert remote.counting == local.counting
    assert remote.analysis_end == local.analysis_end
    assert remote.user_keys.to_pylist() == local.user_keys.to_pylist()
    for name in ("users", "levels", "reached", "flags", "entry_times"):
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name), err_msg=name)
    for mine, theirs in zip(remote.steps, local.steps, strict=True):
        for name in ("units", "from_first", "from_previous"):
            np.testing.assert_array_equal(
                getattr(mine, name), getattr(theirs, name), err_msg=f"step {mine.step} {name}"
            )
    if local.held is None:
        assert remote.held is None
    else:
        assert remote.held is not None
        assert remote.held.column_names == local.held.column_names
        for name in local.held.column_names:
            assert remote.held.column(name).to_pylist() == local.held.column(name).to_pylist()


def assert_same_result(
    local: wb.FunnelResult, remote: wb.FunnelResult, breakdowns: tuple[str, ...] = ()
) -> None:
    """Everything an analyst reads from a result is the same on both engines."""
    assert_same_outcomes(local.outcomes, remote.outcomes)
    assert remote.level_counts() == local.level_counts()
    pd.testing.assert_series_equal(remote.levels, local.levels, check_index_type=False)
    pd.testing.assert_frame_equal(remote.table, local.table)
    n = local.n_steps
    pairs = [(remote.entered(), local.entered()), (remote.converted(), local.converted())]
    pairs += [(remote.in_progress(), local.in_progress()), (remote.excluded(), local.excluded())]
    for step in range(1, n + 1):
        pairs.append((remote.reached(step), local.reached(step)))
        if step < n:  # nobody drops off after the last step
            pairs.append((remote.dropped_after(step), local.dropped_after(step)))
    for mine, theirs in pairs:
        assert mine.name == theirs.name
        assert mine.keys().to_pylist() == theirs.keys().to_pylist(), mine.name
    carried = list(remote.outcomes.attributed or {})
    for by in breakdowns:
        for attribution in carried:
            pd.testing.assert_frame_equal(
                remote.breakdown(by, attribution=attribution),
                local.breakdown(by, attribution=attribution),
                obj=f"breakdown by {by} ({attribution})",
            )
