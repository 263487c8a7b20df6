//! The in-bucket sort when a bucket's key and time fit one `u64` together: the key's offset from
//! the bucket's smallest key above the time's offset from its earliest time. Ordering by that one
//! number is ordering by (key, time), so one radix sort splits on key bits and then goes on into
//! time bits without a separate pass per user: a user with hundreds of events is split by time
//! the same way users are split by key, where a sort by key alone left each such run to a
//! comparison sort.

/// A row of one bucket: its packed key and its position in the bucket (= input order).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Packed {
    pub sort: u64,
    pub pos: u32,
}

/// Bits per radix pass at most: 4096 counters stay in L1.
const DIGIT_BITS: u32 = 12;
/// Groups up to this many rows are finished by insertion.
const SHORT_GROUP: usize = 32;

/// How a bucket's (key, time) pairs pack into one `u64`, if they fit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Packing {
    key_min: u64,
    time_min: i64,
    time_bits: u32,
    /// Every packed value is below `1 << bits`.
    pub bits: u32,
}

impl Packing {
    /// For keys in `key_range` and times in `time_range` (both inclusive), or `None` when their
    /// offsets need more than 64 bits together.
    pub fn new(key_range: (u64, u64), time_range: (i64, i64)) -> Option<Self> {
        let key_bits = u64::BITS - (key_range.1 - key_range.0).leading_zeros();
        let time_span = time_range.1.wrapping_sub(time_range.0) as u64;
        let time_bits = u64::BITS - time_span.leading_zeros();
        (key_bits + time_bits < u64::BITS).then_some(Packing {
            key_min: key_range.0,
            time_min: time_range.0,
            time_bits,
            bits: key_bits + time_bits,
        })
    }

    #[inline(always)]
    pub fn pack(&self, key: u64, time: i64) -> u64 {
        ((key - self.key_min) << self.time_bits) | time.wrapping_sub(self.time_min) as u64
    }

    #[inline(always)]
    pub fn key(&self, packed: u64) -> u64 {
        (packed >> self.time_bits) + self.key_min
    }

    #[inline(always)]
    pub fn time(&self, packed: u64) -> i64 {
        let mask = (1u64 << self.time_bits) - 1;
        self.time_min.wrapping_add((packed & mask) as i64)
    }
}

/// Sort the rows whose packed keys `sorts` yields (in input order; `bits` wide at most) stably
/// into `out`, `spare` being scratch; both at least as long as the rows. The first pass
/// scatters from the bucket's own columns, so the rows are never copied in input order first.
pub(super) fn sort_into(
    sorts: impl Iterator<Item = u64> + Clone,
    len: usize,
    bits: u32,
    out: &mut [Packed],
    spare: &mut [Packed],
) {
    let (out, spare) = (&mut out[..len], &mut spare[..len]);
    if len <= SHORT_GROUP || bits == 0 {
        for (pos, (slot, sort)) in out.iter_mut().zip(sorts).enumerate() {
            *slot = Packed {
                sort,
                pos: pos as u32,
            };
        }
        insertion(out);
        return;
    }
    let room = usize::BITS - len.leading_zeros() + 1;
    let digit_bits = bits.min(DIGIT_BITS).min(room);
    let at = bits - digit_bits;
    let mask = (1u64 << digit_bits) - 1;
    let mut ends = vec![0u32; 1 << digit_bits];
    for sort in sorts.clone() {
        ends[((sort >> at) & mask) as usize] += 1;
    }
    starts_from_counts(&mut ends);
    for (pos, sort) in sorts.enumerate() {
        let slot = &mut ends[((sort >> at) & mask) as usize];
        // SAFETY: the slots are the prefix sums of the digits' counts over the same `len` rows,
        // so each is below `len` and taken once; `out` has `len` elements.
        unsafe {
            *out.get_unchecked_mut(*slot as usize) = Packed {
                sort,
                pos: pos as u32,
            };
        }
        *slot += 1;
    }
    sort_groups(&ends, at, out, spare);
}

/// Sort `recs` (in input order) by `sort` stably, leaving them in `recs`; `spare` is scratch of
/// the same length. Only the bits below the highest one on which the rows differ are looked at,
/// so a group of one user goes straight to its time bits.
pub(super) fn sort_packed(recs: &mut [Packed], spare: &mut [Packed]) {
    let len = recs.len();
    if len <= SHORT_GROUP {
        insertion(recs);
        return;
    }
    let first = recs[0].sort;
    let differ = recs.iter().fold(0u64, |d, r| d | (r.sort ^ first));
    if differ == 0 {
        // All equal: input order is the stable order.
        return;
    }
    let bits = u64::BITS - differ.leading_zeros();
    let room = usize::BITS - len.leading_zeros() + 1;
    let digit_bits = bits.min(DIGIT_BITS).min(room);
    let at = bits - digit_bits;
    let mask = (1u64 << digit_bits) - 1;
    let digit = |r: &Packed| ((r.sort >> at) & mask) as usize;
    // Small groups count into a stack array: zeroing 4096 counters would cost more than them.
    let mut small = [0u32; 256];
    let mut large = Vec::new();
    let ends: &mut [u32] = if digit_bits <= 8 {
        &mut small[..1 << digit_bits]
    } else {
        large.resize(1 << digit_bits, 0);
        &mut large
    };
    for r in recs.iter() {
        ends[digit(r)] += 1;
    }
    starts_from_counts(ends);
    for r in recs.iter() {
        let slot = &mut ends[digit(r)];
        // SAFETY: the slots are the prefix sums of the digits' counts, so each is below `len`
        // and taken once; `spare` has `len` elements.
        unsafe {
            *spare.get_unchecked_mut(*slot as usize) = *r;
        }
        *slot += 1;
    }
    sort_groups(ends, at, spare, recs);
    recs.copy_from_slice(spare);
}

