//! The rows a run can use: those whose event some step (or exclusion) names. A re-run reads the
//! event codes of a range of rows (a byte each in most logs) and writes the positions of the
//! relevant ones into a buffer kept per thread, so the per-user machines see only those rows.
//!
//! With AVX2 (detected at run time, never assumed at build time) 32 codes are compared at once
//! against each relevant code; otherwise a branch-free scalar loop does the same.

use std::sync::Arc;

use super::steps::MaskSource;
use crate::log::{Code, EncodedLog};

/// Which event codes matter to a run, in the forms the extractors need.
#[derive(Debug, Clone)]
pub(crate) struct Relevant {
    /// Per event code: whether any step or exclusion names it.
    table: Vec<bool>,
    /// The relevant codes, when few enough to compare against directly.
    few: Option<Vec<u8>>,
}

/// Up to this many relevant codes are compared one by one with SIMD; more use the table.
const FEW: usize = 8;

impl Relevant {
    /// From per-code masks (nonzero: relevant).
    pub fn new(masks: &[u32]) -> Self {
        let table: Vec<bool> = masks.iter().map(|&m| m != 0).collect();
        let codes: Vec<usize> = (0..table.len()).filter(|&c| table[c]).collect();
        let few = (codes.len() <= FEW && codes.iter().all(|&c| c <= u8::MAX as usize))
            .then(|| codes.iter().map(|&c| c as u8).collect());
        Relevant { table, few }
    }

    /// Whether `other` names the same events (so rows gathered for it serve this run too).
    pub fn same_events(&self, other: &Relevant) -> bool {
        self.table == other.table
    }

    /// How many rows of `log` have a relevant event.
    pub fn rows_in(&self, log: &EncodedLog) -> u64 {
        (log.event_counts.iter().enumerate())
            .filter(|&(code, _)| self.table.get(code).copied().unwrap_or(false))
            .map(|(_, &count)| count)
            .sum()
    }

    /// Append to `out` the rows `first + i` of `codes` whose code is relevant, in order.
    pub fn extract<C: Code>(&self, codes: &[C], first: usize, out: &mut Vec<u32>) {
        #[cfg(target_arch = "x86_64")]
        if let (Some(few), Some(bytes)) = (&self.few, as_bytes(codes)) {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is available on this CPU (checked just above).
                unsafe { extract_avx2(bytes, few, first, out) };
                return;
            }
        }
        self.extract_scalar(codes, first, out);
    }

    fn extract_scalar<C: Code>(&self, codes: &[C], first: usize, out: &mut Vec<u32>) {
        keep_rows(out, codes.len(), |i| {
            (
                (first + i) as u32,
                self.table.get(codes[i].index()).copied().unwrap_or(false),
            )
        });
    }
}

/// Append to `out` the rows `row(i).0` for `i in 0..n` whose `row(i).1` holds, in order, without
/// zero-filling the room first (the buffer is reused across runs, and filling it would cost a
/// write per row of the log). Each row is written always and kept only when it holds: no
/// branch to mispredict.
pub(crate) fn keep_rows(out: &mut Vec<u32>, n: usize, row: impl Fn(usize) -> (u32, bool)) {
    out.reserve(n + 1);
    let start = out.len();
    let spare = out.spare_capacity_mut();
    let mut count = 0;
    for i in 0..n {
        let (value, keep) = row(i);
        spare[count].write(value);
        count += usize::from(keep);
    }
    // SAFETY: the first `count` slots after `start` were written just above.
    unsafe { out.set_len(start + count) };
}

