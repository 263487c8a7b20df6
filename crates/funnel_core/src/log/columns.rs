//! Reading input columns of any Arrow type the log accepts into the engine's flat vectors.
//! A column arrives as its chunks (a chunked array); values are visited in row order.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit as ArrowTimeUnit};

use crate::error::{CoreError, Result};

/// One input column: its name (for messages) and its chunks.
#[derive(Debug, Clone, Copy)]
pub struct ColumnRef<'a> {
    pub name: &'a str,
    pub chunks: &'a [ArrayRef],
}

impl ColumnRef<'_> {
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn data_type(&self) -> Option<&DataType> {
        self.chunks.first().map(|c| c.data_type())
    }

    pub(crate) fn unsupported(&self, expected: &str) -> CoreError {
        CoreError::UnsupportedType {
            column: self.name.to_string(),
            found: self
                .data_type()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "no data".into()),
            expected: expected.to_string(),
        }
    }
}

/// The unit of every timestamp in an encoded log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl TimeUnit {
    /// How many of this unit make one second.
    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Second => "s",
            TimeUnit::Millisecond => "ms",
            TimeUnit::Microsecond => "us",
            TimeUnit::Nanosecond => "ns",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "s" => Some(TimeUnit::Second),
            "ms" => Some(TimeUnit::Millisecond),
            "us" => Some(TimeUnit::Microsecond),
            "ns" => Some(TimeUnit::Nanosecond),
            _ => None,
        }
    }
}

impl From<ArrowTimeUnit> for TimeUnit {
    fn from(unit: ArrowTimeUnit) -> Self {
        match unit {
            ArrowTimeUnit::Second => TimeUnit::Second,
            ArrowTimeUnit::Millisecond => TimeUnit::Millisecond,
            ArrowTimeUnit::Microsecond => TimeUnit::Microsecond,
            ArrowTimeUnit::Nanosecond => TimeUnit::Nanosecond,
        }
    }
}

/// The null slots of one chunk. A dictionary chunk also counts rows whose key points at a null
/// value, which would otherwise reach the engine as a row without a code.
fn chunk_nulls(chunk: &ArrayRef) -> Option<arrow_buffer::NullBuffer> {
    if matches!(chunk.data_type(), DataType::Dictionary(..)) {
        chunk.logical_nulls().filter(|n| n.null_count() > 0)
    } else {
        chunk.nulls().filter(|n| n.null_count() > 0).cloned()
    }
}

/// Number of null rows of a column (no allocation; most logs have none).
pub(crate) fn count_nulls(column: ColumnRef<'_>) -> usize {
    column
        .chunks
        .iter()
        .map(|c| chunk_nulls(c).map_or(0, |n| n.null_count()))
        .sum()
}

/// Null positions of a column, pushed into `valid` (which starts all-true).
pub(crate) fn mark_nulls(column: ColumnRef<'_>, valid: &mut [bool]) -> (usize, Option<usize>) {
    let mut count = 0;
    let mut first = None;
    let mut base = 0;
    for chunk in column.chunks {
        if let Some(nulls) = chunk_nulls(chunk) {
            for i in nulls.iter().enumerate().filter(|(_, v)| !v).map(|(i, _)| i) {
                count += 1;
                first.get_or_insert(base + i);
                valid[base + i] = false;
            }
        }
        base += chunk.len();
    }
    (count, first)
}

