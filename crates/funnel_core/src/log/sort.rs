//! The sort at the heart of encoding: rows ordered by (user key, time, input row), dense user ids
//! in key order, in a handful of sequential passes.
//!
//! Keys are i64 (integer user keys, or the sorted codes of string keys). One parallel, stable
//! radix pass scatters every row, carrying its time, event code and input row, into buckets by the
//! top bits of `key - min`; buckets come out in key order. Each bucket is small enough to sort in
//! cache, so the rest runs bucket by bucket on all cores: a stable LSD radix sort on the key's
//! remaining bits, then a stable time sort of each user's run (skipped when already in order).
//! Nothing is hashed and no row is fetched by random access afterwards.

use rayon::prelude::*;

/// A row in flight: everything the encoded log keeps about it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rec {
    /// `key - min` as an unsigned offset: same order as the key.
    pub key: u64,
    pub time: i64,
    pub row: u32,
    pub event: u32,
}

/// Contiguous input rows `start..start + keys.len()` with their keys, times and event codes.
pub(crate) struct Piece<'a> {
    pub start: usize,
    pub keys: &'a [i64],
    pub times: &'a [i64],
    pub events: &'a [u32],
}

/// The sorted log, before it becomes an `EncodedLog`.
pub(crate) struct Sorted {
    pub user_offsets: Vec<u32>,
    /// `key - min` of each user, ascending (add `min` back for the key).
    pub user_keys: Vec<u64>,
    pub times: Vec<i64>,
    pub events: Vec<u32>,
    pub source_rows: Vec<u32>,
}

/// Rows per bucket to aim for: a bucket and its scratch copy (24 bytes a row each) stay in L2.
/// Measured at 10M rows on 2 cores: 8k-16k rows per bucket beat 1k-4k, whose scatter writes to
/// too many places at once.
const BUCKET_ROWS: usize = 8192;
/// At most this many buckets (see `BUCKET_ROWS`).
const MAX_BUCKET_BITS: u32 = 10;
/// Below this many rows a bucket is sorted by comparison; the radix passes' counters would cost
/// more than the rows.
const SMALL_BUCKET: usize = 96;
/// Bits per in-bucket LSD pass.
const DIGIT_BITS: u32 = 11;

