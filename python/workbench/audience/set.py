"""Audiences: sets of users of one event log, backed by Roaring bitmaps in the native core.

An audience lives in the log's dense user-id space, so set algebra never touches user keys; keys
appear only when you list, look up or export users. An audience knows nothing of funnels: a
funnel result builds its drill-downs as audiences from its own outcome arrays.

>>> viewers = Audience.did(log, "view")
>>> buyers = Audience.did(log, "pay")
>>> sorted((viewers - buyers).keys().to_pylist())
[2, 3, 5, 6]
>>> viewers - buyers
Audience 'did view and not did pay'(4 of 6 users)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import _core
from workbench._arrow import decoded
from workbench._files import existing_path, writing
from workbench._names import did_you_mean, plain
from workbench.audience.export import key_table, to_csv, to_parquet
from workbench.exceptions import AudienceError
from workbench.predicates import Predicate

if TYPE_CHECKING:
    from workbench.log import EventLog

__all__ = [
    "FORMATS",
    "Audience",
    "BitmapFormat",
    "bitmap_options",
    "boolean_flags",
    "ensure_audience",
    "event_user_counts",
    "key_array",
    "overlap_counts",
]

BitmapFormat = Literal["portable", "clickhouse", "doris", "starrocks"]
FORMATS: tuple[str, ...] = ("portable", "clickhouse", "doris", "starrocks")
_PAGE = 65_536


def key_array(log: EventLog, keys: Any) -> pa.Array:
    """User keys as the int64 or string array the native lookup takes (one key, a list, a
    pandas/numpy/Arrow array); keys of another kind, or integers no user key can be (beyond
    int64), are refused by an :class:`AudienceError` naming the first of them.

    >>> key_array(log, [1, 2]).type
    DataType(int64)
    >>> key_array(log, [1, "2"])
    Traceback (most recent call last):
    ...
    workbench.exceptions.AudienceError: the user keys given mix kinds (1 is int, '2' is str); the log's user keys are int64, so pass int64 keys only
    """  # noqa: E501
    int_log = pa.types.is_integer(log.user_keys.type)
    expected = "int64" if int_log else "strings"
    if isinstance(keys, pa.ChunkedArray):
        array: pa.Array = keys.combine_chunks()
    elif isinstance(keys, pa.Array):
        array = keys
    else:
        if isinstance(keys, (pd.Series, pd.Index)):
            values: Any = keys.to_numpy()
        elif isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            values = [keys]
        else:
            values = keys if isinstance(keys, np.ndarray) else list(keys)
        array = _read_keys(values, expected)
    array = decoded(array)
    if len(array) == 0:
        return pa.array([], pa.int64() if int_log else pa.string())
    if int_log:
        if not pa.types.is_integer(array.type):
            raise AudienceError(
                f"the log's user keys are integers but the keys given are {array.type}"
            )
        try:
            return array.cast(pa.int64())
        except pa.ArrowInvalid:
            big = pc.max(array).as_py()
            raise AudienceError(
                f"user key {big} is beyond the 64-bit signed integers a user key can be (below "
                "2**63); the log's user keys are int64"
            ) from None
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise AudienceError(f"the log's user keys are strings but the keys given are {array.type}")
    return array.cast(pa.string())


def _read_keys(values: Any, expected: str) -> pa.Array:
    """Python or numpy keys as an Arrow array, or the reason they cannot be one."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        pass
    items = list(values)
    huge = next(
        (k for k in items if isinstance(k, int) and not -(2**63) <= k < 2**63),
        None,
    )
    if huge is not None:
        raise AudienceError(
            f"user key {huge} is beyond the 64-bit signed integers a user key can be (below "
            f"2**63); the log's user keys are {expected}"
        ) from None
    first = next((k for k in items if k is not None), None)
    other = next((k for k in items if k is not None and type(k) is not type(first)), None)
    if other is not None:
        raise AudienceError(
            f"the user keys given mix kinds ({plain(first)!r} is {type(first).__name__}, "
            f"{plain(other)!r} is {type(other).__name__}); the log's user keys are {expected}, "
            f"so pass {expected} keys only"
        ) from None
    raise AudienceError(
        f"cannot read the user keys given ({type(first).__name__} values such as {first!r}); "
        f"the log's user keys are {expected}"
    ) from None


