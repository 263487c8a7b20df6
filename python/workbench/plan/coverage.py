"""Coverage: which planned events occur, and how much of each funnel step breaks the plan.

A funnel's drop-off can be a tracking bug rather than user behaviour: if 9% of a step's events
lack a required property, a breakdown by that property loses those users. :func:`funnel_coverage`
gives, per step, the share of the step's rows that break the plan and the main reason, and
:func:`with_coverage` puts it beside ``result.table``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.exceptions import ArgumentError
from workbench.funnel import FunnelResult
from workbench.plan._logdata import LogData
from workbench.plan.validate import ValidationReport, validate

if TYPE_CHECKING:
    from workbench.plan.tracking_plan import TrackingPlan

__all__ = ["CoverageReport", "coverage", "funnel_coverage", "with_coverage"]


class CoverageReport:
    """Planned events against what a log holds.

    Attributes:
        table: one row per planned event (then each unplanned event seen): ``event``,
            ``display_name``, ``category``, ``owner``, ``planned``, ``rows``, ``violating_rows``,
            ``violation_share`` and ``status`` (``never seen``, ``clean``, ``violations``,
            ``unplanned``).
        never_seen: planned events with no rows.
        unplanned: events in the log that the plan does not have.
        report: the :class:`ValidationReport` the counts come from.

    Example:
        >>> cov = plan.coverage(log)
        >>> cov.never_seen, cov.unplanned
        (['refund'], ['search'])
        >>> cov.table[["event", "rows", "violating_rows", "status"]]
            event  rows  violating_rows      status
        0    view     5               1  violations
        1    cart     4               0       clean
        2     pay     1               1  violations
        3  refund     0               0  never seen
        4  search     1               1   unplanned
    """

    def __init__(self, table: pd.DataFrame, report: ValidationReport) -> None:
        self.table = table
        self.report = report
        self.never_seen: list[str] = table.loc[table["status"] == "never seen", "event"].tolist()
        self.unplanned: list[str] = table.loc[~table["planned"], "event"].tolist()

    def __repr__(self) -> str:
        planned = int(self.table["planned"].sum())
        seen = planned - len(self.never_seen)
        lines = [f"Coverage: {seen} of {planned} planned events occur in the log."]
        if self.never_seen:
            lines.append("Never seen: " + ", ".join(self.never_seen))
        if self.unplanned:
            lines.append("Not in the plan: " + ", ".join(self.unplanned))
        broken = self.table[self.table["violating_rows"] > 0]
        for row in broken.itertuples(index=False):
            if row.planned:
                lines.append(f"{row.event}: {row.violation_share:.1%} of rows break the plan")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        text = "<br>".join(html.escape(line) for line in repr(self).split("\n"))
        shown = self.table.copy()
        shown["violation_share"] = shown["violation_share"].map(lambda s: f"{s:.1%}")
        return f"<div><p>{text}</p>{shown.to_html(index=False)}</div>"


def coverage(
    plan: TrackingPlan, log: Any, report: ValidationReport | None = None
) -> CoverageReport:
    """See :meth:`TrackingPlan.coverage`."""
    data = LogData.of(log)
    report = report if report is not None else validate(plan, data)
    labels = plan.display_names() if plan.events else {}
    rows_by_event = report.event_rows
    bad_by_event = report.violating_rows
    records = []
    for name, spec in plan.events.items():
        rows = int(rows_by_event.get(name, 0))
        bad = int(bad_by_event.get(name, 0))
        records.append(
            {
                "event": name,
                "display_name": labels.get(name, name),
                "category": spec.category,
                "owner": spec.owner,
                "planned": True,
                "rows": rows,
                "violating_rows": bad,
                "violation_share": bad / rows if rows else 0.0,
                "status": "never seen" if rows == 0 else ("violations" if bad else "clean"),
            }
        )
    for event_name, rows in rows_by_event.items():
        name = str(event_name)
        if not plan.has_event(name) and rows > 0:
            records.append(
                {
                    "event": name,
                    "display_name": name,
                    "category": "",
                    "owner": "",
                    "planned": False,
                    "rows": int(rows),
                    "violating_rows": int(rows),
                    "violation_share": 1.0,
                    "status": "unplanned",
                }
            )
    return CoverageReport(pd.DataFrame(records), report)


def funnel_coverage(
    plan: TrackingPlan, funnel: Any, log: Any, report: ValidationReport | None = None
) -> pd.DataFrame:
    """See :meth:`TrackingPlan.funnel_coverage`.

    Returns one row per step: ``step`` (1-based), ``label``, ``events``, ``rows`` (rows matching
    the step's events and condition), ``violating_rows``, ``violation_share`` and
    ``top_violation`` (``event.property: violation`` with the most of the step's rows).
    """
    if not hasattr(funnel, "steps"):
        raise ArgumentError(
            f"funnel_coverage takes a funnel (wb.Funnel); got {type(funnel).__name__}"
        )
    data = LogData.of(log)
    report = report if report is not None else validate(plan, data)
    bad = report.violating_row_mask
    labels = getattr(funnel, "step_labels", None) or [s.name for s in funnel.steps]
    records = []
    for number, (step, label) in enumerate(zip(funnel.steps, labels, strict=True), start=1):
        wanted = [c for c in (data.code_of(e) for e in step.events) if c is not None]
        lut = np.zeros(len(data.event_names) + 1, dtype=bool)
        lut[wanted] = True
        mask = lut[np.where(data.codes < 0, len(data.event_names), data.codes)]
        if step.where is not None:
            matched = step.where.mask(data.table).fill_null(False)
            mask &= np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)
        rows = int(mask.sum())
        violating = int((mask & bad).sum())
        top, top_rows = "", 0
        for (event, prop, violation), idx in report.rows_by_violation.items():
            if event not in step.events:
                continue
            hits = int(mask[idx].sum())
            if hits > top_rows:
                top_rows = hits
                top = f"{event}.{prop}: {violation}" if prop else f"{event}: {violation}"
        records.append(
            {
                "step": number,
                "label": label,
                "events": ", ".join(step.events),
                "rows": rows,
                "violating_rows": violating,
                "violation_share": violating / rows if rows else 0.0,
                "top_violation": top or None,
            }
        )
    return pd.DataFrame(records)


def with_coverage(
    result: FunnelResult | pd.DataFrame, funnel_coverage: pd.DataFrame
) -> pd.DataFrame:
    """A funnel result table with the plan coverage of each step beside it.

    Adds ``plan_violation_share`` (share of the step's rows that break the plan) and
    ``plan_top_violation``; a high share next to a big drop-off says "check the tracking first".
    The coverage must be that of the same funnel: the same steps, with the same events (or, for a
    plain table, the same labels).

    Example:
        >>> plan = wb.TrackingPlan.infer(log)
        >>> with_coverage(result, plan.funnel_coverage(funnel, log))["plan_violation_share"].tolist()
        [0.0, 0.0, 0.0]
    """  # noqa: E501
    if isinstance(result, FunnelResult):
        table = result.table
        steps_given = [", ".join(step.events) for step in result.funnel.steps]
        what, theirs = "events", "events"
    elif isinstance(result, pd.DataFrame):
        table = result
        steps_given = [str(label) for label in table.get("label", pd.Series(dtype=object))]
        what, theirs = "labels", "label"
    else:
        raise ArgumentError(
            "with_coverage takes a funnel result (or its .table with a 'step' column); got "
            f"{type(result).__name__}"
        )
    needed = {"step", "events", "label", "violation_share", "top_violation"}
    if not isinstance(funnel_coverage, pd.DataFrame) or not needed <= set(funnel_coverage.columns):
        raise ArgumentError(
            "with_coverage takes the table of plan.funnel_coverage(funnel, log) as its second "
            f"argument; got {type(funnel_coverage).__name__}"
        )
    if "step" not in table.columns:
        raise ArgumentError("with_coverage needs a step table with a 'step' column")
    covered = [str(v) for v in funnel_coverage.sort_values("step")[theirs]]
    if steps_given and steps_given != covered:
        raise ArgumentError(
            f"the coverage was computed for a different funnel: its steps' {what} are "
            f"{covered}, the result's are {steps_given}; compute "
            "plan.funnel_coverage(result.funnel, log)"
        )
    extra = funnel_coverage[["step", "violation_share", "top_violation"]].rename(
        columns={"violation_share": "plan_violation_share", "top_violation": "plan_top_violation"}
    )
    steps = pd.to_numeric(table["step"], errors="coerce")
    if not set(steps.dropna().astype(int)) <= set(extra["step"]):
        raise ArgumentError(
            "the coverage was computed for a different funnel (it has steps "
            f"{sorted(extra['step'])}, the table {sorted(set(steps.dropna().astype(int)))})"
        )
    merged = table.assign(_step=steps).merge(
        extra.rename(columns={"step": "_step"}), on="_step", how="left"
    )
    return merged.drop(columns="_step")
