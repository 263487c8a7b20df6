//! A set of users of one log: a Roaring bitmap of dense ids below `universe` (the log's user
//! count). The universe travels with the set so that complement is defined and so that sets of
//! logs of different sizes are refused rather than silently mixed.

use std::sync::{Arc, OnceLock};

use roaring::RoaringBitmap;

use super::chunks::Dense;
use crate::error::{CoreError, Result};

#[derive(Debug, Clone)]
pub struct Audience {
    bits: RoaringBitmap,
    universe: u32,
    /// The set as plain bits, made on its first profile and kept: an audience never changes,
    /// and an analyst profiles the same one against several tag stores and bases.
    dense: OnceLock<Arc<Dense>>,
}

impl PartialEq for Audience {
    fn eq(&self, other: &Self) -> bool {
        self.universe == other.universe && self.bits == other.bits
    }
}

impl Audience {
    /// Wrap a bitmap; every id must be below `universe`.
    pub fn new(bits: RoaringBitmap, universe: u32) -> Result<Self> {
        if let Some(max) = bits.max() {
            if max >= universe {
                return Err(CoreError::InvalidAudience(format!(
                    "user id {max} is outside the log, which has {universe} users (ids 0..{universe})"
                )));
            }
        }
        Ok(Self::with_universe(bits, universe))
    }

    fn with_universe(bits: RoaringBitmap, universe: u32) -> Self {
        Self {
            bits,
            universe,
            dense: OnceLock::new(),
        }
    }

    pub fn empty(universe: u32) -> Self {
        Self::with_universe(RoaringBitmap::new(), universe)
    }

    /// Every user of the log.
    pub fn all(universe: u32) -> Self {
        let mut bits = RoaringBitmap::new();
        bits.insert_range(0..universe);
        Self::with_universe(bits, universe)
    }

    /// From dense ids in any order, duplicates allowed.
    pub fn from_ids(ids: &[u32], universe: u32) -> Result<Self> {
        if let Some(&bad) = ids.iter().find(|&&id| id >= universe) {
            return Err(CoreError::InvalidAudience(format!(
                "user id {bad} is outside the log, which has {universe} users (ids 0..{universe})"
            )));
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        Ok(Self::with_universe(from_sorted(sorted), universe))
    }

    pub fn bits(&self) -> &RoaringBitmap {
        &self.bits
    }

    /// The set as plain bits over the log (see `chunks`), spread once per audience.
    pub(crate) fn dense(&self) -> &Dense {
        self.dense
            .get_or_init(|| Arc::new(Dense::of(&self.bits, self.universe)))
    }

    pub fn into_bits(self) -> RoaringBitmap {
        self.bits
    }

    pub fn universe(&self) -> u32 {
        self.universe
    }

    pub fn len(&self) -> u64 {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.bits.contains(id)
    }

    fn same_log(&self, other: &Audience, op: &str) -> Result<()> {
        if self.universe != other.universe {
            return Err(CoreError::InvalidAudience(format!(
                "cannot {op} audiences of different logs ({} users vs {} users); \
                 build both from the same EventLog",
                self.universe, other.universe
            )));
        }
        Ok(())
    }

    pub fn and(&self, other: &Audience) -> Result<Audience> {
        self.same_log(other, "intersect (&)")?;
        Ok(self.with(&self.bits & &other.bits))
    }

    pub fn or(&self, other: &Audience) -> Result<Audience> {
        self.same_log(other, "unite (|)")?;
        Ok(self.with(&self.bits | &other.bits))
    }

    pub fn sub(&self, other: &Audience) -> Result<Audience> {
        self.same_log(other, "subtract (-)")?;
        Ok(self.with(&self.bits - &other.bits))
    }

    pub fn xor(&self, other: &Audience) -> Result<Audience> {
        self.same_log(other, "take the symmetric difference (^) of")?;
        Ok(self.with(&self.bits ^ &other.bits))
    }

    /// The users of the log not in this set.
    pub fn complement(&self) -> Audience {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.universe);
        self.with(all - &self.bits)
    }

