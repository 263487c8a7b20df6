//! Dense coding: every distinct value of a column gets a code `0..K` in sorted order of the values,
//! so codes are stable for the same data whatever the row order. Used for user keys, event names
//! and sessions alike.

use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::columns::{dictionary_chunk, for_each_str, read_ints, ColumnRef};
use crate::error::{CoreError, Result};

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
    let mut map: FxHashMap<&'a str, u32> = FxHashMap::default();
    let mut uniques: Vec<&'a str> = Vec::new();
    let mut codes = Vec::with_capacity(column.len());
    let mut intern = |value: &'a str, uniques: &mut Vec<&'a str>| -> Result<u32> {
        if let Some(code) = map.get(value) {
            return Ok(*code);
        }
        let code = next_code(uniques.len())?;
        map.insert(value, code);
        uniques.push(value);
        Ok(code)
    };
    for (index, chunk) in column.chunks.iter().enumerate() {
        if let Some(dict) = dictionary_chunk(chunk) {
            // Code the dictionary once, then each row is an index lookup.
            let mut value_codes = Vec::with_capacity(dict.values.len());
            let single = ColumnRef {
                name: column.name,
                chunks: std::slice::from_ref(dict.values),
            };
            for_each_str(single, TEXT_EXPECTED, |_, v| {
                value_codes.push(match v {
                    Some(v) => intern(v, &mut uniques)?,
                    None => NULL_CODE,
                });
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
                codes.push(match v {
                    Some(v) => intern(v, &mut uniques)?,
                    None => NULL_CODE,
                });
                Ok(())
            })?;
        }
    }
    Ok((codes, uniques))
}

fn next_code(len: usize) -> Result<u32> {
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
    let mut order: Vec<u32> = (0..uniques.len() as u32).collect();
    order.sort_unstable_by_key(|&i| uniques[i as usize]);
    let mut rank = vec![0u32; uniques.len()];
    for (position, &code) in order.iter().enumerate() {
        rank[code as usize] = position as u32;
    }
    for code in codes.iter_mut() {
        if *code != NULL_CODE {
            *code = rank[*code as usize];
        }
    }
    let values = order.iter().map(|&i| uniques[i as usize]).collect();
    (codes, values)
}
