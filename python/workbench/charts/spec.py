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
from typing import Any, ParamSpec, TypeVar

import altair as alt
import numpy as np
import pandas as pd
from altair.utils import schemapi

__all__ = ["field", "inline", "unchecked"]

P = ParamSpec("P")
R = TypeVar("R")


def unchecked(build: Callable[P, R]) -> Callable[P, R]:
    """``build`` with Altair's per-object schema check off while it runs."""

    @functools.wraps(build)
    def built(*args: P.args, **kwargs: P.kwargs) -> R:
        with schemapi.debug_mode(False):
            return build(*args, **kwargs)

    return built


def inline(frame: pd.DataFrame) -> alt.InlineData:
    """A small table as the rows a chart carries. Altair would check and convert a DataFrame
    column by column on every redraw; these tables are made here of text, numbers and flags
    only, so they go as plain records (a missing number as null, as Vega reads it).

    >>> inline(pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", "y"]})).values
    [{'a': 1.5, 'b': 'x'}, {'a': None, 'b': 'y'}]
    """
    rows: list[dict[str, Any]] = [
        {
            str(key): None if isinstance(value, float) and not np.isfinite(value) else value
            for key, value in row.items()
        }
        for row in frame.to_dict("records")
    ]
    return alt.InlineData(values=rows)


_TYPES = {"N": "nominal", "Q": "quantitative", "T": "temporal", "O": "ordinal"}


def field(channel: Callable[..., R], shorthand: str, **options: Any) -> R:
    """``channel("name:N", ...)`` with the field and type given apart, which spares Altair
    parsing the shorthand on every redraw.

    >>> field(alt.X, "name:N", title="step").to_dict()
    {'field': 'name', 'title': 'step', 'type': 'nominal'}
    """
    name, _, kind = shorthand.partition(":")
    return channel(field=name, type=_TYPES[kind], **options)
