//! Kernels behind tracking-plan validation: the per-row passes over text columns that Arrow's
//! hash kernels make slow (about 30 ns a row), so that a ten-million-event check stays near a
//! second. Everything else in validation is array arithmetic on the codes these return.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{CoreError, Result};
use crate::log::{next_code, ColumnRef};

/// The code of a null value in [`code_text`] (reads as -1 through a signed 32-bit view): the
/// code `next_code` keeps free, as the log's text coder does.
pub const NULL_TEXT: u32 = u32::MAX;

/// Rows coded per piece on one thread; pieces are merged in row order afterwards.
const PIECE: usize = 1 << 20;

/// Below this many distinct values a piece looks values up by comparing them in turn, which for
/// the few names an event or enum column holds beats hashing every row.
const FEW: usize = 16;

const TEXT_EXPECTED: &str = "strings (plain or dictionary-encoded)";

/// Text values coded per row: `known` first (codes `0..known.len()`), then every other value in
/// the order it first appears; nulls get [`NULL_TEXT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCodes {
    pub codes: Vec<u32>,
    pub values: Vec<String>,
}

/// Code a text column (strings of any width, or dictionaries of them). First appearance is by
/// row, as `pyarrow.compute.dictionary_encode` orders values, also across dictionary chunks.
pub fn code_text(column: ColumnRef<'_>, known: &[String]) -> Result<TextCodes> {
    let mut pieces: Vec<ArrayRef> = Vec::new();
    for chunk in column.chunks {
        if !is_text(chunk.data_type()) {
            return Err(column.unsupported(TEXT_EXPECTED));
        }
        let mut start = 0;
        while start < chunk.len() {
            let len = PIECE.min(chunk.len() - start);
            pieces.push(chunk.slice(start, len));
            start += len;
        }
    }
    let mut codes = vec![0u32; column.len()];
    let mut outs = Vec::with_capacity(pieces.len());
    let mut rest = codes.as_mut_slice();
    for piece in &pieces {
        let (head, tail) = rest.split_at_mut(piece.len());
        outs.push((piece, head));
        rest = tail;
    }
    let locals: Vec<Vec<String>> = outs
        .into_par_iter()
        .map(|(piece, out)| code_piece(column, piece, out))
        .collect::<Result<_>>()?;
    // Merge in row order: a value's global code is fixed by the first piece that holds it.
    let mut global: FxHashMap<String, u32> = FxHashMap::default();
    let mut values: Vec<String> = Vec::new();
    for value in known {
        if !global.contains_key(value) {
            global.insert(value.clone(), values.len() as u32);
            values.push(value.clone());
        }
    }
    let mut remaps = Vec::with_capacity(locals.len());
    for local in locals {
        let mut remap = Vec::with_capacity(local.len());
        for value in local {
            let code = match global.get(&value) {
                Some(code) => *code,
                None => {
                    let code = next_code(values.len())?;
                    global.insert(value.clone(), code);
                    values.push(value);
                    code
                }
            };
            remap.push(code);
        }
        remaps.push(remap);
    }
    let mut rest = codes.as_mut_slice();
    let mut jobs = Vec::with_capacity(pieces.len());
    for (piece, remap) in pieces.iter().zip(&remaps) {
        let (head, tail) = rest.split_at_mut(piece.len());
        jobs.push((head, remap));
        rest = tail;
    }
    jobs.into_par_iter().for_each(|(out, remap)| {
        for code in out.iter_mut() {
            if *code != NULL_TEXT {
                *code = remap[*code as usize];
            }
        }
    });
    Ok(TextCodes { codes, values })
}

/// Rows per code whose value is present in `column`: not null, and for floats not NaN (what the
/// plan counts as a missing value). Codes at or past `n_codes` (a null event) count in the last
/// of the `n_codes + 1` slots.
pub fn present_by_code(codes: &[u32], n_codes: usize, column: ColumnRef<'_>) -> Result<Vec<u64>> {
    if codes.len() != column.len() {
        return Err(CoreError::LengthMismatch {
            column: column.name.to_string(),
            found: column.len(),
            expected: codes.len(),
        });
    }
    let mut counts = vec![0u64; n_codes + 1];
    let mut base = 0;
    for chunk in column.chunks {
        let rows = &codes[base..base + chunk.len()];
        let mut count = |i: usize| counts[(rows[i] as usize).min(n_codes)] += 1;
        let nulls = chunk.logical_nulls().filter(|n| n.null_count() > 0);
        match (chunk.data_type(), nulls) {
            (DataType::Float64, nulls) => {
                let values = chunk.as_primitive::<Float64Type>().values();
                for_present(rows.len(), nulls.as_ref(), |i| {
                    if !values[i].is_nan() {
                        count(i)
                    }
                });
            }
            (DataType::Float32, nulls) => {
                let values = chunk.as_primitive::<Float32Type>().values();
                for_present(rows.len(), nulls.as_ref(), |i| {
                    if !values[i].is_nan() {
                        count(i)
                    }
                });
            }
            (_, nulls) => for_present(rows.len(), nulls.as_ref(), count),
        }
        base += chunk.len();
    }
    Ok(counts)
}

