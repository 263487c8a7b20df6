//! Tags laid out chunk by chunk (65 536 ids each, as Roaring cuts them) for counting against an
//! audience spread into a plain bitset. The layout is chunk-major: all tags' containers of one
//! chunk sit together, so a profile walks the tag data once, in memory order, while the
//! audience's 8 KiB of that chunk stays in the L1 cache; chunks the audience does not reach are
//! skipped, and the chunks are shared out between the cores. Counting uses the CPU's popcount
//! (AVX2 when the CPU has it, detected at run time, so one wheel serves every x86-64 CPU).
//!
//! The containers come from the bitmaps' standard serialization (the portable Roaring format),
//! the one view of their containers the `roaring` crate gives.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::memory::big_uninit;

/// Words of 64 ids in one chunk of 65 536.
pub(crate) const CHUNK_WORDS: usize = 1024;

/// Arrays of at least this many ids are laid out as bitmaps: above it, probing the audience
/// once per id costs more than one popcount pass over 8 KiB (measured on 1M and 10M users).
const BITMAP_FROM: usize = 1024;

/// Where one container's ids are in the index's arrays.
#[derive(Debug, Clone, Copy)]
enum Container {
    /// Sorted low 16 bits of the ids: `values[at..at + len]`.
    Array { at: usize, len: usize },
    /// 1024 words of bits: `words[at..at + 1024]`.
    Bitmap { at: usize },
    /// Inclusive runs `(start, end)`: `values[at..at + 2 * len]` as pairs.
    Run { at: usize, len: usize },
}

/// One tag's containers in key order: interleaved chunk by chunk for profiles, read as they
/// are by selections (`select`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TagChunks {
    chunks: Vec<(u16, Container)>,
    values: Vec<u16>,
    words: Vec<u64>,
}

/// One chunk of one tag, as a selection reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    /// Sorted low 16 bits of the ids.
    Array(&'a [u16]),
    Bitmap(&'a [u64; CHUNK_WORDS]),
    /// Inclusive runs as `(first, last)` pairs.
    Runs(&'a [u16]),
}

impl TagChunks {
    /// The containers of `bitmap` (arrays of 1024 ids or more as bitmaps, as profiles have them).
    pub(crate) fn of(bitmap: &RoaringBitmap) -> Self {
        tag_chunks(bitmap, BITMAP_FROM)
    }

    /// The tag's users in chunk `key`, or None when it has none there.
    pub(crate) fn part(&self, key: u16) -> Option<Part<'_>> {
        let i = self.chunks.binary_search_by_key(&key, |&(k, _)| k).ok()?;
        Some(match self.chunks[i].1 {
            Container::Array { at, len } => Part::Array(self.values.get(at..at + len)?),
            Container::Bitmap { at } => {
                Part::Bitmap(self.words.get(at..at + CHUNK_WORDS)?.try_into().ok()?)
            }
            Container::Run { at, len } => Part::Runs(self.values.get(at..at + 2 * len)?),
        })
    }
}

/// Every tag of a store, chunk-major, built once from its bitmaps.
#[derive(Debug, Clone, Default)]
pub struct ChunkIndex {
    n_tags: usize,
    /// The containers of chunk `c` are `entries[starts[c]..starts[c + 1]]`.
    starts: Vec<usize>,
    /// (tag, container), tags ascending within a chunk.
    entries: Vec<(u32, Container)>,
    values: Vec<u16>,
    words: Vec<u64>,
}

/// An audience as plain bits over the whole log (word `i` holds ids `64 i..64 i + 64`, padded
/// to whole chunks with zeros), with which chunks hold any of its users.
#[derive(Clone, Default)]
pub struct Dense {
    words: Vec<u64>,
    present: Vec<bool>,
}

impl std::fmt::Debug for Dense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reached = self.present.iter().filter(|&&p| p).count();
        write!(f, "Dense({reached} of {} chunks)", self.present.len())
    }
}

impl Dense {
    /// Spread a bitmap into bits over `universe` ids.
    pub fn of(bitmap: &RoaringBitmap, universe: u32) -> Self {
        let n_chunks = (universe as usize).div_ceil(64 * CHUNK_WORDS);
        let mut words = vec![0u64; n_chunks * CHUNK_WORDS];
        let mut present = vec![false; n_chunks];
        let tag = tag_chunks(bitmap, usize::MAX);
        for &(key, container) in &tag.chunks {
            let base = key as usize * CHUNK_WORDS;
            let Some(dst) = words.get_mut(base..base + CHUNK_WORDS) else {
                continue;
            };
            present[key as usize] = true;
            match container {
                Container::Array { at, len } => {
                    for &v in &tag.values[at..at + len] {
                        dst[v as usize >> 6] |= 1 << (v & 63);
                    }
                }
                Container::Bitmap { at } => {
                    dst.copy_from_slice(&tag.words[at..at + CHUNK_WORDS]);
                }
                Container::Run { at, len } => {
                    for pair in tag.values[at..at + 2 * len].chunks_exact(2) {
                        set_range(dst, pair[0] as usize, pair[1] as usize);
                    }
                }
            }
        }
        Dense { words, present }
    }

