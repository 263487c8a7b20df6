//! The file format of saved audiences and tag stores. It stores ORIGINAL user keys, so a file
//! saved from one log can be loaded onto another (a newer export of the same users):
//!
//! ```text
//! "FWBITMAP" · version u8 (1) · key kind u8 (0 = i64, 1 = UTF-8)
//! n_keys u64 · keys (i64 LE each, or u32 length + bytes each), strictly ascending
//! n_tags u32 · per tag: u32 name length + UTF-8 name · u64 length + portable Roaring bitmap
//!                       of indices into the key table
//! ```
//!
//! Only the keys some tag uses are stored. Loading maps them to the target log's dense ids;
//! members whose key the log lacks are dropped and counted per tag.

use roaring::RoaringBitmap;

use super::set::{from_sorted, Audience};
use crate::error::{CoreError, Result};
use crate::log::UserKeys;

const MAGIC: &[u8; 8] = b"FWBITMAP";
const VERSION: u8 = 1;
const FORMAT: &str = "workbench bitmap file";

/// Serialize named bitmaps over a log's dense ids, with that log's keys.
pub fn save(names: &[&str], bitmaps: &[&RoaringBitmap], keys: &UserKeys) -> Result<Vec<u8>> {
    let universe = keys.len();
    let mut used = RoaringBitmap::new();
    for b in bitmaps {
        if b.max().is_some_and(|m| m as usize >= universe) {
            return Err(CoreError::InvalidAudience(
                "a bitmap refers to users outside the log being saved".into(),
            ));
        }
        used |= *b;
    }
    // Compact index of each used dense id (monotone, so bitmaps stay sorted).
    let mut compact = vec![u32::MAX; universe];
    for (i, id) in used.iter().enumerate() {
        compact[id as usize] = i as u32;
    }
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    match keys {
        UserKeys::Int(table) => {
            out.push(0);
            out.extend_from_slice(&used.len().to_le_bytes());
            for id in &used {
                out.extend_from_slice(&table[id as usize].to_le_bytes());
            }
        }
        UserKeys::Str(table) => {
            out.push(1);
            out.extend_from_slice(&used.len().to_le_bytes());
            for id in &used {
                let k = table[id as usize].as_bytes();
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
            }
        }
    }
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for (name, b) in names.iter().zip(bitmaps) {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        let mut local = from_sorted(b.iter().map(|id| compact[id as usize]));
        local.optimize();
        let mut payload = Vec::with_capacity(local.serialized_size());
        let _ = local.serialize_into(&mut payload);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    Ok(out)
}

/// Named audiences read from a file, mapped onto a log.
#[derive(Debug)]
pub struct Loaded {
    pub names: Vec<String>,
    pub audiences: Vec<Audience>,
    /// Per tag: members whose key is not in the target log.
    pub dropped: Vec<u64>,
}

/// Read a file written by [`save`] and map it onto the log whose keys are `keys`.
pub fn load(bytes: &[u8], keys: &UserKeys) -> Result<Loaded> {
    let mut r = Cursor { bytes, pos: 0 };
    if r.take(8)? != MAGIC {
        return Err(corrupt(
            0,
            "not a workbench bitmap file (magic bytes differ)".into(),
        ));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(corrupt(
            8,
            format!("version {version}; this reader knows {VERSION}"),
        ));
    }
    let kind = r.u8()?;
    let n_keys = r.u64()?;
    // The target id of every stored key (u32::MAX when the log lacks it), by a sorted merge.
    let remap: Vec<u32> = match (kind, keys) {
        (0, UserKeys::Int(table)) => {
            if n_keys > (bytes.len() as u64) / 8 {
                return Err(corrupt(
                    r.pos,
                    format!("claims {n_keys} keys; file too short"),
                ));
            }
            let mut stored = Vec::with_capacity(n_keys as usize);
            for _ in 0..n_keys {
                stored.push(r.i64()?);
            }
            merge_remap(&stored, table, r.pos)?
        }
        (1, UserKeys::Str(table)) => {
            if n_keys > (bytes.len() as u64) / 4 {
                return Err(corrupt(
                    r.pos,
                    format!("claims {n_keys} keys; file too short"),
                ));
            }
            let mut stored = Vec::with_capacity(n_keys as usize);
            for _ in 0..n_keys {
                let len = r.u32()? as u64;
                let at = r.pos;
                let s = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| corrupt(at, "a user key is not valid UTF-8".into()))?;
                stored.push(s);
            }
            let table: Vec<&str> = table.iter().map(String::as_str).collect();
            merge_remap(&stored, &table, r.pos)?
        }
        (0, UserKeys::Str(_)) | (1, UserKeys::Int(_)) => {
            let (file, log) = if kind == 0 {
                ("integer", "string")
            } else {
                ("string", "integer")
            };
            return Err(CoreError::InvalidAudience(format!(
                "the file holds {file} user keys but the log's user keys are {log}"
            )));
        }
        (k, _) => return Err(corrupt(9, format!("key kind {k}; expected 0 or 1"))),
    };
    let n_tags = r.u32()?;
    let mut loaded = Loaded {
        names: Vec::new(),
        audiences: Vec::new(),
        dropped: Vec::new(),
    };
    for _ in 0..n_tags {
        let len = r.u32()? as u64;
        let at = r.pos;
        let name = std::str::from_utf8(r.take(len)?)
            .map_err(|_| corrupt(at, "a tag name is not valid UTF-8".into()))?
            .to_string();
        let size = r.u64()?;
        let at = r.pos;
        let payload = r.take(size)?;
        let mut cursor = std::io::Cursor::new(payload);
        let local = RoaringBitmap::deserialize_from(&mut cursor).map_err(|e| {
            corrupt(
                at,
                format!("tag '{name}' is not a valid Roaring bitmap ({e})"),
            )
        })?;
        if cursor.position() as usize != payload.len() {
            return Err(corrupt(at, format!("tag '{name}' has trailing bytes")));
        }
        if local.max().is_some_and(|m| m as u64 >= n_keys) {
            return Err(corrupt(
                at,
                format!("tag '{name}' refers past the key table"),
            ));
        }
        let mut dropped = 0u64;
        let ids = from_sorted(local.iter().filter_map(|i| {
            let id = remap[i as usize];
            if id == u32::MAX {
                dropped += 1;
                None
            } else {
                Some(id)
            }
        }));
        loaded
            .audiences
            .push(Audience::new(ids, keys.len() as u32)?);
        loaded.names.push(name);
        loaded.dropped.push(dropped);
    }
    if r.pos != bytes.len() {
        return Err(corrupt(r.pos, "unexpected trailing bytes".into()));
    }
    Ok(loaded)
}