/// Visit the rows `0..len` that are not null, skipping nulls a word of the bitmap at a time.
fn for_present(len: usize, nulls: Option<&NullBuffer>, visit: impl FnMut(usize)) {
    match nulls {
        None => (0..len).for_each(visit),
        Some(nulls) => nulls.valid_indices().for_each(visit),
    }
}

/// Rows of a text column (ascending) whose value is present and not one of `allowed`. A plain
/// string chunk is read straight from its buffers, nulls skipped by bitmap words; a dictionary
/// chunk tests each dictionary value once.
pub fn rows_outside(column: ColumnRef<'_>, allowed: &[String]) -> Result<Vec<u64>> {
    let words = Words::new(allowed);
    // Pieces of at most PIECE rows (zero-copy slices), scanned side by side.
    let mut pieces: Vec<(ArrayRef, u64)> = Vec::new();
    let mut base = 0u64;
    for chunk in column.chunks {
        let mut start = 0;
        while start < chunk.len() {
            let len = PIECE.min(chunk.len() - start);
            pieces.push((chunk.slice(start, len), base + start as u64));
            start += len;
        }
        base += chunk.len() as u64;
    }
    let found: Vec<Vec<u64>> = pieces
        .par_iter()
        .map(|(piece, base)| chunk_outside(column, piece, *base, &words))
        .collect::<Result<_>>()?;
    Ok(found.concat())
}

fn chunk_outside(
    column: ColumnRef<'_>,
    chunk: &ArrayRef,
    base: u64,
    words: &Words<'_>,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let nulls = chunk.logical_nulls().filter(|n| n.null_count() > 0);
    let mut keep = |i: usize, bytes: &[u8]| {
        if !words.has(bytes) {
            out.push(base + i as u64);
        }
    };
    match chunk.data_type() {
        DataType::Utf8 => {
            let text = chunk.as_string::<i32>();
            let (offsets, values) = (text.value_offsets(), text.value_data());
            for_present(chunk.len(), nulls.as_ref(), |i| {
                keep(i, &values[offsets[i] as usize..offsets[i + 1] as usize])
            });
        }
        DataType::LargeUtf8 => {
            let text = chunk.as_string::<i64>();
            let (offsets, values) = (text.value_offsets(), text.value_data());
            for_present(chunk.len(), nulls.as_ref(), |i| {
                keep(i, &values[offsets[i] as usize..offsets[i + 1] as usize])
            });
        }
        DataType::Utf8View => {
            let text = chunk.as_string_view();
            for_present(chunk.len(), nulls.as_ref(), |i| {
                keep(i, text.value(i).as_bytes())
            });
        }
        DataType::Dictionary(_, _) => {
            // Code the dictionary's values against the words, then the rows by key.
            let mut codes = vec![0u32; chunk.len()];
            let values = code_piece(column, chunk, &mut codes)?;
            let outside: Vec<bool> = values.iter().map(|v| !words.has(v.as_bytes())).collect();
            for (i, code) in codes.iter().enumerate() {
                if *code != NULL_TEXT && outside[*code as usize] {
                    out.push(base + i as u64);
                }
            }
        }
        _ => return Err(column.unsupported(TEXT_EXPECTED)),
    }
    Ok(out)
}

/// A short list of words, looked up by length first: most values of a column that keeps to its
/// list match on the first comparison.
struct Words<'a> {
    by_length: Vec<Vec<&'a [u8]>>,
}

impl<'a> Words<'a> {
    fn new(words: &'a [String]) -> Self {
        let longest = words.iter().map(String::len).max().unwrap_or(0);
        let mut by_length: Vec<Vec<&'a [u8]>> = vec![Vec::new(); longest + 1];
        for word in words {
            by_length[word.len()].push(word.as_bytes());
        }
        Words { by_length }
    }

    #[inline]
    fn has(&self, bytes: &[u8]) -> bool {
        self.by_length
            .get(bytes.len())
            .is_some_and(|same| same.contains(&bytes))
    }
}