/// Turn counts per digit into where each digit's rows start.
pub(super) fn starts_from_counts(counts: &mut [u32]) {
    let mut next = 0u32;
    for c in counts.iter_mut() {
        let n = *c;
        *c = next;
        next += n;
    }
}

/// After a digit pass `ends[g]` is where group g ends in `split`: sort each group of more than
/// one row that has bits left below the digit (`at`), with `scratch` beside it.
fn sort_groups(ends: &[u32], at: u32, split: &mut [Packed], scratch: &mut [Packed]) {
    if at == 0 {
        return;
    }
    let mut start = 0usize;
    for &end in ends {
        let end = end as usize;
        if end - start > 1 {
            sort_packed(&mut split[start..end], &mut scratch[start..end]);
        }
        start = end;
    }
}

/// Stable insertion sort of a few rows.
fn insertion(run: &mut [Packed]) {
    insertion_by(run, |r| r.sort);
}

/// Stable insertion sort by `key`: a short run is sorted in a few dozen moves, with no call
/// overhead of a general sort.
#[inline]
pub(super) fn insertion_by<T: Copy, K: PartialOrd>(run: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..run.len() {
        let item = run[i];
        let item_key = key(&item);
        let mut j = i;
        while j > 0 && key(&run[j - 1]) > item_key {
            run[j] = run[j - 1];
            j -= 1;
        }
        run[j] = item;
    }
}

#[cfg(test)]
mod tests {
    //! The packed sort against the standard library's stable sort by (key, time).

    use proptest::prelude::*;

    use super::*;

    fn rows_strategy() -> impl Strategy<Value = Vec<(u64, i64)>> {
        // Few distinct keys make long runs of one user; the time spread goes from one instant
        // to most of the 64 bits the key leaves.
        (1u64..3000, 0u32..40, 0usize..4000).prop_flat_map(|(distinct, time_bits, len)| {
            let spread = 1i64 << time_bits;
            prop::collection::vec((0..distinct, -spread..spread), len)
        })
    }

    proptest! {
        #[test]
        fn sorts_like_a_stable_sort(rows in rows_strategy(), key_base in 0u64..1 << 20) {
            let rows: Vec<(u64, i64)> = rows.into_iter().map(|(k, t)| (k + key_base, t)).collect();
            let range = |v: Vec<u64>| (v.iter().copied().min().unwrap_or(0), v.iter().copied().max().unwrap_or(0));
            let keys = range(rows.iter().map(|r| r.0).collect());
            let times = rows.iter().map(|r| r.1);
            let times = (times.clone().min().unwrap_or(0), times.max().unwrap_or(0));
            let packing = Packing::new(keys, times).expect("these ranges fit 64 bits");
            let mut recs: Vec<Packed> = rows
                .iter()
                .enumerate()
                .map(|(pos, &(key, time))| Packed { sort: packing.pack(key, time), pos: pos as u32 })
                .collect();
            let mut spare = vec![Packed::default(); recs.len()];
            sort_packed(&mut recs, &mut spare);
            let mut expected: Vec<usize> = (0..rows.len()).collect();
            expected.sort_by_key(|&i| rows[i]);
            let order: Vec<usize> = recs.iter().map(|r| r.pos as usize).collect();
            prop_assert_eq!(&order, &expected);
            // The same rows straight from their columns, into longer reused buffers.
            let mut out = vec![Packed::default(); rows.len() + 3];
            let mut scratch = vec![Packed { sort: u64::MAX, pos: 7 }; rows.len() + 3];
            let sorts = rows.iter().map(|&(key, time)| packing.pack(key, time));
            sort_into(sorts, rows.len(), packing.bits, &mut out, &mut scratch);
            let order: Vec<usize> = out[..rows.len()].iter().map(|r| r.pos as usize).collect();
            prop_assert_eq!(&order, &expected);
            for r in &recs {
                let (key, time) = rows[r.pos as usize];
                prop_assert_eq!((packing.key(r.sort), packing.time(r.sort)), (key, time));
            }
        }

        #[test]
        fn refuses_ranges_wider_than_64_bits(key_bits in 0u32..64, time_bits in 0u32..64) {
            let keys = (5, 5 + ((1u64 << key_bits) - 1));
            let times = (-7, (-7i64).wrapping_add(((1u64 << time_bits) - 1) as i64));
            let packing = Packing::new(keys, times);
            prop_assert_eq!(packing.is_some(), key_bits + time_bits < 64);
        }
    }
}
