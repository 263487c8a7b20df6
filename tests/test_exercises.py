"""The case studies' exercises: each planted story can be found with the workbench as a student
would, the checks accept what that analysis finds, refuse the rest with a hint, and never print
the answer.

The "student" analyses below use only the public API and the data — never the story records —
so a story that stopped being findable in the data fails here.
"""

from __future__ import annotations

import pandas as pd
import pytest
from exercise_answers import reveals, right_answers, spellings, wrong_answers

import workbench as wb
from workbench.datasets import EcommerceDemo, ecommerce, exercises
from workbench.datasets.exercises import EXERCISES, JOURNEY


@pytest.fixture(scope="module")
def demo() -> EcommerceDemo:
    return ecommerce()


@pytest.fixture(scope="module")
def ex(demo: EcommerceDemo) -> wb.datasets.Exercises:
    return exercises(demo)


@pytest.fixture(scope="module")
def log(demo: EcommerceDemo) -> wb.EventLog:
    return demo.log()


def conversion_by(result: wb.FunnelResult, by: str, **options) -> pd.Series:
    table = result.breakdown(by, **options)
    last = table[table["step"] == result.n_steps].set_index(by)
    return last["conversion_from_first"]


def events_between(demo: EcommerceDemo, first: str | None, last: str | None) -> wb.EventLog:
    frame = demo.events.to_pandas()
    times = frame["time"]
    keep = pd.Series(True, index=frame.index)
    if first:
        keep &= times >= pd.Timestamp(first, tz="UTC")
    if last:
        keep &= times < pd.Timestamp(last, tz="UTC")
    return wb.EventLog(frame[keep], user="user_id", time="time", session="session_id")


def test_the_payment_failure_is_found_by_platform_then_version(demo, ex, log) -> None:
    orders = wb.Funnel(["place_order", "pay_success"], window="1d")
    before = conversion_by(orders.run(events_between(demo, None, "2026-10-01")), "platform")
    after = conversion_by(orders.run(events_between(demo, "2026-10-03", None)), "platform")
    platform = (before - after).idxmax()
    assert ex.is_right("payment.platform", platform)
    on_platform = wb.Funnel(
        [wb.Step("place_order", where=wb.col("platform") == platform), "pay_success"],
        window="1d",
    ).run(log)
    version = conversion_by(on_platform, "app_version").idxmin()
    assert ex.is_right("payment.version", version)
    events = demo.events.to_pandas()
    first_seen = events.query("app_version == @version")["time"].min()
    assert ex.is_right("payment.day", first_seen.strftime("%Y-%m-%d"))
    fails = events[events["event"] == "pay_fail"]
    codes = pd.crosstab(fails["error_code"], fails["app_version"])
    others = codes.drop(columns=version).sum(axis=1)
    assert ex.is_right("payment.error_code", (codes[version] - others).idxmax())
    on_build = (wb.col("platform") == platform) & (wb.col("app_version") == version)
    broken = wb.Funnel([wb.Step("place_order", where=on_build), "pay_success"], window="1d")
    lost = broken.run(log).dropped_after(1)
    assert ex.is_right("payment.unpaid_users", len(lost))
    paid_since = wb.Audience.did(log, "pay_success", start=first_seen.floor("D"))
    winback = lost - paid_since
    assert 0 < len(winback) < len(lost)
    assert ex.is_right("payment.winback", winback)
    # Everyone who did not pay within a day is not the win-back audience: some paid since.
    assert not ex.is_right("payment.winback", lost)


def test_the_winback_audience_is_accepted_as_an_export(ex, tmp_path) -> None:
    audience = ex.winback()
    path = tmp_path / "winback.csv"
    audience.to_csv(path)
    assert ex.is_right("payment.winback", str(path))
    audience.to_parquet(tmp_path / "winback.parquet")
    assert ex.is_right("payment.winback", tmp_path / "winback.parquet")


def test_the_junk_campaign_is_judged_by_conversion_with_significance(ex, log) -> None:
    journey = wb.Funnel(JOURNEY, window="1d").run(log)
    table = journey.breakdown("campaign")
    paid = table[table["campaign"] != "organic"]
    entrants = paid[paid["step"] == 1].set_index("campaign")["users"]
    assert ex.is_right("campaign.most_traffic", entrants.idxmax())
    conversion = paid[paid["step"] == len(JOURNEY)].set_index("campaign")["conversion_from_first"]
    worst = conversion.idxmin()
    assert ex.is_right("campaign.worst", worst)
    assert ex.is_right("campaign.conversion", round(float(conversion.min()), 4))
    test = journey.compare_groups("campaign", worst, "organic", step=len(JOURNEY))
    assert ex.is_right("campaign.significant", bool(test["significant"].iloc[0]))
    best, runner_up = conversion.sort_values(ascending=False).index[:2]
    test = journey.compare_groups("campaign", best, runner_up, step=len(JOURNEY))
    assert ex.is_right("campaign.best_vs_runner_up", bool(test["significant"].iloc[0]))


