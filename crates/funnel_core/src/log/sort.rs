//! The encoder's sort: rows by (user key, time, input row), and the users numbered densely in key
//! order on the way.
//!
//! One stable parallel scatter by the high bits of the key into buckets, then each bucket on its
//! own: a radix split on the top of the rest of the key, insertion within the small groups, each
//! user's run put in time order, and the columns written back in place. The columns are the
//! scatter's output, so the sort needs no space beyond them and a bucket's scratch.
//!
//! The scatter is fed part by part (a part is a contiguous range of input rows) by whoever has the
//! rows: the Arrow encoder from its column chunks, the Parquet reader from each row group as it is
//! decoded, so a row group's times and events go into the sort while they are still in cache.

use rayon::prelude::*;

use super::codes::Code;
use super::packed::{insertion_by, sort_into, starts_from_counts, Packed, Packing};
use crate::memory::big_uninit;

/// The sorted log, before it becomes an `EncodedLog`.
pub(crate) struct Sorted<C> {
    pub user_offsets: Vec<u32>,
    /// `key - min` of each user, ascending (add `min` back for the key).
    pub user_keys: Vec<u64>,
    pub times: Vec<i64>,
    pub events: Vec<C>,
    pub source_rows: Vec<u32>,
}

/// Rows per bucket to aim for. Measured at 10M rows: 8192 (2048 buckets, each in L2) made the
/// scatter write to too many places at once, 131072 made the buckets spill to L3; 32768 costs
/// least in sum, since one radix split sorts a bucket of any of these sizes.
const BUCKET_ROWS: usize = 32768;
/// At most this many buckets: more would scatter to too many places at once.
const MAX_BUCKET_BITS: u32 = 11;
/// Below this many rows a bucket is sorted by comparison; the radix passes' counters would cost
/// more than the rows.
const SMALL_BUCKET: usize = 96;
/// Bits per in-bucket radix pass at most: 4096 counters stay in L1.
const DIGIT_BITS: u32 = 12;
/// Runs of one user up to this long are put in time order by insertion.
const SHORT_RUN: usize = 32;

/// The part of a key below the bucket bits: `u32` when it fits (dense or moderately sparse keys),
/// which halves the records the bucket sort moves.
pub(crate) trait Key: Copy + Default + Ord + Send + Sync + 'static {
    fn from_low(low: u64) -> Self;
    fn widen(self) -> u64;
}

impl Key for u32 {
    #[inline(always)]
    fn from_low(low: u64) -> Self {
        low as u32
    }
    #[inline(always)]
    fn widen(self) -> u64 {
        self as u64
    }
}

impl Key for u64 {
    #[inline(always)]
    fn from_low(low: u64) -> Self {
        low
    }
    #[inline(always)]
    fn widen(self) -> u64 {
        self
    }
}

/// How keys map to buckets, fixed by the smallest and largest key and the number of rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub min: i64,
    pub total: usize,
    bucket_bits: u32,
    /// Bits of a key below its bucket's.
    shift: u32,
}

impl Layout {
    /// For `total` (> 0) rows with keys in `min..=max`.
    pub fn new((min, max): (i64, i64), total: usize) -> Self {
        let span = max.wrapping_sub(min) as u64;
        let key_bits = u64::BITS - span.leading_zeros();
        let wanted = (total / BUCKET_ROWS)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let bucket_bits = wanted.min(MAX_BUCKET_BITS).min(key_bits);
        Layout {
            min,
            total,
            bucket_bits,
            shift: key_bits - bucket_bits,
        }
    }

    /// Whether the bits below the bucket need a `u64`.
    pub fn wide(&self) -> bool {
        self.shift > u32::BITS
    }

    fn n_buckets(&self) -> usize {
        1 << self.bucket_bits
    }

    /// With one bucket `shift` may be 64; the mask then sends every key to bucket 0.
    #[inline(always)]
    fn bucket_of(&self, offset: u64) -> usize {
        (offset >> (self.shift & 63)) as usize & (self.n_buckets() - 1)
    }

