"""Profile, compare and overlap against counts computed independently with pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from workbench.audience import Audience, TagStore, compare, overlap, profile
from workbench.exceptions import AudienceError

RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def setup():
    n_rows = 5000
    keys = np.arange(600)
    df = pd.DataFrame(
        {
            "user_id": RNG.choice(keys, n_rows),
            "event": RNG.choice(["view", "cart", "buy", "help"], n_rows),
            "time": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(RNG.integers(0, 10**6, n_rows), "s"),
        }
    )
    log = wb.EventLog(df)
    lk = log.user_keys.to_numpy()
    users = pd.DataFrame(
        {
            "user_id": lk,
            "tier": RNG.choice(["gold", "silver", "bronze"], len(lk)),
            "young": RNG.random(len(lk)) < 0.3,
        }
    )
    store = TagStore.from_table(log, users, categorical=["tier", "young"])
    return log, users, store


def test_profile_counts_shares_and_tgi(setup):
    log, users, store = setup
    aud = store["tier:gold"] | Audience.did(log, "help", min_times=3)
    members = set(aud.keys().to_pylist())
    table = profile(aud, store, min_support=0).set_index("tag")
    n, n1 = log.n_users, len(members)
    for tag in store.names:
        column, value = tag.split(":")
        having = set(users.loc[users[column].astype(str).str.lower() == value.lower(), "user_id"])
        row = table.loc[tag]
        assert row["count"] == len(having & members)
        assert row["base_count"] == len(having)
        assert row["tgi"] == pytest.approx(100 * (len(having & members) / n1) / (len(having) / n))
        assert row["lift_low"] <= row["lift"] <= row["lift_high"]
        assert 0 <= row["p_value"] <= 1
    # Ranked by TGI, gold first (every gold user is in the audience).
    assert table.index[0] == "tier:gold"
    assert profile(aud, store, min_support=0.5)["audience_share"].min() >= 0.5


def test_profile_interval_covers_independent_simulation(setup):
    # The delta-method interval for lift at 95% is roughly the normal-approximation width.
    log, _users, store = setup
    aud = Audience.from_mask(log, RNG.random(log.n_users) < 0.5)
    row = profile(aud, store, min_support=0).set_index("tag").loc["tier:silver"]
    assert row["lift_low"] < 1.0 < row["lift_high"] or row["p_value"] < 0.05


def test_empty_audience_needs_a_denominator(setup):
    log, _, store = setup
    with pytest.raises(AudienceError, match="empty"):
        profile(Audience.empty(log), store)
    with pytest.raises(AudienceError, match="denominator"):
        compare(Audience.empty(log), Audience.all(log), store)


def test_compare_uses_posthog_odds_ratio_over_tags_and_events(setup):
    log, _users, store = setup
    a = Audience.did(log, "buy", min_times=2)
    b = ~a
    t = compare(a, b, store).set_index("feature")
    src = log.source.to_pandas()
    helpers = set(src[src.event == "help"].user_id)
    am, bm = set(a.keys().to_pylist()), set(b.keys().to_pylist())
    sa, sb = len(helpers & am), len(helpers & bm)
    na, nb = len(am), len(bm)
    row = t.loc["help"]
    assert (row["a_count"], row["b_count"]) == (sa, sb)
    expected = ((sa + 1) * (nb - sb + 1)) / ((na - sa + 1) * (sb + 1))
    assert row["odds_ratio"] == pytest.approx(expected)
    assert row["correlation"] == ("a" if expected > 1 else "b")
    # "buy" separates them completely: the strongest, significant, leaning to a.
    top = compare(a, b, store).iloc[0]
    assert top["feature"] == "buy" and top["correlation"] == "a" and bool(top["significant"])
    assert set(t["kind"]) == {"tag", "event"}


def test_overlap_matrix(setup):
    _log, _, store = setup
    g, s, y = store["tier:gold"], store["tier:silver"], store["young:true"]
    m = overlap([g, s, y], names=["g", "s", "y"])
    assert m.loc["g", "g"] == len(g) and m.loc["g", "s"] == 0
    assert m.loc["g", "y"] == m.loc["y", "g"] == len(g & y)
    j = overlap([g, y], normalize="jaccard")
    assert j.iloc[0, 1] == pytest.approx(len(g & y) / len(g | y))
    assert math.isclose(overlap([g, y], normalize="row").iloc[0, 0], 1.0)
