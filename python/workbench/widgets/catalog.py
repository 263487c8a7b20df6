"""What a builder offers to pick from: the log's events with their counts and display names,
searchable; each event's properties; the values a property takes, to suggest in a filter; and
the reading of a typed value as the property's type.

Everything is read from the log once and kept: a builder asks the same questions on every
click.

>>> catalog = EventCatalog(log, plan)
>>> catalog.option("cart")
'Add to cart · cart · 4 events'
>>> catalog.search("pro")
['view']
>>> catalog.values("view", "platform")
['ios', 'web', 'android']
>>> catalog.parse_value("price", "12.5")
12.5
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench._arrow import decoded, decoded_type
from workbench._names import did_you_mean, listing
from workbench.exceptions import ArgumentError, ColumnNotFoundError, FunnelDefinitionError
from workbench.log import EventLog
from workbench.plan import TrackingPlan

__all__ = ["EventCatalog"]

VALUE_SUGGESTIONS = 20
"""How many of a property's most frequent values a filter suggests."""


class EventCatalog:
    """The events, properties and values of ``log``, named as ``plan`` names them.

    Args:
        log: the event log a builder works on.
        plan: a tracking plan whose display names label the events (optional).
        language: the plan's language for display names (default: its first).
    """

    def __init__(
        self, log: EventLog, plan: TrackingPlan | None = None, language: str | None = None
    ) -> None:
        if not isinstance(log, EventLog):
            raise ArgumentError(f"a builder works on a wb.EventLog; got {type(log).__name__}")
        if plan is not None and not isinstance(plan, TrackingPlan):
            raise ArgumentError(f"plan= takes a wb.TrackingPlan; got {type(plan).__name__}")
        self.log = log
        self.plan = plan
        counts = log.event_counts
        self.counts: dict[str, int] = {str(k): int(v) for k, v in counts.items()}
        self.display_names: dict[str, str] = (
            {k: v for k, v in plan.display_names(language).items() if v and v != k}
            if plan is not None
            else {}
        )
        self._events = decoded(log.source.column(log.event_column))
        self._rows = cache(self._event_rows)
        self._values = cache(self._top_values)

    # -- events ---------------------------------------------------------------------------------

    @property
    def events(self) -> list[str]:
        """Event names, most frequent first."""
        return list(self.counts)

    def label(self, event: str) -> str:
        """The display name of ``event`` (its name without one)."""
        return self.display_names.get(event, event)

    def option(self, event: str) -> str:
        """How ``event`` reads in a list: display name, name and count."""
        n = self.counts.get(event, 0)
        shown = self.display_names.get(event)
        head = f"{shown} · {event}" if shown else event
        return f"{head} · {n:,} event{'' if n == 1 else 's'}"

    def search(self, text: str = "") -> list[str]:
        """Events whose name or display name contains ``text`` (any case), most frequent first.

        >>> EventCatalog(log).search("A")
        ['cart', 'pay', 'search']
        """
        needle = str(text).strip().lower()
        return [e for e in self.events if needle in e.lower() or needle in self.label(e).lower()]

    def check_event(self, event: str, what: str = "event") -> str:
        """``event`` when the log has it; else an error naming the closest events."""
        if event not in self.counts:
            raise FunnelDefinitionError(
                f"{what} {event!r} is not in the log;{did_you_mean(str(event), self.events)} "
                f"the events are {listing(self.events)}"
            )
        return event

    # -- properties and values ------------------------------------------------------------------

    @property
    def properties(self) -> list[str]:
        """The log's properties (columns other than user, event, time and session)."""
        return self.log.property_names

    def _event_rows(self, event: str | None) -> pa.Array | None:
        if event is None:
            return None
        return pc.equal(self._events, pa.scalar(event, decoded_type(self._events.type)))

    def properties_of(self, event: str | None) -> list[str]:
        """The properties ``event`` carries (a value on at least one of its rows).

        >>> EventCatalog(log).properties_of("view")
        ['platform', 'price']
        """
        rows = self._rows(event)
        out = []
        for name in self.properties:
            column = self.log.property_column(name)
            present = column.is_valid() if rows is None else pc.and_(rows, column.is_valid())
            if pc.any(present).as_py():
                out.append(name)
        return out

    def column_kind(self, column: str) -> str:
        """``"number"``, ``"bool"``, ``"time"`` or ``"text"``: how a typed value is read."""
        if column not in self.log.source.column_names:
            raise ColumnNotFoundError(
                f"{column!r} is not a property of the log;{did_you_mean(column, self.properties)}"
                f" the properties are {listing(self.properties)}"
            )
        kind = decoded_type(self.log.source.schema.field(column).type)
        if pa.types.is_boolean(kind):
            return "bool"
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            return "number"
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return "time"
        return "text"

    def _top_values(self, event: str | None, column: str) -> tuple[Any, ...]:
        values = decoded(self.log.property_column(column))
        rows = self._rows(event)
        if rows is not None:
            values = values.filter(rows)
        if pa.types.is_nested(values.type):
            return ()
        counted = pc.value_counts(values.drop_null())
        if not len(counted):
            return ()
        frame = pd.DataFrame(
            {
                "value": counted.field("values").to_pylist(),
                "n": counted.field("counts").to_numpy(),
            }
        )
        order = np.argsort(-frame["n"].to_numpy(), kind="stable")[:VALUE_SUGGESTIONS]
        return tuple(frame["value"].iloc[order])

    def values(self, event: str | None, column: str) -> list[Any]:
        """The most frequent values of ``column`` on ``event``'s rows (all rows for None)."""
        self.column_kind(column)
        return list(self._values(event, column))

    def parse_value(self, column: str, text: Any) -> Any:
        """A value typed in a filter box, read as ``column``'s type (numbers as numbers, ``true``
        and ``false`` for flags, text as it is).

        >>> EventCatalog(log).parse_value("price", "ten")
        Traceback (most recent call last):
        ...
        workbench.exceptions.FunnelDefinitionError: 'price' holds numbers; 'ten' is not a number
        """
        if not isinstance(text, str):
            return text
        kind = self.column_kind(column)
        value = text.strip()
        if kind == "number":
            try:
                number = float(value)
            except ValueError:
                raise FunnelDefinitionError(
                    f"{column!r} holds numbers; {value!r} is not a number"
                ) from None
            return int(number) if number.is_integer() and "." not in value else number
        if kind == "bool":
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise FunnelDefinitionError(
                    f"{column!r} holds true/false; write true or false, not {value!r}"
                )
            return lowered == "true"
        return text