def test_the_tracking_bug_is_told_apart_from_a_drop_off(demo, ex, log) -> None:
    report = demo.plan().validate(log)
    finding = report.table.iloc[0]
    assert ex.is_right("tracking.finding", (finding["event"], finding["property"]))
    rows = report.rows(finding["event"], finding["property"]).to_pandas()
    build = rows.groupby(["platform", "app_version"]).size().idxmax()
    assert ex.is_right("tracking.build", build)
    assert ex.is_right("tracking.share", round(float(finding["share"]), 3))
    assert ex.is_right("tracking.real_drop_off", False)


def test_wrong_answers_get_a_hint_and_never_the_answer(ex, capsys) -> None:
    wrong = wrong_answers(ex)
    assert set(wrong) == set(EXERCISES), "every exercise needs a wrong answer here"
    for key, answer in wrong.items():
        assert not ex.is_right(key, answer), key
        ex.check(key, answer)
        printed = capsys.readouterr().out
        assert printed.startswith(f"✗ {key}: not this one.") and EXERCISES[key].hint in printed


def test_no_question_or_hint_spells_out_any_answer(ex) -> None:
    # A hint may name the journey's events (every hint about the funnel must), nothing planted.
    forms = set().union(*(spellings(e.truth(ex), allowed=JOURNEY) for e in EXERCISES.values()))
    assert {"android", "4.8.0", "influencer_oct", "ios", "5.6.0", "product_id"} <= forms
    for key, exercise in EXERCISES.items():
        assert reveals(f"{exercise.question} {exercise.hint}", forms) == [], key


def test_unanswered_exercises_let_the_notebook_run_on(ex, capsys) -> None:
    for key in EXERCISES:
        assert ex.check(key, ...) is None  # a cell shows the message, not a bool
        assert "not answered yet" in capsys.readouterr().out


def test_is_right_answers_silently_for_a_notebook_that_builds_on_the_answers(ex, capsys) -> None:
    for key, exercise in EXERCISES.items():
        assert ex.is_right(key, ...) is False
        assert ex.is_right(key, exercise.truth(ex)) is True, key
    assert capsys.readouterr().out == ""


def test_right_answers_as_a_student_writes_them_are_accepted(ex, tmp_path, capsys) -> None:
    answers = right_answers(ex)
    assert set(answers) == set(EXERCISES)
    for key, answer in answers.items():
        assert ex.is_right(key, answer), key
        ex.check(key, answer)
        assert capsys.readouterr().out == f"✓ {key}: right.\n"
    assert isinstance(answers["payment.day"], str) and isinstance(
        answers["campaign.conversion"], float
    )


def test_answers_of_the_wrong_kind_say_what_is_expected(ex) -> None:
    with pytest.raises(wb.exceptions.ArgumentError, match="takes a number"):
        ex.check("payment.unpaid_users", "many")
    with pytest.raises(wb.exceptions.ArgumentError, match="takes True or False"):
        ex.check("campaign.significant", "yes")
    with pytest.raises(wb.exceptions.ArgumentError, match=r"takes two values"):
        ex.check("tracking.build", "ios 5.6.0")
    with pytest.raises(wb.exceptions.ArgumentError, match="takes a date"):
        ex.check("payment.day", "the first of October")
    with pytest.raises(wb.exceptions.ArgumentError, match="an Audience or the path"):
        ex.check("payment.winback", [1, 2, 3])
    with pytest.raises(wb.exceptions.ArgumentError, match="no export at"):
        ex.check("payment.winback", "nowhere.csv")
    with pytest.raises(wb.exceptions.ArgumentError, match=r"no exercise 'payment\.plat'"):
        ex.check("payment.plat", "android")


def test_text_answers_ignore_case_spaces_and_a_version_prefix(ex) -> None:
    assert ex.is_right("payment.platform", "  Android ")
    assert ex.is_right("payment.version", "v4.8.0")
    assert ex.is_right("tracking.build", ["iOS", "5.6.0"])


def test_the_stories_match_the_data_they_are_planted_in(demo) -> None:
    story = demo.stories
    frame = demo.events.to_pandas()
    on_build = frame[frame["app_version"] == story.payment_failure.version]
    assert set(on_build["platform"]) == {story.payment_failure.platform}
    assert on_build["time"].min() >= story.payment_failure.released
    fails = on_build[on_build["event"] == "pay_fail"]["error_code"].value_counts()
    assert fails.idxmax() == story.payment_failure.error_code
    junk = frame[frame["campaign"] == story.junk_campaign.name]["time"]
    assert story.junk_campaign.starts <= junk.min() and junk.min() < story.junk_campaign.ends
    bug = story.tracking_bug
    carts = frame[(frame["event"] == bug.event) & frame[bug.property].isna()]
    assert set(zip(carts["platform"], carts["app_version"], strict=True)) == {
        (bug.platform, bug.version)
    }
    assert carts["time"].min() >= bug.released
