//! Bitmaps of ORIGINAL integer user keys in the byte layouts other systems read:
//!
//! - portable Roaring (RoaringFormatSpec), 32-bit: what pyroaring `BitMap.serialize`, CRoaring,
//!   Java and Go read and write;
//! - portable 64-bit Roaring: `u64` count of 32-bit buckets, then per bucket its high 32 bits
//!   (`u32`) and a portable 32-bit bitmap of the low bits (CRoaring `Roaring64Map`, pyroaring
//!   `BitMap64`);
//! - ClickHouse `AggregateFunction(groupBitmap, UInt32|UInt64)` state: a kind byte, then either
//!   up to 32 raw values after a VarUInt count (small set) or a VarUInt byte length and the
//!   portable bitmap (32- or 64-bit as above);
//! - Doris / StarRocks `BITMAP`: a type byte (0 empty, 1 one u32, 2 portable 32-bit, 3 one u64,
//!   4 64-bit with a varint bucket count) and its payload.
//!
//! All integers little-endian; every reader checks lengths before it allocates and reports the
//! offset of what it could not read.

use std::io::Cursor;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::keys::int_keys_of;
use super::set::{from_sorted, Audience};
use super::tags::TagStore;
use crate::error::{CoreError, Result};
use crate::log::UserKeys;

/// The layouts [`export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Portable,
    ClickHouse,
    Doris,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format> {
        match name {
            "portable" => Ok(Format::Portable),
            "clickhouse" => Ok(Format::ClickHouse),
            "doris" | "starrocks" => Ok(Format::Doris),
            other => Err(CoreError::InvalidAudience(format!(
                "unknown bitmap format {other:?}; expected 'portable', 'clickhouse' or 'doris'"
            ))),
        }
    }
}

/// The bitmap of an audience's ORIGINAL integer keys. `width` 32/64 forces a layout (None: 32
/// unless a key needs 64).
pub fn key_bitmap(audience: &Audience, keys: &UserKeys, width: Option<u8>) -> Result<KeyBitmap> {
    key_bitmap_of(audience.bits(), keys, width)
}

fn key_bitmap_of(bits: &RoaringBitmap, keys: &UserKeys, width: Option<u8>) -> Result<KeyBitmap> {
    if let Some(w) = width {
        check_width(w)?;
    }
    let wide = width == Some(64);
    if identity(keys) && !wide {
        let mut bits = bits.clone();
        bits.optimize();
        return Ok(KeyBitmap::B32(bits));
    }
    let bitmap = KeyBitmap::from_sorted_keys(&int_keys_of(bits, keys)?, wide);
    if width == Some(32) && matches!(bitmap, KeyBitmap::B64(_)) {
        return Err(CoreError::InvalidAudience(
            "a user key needs more than 32 bits; export with bits=64 (64-bit Roaring) instead"
                .into(),
        ));
    }
    Ok(bitmap)
}

/// Whether the keys are exactly the dense ids (0..U), so a bitmap of ids is one of keys.
fn identity(keys: &UserKeys) -> bool {
    matches!(keys, UserKeys::Int(table)
        if table.first() == Some(&0) && table.last() == Some(&(table.len() as i64 - 1)))
}

/// Bytes of an audience's original keys in `format`.
pub fn export(
    audience: &Audience,
    keys: &UserKeys,
    format: Format,
    width: Option<u8>,
) -> Result<Vec<u8>> {
    export_bits(audience.bits(), false, keys, format, width)
}

/// [`export`] for every tag of `store`, in parallel. A store keeps its tags run-optimized, so
/// where the keys are the dense ids a tag is written as it is, without a copy.
pub fn export_tags(
    store: &TagStore,
    keys: &UserKeys,
    format: Format,
    width: Option<u8>,
) -> Result<Vec<Vec<u8>>> {
    (store.bitmaps().par_iter())
        .map(|bits| export_bits(bits, true, keys, format, width))
        .collect()
}

/// Whether [`export_tags`] writes each tag exactly as the store holds it (portable 32-bit
/// Roaring of keys that are the dense ids), so a caller may serialize `store.bitmaps()` straight
/// into buffers of its own.
pub fn tags_as_stored(keys: &UserKeys, format: Format, width: Option<u8>) -> bool {
    format == Format::Portable && matches!(width, None | Some(32)) && identity(keys)
}