/// Codes of one byte each, seen as bytes.
fn as_bytes<C: Code>(codes: &[C]) -> Option<&[u8]> {
    if std::mem::size_of::<C>() != 1 {
        return None;
    }
    // SAFETY: `C` is a one-byte integer type (`u8`), so the slice is `codes.len()` valid bytes.
    Some(unsafe { std::slice::from_raw_parts(codes.as_ptr().cast::<u8>(), codes.len()) })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn extract_avx2(codes: &[u8], few: &[u8], first: usize, out: &mut Vec<u32>) {
    use std::arch::x86_64::*;
    // Room for every row; written through the spare capacity, so nothing is zero-filled first.
    out.reserve(codes.len());
    let start = out.len();
    let mut count = start;
    let wanted: Vec<__m256i> = few.iter().map(|&c| _mm256_set1_epi8(c as i8)).collect();
    let blocks = codes.len() / 32;
    let dst = out.as_mut_ptr();
    for block in 0..blocks {
        let at = block * 32;
        // SAFETY: `at + 32 <= codes.len()`; an unaligned load of 32 bytes inside the slice.
        let v = _mm256_loadu_si256(codes.as_ptr().add(at).cast());
        let mut hit = _mm256_setzero_si256();
        for w in &wanted {
            hit = _mm256_or_si256(hit, _mm256_cmpeq_epi8(v, *w));
        }
        let mut bits = _mm256_movemask_epi8(hit) as u32;
        let base = (first + at) as u32;
        while bits != 0 {
            // SAFETY: at most one write per row, and `out` has capacity for `start` plus every
            // row, so `count` stays below its capacity.
            *dst.add(count) = base + bits.trailing_zeros();
            count += 1;
            bits &= bits - 1;
        }
    }
    for (i, &code) in codes.iter().enumerate().skip(blocks * 32) {
        if few.contains(&code) {
            // SAFETY: as above, one slot per row within the capacity.
            *dst.add(count) = (first + i) as u32;
            count += 1;
        }
    }
    // SAFETY: slots `start..count` were all written above.
    out.set_len(count);
}

/// The rows of one user range that some step matches, with what the kernel reads of them side
/// by side. Gathering reads the time column only where these rows are; a run over a `Chunk`
/// reads a few sequential arrays a fifth the size of the log's columns.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    /// The users of the range with at least one row here (positions in the range, ascending):
    /// about half of a log's users have none, and a run passes over those without a look.
    pub users: Vec<u32>,
    /// Per user of `users`: where its rows start; one more entry at the end. Eight bytes a
    /// user with rows instead of four a row, and a run finds each user's rows without a scan.
    pub starts: Vec<u32>,
    /// Encoded row of each row (the log's sorted order): where the product engine finds a
    /// row's held value and the rows a strict order skips.
    pub rows: Vec<u32>,
    /// Input row (`EncodedLog::source_rows`) of each row.
    pub sources: Vec<u32>,
    pub times: Vec<i64>,
    /// `MaskSource::key` of each row.
    pub keys: Vec<u32>,
    /// Set when rows of the user left out (no step matches them) sort just before this row's
    /// instant: in ClickHouse's `(timestamp, step)` order an unrelated row comes before the
    /// steps of its instant, so an unrelated row between two kept rows belongs to the later
    /// one's instant unless it shares the earlier one's time (marked there, as after a user's
    /// last kept row). Only `strict_order` reads these;
    /// rows left out before a user's first kept row never matter (no step 1 yet) and are not
    /// marked.
    pub gaps: Vec<u8>,
    /// For the product engine's strict order, worked out on its first run over the chunk: the
    /// rows (places here) after which a left-out row at an instant of its own breaks a chain,
    /// with that row's time, ascending.
    pub breaks: std::sync::OnceLock<Vec<(u32, i64)>>,
}

impl Chunk {
    /// The rows of the `nth` user of `users`.
    #[inline(always)]
    pub fn rows_of(&self, nth: usize) -> std::ops::Range<usize> {
        self.starts[nth] as usize..self.starts[nth + 1] as usize
    }

    fn clear(&mut self) {
        self.users.clear();
        self.starts.clear();
        self.rows.clear();
        self.sources.clear();
        self.times.clear();
        self.keys.clear();
        self.gaps.clear();
        self.breaks = Default::default();
    }

    /// Replace the contents with the matching rows of `users` (`rows` is scratch space).
    pub fn gather<M: MaskSource>(
        &mut self,
        log: &EncodedLog,
        masks: &M,
        users: std::ops::Range<usize>,
        rows: &mut Vec<u32>,
    ) {
        self.clear();
        let first_row = log.user_offsets[users.start] as usize;
        let last_row = log.user_offsets[users.end] as usize;
        rows.clear();
        masks.extract(first_row..last_row, rows);
        let count = rows.len();
        let first_user = users.start;
        self.rows.reserve(count);
        self.sources.reserve(count);
        self.times.reserve(count);
        self.keys.reserve(count);
        self.gaps.reserve(count);
        let times = &log.times;
        let mut next = 0;
        for user in users {
            let end = log.user_offsets[user + 1];
            let mut previous: Option<usize> = None;
            let start = self.sources.len() as u32;
            while next < count && rows[next] < end {
                let row = rows[next] as usize;
                let time = times[row];
                let mut gap = 0;
                if let Some(before) = previous.filter(|&before| row > before + 1) {
                    // Rows are in time order, so the left-out rows between `before` and `row`
                    // have times from `times[before]` to `time`: only the first and the last
                    // say which instants they fall on.
                    let before_time = times[before];
                    if times[before + 1] == before_time {
                        if let Some(last) = self.gaps.last_mut() {
                            *last = 1;
                        }
                    }
                    gap = u8::from(times[row - 1] > before_time);
                }
                self.rows.push(row as u32);
                self.sources.push(log.source_rows[row]);
                self.times.push(time);
                self.keys.push(masks.key(row));
                self.gaps.push(gap);
                previous = Some(row);
                next += 1;
            }
            let Some(last) = previous else {
                continue;
            };
            self.users.push((user - first_user) as u32);
            self.starts.push(start);
            // Left-out rows after the last kept one matter only at its instant.
            if last + 1 < end as usize && times[last + 1] == times[last] {
                if let Some(gap) = self.gaps.last_mut() {
                    *gap = 1;
                }
            }
        }
        self.starts.push(self.sources.len() as u32);
    }
}

