"""Vectorised building blocks of the demo generator: ragged ranges, rows sorted by packed integer
keys, and Arrow columns made from codes.

They exist because millions of rows make every pass over the data count: a sort of one int64 per
row is many times faster than ``np.lexsort`` or a stable ``argsort``, and a column scattered from
the few rows that carry a property costs less than gathering every row through a permutation.
Where they can, they write over arrays the caller no longer needs (``spare``, ``Spare``): the
kernel zeroes every fresh page of a big array before it is first written.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import Lock

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_WORD_BITS = 63  # packed keys stay non-negative in an int64


_BUCKETS = 1 << 16  # a power of two, so ``u * _BUCKETS`` is exact


def bins_of(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")`` for uniforms ``u`` in [0, 1), several times faster.

    Most of [0, 1) splits into buckets that no ``cdf`` value falls inside, so a table answers
    those; only the uniforms in the few remaining buckets are searched.

    Example:
        >>> u = np.random.default_rng(0).random(100_000)
        >>> cdf = np.cumsum(np.full(7, 1 / 7))
        >>> bool((bins_of(u, cdf) == np.searchsorted(cdf, u, side="right")).all())
        True
    """
    if len(u) < _BUCKETS:
        return np.searchsorted(cdf, u, side="right")
    edges = np.arange(_BUCKETS + 1, dtype=np.float64) / _BUCKETS
    low = np.searchsorted(cdf, edges[:-1], side="right")
    high = np.searchsorted(cdf, edges[1:], side="left")  # the bin of the bucket's largest u
    sure = np.where(high == low, low, -1)  # -1: a cdf value falls inside the bucket
    out = np.empty(len(u), dtype=sure.dtype)
    for start in range(0, len(u), _CHUNK):  # a chunk at a time: no temporaries as long as u
        bucket = (u[start : start + _CHUNK] * _BUCKETS).astype(np.int32)
        out[start : start + _CHUNK] = sure[bucket]
    unsure = np.flatnonzero(out < 0)
    out[unsure] = np.searchsorted(cdf, u[unsure], side="right")
    return out


def rows_of(counts: np.ndarray) -> np.ndarray:
    """The group of every row when group ``i`` has ``counts[i]`` rows, in group order.

    Example:
        >>> rows_of(np.array([2, 0, 1])).tolist()
        [0, 0, 2]
    """
    if len(counts) and counts.max() <= 1:
        return np.flatnonzero(counts)  # a 0/1 count is a mask: much faster than np.repeat
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def sort_rows(
    fields: Sequence[Sequence[np.ndarray]],
    keep: Sequence[int],
    word_bits: int | None = None,
    *,
    grouped: bool = False,
    spare: Sequence[np.ndarray] = (),
) -> list[np.ndarray]:
    """Sort rows of non-negative integer fields lexicographically (first field first) and return
    the fields numbered in ``keep``, sorted.

    Each field comes in chunks, the same chunking for every field, so callers need not
    concatenate. When the fields' widths add up to at most ``word_bits``, every row is packed into
    one int64, sorted and unpacked; otherwise ``np.lexsort`` orders them. ``word_bits`` defaults
    to 63, what an int64 holds without turning negative. Rows equal in every field
    are indistinguishable, so the result is the same either way. With ``grouped`` (the first
    field ascends inside every chunk), the rows below and above the first field's middle value
    are packed apart and the two halves sorted side by side; other packed rows, once there are
    many, are split at their middle word by a selection and sorted side by side too.

    ``spare`` holds arrays whose contents are not needed once the rows are packed: the sorted
    fields are written over them, not over fresh memory (which the kernel zeroes page by page).
    The first field's only chunk may be one of them, when it is an int64 array: the rows are then
    packed over it.

    Example:
        >>> first = [np.array([2, 1]), np.array([1])]  # two chunks
        >>> second = [np.array([0, 5]), np.array([3])]
        >>> a, b = sort_rows([first, second], keep=[0, 1])
        >>> a.tolist(), b.tolist()
        ([1, 1, 2], [3, 5, 0])
    """
    widths = [
        max((int(c.max()) for c in chunks if len(c)), default=0).bit_length() for chunks in fields
    ]
    n = sum(len(c) for c in fields[0])
    dtypes = [np.result_type(*chunks) if chunks else np.dtype(np.int64) for chunks in fields]
    if sum(widths) > (_WORD_BITS if word_bits is None else word_bits):
        columns = [
            np.concatenate([np.asarray(c, dtype=np.int64) for c in chunks]) for chunks in fields
        ]
        order = np.lexsort(columns[::-1])
        return [columns[i][order].astype(dtypes[i], copy=False) for i in keep]
    unused = list(spare)
    first = fields[0][0] if len(fields[0]) == 1 else None
    in_place = (
        not grouped
        and first is not None
        and first.dtype == np.int64
        and first.flags.c_contiguous
        and any(first is s for s in unused)
    )
    packed = first if in_place and first is not None else np.empty(n, dtype=np.int64)
    unused = [s for s in unused if s is not packed]
    chunks = list(zip(*fields, strict=True))
    middle = 1 << max(widths[0] - 1, 0)  # rows below it all sort before the rest
    cuts = [
        int(np.searchsorted(parts[0], middle)) if grouped else len(parts[0]) for parts in chunks
    ]
    low = sum(cuts)
    at = [0, low]  # where the next rows below and above the middle go
    for parts, cut in zip(chunks, cuts, strict=True):
        for half, rows in enumerate((slice(0, cut), slice(cut, None))):
            word = packed[at[half] : at[half] + len(parts[0][rows])]
            if not in_place:
                word[:] = parts[0][rows]
            for part, width in zip(parts[1:], widths[1:], strict=True):
                word <<= width
                word |= part[rows]
            at[half] += len(word)
    if not 0 < low < n and n >= _SORT_APART:
        # A selection (a fraction of a sort's time) puts every word below the middle one
        # before it, so the two halves sort apart too.
        low = n // 2
        packed.partition(low)
    if 0 < low < n:
        with ThreadPoolExecutor(max_workers=2) as pool:  # numpy lets go of the GIL to sort
            for done in [pool.submit(packed[:low].sort), pool.submit(packed[low:].sort)]:
                done.result()
    else:
        packed.sort()
    shifts = np.cumsum(widths[::-1])[::-1] - widths  # bits below each field
    return _unpack(packed, [(int(shifts[i]), widths[i], dtypes[i]) for i in keep], unused)