/// `optimized`: `bits` already has run containers wherever they are smaller.
fn export_bits(
    bits: &RoaringBitmap,
    optimized: bool,
    keys: &UserKeys,
    format: Format,
    width: Option<u8>,
) -> Result<Vec<u8>> {
    if optimized && tags_as_stored(keys, format, width) {
        let mut out = Vec::new();
        write_bitmap(bits, &mut out);
        return Ok(out);
    }
    let bitmap = key_bitmap_of(bits, keys, width)?;
    match format {
        Format::Portable => Ok(bitmap.to_portable()),
        Format::ClickHouse => {
            let w = width.unwrap_or(match bitmap {
                KeyBitmap::B32(_) => 32,
                KeyBitmap::B64(_) => 64,
            });
            bitmap.to_clickhouse(w)
        }
        Format::Doris => Ok(bitmap.to_doris()),
    }
}

/// Keys below 2^32 as one bitmap, or buckets of (high 32 bits, bitmap of low bits).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyBitmap {
    B32(RoaringBitmap),
    B64(Vec<(u32, RoaringBitmap)>),
}

/// ClickHouse keeps up to this many values of a `groupBitmap` state as a plain list.
const CLICKHOUSE_SMALL_SET: usize = 32;

impl KeyBitmap {
    /// From ascending keys; 64-bit layout when a key needs it or `wide` asks for it. Run
    /// containers are chosen where smaller, as pyroaring and ClickHouse do before writing.
    pub fn from_sorted_keys(keys: &[u64], wide: bool) -> KeyBitmap {
        let fits32 = keys.last().is_none_or(|&k| k <= u32::MAX as u64);
        if fits32 && !wide {
            let mut bits = from_sorted(keys.iter().map(|&k| k as u32));
            bits.optimize();
            return KeyBitmap::B32(bits);
        }
        let mut buckets: Vec<(u32, RoaringBitmap)> = Vec::new();
        let mut rest = keys;
        while let Some(&first) = rest.first() {
            let high = (first >> 32) as u32;
            let n = rest.partition_point(|&k| (k >> 32) as u32 == high);
            let mut b = from_sorted(rest[..n].iter().map(|&k| k as u32));
            b.optimize();
            buckets.push((high, b));
            rest = &rest[n..];
        }
        KeyBitmap::B64(buckets)
    }