    /// The bits of chunk `key`, or None when the audience has nobody there.
    #[inline]
    fn chunk(&self, key: usize) -> Option<&[u64; CHUNK_WORDS]> {
        if !*self.present.get(key)? {
            return None;
        }
        self.words
            .get(key * CHUNK_WORDS..(key + 1) * CHUNK_WORDS)?
            .try_into()
            .ok()
    }
}

impl ChunkIndex {
    pub fn new(bitmaps: &[RoaringBitmap]) -> Self {
        let tags: Vec<TagChunks> = bitmaps
            .par_iter()
            .map(|b| tag_chunks(b, BITMAP_FROM))
            .collect();
        let n_chunks = tags
            .iter()
            .filter_map(|t| t.chunks.last())
            .map(|&(key, _)| key as usize + 1)
            .max()
            .unwrap_or(0);
        let mut index = ChunkIndex {
            n_tags: tags.len(),
            starts: Vec::with_capacity(n_chunks + 1),
            entries: Vec::with_capacity(tags.iter().map(|t| t.chunks.len()).sum()),
            values: Vec::with_capacity(tags.iter().map(|t| t.values.len()).sum()),
            words: big_uninit(tags.iter().map(|t| t.words.len()).sum()),
        };
        // Each tag's containers are in key order: walk them all with one cursor per tag.
        let mut cursor = vec![0usize; tags.len()];
        for key in 0..n_chunks {
            index.starts.push(index.entries.len());
            for (t, tag) in tags.iter().enumerate() {
                let Some(&(k, container)) = tag.chunks.get(cursor[t]) else {
                    continue;
                };
                if k as usize != key {
                    continue;
                }
                cursor[t] += 1;
                let moved = match container {
                    Container::Array { at, len } => {
                        let start = index.values.len();
                        index.values.extend_from_slice(&tag.values[at..at + len]);
                        Container::Array { at: start, len }
                    }
                    Container::Bitmap { at } => {
                        let start = index.words.len();
                        index
                            .words
                            .extend_from_slice(&tag.words[at..at + CHUNK_WORDS]);
                        Container::Bitmap { at: start }
                    }
                    Container::Run { at, len } => {
                        let start = index.values.len();
                        index
                            .values
                            .extend_from_slice(&tag.values[at..at + 2 * len]);
                        Container::Run { at: start, len }
                    }
                };
                index.entries.push((t as u32, moved));
            }
        }
        index.starts.push(index.entries.len());
        index
    }

    /// |tag ∩ audience| for every tag.
    pub fn intersections(&self, audience: &Dense) -> Vec<u64> {
        let kernels = Kernels::detect();
        let n_chunks = self.starts.len().saturating_sub(1);
        let zeros = || vec![0u64; self.n_tags];
        (0..n_chunks)
            .into_par_iter()
            .fold(zeros, |mut counts, key| {
                if let Some(bits) = audience.chunk(key) {
                    self.count_chunk(key, bits, kernels, &mut counts);
                }
                counts
            })
            .reduce(zeros, |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            })
    }

    fn count_chunk(
        &self,
        key: usize,
        bits: &[u64; CHUNK_WORDS],
        kernels: Kernels,
        counts: &mut [u64],
    ) {
        for &(tag, container) in &self.entries[self.starts[key]..self.starts[key + 1]] {
            counts[tag as usize] += match container {
                Container::Array { at, len } => self.values[at..at + len]
                    .iter()
                    .map(|&v| (bits[v as usize >> 6] >> (v & 63)) & 1)
                    .sum::<u64>(),
                Container::Bitmap { at } => {
                    kernels.and_count(&self.words[at..at + CHUNK_WORDS], bits)
                }
                Container::Run { at, len } => self.values[at..at + 2 * len]
                    .chunks_exact(2)
                    .map(|pair| range_count(bits, pair[0] as usize, pair[1] as usize))
                    .sum(),
            };
        }
    }
}

/// Set the inclusive bit range `first..=last` of `words`.
fn set_range(words: &mut [u64], first: usize, last: usize) {
    let (w0, w1) = (first >> 6, last >> 6);
    let low = !0u64 << (first & 63);
    let high = !0u64 >> (63 - (last & 63));
    if w0 == w1 {
        words[w0] |= low & high;
        return;
    }
    words[w0] |= low;
    words[w0 + 1..w1].fill(!0);
    words[w1] |= high;
}

