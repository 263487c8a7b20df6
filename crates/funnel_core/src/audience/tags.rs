//! A tag store: one named bitmap per tag ("gender:F", "age:25-34", "vip"), all over the same
//! log's dense ids, and a tiny stack machine that evaluates a compiled selection expression in
//! one native call.

use rayon::prelude::*;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use std::sync::OnceLock;

use super::chunks::{ChunkIndex, TagChunks};
use super::select::select;
use super::set::{from_sorted, Audience};
use crate::error::{CoreError, Result};

/// Tags are kept run-optimized (Roaring's run containers wherever they are smaller): less
/// memory, and exports write them as they are.
#[derive(Debug, Clone, Default)]
pub struct TagStore {
    universe: u32,
    names: Vec<String>,
    bits: Vec<RoaringBitmap>,
    index: FxHashMap<String, usize>,
    /// The tags by chunk for profiles, built on the first profile after a change.
    chunks: OnceLock<ChunkIndex>,
    /// Each tag's containers for selections, made on its first selection (`select`).
    views: Vec<OnceLock<TagChunks>>,
}

/// One instruction of a compiled selection (postfix order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Push the tag with this index.
    Tag(usize),
    /// Push every user of the log.
    All,
    Not,
    And,
    Or,
    Sub,
    Xor,
}

impl TagStore {
    pub fn new(universe: u32) -> Self {
        Self {
            universe,
            ..Self::default()
        }
    }

    pub fn universe(&self) -> u32 {
        self.universe
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn bitmaps(&self) -> &[RoaringBitmap] {
        &self.bits
    }

    /// The tags laid out for counting (see `chunks`).
    pub(crate) fn chunk_index(&self) -> &ChunkIndex {
        self.chunks.get_or_init(|| ChunkIndex::new(&self.bits))
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn get(&self, name: &str) -> Option<Audience> {
        let i = self.index_of(name)?;
        Some(self.audience(i))
    }

    pub fn audience(&self, i: usize) -> Audience {
        // Bitmaps are checked against the universe on the way in.
        Audience::new(self.bits[i].clone(), self.universe)
            .unwrap_or_else(|_| Audience::empty(self.universe))
    }

    /// Add one tag; a name may be used once.
    pub fn add(&mut self, name: &str, audience: Audience) -> Result<()> {
        if audience.universe() != self.universe {
            return Err(CoreError::InvalidAudience(format!(
                "tag '{name}' was built on a log with {} users but this tag store belongs to a \
                 log with {} users",
                audience.universe(),
                self.universe
            )));
        }
        self.check_new(name)?;
        self.index.insert(name.to_string(), self.names.len());
        self.names.push(name.to_string());
        let mut bits = audience.into_bits();
        bits.optimize();
        self.bits.push(bits);
        self.views.push(OnceLock::new());
        self.chunks = OnceLock::new();
        Ok(())
    }

    /// Remove a tag (to rebuild it), returning whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(i) = self.index.remove(name) else {
            return false;
        };
        self.names.remove(i);
        self.bits.remove(i);
        self.views.remove(i);
        self.chunks = OnceLock::new();
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        true
    }

    fn check_new(&self, name: &str) -> Result<()> {
        if name.is_empty() {
            return Err(CoreError::InvalidAudience(
                "a tag name cannot be empty".into(),
            ));
        }
        if self.index.contains_key(name) {
            return Err(CoreError::InvalidAudience(format!(
                "tag '{name}' already exists in this store; remove it first or pick another name"
            )));
        }
        Ok(())
    }