    #[inline(always)]
    fn low_of(&self, offset: u64) -> u64 {
        if self.shift >= 64 {
            offset
        } else {
            offset & ((1u64 << self.shift) - 1)
        }
    }

    /// The offset `key - min` of a key in bucket `bucket` with low bits `low`.
    fn offset_of(&self, bucket: usize, low: u64) -> u64 {
        (bucket as u64).checked_shl(self.shift).unwrap_or(0) | low
    }

    #[inline(always)]
    fn offset(&self, key: i64) -> u64 {
        key.wrapping_sub(self.min) as u64
    }

    /// Rows per bucket among `keys` (those `keep` admits).
    pub fn histogram(&self, keys: &[i64], keep: Option<&[bool]>) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_buckets()];
        match keep {
            None => {
                for &key in keys {
                    counts[self.bucket_of(self.offset(key))] += 1;
                }
            }
            Some(keep) => {
                for (&key, _) in keys.iter().zip(keep).filter(|(_, &k)| k) {
                    counts[self.bucket_of(self.offset(key))] += 1;
                }
            }
        }
        counts
    }
}

/// Where one part writes next in each bucket, and where its share of the bucket ends.
pub(crate) struct Cursor {
    next: Vec<usize>,
    end: Vec<usize>,
}

/// The output columns being filled by the scatter, one part at a time from any thread.
pub(crate) struct Scatter<K, C> {
    layout: Layout,
    bucket_starts: Vec<usize>,
    keys: Vec<K>,
    times: Vec<i64>,
    events: Vec<C>,
    rows: Vec<u32>,
    /// Pointers to the columns' buffers, taken once: the vectors never reallocate.
    out: Out<K, C>,
}

// SAFETY: the columns are only written through `out`, at disjoint slots handed out by the parts'
// cursors (see `flush`), and only read after every writer is done (`finish` takes `self`).
unsafe impl<K: Send, C: Send> Sync for Scatter<K, C> {}

/// Raw pointers into the columns for writes from several threads at disjoint slots.
struct Out<K, C> {
    keys: *mut K,
    times: *mut i64,
    events: *mut C,
    rows: *mut u32,
}

impl<K: Key, C: Code> Scatter<K, C> {
    /// Columns for `histograms` (one per part, in input order) and each part's cursor: part p
    /// writes bucket b after parts 0..p, so every bucket keeps input order.
    pub fn new(layout: Layout, histograms: &[Vec<u32>]) -> (Self, Vec<Cursor>) {
        let n_buckets = layout.n_buckets();
        let mut bucket_starts = vec![0usize; n_buckets + 1];
        let mut cursors: Vec<Cursor> = histograms
            .iter()
            .map(|_| Cursor {
                next: vec![0; n_buckets],
                end: vec![0; n_buckets],
            })
            .collect();
        let mut next = 0usize;
        for b in 0..n_buckets {
            bucket_starts[b] = next;
            for (p, counts) in histograms.iter().enumerate() {
                cursors[p].next[b] = next;
                next += counts[b] as usize;
                cursors[p].end[b] = next;
            }
        }
        bucket_starts[n_buckets] = next;
        let total = next;
        let (mut keys, mut times) = (big_uninit(total), big_uninit(total));
        let (mut events, mut rows) = (big_uninit(total), big_uninit(total));
        let out = Out {
            keys: keys.as_mut_ptr(),
            times: times.as_mut_ptr(),
            events: events.as_mut_ptr(),
            rows: rows.as_mut_ptr(),
        };
        let scatter = Scatter {
            layout: Layout { total, ..layout },
            bucket_starts,
            keys,
            times,
            events,
            rows,
            out,
        };
        (scatter, cursors)
    }

