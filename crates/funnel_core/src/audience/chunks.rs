//! Tags laid out chunk by chunk (65 536 ids each, as Roaring cuts them) for counting against an
//! audience spread into a plain bitset: a profile then reads each tag's containers once, with no
//! pointer chasing and no per-pair setup, and counts with the CPU's popcount (AVX2 when the CPU
//! has it, detected at run time).
//!
//! The containers come from the bitmaps' standard serialization (the portable Roaring format),
//! the one view of their containers the `roaring` crate gives.

use rayon::prelude::*;
use roaring::RoaringBitmap;

/// Words of 64 ids in one chunk of 65 536.
const CHUNK_WORDS: usize = 1024;

/// One chunk of a tag: which chunk, and where its ids are in the tag's arrays.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Sorted low 16 bits of the ids: `values[at..at + len]`.
    Array { key: u16, at: u32, len: u32 },
    /// 1024 words of bits: `words[at..at + 1024]`.
    Bitmap { key: u16, at: u32 },
    /// Inclusive runs `(start, end)`: `values[at..at + 2 * len]` as pairs.
    Run { key: u16, at: u32, len: u32 },
}

/// One tag's chunks.
#[derive(Debug, Clone, Default)]
struct TagChunks {
    chunks: Vec<Chunk>,
    values: Vec<u16>,
    words: Vec<u64>,
}

/// Every tag of a store as chunks, built once from its bitmaps.
#[derive(Debug, Clone, Default)]
pub struct ChunkIndex {
    tags: Vec<TagChunks>,
}

impl ChunkIndex {
    pub fn new(bitmaps: &[RoaringBitmap]) -> Self {
        ChunkIndex {
            tags: bitmaps.par_iter().map(tag_chunks).collect(),
        }
    }

    /// |tag ∩ audience| for every tag, the audience given as bits (word `i` holds ids
    /// `64 i..64 i + 64`, padded to whole chunks with zeros).
    pub fn intersections(&self, audience: &[u64]) -> Vec<u64> {
        let kernels = Kernels::detect();
        self.tags
            .par_iter()
            .with_min_len(4)
            .map(|tag| tag_hits(tag, audience, kernels))
            .collect()
    }
}

/// Spread a bitmap into bits over `universe` ids, padded to whole chunks; reuses `out`.
pub fn spread(bitmap: &RoaringBitmap, universe: u32, out: &mut Vec<u64>) {
    let words = (universe as usize).div_ceil(64 * CHUNK_WORDS) * CHUNK_WORDS;
    out.clear();
    out.resize(words, 0);
    let tag = tag_chunks(bitmap);
    for chunk in &tag.chunks {
        match *chunk {
            Chunk::Array { key, at, len } => {
                let base = key as usize * CHUNK_WORDS;
                for &v in &tag.values[at as usize..(at + len) as usize] {
                    if let Some(w) = out.get_mut(base + (v as usize >> 6)) {
                        *w |= 1 << (v & 63);
                    }
                }
            }
            Chunk::Bitmap { key, at } => {
                let base = key as usize * CHUNK_WORDS;
                if let Some(dst) = out.get_mut(base..base + CHUNK_WORDS) {
                    dst.copy_from_slice(&tag.words[at as usize..at as usize + CHUNK_WORDS]);
                }
            }
            Chunk::Run { key, at, len } => {
                let base = key as usize * CHUNK_WORDS;
                if let Some(dst) = out.get_mut(base..base + CHUNK_WORDS) {
                    for pair in tag.values[at as usize..(at + 2 * len) as usize].chunks_exact(2) {
                        set_range(dst, pair[0] as usize, pair[1] as usize);
                    }
                }
            }
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
fn tag_chunks(bitmap: &RoaringBitmap) -> TagChunks {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    if bitmap.serialize_into(&mut bytes).is_err() {
        return TagChunks::default();
    }
    parse(&bytes).unwrap_or_default()
}

fn parse(bytes: &[u8]) -> Option<TagChunks> {
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
            let start = tag.values.len() as u32;
            for r in 0..n {
                let first = u16_at(at + 4 * r)?;
                let length = u16_at(at + 4 * r + 2)?;
                tag.values.push(first);
                tag.values.push(first.checked_add(length)?);
            }
            at += 4 * n;
            tag.chunks.push(Chunk::Run {
                key,
                at: start,
                len: n as u32,
            });
        } else if cardinality <= 4096 {
            let start = tag.values.len() as u32;
            let raw = bytes.get(at..at + 2 * cardinality)?;
            tag.values.extend(
                raw.chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]])),
            );
            at += 2 * cardinality;
            tag.chunks.push(Chunk::Array {
                key,
                at: start,
                len: cardinality as u32,
            });
        } else {
            let start = tag.words.len() as u32;
            let raw = bytes.get(at..at + 8 * CHUNK_WORDS)?;
            tag.words.extend(
                raw.chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())),
            );
            at += 8 * CHUNK_WORDS;
            tag.chunks.push(Chunk::Bitmap { key, at: start });
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

    /// Set bits of `words` in the inclusive bit range `first..=last`.
    #[inline]
    fn range_count(self, words: &[u64], first: usize, last: usize) -> u64 {
        let (w0, w1) = (first >> 6, last >> 6);
        let low = !0u64 << (first & 63);
        let high = !0u64 >> (63 - (last & 63));
        if w0 == w1 {
            return (words[w0] & low & high).count_ones() as u64;
        }
        let middle = if w1 > w0 + 1 {
            words[w0 + 1..w1]
                .iter()
                .map(|w| w.count_ones() as u64)
                .sum::<u64>()
        } else {
            0
        };
        (words[w0] & low).count_ones() as u64 + middle + (words[w1] & high).count_ones() as u64
    }
}

