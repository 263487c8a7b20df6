//! A breakdown's groups from an event property: each unit takes the code of the property on its
//! attributed row, and the values are renumbered in the order units first show them, in one
//! native pass instead of a gather, a scatter-min and a renumbering in numpy.

use rayon::prelude::*;

use super::output::NO_ROW;
use crate::error::{CoreError, Result};

/// Units per parallel chunk: large enough that the random reads of a chunk overlap.
const CHUNK: usize = 1 << 16;

/// Units ahead of the one read whose row is asked for.
const AHEAD: usize = 32;

/// Ask for the cache line of `values[at]`, to be read soon; nothing happens for an index past
/// the end (`NO_ROW` included).
#[inline(always)]
fn prefetch<C>(values: &[C], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < values.len() {
        // SAFETY: the address is inside `values`, and a prefetch reads nothing into the program.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(values.as_ptr().add(at).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (values, at);
}

/// Groups of units by a coded property: `codes[unit]` is the unit's group (`shown.len()` for a
/// unit without a row or without a value; -1 for a unit at level 0) and `shown[g]` the
/// property code of group `g`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributedGroups {
    pub codes: Vec<i64>,
    pub shown: Vec<u32>,
}

/// A property coded per input row, as narrow as its values allow: breakdowns read the codes of
/// rows scattered over the log, and a byte per row keeps a 10M-row log's codes in cache where
/// four bytes do not.
#[derive(Debug, Clone, Copy)]
pub enum RowCodes<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
}

/// Run `$body` with `$codes` bound to the slice inside a [`RowCodes`], whatever its width.
macro_rules! with_row_codes {
    ($row_codes:expr, $codes:ident => $body:expr) => {
        match $row_codes {
            RowCodes::U8($codes) => $body,
            RowCodes::U16($codes) => $body,
            RowCodes::U32($codes) => $body,
        }
    };
}

/// Group units by `row_codes` (a code per input row, `n_values` for a missing value) on their
/// attributed input rows `rows` (`NO_ROW`: none). Values are numbered in the order of the first
/// unit (with a row) that shows them, whatever its level; units at level 0 are then in no group.
pub fn attributed_groups(
    row_codes: RowCodes<'_>,
    rows: &[u32],
    levels: &[u8],
    n_values: usize,
) -> Result<AttributedGroups> {
    check_lengths(rows, levels)?;
    with_row_codes!(row_codes, codes => numbered_groups(codes, rows, levels, n_values))
}

/// Each unit's property code on its attributed row `rows` (`n_values` without a row or a value;
/// -1 at level 0), unnumbered, in one pass: a breakdown orders its groups by size, so it needs
/// no numbering by first showing.
pub fn attributed_codes(
    row_codes: RowCodes<'_>,
    rows: &[u32],
    levels: &[u8],
    n_values: usize,
) -> Result<Vec<i64>> {
    check_lengths(rows, levels)?;
    with_row_codes!(row_codes, codes => unnumbered_codes(codes, rows, levels, n_values))
}

fn unnumbered_codes<C: Copy + Into<u32> + Sync>(
    row_codes: &[C],
    rows: &[u32],
    levels: &[u8],
    n_values: usize,
) -> Result<Vec<i64>> {
    let missing = n_values as u32;
    let mut codes = vec![0i64; rows.len()];
    codes
        .par_chunks_mut(CHUNK)
        .zip(rows.par_chunks(CHUNK).zip(levels.par_chunks(CHUNK)))
        .try_for_each(|(out, (rows, levels))| {
            for (i, (code, (&row, &level))) in
                out.iter_mut().zip(rows.iter().zip(levels)).enumerate()
            {
                // The rows are scattered over the log: asked for ahead, their reads overlap.
                if let Some(&next) = rows.get(i + AHEAD) {
                    prefetch(row_codes, next as usize);
                }
                let value = code_at(row_codes, row, missing)?;
                *code = if level == 0 { -1 } else { i64::from(value) };
            }
            Ok(())
        })?;
    Ok(codes)
}

fn check_lengths(rows: &[u32], levels: &[u8]) -> Result<()> {
    if levels.len() != rows.len() {
        return Err(CoreError::InvalidFunnel(format!(
            "{} levels given for {} attributed rows",
            levels.len(),
            rows.len()
        )));
    }
    Ok(())
}

/// The code of input row `row` (`missing` for `NO_ROW`). About half the units have no row, and
/// branches on it mispredicted every other unit, so this branches only on what is rare (a bad
/// row or code).
#[inline(always)]
fn code_at<C: Copy + Into<u32>>(row_codes: &[C], row: u32, missing: u32) -> Result<u32> {
    let inside = (row as usize) < row_codes.len();
    if !inside && row != NO_ROW {
        return Err(CoreError::InvalidFunnel(format!(
            "attributed row {row} is outside the {} coded rows",
            row_codes.len()
        )));
    }
    let read: u32 = row_codes
        .get(if inside { row as usize } else { 0 })
        .map_or(missing, |&c| c.into());
    let value = if inside { read } else { missing };
    if value > missing {
        return Err(CoreError::InvalidFunnel(format!(
            "property code {value} is above the number of values ({missing})"
        )));
    }
    Ok(value)
}

