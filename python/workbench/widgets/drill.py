"""From a step to the users behind it, and what an analyst does with them: how many, who they
are against the tags, the first of them with their attributes, saved as a segment or exported.

These are the plain functions the builders' panels call (and tests call without a browser).

>>> dropped = drill_down(result, 2, "dropped")
>>> dropped, drill_down(result, 2, "converted"), drill_down(result, 2, "in_progress")
(Audience 'dropped after cart'(1 of 6 users), Audience 'reached cart'(3 of 6 users), \
Audience 'in progress at cart'(1 of 6 users))
>>> first_rows(dropped, users=users)
   user_id gender  age  spend
0        3      F   40  300.0
>>> export(dropped, ".", "csv").name
'dropped-after-cart.csv'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from workbench.audience import Audience, TagStore, profile
from workbench.exceptions import ArgumentError, AudienceError
from workbench.funnel import FunnelResult
from workbench.log import EventLog, check_user_table

__all__ = [
    "EXPORT_FORMATS",
    "KINDS",
    "DrillKind",
    "ExportFormat",
    "by_key",
    "default_kind",
    "drill_down",
    "export",
    "first_rows",
    "kinds_at",
    "profile_table",
    "save_segment",
    "summary_line",
]

DrillKind = Literal["dropped", "converted", "in_progress"]
KINDS: dict[str, str] = {
    "dropped": "dropped off after",
    "converted": "reached",
    "in_progress": "still in progress at",
}
"""The drill-downs of a step, and how each reads before the step's name."""
ExportFormat = Literal["csv", "parquet", "bitmap"]
EXPORT_FORMATS: dict[str, str] = {"csv": ".csv", "parquet": ".parquet", "bitmap": ".roaring"}


def kinds_at(result: FunnelResult, step: int) -> list[DrillKind]:
    """The drill-downs ``step`` offers, in the panel's order: nobody drops off after the last
    step (in a one-step funnel too), so it has no ``"dropped"``.

    >>> kinds_at(result, 2), kinds_at(result, 3)
    (['dropped', 'converted', 'in_progress'], ['converted', 'in_progress'])
    """
    last = step == result.n_steps
    return [k for k in get_args(DrillKind) if not (k == "dropped" and last)]


def default_kind(result: FunnelResult, step: int) -> DrillKind:
    """What a click on ``step`` opens: who dropped off after it (at the last step, who
    converted).

    >>> default_kind(result, 2), default_kind(result, 3)
    ('dropped', 'converted')
    """
    return kinds_at(result, step)[0]


def drill_down(result: FunnelResult, step: int, kind: DrillKind = "dropped") -> Audience:
    """The users of ``step`` the step table counts: ``"dropped"`` (furthest step, window
    closed: its ``dropped``), ``"converted"`` (reached it: its ``users``) or ``"in_progress"``
    (furthest step so far, window open: its ``in_progress``).

    >>> drill_down(result, 3, "dropped")
    Traceback (most recent call last):
    ...
    workbench.exceptions.FunnelDefinitionError: nobody drops off after the last step (3): it is conversion; use converted()
    """  # noqa: E501
    if kind == "dropped":
        return result.dropped_after(step)
    if kind == "converted":
        return result.reached(step)
    if kind == "in_progress":
        return result.in_progress(step)
    raise ArgumentError(f"kind must be 'dropped', 'converted' or 'in_progress'; got {kind!r}")


def summary_line(audience: Audience) -> str:
    """The audience's size as a sentence.

    >>> summary_line(drill_down(result, 1, "dropped"))
    '1 user dropped after view (16.7% of the 6 users in the log)'
    """
    n, total = len(audience), audience.log.n_users
    share = f"{n / total:.1%}" if total else "—"
    who = audience.name or "in the audience"
    return f"{n:,} user{'' if n == 1 else 's'} {who} ({share} of the {total:,} users in the log)"


