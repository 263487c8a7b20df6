"""Charts built without re-checking every part against the Vega-Lite schema as it is made.

Altair checks each object against the schema when it is created (its "debug mode"), which
costs more than building a funnel chart's data: a builder redraws on every click. The charts
here are checked whole when they are shown or saved (``chart.to_dict()``, as the tests do), so
they are built with the per-part check off.

>>> import altair as alt
>>> unchecked(lambda: alt.Chart().mark_bar())().mark
'bar'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from altair.utils import schemapi

__all__ = ["unchecked"]

P = ParamSpec("P")
R = TypeVar("R")


def unchecked(build: Callable[P, R]) -> Callable[P, R]:
    """``build`` with Altair's per-object schema check off while it runs."""

    @functools.wraps(build)
    def built(*args: P.args, **kwargs: P.kwargs) -> R:
        with schemapi.debug_mode(False):
            return build(*args, **kwargs)

    return built