    pub fn len(&self) -> u64 {
        match self {
            KeyBitmap::B32(b) => b.len(),
            KeyBitmap::B64(v) => v.iter().map(|(_, b)| b.len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys, ascending.
    pub fn keys(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            KeyBitmap::B32(b) => Box::new(b.iter().map(u64::from)),
            KeyBitmap::B64(v) => Box::new(
                v.iter()
                    .flat_map(|(h, b)| b.iter().map(move |l| ((*h as u64) << 32) | l as u64)),
            ),
        }
    }

    /// Non-empty buckets as (high 32 bits, bitmap of the low bits).
    fn buckets(&self) -> Vec<(u32, &RoaringBitmap)> {
        match self {
            KeyBitmap::B32(b) => vec![(0, b)],
            KeyBitmap::B64(v) => v.iter().map(|(h, b)| (*h, b)).collect(),
        }
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .collect()
    }

    fn max(&self) -> Option<u64> {
        match self {
            KeyBitmap::B32(b) => b.max().map(u64::from),
            KeyBitmap::B64(v) => v
                .iter()
                .rev()
                .find_map(|(h, b)| b.max().map(|l| ((*h as u64) << 32) | l as u64)),
        }
    }

    // ---- portable Roaring -------------------------------------------------------------

    /// Portable Roaring bytes: the 32-bit layout for `B32`, the 64-bit one for `B64`.
    pub fn to_portable(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            KeyBitmap::B32(b) => write_bitmap(b, &mut out),
            KeyBitmap::B64(v) => write_buckets64(v, &mut out),
        }
        out
    }

    /// Read portable 32-bit Roaring bytes (all of them).
    pub fn from_portable32(bytes: &[u8]) -> Result<KeyBitmap> {
        let mut r = Reader::new(bytes, "portable Roaring (32-bit)");
        let b = r.bitmap()?;
        r.finish()?;
        Ok(KeyBitmap::B32(b))
    }

    /// Read portable 64-bit Roaring bytes (all of them).
    pub fn from_portable64(bytes: &[u8]) -> Result<KeyBitmap> {
        let mut r = Reader::new(bytes, "portable Roaring (64-bit)");
        let n = r.u64()?;
        let buckets = r.buckets64(n)?;
        r.finish()?;
        Ok(KeyBitmap::B64(buckets))
    }

    // ---- ClickHouse groupBitmap ------------------------------------------------------

    /// State bytes of `AggregateFunction(groupBitmap, UInt32)` (`bits` = 32) or `UInt64` (64).
    pub fn to_clickhouse(&self, bits: u8) -> Result<Vec<u8>> {
        check_width(bits)?;
        if bits == 32 {
            if let Some(max) = self.max().filter(|&m| m > u32::MAX as u64) {
                return Err(CoreError::InvalidAudience(format!(
                    "user key {max} does not fit groupBitmap(UInt32); export with bits=64"
                )));
            }
        }
        let mut out = Vec::new();
        let n = self.len() as usize;
        if n <= CLICKHOUSE_SMALL_SET {
            out.push(0);
            write_varint(n as u64, &mut out);
            for k in self.keys() {
                if bits == 32 {
                    out.extend_from_slice(&(k as u32).to_le_bytes());
                } else {
                    out.extend_from_slice(&k.to_le_bytes());
                }
            }
            return Ok(out);
        }
        out.push(1);
        let payload = if bits == 32 {
            match self {
                KeyBitmap::B32(b) => {
                    let mut p = Vec::new();
                    write_bitmap(b, &mut p);
                    p
                }
                KeyBitmap::B64(v) => {
                    // Only bucket 0 can be non-empty here (checked above).
                    let mut b = RoaringBitmap::new();
                    for (_, part) in v {
                        b |= part;
                    }
                    let mut p = Vec::new();
                    write_bitmap(&b, &mut p);
                    p
                }
            }
        } else {
            let mut p = Vec::new();
            match self {
                KeyBitmap::B32(b) => write_buckets64(&[(0, b.clone())], &mut p),
                KeyBitmap::B64(v) => write_buckets64(v, &mut p),
            }
            p
        };
        write_varint(payload.len() as u64, &mut out);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    pub fn from_clickhouse(bytes: &[u8], bits: u8) -> Result<KeyBitmap> {
        check_width(bits)?;
        let format = if bits == 32 {
            "ClickHouse groupBitmap(UInt32) state"
        } else {
            "ClickHouse groupBitmap(UInt64) state"
        };
        let mut r = Reader::new(bytes, format);
        let out = match r.u8()? {
            0 => {
                let n = r.varint()?;
                if n > CLICKHOUSE_SMALL_SET as u64 {
                    return Err(r.corrupt(format!(
                        "small set of {n} values; ClickHouse stores at most {CLICKHOUSE_SMALL_SET}"
                    )));
                }
                let mut keys = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    keys.push(if bits == 32 {
                        r.u32()? as u64
                    } else {
                        r.u64()?
                    });
                }
                keys.sort_unstable();
                keys.dedup();
                KeyBitmap::from_sorted_keys(&keys, bits == 64)
            }
            1 => {
                let size = r.varint()?;
                let payload = r.take(size)?;
                if bits == 32 {
                    KeyBitmap::from_portable32(payload)?
                } else {
                    KeyBitmap::from_portable64(payload)?
                }
            }
            kind => {
                return Err(r.corrupt(format!(
                    "kind byte {kind}; expected 0 (small set) or 1 (Roaring bitmap)"
                )))
            }
        };
        r.finish()?;
        Ok(out)
    }

    // ---- Doris / StarRocks BITMAP ----------------------------------------------------

    /// The serialized `BITMAP` value Doris and StarRocks load (e.g. `bitmap_from_base64`).
    pub fn to_doris(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let n = self.len();
        let max = self.max().unwrap_or(0);
        if n == 0 {
            out.push(0);
        } else if n == 1 && max <= u32::MAX as u64 {
            out.push(1);
            out.extend_from_slice(&(max as u32).to_le_bytes());
        } else if n == 1 {
            out.push(3);
            out.extend_from_slice(&max.to_le_bytes());
        } else if max <= u32::MAX as u64 {
            out.push(2);
            let merged = match self {
                KeyBitmap::B32(b) => b.clone(),
                KeyBitmap::B64(v) => {
                    v.iter()
                        .map(|(_, b)| b.clone())
                        .fold(RoaringBitmap::new(), |mut acc, b| {
                            acc |= b;
                            acc
                        })
                }
            };
            write_bitmap(&merged, &mut out);
        } else {
            out.push(4);
            let buckets = self.buckets();
            write_varint(buckets.len() as u64, &mut out);
            for (h, b) in buckets {
                out.extend_from_slice(&h.to_le_bytes());
                write_bitmap(b, &mut out);
            }
        }
        out
    }

    pub fn from_doris(bytes: &[u8]) -> Result<KeyBitmap> {
        let mut r = Reader::new(bytes, "Doris/StarRocks BITMAP");
        let out = match r.u8()? {
            0 => KeyBitmap::B32(RoaringBitmap::new()),
            1 => KeyBitmap::from_sorted_keys(&[r.u32()? as u64], false),
            2 => KeyBitmap::B32(r.bitmap()?),
            3 => KeyBitmap::from_sorted_keys(&[r.u64()?], true),
            4 => {
                let n = r.varint()?;
                KeyBitmap::B64(r.buckets64(n)?)
            }
            code => {
                return Err(r.corrupt(format!(
                    "type code {code}; this reader knows 0 (empty), 1 (single 32-bit), \
                     2 (32-bit bitmap), 3 (single 64-bit), 4 (64-bit bitmap) — newer Doris \
                     set/v2 layouts are not supported"
                )))
            }
        };
        r.finish()?;
        Ok(out)
    }
}

fn check_width(bits: u8) -> Result<()> {
    if bits == 32 || bits == 64 {
        Ok(())
    } else {
        Err(CoreError::InvalidAudience(format!(
            "bits must be 32 or 64 (groupBitmap over UInt32 or UInt64); got {bits}"
        )))
    }
}

fn write_bitmap(b: &RoaringBitmap, out: &mut Vec<u8>) {
    out.reserve(b.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = b.serialize_into(&mut *out);
}

fn write_buckets64(v: &[(u32, RoaringBitmap)], out: &mut Vec<u8>) {
    out.extend_from_slice(&(v.len() as u64).to_le_bytes());
    for (h, b) in v {
        out.extend_from_slice(&h.to_le_bytes());
        write_bitmap(b, out);
    }
}

/// LEB128, as ClickHouse `writeVarUInt` and Doris `encode_varint64` write it.
fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A bounds-checked reader that turns every shortfall into `Corrupt` with the offset.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    format: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], format: &'static str) -> Self {
        Self {
            bytes,
            pos: 0,
            format,
        }
    }

    fn corrupt(&self, detail: String) -> CoreError {
        CoreError::Corrupt {
            format: self.format.into(),
            detail: format!("at byte {}: {detail}", self.pos),
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left as u64 {
            return Err(self.corrupt(format!(
                "needs {n} more byte(s) but only {left} remain (truncated?)"
            )));
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

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("variable-length integer longer than 10 bytes".into()))
    }

    fn bitmap(&mut self) -> Result<RoaringBitmap> {
        let rest = &self.bytes[self.pos..];
        let mut cursor = Cursor::new(rest);
        match RoaringBitmap::deserialize_from(&mut cursor) {
            Ok(b) => {
                self.pos += cursor.position() as usize;
                Ok(b)
            }
            Err(e) => Err(self.corrupt(format!("not a valid portable Roaring bitmap ({e})"))),
        }
    }

    fn buckets64(&mut self, n: u64) -> Result<Vec<(u32, RoaringBitmap)>> {
        // Each bucket takes at least 12 bytes; a larger count is a lie, refuse before looping.
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left / 12 {
            return Err(self.corrupt(format!(
                "claims {n} 64-bit buckets but only {left} bytes remain"
            )));
        }
        let mut out: Vec<(u32, RoaringBitmap)> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let high = self.u32()?;
            if let Some((prev, _)) = out.last() {
                if *prev >= high {
                    return Err(self.corrupt(format!(
                        "64-bit bucket keys not increasing ({prev} then {high})"
                    )));
                }
            }
            out.push((high, self.bitmap()?));
        }
        Ok(out)
    }

    fn finish(&self) -> Result<()> {
        if self.pos != self.bytes.len() {
            return Err(self.corrupt(format!(
                "{} unexpected trailing byte(s)",
                self.bytes.len() - self.pos
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(b: &KeyBitmap) -> Vec<u64> {
        b.keys().collect()
    }

    #[test]
    fn layout_follows_the_largest_key() {
        assert!(matches!(
            KeyBitmap::from_sorted_keys(&[1, 2], false),
            KeyBitmap::B32(_)
        ));
        assert!(matches!(
            KeyBitmap::from_sorted_keys(&[1, 1 << 33], false),
            KeyBitmap::B64(_)
        ));
        assert!(matches!(
            KeyBitmap::from_sorted_keys(&[1], true),
            KeyBitmap::B64(_)
        ));
    }

    #[test]
    fn portable64_matches_the_spec_by_hand() {
        // Two buckets: {1} in bucket 0 and {0} in bucket 256 (the value 2^40).
        let b = KeyBitmap::from_sorted_keys(&[1, 1 << 40], false);
        let bytes = b.to_portable();
        assert_eq!(&bytes[..8], &2u64.to_le_bytes());
        assert_eq!(&bytes[8..12], &0u32.to_le_bytes());
        assert_eq!(KeyBitmap::from_portable64(&bytes).unwrap(), b);
    }

    #[test]
    fn clickhouse_small_and_large_states() {
        let small = KeyBitmap::from_sorted_keys(&[3, 7], false);
        assert_eq!(
            small.to_clickhouse(32).unwrap(),
            vec![0, 2, 3, 0, 0, 0, 7, 0, 0, 0]
        );
        let large = KeyBitmap::from_sorted_keys(&(0..100).collect::<Vec<_>>(), false);
        let bytes = large.to_clickhouse(32).unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(
            keys(&KeyBitmap::from_clickhouse(&bytes, 32).unwrap()),
            (0..100).collect::<Vec<_>>()
        );
        let wide = KeyBitmap::from_sorted_keys(&[1 << 40], false);
        assert!(wide.to_clickhouse(32).is_err());
        assert_eq!(
            keys(&KeyBitmap::from_clickhouse(&wide.to_clickhouse(64).unwrap(), 64).unwrap()),
            vec![1 << 40]
        );
    }

    #[test]
    fn doris_type_codes() {
        assert_eq!(KeyBitmap::from_sorted_keys(&[], false).to_doris(), vec![0]);
        assert_eq!(
            KeyBitmap::from_sorted_keys(&[5], false).to_doris(),
            vec![1, 5, 0, 0, 0]
        );
        assert_eq!(
            KeyBitmap::from_sorted_keys(&[1 << 40], false).to_doris()[0],
            3
        );
        assert_eq!(KeyBitmap::from_sorted_keys(&[1, 2], false).to_doris()[0], 2);
        let wide = KeyBitmap::from_sorted_keys(&[1, 1 << 40], false);
        let bytes = wide.to_doris();
        assert_eq!(&bytes[..2], &[4, 2]);
        assert_eq!(
            keys(&KeyBitmap::from_doris(&bytes).unwrap()),
            vec![1, 1 << 40]
        );
    }

    #[test]
    fn corrupt_inputs_name_the_format_and_offset() {
        let err = KeyBitmap::from_portable32(&[1, 2, 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("portable Roaring (32-bit)"), "{err}");
        let mut good = KeyBitmap::from_sorted_keys(&[1, 2, 3], false).to_portable();
        good.push(0);
        assert!(KeyBitmap::from_portable32(&good)
            .unwrap_err()
            .to_string()
            .contains("trailing"));
        let huge = [0xffu8; 16];
        assert!(KeyBitmap::from_portable64(&huge).is_err());
        assert!(KeyBitmap::from_clickhouse(&[9], 32).is_err());
        assert!(KeyBitmap::from_doris(&[12, 0]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = KeyBitmap::from_portable32(&bytes);
            let _ = KeyBitmap::from_portable64(&bytes);
            let _ = KeyBitmap::from_clickhouse(&bytes, 32);
            let _ = KeyBitmap::from_clickhouse(&bytes, 64);
            let _ = KeyBitmap::from_doris(&bytes);
        }

        #[test]
        fn every_layout_round_trips(mut ks in proptest::collection::vec(any::<u64>(), 0..100), small in any::<bool>()) {
            if small { ks.iter_mut().for_each(|k| *k >>= 40); }
            ks.sort_unstable();
            ks.dedup();
            let b = KeyBitmap::from_sorted_keys(&ks, false);
            prop_assert_eq!(keys(&b), ks.clone());
            let back = match &b {
                KeyBitmap::B32(_) => KeyBitmap::from_portable32(&b.to_portable()).unwrap(),
                KeyBitmap::B64(_) => KeyBitmap::from_portable64(&b.to_portable()).unwrap(),
            };
            prop_assert_eq!(keys(&back), ks.clone());
            prop_assert_eq!(keys(&KeyBitmap::from_doris(&b.to_doris()).unwrap()), ks.clone());
            prop_assert_eq!(keys(&KeyBitmap::from_clickhouse(&b.to_clickhouse(64).unwrap(), 64).unwrap()), ks.clone());
        }
    }
}