    /// Write one part's rows `(input row, key, time, event)`, in input order. Returns `false`
    /// (and stops) if the rows do not fit the counts the part's histogram announced.
    pub fn write(
        &self,
        cursor: &mut Cursor,
        rows: impl Iterator<Item = (u32, i64, i64, C)>,
    ) -> bool {
        let layout = self.layout;
        let out = &self.out;
        for (row, key, time, event) in rows {
            let offset = layout.offset(key);
            let b = layout.bucket_of(offset);
            let slot = cursor.next[b];
            if slot >= cursor.end[b] {
                return false;
            }
            // SAFETY: `slot` lies inside this part's share of the bucket (checked above), the
            // shares of the parts are disjoint sub-ranges of `0..total`, and each column has
            // capacity `total`; so no slot is written twice or by two threads.
            unsafe {
                out.keys.add(slot).write(K::from_low(layout.low_of(offset)));
                out.times.add(slot).write(time);
                out.events.add(slot).write(event);
                out.rows.add(slot).write(row);
            }
            cursor.next[b] = slot + 1;
        }
        true
    }

    /// Sort every bucket and number the users, once every part is written. `None` if some part
    /// wrote fewer rows than its histogram announced.
    pub fn finish(mut self, cursors: &[Cursor]) -> Option<Sorted<C>> {
        if cursors.iter().any(|c| c.next != c.end) {
            return None;
        }
        let total = self.layout.total;
        // SAFETY: every slot of `0..total` belongs to exactly one part's share of one bucket, and
        // every cursor reached the end of its shares, so every slot was written.
        unsafe {
            self.keys.set_len(total);
            self.times.set_len(total);
            self.events.set_len(total);
            self.rows.set_len(total);
        }
        Some(self.sort_buckets())
    }

    fn sort_buckets(self) -> Sorted<C> {
        let Scatter {
            layout,
            bucket_starts,
            mut keys,
            mut times,
            mut events,
            rows: mut source_rows,
            ..
        } = self;
        let n_buckets = layout.n_buckets();
        let total = layout.total;
        let mut t0 = crate::Phase::start();
        // Each bucket on its own: sort, then count its users.
        let users_per_bucket: Vec<usize> = {
            let mut jobs = Vec::with_capacity(n_buckets);
            let (mut k, mut t, mut e, mut r) = (
                keys.as_mut_slice(),
                times.as_mut_slice(),
                events.as_mut_slice(),
                source_rows.as_mut_slice(),
            );
            for b in 0..n_buckets {
                let len = bucket_starts[b + 1] - bucket_starts[b];
                let (kh, kt) = k.split_at_mut(len);
                let (th, tt) = t.split_at_mut(len);
                let (eh, et) = e.split_at_mut(len);
                let (rh, rt) = r.split_at_mut(len);
                jobs.push(Columns {
                    keys: kh,
                    times: th,
                    events: eh,
                    rows: rh,
                });
                (k, t, e, r) = (kt, tt, et, rt);
            }
            jobs.into_par_iter()
                .with_min_len(8)
                .map_init(Scratch::default, |scratch, bucket| {
                    sort_bucket(bucket, scratch, layout.shift)
                })
                .collect()
        };

        t0.lap("buckets");
        // Users: the first row of every distinct key; every bucket owns its slice of users.
        let n_users: usize = users_per_bucket.iter().sum();
        let mut user_offsets = vec![0u32; n_users + 1];
        let mut user_keys = vec![0u64; n_users];
        {
            let mut jobs = Vec::with_capacity(n_buckets);
            let (mut o, mut u) = (&mut user_offsets[..n_users], user_keys.as_mut_slice());
            for (b, &users) in users_per_bucket.iter().enumerate() {
                let (oh, ot) = o.split_at_mut(users);
                let (uh, ut) = u.split_at_mut(users);
                let start = bucket_starts[b];
                jobs.push((b, start, &keys[start..bucket_starts[b + 1]], oh, uh));
                (o, u) = (ot, ut);
            }
            jobs.into_par_iter().with_min_len(8).for_each(
                |(bucket, start, keys, offsets, users)| {
                    let mut user = 0;
                    for (i, &key) in keys.iter().enumerate() {
                        if i == 0 || key != keys[i - 1] {
                            offsets[user] = (start + i) as u32;
                            users[user] = layout.offset_of(bucket, key.widen());
                            user += 1;
                        }
                    }
                },
            );
        }
        user_offsets[n_users] = total as u32;
        t0.lap("users");
        Sorted {
            user_offsets,
            user_keys,
            times,
            events,
            source_rows,
        }
    }
}

