//! Reading an event log straight from Parquet files: only the user, event and time columns are
//! decoded, each (row group, column) on its own task, and the event column stays dictionary
//! codes, so no event name is ever materialised per row. The decoded chunks go to the same
//! encoder as Arrow input, in file and row-group order, so every check and message is the one a
//! table read by pyarrow would get.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use super::codes::Code;
use super::columns::{count_nulls, int_chunks, time_chunks, ColumnRef, TimeUnit};
use super::encode::{encode_columns, EncodeOptions, Sorted};
use super::keys::{code_chunk_locally, merge_values, LocalText};
use super::sort::{key_range, Key, Layout, Scatter};
use super::EncodedLog;
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::with_codes;

/// The names of the three columns a log is built from.
#[derive(Debug, Clone, Copy)]
pub struct LogColumns<'a> {
    pub user: &'a str,
    pub event: &'a str,
    pub time: &'a str,
}

fn corrupt(file: &Path, detail: impl std::fmt::Display) -> CoreError {
    CoreError::Corrupt {
        format: "Parquet".into(),
        detail: format!("{}: {detail}", file.display()),
    }
}

/// One opened file: its bytes (mapped, not copied) and its footer read once.
struct Opened {
    path: PathBuf,
    bytes: Bytes,
    metadata: ArrowReaderMetadata,
    /// Root column index of user, event and time.
    roots: [usize; 3],
}

/// Encode a log from Parquet `files` (read in this order, as one table).
///
/// The common case (integer user keys, no nulls in the three columns) takes the streamed path:
/// user keys and event codes are decoded first, then each row group's times are decoded and
/// scattered into the sort at once. Anything else decodes the three columns and hands them to
/// the Arrow encoder, which has every rule for nulls, string keys and odd types.
pub fn encode_parquet(
    files: &[PathBuf],
    columns: LogColumns<'_>,
    options: EncodeOptions,
    control: &Control,
) -> Result<EncodedLog> {
    let names = [columns.user, columns.event, columns.time];
    let mut t0 = crate::Phase::start();
    let opened: Vec<Opened> = files
        .par_iter()
        .map(|path| open(path, names))
        .collect::<Result<_>>()?;
    if let Some(first) = opened.first() {
        let types = field_types(first);
        for other in &opened[1..] {
            let theirs = field_types(other);
            if theirs != types {
                return Err(CoreError::UnsupportedType {
                    column: names.join(", "),
                    found: format!("{theirs:?} in {}", other.path.display()),
                    expected: format!("{types:?} as in {}", first.path.display()),
                });
            }
        }
    }
    let mut groups = Vec::new();
    let mut first_row = 0usize;
    for (f, file) in opened.iter().enumerate() {
        for rg in 0..file.metadata.metadata().num_row_groups() {
            let rows = file.metadata.metadata().row_group(rg).num_rows().max(0) as usize;
            if rows > 0 {
                groups.push(Group {
                    file: f,
                    rg,
                    first_row,
                    rows,
                });
                first_row += rows;
            }
        }
    }
    let total = first_row;
    if total >= u32::MAX as usize {
        return Err(CoreError::TooLarge {
            what: "rows".into(),
            found: total,
            limit: u32::MAX as usize - 1,
        });
    }
    // Phases: decode, then the encoder's four.
    control.set_total(5 * total as u64);
    t0.lap("open");
    if !options.drop_nulls && total > 0 {
        if let Some(log) = streamed(&opened, &groups, names, options, control)? {
            return Ok(log);
        }
    }
    control.set_total(5 * total as u64);
    // Every (row group, column) is a task; big columns and small ones balance out.
    let tasks: Vec<(usize, usize)> = (0..groups.len())
        .flat_map(|g| (0..3).map(move |c| (g, c)))
        .collect();
    let arrays: Vec<ArrayRef> = tasks
        .par_iter()
        .map(|&(g, c)| {
            control.check()?;
            let group = &groups[g];
            let array = read_chunk(&opened[group.file], group.rg, c)?;
            if c == 0 {
                control.advance(array.len() as u64);
            }
            Ok(array)
        })
        .collect::<Result<_>>()?;
    let mut chunks: [Vec<ArrayRef>; 3] = Default::default();
    for (&(_, c), array) in tasks.iter().zip(arrays) {
        chunks[c].push(array);
    }
    drop(opened);
    let column = |c: usize| ColumnRef {
        name: names[c],
        chunks: &chunks[c],
    };
    encode_columns(column(0), column(1), column(2), options, control)
}