fn numbered_groups<C: Copy + Into<u32> + Sync>(
    row_codes: &[C],
    rows: &[u32],
    levels: &[u8],
    n_values: usize,
) -> Result<AttributedGroups> {
    let missing = n_values as u32;
    // First pass, parallel: each unit's code (`missing` without a row), and per chunk the
    // values in the order its units first show them.
    let mut codes = vec![0i64; rows.len()];
    // A bitmap of the values per chunk: chunks grow with the units, so that there are never
    // more than a few dozen bitmaps, however many values there are.
    let chunk = CHUNK.max(rows.len().div_ceil(16 * rayon::current_num_threads()));
    let firsts = codes
        .par_chunks_mut(chunk)
        .zip(rows.par_chunks(chunk))
        .map(|(out, rows)| {
            // One bit per value and one for `missing` (no branch on it; see `code_at`).
            let mut seen = vec![0u64; (n_values + 1).div_ceil(64)];
            let mut first = Vec::new();
            for (i, (code, &row)) in out.iter_mut().zip(rows).enumerate() {
                // The rows are scattered over the log: asked for ahead, their reads overlap.
                if let Some(&ahead) = rows.get(i + AHEAD) {
                    prefetch(row_codes, ahead as usize);
                }
                let value = code_at(row_codes, row, missing)?;
                let (word, bit) = ((value / 64) as usize, 1u64 << (value % 64));
                if seen[word] & bit == 0 {
                    seen[word] |= bit;
                    first.push(value);
                }
                *code = i64::from(value);
            }
            Ok(first)
        })
        .collect::<Result<Vec<Vec<u32>>>>()?;
    // The chunks' first showings in chunk order: the values in the order units first show them.
    let mut number = vec![u32::MAX; n_values + 1];
    let mut shown = Vec::new();
    for value in firsts.into_iter().flatten() {
        let slot = &mut number[value as usize];
        if *slot == u32::MAX && value != missing {
            *slot = shown.len() as u32;
            shown.push(value);
        }
    }
    number[n_values] = shown.len() as u32;
    // Second pass, parallel: renumber, and take entrants only.
    codes
        .par_chunks_mut(CHUNK)
        .zip(levels.par_chunks(CHUNK))
        .for_each(|(codes, levels)| {
            for (code, &level) in codes.iter_mut().zip(levels) {
                *code = if level == 0 {
                    -1
                } else {
                    i64::from(number[*code as usize])
                };
            }
        });
    Ok(AttributedGroups { codes, shown })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The definition, literally: what the numpy version computed.
    fn literal(
        row_codes: &[u32],
        rows: &[u32],
        levels: &[u8],
        n_values: usize,
    ) -> (Vec<i64>, Vec<u32>) {
        let picked: Vec<u32> = rows
            .iter()
            .map(|&r| {
                if r == NO_ROW {
                    n_values as u32
                } else {
                    row_codes[r as usize]
                }
            })
            .collect();
        let mut shown: Vec<u32> = Vec::new();
        for &p in &picked {
            if p != n_values as u32 && !shown.contains(&p) {
                shown.push(p);
            }
        }
        let codes = picked
            .iter()
            .zip(levels)
            .map(
                |(&p, &level)| match (level, shown.iter().position(|&s| s == p)) {
                    (0, _) => -1,
                    (_, Some(g)) => g as i64,
                    (_, None) => shown.len() as i64,
                },
            )
            .collect();
        (codes, shown)
    }

    proptest! {
        #[test]
        fn matches_the_literal_definition(
            n_values in 0usize..6,
            row_seeds in prop::collection::vec(0u32..1000, 1..300),
            units in prop::collection::vec((0u32..1000, 0u8..4, prop::bool::weighted(0.2)), 0..3 * CHUNK / 2),
        ) {
            let row_codes: Vec<u32> = row_seeds.iter().map(|s| s % (n_values as u32 + 1)).collect();
            let rows: Vec<u32> = units
                .iter()
                .map(|&(r, _, none)| if none { NO_ROW } else { r % row_codes.len() as u32 })
                .collect();
            let levels: Vec<u8> = units.iter().map(|u| u.1).collect();
            let got = attributed_groups(RowCodes::U32(&row_codes), &rows, &levels, n_values).unwrap();
            let (codes, shown) = literal(&row_codes, &rows, &levels, n_values);
            // Narrow codes give the same groups.
            let narrow: Vec<u8> = row_codes.iter().map(|&c| c as u8).collect();
            prop_assert_eq!(&attributed_groups(RowCodes::U8(&narrow), &rows, &levels, n_values).unwrap(), &got);
            let narrow: Vec<u16> = row_codes.iter().map(|&c| c as u16).collect();
            prop_assert_eq!(&attributed_groups(RowCodes::U16(&narrow), &rows, &levels, n_values).unwrap(), &got);
            // Unnumbered, each entrant keeps the property code of its group.
            let raw = attributed_codes(RowCodes::U32(&row_codes), &rows, &levels, n_values).unwrap();
            let expected: Vec<i64> = codes
                .iter()
                .map(|&g| match g {
                    -1 => -1,
                    g => shown.get(g as usize).map_or(n_values as i64, |&v| i64::from(v)),
                })
                .collect();
            prop_assert_eq!(raw, expected);
            prop_assert_eq!(got.shown, shown);
            prop_assert_eq!(got.codes, codes);
        }
    }

    #[test]
    fn bad_rows_and_codes_are_refused() {
        let err = attributed_groups(RowCodes::U32(&[0, 1]), &[5], &[1], 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("row 5 is outside the 2 coded rows"),
            "{err}"
        );
        let err = attributed_groups(RowCodes::U32(&[0, 7]), &[1], &[1], 2).unwrap_err();
        assert!(err.to_string().contains("code 7 is above"), "{err}");
        assert!(attributed_groups(RowCodes::U32(&[0]), &[0, 0], &[1], 1).is_err());
        let err = attributed_codes(RowCodes::U8(&[0, 1]), &[5], &[1], 2).unwrap_err();
        assert!(err.to_string().contains("row 5 is outside"), "{err}");
    }
}
