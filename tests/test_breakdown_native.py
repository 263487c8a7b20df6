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


def _table_then_pandas(result: wb.FunnelResult, by: str, attribution, top) -> pd.DataFrame:
    """The breakdown frame built the generic way: every group's step table, groups ordered by
    pandas (largest step 1 first, a tie by name, "(other)" last), then ``with_confidence``."""
    from workbench.funnel.breakdown import keep_top
    from workbench.funnel.tables import grouped_step_table
    from workbench.stats import with_confidence

    codes, labels = result.group_codes(by, attribution=attribution)
    if top is not None:
        codes, labels = keep_top(codes, labels, result.outcomes.counted, top)
    members = np.bincount(codes + 1, minlength=len(labels) + 1)[1:]
    present = np.flatnonzero(members)
    table = grouped_step_table(
        result.outcomes,
        codes,
        len(labels),
        labels=result.labels,
        optional=[s.optional for s in result.funnel.steps],
        exclusions=bool(result.funnel.exclusions),
        groups=present,
    )
    names = np.empty(len(labels), dtype=object)
    names[:] = labels
    table.insert(0, by, np.repeat(names[present], result.n_steps))
    first = table[table["step"] == 1].copy()
    first["_name"] = first[by].astype(str)
    order = first.sort_values([result.counted, "_name"], ascending=[False, True])[by].tolist()
    if "(other)" in order:
        order = [g for g in order if g != "(other)"] + ["(other)"]
    table[by] = pd.Categorical(table[by], categories=order, ordered=True)
    table = table.sort_values([by, "step"], kind="stable").reset_index(drop=True)
    return with_confidence(table)


OPTIONAL = wb.Funnel(["a", wb.Step("b", optional=True), "c"], window="1h")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("top", [None, 1, 2])
def test_breakdown_frame_equals_the_generic_table_ordered_by_pandas(seed: int, top) -> None:
    log = _random_log(seed)
    for funnel in [*FUNNELS, OPTIONAL]:
        result = funnel.run(log)
        for attribution in ("first_touch", "last_touch"):
            got = result.breakdown("platform", attribution=attribution, top=top)
            expected = _table_then_pandas(result, "platform", attribution, top)
            pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize(
    ("n_values", "width"), [(3, np.uint8), (300, np.uint16), (70_000, np.uint32)]
)
def test_property_codes_are_as_narrow_as_their_values_and_group_alike(n_values, width) -> None:
    rng = np.random.default_rng(n_values)
    n = n_values + 4_000
    # Every value appears (a missing one too), so the codes need the width named.
    sku = np.concatenate([np.arange(n_values), rng.integers(0, n_values, n - n_values)])
    log = wb.EventLog(
        pa.table(
            {
                "user_id": rng.integers(0, n // 6, n),
                "event": np.array(["a", "b", "c"])[rng.integers(0, 3, n)],
                "time": pa.array(rng.integers(0, 3_000, n) * 60, pa.timestamp("s")),
                "sku": pa.array(rng.permutation(sku), mask=rng.random(n) < 0.05),
            }
        )
    )
    assert log.property_codes("sku")[0].dtype == width
    result = wb.Funnel(["a", "b", "c"], window="1h").run(log)
    if n_values <= 300:  # the reference counts group by group
        got = result.breakdown("sku")
        expected = _reference(result, "sku", "first_touch")
        got = got.assign(sku=got["sku"].astype(object))
        got = got.sort_values(["sku", "step"], key=lambda s: s.astype(str), kind="stable")
        got = got.reset_index(drop=True)[list(expected.columns)]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    else:  # the widest codes give the groups the first touches show
        group_codes, labels = result.group_codes("sku")
        entered = np.asarray(result.outcomes.levels) > 0
        rows = np.asarray(result.outcomes.entry_rows)[entered]
        shown = np.asarray(labels, dtype=object)[group_codes[entered]]
        source = log.source.column("sku").to_pylist()
        assert [s if s != "(missing)" else None for s in shown] == [source[r] for r in rows]