/// One non-empty row group and where its rows start in the whole input.
struct Group {
    file: usize,
    rg: usize,
    first_row: usize,
    rows: usize,
}

/// A row group's user keys as i64: the decoded Arrow buffer itself for `Int64`.
enum GroupKeys {
    Arrow(ArrayRef),
    Owned(Vec<i64>),
}

impl GroupKeys {
    fn as_slice(&self) -> &[i64] {
        match self {
            GroupKeys::Arrow(array) => array.as_primitive::<Int64Type>().values(),
            GroupKeys::Owned(keys) => keys,
        }
    }
}

/// What the first pass keeps of a row group: its keys and its locally coded events.
struct Decoded {
    keys: GroupKeys,
    range: (i64, i64),
    events: LocalText,
}

/// The streamed encoder; `Ok(None)` when the input needs the general path (nulls, keys that
/// are not integers, a chunk the fast readers do not take).
fn streamed(
    opened: &[Opened],
    groups: &[Group],
    names: [&str; 3],
    options: EncodeOptions,
    control: &Control,
) -> Result<Option<EncodedLog>> {
    let mut t0 = crate::Phase::start();
    let first: Vec<Option<Decoded>> = groups
        .par_iter()
        .map(|group| {
            control.check()?;
            let file = &opened[group.file];
            let user = read_chunk(file, group.rg, 0)?;
            let event = read_chunk(file, group.rg, 1)?;
            control.advance(group.rows as u64);
            decode_first(names, user, event)
        })
        .collect::<Result<_>>()?;
    let Some(first) = first.into_iter().collect::<Option<Vec<Decoded>>>() else {
        return Ok(None);
    };
    t0.lap("users+events");
    let locals: Vec<&[String]> = first.iter().map(|d| d.events.values.as_slice()).collect();
    let (event_names, remaps) = merge_values(&locals)?;
    let range = first
        .iter()
        .map(|d| d.range)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
        .unwrap_or((0, 0));
    let total: usize = groups.iter().map(|g| g.rows).sum();
    let layout = Layout::new(range, total);
    let log = match (layout.wide(), event_names.len()) {
        (false, 0..=256) => streamed_with::<u32, u8>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
        (false, 257..=65536) => streamed_with::<u32, u16>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
        (false, _) => streamed_with::<u32, u32>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
        (true, 0..=256) => streamed_with::<u64, u8>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
        (true, 257..=65536) => streamed_with::<u64, u16>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
        (true, _) => streamed_with::<u64, u32>(
            opened, groups, names, options, control, layout, first, &remaps,
        )?,
    };
    Ok(log.map(|(sorted, unit)| {
        control.advance(total as u64);
        sorted.into_log(range.0, None, event_names, unit, 0)
    }))
}