fn is_text(kind: &DataType) -> bool {
    match kind {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(key, value) => key.is_integer() && is_text(value),
        _ => false,
    }
}

/// First-seen codes of one piece's values into `out`; returns the piece's values by local code.
fn code_piece(column: ColumnRef<'_>, piece: &ArrayRef, out: &mut [u32]) -> Result<Vec<String>> {
    let mut coder = Coder::default();
    match piece.data_type() {
        DataType::Utf8 => coder.code_all(piece.as_string::<i32>().iter(), out)?,
        DataType::LargeUtf8 => coder.code_all(piece.as_string::<i64>().iter(), out)?,
        DataType::Utf8View => coder.code_all(piece.as_string_view().iter(), out)?,
        DataType::Dictionary(key, _) => {
            macro_rules! keys {
                ($t:ty) => {
                    coder.code_dictionary(column, piece.as_dictionary::<$t>(), out)?
                };
            }
            match key.as_ref() {
                DataType::Int8 => keys!(Int8Type),
                DataType::Int16 => keys!(Int16Type),
                DataType::Int32 => keys!(Int32Type),
                DataType::Int64 => keys!(Int64Type),
                DataType::UInt8 => keys!(UInt8Type),
                DataType::UInt16 => keys!(UInt16Type),
                DataType::UInt32 => keys!(UInt32Type),
                DataType::UInt64 => keys!(UInt64Type),
                _ => return Err(column.unsupported(TEXT_EXPECTED)),
            }
        }
        _ => return Err(column.unsupported(TEXT_EXPECTED)),
    }
    Ok(coder.values.into_iter().map(str::to_string).collect())
}

/// Local first-seen coding: a small direct-mapped cache of recent values (most rows of a column
/// with few names hit it on one comparison), then a scan over the first few values, then a hash
/// map past them.
struct Coder<'a> {
    values: Vec<&'a str>,
    map: FxHashMap<&'a str, u32>,
    cache: [(&'a str, u32); CACHE],
}

const CACHE: usize = 256;

impl Default for Coder<'_> {
    fn default() -> Self {
        Coder {
            values: Vec::new(),
            map: FxHashMap::default(),
            cache: [("", u32::MAX); CACHE],
        }
    }
}

impl<'a> Coder<'a> {
    #[inline]
    fn slot(value: &str) -> usize {
        let bytes = value.as_bytes();
        let (first, last) = match bytes {
            [] => (0, 0),
            [only] => (*only, *only),
            [first, .., last] => (*first, *last),
        };
        (bytes.len().wrapping_mul(31) ^ ((first as usize) << 1) ^ ((last as usize) << 3)) % CACHE
    }

    #[inline]
    fn code(&mut self, value: &'a str) -> Result<u32> {
        let slot = Self::slot(value);
        let (cached, code) = self.cache[slot];
        if code != u32::MAX && cached == value {
            return Ok(code);
        }
        let code = self.look_up(value)?;
        self.cache[slot] = (value, code);
        Ok(code)
    }

    fn look_up(&mut self, value: &'a str) -> Result<u32> {
        if self.values.len() <= FEW {
            if let Some(i) = self.values.iter().position(|v| *v == value) {
                return Ok(i as u32);
            }
        } else if let Some(code) = self.map.get(value) {
            return Ok(*code);
        }
        let code = next_code(self.values.len())?;
        self.values.push(value);
        if self.values.len() > FEW {
            if self.map.is_empty() {
                for (i, v) in self.values.iter().enumerate() {
                    self.map.insert(v, i as u32);
                }
            } else {
                self.map.insert(value, code);
            }
        }
        Ok(code)
    }

    fn code_all(
        &mut self,
        rows: impl Iterator<Item = Option<&'a str>>,
        out: &mut [u32],
    ) -> Result<()> {
        for (o, value) in out.iter_mut().zip(rows) {
            *o = match value {
                Some(v) => self.code(v)?,
                None => NULL_TEXT,
            };
        }
        Ok(())
    }

