"""Build a funnel by clicking: pick steps from the log's events, add filters, alternatives and
options, watch the chart and the table follow, click a step's bar and see who dropped off.

The builder is a view over plain parts: :class:`~workbench.widgets.draft.FunnelDraft` (the
definition being edited), :class:`~workbench.widgets.catalog.EventCatalog` (what there is to
pick), :mod:`~workbench.widgets.drill` (the users behind a step) and :mod:`workbench.charts`.
Its state is in traitlets (``definition``, ``step``, ``kind``, ``error``), and everything it
shows is reachable as code:

>>> builder = FunnelBuilder(log, plan=plan, tags=tags)
>>> for event in ["view", "cart", "pay"]:
...     builder.add_step(event)
>>> builder.funnel
Funnel(['view', 'cart', 'pay'], window='1d')
>>> builder.step, builder.kind, builder.panel.audience    # opens on the worst step
(2, 'dropped', Audience 'dropped after Add to cart'(1 of 6 users))
>>> builder.drill_down(1, "converted")
Audience 'reached Product page'(5 of 6 users)
"""

from __future__ import annotations

import asyncio
import copy
import html
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets

from workbench import charts
from workbench._durations import parse_duration
from workbench._progress import in_kernel
from workbench.audience import Audience, TagStore
from workbench.charts import STEP_SELECTION
from workbench.exceptions import ArgumentError, FunnelDefinitionError, WorkbenchError
from workbench.funnel import CLICKHOUSE_MODES, Funnel, FunnelResult
from workbench.log import EventLog
from workbench.plan import TrackingPlan
from workbench.widgets import drill
from workbench.widgets.catalog import EventCatalog
from workbench.widgets.code import funnel_code
from workbench.widgets.draft import (
    FILTER_OPERATORS,
    ExclusionDraft,
    FilterDraft,
    FunnelDraft,
    StepDraft,
)
from workbench.widgets.panel import AudiencePanel, error_html, note_html, table_html

__all__ = ["WINDOWS", "FunnelBuilder"]

WINDOWS = ("5m", "15m", "30m", "1h", "2h", "6h", "12h", "1d", "2d", "3d", "7d", "14d", "30d")
"""The windows the slider offers (a funnel's own window is added when it is another)."""
_KIND_LABELS = {"dropped": "dropped off", "converted": "converted", "in_progress": "in progress"}
_SHOW_PROGRESS_AFTER_S = 0.3


@dataclass
class _Shown:
    """What one run of the draft put on screen (or why it could not)."""

    version: int
    funnel: Funnel | None = None
    result: FunnelResult | None = None
    chart: Any = None
    breakdown_chart: Any = None
    table: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The kernel's event loop when the builder runs in a notebook (None in a script or a
    test, where another library's loop may be running: a change is then drawn at once)."""
    if not in_kernel():
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _note_of(warning: warnings.WarningMessage) -> str:
    return str(warning.message)


