//! Dense coding: every distinct value of a column gets a code `0..K` in sorted order of the values,
//! so codes are stable for the same data whatever the row order. Used for user keys, event names
//! and sessions alike.

use std::hash::Hash;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::codes::{Code, EventCodes};
use super::columns::{dictionary_chunk, for_each_str, read_ints, ColumnRef};
use crate::error::{CoreError, Result};
use crate::memory::big_zeroed;

/// Marks a row whose value is null.
pub(crate) const NULL_CODE: u32 = u32::MAX;

/// The distinct values of a coded column, indexed by code: the original keys of the users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKeys {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl UserKeys {
    pub fn len(&self) -> usize {
        match self {
            UserKeys::Int(v) => v.len(),
            UserKeys::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep only the keys at the given codes (ascending), in that order.
    #[cfg(test)]
    pub(crate) fn select(self, keep: &[u32]) -> UserKeys {
        match self {
            UserKeys::Int(v) => UserKeys::Int(keep.iter().map(|&c| v[c as usize]).collect()),
            UserKeys::Str(mut v) => UserKeys::Str(
                keep.iter()
                    .map(|&c| std::mem::take(&mut v[c as usize]))
                    .collect(),
            ),
        }
    }
}

/// Codes per row (`NULL_CODE` for null) and the sorted distinct values.
pub(crate) struct Coded {
    pub codes: Vec<u32>,
    pub values: UserKeys,
}

/// Code a column of integers or text (plain or dictionary-encoded).
pub(crate) fn code_column(column: ColumnRef<'_>) -> Result<Coded> {
    if let Some(ints) = read_ints(column) {
        let ints = ints?;
        let (mut codes, uniques) = first_seen_codes(ints.iter().copied(), column.len())?;
        mark_null_codes(column, &mut codes);
        let (codes, values) = sort_codes(codes, uniques);
        return Ok(Coded {
            codes,
            values: UserKeys::Int(values),
        });
    }
    let (codes, uniques) = code_text(column)?;
    let (codes, values) = sort_codes(codes, uniques);
    Ok(Coded {
        codes,
        values: UserKeys::Str(values.into_iter().map(str::to_string).collect()),
    })
}

const TEXT_EXPECTED: &str = "integers or strings (plain or dictionary-encoded)";

fn code_text<'a>(column: ColumnRef<'a>) -> Result<(Vec<u32>, Vec<&'a str>)> {
    let mut interner = Interner::default();
    let mut codes = Vec::with_capacity(column.len());
    for (index, chunk) in column.chunks.iter().enumerate() {
        if let Some(dict) = dictionary_chunk(chunk) {
            // Code the dictionary once, then each row is an index lookup.
            let mut value_codes = Vec::with_capacity(dict.values.len());
            let single = ColumnRef {
                name: column.name,
                chunks: std::slice::from_ref(dict.values),
            };
            for_each_str(single, TEXT_EXPECTED, |_, v| {
                value_codes.push(interner.code(v)?);
                Ok(())
            })?;
            codes.extend(
                dict.keys
                    .iter()
                    .map(|k| k.map_or(NULL_CODE, |k| value_codes[k])),
            );
        } else {
            let single = ColumnRef {
                name: column.name,
                chunks: &column.chunks[index..index + 1],
            };
            if !matches!(
                chunk.data_type(),
                arrow_schema::DataType::Utf8
                    | arrow_schema::DataType::LargeUtf8
                    | arrow_schema::DataType::Utf8View
            ) {
                return Err(column.unsupported(TEXT_EXPECTED));
            }
            for_each_str(single, TEXT_EXPECTED, |_, v| {
                codes.push(interner.code(v)?);
                Ok(())
            })?;
        }
    }
    Ok((codes, interner.uniques))
}

/// First-seen codes for text values; a null stays `NULL_CODE`. Shared by both text coders.
#[derive(Default)]
struct Interner<'a> {
    map: FxHashMap<&'a str, u32>,
    uniques: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn code(&mut self, value: Option<&'a str>) -> Result<u32> {
        let Some(value) = value else {
            return Ok(NULL_CODE);
        };
        if let Some(code) = self.map.get(value) {
            return Ok(*code);
        }
        let code = next_code(self.uniques.len())?;
        self.map.insert(value, code);
        self.uniques.push(value);
        Ok(code)
    }
}