/// Rows gathered for one set of events over one split of the users, kept with the log
/// (`Recycled`) so the next run over the same events, whatever its steps' order, window or mode,
/// reads them instead of the log's columns.
#[derive(Debug)]
pub(crate) struct Gathered {
    pub relevant: Relevant,
    pub ranges: Vec<std::ops::Range<usize>>,
    pub chunks: Vec<Chunk>,
}

/// Gathered rows are kept while they take at most this share of the log's rows (a funnel over
/// most of the events would otherwise keep a copy of most of the log).
const KEEP_SHARE: u64 = 4;

impl Gathered {
    /// The rows kept with `log` for `relevant`'s events over `ranges`, if those are kept.
    pub fn kept(
        log: &EncodedLog,
        relevant: &Relevant,
        ranges: &[std::ops::Range<usize>],
    ) -> Option<Arc<Gathered>> {
        (log.recycled.gathered()).filter(|g| g.relevant.same_events(relevant) && g.ranges == ranges)
    }

    /// Whether the rows of `relevant`'s events are few enough to keep with `log`.
    pub fn may_keep(log: &EncodedLog, relevant: &Relevant) -> bool {
        relevant.rows_in(log) <= log.n_rows() as u64 / KEEP_SHARE
    }

    /// The rows `masks` matches over `ranges` (each range's on the thread pool), kept with `log`
    /// in place of what was kept before.
    pub fn gather_and_keep<M: MaskSource>(
        log: &EncodedLog,
        masks: &M,
        relevant: &Relevant,
        ranges: &[std::ops::Range<usize>],
    ) -> Arc<Gathered> {
        use rayon::prelude::*;
        let gather = || {
            (ranges.par_iter())
                .map(|users| {
                    let mut chunk = Chunk::default();
                    chunk.gather(log, masks, users.clone(), &mut Vec::new());
                    chunk
                })
                .collect()
        };
        let Ok(gathered) =
            Self::keep_built::<std::convert::Infallible>(log, relevant, ranges, || Ok(gather()));
        gathered
    }

    /// Keep with `log`, for `relevant`'s events over `ranges`, the chunks `build` gathers (one
    /// per range, in order), in place of what was kept before.
    pub fn keep_built<E>(
        log: &EncodedLog,
        relevant: &Relevant,
        ranges: &[std::ops::Range<usize>],
        build: impl FnOnce() -> std::result::Result<Vec<Chunk>, E>,
    ) -> std::result::Result<Arc<Gathered>, E> {
        // The rows kept for other events go first: two sets at once would double the memory.
        log.recycled.keep_gathered(None);
        let gathered = Arc::new(Gathered {
            relevant: relevant.clone(),
            ranges: ranges.to_vec(),
            chunks: build()?,
        });
        log.recycled.keep_gathered(Some(gathered.clone()));
        Ok(gathered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_scalar_extract_the_same_rows() {
        let mut x = 7u64;
        let codes: Vec<u8> = (0..10_007)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 30) as u8
            })
            .collect();
        let mut masks = vec![0u32; 30];
        for c in [3, 17, 29] {
            masks[c] = 1;
        }
        let relevant = Relevant::new(&masks);
        let expected: Vec<u32> = (0..codes.len() as u32)
            .filter(|&i| masks[codes[i as usize] as usize] != 0)
            .map(|i| i + 5)
            .collect();
        let mut fast = vec![99];
        relevant.extract(&codes, 5, &mut fast);
        assert_eq!(fast[0], 99);
        assert_eq!(&fast[1..], &expected[..]);
        let mut slow = Vec::new();
        relevant.extract_scalar(&codes, 5, &mut slow);
        assert_eq!(slow, expected);
        let wide: Vec<u16> = codes.iter().map(|&c| c as u16).collect();
        let mut from_wide = Vec::new();
        relevant.extract(&wide, 5, &mut from_wide);
        assert_eq!(from_wide, expected);
    }
}