/// The first pass over a row group: integer keys without nulls and their range, events coded
/// against the group's own values; `None` for anything else.
fn decode_first(names: [&str; 3], user: ArrayRef, event: ArrayRef) -> Result<Option<Decoded>> {
    if user.null_count() > 0 || user.is_empty() {
        return Ok(None);
    }
    let column = ColumnRef {
        name: names[0],
        chunks: std::slice::from_ref(&user),
    };
    let keys = match user.data_type() {
        DataType::Int64 => GroupKeys::Arrow(user.clone()),
        _ => match int_chunks(column) {
            Some(Ok(mut chunks)) => match chunks.pop() {
                Some(keys) => GroupKeys::Owned(keys.into_owned()),
                None => return Ok(None),
            },
            _ => return Ok(None),
        },
    };
    let events_column = ColumnRef {
        name: names[1],
        chunks: std::slice::from_ref(&event),
    };
    if count_nulls(events_column) > 0 {
        return Ok(None);
    }
    let Ok(events) = code_chunk_locally(names[1], &event) else {
        return Ok(None);
    };
    let Some(range) = key_range(keys.as_slice(), None) else {
        return Ok(None);
    };
    Ok(Some(Decoded {
        keys,
        range,
        events,
    }))
}

type Streamed = Option<(Sorted, TimeUnit)>;

#[allow(clippy::too_many_arguments)]
fn streamed_with<K: Key, C: Code>(
    opened: &[Opened],
    groups: &[Group],
    names: [&str; 3],
    options: EncodeOptions,
    control: &Control,
    layout: Layout,
    first: Vec<Decoded>,
    remaps: &[Vec<u32>],
) -> Result<Streamed> {
    let mut t0 = crate::Phase::start();
    let histograms: Vec<Vec<u32>> = first
        .par_iter()
        .map(|d| layout.histogram(d.keys.as_slice(), None))
        .collect();
    let (scatter, mut cursors) = Scatter::<K, C>::new(layout, &histograms);
    drop(histograms);
    t0.lap("hist");
    control.advance(layout.total as u64);
    let units: Vec<Option<TimeUnit>> = groups
        .par_iter()
        .zip(first.into_par_iter())
        .zip(cursors.par_iter_mut())
        .zip(remaps.par_iter())
        .map(|(((group, decoded), cursor), remap)| {
            control.check()?;
            let time = read_chunk(&opened[group.file], group.rg, 2)?;
            if time.null_count() > 0 {
                return Ok(None);
            }
            let column = ColumnRef {
                name: names[2],
                chunks: std::slice::from_ref(&time),
            };
            let Ok((mut times, unit)) = time_chunks(column, options.int_time_unit) else {
                return Ok(None);
            };
            let times = times.pop().unwrap_or_default();
            let keys = decoded.keys.as_slice();
            if times.len() != keys.len() || decoded.events.codes.len() != keys.len() {
                return Ok(None);
            }
            let table: Vec<C> = remap.iter().map(|&c| C::from_u32(c)).collect();
            let base = group.first_row as u32;
            let fits = with_codes!(&decoded.events.codes, local => scatter.write(
                cursor,
                keys.iter()
                    .zip(times.iter())
                    .zip(local.iter())
                    .enumerate()
                    .map(|(i, ((&key, &time), &code))| {
                        (base + i as u32, key, time, table[code.index()])
                    }),
            ));
            control.advance(2 * group.rows as u64);
            Ok(fits.then_some(unit))
        })
        .collect::<Result<_>>()?;
    t0.lap("times+scatter");
    let Some(units) = units.into_iter().collect::<Option<Vec<TimeUnit>>>() else {
        return Ok(None);
    };
    let Some(unit) = units.first().copied() else {
        return Ok(None);
    };
    if units.iter().any(|u| *u != unit) {
        return Ok(None);
    }
    let Some(sorted) = scatter.finish(&cursors) else {
        return Ok(None);
    };
    control.check()?;
    Ok(Some((Sorted::from(sorted), unit)))
}

fn field_types(file: &Opened) -> Vec<DataType> {
    let schema = file.metadata.schema();
    file.roots
        .iter()
        .map(|&r| schema.field(r).data_type().clone())
        .collect()
}

