"""Audiences: sets of users of one event log, backed by Roaring bitmaps in the native core.

An audience lives in the log's dense user-id space, so set algebra and funnel drill-downs never
touch user keys; keys appear only when you list, look up or export users.

>>> import pandas as pd, workbench as wb
>>> df = pd.DataFrame({"user_id": [1, 1, 2, 3], "event": ["view", "buy", "view", "view"],
...                    "time": pd.to_datetime(["2026-01-01"] * 4)})
>>> log = wb.EventLog(df)
>>> viewers = Audience.did(log, "view")
>>> buyers = Audience.did(log, "buy")
>>> sorted((viewers - buyers).keys().to_pylist())
[2, 3]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench import _core
from workbench._names import did_you_mean
from workbench.exceptions import AudienceError

if TYPE_CHECKING:
    from workbench.log import EventLog

__all__ = [
    "Audience",
    "converted",
    "dropped_after",
    "entered",
    "reached",
]

BitmapFormat = Literal["portable", "clickhouse", "doris", "starrocks"]
_PAGE = 65_536


def _key_array(log: EventLog, keys: Any) -> pa.Array:
    """Keys as the int64 or string array the native lookup takes."""
    if isinstance(keys, pa.ChunkedArray):
        array: pa.Array = keys.combine_chunks()
    elif isinstance(keys, pa.Array):
        array = keys
    elif isinstance(keys, (pd.Series, pd.Index, np.ndarray)):
        array = pa.array(np.asarray(keys) if isinstance(keys, np.ndarray) else keys.to_numpy())
    elif isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        array = pa.array([keys])
    else:
        array = pa.array(list(keys))
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    int_log = pa.types.is_integer(log.user_keys.type)
    if len(array) == 0:
        return pa.array([], pa.int64() if int_log else pa.string())
    if int_log:
        if not pa.types.is_integer(array.type):
            raise AudienceError(
                f"the log's user keys are integers but the keys given are {array.type}"
            )
        return array.cast(pa.int64())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        raise AudienceError(f"the log's user keys are strings but the keys given are {array.type}")
    return array.cast(pa.string())


def to_engine_time(log: EventLog, value: Any) -> int:
    """A time bound (int in the log's unit, datetime, or string) in engine units."""
    return log.engine_time(value)


class Audience:
    """A set of users of one event log.

    Combine with ``&`` (and), ``|`` (or), ``-`` (and not), ``^`` (either but not both) and ``~``
    (everyone else in the log). ``len(a)`` counts users, ``key in a`` tests an original user key,
    iteration yields original keys in key order, and ``a == b`` compares members.

    >>> a = Audience.from_keys(log, [1, 2])          # doctest: +SKIP
    >>> len(a & ~Audience.did(log, "buy"))           # doctest: +SKIP
    1
    """

    __slots__ = ("_native", "log", "name")

    def __init__(self, log: EventLog, native: Any, name: str | None = None) -> None:
        self.log = log
        self._native = native
        self.name = name

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_keys(cls, log: EventLog, keys: Any, *, name: str | None = None) -> Audience:
        """The users with these original keys; every key must be a user of the log.

        >>> Audience.from_keys(log, [1, 3]).keys().to_pylist()   # doctest: +SKIP
        [1, 3]
        """
        return cls(log, _core.audience_from_keys(log._native, _key_array(log, keys)), name)

    @classmethod
    def all(cls, log: EventLog) -> Audience:
        """Every user of the log.

        >>> len(Audience.all(log)) == log.n_users   # doctest: +SKIP
        True
        """
        return cls(log, _nobody(log).complement(), "all users")

    @classmethod
    def empty(cls, log: EventLog) -> Audience:
        """No users (the identity of ``|``).

        >>> len(Audience.empty(log))   # doctest: +SKIP
        0
        """
        return cls(log, _nobody(log), "nobody")

    @classmethod
    def from_mask(cls, log: EventLog, mask: Any, *, name: str | None = None) -> Audience:
        """Users flagged true in a boolean array aligned with ``log.user_keys`` (dense ids).

        >>> Audience.from_mask(log, np.ones(log.n_users, bool))   # doctest: +SKIP
        """
        flags = pa.array(np.asarray(mask, dtype=bool))
        return cls(log, _core.audience_from_flags(log._native, flags), name)

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

        >>> Audience.did(log, "buy", where=wb.col("price") > 10, min_times=2)   # doctest: +SKIP
        """
        names = [] if event is None else [event] if isinstance(event, str) else list(event)
        codes = []
        for n in names:
            code = log._native.event_code(n)
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
            if hasattr(where, "mask"):
                mask = where.mask(log.source)
            else:
                mask = pa.array(np.asarray(where, dtype=bool))
            if isinstance(mask, pa.ChunkedArray):
                mask = mask.combine_chunks()
        if int(min_times) < 1:
            raise AudienceError(f"min_times must be at least 1; got {min_times}")
        native = _core.audience_did(
            log._native,
            codes,
            mask,
            None if start is None else to_engine_time(log, start),
            None if end is None else to_engine_time(log, end),
            int(min_times),
        )
        label = name or (f"did {'/'.join(names)}" if names else "did anything")
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
        """Users whose funnel level (one uint8 per dense user id) is in
        ``min_level..max_level`` (inclusive; no upper bound by default).

        Dropped after step 2:

        >>> Audience.from_levels(log, result.levels_array(), 2, 2)  # doctest: +SKIP
        """
        lo = int(min_level)
        hi = 255 if max_level is None else int(max_level)
        if not 0 <= lo <= 255 or not 0 <= hi <= 255:
            raise AudienceError(f"levels are between 0 and 255; got {min_level}..{max_level}")
        array = pa.array(np.ascontiguousarray(levels, dtype=np.uint8))
        return cls(log, _core.audience_from_levels(log._native, array, lo, hi), name)

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

        >>> Audience.from_bytes(log, pyroaring.BitMap([1, 2]).serialize())   # doctest: +SKIP
        """
        native, absent = _core.audience_from_bitmap(log._native, bytes(data), format, bits)
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

        >>> Audience.load("dropped.fwb", log)   # doctest: +SKIP
        """
        names, natives, _dropped = _core.load_audiences(log._native, Path(path).read_bytes())
        if len(natives) != 1:
            raise AudienceError(
                f"{str(path)!r} holds {len(natives)} bitmaps; use TagStore.load for a tag store"
            )
        return cls(log, natives[0], names[0] or None)

    # -- set algebra ----------------------------------------------------------------------------

    def _other(self, other: object, op: str) -> Audience:
        if not isinstance(other, Audience):
            raise TypeError(f"cannot {op} an Audience and a {type(other).__name__}")
        if not self._native.same_log(other._native):
            raise AudienceError(
                f"cannot {op} audiences of different event logs; build both from the same EventLog"
            )
        return other

    def __and__(self, other: Audience) -> Audience:
        o = self._other(other, "intersect (&)")
        return Audience(self.log, self._native.and_(o._native), _join(self.name, "&", o.name))

    def __or__(self, other: Audience) -> Audience:
        o = self._other(other, "unite (|)")
        return Audience(self.log, self._native.or_(o._native), _join(self.name, "|", o.name))

    def __sub__(self, other: Audience) -> Audience:
        o = self._other(other, "subtract (-)")
        return Audience(self.log, self._native.sub(o._native), _join(self.name, "-", o.name))

    def __xor__(self, other: Audience) -> Audience:
        o = self._other(other, "take the symmetric difference (^) of")
        return Audience(self.log, self._native.xor(o._native), _join(self.name, "^", o.name))

    def __invert__(self) -> Audience:
        return Audience(
            self.log, self._native.complement(), f"~({self.name})" if self.name else None
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audience):
            return NotImplemented
        return bool(self._native.equals(other._native))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking value type: compare, don't hash

    def __len__(self) -> int:
        return len(self._native)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, key: object) -> bool:
        try:
            ids = _core.lookup_keys(self.log._native, _key_array(self.log, [key]))
        except AudienceError:
            return False
        dense = ids[0].as_py()
        return dense >= 0 and bool(self._native.contains_id(dense))

    def __iter__(self) -> Iterator[Any]:
        for offset in range(0, len(self), _PAGE):
            yield from self.keys(offset, _PAGE).to_pylist()

    # -- members --------------------------------------------------------------------------------

    def ids(self, offset: int = 0, limit: int | None = None) -> pa.Array:
        """Dense user ids of the members (uint32), in key order, paged.

        >>> a.ids(0, 10)   # doctest: +SKIP
        """
        return self._native.ids(int(offset), None if limit is None else int(limit))

    def keys(self, offset: int = 0, limit: int | None = None) -> pa.Array:
        """Original user keys of the members, ascending, paged (``offset``, ``limit``).

        >>> a.keys(offset=100, limit=50)   # doctest: +SKIP
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

        >>> dropped.to_pandas(users_df, key="user_id", limit=100)   # doctest: +SKIP
        """
        column = self.log.user_column
        frame = pd.DataFrame({column: self.keys(offset, limit).to_pandas()})
        if attributes is None:
            return frame
        attrs = (
            attributes if isinstance(attributes, pd.DataFrame) else pa.table(attributes).to_pandas()
        )
        on = key or column
        if on not in attrs.columns:
            raise AudienceError(
                f"the attribute table has no key column {on!r};"
                f"{did_you_mean(on, map(str, attrs.columns))} pass key='...'"
            )
        if attrs[on].duplicated().any():
            dup = attrs[on][attrs[on].duplicated()].iloc[0]
            raise AudienceError(f"the attribute table has duplicate keys in {on!r}, e.g. {dup!r}")
        attrs = attrs.rename(columns={on: column}) if on != column else attrs
        frame[column] = frame[column].astype(attrs[column].dtype, errors="ignore")
        return frame.merge(attrs, on=column, how="left")

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

        >>> pyroaring.BitMap.deserialize(dropped.to_bytes())   # doctest: +SKIP
        """
        return bytes(self._native.key_bitmap_bytes(format, bits))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the audience by original keys (any key type) to load onto this or a later log.

        >>> dropped.save("dropped.fwb")   # doctest: +SKIP
        """
        Path(path).write_bytes(_core.save_audiences([self.name or ""], [self._native]))

    def to_parquet(self, path: str | os.PathLike[str], attributes: Any = None, **kw: Any) -> None:
        """Write the members' keys (and ``attributes``) to Parquet for a campaign tool.

        >>> dropped.to_parquet("dropped.parquet")   # doctest: +SKIP
        """
        from workbench.export import to_parquet

        to_parquet(self, path, attributes=attributes, **kw)

    def to_csv(self, path: str | os.PathLike[str], attributes: Any = None, **kw: Any) -> None:
        """Write the members' keys (and ``attributes``) to CSV.

        >>> dropped.to_csv("dropped.csv")   # doctest: +SKIP
        """
        from workbench.export import to_csv

        to_csv(self, path, attributes=attributes, **kw)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"Audience{label}({len(self):,} of {self.log.n_users:,} users)"


def _nobody(log: EventLog) -> Any:
    return _core.audience_from_ids(log._native, pa.array([], pa.uint32()))


def _join(a: str | None, op: str, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return f"({a} {op} {b})"


# -- drill-down from a funnel result -----------------------------------------------------------


def _levels_of(result: Any) -> tuple[EventLog, np.ndarray, int]:
    return result.log, result.levels_array(), int(result.n_steps)


def _check_step(step: int, n_steps: int, what: str, last_ok: bool = True) -> int:
    step = int(step)
    top = n_steps if last_ok else n_steps - 1
    if not 1 <= step <= top:
        raise AudienceError(f"{what}: step must be between 1 and {top} for this funnel; got {step}")
    return step


def _in_group(audience: Audience, group: Audience | None) -> Audience:
    return audience if group is None else audience & group


def reached(result: Any, step: int, group: Audience | None = None) -> Audience:
    """Users who reached ``step`` (1-based) of a funnel result, optionally within ``group``.

    >>> reached(result, 2)   # doctest: +SKIP
    """
    log, levels, n = _levels_of(result)
    step = _check_step(step, n, "reached")
    a = Audience.from_levels(log, levels, step, name=f"reached step {step}")
    return _in_group(a, group)


def dropped_after(result: Any, step: int, group: Audience | None = None) -> Audience:
    """Users whose furthest step was ``step``: they did it and never the next one in time.

    >>> dropped_after(result, 1)   # doctest: +SKIP
    """
    log, levels, n = _levels_of(result)
    step = (
        _check_step(step, n, "dropped_after", last_ok=False)
        if n > 1
        else _check_step(step, 0, "dropped_after")
    )
    a = Audience.from_levels(log, levels, step, step, name=f"dropped after step {step}")
    return _in_group(a, group)


def entered(result: Any, group: Audience | None = None) -> Audience:
    """Users who did step 1.

    >>> entered(result)   # doctest: +SKIP
    """
    return reached(result, 1, group)


def converted(result: Any, group: Audience | None = None) -> Audience:
    """Users who completed every step.

    >>> converted(result)   # doctest: +SKIP
    """
    return reached(result, int(result.n_steps), group)
