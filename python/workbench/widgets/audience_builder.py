"""Build an audience from tags by clicking: pick tag values, combine the picks with AND or OR,
negate one, or type a selection expression (errors shown under it, with a caret); the size,
the profile chart and the first users follow, and the audience can be saved and exported.

>>> builder = AudienceBuilder(tags, log)
>>> builder.pick(["gender:F"])
>>> builder.pick(["vip"], negate=True)
>>> builder.expression, builder.audience
('gender:F & ~vip', Audience 'gender:F & ~vip'(2 of 6 users))
>>> builder.expression = "age:18-24 | gender:M"
>>> len(builder.audience)
4
>>> builder.expression = "gender:F &"
>>> print(builder.error)
expected a tag name, '(', '~' or '*' but found the end of the expression at column 11
  gender:F &
            ^
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from workbench.audience import Audience, TagStore
from workbench.exceptions import ArgumentError, AudienceError
from workbench.log import EventLog
from workbench.widgets.expression import clause, combine, tag_groups
from workbench.widgets.panel import AudiencePanel, error_html

__all__ = ["AudienceBuilder"]


@dataclass
class _Pick:
    """One condition: any of ``tags`` (or, negated, none of them)."""

    tags: list[str]
    negate: bool = False


class AudienceBuilder(w.VBox):
    """An audience builder over the tags of ``tags`` (users of ``log``).

    Attributes:
        expression: the selection expression on screen (assign one to type it).
        error: what is wrong with the expression ("" when it selects).
        segments: audiences saved from the panel, by name.
    """

    expression = traitlets.Unicode("*")
    error = traitlets.Unicode("")

    def __init__(
        self, tags: TagStore, log: EventLog | None = None, *, users: pd.DataFrame | None = None
    ) -> None:
        if not isinstance(tags, TagStore):
            raise ArgumentError(f"AudienceBuilder takes a wb.TagStore; got {type(tags).__name__}")
        if log is not None and not tags.belongs_to(log):
            raise ArgumentError("the tag store holds users of another event log")
        self.tags = tags
        self.event_log = tags.log
        self.picks: list[_Pick] = []
        self.segments: dict[str, Audience] = {}
        self._audience: Audience | None = Audience.all(self.event_log)
        self._syncing = False
        groups = tag_groups(tags.names)
        self.group = w.Dropdown(
            options=list(groups), description="tag", layout=w.Layout(width="240px")
        )
        self.values = w.SelectMultiple(rows=5, layout=w.Layout(width="260px"))
        self.negate = w.Checkbox(description="not", indent=False, layout=w.Layout(width="60px"))
        self.add_button = w.Button(description="Add condition", icon="plus", button_style="primary")
        self.combinator = w.ToggleButtons(
            options=[("all of (AND)", "and"), ("any of (OR)", "or")],
            value="and",
            description="combine",
        )
        self.picks_box = w.VBox()
        self.typed = w.Text(
            value="*",
            description="expression",
            continuous_update=False,
            layout=w.Layout(width="640px"),
        )
        self.typed.add_class("audience-builder-expression")
        self.problem = w.HTML()
        self.panel = AudiencePanel(tags=tags, users=users, segments=self.segments)
        self._groups = groups
        self.group.observe(self._on_group, names="value")
        self.add_button.on_click(lambda _: self.pick(list(self.values.value), self.negate.value))
        self.combinator.observe(lambda _: self._from_picks(), names="value")
        self.typed.observe(self._on_typed, names="value")
        super().__init__(
            [
                w.HTML("<h3 style='margin:4px 0'>Audience builder</h3>"),
                w.HBox([self.group, self.values, self.negate, self.add_button]),
                self.combinator,
                self.picks_box,
                self.typed,
                self.problem,
                self.panel,
            ]
        )
        self.add_class("audience-builder")
        self._on_group({"new": self.group.value})
        self._show()

    # -- as code --------------------------------------------------------------------------------

    @property
    def audience(self) -> Audience:
        """The audience the expression selects (raises what is wrong with the expression)."""
        if self.error:
            raise AudienceError(self.error)
        return self.tags.select(self.expression)

    def pick(self, tags: list[str], negate: bool = False) -> None:
        """Add a condition: any of ``tags`` (what "Add condition" does)."""
        for name in tags:
            if name not in self.tags:
                raise AudienceError(f"unknown tag {name!r}; the tags are {self.tags.names[:10]}")
        if not tags:
            self.problem.value = error_html("pick at least one tag value first")
            return
        self.picks.append(_Pick(list(tags), bool(negate)))
        self._from_picks()

    def remove_pick(self, index: int) -> None:
        """Remove the ``index``-th condition (0-based)."""
        del self.picks[index]
        self._from_picks()

    # -- events ---------------------------------------------------------------------------------

    def _on_group(self, change: dict[str, Any]) -> None:
        names = self._groups.get(change["new"], [])
        sizes = self.tags.sizes()
        self.values.options = [(f"{n} ({int(sizes[n]):,})", n) for n in names]

    def _from_picks(self) -> None:
        self.expression = combine(
            [clause(p.tags, p.negate) for p in self.picks], self.combinator.value
        )
        self._render_picks()

    def _render_picks(self) -> None:
        rows = []
        for index, pick in enumerate(self.picks):
            text = clause(pick.tags, pick.negate)
            remove = w.Button(icon="times", layout=w.Layout(width="36px"), tooltip="remove")
            remove.on_click(lambda _, i=index: self.remove_pick(i))
            rows.append(w.HBox([w.HTML(f"<code>{html.escape(text)}</code>"), remove]))
        self.picks_box.children = rows

    def _on_typed(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.expression = str(change["new"]).strip() or "*"

    @traitlets.observe("expression")
    def _on_expression(self, change: dict[str, Any]) -> None:
        self._syncing = True
        try:
            self.typed.value = change["new"]
        finally:
            self._syncing = False
        self._show()

    def _show(self) -> None:
        try:
            audience = self.tags.select(self.expression)
        except AudienceError as error:
            self.error = str(error)
            self.problem.value = error_html(str(error))
            self.panel.show(None, "Fix the expression to see the audience")
            return
        self.error = ""
        self.problem.value = ""
        self._audience = audience
        self.panel.show(audience, f"Audience: {self.expression}")