/// The code of the next distinct value after `len` of them; the last code stays free for null.
pub(crate) fn next_code(len: usize) -> Result<u32> {
    if len >= NULL_CODE as usize {
        return Err(CoreError::TooLarge {
            what: "distinct values in one column".into(),
            found: len + 1,
            limit: NULL_CODE as usize - 1,
        });
    }
    Ok(len as u32)
}

fn first_seen_codes<K: Hash + Eq + Copy>(
    values: impl Iterator<Item = K>,
    len: usize,
) -> Result<(Vec<u32>, Vec<K>)> {
    let mut map: FxHashMap<K, u32> = FxHashMap::default();
    let mut uniques = Vec::new();
    let mut codes = Vec::with_capacity(len);
    for value in values {
        let code = match map.get(&value) {
            Some(code) => *code,
            None => {
                let code = next_code(uniques.len())?;
                map.insert(value, code);
                uniques.push(value);
                code
            }
        };
        codes.push(code);
    }
    Ok((codes, uniques))
}

fn mark_null_codes(column: ColumnRef<'_>, codes: &mut [u32]) {
    let mut base = 0;
    for chunk in column.chunks {
        if let Some(nulls) = chunk.logical_nulls() {
            for i in nulls.iter().enumerate().filter(|(_, v)| !v).map(|(i, _)| i) {
                codes[base + i] = NULL_CODE;
            }
        }
        base += chunk.len();
    }
}

/// Renumber first-seen codes so that code order is value order.
fn sort_codes<K: Ord + Copy>(mut codes: Vec<u32>, uniques: Vec<K>) -> (Vec<u32>, Vec<K>) {
    let (order, rank) = value_order(&uniques);
    for code in codes.iter_mut() {
        *code = ranked(&rank, *code);
    }
    let values = order.iter().map(|&i| uniques[i as usize]).collect();
    (codes, values)
}

/// First-seen codes in value order (`order`), and each first-seen code's place in it (`rank`).
fn value_order<K: Ord + Copy>(uniques: &[K]) -> (Vec<u32>, Vec<u32>) {
    let mut order: Vec<u32> = (0..uniques.len() as u32).collect();
    order.sort_unstable_by_key(|&i| uniques[i as usize]);
    let mut rank = vec![0u32; uniques.len()];
    for (position, &code) in order.iter().enumerate() {
        rank[code as usize] = position as u32;
    }
    (order, rank)
}

/// A first-seen code's value-order code; a null stays `NULL_CODE`.
#[inline]
fn ranked(rank: &[u32], code: u32) -> u32 {
    if code == NULL_CODE {
        NULL_CODE
    } else {
        rank[code as usize]
    }
}

/// Event names of one chunk before the names are sorted: per-row first-seen codes for plain text,
/// or first-seen codes of the dictionary's values for a dictionary chunk (rows are mapped later).
enum ChunkCodes {
    Plain(Vec<u32>),
    Dictionary(Vec<u32>),
}

