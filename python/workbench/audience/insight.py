"""Who is in an audience: profile against tags (TGI, lift), compare two audiences (odds ratio
over tags and events), and the overlap of several. The counting is one parallel native call;
a profile's statistics and ranking come with its counts, the others' are vectorized arithmetic
on the counts (:mod:`workbench.stats`).

>>> profile(result.entered(), tags)[["tag", "count", "tgi"]].round(1)
         tag  count    tgi
0   gender:F      4  120.0
1  age:18-24      2  120.0
2    age:35+      2  120.0
3        vip      2  120.0
4   gender:M      1   60.0
5  age:25-34      1   60.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench._display import NONE, count, p_value, percent, shown, shown_blocks, written, yes
from workbench.audience.set import Audience, ensure_audience, event_user_counts, overlap_counts
from workbench.exceptions import AudienceError
from workbench.stats import confidence_z, two_sided_p

if TYPE_CHECKING:
    from workbench.audience.tags import TagStore
    from workbench.log import EventLog

__all__ = ["compare", "overlap", "profile"]

# PostHog's correlation analysis marks a feature insignificant when fewer users than
# min(25, 2% of everyone compared) carry it.
MIN_PERSON_COUNT = 25
MIN_PERSON_PERCENTAGE = 0.02


def _ratio(value: float) -> str:
    return NONE if pd.isna(value) else f"{value:.2f}"


def _lifts(f: pd.DataFrame) -> list[str]:
    return [
        f"{_ratio(v)} ({_ratio(lo)}–{_ratio(hi)})"
        for v, lo, hi in zip(f["lift"], f["lift_low"], f["lift_high"], strict=True)
    ]


def _with_share(who: str) -> Callable[[pd.DataFrame], list[str]]:
    return lambda f: [
        f"{count(n)} ({percent(share)})"
        for n, share in zip(f[f"{who}_count"], f[f"{who}_share"], strict=True)
    ]


# A profile's columns, and where each block of profile_rows goes among them.
_PROFILE_COLUMNS = pd.Index(
    [
        "tag",
        "count",
        "audience_share",
        "base_count",
        "base_share",
        "tgi",
        "lift",
        "lift_low",
        "lift_high",
        "p_value",
    ]
)
_TAG_AT = np.array([0])
_INT_AT = np.array([1, 3])
_FLOAT_AT = np.array([2, 4, 5, 6, 7, 8, 9])

# How the tables display in a notebook (the values stay exact for code).
_PROFILE_SHOWN = (
    ("tag", written("tag")),
    ("users", written("count", count)),
    ("share", written("audience_share", percent)),
    ("share of base", written("base_share", percent)),
    ("TGI", written("tgi", lambda v: NONE if pd.isna(v) else f"{v:.0f}")),
    ("lift (95% CI)", _lifts),
    ("p", written("p_value", p_value)),
)
_COMPARE_SHOWN = (
    ("feature", written("feature")),
    ("kind", written("kind")),
    ("in a", _with_share("a")),
    ("in b", _with_share("b")),
    ("odds ratio", written("odds_ratio", _ratio)),
    ("leans to", written("correlation")),
    ("p", written("p_value", p_value)),
    ("significant", written("significant", yes)),
)


def _log_of(audience: object, what: str) -> EventLog:
    if not isinstance(audience, Audience):
        raise AudienceError(f"{what} must be a wb.Audience; got {type(audience).__name__}")
    return audience.log


def _check_store(store: object) -> None:
    # TagStore sits beside this module in the layers: check for what profile reads (on the
    # class, so that checking does not read every tag name).
    kind = type(store)
    if not all(hasattr(kind, name) for name in ("counts", "names", "profile_rows")) or not hasattr(
        store, "log"
    ):
        raise AudienceError(f"store must be a wb.TagStore; got {type(store).__name__}")


def _support_threshold(min_support: float, size: int) -> float:
    if isinstance(min_support, bool) or not isinstance(min_support, (int, float)):
        raise AudienceError(
            f"min_support is a share of the users (below 1) or a count of them; got {min_support!r}"
        )
    if min_support < 0:
        raise AudienceError(f"min_support cannot be negative; got {min_support}")
    return min_support * size if min_support < 1 else min_support


def profile(
    audience: Audience,
    store: TagStore,
    *,
    min_support: float = 0.01,
    base: Audience | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """How over-represented every tag is in ``audience`` compared with ``base`` (default:
    every user of the log), ranked by TGI.

    Columns: ``tag``, ``count`` (audience users with the tag), ``audience_share``,
    ``base_count``, ``base_share``, ``tgi`` (= audience_share / base_share x 100),
    ``lift`` (= tgi / 100) with ``lift_low``/``lift_high`` (delta-method interval on log
    lift, audience vs the rest of the base), and ``p_value`` (two-proportion z test, audience
    vs the rest). ``min_support`` below 1 is a share of the audience, from 1 a user count.

    >>> profile(result.entered(), tags, min_support=2)[["tag", "count", "base_count", "tgi"]]
             tag  count  base_count    tgi
    0   gender:F      4           4  120.0
    1  age:18-24      2           2  120.0
    2    age:35+      2           2  120.0
    3        vip      2           2  120.0
    """
    _check_store(store)
    ensure_audience(audience, store.log, "audience")
    if base is not None:
        ensure_audience(base, store.log, "base")
    aud = audience if base is None else audience & base
    n1 = len(aud)
    if n1 == 0:
        raise AudienceError(
            "the audience is empty (within the base); shares need at least one user"
        )
    # Counting, support, statistics and ranking are one native pass: a profile is a few
    # hundred rows, so two dozen small array operations here would cost more than counting.
    names, ints, floats = store.profile_rows(
        aud, base, confidence_z(confidence), _support_threshold(min_support, n1)
    )
    return shown_blocks(
        [(names, _TAG_AT), (ints, _INT_AT), (floats, _FLOAT_AT)],
        pd.RangeIndex(len(names)),
        _PROFILE_COLUMNS,
        _PROFILE_SHOWN,
    )


def compare(
    a: Audience,
    b: Audience,
    store: TagStore | None = None,
    *,
    events: bool = True,
    min_support: float = 0.0,
) -> pd.DataFrame:
    """Which tags and events set ``a`` apart from ``b`` (say converted vs dropped), with
    PostHog's correlation odds ratio:
    ``((a_with + 1)(b_without + 1)) / ((a_without + 1)(b_with + 1))``.
    ``correlation`` is ``"a"`` when the feature leans to ``a`` (odds ratio > 1), else ``"b"``;
    ``significant`` needs PostHog's support rule (at least min(25, 2% of a+b) users with it)
    and ``p_value`` < 0.05 (z test on the log odds ratio). Ranked by how far from 1.

    >>> compare(result.converted(), result.entered() - result.converted(), tags).head(3)[
    ...     ["feature", "kind", "a_count", "b_count", "odds_ratio", "correlation"]]
         feature   kind  a_count  b_count  odds_ratio correlation
    0        pay  event        1        0        10.0           a
    1  age:18-24    tag        1        1         4.0           a
    2        vip    tag        1        1         4.0           a
    """
    ensure_audience(b, _log_of(a, "a"), "b")
    if not isinstance(events, bool):
        raise AudienceError(f"events= is True or False; got {events!r}")
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        raise AudienceError(
            f"both audiences need users to compare (sizes {na} and {nb}); "
            "a share needs a denominator"
        )
    frames = []
    if store is not None:
        _check_store(store)
        c = store.counts([a, b])
        frames.append(
            pd.DataFrame(
                {"feature": store.names, "kind": "tag", "a_count": c[:, 0], "b_count": c[:, 1]}
            )
        )
    if events:
        c = event_user_counts([a, b])
        frames.append(
            pd.DataFrame(
                {
                    "feature": a.log.event_names,
                    "kind": "event",
                    "a_count": c[:, 0],
                    "b_count": c[:, 1],
                }
            )
        )
    if not frames:
        raise AudienceError("nothing to compare: pass a tag store or events=True")
    t = pd.concat(frames, ignore_index=True)
    t["a_count"] = t["a_count"].astype("int64")
    t["b_count"] = t["b_count"].astype("int64")
    sa, sb = t["a_count"].to_numpy(float), t["b_count"].to_numpy(float)
    t["a_share"] = sa / na
    t["b_share"] = sb / nb
    odds = ((sa + 1) * (nb - sb + 1)) / ((na - sa + 1) * (sb + 1))
    t["odds_ratio"] = odds
    se = np.sqrt(1 / (sa + 1) + 1 / (na - sa + 1) + 1 / (sb + 1) + 1 / (nb - sb + 1))
    t["p_value"] = two_sided_p(np.log(odds) / se)
    t["correlation"] = np.where(odds > 1, "a", "b")
    supported = (sa + sb) >= min(MIN_PERSON_COUNT, MIN_PERSON_PERCENTAGE * (na + nb))
    t["significant"] = supported & (t["p_value"].to_numpy() < 0.05)
    t = t[(sa + sb) >= _support_threshold(min_support, na + nb)]
    order = np.argsort(-np.abs(np.log(t["odds_ratio"].to_numpy())), kind="stable")
    columns = [
        "feature",
        "kind",
        "a_count",
        "a_share",
        "b_count",
        "b_share",
        "odds_ratio",
        "correlation",
        "p_value",
        "significant",
    ]
    return shown(t.iloc[order][columns].reset_index(drop=True), _COMPARE_SHOWN)


def overlap(
    audiences: Sequence[Audience],
    names: Sequence[str] | None = None,
    *,
    normalize: str | None = None,
) -> pd.DataFrame:
    """Users in both of every pair of audiences (sizes on the diagonal).

    ``normalize="row"`` divides each row by its audience's size (share of row also in column);
    ``"jaccard"`` gives |A & B| / |A | B|.

    >>> overlap([result.entered(), tags["vip"], tags["gender:M"]])
                  entered view  vip  gender:M
    entered view             5    2         1
    vip                      2    2         0
    gender:M                 1    0         2
    """
    if isinstance(audiences, Audience) or not isinstance(audiences, (list, tuple)):
        raise AudienceError(f"overlap takes a list of audiences; got {type(audiences).__name__}")
    if names is not None and not isinstance(names, (list, tuple)):
        raise AudienceError(f"names= is a list of names, one per audience; got {names!r}")
    audiences = list(audiences)
    if not audiences:
        raise AudienceError("overlap needs at least one audience")
    labels = (
        list(names)
        if names is not None
        else [a.name or f"audience {i + 1}" for i, a in enumerate(audiences)]
    )
    if len(labels) != len(audiences):
        raise AudienceError(
            f"{len(audiences)} audiences need {len(audiences)} names; got {len(labels)}"
        )
    log = _log_of(audiences[0], "audience 1")
    for index, audience in enumerate(audiences[1:], start=2):
        ensure_audience(audience, log, f"audience {index}")
    m = overlap_counts(audiences)
    if normalize is None:
        return pd.DataFrame(m, index=labels, columns=labels)
    sizes = np.diag(m).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if normalize == "row":
            values = m / sizes[:, None]
        elif normalize == "jaccard":
            values = m / (sizes[:, None] + sizes[None, :] - m)
        else:
            raise AudienceError(f"normalize must be None, 'row' or 'jaccard'; got {normalize!r}")
    return pd.DataFrame(values, index=labels, columns=labels)
