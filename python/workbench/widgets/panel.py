"""The audience panel both builders show: how many users, who they are against the tags (a
profile chart), the first of them with their attributes, and buttons to save them as a named
segment and export them (CSV, Parquet or a Roaring bitmap) into a folder the analyst names.

The logic is in :mod:`workbench.widgets.drill`; this is its view.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.audience import Audience, TagStore
from workbench.charts import chart_widget, redraw
from workbench.charts import profile as profile_chart
from workbench.exceptions import AudienceError, WorkbenchError
from workbench.widgets import drill

__all__ = ["AudiencePanel", "error_html", "note_html", "table_html"]

ROWS_SHOWN = 10


def error_html(message: str) -> str:
    """An error as the panels show it: red, monospaced so a caret lines up under its column."""
    return (
        "<pre class='workbench-error' style='color:#c92a2a;white-space:pre-wrap;margin:4px 0'>"
        f"{html.escape(message)}</pre>"
    )


def note_html(message: str) -> str:
    return f"<span style='color:#495057'>{html.escape(message)}</span>"


def table_html(frame: pd.DataFrame) -> str:
    """A small table, as the notebook shows pandas tables."""
    return frame.to_html(index=False, classes="workbench-table", border=0, na_rep="—")


class AudiencePanel(w.VBox):
    """Size, profile chart, first users, save and export for one audience at a time.

    Args:
        tags: the tag store to profile against and to save segments into (optional).
        users: a user-attribute table (keyed by the log's user column) for the user list and
            the exports (optional).
        segments: where saved segments are kept (shared with the builder).
    """

    def __init__(
        self,
        *,
        tags: TagStore | None = None,
        users: pd.DataFrame | None = None,
        segments: dict[str, Audience] | None = None,
    ) -> None:
        self.tags = tags
        self.users = users
        self._users_by_key: pd.DataFrame | None = None
        self.segments: dict[str, Audience] = segments if segments is not None else {}
        self.audience: Audience | None = None
        self.heading = w.HTML()
        self.size = w.HTML()
        self.size.add_class("audience-size")
        self.profile_box = w.Box()
        self.profile_widget: Any = None
        self.rows = w.HTML()
        self.segment_name = w.Text(placeholder="segment name", layout=w.Layout(width="220px"))
        self.save_button = w.Button(description="Save as segment", icon="bookmark")
        self.folder = w.Text(
            value=str(Path.cwd()), description="folder", layout=w.Layout(width="360px")
        )
        self.format = w.Dropdown(
            options=[("CSV", "csv"), ("Parquet", "parquet"), ("Roaring bitmap", "bitmap")],
            value="csv",
            layout=w.Layout(width="150px"),
        )
        self.export_button = w.Button(description="Export", icon="download")
        self.message = w.HTML()
        self.save_button.on_click(lambda _: self._report(self.save))
        self.export_button.on_click(lambda _: self._report(self.export))
        super().__init__(
            [
                self.heading,
                self.size,
                self.profile_box,
                self.rows,
                w.HBox([self.segment_name, self.save_button]),
                w.HBox([self.folder, self.format, self.export_button]),
                self.message,
            ]
        )
        self.add_class("audience-panel")

    def show(self, audience: Audience | None, heading: str = "") -> None:
        """Show ``audience`` (None: nothing to show, with ``heading`` saying why)."""
        self.audience = audience
        self.heading.value = f"<h4 style='margin:4px 0'>{html.escape(heading)}</h4>"
        self.message.value = ""
        if audience is None:
            self.size.value = ""
            self.rows.value = ""
            self.profile_box.children = ()
            return
        self.size.value = f"<b>{html.escape(drill.summary_line(audience))}</b>"
        self.segment_name.value = audience.name or ""
        if self.users is not None and self._users_by_key is None:
            self._users_by_key = drill.by_key(self.users, audience.log)
        rows = drill.first_rows(
            audience, users=self._users_by_key, tags=self.tags, limit=ROWS_SHOWN
        )
        more = len(audience) - len(rows)
        self.rows.value = table_html(rows) + (
            note_html(f"… and {more:,} more: export them below") if more > 0 else ""
        )
        self._show_profile(audience)

    def _show_profile(self, audience: Audience) -> None:
        table = drill.profile_table(audience, self.tags)
        if table is None:
            reason = "no tags given" if self.tags is None or not len(self.tags) else "no users"
            self.profile_box.children = (w.HTML(note_html(f"Profile: {reason}.")),)
            return
        if not len(table):
            self.profile_box.children = (w.HTML(note_html("Profile: no tag has enough users.")),)
            return
        chart = profile_chart(table, top=12, title=f"Who they are: {audience.name or ''}")
        if self.profile_widget is None:
            self.profile_widget = chart_widget(chart)
        else:
            redraw(self.profile_widget, chart)
        self.profile_box.children = (self.profile_widget,)

    # -- actions --------------------------------------------------------------------------------

    def save(self) -> Audience:
        """Save the audience shown as the segment named in the box."""
        audience = self._shown()
        saved = drill.save_segment(audience, self.segment_name.value, self.tags, self.segments)
        self.message.value = note_html(
            f"Saved {len(saved):,} users as segment {saved.name!r}"
            + (" (also a tag of the tag store)" if self.tags is not None else "")
        )
        return saved

    def export(self) -> Path:
        """Export the audience shown into the folder, in the format chosen."""
        audience = self._shown()
        name = self.segment_name.value.strip() or None
        path = drill.export(
            audience, self.folder.value, self.format.value, users=self.users, name=name
        )
        self.message.value = note_html(f"Wrote {len(audience):,} users to {path}")
        return path

    def _shown(self) -> Audience:
        if self.audience is None:
            raise AudienceError("nothing is selected: click a step's bar first")
        return self.audience

    def _report(self, action: Any) -> None:
        try:
            action()
        except (WorkbenchError, OSError) as error:
            self.message.value = error_html(str(error))
