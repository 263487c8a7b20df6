"""The audience builder without a browser: pick tag values, combine, negate, type an expression,
and check the expression, the audience, the errors and the panel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.widgets import AudienceBuilder
from workbench.widgets.expression import clause, combine, quote, tag_groups


@pytest.fixture
def store() -> wb.TagStore:
    events = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6],
            "event": ["view", "view", "pay", "view", "pay", "view"],
            "time": pd.to_datetime(["2026-01-01"] * 6),
        }
    )
    log = wb.EventLog(events)
    users = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6],
            "city": ["New York", "Paris", "Paris", "New York", "Berlin", "Paris"],
            "plan": ["free", "pro", "pro", "free", "free", "pro"],
        }
    )
    tags = wb.TagStore.from_table(log, users, categorical=["city", "plan"])
    tags.add_behaviour("payer", "pay")
    return tags


def test_picks_by_value_combine_with_and_or_not(store) -> None:
    builder = AudienceBuilder(store, store.log)
    assert builder.group.options == ("city", "plan", "tags")
    builder.group.value = "city"
    assert [v for _, v in builder.values.options] == ["city:Berlin", "city:New York", "city:Paris"]
    assert builder.values.options[2][0] == "city:Paris (3)"
    builder.values.value = ("city:Paris", "city:Berlin")
    builder.add_button.click()
    builder.group.value = "tags"
    builder.values.value = ("payer",)
    builder.negate.value = True
    builder.add_button.click()
    assert builder.expression == "(city:Paris | city:Berlin) & ~payer"
    expected = (store["city:Paris"] | store["city:Berlin"]) - store["payer"]
    assert builder.audience == expected
    assert sorted(builder.audience.keys().to_pylist()) == [2, 6]
    assert "2 users" in builder.panel.size.value
    builder.combinator.value = "or"
    assert builder.expression == "(city:Paris | city:Berlin) | ~payer"
    assert sorted(builder.audience.keys().to_pylist()) == [1, 2, 3, 4, 5, 6]
    builder.remove_pick(0)
    assert builder.expression == "~payer"


def test_a_typed_expression_selects_and_errors_show_inline(store) -> None:
    builder = AudienceBuilder(store)
    builder.typed.value = '"city:New York" & plan:free'
    assert builder.error == ""
    assert sorted(builder.audience.keys().to_pylist()) == [1, 4]
    builder.typed.value = "city:Pariss & plan:pro"
    assert "unknown tag 'city:Pariss' at column 1; closest: 'city:Paris'" in builder.error
    assert "workbench-error" in builder.problem.value
    assert builder.panel.audience is None
    with pytest.raises(wb.exceptions.AudienceError, match="unknown tag"):
        _ = builder.audience
    builder.typed.value = ""
    assert builder.expression == "*" and len(builder.audience) == 6


def test_the_panel_profiles_saves_and_exports_the_audience(store, tmp_path: Path) -> None:
    builder = AudienceBuilder(store)
    builder.expression = "plan:pro"
    profile = builder.panel.profile_widget.spec
    rows = profile["datasets"][profile["layer"][0]["data"]["name"]]
    assert {r["tag"] for r in rows} >= {"plan:pro", "city:Paris"}
    builder.panel.segment_name.value = "pro users"
    builder.panel.save_button.click()
    assert store["pro users"] == store["plan:pro"]
    builder.panel.folder.value = str(tmp_path)
    builder.panel.export_button.click()
    assert sorted(pd.read_csv(tmp_path / "pro-users.csv")["user_id"]) == [2, 3, 6]


def test_tag_names_that_need_quotes_read_back_as_the_same_tags(store) -> None:
    for name in store.names:
        assert store.select(quote(name)) == store[name]
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("-leading") == '"-leading"'
    assert combine([]) == "*"
    assert clause(["a"], negate=True) == "~a"
    assert tag_groups(["x:1", ":odd", "y"]) == {"x": ["x:1"], "tags": [":odd", "y"]}


def test_the_builder_refuses_a_store_of_another_log(store) -> None:
    other = wb.EventLog(
        pd.DataFrame({"user_id": [1], "event": ["view"], "time": pd.to_datetime(["2026-01-01"])})
    )
    with pytest.raises(wb.exceptions.ArgumentError, match="another event log"):
        AudienceBuilder(store, other)
    with pytest.raises(wb.exceptions.ArgumentError, match=r"takes a wb\.TagStore"):
        AudienceBuilder(store.log)