def ensure_audience(value: object, log: EventLog, what: str) -> Audience:
    """``value`` when it is an :class:`Audience` of ``log``; else an :class:`AudienceError`
    naming ``what`` (the parameter). Every API that takes an audience checks it here, so an
    audience of another log can never count the wrong users.

    >>> ensure_audience("vip", log, "group")
    Traceback (most recent call last):
    ...
    workbench.exceptions.AudienceError: group must be a wb.Audience; got str
    """
    if not isinstance(value, Audience):
        raise AudienceError(f"{what} must be a wb.Audience; got {type(value).__name__}")
    if not value.belongs_to(log):
        raise AudienceError(
            f"{what} ({value!r}) belongs to another event log; build it from the same EventLog "
            "(two logs loaded from the same data still number their users separately)"
        )
    return value


class Audience:
    """A set of users of one event log.

    Combine with ``&`` (and), ``|`` (or), ``-`` (and not), ``^`` (either but not both) and ``~``
    (everyone else in the log). ``len(a)`` counts users, ``key in a`` tests an original user key,
    iteration yields original keys in key order, and ``a == b`` compares members.

    Attributes:
        log: the event log whose users these are.
        bitmap: the native Roaring bitmap of dense user ids (``workbench._core.Audience``), for
            the modules that hand it to the engine.
        name: what the set is, in the analyst's words (``dropped after cart``).

    >>> a = Audience.from_keys(log, [1, 2])
    >>> len(a & ~Audience.did(log, "pay"))
    1
    """

    __slots__ = ("bitmap", "log", "name")

    def __init__(self, log: EventLog, bitmap: _core.Audience, name: str | None = None) -> None:
        self.log = log
        self.bitmap = bitmap
        self.name = name

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_keys(cls, log: EventLog, keys: Any, *, name: str | None = None) -> Audience:
        """The users with these original keys; every key must be a user of the log.

        >>> Audience.from_keys(log, [1, 3]).keys().to_pylist()
        [1, 3]
        """
        return cls(log, _core.audience_from_keys(log.encoded, key_array(log, keys)), name)

    @classmethod
    def all(cls, log: EventLog) -> Audience:
        """Every user of the log.

        >>> len(Audience.all(log)) == log.n_users
        True
        """
        return cls(log, _nobody(log).complement(), "all users")

    @classmethod
    def empty(cls, log: EventLog) -> Audience:
        """No users (the identity of ``|``).

        >>> len(Audience.empty(log))
        0
        """
        return cls(log, _nobody(log), "nobody")

    @classmethod
    def from_mask(cls, log: EventLog, mask: Any, *, name: str | None = None) -> Audience:
        """Users flagged true in a boolean array aligned with ``log.user_keys`` (dense ids).

        >>> Audience.from_mask(log, np.arange(log.n_users) < 2, name="first two")
        Audience 'first two'(2 of 6 users)
        """
        flags = boolean_flags(mask, log.n_users, "a mask", "user of the log")
        return cls(log, _core.audience_from_flags(log.encoded, pa.array(flags)), name)

    @classmethod
    def did(
        cls,
        log: EventLog,
        event: str | Iterable[str] | None,
        where: Any = None,
        start: Any = None,
        end: Any = None,
        min_times: int = 1,
        *,
        name: str | None = None,
    ) -> Audience:
        """Users who did ``event`` (one name, several, or ``None`` for any) at least
        ``min_times`` times in ``[start, end)``, counting only rows where ``where`` holds.

        ``where`` is a row condition such as ``wb.col("price") > 10`` (or a boolean array over
        the log's input rows); ``start``/``end`` are datetimes, strings or ints in the log's unit.

        >>> Audience.did(log, "cart", where=wb.col("price") > 6, min_times=1).keys().to_pylist()
        [1, 3, 5]
        """
        if event is not None and not isinstance(event, (str, list, tuple, set)):
            raise AudienceError(
                f"event is an event name, a list of them, or None for any; got {event!r}"
            )
        names = [] if event is None else [event] if isinstance(event, str) else list(event)
        codes = []
        for n in names:
            if not isinstance(n, str):
                raise AudienceError(f"event names are text; got {n!r}")
            code = log.encoded.event_code(n)
            if code is None:
                raise AudienceError(
                    f"event {n!r} is not in the log;"
                    f"{did_you_mean(n, log.event_names) or ' no similar names'}"
                )
            codes.append(code)
        if event is not None and not codes:
            raise AudienceError("no event names given; pass event=None for any event")
        mask = None
        if where is not None:
            if isinstance(where, Predicate):
                mask = where.mask(log.source).combine_chunks()
            else:
                flags = boolean_flags(where, len(log.source), "where=", "input row")
                mask = pa.array(flags)
        if isinstance(min_times, bool) or not isinstance(min_times, (int, np.integer)):
            raise AudienceError(f"min_times is a whole number of times; got {min_times!r}")
        if int(min_times) < 1:
            raise AudienceError(f"min_times must be at least 1; got {min_times}")
        since = None if start is None else log.engine_time(start, "start")
        until = None if end is None else log.engine_time(end, "end")
        if since is not None and until is not None and since > until:
            raise AudienceError(
                f"start={start!r} is after end={end!r}; the span is [start, end), start first"
            )
        native = _core.audience_did(log.encoded, codes, mask, since, until, int(min_times))
        label = name or (f"did {' or '.join(names)}" if names else "did anything")
        return cls(log, native, label)

    @classmethod
    def from_levels(
        cls,
        log: EventLog,
        levels: Any,
        min_level: int,
        max_level: int | None = None,
        *,
        name: str | None = None,
    ) -> Audience:
        """Users whose level (one uint8 per dense user id, such as a funnel's
        ``result.levels_array()``) is in ``min_level..max_level`` (inclusive; no upper bound by
        default).

        >>> Audience.from_levels(log, result.levels_array(), 2, 2).keys().to_pylist()
        [3, 5]
        """
        lo = _whole(min_level, "min_level")
        hi = 255 if max_level is None else _whole(max_level, "max_level")
        if not 0 <= lo <= 255 or not 0 <= hi <= 255:
            raise AudienceError(f"levels are between 0 and 255; got {min_level}..{max_level}")
        array = pa.array(_levels(levels))
        return cls(log, _core.audience_from_levels(log.encoded, array, lo, hi), name)

    @classmethod
    def from_bytes(
        cls,
        log: EventLog,
        data: bytes,
        format: BitmapFormat = "portable",
        *,
        bits: int | None = None,
        missing: Literal["error", "ignore"] = "error",
        name: str | None = None,
    ) -> Audience:
        """Read a bitmap of ORIGINAL integer user keys (see :meth:`to_bytes`) back onto ``log``.

        Keys the log does not have raise :class:`AudienceError` unless ``missing="ignore"``.

        >>> Audience.from_bytes(log, Audience.from_keys(log, [2, 4]).to_bytes()).keys().to_pylist()
        [2, 4]
        """
        if missing not in ("error", "ignore"):
            raise AudienceError(f"missing= is 'error' or 'ignore'; got {missing!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise AudienceError(f"bitmap bytes are bytes; got {type(data).__name__}")
        native, absent = _core.audience_from_bitmap(
            log.encoded, bytes(data), _format(format), _bits(bits)
        )
        if len(absent) and missing != "ignore":
            shown = ", ".join(str(k) for k in absent.slice(0, 5).to_pylist())
            raise AudienceError(
                f"{len(absent)} user key(s) in the bitmap are not in the event log, e.g. {shown}; "
                "pass missing='ignore' to drop them"
            )
        return cls(log, native, name)

    @classmethod
    def load(cls, path: str | os.PathLike[str], log: EventLog) -> Audience:
        """Load an audience saved with :meth:`save` onto ``log`` (users it lacks are dropped).

        >>> Audience.from_keys(log, [1, 5], name="picked").save("picked.fwb")
        >>> Audience.load("picked.fwb", log)
        Audience 'picked'(2 of 6 users)
        """
        data = existing_path(path, "saved audience").read_bytes()
        names, natives, _dropped = _core.load_audiences(log.encoded, data)
        if len(natives) != 1:
            raise AudienceError(
                f"{str(path)!r} holds {len(natives)} bitmaps; use TagStore.load for a tag store"
            )
        return cls(log, natives[0], names[0] or None)

    # -- set algebra ----------------------------------------------------------------------------

    def belongs_to(self, log: EventLog) -> bool:
        """Whether these are users of ``log`` (the same id space).

        >>> Audience.all(log).belongs_to(log)
        True
        """
        return bool(self.bitmap.belongs_to(log.encoded))

    def _other(self, other: object, op: str) -> Audience:
        if not isinstance(other, Audience):
            raise AudienceError(
                f"cannot {op} an Audience and a {type(other).__name__}; both sides must be "
                "audiences"
            )
        return ensure_audience(other, self.log, f"the right side of {op}")

    def __and__(self, other: Audience) -> Audience:
        o = self._other(other, "intersect (&)")
        return Audience(self.log, self.bitmap.and_(o.bitmap), _join(self.name, "and", o.name))

    def __or__(self, other: Audience) -> Audience:
        o = self._other(other, "unite (|)")
        return Audience(self.log, self.bitmap.or_(o.bitmap), _join(self.name, "or", o.name))

    def __sub__(self, other: Audience) -> Audience:
        o = self._other(other, "subtract (-)")
        name = _join(self.name, "and not", o.name)
        return Audience(self.log, self.bitmap.sub(o.bitmap), name)

    def __xor__(self, other: Audience) -> Audience:
        o = self._other(other, "take the symmetric difference (^) of")
        name = _join(self.name, "or else", o.name)
        return Audience(self.log, self.bitmap.xor(o.bitmap), name)

    def __invert__(self) -> Audience:
        name = f"not {self.name}" if self.name else None
        return Audience(self.log, self.bitmap.complement(), name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audience):
            return NotImplemented
        return bool(self.bitmap.equals(other.bitmap))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type: compare, don't hash

    def __len__(self) -> int:
        return len(self.bitmap)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, key: object) -> bool:
        try:
            ids = _core.lookup_keys(self.log.encoded, key_array(self.log, [key]))
        except AudienceError:
            return False
        dense = ids[0].as_py()
        return dense >= 0 and bool(self.bitmap.contains_id(dense))

    def __iter__(self) -> Iterator[Any]:
        for offset in range(0, len(self), _PAGE):
            yield from self.keys(offset, _PAGE).to_pylist()

    def named(self, name: str) -> Audience:
        """The same users under another name (audiences are values: this is a new one).

        >>> Audience.all(log).named("everyone")
        Audience 'everyone'(6 of 6 users)
        """
        if not isinstance(name, str):
            raise AudienceError(f"an audience's name is text; got {name!r}")
        return Audience(self.log, self.bitmap, name)

    # -- members --------------------------------------------------------------------------------

    def ids(self, offset: int = 0, limit: int | None = None) -> pa.Array:
        """Dense user ids of the members (uint32), in key order, paged.

        >>> Audience.from_keys(log, [2, 5]).ids().to_pylist()
        [1, 4]
        """
        return self.bitmap.ids(
            _whole(offset, "offset"), None if limit is None else _whole(limit, "limit")
        )

    def mask(self) -> np.ndarray:
        """One flag per dense user id of the log: whether the user is a member.

        >>> Audience.from_keys(log, [2, 5]).mask().tolist()
        [False, True, False, False, True, False]
        """
        flags = np.zeros(self.log.n_users, dtype=bool)
        flags[np.asarray(self.ids().to_numpy(zero_copy_only=False), dtype=np.int64)] = True
        return flags

    def keys(self, offset: int = 0, limit: int | None = None) -> pa.Array:
        """Original user keys of the members, ascending, paged (``offset``, ``limit``).

        >>> Audience.all(log).keys(offset=2, limit=3).to_pylist()
        [3, 4, 5]
        """
        return self.log.user_keys.take(self.ids(offset, limit))

    def to_pandas(
        self,
        attributes: Any = None,
        *,
        key: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Members as a table of original keys, joined to a user-attribute table, paged.

        The key column is named like the log's user column; ``key`` names the matching column
        of ``attributes`` (default: the same name). Members without attributes get nulls.

        >>> result.dropped_after(1).to_pandas(users)
           user_id gender  age  spend
        0        2      M   31   40.0
        """
        return key_table(self, attributes, key=key, offset=offset, limit=limit).to_pandas()

    # -- interchange ----------------------------------------------------------------------------

    def to_bytes(self, format: BitmapFormat = "portable", *, bits: int | None = None) -> bytes:
        """The members' ORIGINAL integer keys as bitmap bytes another system loads.

        - ``"portable"``: the Roaring format of pyroaring / CRoaring / Java / Go. Keys below
          2**32 give a 32-bit bitmap (``pyroaring.BitMap.deserialize``); a larger key (or
          ``bits=64``) gives the portable 64-bit layout (``pyroaring.BitMap64.deserialize``).
        - ``"clickhouse"``: an ``AggregateFunction(groupBitmap, UInt32|UInt64)`` state.
        - ``"doris"`` / ``"starrocks"``: the serialized ``BITMAP`` value.

        Logs with string user keys cannot be exported as bitmaps (Roaring holds integers): use
        :meth:`to_parquet` / :meth:`to_csv` for the key table instead. Negative keys likewise.

        >>> import pyroaring
        >>> list(pyroaring.BitMap.deserialize(Audience.from_keys(log, [1, 4]).to_bytes()))
        [1, 4]
        """
        return bytes(self.bitmap.key_bitmap_bytes(_format(format), _bits(bits)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the audience by original keys (any key type) to load onto this or a later log.

        >>> Audience.did(log, "pay").save("payers.fwb")
        """
        saved = _core.save_audiences([self.name or ""], [self.bitmap])
        with writing(path, "audience") as target:
            target.write_bytes(saved)

    def to_parquet(
        self, path: str | os.PathLike[str], attributes: Any = None, *, key: str | None = None
    ) -> None:
        """Write the members' keys (and ``attributes``) to Parquet for a campaign tool.

        >>> result.dropped_after(1).to_parquet("dropped.parquet", users)
        """
        to_parquet(self, path, attributes=attributes, key=key)

    def to_csv(
        self, path: str | os.PathLike[str], attributes: Any = None, *, key: str | None = None
    ) -> None:
        """Write the members' keys (and ``attributes``) to CSV (a header row, a user a line).

        >>> from pathlib import Path
        >>> result.dropped_after(1).to_csv("dropped.csv")
        >>> print(Path("dropped.csv").read_text())
        "user_id"
        2
        <BLANKLINE>
        """
        to_csv(self, path, attributes=attributes, key=key)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"Audience{label}({len(self):,} of {self.log.n_users:,} users)"


def event_user_counts(audiences: list[Audience]) -> np.ndarray:
    """Per event name of the log (rows) and audience (columns): members who did the event.

    >>> log.event_names, event_user_counts([Audience.did(log, "pay")]).ravel().tolist()
    (['cart', 'pay', 'search', 'view'], [1, 1, 0, 1])
    """
    if not audiences:
        raise AudienceError("event_user_counts needs at least one audience")
    _same_log(audiences)
    counts = _core.event_user_counts([a.bitmap for a in audiences]).to_numpy()
    return counts.reshape(-1, len(audiences)).astype(np.int64)


def overlap_counts(audiences: list[Audience]) -> np.ndarray:
    """Members shared by every pair of audiences (sizes on the diagonal), as a k-by-k array.

    >>> overlap_counts([Audience.did(log, "view"), Audience.did(log, "pay")]).tolist()
    [[5, 1], [1, 1]]
    """
    k = len(audiences)
    if k == 0:
        raise AudienceError("overlap needs at least one audience")
    _same_log(audiences)
    counts = _core.overlap_counts([a.bitmap for a in audiences]).to_numpy()
    return counts.reshape(k, k).astype(np.int64)


def boolean_flags(
    values: Any, length: int, what: str, per: str, *, missing: bool | None = None
) -> np.ndarray:
    """``values`` as ``length`` booleans, one per ``per``; text, numbers or a wrong length are
    refused naming ``what`` (numpy would read any non-empty string as True). With ``missing``
    set, nulls (None, NaN, NA) read as it.

    >>> boolean_flags(["yes", "no"], 2, "where=", "input row")
    Traceback (most recent call last):
    ...
    workbench.exceptions.AudienceError: where= is one True or False per input row; got str values such as 'yes'
    """  # noqa: E501
    array = np.asarray(values)
    if array.shape != (length,):
        raise AudienceError(
            f"{what} is one True or False per {per} ({length:,}); got shape {array.shape}"
        )
    if array.dtype == bool:
        return array
    items = array.tolist()
    if missing is not None:
        items = [
            missing if item is None or item is pd.NA or item != item else item for item in items
        ]
    odd = next((item for item in items if not isinstance(item, (bool, np.bool_))), None)
    if odd is not None or array.dtype.kind not in "bO":
        shown = odd if odd is not None else items[0]
        raise AudienceError(
            f"{what} is one True or False per {per}; got {type(shown).__name__} values such as "
            f"{shown!r}"
        )
    return np.asarray(items, dtype=bool)


def _levels(levels: Any) -> np.ndarray:
    """Funnel levels as uint8, refusing what is no level (negative, fractional, above 255)."""
    array = np.asarray(levels)
    if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 255)):
        raise AudienceError(
            "levels are whole numbers from 0 to 255, one per user (as result.levels_array() "
            f"gives); got {array.dtype} values"
        )
    return np.ascontiguousarray(array, dtype=np.uint8)