/// Timestamps of a column as i64 in their own unit, one slice per chunk: borrowed from Arrow where
/// the values already are i64 (timestamps, Int64), so the common case copies nothing. Integer
/// columns take `int_unit`.
pub(crate) fn time_chunks<'a>(
    column: ColumnRef<'a>,
    int_unit: Option<TimeUnit>,
) -> Result<(Vec<Cow<'a, [i64]>>, TimeUnit)> {
    let expected = "a timestamp (any unit or time zone), or integer epochs with a stated unit";
    let data_type = column
        .data_type()
        .ok_or_else(|| column.unsupported(expected))?;
    let unit = match data_type {
        DataType::Timestamp(unit, _) => TimeUnit::from(*unit),
        DataType::Date32 => TimeUnit::Second,
        DataType::Int64 | DataType::Int32 | DataType::UInt32 | DataType::UInt64 => {
            int_unit.ok_or_else(|| CoreError::UnsupportedType {
                column: column.name.to_string(),
                found: data_type.to_string(),
                expected: "a timestamp; for integer epochs state the unit (time_unit='s', 'ms', 'us' or 'ns')".into(),
            })?
        }
        _ => return Err(column.unsupported(expected)),
    };
    let mut out = Vec::with_capacity(column.chunks.len());
    let mut row = 0;
    for chunk in column.chunks {
        if chunk.data_type() != data_type {
            return Err(column.unsupported(&data_type.to_string()));
        }
        let values: Cow<'a, [i64]> = match data_type {
            DataType::Timestamp(ArrowTimeUnit::Second, _) => {
                Cow::Borrowed(&chunk.as_primitive::<TimestampSecondType>().values()[..])
            }
            DataType::Timestamp(ArrowTimeUnit::Millisecond, _) => {
                Cow::Borrowed(&chunk.as_primitive::<TimestampMillisecondType>().values()[..])
            }
            DataType::Timestamp(ArrowTimeUnit::Microsecond, _) => {
                Cow::Borrowed(&chunk.as_primitive::<TimestampMicrosecondType>().values()[..])
            }
            DataType::Timestamp(ArrowTimeUnit::Nanosecond, _) => {
                Cow::Borrowed(&chunk.as_primitive::<TimestampNanosecondType>().values()[..])
            }
            DataType::Date32 => Cow::Owned(
                chunk
                    .as_primitive::<Date32Type>()
                    .values()
                    .iter()
                    .map(|d| *d as i64 * 86_400)
                    .collect(),
            ),
            DataType::Int64 => Cow::Borrowed(&chunk.as_primitive::<Int64Type>().values()[..]),
            DataType::Int32 => Cow::Owned(
                chunk
                    .as_primitive::<Int32Type>()
                    .values()
                    .iter()
                    .map(|v| *v as i64)
                    .collect(),
            ),
            DataType::UInt32 => Cow::Owned(
                chunk
                    .as_primitive::<UInt32Type>()
                    .values()
                    .iter()
                    .map(|v| *v as i64)
                    .collect(),
            ),
            DataType::UInt64 => {
                let values = chunk.as_primitive::<UInt64Type>();
                let mut converted = Vec::with_capacity(values.len());
                for (i, v) in values.values().iter().enumerate() {
                    let v = i64::try_from(*v).map_err(|_| CoreError::UnsupportedType {
                        column: column.name.to_string(),
                        found: format!("value {v} at row {}", row + i),
                        expected: "an epoch that fits in a signed 64-bit integer".into(),
                    })?;
                    converted.push(v);
                }
                Cow::Owned(converted)
            }
            _ => unreachable!("unit match above covers the same types"),
        };
        row += chunk.len();
        out.push(values);
    }
    Ok((out, unit))
}

/// Timestamps of a column as one flat vector (see [`time_chunks`]).
#[cfg(test)]
pub(crate) fn read_times(
    column: ColumnRef<'_>,
    int_unit: Option<TimeUnit>,
) -> Result<(Vec<i64>, TimeUnit)> {
    let (chunks, unit) = time_chunks(column, int_unit)?;
    Ok((chunks.concat(), unit))
}

/// Visit every row of a text-like column (strings of any width, or a dictionary of strings) as
/// `Option<&str>`; nulls come as `None`.
pub(crate) fn for_each_str<'a>(
    column: ColumnRef<'a>,
    expected: &str,
    mut visit: impl FnMut(usize, Option<&'a str>) -> Result<()>,
) -> Result<()> {
    let mut row = 0;
    for chunk in column.chunks {
        match chunk.data_type() {
            DataType::Utf8 => {
                for v in chunk.as_string::<i32>().iter() {
                    visit(row, v)?;
                    row += 1;
                }
            }
            DataType::LargeUtf8 => {
                for v in chunk.as_string::<i64>().iter() {
                    visit(row, v)?;
                    row += 1;
                }
            }
            DataType::Utf8View => {
                for v in chunk.as_string_view().iter() {
                    visit(row, v)?;
                    row += 1;
                }
            }
            _ => return Err(column.unsupported(expected)),
        }
    }
    Ok(())
}

