"""Exercises for the case studies, checked against what is planted in the demo data.

Each exercise asks for something a student finds with the workbench; :meth:`Exercises.check`
compares the answer with the truth — the planted story (:mod:`workbench.datasets.stories`) or a
figure computed from this very dataset — and prints whether it is right, with a hint pointing at
the analysis that finds it when it is not. The answer itself is never printed.

>>> from workbench.datasets import ecommerce
>>> ex = exercises(ecommerce(n_users=2_000))
>>> ex.check("payment.platform", ...)
○ payment.platform: not answered yet — replace ... with your answer and run the cell again.
>>> ex.check("payment.platform", "web")
✗ payment.platform: not this one. Break the funnel place_order → pay_success down by platform, once for the first weeks and once for the last: which platform's conversion falls?
"""  # noqa: E501

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench._names import did_you_mean
from workbench.audience import Audience
from workbench.exceptions import ArgumentError
from workbench.funnel import Funnel, Step
from workbench.predicates import col

if TYPE_CHECKING:
    from workbench.datasets._ecommerce import EcommerceDemo
    from workbench.funnel import FunnelResult

__all__ = ["EXERCISES", "Exercise", "Exercises", "exercises"]

JOURNEY = ["browse", "product_detail", "add_to_cart", "place_order", "pay_success"]
"""The shop's journey, the funnel the case studies start from."""


def _words(value: Any) -> str:
    """Text as compared: case, spaces, quotes and a leading ``v`` of a version do not matter."""
    text = str(value).strip().strip("'\"").lower()
    return re.sub(r"^v(?=\d)", "", re.sub(r"\s+", " ", text))


@dataclass(frozen=True)
class Exercise:
    """One question: how to read an answer, the truth it is checked against, and a hint."""

    key: str
    question: str
    kind: str
    """``text``, ``pair`` (two texts), ``day``, ``number`` (relative tolerance), ``rate``
    (absolute tolerance), ``yes/no`` or ``users`` (an Audience, or a CSV/Parquet export of one)."""
    truth: Callable[[Exercises], Any]
    hint: str
    tolerance: float = 0.0


class Exercises:
    """The case studies' exercises on one generated demo (see :func:`exercises`)."""

    def __init__(self, demo: EcommerceDemo) -> None:
        self.demo = demo
        self.stories = demo.stories

    @cached_property
    def log(self) -> Any:
        """The demo's event log, loaded once for every check."""
        return self.demo.log()

    # -- what the truths are computed from -----------------------------------------------------

    def journey(self) -> FunnelResult:
        """The shop's journey funnel over the whole period (one day to convert)."""
        return Funnel(JOURNEY, window="1d").run(self.log)

    def broken_orders(self) -> FunnelResult:
        """Orders on the broken build, and whether they were paid within a day."""
        story = self.stories.payment_failure
        on_build = (col("platform") == story.platform) & (col("app_version") == story.version)
        return Funnel([Step("place_order", where=on_build), "pay_success"], window="1d").run(
            self.log
        )

    def unpaid_on_broken_build(self) -> Audience:
        """Users who ordered on the broken build and did not pay within a day."""
        return self.broken_orders().dropped_after(1)

    def winback(self) -> Audience:
        """The unpaid users of the broken build who have not paid at all since its release: a
        voucher for someone who found another way to pay is wasted."""
        released = self.stories.payment_failure.released
        return self.unpaid_on_broken_build() - Audience.did(self.log, "pay_success", start=released)

    # -- asking and checking -------------------------------------------------------------------

    def questions(self) -> pd.DataFrame:
        """Every exercise's key and question.

        >>> exercises(wb.datasets.ecommerce(n_users=500)).questions().head(2)["key"].tolist()
        ['payment.platform', 'payment.version']
        """
        keys = list(EXERCISES)
        return pd.DataFrame({"key": keys, "question": [EXERCISES[k].question for k in keys]})

    def ask(self, key: str) -> None:
        """Print the question of exercise ``key``.

        >>> exercises(wb.datasets.ecommerce(n_users=500)).ask("tracking.share")
        tracking.share: What share of all the rows of that event break the plan (a number between 0 and 1)?
        """  # noqa: E501
        print(f"{key}: {_exercise(key).question}")

    def check(self, key: str, answer: Any) -> None:
        """Print whether ``answer`` is right (a hint when it is not); :meth:`is_right` is the
        same judgement as a bool. Nothing is returned, so a notebook cell shows the message only.

        ``...`` (or None) means "not answered yet": the notebook still runs top to bottom.
        """
        exercise = _exercise(key)
        if answer is ... or answer is None:
            print(
                f"○ {key}: not answered yet — replace ... with your answer and run the cell again."
            )
        elif self._matches(exercise, answer):
            print(f"✓ {key}: right.")
        else:
            print(f"✗ {key}: not this one. {exercise.hint}")

    def is_right(self, key: str, answer: Any) -> bool:
        """Whether ``answer`` is right, printing nothing (``...`` or None: not yet), for a
        notebook that builds on the answers, such as a report written from them.

        >>> ex = exercises(wb.datasets.ecommerce(n_users=500))
        >>> ex.is_right("tracking.real_drop_off", ...), ex.is_right("tracking.real_drop_off", False)
        (False, True)
        """
        exercise = _exercise(key)
        if answer is ... or answer is None:
            return False
        return self._matches(exercise, answer)

    def _matches(self, exercise: Exercise, answer: Any) -> bool:
        truth = exercise.truth(self)
        kind = exercise.kind
        if kind == "text":
            return _words(answer) == _words(truth)
        if kind == "pair":
            if isinstance(answer, str) or not hasattr(answer, "__len__") or len(answer) != 2:
                raise ArgumentError(f"{exercise.key} takes two values, e.g. ('event', 'property')")
            return [_words(a) for a in answer] == [_words(t) for t in truth]
        if kind == "day":
            try:
                day = pd.Timestamp(answer)
            except (TypeError, ValueError):
                raise ArgumentError(
                    f"{exercise.key} takes a date such as '2026-09-15'; got {answer!r}"
                ) from None
            return bool(day.date() == pd.Timestamp(truth).date())
        if kind in ("number", "rate"):
            try:
                value = float(answer)
            except (TypeError, ValueError):
                raise ArgumentError(f"{exercise.key} takes a number; got {answer!r}") from None
            slack = exercise.tolerance * (abs(truth) if kind == "number" else 1.0)
            return abs(value - float(truth)) <= slack
        if kind == "yes/no":
            if not isinstance(answer, bool):
                raise ArgumentError(f"{exercise.key} takes True or False; got {answer!r}")
            return bool(answer == truth)
        if kind == "users":
            return self._same_users(exercise, answer, truth)
        raise ArgumentError(f"unknown kind of exercise {kind!r}")

    def _same_users(self, exercise: Exercise, answer: Any, truth: Audience) -> bool:
        if isinstance(answer, Audience):
            keys = set(answer.keys().to_pylist())
        elif isinstance(answer, (str, Path)):
            keys = set(_exported_keys(Path(answer), self.log.user_column))
        else:
            raise ArgumentError(
                f"{exercise.key} takes an Audience or the path of its CSV/Parquet export; got "
                f"{type(answer).__name__}"
            )
        wanted = set(truth.keys().to_pylist())
        union = keys | wanted
        # A few users either way (a slightly different window) is still the same audience.
        return bool(union) and len(keys & wanted) / len(union) >= 1 - exercise.tolerance