def bitmap_options(format: Any, bits: Any) -> tuple[str, int | None]:
    """``format`` and ``bits`` of a bitmap import or export, once known to be ones the engine
    reads and writes (it names the formats and widths it knows when they do not fit together).

    >>> bitmap_options("portable", 128)
    Traceback (most recent call last):
    ...
    workbench.exceptions.AudienceError: bits= is 32, 64 or None (the format's default); got 128
    """
    return _format(format), _bits(bits)


def _format(format: Any) -> str:
    if format not in FORMATS:
        raise AudienceError(
            f"unknown bitmap format {format!r}; format= is one of {', '.join(map(repr, FORMATS))}"
        )
    return str(format)


def _bits(bits: Any) -> int | None:
    if bits is not None and (isinstance(bits, bool) or bits not in (32, 64)):
        raise AudienceError(f"bits= is 32, 64 or None (the format's default); got {bits!r}")
    return None if bits is None else int(bits)


def _whole(value: Any, name: str) -> int:
    """A count or position given by the caller: a whole number, zero or more."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise AudienceError(f"{name} is a whole number, zero or more; got {value!r}")
    return int(value)


def _same_log(audiences: Sequence[Audience]) -> None:
    first = audiences[0]
    if not isinstance(first, Audience):
        raise AudienceError(f"audience 1 must be a wb.Audience; got {type(first).__name__}")
    for index, audience in enumerate(audiences[1:], start=2):
        ensure_audience(audience, first.log, f"audience {index}")


def _nobody(log: EventLog) -> _core.Audience:
    return _core.audience_from_ids(log.encoded, pa.array([], pa.uint32()))


def _join(a: str | None, word: str, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return f"{a} {word} {b}"
