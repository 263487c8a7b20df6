"""Funnels: ordered steps within a window, run over an :class:`~workbench.EventLog`.

One event's path through this package, from a notebook cell to a chart:

- :mod:`~workbench.funnel.definition` — :class:`Step`, :class:`Exclusion`, :class:`Funnel`:
  what a funnel is, validated when built, saved as YAML/JSON;
- :mod:`~workbench.funnel.engine` — the native engine: definition and log in, outcomes out;
- :mod:`~workbench.funnel.outcomes` — :class:`FunnelOutcomes`, the per-unit contract every
  engine returns (native now, Spark too);
- :mod:`~workbench.funnel.result` — :class:`FunnelResult`: the step table, breakdowns and the
  drill-downs to audiences, all read from the outcomes; :mod:`~workbench.funnel.tables`,
  :mod:`~workbench.funnel.breakdown`, :mod:`~workbench.funnel.trends` and
  :mod:`~workbench.funnel.compare` are its parts.

What every option means is written down in ``docs/funnel-semantics.md``: without product options
a funnel is ClickHouse's ``windowFunnel``, exactly, with its modes.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({
...     "user_id": [1, 1, 1, 2, 2, 3],
...     "event": ["view", "cart", "pay", "view", "cart", "view"],
...     "time": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:05", "2026-01-01 11:00",
...                             "2026-01-01 09:00", "2026-01-03 09:00", "2026-01-02 08:00"]),
... })
>>> first = wb.Funnel(["view", "cart", "pay"], window="1d").run(wb.EventLog(df))
>>> first.level_counts()
[0, 2, 0, 1]
>>> first.table[["step", "users", "conversion_from_first"]]
   step  users  conversion_from_first
0     1      3               1.000000
1     2      1               0.333333
2     3      1               0.333333
"""

from workbench.funnel.definition import CLICKHOUSE_MODES, Exclusion, Funnel, Step
from workbench.funnel.engine import MAX_STEPS
from workbench.funnel.outcomes import FunnelOutcomes, StepReach
from workbench.funnel.result import FunnelResult
from workbench.funnel.trends import PERIODS, conversion_trends

__all__ = [
    "CLICKHOUSE_MODES",
    "MAX_STEPS",
    "PERIODS",
    "Exclusion",
    "Funnel",
    "FunnelOutcomes",
    "FunnelResult",
    "Step",
    "StepReach",
    "conversion_trends",
]
