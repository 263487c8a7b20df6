"""An audience of another event log never counts the wrong users: every public API that takes
an audience refuses one of another log, through one check (``audience.ensure_audience``); user
keys of the wrong kind or beyond 64 bits are refused by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench import exceptions as ex
from workbench.audience import insight
from workbench.audience import set as audience_set
from workbench.funnel import compare as funnel_compare

FUNNEL = wb.Funnel(["view", "cart", "pay"], window="1d")


@pytest.fixture
def logs(shop_df: pd.DataFrame) -> tuple[wb.EventLog, wb.EventLog]:
    """The same data loaded twice: same user keys, but two separate id spaces."""
    return wb.EventLog(shop_df), wb.EventLog(shop_df)


def test_breakdown_by_an_audience_of_another_log_is_refused(logs) -> None:
    log, other = logs
    result = FUNNEL.run(log)
    foreign = wb.Audience.from_keys(other, [1, 3], name="vip")
    with pytest.raises(ex.AudienceError) as err:
        result.breakdown({"vip": foreign})
    message = str(err.value)
    assert "segment 'vip'" in message and "belongs to another event log" in message
    assert "build it from the same EventLog" in message
    # The same keys on the right log give the right count.
    vip = wb.Audience.from_keys(log, [1, 3], name="vip")
    assert result.breakdown({"vip": vip})["users"].tolist() == [2, 2, 1]


def _calls(log: wb.EventLog, other: wb.EventLog) -> dict[str, Callable[[], Any]]:
    """One call per public API that takes an audience, each given an audience of ``other``."""
    result = FUNNEL.run(log)
    mine = wb.Audience.all(log)
    foreign = wb.Audience.all(other).named("theirs")
    tags = wb.TagStore(log)
    tags.add("everyone", mine)
    return {
        "FunnelResult.breakdown": lambda: result.breakdown({"x": foreign}),
        "FunnelResult.reached": lambda: result.reached(1, group=foreign),
        "FunnelResult.dropped_after": lambda: result.dropped_after(1, group=foreign),
        "FunnelResult.entered": lambda: result.entered(group=foreign),
        "FunnelResult.converted": lambda: result.converted(group=foreign),
        "FunnelResult.in_progress": lambda: result.in_progress(group=foreign),
        "FunnelResult.excluded": lambda: result.excluded(group=foreign),
        "FunnelResult.compare_segments": lambda: result.compare_segments(mine, foreign),
        "compare_segments": lambda: funnel_compare.compare_segments(result, foreign, mine),
        "profile": lambda: wb.profile(foreign, tags),
        "profile(base=)": lambda: wb.profile(mine, tags, base=foreign),
        "compare": lambda: wb.compare(mine, foreign),
        "overlap": lambda: wb.overlap([mine, foreign]),
        "TagStore.add": lambda: tags.add("theirs", foreign),
        "TagStore.counts": lambda: tags.counts([mine, foreign]),
        "TagStore.profile_rows": lambda: tags.profile_rows(mine, foreign, 1.96, 0),
        "Audience.__and__": lambda: mine & foreign,
        "Audience.__or__": lambda: mine | foreign,
        "Audience.__sub__": lambda: mine - foreign,
        "Audience.__xor__": lambda: mine ^ foreign,
        "event_user_counts": lambda: audience_set.event_user_counts([mine, foreign]),
        "overlap_counts": lambda: audience_set.overlap_counts([mine, foreign]),
    }


API_NAMES = [
    "FunnelResult.breakdown",
    "FunnelResult.reached",
    "FunnelResult.dropped_after",
    "FunnelResult.entered",
    "FunnelResult.converted",
    "FunnelResult.in_progress",
    "FunnelResult.excluded",
    "FunnelResult.compare_segments",
    "compare_segments",
    "profile",
    "profile(base=)",
    "compare",
    "overlap",
    "TagStore.add",
    "TagStore.counts",
    "TagStore.profile_rows",
    "Audience.__and__",
    "Audience.__or__",
    "Audience.__sub__",
    "Audience.__xor__",
    "event_user_counts",
    "overlap_counts",
]


@pytest.mark.parametrize("api", API_NAMES)
def test_every_api_taking_an_audience_refuses_one_of_another_log(logs, api) -> None:
    with pytest.raises(ex.AudienceError) as err:
        _calls(*logs)[api]()
    message = str(err.value)
    assert "belongs to another event log" in message
    assert "build it from the same EventLog" in message


def _takes_an_audience(function: Callable[..., Any]) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return any("Audience" in str(p.annotation) for p in parameters if p.name != "self")


def test_the_audit_covers_every_public_api_that_takes_an_audience(logs) -> None:
    """A new API taking an audience must join the list above (and so the check)."""
    found = set()
    for owner in (wb.FunnelResult, wb.Audience, wb.TagStore):
        for name, member in inspect.getmembers(owner, inspect.isfunction):
            if (
                not name.startswith("_") or name in ("__and__", "__or__", "__sub__", "__xor__")
            ) and (_takes_an_audience(member)):
                found.add(f"{owner.__name__}.{name}")
    for module in (insight, funnel_compare, audience_set):
        for name in module.__all__:
            member = getattr(module, name)
            if inspect.isfunction(member) and _takes_an_audience(member):
                found.add(name)
    assert set(_calls(*logs)) == set(API_NAMES)
    assert found - set(API_NAMES) - {"ensure_audience"} == set()


def test_user_keys_beyond_int64_are_refused_by_value(shop_log) -> None:
    for key in (2**63, 2**64):
        with pytest.raises(ex.AudienceError) as err:
            wb.Audience.from_keys(shop_log, [1, key])
        assert f"user key {key} is beyond the 64-bit signed integers" in str(err.value)
        assert "the log's user keys are int64" in str(err.value)
    assert 2**64 not in wb.Audience.all(shop_log)  # membership is a question, not an error


def test_user_keys_of_mixed_kinds_are_refused_naming_both(shop_log) -> None:
    with pytest.raises(ex.AudienceError) as err:
        wb.Audience.from_keys(shop_log, pd.Series([1, "2"], dtype=object))
    assert "mix kinds (1 is int, '2' is str)" in str(err.value)
    assert "pass int64 keys only" in str(err.value)


def test_export_of_something_that_is_no_audience_is_refused() -> None:
    with pytest.raises(ex.AudienceError, match=r"needs a wb\.Audience; got str"):
        wb.audience.to_csv("dropped", "dropped.csv")