/// Sort the rows of `pieces` (key, time and event slices of consecutive input rows) that `keep`
/// admits, by (key, time, input row), with the keys in `range`.
pub(crate) fn sort_pieces<C: Code>(
    pieces: &[Piece<'_, C>],
    keep: Option<&[bool]>,
    range: (i64, i64),
    total: usize,
) -> Sorted<C> {
    let layout = Layout::new(range, total);
    if layout.wide() {
        sort_pieces_with::<u64, C>(pieces, keep, layout)
    } else {
        sort_pieces_with::<u32, C>(pieces, keep, layout)
    }
}

/// Contiguous input rows `start..start + keys.len()` with their keys, times and event codes.
pub(crate) struct Piece<'a, C> {
    pub start: usize,
    pub keys: &'a [i64],
    pub times: &'a [i64],
    pub events: &'a [C],
}

fn sort_pieces_with<K: Key, C: Code>(
    pieces: &[Piece<'_, C>],
    keep: Option<&[bool]>,
    layout: Layout,
) -> Sorted<C> {
    let mut t0 = crate::Phase::start();
    let parts = split_rows(pieces, rayon::current_num_threads() * 4);
    let histograms: Vec<Vec<u32>> = parts
        .par_iter()
        .map(|part| {
            let mut counts = vec![0u32; layout.n_buckets()];
            for &(piece, from, to) in part {
                let p = &pieces[piece];
                let keep = keep.map(|k| &k[p.start + from..p.start + to]);
                let part_counts = layout.histogram(&p.keys[from..to], keep);
                counts
                    .iter_mut()
                    .zip(part_counts)
                    .for_each(|(a, b)| *a += b);
            }
            counts
        })
        .collect();
    let (scatter, mut cursors) = Scatter::<K, C>::new(layout, &histograms);
    drop(histograms);
    t0.lap("hist");
    let written = parts
        .par_iter()
        .zip(cursors.par_iter_mut())
        .all(|(part, cursor)| scatter.write(cursor, part_rows(pieces, keep, part)));
    // The histograms were taken over the same rows, so the parts always fit.
    assert!(written, "scatter rows differ from their histogram");
    t0.lap("scatter");
    scatter
        .finish(&cursors)
        .expect("every part wrote the rows of its histogram")
}

/// The admitted rows of one part as `(input row, key, time, event)`, in row order.
fn part_rows<'a, C: Code>(
    pieces: &'a [Piece<'a, C>],
    keep: Option<&'a [bool]>,
    part: &'a [(usize, usize, usize)],
) -> impl Iterator<Item = (u32, i64, i64, C)> + 'a {
    part.iter().flat_map(move |&(piece, from, to)| {
        let p = &pieces[piece];
        let rows = p.start + from..p.start + to;
        let keep = keep.map(|k| &k[rows.clone()]);
        rows.zip(&p.keys[from..to])
            .zip(&p.times[from..to])
            .zip(&p.events[from..to])
            .enumerate()
            .filter(move |(i, _)| keep.is_none_or(|k| k[*i]))
            .map(|(_, (((row, &key), &time), &event))| (row as u32, key, time, event))
    })
}