/// A bitmap's containers, read from its portable serialization (which this crate wrote, so a
/// malformed one is a bug: it yields an empty tag rather than a panic).
/// Arrays of `bitmap_from` ids or more come out as bitmaps.
fn tag_chunks(bitmap: &RoaringBitmap, bitmap_from: usize) -> TagChunks {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    if bitmap.serialize_into(&mut bytes).is_err() {
        return TagChunks::default();
    }
    parse(&bytes, bitmap_from).unwrap_or_default()
}

fn parse(bytes: &[u8], bitmap_from: usize) -> Option<TagChunks> {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let cookie = u32_at(0)?;
    let (size, runs, mut at) = if cookie & 0xFFFF == 12347 {
        let size = (cookie >> 16) as usize + 1;
        let flags = bytes.get(4..4 + size.div_ceil(8))?;
        (size, Some(flags), 4 + size.div_ceil(8))
    } else if cookie == 12346 {
        (u32_at(4)? as usize, None, 8)
    } else {
        return None;
    };
    let descriptions = at;
    at += 4 * size;
    // Offsets follow unless runs are present and the containers are fewer than four.
    if runs.is_none() || size >= 4 {
        at += 4 * size;
    }
    let mut tag = TagChunks::default();
    for i in 0..size {
        let key = u16_at(descriptions + 4 * i)?;
        let cardinality = u16_at(descriptions + 4 * i + 2)? as usize + 1;
        let is_run = runs.is_some_and(|f| f[i / 8] & (1 << (i % 8)) != 0);
        if is_run {
            let n = u16_at(at)? as usize;
            at += 2;
            let start = tag.values.len();
            for r in 0..n {
                let first = u16_at(at + 4 * r)?;
                let length = u16_at(at + 4 * r + 2)?;
                tag.values.push(first);
                tag.values.push(first.checked_add(length)?);
            }
            at += 4 * n;
            tag.chunks.push((key, Container::Run { at: start, len: n }));
        } else if cardinality <= 4096 {
            let raw = bytes.get(at..at + 2 * cardinality)?;
            at += 2 * cardinality;
            let values = raw
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]));
            if cardinality >= bitmap_from {
                let start = tag.words.len();
                tag.words.resize(start + CHUNK_WORDS, 0);
                let dst = &mut tag.words[start..];
                for v in values {
                    dst[v as usize >> 6] |= 1 << (v & 63);
                }
                tag.chunks.push((key, Container::Bitmap { at: start }));
            } else {
                let start = tag.values.len();
                tag.values.extend(values);
                tag.chunks.push((
                    key,
                    Container::Array {
                        at: start,
                        len: cardinality,
                    },
                ));
            }
        } else {
            let start = tag.words.len();
            let raw = bytes.get(at..at + 8 * CHUNK_WORDS)?;
            tag.words.extend(
                raw.chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())),
            );
            at += 8 * CHUNK_WORDS;
            tag.chunks.push((key, Container::Bitmap { at: start }));
        }
    }
    Some(tag)
}

/// The counting kernels this CPU runs best, chosen once per call.
#[derive(Clone, Copy)]
struct Kernels {
    avx2: bool,
    popcnt: bool,
}

impl Kernels {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Kernels {
                avx2: std::arch::is_x86_feature_detected!("avx2"),
                popcnt: std::arch::is_x86_feature_detected!("popcnt"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Kernels {
            avx2: false,
            popcnt: false,
        }
    }