_CHUNK = 1 << 18  # rows unpacked at a time: their words stay in the cache for every field
_SORT_APART = 1 << 20  # rows from which a sort is split in two halves sorted side by side


def _unpack(
    words: np.ndarray, fields: Sequence[tuple[int, int, np.dtype]], spare: list[np.ndarray]
) -> list[np.ndarray]:
    """The fields ``(shift, width, dtype)`` of packed int64 ``words``, each in its own type.

    Works a chunk of rows at a time, so no temporary as long as ``words`` is made; an int64 field
    last in ``fields`` is written over ``words``, others over the ``spare`` arrays they fit in
    (which are taken out of the list).
    """
    n = len(words)
    last_over_words = bool(fields) and fields[-1][2] == np.int64
    out: list[np.ndarray] = [np.empty(0)] * len(fields)
    if last_over_words:
        out[-1] = words
    widest_first = sorted(
        range(len(fields) - last_over_words), key=lambda i: -np.dtype(fields[i][2]).itemsize
    )
    for i in widest_first:
        out[i] = claim(spare, n, fields[i][2])
    scratch = np.empty(min(n, _CHUNK), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        chunk = words[start : start + _CHUNK]
        part = scratch[: len(chunk)]
        for (shift, width, _), field in zip(fields, out, strict=True):
            np.right_shift(chunk, shift, out=part)
            np.bitwise_and(
                part, (1 << width) - 1, out=field[start : start + len(chunk)], casting="unsafe"
            )
    return out


def claim(spare: list[np.ndarray], n: int, dtype: type | np.dtype) -> np.ndarray:
    """An array of ``n`` items of ``dtype`` (contents undefined) over the first of the ``spare``
    arrays large enough to hold it, which leaves the list; fresh memory if none is.

    Example:
        >>> big = np.zeros(8)
        >>> spare = [np.zeros(1), big]
        >>> codes = claim(spare, 5, np.int16)  # 10 bytes: more than the first holds
        >>> bool(np.shares_memory(codes, big)), len(spare), codes.dtype.name
        (True, 1, 'int16')
    """
    size = n * np.dtype(dtype).itemsize
    for k, buffer in enumerate(spare):
        if buffer.flags.c_contiguous and buffer.nbytes >= size:
            del spare[k]
            return buffer.reshape(-1).view(np.uint8)[:size].view(dtype)
    return np.empty(n, dtype=dtype)


class Spare:
    """Arrays nobody needs any more, handed out again by ``claim`` (one claimer at a time, so
    threads may share them): memory already touched costs no zeroing by the kernel.

    Example:
        >>> spare = Spare([np.zeros(4, np.int64)])
        >>> spare.claim(3, np.float64).base is not None, spare.claim(3, np.float64).base is None
        (True, True)
    """

    def __init__(self, arrays: Sequence[np.ndarray] = ()) -> None:
        self._arrays = list(arrays)
        self._lock = Lock()

    def claim(self, n: int, dtype: type | np.dtype) -> np.ndarray:
        """``n`` items of ``dtype`` (contents undefined), over a spare array if one fits."""
        with self._lock:
            return claim(self._arrays, n, dtype)


def scatter(
    n: int,
    fill: float,
    dtype: type | np.dtype,
    parts: Sequence[tuple[np.ndarray, npt.ArrayLike]],
    spare: Spare | None = None,
) -> np.ndarray:
    """An array of ``n`` ``fill`` values with ``values`` written at ``positions`` for every
    ``(positions, values)`` in ``parts``; written over a ``spare`` array if one fits.

    Example:
        >>> scatter(4, -1, np.int8, [(np.array([3, 0]), np.array([7, 8]))]).tolist()
        [8, -1, -1, 7]
    """
    out = (spare or Spare()).claim(n, dtype)
    out.fill(fill)
    for positions, values in parts:
        out[positions] = values
    return out


def string_column(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """A string column from codes into ``names``; a negative code is null.

    Names that all have the same length (product ids) are copied as fixed-width items, several
    times faster than Arrow's ``take``; the column is the same either way.

    Example:
        >>> string_column(np.array([1, -1, 0]), ["a", "b"]).to_pylist()
        ['b', None, 'a']
        >>> string_column(np.array([1, -1, 0]), ["ab", "cd"]).to_pylist()
        ['cd', None, 'ab']
    """
    encoded = [name.encode() for name in names]
    valid = codes >= 0
    n = len(codes)
    nulls = n - int(np.count_nonzero(valid))
    width = len(encoded[0]) if encoded else 0
    if not width or any(len(e) != width for e in encoded) or (n - nulls) * width >= 1 << 31:
        return _taken(codes, names, valid, nulls)
    table = np.frombuffer(b"".join(encoded), dtype=np.dtype((np.void, width)))
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    # Each row's length, summed in place: a cumsum from the booleans would cast through a
    # temporary as long as the offsets.
    np.multiply(valid, width, out=offsets[1:], casting="unsafe")
    np.cumsum(offsets[1:], out=offsets[1:])
    data = table[codes[valid]] if nulls else table[codes]
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(data.view(np.uint8)),
        _bitmap(valid) if nulls else None,
        null_count=nulls,
    )


def _taken(codes: np.ndarray, names: Sequence[str], valid: np.ndarray, nulls: int) -> pa.Array:
    """Arrow's ``take`` of ``names`` at ``codes``. A null is taken as an extra empty name and
    the validity laid over: the offsets and data are the same as a take of null indices gives,
    without its slower null-aware path."""
    if not nulls:
        return pc.take(pa.array(list(names), pa.string()), pa.array(codes))
    indices = np.where(valid, codes, len(names)).astype(codes.dtype, copy=False)
    taken = pc.take(pa.array([*names, ""], pa.string()), pa.array(indices))
    _, offsets, data = taken.buffers()
    return pa.StringArray.from_buffers(len(codes), offsets, data, _bitmap(valid), null_count=nulls)


def _bitmap(valid: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


Field = np.ndarray | tuple[np.ndarray, np.ndarray]  # an array, or ``(values, index)``


class PackedFields:
    """Non-negative integer fields of the same rows, packed into as few int64 words as hold them,
    so that one gather moves them all: reading scattered rows is what costs, not the bit work.

    A field is an array, or a pair ``(values, index)`` standing for ``values[index]``, looked up
    a chunk at a time so that it is never made whole. With ``over_first``, the first field (an
    int64 array the caller no longer needs) is packed over.

    Example:
        >>> packed = PackedFields([np.array([5, 6, 7]), np.array([0, 1, 2], np.int8)])
        >>> a, b = packed.take(np.array([2, 0]))
        >>> a.tolist(), b.tolist(), b.dtype.name
        ([7, 5], [2, 0], 'int8')
        >>> names = np.array([30, 10, 20], np.int16)
        >>> a, b = PackedFields([np.array([4, 5]), (names, np.array([2, 0]))]).take(np.array([1]))
        >>> a.tolist(), b.tolist(), b.dtype.name
        ([5], [30], 'int16')
    """

    def __init__(self, fields: Sequence[Field], *, over_first: bool = False) -> None:
        values = [f if isinstance(f, np.ndarray) else f[0] for f in fields]
        self._widths = [int(v.max()).bit_length() if len(v) else 0 for v in values]
        self._dtypes = [v.dtype for v in values]
        self._members: list[list[int]] = [[]]  # the fields of every word, highest bits first
        used = 0
        for i, width in enumerate(self._widths):
            if used + width > _WORD_BITS and self._members[-1]:
                self._members.append([])
                used = 0
            self._members[-1].append(i)
            used += width
        n = len(fields[0]) if isinstance(fields[0], np.ndarray) else len(fields[0][1])
        first = fields[0] if isinstance(fields[0], np.ndarray) else None
        reuse = over_first and first is not None and first.dtype == np.int64
        self._words: list[np.ndarray] = [
            first if reuse and k == 0 and first is not None else np.empty(n, dtype=np.int64)
            for k in range(len(self._members))
        ]
        for start in range(0, n, _CHUNK):
            # Every part of the chunk is read before any word is written: a word may be packed
            # over the first field, which may also index another.
            parts = [_part(f, start) for f in fields]
            for members, word in zip(self._members, self._words, strict=True):
                chunk = word[start : start + _CHUNK]
                if not (reuse and word is first):  # the first field is packed over
                    chunk[:] = parts[members[0]]
                for i in members[1:]:
                    chunk <<= self._widths[i]
                    chunk |= parts[i]

    def take(
        self, index: np.ndarray, *, spare: Sequence[np.ndarray] = (), last: bool = False
    ) -> list[np.ndarray]:
        """``[field[index] for field in fields]``, each in its field's type.

        The gathered fields are written over the ``spare`` arrays (which the caller no longer
        needs) where they fit; with ``last``, also over the packed words, which are then gone.
        """
        n = len(self._words[0]) if self._words else 0
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= n):
            raise IndexError(f"rows to take must lie in [0, {n}), got {index.min()}..{index.max()}")
        pool = list(spare)
        out: list[np.ndarray] = [np.empty(0)] * len(self._widths)
        for members, word in zip(self._members, self._words, strict=True):
            widths = [self._widths[i] for i in members]
            shifts = np.cumsum(widths[::-1])[::-1] - widths  # bits below each field
            gathered = claim(pool, len(index), np.int64)
            np.take(word, index, out=gathered, mode="clip")  # checked above; "raise" would buffer
            if last:
                pool.append(word)
            unpacked = _unpack(
                gathered,
                [
                    (int(shift), self._widths[i], self._dtypes[i])
                    for shift, i in zip(shifts, members, strict=True)
                ],
                pool,
            )
            for i, field in zip(members, unpacked, strict=True):
                out[i] = field
        if last:
            self._words = []
        return out


def _part(field: Field, start: int) -> np.ndarray:
    if isinstance(field, np.ndarray):
        return field[start : start + _CHUNK]
    values, index = field
    return values[index[start : start + _CHUNK]]


def _validity(n: int, parts: Sequence[tuple[np.ndarray, npt.ArrayLike]]) -> tuple[pa.Buffer, int]:
    valid = scatter(n, False, np.bool_, [(positions, True) for positions, _ in parts])
    return _bitmap(valid), n - int(np.count_nonzero(valid))


def sparse_column(
    n: int,
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    type_: pa.DataType,
    fill: float,
    spare: Spare | None = None,
) -> pa.Array:
    """A column of ``n`` rows, null but for ``values`` at ``positions`` in every
    ``(positions, values)`` of ``parts``; ``fill`` sits under the nulls.

    Example:
        >>> sparse_column(3, [(np.array([2]), np.array([1.5]))], pa.float64(), np.nan).to_pylist()
        [None, None, 1.5]
    """
    values = scatter(n, fill, type_.to_pandas_dtype(), parts, spare)
    validity, nulls = _validity(n, parts)
    return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(values)], null_count=nulls)


def sparse_strings(
    n: int, parts: Sequence[tuple[np.ndarray, np.ndarray]], names: Sequence[str]
) -> pa.Array:
    """A string column of ``n`` rows, null but for codes into ``names`` at ``positions`` in every
    ``(positions, codes)`` of ``parts``. Only the rows that carry a string are looked up.

    Example:
        >>> sparse_strings(4, [(np.array([3, 1]), np.array([0, 1]))], ["ab", "c"]).to_pylist()
        [None, 'c', None, 'ab']
    """
    positions, codes = sort_rows([[p for p, _ in parts], [c for _, c in parts]], keep=(0, 1))
    dictionary = pa.array(list(names), pa.string())
    lengths = np.array([len(name.encode()) for name in names], dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[positions + 1] = lengths[codes]
    np.cumsum(offsets, out=offsets)
    data = pc.take(dictionary, pa.array(codes)).buffers()[2] or pa.py_buffer(b"")
    validity, nulls = _validity(n, parts)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), data, validity, null_count=nulls)