/// A dictionary-encoded text chunk split into its keys (as row -> value index) and values.
pub(crate) struct DictionaryChunk<'a> {
    pub keys: Vec<Option<usize>>,
    pub values: &'a ArrayRef,
}

pub(crate) fn dictionary_chunk(chunk: &ArrayRef) -> Option<DictionaryChunk<'_>> {
    let DataType::Dictionary(key_type, _) = chunk.data_type() else {
        return None;
    };
    macro_rules! keys {
        ($t:ty) => {{
            let dict = chunk.as_dictionary::<$t>();
            let keys = dict.keys().iter().map(|k| k.map(|k| k as usize)).collect();
            Some(DictionaryChunk {
                keys,
                values: dict.values(),
            })
        }};
    }
    match key_type.as_ref() {
        DataType::Int8 => keys!(Int8Type),
        DataType::Int16 => keys!(Int16Type),
        DataType::Int32 => keys!(Int32Type),
        DataType::Int64 => keys!(Int64Type),
        DataType::UInt8 => keys!(UInt8Type),
        DataType::UInt16 => keys!(UInt16Type),
        DataType::UInt32 => keys!(UInt32Type),
        DataType::UInt64 => keys!(UInt64Type),
        _ => None,
    }
}

/// Integer values of a column as i64 (for integer user keys), one slice per chunk (borrowed for
/// Int64), or `None` if it is not integral.
pub(crate) fn int_chunks<'a>(column: ColumnRef<'a>) -> Option<Result<Vec<Cow<'a, [i64]>>>> {
    let data_type = column.data_type()?;
    macro_rules! ints {
        ($t:ty) => {{
            let mut out = Vec::with_capacity(column.chunks.len());
            for chunk in column.chunks {
                if chunk.data_type() != data_type {
                    return Some(Err(column.unsupported(&data_type.to_string())));
                }
                out.push(Cow::Owned(
                    chunk
                        .as_primitive::<$t>()
                        .values()
                        .iter()
                        .map(|v| *v as i64)
                        .collect(),
                ));
            }
            Some(Ok(out))
        }};
    }
    match data_type {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => {
            let mut out = Vec::with_capacity(column.chunks.len());
            for chunk in column.chunks {
                if chunk.data_type() != data_type {
                    return Some(Err(column.unsupported(&data_type.to_string())));
                }
                out.push(Cow::Borrowed(
                    &chunk.as_primitive::<Int64Type>().values()[..],
                ));
            }
            Some(Ok(out))
        }
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => {
            let mut out = Vec::with_capacity(column.chunks.len());
            let mut row = 0;
            for chunk in column.chunks {
                if chunk.data_type() != data_type {
                    return Some(Err(column.unsupported(&data_type.to_string())));
                }
                let values = chunk.as_primitive::<UInt64Type>();
                let mut converted = Vec::with_capacity(values.len());
                for (i, v) in values.values().iter().enumerate() {
                    // Null slots hold arbitrary bits; they are skipped later, so do not judge them.
                    if values.is_null(i) {
                        converted.push(0);
                        continue;
                    }
                    match i64::try_from(*v) {
                        Ok(v) => converted.push(v),
                        Err(_) => {
                            return Some(Err(CoreError::UnsupportedType {
                                column: column.name.to_string(),
                                found: format!("key {v} at row {}", row + i),
                                expected: "user keys below 2^63 (or strings)".into(),
                            }))
                        }
                    }
                }
                row += chunk.len();
                out.push(Cow::Owned(converted));
            }
            Some(Ok(out))
        }
        _ => None,
    }
}

/// Integer values of a column as one flat vector (see [`int_chunks`]).
pub(crate) fn read_ints(column: ColumnRef<'_>) -> Option<Result<Vec<i64>>> {
    int_chunks(column).map(|chunks| chunks.map(|chunks| chunks.concat()))
}