    /// Σ popcount(a[i] & b[i]).
    #[inline]
    fn and_count(self, a: &[u64], b: &[u64]) -> u64 {
        #[cfg(target_arch = "x86_64")]
        {
            if self.avx2 {
                // SAFETY: AVX2 was detected on this CPU.
                return unsafe { and_count_avx2(a, b) };
            }
            if self.popcnt {
                // SAFETY: POPCNT was detected on this CPU.
                return unsafe { and_count_popcnt(a, b) };
            }
        }
        a.iter()
            .zip(b)
            .map(|(x, y)| (x & y).count_ones() as u64)
            .sum()
    }
}

/// Set bits of `words` in the inclusive bit range `first..=last` (both below 65 536).
#[inline]
fn range_count(words: &[u64; CHUNK_WORDS], first: usize, last: usize) -> u64 {
    let (w0, w1) = (first >> 6, last >> 6);
    let low = !0u64 << (first & 63);
    let high = !0u64 >> (63 - (last & 63));
    if w0 == w1 {
        return (words[w0] & low & high).count_ones() as u64;
    }
    let middle: u64 = words[w0 + 1..w1]
        .iter()
        .map(|w| w.count_ones() as u64)
        .sum();
    (words[w0] & low).count_ones() as u64 + middle + (words[w1] & high).count_ones() as u64
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn and_count_popcnt(a: &[u64], b: &[u64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x & y).count_ones() as u64)
        .sum()
}

/// Bytewise popcount by nibble lookup (Muła). Byte counts add up over eight vectors (at most
/// 64 per byte) before one widening sum, and the tag's words are prefetched 2 KiB ahead: a large
/// store streams from memory, and the prefetch runs on into the next container, which follows
/// in memory.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn and_count_avx2(a: &[u64], b: &[u64]) -> u64 {
    const AHEAD: usize = 256;
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let lookup = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let mut total = _mm256_setzero_si256();
    let mut i = 0;
    while i + 32 <= n {
        // A prefetch never faults, so the addresses may run past the slice (wrapping_add
        // computes them without claiming they are inside it).
        for line in (0..32).step_by(8) {
            _mm_prefetch::<_MM_HINT_T0>(a.as_ptr().wrapping_add(i + AHEAD + line).cast());
        }
        let mut acc = _mm256_setzero_si256();
        for j in 0..8 {
            // SAFETY: `i + 32 <= n` words are inside both slices; unaligned 32-byte loads.
            let x = _mm256_loadu_si256(a.as_ptr().add(i + 4 * j).cast());
            let y = _mm256_loadu_si256(b.as_ptr().add(i + 4 * j).cast());
            let v = _mm256_and_si256(x, y);
            let lo = _mm256_and_si256(v, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            acc = _mm256_add_epi8(
                acc,
                _mm256_add_epi8(
                    _mm256_shuffle_epi8(lookup, lo),
                    _mm256_shuffle_epi8(lookup, hi),
                ),
            );
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc, _mm256_setzero_si256()));
        i += 32;
    }
    let mut lanes = [0u64; 4];
    _mm256_storeu_si256(lanes.as_mut_ptr().cast(), total);
    let mut sum: u64 = lanes.iter().sum();
    while i < n {
        sum += (a[i] & b[i]).count_ones() as u64;
        i += 1;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bitmap(ids: impl IntoIterator<Item = u32>) -> RoaringBitmap {
        ids.into_iter().collect()
    }

    #[test]
    fn counts_match_roaring_for_arrays_bitmaps_and_runs() {
        let universe = 300_000u32;
        let mut x = 3u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut tags = vec![
            bitmap((0..universe).filter(|i| i % 97 == 0)),
            bitmap((0..universe).filter(|i| i % 3 != 0)),
            bitmap(1000..250_000),
            RoaringBitmap::new(),
            bitmap((0..5000).map(|_| rnd(universe as u64) as u32)),
        ];
        let mut runs = bitmap((70_000..140_000).chain(200_000..200_010));
        runs.optimize();
        tags.push(runs);
        let audiences = [
            bitmap((0..universe).filter(|i| i % 5 == 0)),
            bitmap((0..20_000).map(|_| rnd(universe as u64) as u32)),
            bitmap(0..universe),
        ];
        let index = ChunkIndex::new(&tags);
        for audience in &audiences {
            let got = index.intersections(&Dense::of(audience, universe));
            let expected: Vec<u64> = tags.iter().map(|t| t.intersection_len(audience)).collect();
            assert_eq!(got, expected);
        }
    }

    /// A bitmap over `universe` ids: every `step`-th id of a range, or a run-optimized range.
    fn shaped(universe: u32, (kind, a, b, step): (u8, u32, u32, u32)) -> RoaringBitmap {
        let (first, last) = (a.min(b) % universe, a.max(b) % universe);
        let mut bits = bitmap((first..last).step_by(step as usize + 1));
        if kind == 1 {
            bits.optimize();
        } else if kind == 2 {
            bits = RoaringBitmap::new();
        }
        bits
    }

    fn shapes() -> impl Strategy<Value = (u8, u32, u32, u32)> {
        (
            0u8..3,
            any::<u32>(),
            any::<u32>(),
            prop_oneof![Just(0u32), 1..4u32, 20..80u32, 2000..9000u32],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn counts_match_roaring_for_any_shapes(
            universe in 1u32..200_000,
            tags in proptest::collection::vec(shapes(), 1..5),
            audience in shapes(),
        ) {
            let tags: Vec<RoaringBitmap> = tags.into_iter().map(|s| shaped(universe, s)).collect();
            let audience = shaped(universe, audience);
            let index = ChunkIndex::new(&tags);
            let expected: Vec<u64> = tags.iter().map(|t| t.intersection_len(&audience)).collect();
            prop_assert_eq!(index.intersections(&Dense::of(&audience, universe)), expected);
        }
    }
}