    /// A dictionary piece: each dictionary value is coded when a row first uses it, so codes
    /// follow row order, not dictionary order.
    fn code_dictionary<K: ArrowDictionaryKeyType>(
        &mut self,
        column: ColumnRef<'_>,
        dict: &'a arrow_array::DictionaryArray<K>,
        out: &mut [u32],
    ) -> Result<()> {
        let values = dict.values();
        let text: Vec<Option<&'a str>> = match values.data_type() {
            DataType::Utf8 => values.as_string::<i32>().iter().collect(),
            DataType::LargeUtf8 => values.as_string::<i64>().iter().collect(),
            DataType::Utf8View => values.as_string_view().iter().collect(),
            _ => return Err(column.unsupported(TEXT_EXPECTED)),
        };
        let mut table: Vec<Option<u32>> = vec![None; text.len()];
        let nulls = dict.logical_nulls();
        for (row, (o, key)) in out.iter_mut().zip(dict.keys().values().iter()).enumerate() {
            let key = key.to_usize().unwrap_or(usize::MAX);
            let value = text.get(key).copied().flatten();
            let is_null = nulls.as_ref().is_some_and(|n| n.is_null(row));
            *o = match value {
                Some(v) if !is_null => match table[key] {
                    Some(code) => code,
                    None => {
                        let code = self.code(v)?;
                        table[key] = Some(code);
                        code
                    }
                },
                _ => NULL_TEXT,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{DictionaryArray, Float64Array, Int64Array, StringArray};

    use super::*;

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn column<'a>(chunks: &'a [ArrayRef]) -> ColumnRef<'a> {
        ColumnRef { name: "c", chunks }
    }

    #[test]
    fn codes_follow_first_appearance_after_the_known_values() {
        let chunks = [
            text(&[Some("b"), None, Some("a")]),
            text(&[Some("c"), Some("b")]),
        ];
        let coded = code_text(column(&chunks), &["a".to_string()]).unwrap();
        assert_eq!(coded.values, ["a", "b", "c"]);
        assert_eq!(coded.codes, [1, NULL_TEXT, 0, 2, 1]);
    }

    #[test]
    fn many_values_and_pieces_agree_with_a_plain_count() {
        let values: Vec<String> = (0..3 * PIECE + 7)
            .map(|i| format!("v{}", (i * 7919) % 40))
            .collect();
        let array: ArrayRef = Arc::new(StringArray::from_iter_values(values.iter()));
        let coded = code_text(column(&[array]), &[]).unwrap();
        let mut seen: Vec<String> = Vec::new();
        for v in &values {
            if !seen.contains(v) {
                seen.push(v.clone());
            }
        }
        assert_eq!(coded.values, seen);
        for (v, c) in values.iter().zip(&coded.codes) {
            assert_eq!(&coded.values[*c as usize], v);
        }
    }

    #[test]
    fn dictionary_rows_are_coded_in_row_order() {
        let dict: DictionaryArray<Int32Type> = vec![Some("z"), None, Some("y"), Some("z")]
            .into_iter()
            .collect();
        let chunks: [ArrayRef; 1] = [Arc::new(dict)];
        let coded = code_text(column(&chunks), &[]).unwrap();
        assert_eq!(coded.values, ["z", "y"]);
        assert_eq!(coded.codes, [0, NULL_TEXT, 1, 0]);
    }

    #[test]
    fn other_types_are_refused_by_name() {
        let chunks: [ArrayRef; 1] = [Arc::new(Int64Array::from(vec![1]))];
        let err = code_text(column(&chunks), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 'c' has type Int64; expected strings (plain or dictionary-encoded)"
        );
    }

    #[test]
    fn rows_outside_the_words_by_type() {
        let plain = text(&[Some("web"), None, Some("wap"), Some(""), Some("ios")]);
        let dict: DictionaryArray<Int8Type> = vec![Some("ios"), Some("x"), None, Some("x")]
            .into_iter()
            .collect();
        let chunks: [ArrayRef; 3] = [
            plain.clone(),
            Arc::new(dict),
            Arc::new(arrow_array::LargeStringArray::from(vec![
                Some("web"),
                Some("webs"),
            ])),
        ];
        let words = ["web".to_string(), "ios".to_string()];
        assert_eq!(
            rows_outside(column(&chunks), &words).unwrap(),
            [2, 3, 6, 8, 10]
        );
        assert_eq!(
            rows_outside(column(&chunks[..1]), &[]).unwrap(),
            [0, 2, 3, 4]
        );
    }

    #[test]
    fn present_counts_skip_nulls_and_nans() {
        let chunks: [ArrayRef; 2] = [
            Arc::new(Float64Array::from(vec![Some(1.0), None, Some(f64::NAN)])),
            Arc::new(Float64Array::from(vec![Some(2.0), Some(3.0)])),
        ];
        let counts = present_by_code(&[0, 0, 1, 1, NULL_TEXT], 2, column(&chunks)).unwrap();
        assert_eq!(counts, [1, 1, 1]);
        assert!(present_by_code(&[0], 2, column(&chunks)).is_err());
    }
}
