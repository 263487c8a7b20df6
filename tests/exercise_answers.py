"""The answers to the exercises, right and wrong, and how an answer could be written down, so
tests can prove that no hint, question or case-study notebook gives it away.

``right_answers(ex)`` computes an answer a student would give from the dataset's own truth (never
typed in here); ``wrong_answers(ex)`` gives a plausible wrong one for every exercise.
``as_source(answer, folder)`` writes an answer as the Python a student would type in place of
``...`` (an audience as the path of its CSV export in ``folder``).

``spellings(truth)`` lists the strings that would reveal ``truth``: a name as it is, a count with
and without thousands separators, a rate as a percentage or a decimal, a day in ISO form or in
words, an audience by its size. ``reveals(text, spellings)`` finds them in text, case-insensitively
and only as whole tokens (``ios`` is found in "the iOS app", not in "bios"; ``634`` is not found in
``1634``).

>>> import pandas as pd
>>> sorted(spellings(pd.Timestamp("2026-10-01 10:00", tz="UTC")))[:3]
['01 oct', '01 october', '1 oct']
>>> reveals("Since the 1 October release...", spellings(pd.Timestamp("2026-10-01")))
['1 october']
>>> reveals("rate: 9.0% of rows", spellings(0.0903)), reveals("19.0%", spellings(0.0903))
(['9.0%'], [])
>>> reveals("app v4.8.0.", {"4.8.0"}), reveals("14.8.0 or 4.8.0.1", {"4.8.0"})
(['4.8.0'], [])
>>> sorted(spellings(("ios", "add_to_cart"), allowed={"add_to_cart"}))
['ios']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

import workbench as wb
from workbench.datasets.exercises import EXERCISES

__all__ = ["as_source", "reveals", "right_answers", "spellings", "wrong_answers"]


def right_answers(ex: wb.datasets.Exercises) -> dict[str, Any]:
    """Every exercise's answer as a student would write it: a day as text, a rate rounded."""
    answers = {}
    for key, exercise in EXERCISES.items():
        truth = exercise.truth(ex)
        if exercise.kind == "day":
            truth = pd.Timestamp(truth).strftime("%Y-%m-%d")
        elif exercise.kind == "rate":
            truth = round(float(truth), 4)
        elif exercise.kind == "number":
            truth = int(truth)
        answers[key] = truth
    return answers


def wrong_answers(ex: wb.datasets.Exercises) -> dict[str, Any]:
    """A plausible wrong answer to every exercise (a neighbour of the truth, not nonsense)."""
    wrong: dict[str, Any] = {
        "payment.platform": "ios",
        "payment.version": "4.7.0",
        "payment.day": "2026-09-15",
        "payment.error_code": "card_declined",
        "payment.unpaid_users": 10,
        "campaign.most_traffic": "newsletter",
        "campaign.worst": "referral",
        "campaign.conversion": 0.5,
        "campaign.significant": False,
        "tracking.finding": ("pay_success", "amount"),
        "tracking.build": ("android", "4.8.0"),
        "tracking.share": 0.5,
        "tracking.real_drop_off": True,
    }
    # Whether the top two campaigns differ is read from the data, so the wrong answer is too.
    wrong["campaign.best_vs_runner_up"] = not EXERCISES["campaign.best_vs_runner_up"].truth(ex)
    wrong["payment.winback"] = ex.unpaid_on_broken_build()  # includes those who paid since
    return wrong


def as_source(answer: Any, folder: Path) -> str:
    """``answer`` as the Python expression a student types in place of ``...``; an audience is
    exported to ``folder`` and given as the path of the file, as the exercise allows."""
    if isinstance(answer, wb.Audience):
        path = folder / f"audience-{len(list(folder.glob('*.csv')))}.csv"
        answer.to_csv(path)
        return repr(str(path))
    if isinstance(answer, (str, bool, int, float, tuple)):
        return repr(answer)
    raise TypeError(f"no source for an answer of type {type(answer).__name__}")


def _rate(value: float) -> set[str]:
    forms = {f"{value:.1%}", f"{value:.2%}", f"{value:.2f}", f"{value:.3f}", f"{value:.4f}"}
    # "0.0%" or "0.00" say nothing about a rate near zero: only forms with a non-zero digit tell.
    return {f for f in forms if re.search(r"[1-9]", f)}


def _day(stamp: pd.Timestamp) -> set[str]:
    month, short = stamp.strftime("%B").lower(), stamp.strftime("%b").lower()
    forms = {stamp.strftime("%Y-%m-%d"), stamp.strftime("%Y/%m/%d")}
    for day in {str(stamp.day), f"{stamp.day:02d}"}:
        forms |= {f"{day} {month}", f"{month} {day}", f"{day} {short}", f"{short} {day}"}
    return forms


def spellings(truth: Any, *, allowed: Collection[str] = ()) -> set[str]:
    """The lower-case strings that would give ``truth`` away; names in ``allowed`` (words every
    text on the subject must use, such as the journey's event names) are left out."""
    if isinstance(truth, bool) or truth is None:
        return set()  # True/False appear everywhere; a yes/no answer has no telltale spelling
    if isinstance(truth, wb.Audience):
        return spellings(len(truth))
    if isinstance(truth, pd.Timestamp):
        return _day(truth)
    if isinstance(truth, str):
        return set() if truth in allowed else {truth.lower()}
    if isinstance(truth, int):
        return {str(truth), f"{truth:,}"}
    if isinstance(truth, float):
        return _rate(truth)
    if isinstance(truth, Iterable):
        return set().union(*(spellings(part, allowed=allowed) for part in truth))
    raise TypeError(f"no spellings for a truth of type {type(truth).__name__}")


def reveals(text: str, forms: Iterable[str]) -> list[str]:
    """The spellings in ``forms`` that occur in ``text`` as whole tokens, sorted."""
    lower = text.lower()
    found = []
    for form in forms:
        # A number may follow a letter ("v4.8.0") but not a digit or a decimal point ("14.8.0");
        # a word must stand alone ("ios" is not in "bios").
        before = r"(?<![\d.,])" if form[0].isdigit() else r"(?<!\w)"
        after = r"(?!\d|[.,]\d)" if form[-1].isdigit() else r"(?!\w)"
        if re.search(before + re.escape(form) + after, lower):
            found.append(form)
    return sorted(found)