/// Code a text column (event names) into per-row codes in sorted name order (`NULL_CODE` for
/// null). A dictionary chunk is coded per distinct value and its rows by one table lookup, so a
/// Parquet column read as a dictionary never hashes a row. Every dictionary value gets a code, used
/// or not, like the per-row path that codes each value it sees.
pub(crate) fn code_text_column(column: ColumnRef<'_>) -> Result<(EventCodes, Vec<String>)> {
    let mut interner = Interner::default();
    let mut per_chunk = Vec::with_capacity(column.chunks.len());
    for (index, chunk) in column.chunks.iter().enumerate() {
        if let DataType::Dictionary(_, _) = chunk.data_type() {
            let values =
                dictionary_values(chunk).ok_or_else(|| column.unsupported(TEXT_EXPECTED))?;
            let mut codes = Vec::with_capacity(values.len());
            let single = ColumnRef {
                name: column.name,
                chunks: std::slice::from_ref(values),
            };
            for_each_str(single, TEXT_EXPECTED, |_, v| {
                codes.push(interner.code(v)?);
                Ok(())
            })?;
            per_chunk.push(ChunkCodes::Dictionary(codes));
        } else {
            if !matches!(
                chunk.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(column.unsupported(TEXT_EXPECTED));
            }
            let mut codes = Vec::with_capacity(chunk.len());
            let single = ColumnRef {
                name: column.name,
                chunks: &column.chunks[index..index + 1],
            };
            for_each_str(single, TEXT_EXPECTED, |_, v| {
                codes.push(interner.code(v)?);
                Ok(())
            })?;
            per_chunk.push(ChunkCodes::Plain(codes));
        }
    }
    let uniques = interner.uniques;
    let (order, rank) = value_order(&uniques);
    let names: Vec<String> = order
        .iter()
        .map(|&i| uniques[i as usize].to_string())
        .collect();
    // A null keeps NULL_CODE, which no narrow type holds: such a log is refused or its rows are
    // dropped before codes are read, so it may wrap to any value there.
    let widest = names.len().saturating_sub(1) as u32;
    let codes = if widest <= u8::MAX as u32 {
        EventCodes::U8(map_codes(column, per_chunk, &rank))
    } else if widest <= u16::MAX as u32 {
        EventCodes::U16(map_codes(column, per_chunk, &rank))
    } else {
        EventCodes::U32(map_codes(column, per_chunk, &rank))
    };
    Ok((codes, names))
}

/// Per-row codes in value order, chunk by chunk in parallel, each chunk into its own slice.
fn map_codes<C: Code>(column: ColumnRef<'_>, per_chunk: Vec<ChunkCodes>, rank: &[u32]) -> Vec<C> {
    let ranked = |code: u32| C::from_u32(ranked(rank, code));
    let mut codes = big_zeroed::<C>(column.len());
    let mut slices = Vec::with_capacity(column.chunks.len());
    let mut rest = codes.as_mut_slice();
    for (chunk, coded) in column.chunks.iter().zip(per_chunk) {
        let (head, tail) = rest.split_at_mut(chunk.len());
        slices.push((chunk, coded, head));
        rest = tail;
    }
    slices
        .into_par_iter()
        .for_each(|(chunk, coded, out)| match coded {
            ChunkCodes::Plain(codes) => {
                for (o, c) in out.iter_mut().zip(codes) {
                    *o = ranked(c);
                }
            }
            ChunkCodes::Dictionary(values) => {
                let table: Vec<C> = values.into_iter().map(ranked).collect();
                map_dictionary_keys(chunk, &table, out);
            }
        });
    codes
}

fn dictionary_values(chunk: &ArrayRef) -> Option<&ArrayRef> {
    let DataType::Dictionary(key_type, _) = chunk.data_type() else {
        return None;
    };
    macro_rules! values {
        ($t:ty) => {
            Some(chunk.as_dictionary::<$t>().values())
        };
    }
    match key_type.as_ref() {
        DataType::Int8 => values!(Int8Type),
        DataType::Int16 => values!(Int16Type),
        DataType::Int32 => values!(Int32Type),
        DataType::Int64 => values!(Int64Type),
        DataType::UInt8 => values!(UInt8Type),
        DataType::UInt16 => values!(UInt16Type),
        DataType::UInt32 => values!(UInt32Type),
        DataType::UInt64 => values!(UInt64Type),
        _ => None,
    }
}

/// `out[i] = table[key[i]]` for a dictionary chunk; null keys (and keys outside the table, which a
/// valid Arrow array never has) give `NULL_CODE` (wrapped to the code type).
fn map_dictionary_keys<C: Code>(chunk: &ArrayRef, table: &[C], out: &mut [C]) {
    let null = C::from_u32(NULL_CODE);
    macro_rules! map {
        ($t:ty) => {{
            let keys = chunk.as_dictionary::<$t>().keys();
            let lookup = |k: usize| table.get(k).copied().unwrap_or(null);
            match keys.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    for (o, k) in out.iter_mut().zip(keys.values().iter()) {
                        *o = lookup(*k as usize);
                    }
                }
                Some(nulls) => {
                    for ((o, k), valid) in
                        out.iter_mut().zip(keys.values().iter()).zip(nulls.iter())
                    {
                        *o = if valid { lookup(*k as usize) } else { null };
                    }
                }
            }
        }};
    }
    let DataType::Dictionary(key_type, _) = chunk.data_type() else {
        return;
    };
    match key_type.as_ref() {
        DataType::Int8 => map!(Int8Type),
        DataType::Int16 => map!(Int16Type),
        DataType::Int32 => map!(Int32Type),
        DataType::Int64 => map!(Int64Type),
        DataType::UInt8 => map!(UInt8Type),
        DataType::UInt16 => map!(UInt16Type),
        DataType::UInt32 => map!(UInt32Type),
        DataType::UInt64 => map!(UInt64Type),
        _ => {}
    }
}

