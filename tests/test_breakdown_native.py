"""Breakdowns counted in the engine against the same tables built with pandas from the result's
per-unit outcomes (the way they were built before the engine counted them), on random logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb

MISSING = "(missing)"


def _random_log(seed: int) -> wb.EventLog:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3_000))
    return wb.EventLog(
        pa.table(
            {
                "user_id": rng.integers(0, max(2, n // 6), n),
                "event": np.array(["a", "b", "c", "x", "y"])[rng.integers(0, 5, n)],
                # Few distinct seconds: many ties, many equal durations.
                "time": pa.array(rng.integers(0, 3_000, n) * 60, pa.timestamp("s")),
                "platform": pa.array(
                    [
                        None if v == 3 else ["web", "ios", "android"][v]
                        for v in rng.integers(0, 4, n)
                    ]
                ),
            }
        )
    )


def _reference(result: wb.FunnelResult, by: str, attribution) -> pd.DataFrame:
    """Group tables from per-unit arrays with numpy and pandas' grouped quantiles."""
    n = result.n_steps
    out_ = result.outcomes
    levels = np.asarray(out_.levels)
    flags = np.asarray(out_.flags)
    reached_masks = np.asarray(out_.reached)
    steps = [(r.units, r.from_first, r.from_previous, r.rows) for r in out_.steps]
    if attribution in ("first_touch", 1):
        rows = np.asarray(out_.entry_rows, dtype=np.uint64)
    elif attribution == "last_touch":
        rows = np.asarray(out_.last_rows, dtype=np.uint64)
    else:
        rows = np.full(len(levels), 2**32 - 1, dtype=np.uint64)
        units, _, _, step_rows = steps[attribution - 2]
        rows[units] = step_rows
    values = result.log.source.column(by).to_pylist()
    group = np.array(
        [MISSING if r == 2**32 - 1 or values[r] is None else values[r] for r in rows],
        dtype=object,
    )
    clean = (flags & 2) == 0
    member = levels > 0
    out = []
    for name in sorted(set(group[member]), key=str):
        mine = member & (group == name)
        ok = mine & clean
        reached = [int(((reached_masks[ok] >> k) & 1).sum()) for k in range(n)]
        at_level = np.bincount(levels[ok], minlength=n + 1)[1:]
        open_at = np.bincount(levels[ok & ((flags & 1) != 0)], minlength=n + 1)[1:]
        times = {q: [np.nan] * n for q in ("m1", "p1", "mp", "pp")}
        for k in range(2, n + 1):
            units, first, previous, _ = steps[k - 2]
            keep = ok[units]
            if keep.any():
                frame = pd.DataFrame({"g": 0, "f": first[keep], "p": previous[keep]})
                q = frame.groupby("g").quantile([0.5, 0.9])
                times["m1"][k - 1] = q["f"].iloc[0]
                times["p1"][k - 1] = q["f"].iloc[1]
                times["mp"][k - 1] = q["p"].iloc[0]
                times["pp"][k - 1] = q["p"].iloc[1]
        dropped = at_level - open_at
        dropped[-1] = 0
        open_at[-1] = 0
        unit = result.log.time_unit
        out.append(
            pd.DataFrame(
                {
                    by: name,
                    "step": np.arange(1, n + 1),
                    result.counted: reached,
                    "dropped": dropped,
                    "in_progress": open_at,
                    "median_time_from_first": pd.to_timedelta(times["m1"], unit=unit),
                    "p90_time_from_first": pd.to_timedelta(times["p1"], unit=unit),
                    "median_time_from_previous": pd.to_timedelta(times["mp"], unit=unit),
                    "p90_time_from_previous": pd.to_timedelta(times["pp"], unit=unit),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


FUNNELS = [
    wb.Funnel(["a", "b", "c"], window="1h"),
    wb.Funnel(["a", "b", "c"], window="2h", strict_increase=True),
    wb.Funnel(["a", "b", "c"], window="1h", exclusions=[wb.Exclusion("x")]),
    wb.Funnel(["a", "b"], window="1h", counting="conversions"),
    wb.Funnel(["a", "b", "c"], window="1h", order="strict"),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("attribution", ["first_touch", "last_touch", 2])
def test_engine_breakdown_equals_pandas_reference(seed: int, attribution) -> None:
    log = _random_log(seed)
    for funnel in FUNNELS:
        result = funnel.run(log)
        got = result.breakdown("platform", attribution=attribution)
        expected = _reference(result, "platform", attribution)
        got = got.assign(platform=got["platform"].astype(object))
        got = got.sort_values(["platform", "step"], key=lambda s: s.astype(str), kind="stable")
        got = got.reset_index(drop=True)[list(expected.columns)]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