def _exported_keys(path: Path, column: str) -> list[Any]:
    if not path.exists():
        raise ArgumentError(f"no export at {str(path)!r}; write it with audience.to_csv(path)")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
    if column not in table.column_names:
        raise ArgumentError(f"{str(path)!r} has no {column!r} column; export the audience itself")
    keys: pa.ChunkedArray = table.column(column)
    return keys.to_pylist()


def _campaign_groups(ex: Exercises) -> pd.DataFrame:
    """Entrants and conversion to payment per campaign, from the journey's breakdown."""
    table = ex.journey().breakdown("campaign")
    first = table[table["step"] == 1].set_index("campaign")["users"]
    paid = table[table["step"] == len(JOURNEY)].set_index("campaign")["users"]
    out = pd.DataFrame({"entrants": first, "paid": paid})
    out["conversion"] = out["paid"] / out["entrants"]
    return out.drop(index=["(missing)", "organic"], errors="ignore")


def _junk_against_organic(ex: Exercises) -> bool:
    result = ex.journey()
    test = result.compare_groups("campaign", ex.stories.junk_campaign.name, "organic")
    return bool(test["significant"].iloc[-1])


def _best_against_runner_up(ex: Exercises) -> bool:
    conversion = _campaign_groups(ex)["conversion"].sort_values(ascending=False)
    best, runner_up = conversion.index[:2]
    test = ex.journey().compare_groups("campaign", best, runner_up, step=len(JOURNEY))
    return bool(test["significant"].iloc[0])


def _tracking_share(ex: Exercises) -> float:
    story = ex.stories.tracking_bug
    events = ex.demo.events
    rows = events.filter(pc.equal(events["event"], story.event))
    return float(rows[story.property].null_count / rows.num_rows)