/// Map a file and read its footer; the event column is asked for as a dictionary of its text.
fn open(path: &Path, names: [&str; 3]) -> Result<Opened> {
    let file = File::open(path).map_err(|e| corrupt(path, e))?;
    let bytes = map_file(&file).map_err(|e| corrupt(path, e))?;
    let plain = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
        .map_err(|e| corrupt(path, e))?;
    let parquet_schema = plain.metadata().file_metadata().schema_descr();
    let fields = parquet_schema.root_schema().get_fields();
    let mut roots = [0usize; 3];
    for (slot, name) in roots.iter_mut().zip(names) {
        let index = fields
            .iter()
            .position(|f| f.name() == name)
            .ok_or_else(|| CoreError::UnsupportedType {
                column: name.to_string(),
                found: format!("no such column in {}", path.display()),
                expected: "a column of the file".into(),
            })?;
        if !fields[index].is_primitive() {
            return Err(CoreError::UnsupportedType {
                column: name.to_string(),
                found: "a nested column".into(),
                expected: "a flat column".into(),
            });
        }
        *slot = index;
    }
    let schema = plain.schema();
    if schema.fields().len() != fields.len() {
        return Err(CoreError::UnsupportedType {
            column: names.join(", "),
            found: "a schema whose Arrow fields do not match its Parquet columns".into(),
            expected: "one Arrow field per column".into(),
        });
    }
    let event = schema.field(roots[1]);
    let metadata = match event.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 => {
            let dictionary = DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(event.data_type().clone()),
            );
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if i == roots[1] {
                        f.as_ref().clone().with_data_type(dictionary.clone())
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect();
            let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
            ArrowReaderMetadata::try_new(
                plain.metadata().clone(),
                ArrowReaderOptions::new().with_schema(hinted),
            )
            .map_err(|e| corrupt(path, e))?
        }
        _ => plain,
    };
    Ok(Opened {
        path: path.to_path_buf(),
        bytes,
        metadata,
        roots,
    })
}

/// One column of one row group as a single Arrow array.
fn read_chunk(file: &Opened, rg: usize, column: usize) -> Result<ArrayRef> {
    let rows = file.metadata.metadata().row_group(rg).num_rows() as usize;
    let mask = ProjectionMask::roots(
        file.metadata.metadata().file_metadata().schema_descr(),
        [file.roots[column]],
    );
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
        file.bytes.clone(),
        file.metadata.clone(),
    )
    .with_projection(mask)
    .with_row_groups(vec![rg])
    .with_batch_size(rows)
    .build()
    .map_err(|e| corrupt(&file.path, e))?;
    let mut parts = Vec::with_capacity(1);
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(&file.path, e))?;
        parts.push(batch.column(0).clone());
    }
    match parts.len() {
        1 => Ok(parts.pop().expect("one part")),
        _ => {
            let refs: Vec<&dyn arrow_array::Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrow_select::concat::concat(&refs).map_err(|e| corrupt(&file.path, e))
        }
    }
}

/// The file's bytes: mapped into memory where the platform allows, so pages are decoded from
/// the page cache without a copy.
#[cfg(target_os = "linux")]
fn map_file(file: &File) -> std::io::Result<Bytes> {
    Ok(Bytes::from_owner(Mapped::new(file)?))
}

#[cfg(not(target_os = "linux"))]
fn map_file(file: &File) -> std::io::Result<Bytes> {
    use std::io::Read;
    let mut buffer = Vec::new();
    (&*file).read_to_end(&mut buffer)?;
    Ok(Bytes::from(buffer))
}

/// A read-only private mapping of a whole file, unmapped on drop.
#[cfg(target_os = "linux")]
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; reading it from several
// threads is sound.
#[cfg(target_os = "linux")]
unsafe impl Send for Mapped {}
#[cfg(target_os = "linux")]
unsafe impl Sync for Mapped {}

#[cfg(target_os = "linux")]
impl Mapped {
    fn new(file: &File) -> std::io::Result<Self> {
        use std::os::unix::io::AsRawFd;
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            return Ok(Self {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh read-only mapping of `len` bytes of an open file; the result is
        // checked for MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { ptr, len })
    }
}

#[cfg(target_os = "linux")]
impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping the mapping made in `new`, once.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}