/// Smallest and largest key of the rows that `keep` admits; `None` if it admits none.
pub(crate) fn key_range(pieces: &[Piece<'_>], keep: Option<&[bool]>) -> Option<(i64, i64)> {
    pieces
        .par_iter()
        .filter_map(|p| {
            let mut range: Option<(i64, i64)> = None;
            match keep {
                None => {
                    let min = p.keys.iter().copied().min()?;
                    let max = p.keys.iter().copied().max()?;
                    range = Some((min, max));
                }
                Some(keep) => {
                    let keep = &keep[p.start..p.start + p.keys.len()];
                    for (&k, _) in p.keys.iter().zip(keep).filter(|(_, &v)| v) {
                        range = Some(match range {
                            None => (k, k),
                            Some((lo, hi)) => (lo.min(k), hi.max(k)),
                        });
                    }
                }
            }
            range
        })
        .reduce_with(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// Sort the rows that `keep` admits (all when `None`) by (key, time, input row). `min` is the
/// smallest admitted key and `max` the largest; `total` the number of admitted rows (> 0).
pub(crate) fn sort_rows(
    pieces: &[Piece<'_>],
    keep: Option<&[bool]>,
    (min, max): (i64, i64),
    total: usize,
) -> Sorted {
    let span = max.wrapping_sub(min) as u64;
    let key_bits = u64::BITS - span.leading_zeros();
    let wanted = (total / BUCKET_ROWS)
        .max(1)
        .next_power_of_two()
        .trailing_zeros();
    let bucket_bits = wanted.min(MAX_BUCKET_BITS).min(key_bits);
    let shift = key_bits - bucket_bits;
    let n_buckets = 1usize << bucket_bits;
    // With one bucket `shift` may be 64; the mask then sends every key to bucket 0.
    let bucket_of = |key: u64| (key >> (shift & 63)) as usize & (n_buckets - 1);

    // Stable parallel scatter: the rows are cut into parts, each part counts its rows per bucket,
    // and part p writes bucket b after parts 0..p, so every bucket keeps input order.
    let parts = split_rows(pieces, rayon::current_num_threads() * 4);
    let histograms: Vec<Vec<u32>> = parts
        .par_iter()
        .map(|part| {
            let mut counts = vec![0u32; n_buckets];
            visit(pieces, keep, part, |_, key, _, _| {
                counts[bucket_of(key.wrapping_sub(min) as u64)] += 1;
            });
            counts
        })
        .collect();
    let mut bucket_starts = vec![0usize; n_buckets + 1];
    let mut cursors: Vec<Vec<usize>> = vec![vec![0; n_buckets]; parts.len()];
    let mut next = 0usize;
    for b in 0..n_buckets {
        bucket_starts[b] = next;
        for (p, counts) in histograms.iter().enumerate() {
            cursors[p][b] = next;
            next += counts[b] as usize;
        }
    }
    bucket_starts[n_buckets] = next;
    debug_assert_eq!(next, total);
    drop(histograms);

    // The scatter writes straight into the output columns (and a column of keys for the bucket
    // sorts), so no row is copied again after the bucket sorts.
    let mut keys = big_zeroed::<u64>(total);
    let mut times = big_zeroed::<i64>(total);
    let mut events = big_zeroed::<u32>(total);
    let mut source_rows = big_zeroed::<u32>(total);
    let out = SharedOut {
        keys: keys.as_mut_ptr(),
        times: times.as_mut_ptr(),
        events: events.as_mut_ptr(),
        rows: source_rows.as_mut_ptr(),
    };
    parts
        .par_iter()
        .zip(cursors.par_iter_mut())
        .for_each(|(part, cursor)| {
            let out = &out;
            visit(pieces, keep, part, |row, key, time, event| {
                let key = key.wrapping_sub(min) as u64;
                let slot = &mut cursor[bucket_of(key)];
                // SAFETY: the cursors of the parts cover disjoint slots of `0..total` (prefix sums
                // of their own counts), so no slot is written twice or concurrently, and every
                // slot is inside the four vectors of length `total`.
                unsafe {
                    out.keys.add(*slot).write(key);
                    out.times.add(*slot).write(time);
                    out.events.add(*slot).write(event);
                    out.rows.add(*slot).write(row as u32);
                }
                *slot += 1;
            });
        });

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
            .map_init(
                || (Vec::new(), Vec::new()),
                |(a, b), bucket| sort_bucket(bucket, a, b, shift),
            )
            .collect()
    };

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
            jobs.push((start, &keys[start..bucket_starts[b + 1]], oh, uh));
            (o, u) = (ot, ut);
        }
        jobs.into_par_iter()
            .with_min_len(8)
            .for_each(|(start, keys, offsets, users)| {
                let mut user = 0;
                for (i, &key) in keys.iter().enumerate() {
                    if i == 0 || key != keys[i - 1] {
                        offsets[user] = (start + i) as u32;
                        users[user] = key;
                        user += 1;
                    }
                }
            });
    }
    user_offsets[n_users] = total as u32;
    Sorted {
        user_offsets,
        user_keys,
        times,
        events,
        source_rows,
    }
}

/// A vector of `len` zeros for a large buffer that is about to be filled. The allocation comes
/// fresh from the kernel, so its first touch page-faults once per page; asking for huge pages cuts
/// those faults 512-fold (several tens of milliseconds at ten million rows).
fn big_zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    advise_huge_pages(v.as_ptr().cast(), len * std::mem::size_of::<T>());
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *const u8, bytes: usize) {
    const HUGE: usize = 2 << 20;
    if bytes < 4 * HUGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: madvise only advises the kernel about memory this vector owns; MADV_HUGEPAGE
        // never changes its contents. A failure (no THP support) is harmless and ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *const u8, _bytes: usize) {}

/// One bucket's rows, as slices of the output columns.
struct Columns<'a> {
    keys: &'a mut [u64],
    times: &'a mut [i64],
    events: &'a mut [u32],
    rows: &'a mut [u32],
}