/// Cut the rows into about `parts` contiguous ranges, each a list of (piece, from, to).
fn split_rows<C>(pieces: &[Piece<'_, C>], parts: usize) -> Vec<Vec<(usize, usize, usize)>> {
    let total: usize = pieces.iter().map(|p| p.keys.len()).sum();
    let per_part = total.div_ceil(parts.max(1)).max(1);
    let mut out = vec![Vec::new()];
    let mut filled = 0;
    for (index, piece) in pieces.iter().enumerate() {
        let mut from = 0;
        while from < piece.keys.len() {
            if filled == per_part {
                out.push(Vec::new());
                filled = 0;
            }
            let to = (from + per_part - filled).min(piece.keys.len());
            if let Some(last) = out.last_mut() {
                last.push((index, from, to));
            }
            filled += to - from;
            from = to;
        }
    }
    out
}

/// Smallest and largest key of the rows that `keep` admits; `None` if it admits none.
pub(crate) fn key_range(keys: &[i64], keep: Option<&[bool]>) -> Option<(i64, i64)> {
    match keep {
        None => min_max(keys),
        Some(keep) => keys
            .iter()
            .zip(keep)
            .filter(|(_, &k)| k)
            .fold(None, |range, (&k, _)| {
                Some(match range {
                    None => (k, k),
                    Some((lo, hi)) => (lo.min(k), hi.max(k)),
                })
            }),
    }
}

/// Smallest and largest of `values` in one pass (two would read a large column twice).
pub(crate) fn min_max(values: &[i64]) -> Option<(i64, i64)> {
    let first = *values.first()?;
    // Lanes of eight keep the loop free of a dependency on one running pair, so it vectorises.
    let mut lo = [first; 8];
    let mut hi = [first; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for i in 0..8 {
            lo[i] = lo[i].min(chunk[i]);
            hi[i] = hi[i].max(chunk[i]);
        }
    }
    let rest = chunks.remainder().iter();
    let lo = lo
        .iter()
        .chain(rest.clone())
        .copied()
        .min()
        .unwrap_or(first);
    let hi = hi.iter().chain(rest).copied().max().unwrap_or(first);
    Some((lo, hi))
}

/// One bucket's rows, as slices of the output columns.
struct Columns<'a, K, C> {
    keys: &'a mut [K],
    times: &'a mut [i64],
    events: &'a mut [C],
    rows: &'a mut [u32],
}

/// A row in a bucket sort: its low key bits, time, and position in the bucket (= input order).
#[derive(Debug, Clone, Copy, Default)]
struct Rec<K> {
    time: i64,
    key: K,
    pos: u32,
}

/// Per-thread buffers of the bucket sorts, reused from bucket to bucket.
struct Scratch<K, C> {
    recs: Vec<Rec<K>>,
    spare: Vec<Rec<K>>,
    packed: Vec<Packed>,
    packed_spare: Vec<Packed>,
    events: Vec<C>,
    rows: Vec<u32>,
}