EXERCISES: dict[str, Exercise] = {
    e.key: e
    for e in (
        Exercise(
            "payment.platform",
            "On which platform did payments start to fail?",
            "text",
            lambda ex: ex.stories.payment_failure.platform,
            "Break the funnel place_order → pay_success down by platform, once for the first "
            "weeks and once for the last: which platform's conversion falls?",
        ),
        Exercise(
            "payment.version",
            "Which app version brought the failure?",
            "text",
            lambda ex: ex.stories.payment_failure.version,
            "On that platform, break place_order → pay_success down by app_version (attribution "
            "on the order step): which version converts far worse than the others?",
        ),
        Exercise(
            "payment.day",
            "On which day was that version released (the day the drop starts)?",
            "day",
            lambda ex: ex.stories.payment_failure.released,
            "Look at result.trends('day') for orders on that version, or at the first day the "
            "version appears in the log (its earliest event).",
        ),
        Exercise(
            "payment.error_code",
            "Which error_code do the failed payments on that version carry most often?",
            "text",
            lambda ex: ex.stories.payment_failure.error_code,
            "Count the pay_fail events by error_code and app_version (pd.crosstab): which code "
            "does that version send far more often than every other version?",
        ),
        Exercise(
            "payment.unpaid_users",
            "How many users placed an order on that version and did not pay within a day?",
            "number",
            lambda ex: len(ex.unpaid_on_broken_build()),
            "Run Funnel([Step('place_order', where=<platform and version>), 'pay_success'], "
            "window='1d') and count dropped_after(1) — users still in progress are not lost.",
            tolerance=0.03,
        ),
        Exercise(
            "payment.winback",
            "Build the win-back audience: the users of payment.unpaid_users who have not paid "
            "at all since the version's release (a voucher for someone who has paid since is "
            "wasted). Pass the Audience (or the path of its CSV/Parquet export).",
            "users",
            lambda ex: ex.winback(),
            "Start from the drill-down of payment.unpaid_users (result.dropped_after(1)) and "
            "take away wb.Audience.did(log, 'pay_success', start=<the release day>); it should "
            "be a little smaller than your payment.unpaid_users.",
            tolerance=0.03,
        ),
        Exercise(
            "campaign.most_traffic",
            "Which paid campaign (not organic) brought the most users into the journey?",
            "text",
            lambda ex: _campaign_groups(ex)["entrants"].idxmax(),
            "Break the journey funnel down by campaign and read the step-1 users.",
        ),
        Exercise(
            "campaign.worst",
            "Which paid campaign converts worst from browse to pay_success?",
            "text",
            lambda ex: _campaign_groups(ex)["conversion"].idxmin(),
            "In the same breakdown, compare conversion_from_first at the last step.",
        ),
        Exercise(
            "campaign.conversion",
            "What is that campaign's conversion from browse to pay_success (between 0 and 1)?",
            "rate",
            lambda ex: _campaign_groups(ex)["conversion"].min(),
            "Read conversion_from_first at pay_success for that campaign, as a rate, not a "
            "percentage.",
            tolerance=0.002,
        ),
        Exercise(
            "campaign.significant",
            "Is its conversion to pay_success significantly lower than organic's (at 5%)?",
            "yes/no",
            _junk_against_organic,
            "Use result.compare_groups('campaign', <campaign>, 'organic') and read 'significant' "
            "at the last step.",
        ),
        Exercise(
            "campaign.best_vs_runner_up",
            "Does the best-converting paid campaign convert to pay_success significantly better "
            "than the runner-up (at 5%)?",
            "yes/no",
            _best_against_runner_up,
            "Rank the paid campaigns by conversion_from_first at the last step, then "
            "result.compare_groups('campaign', <best>, <runner-up>, step=5): read 'significant', "
            "not the gap between the two rates.",
        ),
        Exercise(
            "tracking.finding",
            "Which event and which property break the tracking plan? Answer (event, property).",
            "pair",
            lambda ex: (ex.stories.tracking_bug.event, ex.stories.tracking_bug.property),
            "Validate the log against the shipped plan: plan.validate(log).table lists every "
            "finding with its rows.",
        ),
        Exercise(
            "tracking.build",
            "Which app build sends those rows? Answer (platform, version).",
            "pair",
            lambda ex: (ex.stories.tracking_bug.platform, ex.stories.tracking_bug.version),
            "Look at the offending rows themselves: report.rows(event, property), and count "
            "them by platform and app_version.",
        ),
        Exercise(
            "tracking.share",
            "What share of all the rows of that event break the plan (a number between 0 and 1)?",
            "rate",
            _tracking_share,
            "The report's 'share' column, or plan.funnel_coverage(funnel, log) beside that "
            "step of the funnel.",
            tolerance=0.002,
        ),
        Exercise(
            "tracking.real_drop_off",
            "A funnel whose step needs that property loses users at that step. Is that a real "
            "drop-off?",
            "yes/no",
            lambda ex: False,
            "Those users did the step; their events lack the property. Put the coverage "
            "beside the funnel with wb.with_coverage(result, coverage) and read that step.",
        ),
    )
}


def _exercise(key: str) -> Exercise:
    try:
        return EXERCISES[key]
    except KeyError:
        raise ArgumentError(
            f"no exercise {key!r};{did_you_mean(key, EXERCISES)} the exercises are "
            f"{', '.join(EXERCISES)}"
        ) from None


def exercises(demo: EcommerceDemo) -> Exercises:
    """The case studies' exercises on ``demo`` (the figures are computed from its own data).

    >>> ex = exercises(wb.datasets.ecommerce(n_users=500))
    >>> ex.check("tracking.real_drop_off", True)
    ✗ tracking.real_drop_off: not this one. Those users did the step; their events lack the property. Put the coverage beside the funnel with wb.with_coverage(result, coverage) and read that step.
    """  # noqa: E501
    return Exercises(demo)