/// Call `f(row, key, time, event)` for every admitted row of one part, in row order.
#[inline(always)]
fn visit<F: FnMut(usize, i64, i64, u32)>(
    pieces: &[Piece<'_>],
    keep: Option<&[bool]>,
    part: &[(usize, usize, usize)],
    mut f: F,
) {
    for &(piece, from, to) in part {
        let p = &pieces[piece];
        let (keys, times, events) = (&p.keys[from..to], &p.times[from..to], &p.events[from..to]);
        let rows = p.start + from..p.start + to;
        match keep {
            None => {
                for (((row, &key), &time), &event) in rows.zip(keys).zip(times).zip(events) {
                    f(row, key, time, event);
                }
            }
            Some(keep) => {
                let keep = &keep[rows.clone()];
                for ((((row, &key), &time), &event), _) in rows
                    .zip(keys)
                    .zip(times)
                    .zip(events)
                    .zip(keep)
                    .filter(|(_, &k)| k)
                {
                    f(row, key, time, event);
                }
            }
        }
    }
}

/// The scatter's outputs, written from several threads at disjoint slots.
struct SharedOut {
    keys: *mut u64,
    times: *mut i64,
    events: *mut u32,
    rows: *mut u32,
}
// SAFETY: only used to write disjoint slots (see the scatter), never to read.
unsafe impl Sync for SharedOut {}

/// Cut the rows into about `parts` contiguous ranges, each a list of (piece, from, to).
fn split_rows(pieces: &[Piece<'_>], parts: usize) -> Vec<Vec<(usize, usize, usize)>> {
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

/// Sort one bucket by (key, time, input row), given that it is in input-row order and that its
/// keys differ only in their low `shift` bits. Returns its number of distinct keys.
fn sort_bucket(
    bucket: Columns<'_>,
    recs: &mut Vec<Rec>,
    scratch: &mut Vec<Rec>,
    shift: u32,
) -> usize {
    let len = bucket.keys.len();
    if len == 0 {
        return 0;
    }
    recs.clear();
    recs.extend(
        bucket
            .keys
            .iter()
            .zip(bucket.times.iter())
            .zip(bucket.events.iter())
            .zip(bucket.rows.iter())
            .map(|(((&key, &time), &event), &row)| Rec {
                key,
                time,
                row,
                event,
            }),
    );
    if len <= SMALL_BUCKET {
        // Input rows are unique, so this unstable sort is the stable order.
        recs.sort_unstable_by_key(|r| (r.key, r.time, r.row));
    } else {
        radix_by_key(recs, scratch, shift);
        // Stable LSD leaves each user's rows in input order: sorting a run by (time, row) keeps
        // ties in input order.
        let mut start = 0;
        while start < len {
            let key = recs[start].key;
            let mut end = start + 1;
            while end < len && recs[end].key == key {
                end += 1;
            }
            let run = &mut recs[start..end];
            if !run.windows(2).all(|w| w[0].time <= w[1].time) {
                run.sort_unstable_by_key(|r| (r.time, r.row));
            }
            start = end;
        }
    }
    let mut users = 0;
    for (i, r) in recs.iter().enumerate() {
        if i == 0 || r.key != recs[i - 1].key {
            users += 1;
        }
        bucket.keys[i] = r.key;
        bucket.times[i] = r.time;
        bucket.events[i] = r.event;
        bucket.rows[i] = r.row;
    }
    users
}

/// Stable LSD radix sort of a bucket on the low `bits` bits of its keys.
fn radix_by_key(bucket: &mut [Rec], scratch: &mut Vec<Rec>, bits: u32) {
    if bits == 0 {
        return;
    }
    let passes = bits.div_ceil(DIGIT_BITS);
    let digit_bits = bits.div_ceil(passes);
    let mask = (1u64 << digit_bits) - 1;
    scratch.clear();
    scratch.resize(bucket.len(), Rec::default());
    let mut counts = vec![0usize; 1 << digit_bits];
    let mut in_scratch = false;
    for pass in 0..passes {
        let at = pass * digit_bits;
        let (from, to): (&[Rec], &mut [Rec]) = if in_scratch {
            (&scratch[..], &mut *bucket)
        } else {
            (&*bucket, &mut scratch[..])
        };
        counts.fill(0);
        for r in from {
            counts[((r.key >> at) & mask) as usize] += 1;
        }
        // A digit every row shares moves nothing.
        if counts.contains(&from.len()) {
            continue;
        }
        let mut next = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = next;
            next += n;
        }
        for r in from {
            let d = ((r.key >> at) & mask) as usize;
            to[counts[d]] = *r;
            counts[d] += 1;
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        bucket.copy_from_slice(scratch);
    }
}