fn merge_remap<K: Ord>(stored: &[K], table: &[K], at: usize) -> Result<Vec<u32>> {
    if stored.windows(2).any(|w| w[0] >= w[1]) {
        return Err(corrupt(
            at,
            "stored user keys are not strictly ascending".into(),
        ));
    }
    let mut out = Vec::with_capacity(stored.len());
    let mut j = 0;
    for k in stored {
        while j < table.len() && table[j] < *k {
            j += 1;
        }
        out.push(if j < table.len() && table[j] == *k {
            j as u32
        } else {
            u32::MAX
        });
    }
    Ok(out)
}

fn corrupt(at: usize, detail: String) -> CoreError {
    CoreError::Corrupt {
        format: FORMAT.into(),
        detail: format!("at byte {at}: {detail}"),
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left as u64 {
            return Err(corrupt(
                self.pos,
                format!("needs {n} byte(s) but only {left} remain (truncated?)"),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_onto_a_smaller_log_drops_missing_users() {
        let keys = UserKeys::Int(vec![-5, 10, 20, 30]);
        let a: RoaringBitmap = [0u32, 2, 3].into_iter().collect();
        let b: RoaringBitmap = [1u32].into_iter().collect();
        let bytes = save(&["a", "b"], &[&a, &b], &keys).unwrap();
        let same = load(&bytes, &keys).unwrap();
        assert_eq!(same.names, vec!["a", "b"]);
        assert_eq!(same.audiences[0].bits(), &a);
        let other = UserKeys::Int(vec![-5, 20, 40]);
        let moved = load(&bytes, &other).unwrap();
        assert_eq!(
            moved.audiences[0].bits().iter().collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(moved.dropped, vec![1, 1]);
        assert!(load(&bytes, &UserKeys::Str(vec![])).is_err());
    }

    #[test]
    fn string_keys_round_trip() {
        let keys = UserKeys::Str(vec!["ä".into(), "b".into()]);
        let a: RoaringBitmap = [0u32].into_iter().collect();
        let loaded = load(&save(&["x"], &[&a], &keys).unwrap(), &keys).unwrap();
        assert_eq!(loaded.audiences[0].bits(), &a);
    }

    proptest! {
        #[test]
        fn truncated_or_flipped_files_error_cleanly(cut in 0usize..200, flip in 0usize..200) {
            let keys = UserKeys::Int((0..50).collect());
            let a: RoaringBitmap = (0u32..50).step_by(3).collect();
            let mut bytes = save(&["t"], &[&a], &keys).unwrap();
            let n = bytes.len();
            bytes[flip % n] ^= 0x5a;
            let _ = load(&bytes, &keys);
            let _ = load(&bytes[..cut.min(n)], &keys);
        }
    }
}