    /// Up to `limit` ids starting at the `offset`-th member, in id order (= original key order).
    pub fn page(&self, offset: u64, limit: Option<u64>) -> Vec<u32> {
        let len = self.bits.len();
        if offset >= len {
            return Vec::new();
        }
        let take = limit.unwrap_or(len).min(len - offset) as usize;
        // `select` jumps to the first member without walking the ones before it.
        let Some(first) = u32::try_from(offset).ok().and_then(|o| self.bits.select(o)) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(take);
        out.extend(self.bits.range(first..).take(take));
        out
    }

    fn with(&self, bits: RoaringBitmap) -> Audience {
        Audience::with_universe(bits, self.universe)
    }
}

/// A bitmap from strictly increasing ids (the caller guarantees the order).
pub(crate) fn from_sorted(ids: impl IntoIterator<Item = u32>) -> RoaringBitmap {
    let ids: Vec<u32> = ids.into_iter().collect();
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return RoaringBitmap::new();
    };
    let base = first & !7;
    let span = (last - base) as usize + 1;
    // Dense sets: set bits in a byte buffer and let roaring cut it into containers, which is
    // an order of magnitude faster than appending ids one at a time.
    if ids.len() * 32 >= span {
        let mut bytes = vec![0u8; span.div_ceil(8)];
        for &id in &ids {
            let bit = (id - base) as usize;
            bytes[bit / 8] |= 1 << (bit % 8);
        }
        return RoaringBitmap::from_lsb0_bytes(base, &bytes);
    }
    let mut bits = RoaringBitmap::new();
    for id in ids {
        // Sorted ids append in O(1); `insert` keeps the result right if a caller errs.
        if bits.try_push(id).is_err() {
            bits.insert(id);
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set(ids: &[u32], universe: u32) -> Audience {
        Audience::from_ids(ids, universe).unwrap()
    }

    #[test]
    fn ids_outside_the_log_are_refused() {
        let err = Audience::from_ids(&[1, 10], 10).unwrap_err();
        assert!(err.to_string().contains("user id 10"), "{err}");
    }

    #[test]
    fn different_logs_do_not_mix() {
        let err = set(&[1], 10).and(&set(&[1], 11)).unwrap_err();
        assert!(err.to_string().contains("different logs"), "{err}");
    }

    #[test]
    fn complement_stays_inside_the_log() {
        let c = set(&[0, 2], 4).complement();
        assert_eq!(c.bits().iter().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(Audience::empty(0).complement().len(), 0);
    }

    #[test]
    fn paging_walks_members_in_order() {
        let a = set(&[9, 3, 5, 7, 1], 10);
        assert_eq!(a.page(0, Some(2)), vec![1, 3]);
        assert_eq!(a.page(2, Some(2)), vec![5, 7]);
        assert_eq!(a.page(4, None), vec![9]);
        assert!(a.page(5, None).is_empty());
    }

    #[test]
    fn dense_and_sparse_construction_agree() {
        for ids in [
            (0u32..100_000).collect::<Vec<_>>(),
            (3u32..200_000).step_by(3).collect(),
            (70_001u32..70_200).collect(),
            vec![u32::MAX - 1, u32::MAX],
            vec![5, 1 << 30],
        ] {
            let bits = from_sorted(ids.iter().copied());
            assert_eq!(bits.iter().collect::<Vec<_>>(), ids);
        }
    }

    proptest! {
        #[test]
        fn algebra_matches_btreeset(a in proptest::collection::vec(0u32..300, 0..200),
                                    b in proptest::collection::vec(0u32..300, 0..200)) {
            let (x, y) = (set(&a, 300), set(&b, 300));
            let (sa, sb): (BTreeSet<u32>, BTreeSet<u32>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let collect = |s: Audience| s.bits().iter().collect::<Vec<_>>();
            prop_assert_eq!(collect(x.and(&y).unwrap()), sa.intersection(&sb).copied().collect::<Vec<_>>());
            prop_assert_eq!(collect(x.or(&y).unwrap()), sa.union(&sb).copied().collect::<Vec<_>>());
            prop_assert_eq!(collect(x.sub(&y).unwrap()), sa.difference(&sb).copied().collect::<Vec<_>>());
            prop_assert_eq!(collect(x.xor(&y).unwrap()), sa.symmetric_difference(&sb).copied().collect::<Vec<_>>());
            prop_assert_eq!(x.complement().len() + x.len(), 300);
        }
    }
}