def first_rows(
    audience: Audience,
    *,
    users: pd.DataFrame | None = None,
    tags: TagStore | None = None,
    limit: int = 10,
) -> pd.DataFrame:
    """The first ``limit`` members (by key) with their attributes: the columns of ``users``
    when given (a table with a key column, or one indexed by the key as :func:`by_key` makes
    it, which a panel redrawn on every click looks up without checking it again), else the
    tags each carries.

    >>> first_rows(drill_down(result, 2, "converted"), tags=tags, limit=2)
       user_id                      tags
    0        1  gender:F, age:18-24, vip
    1        3    gender:F, age:35+, vip
    """
    column = audience.log.user_column
    if users is not None and users.index.name == column:
        keys = audience.keys(limit=limit).to_pandas()
        return users.reindex(pd.Index(keys, name=column)).reset_index()
    if users is not None:
        return audience.to_pandas(users, limit=limit)
    keys = audience.to_pandas(limit=limit)
    if tags is None or not len(keys) or not len(tags):
        return keys
    singles = [Audience.from_keys(audience.log, [k]) for k in keys[column]]
    member = tags.counts(singles)[:, :-1] > 0  # [tag, user]
    names = np.asarray(tags.names, dtype=object)
    keys["tags"] = [", ".join(names[member[:, i]]) for i in range(len(singles))]
    return keys


def by_key(users: pd.DataFrame, log: EventLog) -> pd.DataFrame:
    """A user-attribute table indexed by the log's user key, checked once (a key column, each
    user once), for :func:`first_rows`.

    >>> first_rows(drill_down(result, 2, "dropped"), users=by_key(users, log))
       user_id gender  age  spend
    0        3      F   40  300.0
    """
    if not isinstance(users, pd.DataFrame):
        raise ArgumentError(f"users= takes a pandas DataFrame of users; got {type(users).__name__}")
    check_user_table(users, log.user_column)
    return users.set_index(log.user_column)


def profile_table(audience: Audience, tags: TagStore | None) -> pd.DataFrame | None:
    """The audience's profile against ``tags`` (None without tags or members)."""
    if tags is None or not len(tags) or len(audience) == 0:
        return None
    return profile(audience, tags)


def _slug(name: str) -> str:
    slug = re.sub(r"[^\w]+", "-", name.lower(), flags=re.UNICODE).strip("-")
    return slug or "audience"


def export(
    audience: Audience,
    folder: str | os.PathLike[str],
    format: ExportFormat = "csv",
    *,
    users: pd.DataFrame | None = None,
    name: str | None = None,
) -> Path:
    """Write the audience into ``folder`` (made if missing) as ``<name>.csv`` / ``.parquet``
    (keys, and the columns of ``users`` when given) or ``.roaring`` (a portable Roaring bitmap
    of the integer user keys); returns the file written.

    >>> export(drill_down(result, 2, "converted"), "out", "bitmap").as_posix()
    'out/reached-cart.roaring'
    """
    if format not in EXPORT_FORMATS:
        raise ArgumentError(
            f"format must be one of {', '.join(map(repr, EXPORT_FORMATS))}; got {format!r}"
        )
    target_folder = Path(os.path.expanduser(os.fspath(folder))) if str(folder) else Path.cwd()
    if target_folder.exists() and not target_folder.is_dir():
        raise ArgumentError(f"{str(target_folder)!r} is a file, not a folder to export into")
    target_folder.mkdir(parents=True, exist_ok=True)
    path = target_folder / f"{_slug(name or audience.name or 'audience')}{EXPORT_FORMATS[format]}"
    if format == "csv":
        audience.to_csv(path, users)
    elif format == "parquet":
        audience.to_parquet(path, users)
    else:
        path.write_bytes(audience.to_bytes())
    return path


def save_segment(
    audience: Audience, name: str, tags: TagStore | None, segments: dict[str, Audience]
) -> Audience:
    """Keep ``audience`` as the segment ``name``: in ``segments`` and, when given, as a tag of
    ``tags`` (so it can be profiled, selected and compared like any tag).

    >>> kept = {}
    >>> save_segment(drill_down(result, 2, "dropped"), "cart leavers", tags, kept)
    Audience 'cart leavers'(1 of 6 users)
    >>> len(tags["cart leavers"]), list(kept)
    (1, ['cart leavers'])
    """
    name = str(name).strip()
    if not name:
        raise AudienceError("a segment needs a name")
    if tags is not None and name in tags:
        raise AudienceError(f"the tag store already has a tag {name!r}; choose another name")
    named = audience.named(name)
    if tags is not None:
        tags.add(name, named)
    segments[name] = named
    return named