    /// Add one tag per group: user `ids[i]` gets tag `names[codes[i]]`; negative codes (nulls,
    /// values outside every bin) get none. Groups are built in parallel.
    pub fn add_grouped(&mut self, names: &[String], ids: &[u32], codes: &[i64]) -> Result<()> {
        if ids.len() != codes.len() {
            return Err(CoreError::LengthMismatch {
                column: "group codes".into(),
                found: codes.len(),
                expected: ids.len(),
            });
        }
        for (i, name) in names.iter().enumerate() {
            self.check_new(name)?;
            if names[..i].contains(name) {
                return Err(CoreError::InvalidAudience(format!(
                    "tag '{name}' is produced twice by one column; values must be distinct"
                )));
            }
        }
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
        for (&id, &code) in ids.iter().zip(codes) {
            if code < 0 {
                continue;
            }
            if id >= self.universe {
                return Err(CoreError::InvalidAudience(format!(
                    "user id {id} is outside the log, which has {} users",
                    self.universe
                )));
            }
            match groups.get_mut(code as usize) {
                Some(g) => g.push(id),
                None => {
                    return Err(CoreError::InvalidAudience(format!(
                        "group code {code} has no tag name ({} names given)",
                        names.len()
                    )))
                }
            }
        }
        let bitmaps: Vec<RoaringBitmap> = groups
            .into_par_iter()
            .map(|mut g| {
                g.sort_unstable();
                g.dedup();
                let mut bits = from_sorted(g);
                bits.optimize();
                bits
            })
            .collect();
        for (name, bits) in names.iter().zip(bitmaps) {
            self.index.insert(name.clone(), self.names.len());
            self.names.push(name.clone());
            self.bits.push(bits);
            self.views.push(OnceLock::new());
        }
        self.chunks = OnceLock::new();
        Ok(())
    }

    /// Evaluate a postfix program over the tags, chunk by chunk (see `select`).
    pub fn eval(&self, program: &[Op]) -> Result<Audience> {
        let mut views: Vec<Option<&TagChunks>> = vec![None; self.bits.len()];
        for op in program {
            if let Op::Tag(i) = *op {
                if let (Some(view), Some(bits)) = (self.views.get(i), self.bits.get(i)) {
                    views[i] = Some(view.get_or_init(|| TagChunks::of(bits)));
                }
            }
        }
        Audience::new(select(program, &views, self.universe)?, self.universe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> TagStore {
        let mut s = TagStore::new(10);
        let names = vec!["g:F".to_string(), "g:M".to_string()];
        s.add_grouped(&names, &[0, 1, 2, 3, 4], &[0, 1, 0, -1, 1])
            .unwrap();
        s.add("vip", Audience::from_ids(&[2, 3, 9], 10).unwrap())
            .unwrap();
        s
    }

    fn ids(a: Audience) -> Vec<u32> {
        a.bits().iter().collect()
    }

    #[test]
    fn grouped_tags_skip_negative_codes() {
        let s = store();
        assert_eq!(ids(s.get("g:F").unwrap()), vec![0, 2]);
        assert_eq!(ids(s.get("g:M").unwrap()), vec![1, 4]);
    }

    #[test]
    fn programs_evaluate_in_postfix_order() {
        let s = store();
        // (g:F | vip) - g:M
        let p = [Op::Tag(0), Op::Tag(2), Op::Or, Op::Tag(1), Op::Sub];
        assert_eq!(ids(s.eval(&p).unwrap()), vec![0, 2, 3, 9]);
        // ~vip & g:F
        let p = [Op::Tag(2), Op::Not, Op::Tag(0), Op::And];
        assert_eq!(ids(s.eval(&p).unwrap()), vec![0]);
        assert!(s.eval(&[Op::And]).is_err());
        assert!(s.eval(&[Op::Tag(0), Op::Tag(1)]).is_err());
        assert!(s.eval(&[Op::Tag(7)]).is_err());
    }

    #[test]
    fn duplicate_and_foreign_tags_are_refused() {
        let mut s = store();
        assert!(s.add("vip", Audience::empty(10)).is_err());
        assert!(s.add("x", Audience::empty(11)).is_err());
        assert!(s.remove("g:F"));
        assert_eq!(s.index_of("vip"), Some(1));
    }
}