impl<K, C> Default for Scratch<K, C> {
    fn default() -> Self {
        Self {
            recs: Vec::new(),
            spare: Vec::new(),
            packed: Vec::new(),
            packed_spare: Vec::new(),
            events: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// Sort one bucket by (key, time, input row), given that it is in input-row order and that its
/// keys are the low `shift` bits. Returns its number of distinct keys.
fn sort_bucket<K: Key, C: Code>(
    mut bucket: Columns<'_, K, C>,
    s: &mut Scratch<K, C>,
    shift: u32,
) -> usize {
    let len = bucket.keys.len();
    if len == 0 {
        return 0;
    }
    if let Some(users) = sort_bucket_packed(&mut bucket, s) {
        return users;
    }
    s.recs.clear();
    s.recs
        .extend(bucket.keys.iter().zip(bucket.times.iter()).enumerate().map(
            |(pos, (&key, &time))| Rec {
                time,
                key,
                pos: pos as u32,
            },
        ));
    if len <= SMALL_BUCKET {
        // Positions are unique, so this unstable sort is the stable order.
        s.recs.sort_unstable_by_key(|r| (r.key, r.time, r.pos));
    } else {
        s.spare.clear();
        s.spare.resize(len, Rec::default());
        sort_by_key_then_time(&mut s.recs, &mut s.spare, shift);
    }
    let order = s.recs.iter().map(|r| (r.key, r.time, r.pos));
    write_back(&mut bucket, &mut s.events, &mut s.rows, order)
}

/// Write a bucket's rows in their sorted `order` (key, time, position in the bucket), keeping its
/// events and source rows aside in `events` and `rows` first. Returns its number of distinct keys.
fn write_back<K: Key, C: Code>(
    bucket: &mut Columns<'_, K, C>,
    events: &mut Vec<C>,
    rows: &mut Vec<u32>,
    order: impl Iterator<Item = (K, i64, u32)>,
) -> usize {
    events.clear();
    events.extend_from_slice(bucket.events);
    rows.clear();
    rows.extend_from_slice(bucket.rows);
    let mut users = 0;
    let mut previous = None;
    for (i, (key, time, pos)) in order.enumerate() {
        if previous != Some(key) {
            users += 1;
            previous = Some(key);
        }
        bucket.keys[i] = key;
        bucket.times[i] = time;
        bucket.events[i] = events[pos as usize];
        bucket.rows[i] = rows[pos as usize];
    }
    users
}

/// Sort one bucket by its packed (key, time) when they fit one `u64`; `None` (nothing moved)
/// when they do not. Returns its number of distinct keys.
fn sort_bucket_packed<K: Key, C: Code>(
    bucket: &mut Columns<'_, K, C>,
    s: &mut Scratch<K, C>,
) -> Option<usize> {
    let keys = bucket.keys.iter().fold((u64::MAX, 0), |(lo, hi), &k| {
        (lo.min(k.widen()), hi.max(k.widen()))
    });
    let times = bucket
        .times
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let packing = Packing::new(keys, times)?;
    let len = bucket.keys.len();
    let sorts = bucket
        .keys
        .iter()
        .zip(bucket.times.iter())
        .map(|(&key, &time)| packing.pack(key.widen(), time));
    // A file written in (user, time) order leaves every bucket in order: nothing moves, and on
    // other input the check stops at the first row out of order.
    if sorts.clone().is_sorted() {
        let keys = &bucket.keys;
        return Some(1 + keys.windows(2).filter(|w| w[0] != w[1]).count());
    }
    // Scratch only grows: every slot the sort reads, it has written first.
    for buffer in [&mut s.packed, &mut s.packed_spare] {
        if buffer.len() < len {
            buffer.resize(len, Packed::default());
        }
    }
    sort_into(sorts, len, packing.bits, &mut s.packed, &mut s.packed_spare);
    let order = s.packed[..len].iter().map(|r| {
        (
            K::from_low(packing.key(r.sort)),
            packing.time(r.sort),
            r.pos,
        )
    });
    Some(write_back(bucket, &mut s.events, &mut s.rows, order))
}

/// After a stable sort by key, each key's run is in input order; put each run in time order,
/// keeping input order at equal times.
fn order_runs_by_time<K: Key>(recs: &mut [Rec<K>]) {
    let len = recs.len();
    let mut start = 0;
    while start < len {
        let key = recs[start].key;
        let mut end = start + 1;
        while end < len && recs[end].key == key {
            end += 1;
        }
        let run = &mut recs[start..end];
        if !run.windows(2).all(|w| w[0].time <= w[1].time) {
            if run.len() <= SHORT_RUN {
                insertion_by(run, |r| r.time);
            } else {
                run.sort_unstable_by_key(|r| (r.time, r.pos));
            }
        }
        start = end;
    }
}

/// Sort `recs` (in input order, keys `bits` wide) by (key, time) stably, leaving them in `recs`;
/// `spare` is scratch of the same length. One counting pass on the top digit spreads the rows
/// over about twice as many groups as there are rows, so with many distinct keys nearly every
/// group holds one key or a few rows, which insertion finishes: one pass where an LSD sort of
/// sparse 64-bit keys needs five. A large group with key bits left is split the same way again.
fn sort_by_key_then_time<K: Key>(recs: &mut [Rec<K>], spare: &mut [Rec<K>], bits: u32) {
    let len = recs.len();
    if bits == 0 {
        // One key: only the times are left to order.
        order_runs_by_time(recs);
        return;
    }
    if len <= SHORT_RUN {
        insertion_by(recs, |r| (r.key, r.time));
        return;
    }
    let room = usize::BITS - len.leading_zeros() + 1;
    let digit_bits = bits.min(DIGIT_BITS).min(room);
    let at = bits - digit_bits;
    let mask = (1u64 << digit_bits) - 1;
    let digit = |r: &Rec<K>| ((r.key.widen() >> at) & mask) as usize;
    let mut ends = vec![0u32; 1 << digit_bits];
    for r in recs.iter() {
        ends[digit(r)] += 1;
    }
    // A digit every row shares moves nothing: go on with the bits below it.
    if ends.iter().any(|&c| c as usize == len) {
        return sort_by_key_then_time(recs, spare, at);
    }
    starts_from_counts(&mut ends);
    for r in recs.iter() {
        let slot = &mut ends[digit(r)];
        // SAFETY: the slots are the prefix sums of the digits' counts, so each is below `len`
        // and taken once; `spare` has `len` elements.
        unsafe {
            *spare.get_unchecked_mut(*slot as usize) = *r;
        }
        *slot += 1;
    }
    // `ends[g]` is now where group g ends; each group is sorted in `spare`, `recs` its scratch.
    let mut start = 0usize;
    for &end in ends.iter() {
        let end = end as usize;
        if end - start > 1 {
            let group = &mut spare[start..end];
            if at == 0 {
                order_runs_by_time(group);
            } else {
                sort_by_key_then_time(group, &mut recs[start..end], at);
            }
        }
        start = end;
    }
    recs.copy_from_slice(spare);
}

#[cfg(test)]
mod tests {
    //! The in-bucket sort against the standard library's stable sort by (key, time).

    use proptest::prelude::*;

    use super::*;

    fn recs_strategy() -> impl Strategy<Value = (u32, Vec<(u64, i64)>)> {
        // Key widths from one key to 64 bits; few distinct values make long runs and groups
        // that need a second split.
        (0u32..=64, 1u64..2000, 0usize..3000).prop_flat_map(|(bits, distinct, len)| {
            let mask = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let keys = prop::collection::vec((0..distinct, any::<u64>()), len);
            let times = prop::collection::vec(-3i64..4, len);
            (Just(bits), (keys, times)).prop_map(move |(bits, (keys, times))| {
                // `distinct` values spread over the width, so groups share high bits.
                let rows = keys
                    .into_iter()
                    .zip(times)
                    .map(|((k, salt), t)| ((k.wrapping_mul(salt | 1) % distinct.max(1)) & mask, t))
                    .collect();
                (bits, rows)
            })
        })
    }

    proptest! {
        #[test]
        fn min_max_is_the_smallest_and_largest(values in prop::collection::vec(any::<i64>(), 0..100)) {
            let expected = values.iter().copied().min().zip(values.iter().copied().max());
            prop_assert_eq!(min_max(&values), expected);
        }
    }

    proptest! {
        #[test]
        fn sorts_like_a_stable_sort((bits, rows) in recs_strategy()) {
            let mut recs: Vec<Rec<u64>> = rows
                .iter()
                .enumerate()
                .map(|(pos, &(key, time))| Rec { time, key, pos: pos as u32 })
                .collect();
            let mut expected = recs.clone();
            expected.sort_by_key(|r| (r.key, r.time));
            let mut spare = vec![Rec::default(); recs.len()];
            sort_by_key_then_time(&mut recs, &mut spare, bits);
            let order = |v: &[Rec<u64>]| v.iter().map(|r| r.pos).collect::<Vec<_>>();
            prop_assert_eq!(order(&recs), order(&expected));
        }
    }
}
