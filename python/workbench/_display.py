"""Pictures beside tables in a notebook, drawn by a layer the tables do not know.

A funnel result shows its table; the picture of it is drawn by :mod:`workbench.charts`, which
sits above the results and needs Altair. The package root wires the two: it names, for each kind
of object, the function that draws it as a dotted path that is imported only when a picture is
asked for. So ``import workbench`` loads no chart library, and without one a result still shows
its table.

>>> register("example", "html:escape")
>>> picture("example", "<b>")
'&lt;b&gt;'
>>> picture("unknown kind", 1) is None
True
"""

from __future__ import annotations

import html
import importlib
from typing import Any

__all__ = ["picture", "register"]

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
