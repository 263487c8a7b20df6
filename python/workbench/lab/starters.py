"""Starter notebooks for the demo datasets in the gallery.

A dataset entry in the gallery cannot hand the user a file to open (the demo data is generated,
not stored), so it writes a short notebook of the user's own that loads the data, shows its
tables, runs a first funnel and saves the tables as Parquet plus the tracking plan as YAML, for
use in DuckDB, Polars or Spark. The notebook is built here as text; this module imports nothing
from the analysis layers, and the test suite runs every starter in a kernel.

Example:
    >>> import json
    >>> notebook = json.loads(ECOMMERCE.notebook())
    >>> notebook["metadata"]["workbench"]["dataset"]
    'ecommerce'
    >>> [cell["cell_type"] for cell in notebook["cells"]][:2]
    ['markdown', 'code']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final


def _cell(kind: str, number: int, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": f"starter-{number}",
        "metadata": {},
        "source": source.strip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


@dataclass(frozen=True)
class Starter:
    """A demo dataset as the gallery offers it: its entry, and the notebook opening it writes.

    Attributes:
        id: the gallery id, ``datasets/<name>``.
        title, summary: what the gallery shows.
        filename: the notebook's name in the working folder's ``datasets/``.
        cells: ``(kind, source)`` pairs, ``kind`` being ``"markdown"`` or ``"code"``.
    """

    id: str
    title: str
    summary: str
    filename: str
    cells: tuple[tuple[str, str], ...]

    @property
    def folder(self) -> str:
        """The folder of the working folder the starter goes to (``datasets``)."""
        return self.id.split("/", 1)[0]

    def to_json(self) -> dict[str, str]:
        """The gallery's entry for this dataset."""
        return {"id": self.id, "title": self.title, "summary": self.summary}

    def notebook(self) -> bytes:
        """The starter notebook (nbformat 4.5, no outputs), as the bytes of its file."""
        notebook = {
            "cells": [_cell(kind, n, source) for n, (kind, source) in enumerate(self.cells)],
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "name": "python3",
                },
                "language_info": {"name": "python"},
                "workbench": {"dataset": self.id.split("/", 1)[1]},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


ECOMMERCE: Final = Starter(
    id="datasets/ecommerce",
    title="Demo shop (e-commerce)",
    summary="A seeded shop: 20,000 users, 60 days of events, a user table and a tracking plan. "
    "Opens a starter notebook.",
    filename="ecommerce.ipynb",
    cells=(
        (
            "markdown",
            """
# The demo shop

A seeded e-commerce event log that runs offline: web, iOS and Android users arriving from several
campaigns, browsing, filling carts, ordering and paying, over 60 days. The same arguments always
give the same data, so every number here is the one your colleagues see too. Some real-looking
problems are hidden in it; the guides and case studies in the gallery show how to find them.

This notebook is your own copy in the working folder: change it, run it, save it.
""",
        ),
        (
            "code",
            """
import workbench as wb

demo = wb.datasets.ecommerce()  # seeded: wb.datasets.ecommerce(n_users=..., seed=...) for others
log = demo.log()
log
""",
        ),
        (
            "markdown",
            """
## The tables

`demo.events` has one row per event (an Arrow table: user, event, time, session and the event's
properties); `demo.users` one row per user with attributes to profile audiences by.
""",
        ),
        ("code", "demo.events.slice(0, 5).to_pandas()"),
        ("code", "demo.users.head()"),
        (
            "markdown",
            """
## A first funnel

From viewing a product to paying, each step within a day of the previous one.
""",
        ),
        (
            "code",
            """
funnel = wb.Funnel(["product_detail", "add_to_cart", "place_order", "pay_success"], window="1d")
result = funnel.run(log)
result.table
""",
        ),
        (
            "markdown",
            """
## Take the data to other tools

The tables as Parquet and the shipped tracking plan as YAML, in `demo-data/` next to this
notebook: for DuckDB, Polars, Spark, or `wb.EventLog.from_parquet`.
""",
        ),
        (
            "code",
            """
import shutil
from pathlib import Path

import pyarrow.parquet as pq

out = Path("demo-data")
out.mkdir(exist_ok=True)
pq.write_table(demo.events, out / "events.parquet")
demo.users.to_parquet(out / "users.parquet", index=False)
shutil.copyfile(wb.datasets.plan_path(), out / "tracking-plan.yaml")
sorted(p.name for p in out.iterdir())
""",
        ),
    ),
)

#: Every demo dataset the gallery offers, in the order it shows them.
STARTERS: Final = (ECOMMERCE,)