fn tag_hits(tag: &TagChunks, audience: &[u64], kernels: Kernels) -> u64 {
    let mut hits = 0u64;
    for chunk in &tag.chunks {
        let key = match *chunk {
            Chunk::Array { key, .. } | Chunk::Bitmap { key, .. } | Chunk::Run { key, .. } => key,
        };
        let base = key as usize * CHUNK_WORDS;
        let Some(words) = audience.get(base..base + CHUNK_WORDS) else {
            continue;
        };
        hits += match *chunk {
            Chunk::Array { at, len, .. } => {
                let values = &tag.values[at as usize..(at + len) as usize];
                values
                    .iter()
                    .map(|&v| (words[v as usize >> 6] >> (v & 63)) & 1)
                    .sum::<u64>()
            }
            Chunk::Bitmap { at, .. } => {
                kernels.and_count(&tag.words[at as usize..at as usize + CHUNK_WORDS], words)
            }
            Chunk::Run { at, len, .. } => tag.values[at as usize..(at + 2 * len) as usize]
                .chunks_exact(2)
                .map(|pair| kernels.range_count(words, pair[0] as usize, pair[1] as usize))
                .sum(),
        };
    }
    hits
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn and_count_popcnt(a: &[u64], b: &[u64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x & y).count_ones() as u64)
        .sum()
}

/// Bytewise popcount by nibble lookup (Muła), summed per 64-bit lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn and_count_avx2(a: &[u64], b: &[u64]) -> u64 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let lookup = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let mut total = _mm256_setzero_si256();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: `i + 4 <= n` words are inside both slices; unaligned 32-byte loads.
        let x = _mm256_loadu_si256(a.as_ptr().add(i).cast());
        let y = _mm256_loadu_si256(b.as_ptr().add(i).cast());
        let v = _mm256_and_si256(x, y);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        let bytes = _mm256_add_epi8(
            _mm256_shuffle_epi8(lookup, lo),
            _mm256_shuffle_epi8(lookup, hi),
        );
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
        i += 4;
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
        let mut dense = Vec::new();
        for audience in &audiences {
            spread(audience, universe, &mut dense);
            let got = index.intersections(&dense);
            let expected: Vec<u64> = tags.iter().map(|t| t.intersection_len(audience)).collect();
            assert_eq!(got, expected);
        }
    }
}