class FunnelBuilder(w.VBox):
    """A funnel builder panel over ``log``: steps from its events (with counts, and display
    names from ``plan``), filters, alternatives, window, order and ClickHouse modes,
    exclusions, hold and session, counting, breakdown; the chart and table update as you go
    (debounced by ``debounce`` seconds, computed off the kernel's main thread); a click on a
    step's bar opens its drill-down: size, profile against ``tags``, the first users (with the
    columns of ``users``), save as segment, export.

    Attributes:
        definition: the funnel on screen as ``Funnel.to_dict()`` data (assign one to load it).
        step: the step the drill-down shows (starts on the worst step).
        kind: ``"dropped"``, ``"converted"`` or ``"in_progress"``.
        error: what is wrong with the definition on screen ("" when it runs).
        segments: audiences saved as segments from the panel, by name.
    """

    definition = traitlets.Dict()
    step = traitlets.Int(None, allow_none=True)
    kind = traitlets.Unicode("dropped")
    error = traitlets.Unicode("")

    def __init__(
        self,
        log: EventLog,
        plan: TrackingPlan | None = None,
        tags: TagStore | None = None,
        *,
        users: pd.DataFrame | None = None,
        language: str | None = None,
        debounce: float = 0.25,
        draft: FunnelDraft | None = None,
    ) -> None:
        if tags is not None and not isinstance(tags, TagStore):
            raise ArgumentError(f"tags= takes a wb.TagStore; got {type(tags).__name__}")
        if tags is not None and not tags.belongs_to(log):
            raise ArgumentError("the tag store holds users of another event log")
        self.catalog = EventCatalog(log, plan, language)
        self.event_log = log
        self.tags = tags
        self.users = users
        self.debounce = float(debounce)
        self.draft = draft if draft is not None else FunnelDraft()
        self.segments: dict[str, Audience] = {}
        self._version = 0
        self._shown = _Shown(version=-1)
        self._pending: Any = None
        self._picked: int | None = None
        self._syncing = False
        self._build_controls()
        super().__init__(self._layout())
        self.add_class("funnel-builder")
        self._render_steps()
        self._render_exclusions()
        self._changed()

    @classmethod
    def from_funnel(
        cls,
        log: EventLog,
        funnel: Funnel,
        plan: TrackingPlan | None = None,
        tags: TagStore | None = None,
        **options: Any,
    ) -> FunnelBuilder:
        """A builder opened on an existing funnel (``builder.funnel == funnel``).

        >>> FunnelBuilder.from_funnel(log, funnel).funnel == funnel
        True
        """
        return cls(log, plan, tags, draft=FunnelDraft.from_funnel(funnel), **options)

    # -- the same as code -----------------------------------------------------------------------

    @property
    def funnel(self) -> Funnel:
        """The funnel on screen (raises what is wrong with it, as the panel shows)."""
        return self.draft.to_funnel(self.catalog)

    @property
    def result(self) -> FunnelResult:
        """The result of the funnel on screen (computed now if a change is still pending)."""
        shown = self._current()
        if shown.result is None:
            raise FunnelDefinitionError(shown.error or "the funnel has no result")
        return shown.result

    @property
    def code(self) -> str:
        """Python source that rebuilds the funnel on screen.

        >>> print(FunnelBuilder.from_funnel(log, wb.Funnel(["view", "pay"])).code)
        import workbench as wb
        <BLANKLINE>
        funnel = wb.Funnel(
            [
                "view",
                "pay",
            ],
            window="1d",
        )
        """
        return funnel_code(self.funnel)

    def drill_down(self, step: int, kind: str = "dropped") -> Audience:
        """The users of ``step`` the panel shows for ``kind`` (what a click on the bar does):
        ``"dropped"``, ``"converted"`` or ``"in_progress"``; the panel moves to them."""
        audience = drill.drill_down(self.result, step, kind)  # type: ignore[arg-type]
        self._picked = step
        self._go_to(step, kind)
        return audience

    def _go_to(self, step: int, kind: str) -> None:
        """Show ``step``'s ``kind`` users: set both traits, then draw the panel once."""
        self._syncing = True
        try:
            self.kind = kind
            self.step = step
        finally:
            self._syncing = False
        self._show_drill()

    def add_step(self, event: str) -> None:
        """Append a step for ``event`` (what the "Add step" button does)."""
        self.catalog.check_event(event, "the event")
        self.draft.add_step(event, self.catalog.display_names.get(event))
        self._structure_changed()

    def refresh(self) -> None:
        """Run the definition on screen now instead of after the debounce."""
        self._cancel_pending()
        self._apply(self._compute(self._version, copy.deepcopy(self.draft)))

    # -- controls -------------------------------------------------------------------------------

    def _build_controls(self) -> None:
        catalog = self.catalog
        self.status = w.HTML()
        self.progress = w.FloatProgress(
            min=0.0, max=1.0, layout=w.Layout(width="160px", visibility="hidden")
        )
        self.steps_box = w.VBox()
        self.steps_box.add_class("funnel-builder-steps")
        self.search = w.Text(placeholder="search events", layout=w.Layout(width="220px"))
        self.search.add_class("funnel-builder-search")
        self.event_list = w.Select(
            options=self._event_options(""), rows=6, layout=w.Layout(width="420px")
        )
        self.event_list.add_class("funnel-builder-events")
        self.add_button = w.Button(description="Add step", icon="plus", button_style="primary")
        self.add_button.add_class("funnel-builder-add")
        self.search.observe(self._on_search, names="value")
        self.add_button.on_click(self._on_add)

        windows = self._window_options(self.draft.window)
        self.window = w.SelectionSlider(
            options=windows,
            value=self.draft.window if self.draft.window in windows else "1d",
            description="window",
            continuous_update=False,
        )
        self.window_text = w.Text(
            value=self.draft.window, placeholder="e.g. 45m", layout=w.Layout(width="90px")
        )
        self.window.observe(self._on_window_slider, names="value")
        self.window_text.observe(self._on_window_text, names="value")
        self.order = w.ToggleButtons(
            options=[("sequential", "sequential"), ("strict", "strict"), ("any order", "any")],
            value=self.draft.order,
            description="order",
        )
        self.counting = w.ToggleButtons(
            options=[("users", "users"), ("every attempt", "conversions")],
            value=self.draft.counting,
            description="count",
        )
        self.modes = {
            mode: w.Checkbox(
                value=self.draft.modes.get(mode, False),
                description=mode,
                indent=False,
                layout=w.Layout(width="170px"),
            )
            for mode in CLICKHOUSE_MODES
        }
        self.hold = w.TagsInput(
            value=list(self.draft.hold), allowed_tags=catalog.properties, allow_duplicates=False
        )
        self.session = w.Checkbox(
            value=self.draft.session,
            description="same session"
            + ("" if self.event_log.session_column else " (the log has no session column)"),
            disabled=self.event_log.session_column is None and not self.draft.session,
            indent=False,
        )
        self.exclusions_box = w.VBox()
        self.add_exclusion = w.Button(description="Add exclusion", icon="ban")
        self.add_exclusion.on_click(self._on_add_exclusion)
        self.breakdown = w.Dropdown(
            options=[("no breakdown", None), *((p, p) for p in catalog.properties)],
            value=self.draft.breakdown,
            description="break down",
        )
        self.attribution = w.Dropdown(description="by value at")
        self._set_attribution_options()
        for control in (
            self.order,
            self.counting,
            self.hold,
            self.session,
            self.breakdown,
            self.attribution,
            *self.modes.values(),
        ):
            control.observe(self._on_option, names="value")

        self.chart_box = w.Box()
        self.chart_box.add_class("funnel-builder-chart")
        self.chart_widget: Any = None
        self.chart: Any = None  # the Altair chart on screen, to restyle or save
        self._observed: Any = None
        self.table = w.HTML()
        self.table.add_class("funnel-builder-table")
        self.breakdown_box = w.Box()
        self.breakdown_widget: Any = None
        self.kind_buttons = w.ToggleButtons(options=[], description="show")
        self.kind_buttons.observe(self._on_kind, names="value")
        self.panel = AudiencePanel(tags=self.tags, users=self.users, segments=self.segments)
        self.drill_box = w.VBox([self.kind_buttons, self.panel])
        self.drill_box.add_class("drill-down")
        self.code_view = w.HTML()

    def _layout(self) -> list[w.Widget]:
        options = w.VBox(
            [
                w.HBox([self.window, self.window_text]),
                self.order,
                self.counting,
                w.HBox([w.HTML("<b>ClickHouse modes</b>&nbsp;"), *self.modes.values()]),
                w.HBox([w.HTML("hold constant&nbsp;"), self.hold, self.session]),
                w.HTML("<b>Exclusions</b>: events that void a chain between two steps"),
                self.exclusions_box,
                self.add_exclusion,
                w.HBox([self.breakdown, self.attribution]),
            ]
        )
        settings = w.Accordion(children=[options], titles=("Window, order and options",))
        code = w.Accordion(children=[self.code_view], titles=("Python",))
        return [
            w.HBox([w.HTML("<h3 style='margin:4px 0'>Funnel builder</h3>"), self.progress]),
            self.steps_box,
            w.HBox([self.search, self.event_list, self.add_button]),
            settings,
            self.status,
            w.HBox([self.chart_box, self.table]),
            self.breakdown_box,
            self.drill_box,
            code,
        ]

    def _event_options(self, text: str) -> list[tuple[str, str]]:
        return [(self.catalog.option(e), e) for e in self.catalog.search(text)]

    @staticmethod
    def _window_options(current: str) -> list[str]:
        options = list(WINDOWS)
        try:
            if current and current not in options:
                parse_duration(current)
                options.append(current)
        except FunnelDefinitionError:
            pass
        return sorted(options, key=lambda d: parse_duration(d))

    def _set_attribution_options(self) -> None:
        n = len(self.draft.steps)
        options: list[tuple[str, Any]] = [
            ("step 1 (first touch)", "first_touch"),
            ("last step reached", "last_touch"),
        ]
        options += [(f"step {k}", k) for k in range(2, n + 1)]
        value = self.draft.attribution
        self._syncing = True
        try:
            self.attribution.options = options
            self.attribution.value = value if value in [v for _, v in options] else "first_touch"
        finally:
            self._syncing = False

    # -- step rows ------------------------------------------------------------------------------

    def _render_steps(self) -> None:
        rows: list[w.Widget] = []
        for number, step in enumerate(self.draft.steps, start=1):
            rows.append(self._step_row(number, step))
        if not rows:
            rows.append(w.HTML(note_html("No steps yet: search the events below and add one.")))
        self.steps_box.children = rows
        self._set_attribution_options()

    def _step_row(self, number: int, step: StepDraft) -> w.Widget:
        label = self.catalog.label(step.events[0]) if step.events else "?"
        heading = w.HTML(f"<b>{number}.</b> {html.escape(label)}", layout=w.Layout(width="180px"))
        events = w.TagsInput(
            value=list(step.events),
            allowed_tags=self.catalog.events,
            allow_duplicates=False,
            layout=w.Layout(width="300px"),
        )
        events.tooltip = "the step's event; more names are alternatives (any of them)"
        optional = w.Checkbox(
            value=step.optional, description="optional", indent=False, layout=w.Layout(width="90px")
        )
        within = w.Text(value=step.within, placeholder="within", layout=w.Layout(width="80px"))
        add_filter = w.Button(description="filter", icon="filter", layout=w.Layout(width="80px"))
        up = w.Button(icon="arrow-up", layout=w.Layout(width="36px"), tooltip="move up")
        down = w.Button(icon="arrow-down", layout=w.Layout(width="36px"), tooltip="move down")
        remove = w.Button(icon="times", layout=w.Layout(width="36px"), tooltip="remove step")

        def index() -> int:
            return next(i for i, s in enumerate(self.draft.steps) if s is step)

        def on_events(change: dict[str, Any]) -> None:
            step.events = list(change["new"])
            for event in step.events:
                shown = self.catalog.display_names.get(event)
                if shown:
                    self.draft.labels.setdefault(event, shown)
            self._structure_changed()

        def on_optional(change: dict[str, Any]) -> None:
            step.optional = bool(change["new"])
            self._changed()

        def on_within(change: dict[str, Any]) -> None:
            step.within = str(change["new"])
            self._changed()

        events.observe(on_events, names="value")
        optional.observe(on_optional, names="value")
        within.observe(on_within, names="value")

        def on_add_filter(_: Any) -> None:
            step.filters.append(FilterDraft())
            self._structure_changed()

        def on_move(by: int) -> None:
            self.draft.move_step(index(), by)
            self._structure_changed()

        def on_remove(_: Any) -> None:
            self.draft.remove_step(index())
            self._structure_changed()

        add_filter.on_click(on_add_filter)
        up.on_click(lambda _: on_move(-1))
        down.on_click(lambda _: on_move(1))
        remove.on_click(on_remove)
        row = w.HBox([heading, events, add_filter, optional, within, up, down, remove])
        row.add_class("funnel-builder-step")
        parts: list[w.Widget] = [row]
        if step.condition is not None:
            parts.append(w.HTML(note_html(f"condition kept from the funnel: {step.condition!r}")))
        parts += [self._filter_row(step, f) for f in step.filters]
        return w.VBox(parts)

    def _filter_row(self, step: StepDraft, condition: FilterDraft) -> w.Widget:
        event = step.events[0] if step.events else None
        properties = self.catalog.properties_of(event)
        if condition.column and condition.column not in properties:
            properties = [condition.column, *properties]
        column = w.Dropdown(
            options=["", *properties], value=condition.column or "", layout=w.Layout(width="160px")
        )
        op = w.Dropdown(
            options=list(FILTER_OPERATORS), value=condition.op, layout=w.Layout(width="110px")
        )
        shown = condition.value
        if isinstance(shown, (list, tuple)):
            shown = ", ".join(str(v) for v in shown)
        suggestions = (
            [str(v) for v in self.catalog.values(event, condition.column)]
            if condition.column
            else []
        )
        value = w.Combobox(
            value=str(shown),
            options=suggestions,
            placeholder="value",
            ensure_option=False,
            layout=w.Layout(width="200px"),
            disabled=condition.op in ("is null", "is not null"),
        )
        remove = w.Button(icon="times", layout=w.Layout(width="36px"), tooltip="remove filter")

        def on_column(change: dict[str, Any]) -> None:
            condition.column = str(change["new"])
            self._structure_changed()

        def on_op(change: dict[str, Any]) -> None:
            condition.op = str(change["new"])
            value.disabled = condition.op in ("is null", "is not null")
            self._changed()

        def on_value(change: dict[str, Any]) -> None:
            condition.value = str(change["new"])
            self._changed()

        column.observe(on_column, names="value")
        op.observe(on_op, names="value")
        value.observe(on_value, names="value")

        def on_remove(_: Any) -> None:
            step.filters.remove(condition)
            self._structure_changed()

        remove.on_click(on_remove)
        row = w.HBox(
            [
                w.HTML("&nbsp;" * 8 + "where", layout=w.Layout(width="80px")),
                column,
                op,
                value,
                remove,
            ]
        )
        row.add_class("funnel-builder-filter")
        return row

    def _render_exclusions(self) -> None:
        rows = []
        for exclusion in self.draft.exclusions:
            rows.append(self._exclusion_row(exclusion))
        self.exclusions_box.children = rows

    def _exclusion_row(self, exclusion: ExclusionDraft) -> w.Widget:
        n = max(len(self.draft.steps), 2)
        events = w.TagsInput(
            value=list(exclusion.events),
            allowed_tags=self.catalog.events,
            allow_duplicates=False,
            layout=w.Layout(width="260px"),
        )
        after = w.BoundedIntText(
            value=exclusion.after,
            min=1,
            max=n,
            description="after step",
            layout=w.Layout(width="160px"),
        )
        before = w.BoundedIntText(
            value=exclusion.before or n,
            min=1,
            max=n,
            description="before step",
            layout=w.Layout(width="170px"),
        )
        remove = w.Button(icon="times", layout=w.Layout(width="36px"), tooltip="remove")

        def on_events(change: dict[str, Any]) -> None:
            exclusion.events = list(change["new"])
            self._changed()

        def on_after(change: dict[str, Any]) -> None:
            exclusion.after = int(change["new"])
            self._changed()

        def on_before(change: dict[str, Any]) -> None:
            value = int(change["new"])
            exclusion.before = None if value == len(self.draft.steps) else value
            self._changed()

        events.observe(on_events, names="value")
        after.observe(on_after, names="value")
        before.observe(on_before, names="value")

        def on_remove(_: Any) -> None:
            self.draft.exclusions.remove(exclusion)
            self._render_exclusions()
            self._changed()

        remove.on_click(on_remove)
        return w.HBox([events, after, before, remove])

    # -- events from the controls ---------------------------------------------------------------

    def _on_search(self, change: dict[str, Any]) -> None:
        self.event_list.options = self._event_options(str(change["new"]))

    def _on_add(self, _: Any) -> None:
        event = self.event_list.value
        if event is None:
            options = self.event_list.options
            if len(options) != 1:
                self.status.value = error_html("pick an event in the list to add it as a step")
                return
            event = options[0][1]
        self.add_step(str(event))

    def _on_add_exclusion(self, _: Any) -> None:
        self.draft.exclusions.append(ExclusionDraft([]))
        self._render_exclusions()
        self._changed()

    def _on_window_slider(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.window_text.value = str(change["new"])
        finally:
            self._syncing = False
        self.draft.window = str(change["new"])
        self._changed()

    def _on_window_text(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        text = str(change["new"]).strip()
        self.draft.window = text
        options = self._window_options(text)
        self._syncing = True
        try:
            if list(self.window.options) != options:
                self.window.options = options
            if text in options:
                self.window.value = text
        finally:
            self._syncing = False
        self._changed()

    def _on_option(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        draft = self.draft
        draft.order = self.order.value
        draft.counting = self.counting.value
        draft.modes = {mode: box.value for mode, box in self.modes.items()}
        draft.hold = list(self.hold.value)
        draft.session = bool(self.session.value)
        draft.breakdown = self.breakdown.value
        draft.attribution = self.attribution.value or "first_touch"
        self._changed()

    def _on_kind(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        self.kind = str(change["new"])

    def _on_pick(self, change: dict[str, Any]) -> None:
        picked = getattr(change["new"], "value", None) or []
        if not picked or "step" not in picked[0]:
            return
        step = int(picked[0]["step"])
        if step != self.step:
            self._picked = step
            self._go_to(step, drill.default_kind(self.result, step))

    @traitlets.observe("step", "kind")
    def _on_drill(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._show_drill()

    @traitlets.observe("definition")
    def _on_definition(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            funnel = Funnel.from_dict(change["new"])
        except WorkbenchError as error:
            self.error = str(error)
            self.status.value = error_html(str(error))
            return
        self.draft = FunnelDraft.from_funnel(
            funnel, breakdown=self.draft.breakdown, attribution=self.draft.attribution
        )
        self._sync_option_controls()
        self._picked = None
        self._structure_changed()

    def _sync_option_controls(self) -> None:
        draft = self.draft
        self._syncing = True
        try:
            self.window_text.value = draft.window
            self.window.options = self._window_options(draft.window)
            if draft.window in self.window.options:
                self.window.value = draft.window
            self.order.value = draft.order
            self.counting.value = draft.counting
            for mode, box in self.modes.items():
                box.value = draft.modes.get(mode, False)
            self.hold.value = list(draft.hold)
            self.session.value = draft.session
        finally:
            self._syncing = False
        self._render_exclusions()

    # -- running --------------------------------------------------------------------------------

    def _structure_changed(self) -> None:
        self._render_steps()
        self._changed()

    def _changed(self) -> None:
        """The draft changed: run it after the debounce, off the main thread (in a kernel), or
        now (outside one, or with no debounce)."""
        self._version += 1
        self._cancel_pending()
        loop = _kernel_loop()
        if loop is None or self.debounce <= 0:
            self.refresh()
            return
        version = self._version
        self._pending = loop.call_later(
            self.debounce, lambda: asyncio.ensure_future(self._run_later(version))
        )

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def _run_later(self, version: int) -> None:
        self._pending = None
        if version != self._version:
            return
        loop = asyncio.get_running_loop()
        draft = copy.deepcopy(self.draft)
        started = time.monotonic()
        timer = loop.call_later(_SHOW_PROGRESS_AFTER_S, self._show_running)
        try:
            shown = await loop.run_in_executor(None, self._compute, version, draft)
        finally:
            timer.cancel()
            self.progress.layout.visibility = "hidden"
        shown.seconds = time.monotonic() - started
        if version == self._version:
            self._apply(shown)

    def _show_running(self) -> None:
        self.progress.value = 0.0
        self.progress.layout.visibility = "visible"

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.value = min(done / total, 1.0)

    def _current(self) -> _Shown:
        if self._shown.version != self._version:
            self.refresh()
        return self._shown

    def _compute(self, version: int, draft: FunnelDraft) -> _Shown:
        """Everything a change puts on screen, computed from a copy of the draft (so it can run
        on another thread while the analyst goes on clicking)."""
        shown = _Shown(version=version)
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                funnel = draft.to_funnel(self.catalog)
                last = self._shown.result
                # A change of breakdown or of the drill-down leaves the funnel as it is: no re-run.
                if last is not None and self._shown.funnel == funnel:
                    result = last
                else:
                    result = funnel.run(self.event_log, progress=self._on_progress)
                step = self._picked if self._picked and self._picked <= result.n_steps else None
                step = step or result.worst_step()
                shown.funnel, shown.result = funnel, result
                shown.chart = charts.funnel(result, clickable=True, selected=step)
                shown.table = table_html(result.summary())
                if draft.breakdown:
                    shown.breakdown_chart = charts.breakdown(
                        result, draft.breakdown, attribution=draft.attribution
                    )
            except WorkbenchError as error:
                shown.error = str(error)
        shown.notes = [_note_of(c) for c in caught]
        shown.seconds = time.monotonic() - started
        return shown

    def _apply(self, shown: _Shown) -> None:
        """Put a computed run on screen (on the kernel's main thread)."""
        self._shown = shown
        self.error = shown.error
        notes = "".join(f"<div>{note_html(n)}</div>" for n in shown.notes)
        if shown.error:
            # An empty builder is a start, not a mistake: say what to do, in plain text.
            shown_as = note_html if not self.draft.steps else error_html
            self.status.value = shown_as(shown.error) + notes
            return
        self.status.value = notes
        result = shown.result
        if result is None or shown.funnel is None:
            return
        self._syncing = True
        try:
            self.definition = shown.funnel.to_dict()
        finally:
            self._syncing = False
        self._show_chart(shown.chart)
        self.table.value = shown.table
        if shown.breakdown_chart is not None:
            if self.breakdown_widget is None:
                self.breakdown_widget = charts.chart_widget(shown.breakdown_chart)
            else:
                charts.redraw(self.breakdown_widget, shown.breakdown_chart)
            self.breakdown_box.children = (self.breakdown_widget,)
        else:
            self.breakdown_box.children = ()
        self.code_view.value = f"<pre>{html.escape(funnel_code(shown.funnel))}</pre>"
        step = self._picked if self._picked and self._picked <= result.n_steps else None
        step = step or result.worst_step()
        kind = self.kind if self._picked == step else drill.default_kind(result, step)
        self._go_to(step, kind)

    def _show_chart(self, chart: Any) -> None:
        self.chart = chart
        if self.chart_widget is None:
            self.chart_widget = charts.chart_widget(chart)
            self.chart_box.children = (self.chart_widget,)
        else:
            charts.redraw(self.chart_widget, chart)
        # A chart with other selections brings a new selections object: observe that one.
        selections = self.chart_widget.selections
        if selections is not self._observed:
            selections.observe(self._on_pick, names=[STEP_SELECTION])
            self._observed = selections

    def _show_drill(self) -> None:
        result = self._shown.result
        if result is None or self.step is None:
            self.panel.show(None, "Click a step's bar to see its users")
            return
        step = min(max(int(self.step), 1), result.n_steps)
        kinds = drill.kinds_at(result, step)
        kind = self.kind if self.kind in kinds else kinds[0]
        self._syncing = True
        try:
            self.kind_buttons.options = [(_KIND_LABELS[k], k) for k in kinds]
            self.kind_buttons.value = kind
        finally:
            self._syncing = False
        audience = drill.drill_down(result, step, kind)
        label = result.labels[step - 1]
        self.panel.show(audience, f"Step {step}. {label}: {drill.KINDS[kind]} {label}")