/// One chunk of a text column coded against its own distinct values: the Parquet reader codes
/// each row group on its own thread and merges the values afterwards ([`merge_values`]).
pub(crate) struct LocalText {
    /// Per row: an index into `values` (the chunk holds no nulls).
    pub codes: EventCodes,
    pub values: Vec<String>,
}

/// Code one null-free text chunk (plain or dictionary-encoded) locally. A dictionary chunk keeps
/// its dictionary as the values, used or not, as [`code_text_column`] does.
pub(crate) fn code_chunk_locally(name: &str, chunk: &ArrayRef) -> Result<LocalText> {
    let column = ColumnRef {
        name,
        chunks: std::slice::from_ref(chunk),
    };
    if let DataType::Dictionary(_, _) = chunk.data_type() {
        let values = dictionary_values(chunk).ok_or_else(|| column.unsupported(TEXT_EXPECTED))?;
        if values.null_count() > 0 {
            // The shared coder skips null values; keep to it rather than invent a name.
            return Err(column.unsupported("a dictionary without null values"));
        }
        let mut names = Vec::with_capacity(values.len());
        let single = ColumnRef {
            name,
            chunks: std::slice::from_ref(values),
        };
        for_each_str(single, TEXT_EXPECTED, |_, v| {
            names.push(v.unwrap_or_default().to_string());
            Ok(())
        })?;
        let identity: Vec<u32> = (0..names.len() as u32).collect();
        let widest = names.len().saturating_sub(1) as u32;
        let codes = if widest <= u8::MAX as u32 {
            EventCodes::U8(dictionary_codes(chunk, &identity))
        } else if widest <= u16::MAX as u32 {
            EventCodes::U16(dictionary_codes(chunk, &identity))
        } else {
            EventCodes::U32(dictionary_codes(chunk, &identity))
        };
        return Ok(LocalText {
            codes,
            values: names,
        });
    }
    if !matches!(
        chunk.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return Err(column.unsupported(TEXT_EXPECTED));
    }
    let mut interner = Interner::default();
    let mut codes = Vec::with_capacity(chunk.len());
    for_each_str(column, TEXT_EXPECTED, |_, v| {
        codes.push(interner.code(v)?);
        Ok(())
    })?;
    let values = interner.uniques.iter().map(|v| v.to_string()).collect();
    let count = interner.uniques.len();
    Ok(LocalText {
        codes: EventCodes::narrowest(&codes, count),
        values,
    })
}

fn dictionary_codes<C: Code>(chunk: &ArrayRef, table: &[u32]) -> Vec<C> {
    let table: Vec<C> = table.iter().map(|&c| C::from_u32(c)).collect();
    let mut out = vec![C::default(); chunk.len()];
    map_dictionary_keys(chunk, &table, &mut out);
    out
}

/// The values of locally coded chunks (in chunk order) merged into one sorted list, and for each
/// chunk the global code of each of its local codes: the codes [`code_text_column`] would give.
pub(crate) fn merge_values(locals: &[&[String]]) -> Result<(Vec<String>, Vec<Vec<u32>>)> {
    let mut interner = Interner::default();
    let mut first_seen: Vec<Vec<u32>> = Vec::with_capacity(locals.len());
    for values in locals {
        let mut codes = Vec::with_capacity(values.len());
        for v in values.iter() {
            codes.push(interner.code(Some(v.as_str()))?);
        }
        first_seen.push(codes);
    }
    let (order, rank) = value_order(&interner.uniques);
    let names = order
        .iter()
        .map(|&i| interner.uniques[i as usize].to_string())
        .collect();
    let remaps = first_seen
        .into_iter()
        .map(|codes| codes.into_iter().map(|c| ranked(&rank, c)).collect())
        .collect();
    Ok((names, remaps))
}
