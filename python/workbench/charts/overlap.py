"""How audiences overlap: a heatmap of the users every pair shares (sizes on the diagonal), or
of the shares when normalised.

>>> chart = overlap([result.entered(), tags["vip"], tags["gender:M"]])
>>> spec = chart.to_dict()
>>> len(spec["datasets"][spec["data"]["name"]])
9
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import altair as alt
import numpy as np
import pandas as pd

from workbench.audience import Audience
from workbench.audience import overlap as overlap_table
from workbench.charts import labels as fmt
from workbench.charts import theme
from workbench.charts.spec import unchecked
from workbench.exceptions import ArgumentError

__all__ = ["overlap"]


@unchecked
def overlap(
    audiences: Sequence[Audience] | pd.DataFrame,
    *,
    names: Sequence[str] | None = None,
    normalize: Literal["row", "jaccard"] | None = None,
) -> alt.LayerChart:
    """A heatmap of ``wb.overlap(audiences, names, normalize=...)`` (or of such a table given
    as it is): users in both of every pair, or with ``normalize="row"`` the share of the row's
    audience also in the column's, with ``"jaccard"`` |A & B| / |A | B|.

    >>> overlap([result.entered(), tags["vip"]], normalize="jaccard").to_dict()["layer"][1][
    ...     "mark"]["type"]
    'text'
    """
    if isinstance(audiences, pd.DataFrame):
        table = audiences
        if table.shape[0] != table.shape[1]:
            raise ArgumentError(
                f"an overlap table is square (one row and column per audience); got "
                f"{table.shape[0]} rows and {table.shape[1]} columns"
            )
        shares = normalize is not None or not np.issubdtype(
            np.asarray(table.to_numpy()).dtype, np.integer
        )
    else:
        table = overlap_table(list(audiences), names, normalize=normalize)
        shares = normalize is not None
    rows = [str(r) for r in table.index]
    columns = [str(c) for c in table.columns]
    values = np.asarray(table.to_numpy(), dtype=float)
    frame = pd.DataFrame(
        {
            "row": np.repeat(rows, len(columns)),
            "column": np.tile(columns, len(rows)),
            "value": values.ravel(),
        }
    )
    frame["text"] = [fmt.percent(v, 0) if shares else fmt.count(v) for v in frame["value"]]
    top = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 1.0
    frame["dark"] = frame["value"] > top * 0.55
    what = {None: "users in both", "row": "share of the row also in the column"}.get(
        normalize, "Jaccard index"
    )
    encode_xy = {
        "x": alt.X("column:N", sort=columns, axis=alt.Axis(title=None, labelAngle=-30)),
        "y": alt.Y("row:N", sort=rows, axis=alt.Axis(title=None)),
    }
    base = alt.Chart(frame)
    cells = base.mark_rect(stroke=theme.BACKGROUND, strokeWidth=2).encode(
        **encode_xy,
        color=alt.Color(
            "value:Q",
            scale=alt.Scale(scheme="blues", domainMin=0),
            legend=alt.Legend(
                title=what, format=".0%" if shares else ",d", orient="right", direction="vertical"
            ),
        ),
        tooltip=[
            alt.Tooltip("row:N", title="audience"),
            alt.Tooltip("column:N", title="and"),
            alt.Tooltip("text:N", title=what),
        ],
    )
    texts = base.mark_text(fontSize=12).encode(
        **encode_xy,
        text="text:N",
        color=alt.when(alt.datum.dark)
        .then(alt.value(theme.BACKGROUND))
        .otherwise(alt.value(theme.TEXT)),
    )
    side = alt.Step(max(44, min(90, 480 // max(len(columns), 1))))
    return alt.LayerChart(layer=[cells, texts], title=f"Audience overlap: {what}").properties(
        width=side, height=side
    )
