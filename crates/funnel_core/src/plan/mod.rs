//! Kernels behind tracking-plan validation: the per-row passes over text columns that Arrow's
//! hash kernels make slow (about 30 ns a row), so that a ten-million-event check stays near a
//! second. Everything else in validation is array arithmetic on the codes these return.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::ArrowNativeType;
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{CoreError, Result};
use crate::log::ColumnRef;

/// The code of a null value in [`code_text`] (reads as -1 through a signed 32-bit view).
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
        let present = present_rows(chunk);
        for (i, &code) in rows.iter().enumerate() {
            let slot = (code as usize).min(n_codes);
            counts[slot] += u64::from(present.as_ref().is_none_or(|p| p[i]));
        }
        base += chunk.len();
    }
    Ok(counts)
}

/// Per row of `chunk`, whether its value is present; `None` when every row is.
fn present_rows(chunk: &ArrayRef) -> Option<Vec<bool>> {
    let valid: Option<Vec<bool>> = chunk
        .logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|n| n.iter().collect());
    let nan: Option<Vec<bool>> = match chunk.data_type() {
        DataType::Float64 => Some(
            chunk
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|v| v.is_nan())
                .collect(),
        ),
        DataType::Float32 => Some(
            chunk
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .map(|v| v.is_nan())
                .collect(),
        ),
        _ => None,
    };
    match (valid, nan) {
        (None, None) => None,
        (Some(valid), None) => Some(valid),
        (valid, Some(nan)) => Some(
            nan.iter()
                .enumerate()
                .map(|(i, &is_nan)| !is_nan && valid.as_ref().is_none_or(|v| v[i]))
                .collect(),
        ),
    }
}

fn is_text(kind: &DataType) -> bool {
    match kind {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(key, value) => key.is_integer() && is_text(value),
        _ => false,
    }
}

fn next_code(len: usize) -> Result<u32> {
    if len >= NULL_TEXT as usize {
        return Err(CoreError::TooLarge {
            what: "distinct values in one column".into(),
            found: len + 1,
            limit: NULL_TEXT as usize - 1,
        });
    }
    Ok(len as u32)
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

/// Local first-seen coding: a scan over the first few values, a hash map past them.
#[derive(Default)]
struct Coder<'a> {
    values: Vec<&'a str>,
    map: FxHashMap<&'a str, u32>,
}

impl<'a> Coder<'a> {
    #[inline]
    fn code(&mut self, value: &'a str) -> Result<u32> {
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
