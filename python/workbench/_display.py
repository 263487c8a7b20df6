"""How results show in a notebook: numbers as people read them, tables rounded and labelled,
and pictures beside tables drawn by a layer the tables do not know.

Numbers: :func:`count` (``12,345``), :func:`percent` (``45.7%``), :func:`interval`
(``20.0–35.0%``), :func:`p_value` (``< 0.001``), and :data:`NONE` for a value there is not.

Tables: :func:`shown` wraps a result table (a profile, a comparison) so a notebook displays it
rounded and labelled while code keeps the exact values (:func:`shown_blocks` builds one from
its column blocks); a slice or a computation of it is a plain DataFrame again.

Pictures: a funnel result shows its table; the picture of it is drawn by
:mod:`workbench.charts`, which sits above the results and needs Altair. The package root wires
the two: it names, for each kind of object, the function that draws it as a dotted path that
is imported only when a picture is asked for. So ``import workbench`` loads no chart library,
and without one a result still shows its table.

>>> count(12345), percent(0.4567), interval(0.2, 0.35), p_value(0.00001)
('12,345', '45.7%', '20.0–35.0%', '< 0.001')

>>> register("example", "html:escape")
>>> picture("example", "<b>")
'&lt;b&gt;'
>>> picture("unknown kind", 1) is None
True
"""

from __future__ import annotations

import html
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks  # type: ignore[import-not-found]

__all__ = [
    "NONE",
    "ShownTable",
    "count",
    "interval",
    "p_value",
    "percent",
    "picture",
    "register",
    "shown",
    "shown_blocks",
    "written",
    "yes",
]

NONE = "—"
"""What a cell shows when there is no value (a rate without a denominator, a time nobody took)."""


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def count(value: Any) -> str:
    """A count with thousands separators.

    >>> count(1234567)
    '1,234,567'
    """
    return NONE if _missing(value) else f"{int(value):,}"


def percent(value: Any, digits: int = 1) -> str:
    """A share as a percentage.

    >>> percent(1.0), percent(float("nan"))
    ('100.0%', '—')
    """
    return NONE if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def interval(low: Any, high: Any, digits: int = 1) -> str:
    """A confidence interval of a share, as a range of percentages.

    >>> interval(0.1234, 0.5)
    '12.3–50.0%'
    """
    if _missing(low) or _missing(high):
        return NONE
    return f"{float(low) * 100:.{digits}f}–{float(high) * 100:.{digits}f}%"


def p_value(value: Any) -> str:
    """A p-value to three places, or ``< 0.001``.

    >>> p_value(0.0312), p_value(1e-9)
    ('0.031', '< 0.001')
    """
    if _missing(value):
        return NONE
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


Column = tuple[str, Callable[[pd.DataFrame], Sequence[str]]]
"""A column of a displayed table: its label and how to write it from the table's rows."""


class ShownTable(pd.DataFrame):
    """A result table that a notebook shows rounded and labelled; its values stay exact for
    code, and a slice or a computation of it is a plain DataFrame."""

    _metadata: ClassVar[list[str]] = ["columns_shown"]
    columns_shown: tuple[Column, ...]

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def readable(self) -> pd.DataFrame:
        """The table as it displays: one labelled text column per :data:`Column`."""
        frame = pd.DataFrame(self)
        return pd.DataFrame(
            {label: list(write(frame)) for label, write in self.columns_shown}, index=frame.index
        )

    def __repr__(self) -> str:
        return self.readable().to_string(index=False)

    def _repr_html_(self) -> str:
        return self.readable().to_html(index=False, border=0)


def written(name: str, write: Callable[[Any], str] = str) -> Callable[[pd.DataFrame], list[str]]:
    """A writer of one column: each of its values through ``write``.

    >>> written("n", count)(pd.DataFrame({"n": [1200, 3]}))
    ['1,200', '3']
    """
    return lambda frame: [write(value) for value in frame[name]]


def yes(value: Any) -> str:
    """A flag as a table cell: ``yes`` or nothing."""
    return "yes" if bool(value) else ""


def shown(table: pd.DataFrame | Mapping[str, Any], columns: Sequence[Column]) -> ShownTable:
    """``table`` (a frame, or its columns by name) displayed with ``columns``: labels and
    writers of the readable columns. The values are not copied.

    >>> columns = [("users", written("n", count)), ("share", written("p", percent))]
    >>> t = shown(pd.DataFrame({"n": [1200], "p": [0.25]}), columns)
    >>> t
    users share
    1,200 25.0%
    >>> float(t["p"].iloc[0])
    0.25
    """
    out = ShownTable(table, copy=False)
    out.columns_shown = tuple(columns)
    return out


def shown_blocks(
    blocks: Sequence[tuple[Any, np.ndarray]],
    index: pd.Index,
    columns: pd.Index,
    shown_columns: Sequence[Column],
) -> ShownTable:
    """A :func:`shown` table built straight from its blocks (each values and the positions of
    its columns, as ``pandas.api.internals.create_dataframe_from_blocks`` takes them): no copy,
    no inference column by column.

    >>> blocks = [(np.array([[1200]]), np.array([0])), (np.array([[0.25]]), np.array([1]))]
    >>> columns = [("users", written("n", count)), ("share", written("p", percent))]
    >>> shown_blocks(blocks, pd.RangeIndex(1), pd.Index(["n", "p"]), columns)
    users share
    1,200 25.0%
    """
    frame = create_dataframe_from_blocks(blocks, index=index, columns=columns)
    # The frame is new and nobody else holds it, so it becomes the table in place: wrapping
    # it (shown) would rebuild its blocks, a tenth of a profile of a million users.
    frame.__class__ = ShownTable
    frame.columns_shown = tuple(shown_columns)
    return cast(ShownTable, frame)


_DRAWERS: dict[str, str] = {}


def register(kind: str, drawer: str) -> None:
    """Draw objects of ``kind`` with ``drawer``, a ``"module:function"`` path taking the object
    and returning HTML."""
    _DRAWERS[kind] = drawer


def picture(kind: str, obj: Any) -> str | None:
    """The HTML picture of ``obj``, or None when nothing draws ``kind`` or its drawing library
    is not installed. Any other failure is shown as a short note in place of the picture: a
    display must never hide the table it accompanies."""
    drawer = _DRAWERS.get(kind)
    if drawer is None:
        return None
    module, _, name = drawer.partition(":")
    try:
        draw = getattr(importlib.import_module(module), name)
    except ImportError:
        return None
    try:
        return str(draw(obj))
    except Exception as error:  # a repr that raised would show neither picture nor table
        return (
            "<p style='color:#868e96'>(no chart: "
            f"{html.escape(type(error).__name__)}: {html.escape(str(error))})</p>"
        )
