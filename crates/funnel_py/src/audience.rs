//! `workbench._core.Audience` and `workbench._core.TagStore`: Roaring bitmaps over a log's dense
//! user ids. Arrays cross as Arrow; ratios and tables are built in Python from the counts.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt32Type, UInt8Type};
use arrow_array::{Array, LargeStringArray, UInt64Array};
use arrow_schema::DataType;
use funnel_core::audience::build::{self, Behaviour};
use funnel_core::audience::formats::{self, Format, KeyBitmap};
use funnel_core::audience::keys::{self, KeyQuery};
use funnel_core::audience::{insight, persist, profile, Audience, Op, TagStore};
use funnel_core::log::EncodedLog;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};
use pyo3_arrow::PyArray;

use crate::arrow_out;
use crate::errors::{to_py, AudienceError};
use crate::log::{require_events, PyEncodedLog};

/// A set of users of one event log.
#[pyclass(name = "Audience", module = "workbench._core", frozen)]
pub struct PyAudience {
    log: Arc<EncodedLog>,
    inner: Arc<Audience>,
}

impl PyAudience {
    fn new(log: Arc<EncodedLog>, inner: Audience) -> Self {
        Self {
            log,
            inner: Arc::new(inner),
        }
    }

    fn check_same_log(&self, other: &PyAudience, op: &str) -> PyResult<()> {
        if !Arc::ptr_eq(&self.log, &other.log) {
            return Err(AudienceError::new_err(format!(
                "cannot {op} audiences of different event logs; build both from the same EventLog"
            )));
        }
        Ok(())
    }
}

#[pymethods]
impl PyAudience {
    fn __len__(&self) -> usize {
        self.inner.len() as usize
    }

    fn contains_id(&self, id: u32) -> bool {
        self.inner.contains(id)
    }

    fn same_log(&self, other: &PyAudience) -> bool {
        Arc::ptr_eq(&self.log, &other.log)
    }

    fn belongs_to(&self, log: &Bound<'_, PyEncodedLog>) -> bool {
        Arc::ptr_eq(&self.log, &log.get().inner)
    }

    fn equals(&self, other: &PyAudience) -> bool {
        Arc::ptr_eq(&self.log, &other.log) && self.inner.bits() == other.inner.bits()
    }

    fn and_(&self, py: Python<'_>, other: &PyAudience) -> PyResult<PyAudience> {
        self.check_same_log(other, "intersect (&)")?;
        let out = py.detach(|| self.inner.and(&other.inner)).map_err(to_py)?;
        Ok(PyAudience::new(self.log.clone(), out))
    }

    fn or_(&self, py: Python<'_>, other: &PyAudience) -> PyResult<PyAudience> {
        self.check_same_log(other, "unite (|)")?;
        let out = py.detach(|| self.inner.or(&other.inner)).map_err(to_py)?;
        Ok(PyAudience::new(self.log.clone(), out))
    }

    fn sub(&self, py: Python<'_>, other: &PyAudience) -> PyResult<PyAudience> {
        self.check_same_log(other, "subtract (-)")?;
        let out = py.detach(|| self.inner.sub(&other.inner)).map_err(to_py)?;
        Ok(PyAudience::new(self.log.clone(), out))
    }

    fn xor(&self, py: Python<'_>, other: &PyAudience) -> PyResult<PyAudience> {
        self.check_same_log(other, "take the symmetric difference (^) of")?;
        let out = py.detach(|| self.inner.xor(&other.inner)).map_err(to_py)?;
        Ok(PyAudience::new(self.log.clone(), out))
    }

    fn complement(&self, py: Python<'_>) -> PyAudience {
        let out = py.detach(|| self.inner.complement());
        PyAudience::new(self.log.clone(), out)
    }

    /// Dense ids of members `offset..offset+limit` in key order (uint32).
    #[pyo3(signature = (offset=0, limit=None))]
    fn ids(&self, py: Python<'_>, offset: u64, limit: Option<u64>) -> PyResult<Py<PyAny>> {
        let ids = py.detach(|| self.inner.page(offset, limit));
        arrow_out::u32s(py, ids)
    }

    /// Bytes of the bitmap of ORIGINAL integer keys: `format` is "portable", "clickhouse" or
    /// "doris"; `bits` 32/64 picks the layout (None: 32 unless a key needs 64).
    #[pyo3(signature = (format="portable", bits=None))]
    fn key_bitmap_bytes<'py>(
        &self,
        py: Python<'py>,
        format: &str,
        bits: Option<u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = Format::parse(format).map_err(to_py)?;
        let bytes = py
            .detach(|| formats::export(&self.inner, &self.log.user_keys, format, bits))
            .map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!(
            "Audience({} of {} users)",
            self.inner.len(),
            self.inner.universe()
        )
    }
}

fn log_arc(log: &Bound<'_, PyEncodedLog>) -> Arc<EncodedLog> {
    log.get().inner.clone()
}

/// Audience from dense ids (uint32 array).
#[pyfunction]
pub fn audience_from_ids(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    ids: PyArray,
) -> PyResult<PyAudience> {
    let log = log_arc(log);
    let array = ids.array();
    let Some(ids) = array.as_primitive_opt::<UInt32Type>() else {
        return Err(AudienceError::new_err(format!(
            "user ids must be uint32; got {}",
            array.data_type()
        )));
    };
    let universe = log.n_users() as u32;
    let out = py
        .detach(|| Audience::from_ids(ids.values(), universe))
        .map_err(to_py)?;
    Ok(PyAudience::new(log, out))
}

/// Dense id of each key, -1 when the log lacks it (int64 array).
#[pyfunction]
pub fn lookup_keys(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    keys: PyArray,
) -> PyResult<Py<PyAny>> {
    let log = log_arc(log);
    let array = keys.array().clone();
    let ids = py.detach(|| with_query(&array, |q| keys::lookup_partial(&log.user_keys, q)))?;
    let ids: Vec<i64> = ids
        .0
        .into_iter()
        .map(|id| id.map_or(-1, i64::from))
        .collect();
    arrow_out::i64s(py, ids)
}

/// Audience of the given original keys; every key must be in the log.
#[pyfunction]
pub fn audience_from_keys(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    keys: PyArray,
) -> PyResult<PyAudience> {
    let log = log_arc(log);
    let array = keys.array().clone();
    let out = py.detach(|| with_query(&array, |q| keys::from_keys(&log.user_keys, q)))?;
    Ok(PyAudience::new(log, out))
}

fn with_query<T>(
    array: &arrow_array::ArrayRef,
    f: impl FnOnce(&KeyQuery<'_>) -> funnel_core::Result<T>,
) -> PyResult<T> {
    if array.null_count() > 0 {
        return Err(AudienceError::new_err(format!(
            "user keys contain {} null(s); a user key cannot be null",
            array.null_count()
        )));
    }
    match array.data_type() {
        DataType::Int64 => f(&KeyQuery::Int(array.as_primitive::<Int64Type>().values())),
        DataType::Utf8 => {
            let strs: Vec<&str> = array.as_string::<i32>().iter().flatten().collect();
            f(&KeyQuery::Str(&strs))
        }
        DataType::LargeUtf8 => {
            let strs: Vec<&str> = array.as_string::<i64>().iter().flatten().collect();
            f(&KeyQuery::Str(&strs))
        }
        DataType::Utf8View => {
            let strs: Vec<&str> = array.as_string_view().iter().flatten().collect();
            f(&KeyQuery::Str(&strs))
        }
        other => {
            return Err(AudienceError::new_err(format!(
                "user keys must be int64 or strings; got {other}"
            )))
        }
    }
    .map_err(to_py)
}

/// Users who did one of `events` (codes) at least `min_times` times in [start, end), on rows
/// where `mask` (per input row) is true.
#[pyfunction]
#[pyo3(signature = (log, events, mask=None, start=None, end=None, min_times=1))]
pub fn audience_did(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    events: Vec<u32>,
    mask: Option<PyArray>,
    start: Option<i64>,
    end: Option<i64>,
    min_times: u32,
) -> PyResult<PyAudience> {
    let log = log_arc(log);
    require_events(&log, "Audience.did")?;
    let mask: Option<Vec<bool>> = match mask {
        None => None,
        Some(m) => {
            let array = m.array();
            let Some(b) = array.as_boolean_opt() else {
                return Err(AudienceError::new_err(format!(
                    "`where` must evaluate to booleans; got {}",
                    array.data_type()
                )));
            };
            // A null comparison (missing property) does not match.
            Some((0..b.len()).map(|i| b.is_valid(i) && b.value(i)).collect())
        }
    };
    let out = py
        .detach(|| {
            build::did(
                &log,
                &Behaviour {
                    events: &events,
                    row_mask: mask.as_deref(),
                    start,
                    end,
                    min_times,
                },
            )
        })
        .map_err(to_py)?;
    Ok(PyAudience::new(log, out))
}

/// Users whose funnel level (uint8 per dense id) is in `min_level..=max_level`.
#[pyfunction]
pub fn audience_from_levels(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    levels: PyArray,
    min_level: u8,
    max_level: u8,
) -> PyResult<PyAudience> {
    let log = log_arc(log);
    let array = levels.array();
    let Some(levels) = array.as_primitive_opt::<UInt8Type>() else {
        return Err(AudienceError::new_err(format!(
            "levels must be uint8; got {}",
            array.data_type()
        )));
    };
    if levels.len() != log.n_users() {
        return Err(AudienceError::new_err(format!(
            "levels cover {} users but the log has {}; the funnel result belongs to another log",
            levels.len(),
            log.n_users()
        )));
    }
    let out = py
        .detach(|| build::from_levels(levels.values(), min_level, max_level))
        .map_err(to_py)?;
    Ok(PyAudience::new(log, out))
}

/// Users flagged true (boolean per dense id).
#[pyfunction]
pub fn audience_from_flags(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    flags: PyArray,
) -> PyResult<PyAudience> {
    let log = log_arc(log);
    let array = flags.array();
    let Some(b) = array.as_boolean_opt() else {
        return Err(AudienceError::new_err(format!(
            "flags must be booleans; got {}",
            array.data_type()
        )));
    };
    if b.len() != log.n_users() {
        return Err(AudienceError::new_err(format!(
            "flags cover {} users but the log has {}",
            b.len(),
            log.n_users()
        )));
    }
    let flags: Vec<bool> = (0..b.len()).map(|i| b.is_valid(i) && b.value(i)).collect();
    let out = py.detach(|| build::from_flags(&flags)).map_err(to_py)?;
    Ok(PyAudience::new(log, out))
}

fn decode(data: &[u8], format: &str, bits: Option<u8>) -> PyResult<KeyBitmap> {
    match (format, bits) {
        ("portable", Some(32)) => KeyBitmap::from_portable32(data),
        ("portable", Some(64)) => KeyBitmap::from_portable64(data),
        // A 32-bit portable bitmap starts with cookie 12346 or 12347; the 64-bit layout
        // starts with a u64 bucket count, whose low 16 bits are never either cookie in practice.
        ("portable", None) => KeyBitmap::from_portable32(data)
            .or_else(|e32| KeyBitmap::from_portable64(data).map_err(|_| e32)),
        ("clickhouse", b) => KeyBitmap::from_clickhouse(data, b.unwrap_or(32)),
        ("doris" | "starrocks", _) => KeyBitmap::from_doris(data),
        (other, b) => {
            return Err(AudienceError::new_err(format!(
                "unknown bitmap format {other:?} (bits={b:?}); expected 'portable' (bits 32/64), \
                 'clickhouse' or 'doris'"
            )))
        }
    }
    .map_err(to_py)
}

/// The original keys held in bitmap bytes (uint64, ascending), without a log.
#[pyfunction]
#[pyo3(signature = (data, format="portable", bits=None))]
pub fn bitmap_keys(
    py: Python<'_>,
    data: &[u8],
    format: &str,
    bits: Option<u8>,
) -> PyResult<Py<PyAny>> {
    let keys: Vec<u64> = py.detach(|| decode(data, format, bits).map(|b| b.keys().collect()))?;
    arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(keys)))
}

/// Audience of the keys in bitmap bytes; returns it and the keys the log lacks (uint64).
#[pyfunction]
#[pyo3(signature = (log, data, format="portable", bits=None))]
pub fn audience_from_bitmap(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    data: &[u8],
    format: &str,
    bits: Option<u8>,
) -> PyResult<(PyAudience, Py<PyAny>)> {
    let log = log_arc(log);
    let (audience, missing) = py.detach(|| {
        let bitmap = decode(data, format, bits)?;
        keys::from_sorted_int_keys(&log.user_keys, bitmap.keys()).map_err(to_py)
    })?;
    let missing = arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(missing)))?;
    Ok((PyAudience::new(log, audience), missing))
}

/// Save named audiences of one log (workbench bitmap file bytes).
#[pyfunction]
pub fn save_audiences<'py>(
    py: Python<'py>,
    names: Vec<String>,
    audiences: Vec<PyRef<'py, PyAudience>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let Some(first) = audiences.first() else {
        return Err(AudienceError::new_err(
            "nothing to save: no audiences given",
        ));
    };
    for a in &audiences {
        first.check_same_log(a, "save together")?;
    }
    let log = first.log.clone();
    let inners: Vec<Arc<Audience>> = audiences.iter().map(|a| a.inner.clone()).collect();
    let bytes = py
        .detach(|| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let bits: Vec<_> = inners.iter().map(|a| a.bits()).collect();
            persist::save(&names, &bits, &log.user_keys)
        })
        .map_err(to_py)?;
    Ok(PyBytes::new(py, &bytes))
}

/// Load named audiences onto a log: (names, audiences, members dropped per name).
#[pyfunction]
pub fn load_audiences(
    py: Python<'_>,
    log: &Bound<'_, PyEncodedLog>,
    data: &[u8],
) -> PyResult<(Vec<String>, Vec<PyAudience>, Vec<u64>)> {
    let log = log_arc(log);
    let loaded = py
        .detach(|| persist::load(data, &log.user_keys))
        .map_err(to_py)?;
    let audiences = loaded
        .audiences
        .into_iter()
        .map(|a| PyAudience::new(log.clone(), a))
        .collect();
    Ok((loaded.names, audiences, loaded.dropped))
}

/// |a_i ∩ a_j| for every pair (uint64, row-major n × n).
#[pyfunction]
pub fn overlap_counts(
    py: Python<'_>,
    audiences: Vec<PyRef<'_, PyAudience>>,
) -> PyResult<Py<PyAny>> {
    if let Some(first) = audiences.first() {
        for a in &audiences {
            first.check_same_log(a, "overlap")?;
        }
    }
    let inners: Vec<Arc<Audience>> = audiences.iter().map(|a| a.inner.clone()).collect();
    let counts = py
        .detach(|| {
            let refs: Vec<&Audience> = inners.iter().map(|a| a.as_ref()).collect();
            insight::overlap(&refs)
        })
        .map_err(to_py)?;
    arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(counts)))
}

/// Distinct users of each audience per event code (uint64, `e * k + j`).
#[pyfunction]
pub fn event_user_counts(
    py: Python<'_>,
    audiences: Vec<PyRef<'_, PyAudience>>,
) -> PyResult<Py<PyAny>> {
    let Some(first) = audiences.first() else {
        return Err(AudienceError::new_err("at least one audience is needed"));
    };
    for a in &audiences {
        first.check_same_log(a, "compare")?;
    }
    let log = first.log.clone();
    require_events(&log, "counting the events of audiences")?;
    let inners: Vec<Arc<Audience>> = audiences.iter().map(|a| a.inner.clone()).collect();
    let counts = py
        .detach(|| {
            let refs: Vec<&Audience> = inners.iter().map(|a| a.as_ref()).collect();
            insight::event_user_counts(&log, &refs)
        })
        .map_err(to_py)?;
    arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(counts)))
}

/// Named bitmaps of one log's users.
#[pyclass(name = "TagStore", module = "workbench._core")]
pub struct PyTagStore {
    log: Arc<EncodedLog>,
    inner: Arc<TagStore>,
}

fn parse_op(code: &str, arg: usize) -> PyResult<Op> {
    Ok(match code {
        "tag" => Op::Tag(arg),
        "all" => Op::All,
        "not" => Op::Not,
        "and" => Op::And,
        "or" => Op::Or,
        "sub" => Op::Sub,
        "xor" => Op::Xor,
        other => {
            return Err(AudienceError::new_err(format!(
                "unknown selection instruction {other:?}"
            )))
        }
    })
}

#[pymethods]
impl PyTagStore {
    #[new]
    fn py_new(log: &Bound<'_, PyEncodedLog>) -> Self {
        let log = log_arc(log);
        let universe = log.n_users() as u32;
        Self {
            log,
            inner: Arc::new(TagStore::new(universe)),
        }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.inner.index_of(name)
    }

    fn belongs_to(&self, log: &Bound<'_, PyEncodedLog>) -> bool {
        Arc::ptr_eq(&self.log, &log.get().inner)
    }

    /// Users of each tag (uint64, in tag order).
    fn sizes(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let sizes: Vec<u64> = self.inner.bitmaps().iter().map(|b| b.len()).collect();
        arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(sizes)))
    }

    fn get(&self, name: &str) -> Option<PyAudience> {
        self.inner
            .get(name)
            .map(|a| PyAudience::new(self.log.clone(), a))
    }

    fn add(&mut self, name: &str, audience: &PyAudience) -> PyResult<()> {
        if !Arc::ptr_eq(&self.log, &audience.log) {
            return Err(AudienceError::new_err(format!(
                "tag '{name}' comes from another event log than this tag store"
            )));
        }
        Arc::make_mut(&mut self.inner)
            .add(name, (*audience.inner).clone())
            .map_err(to_py)
    }

    fn remove(&mut self, name: &str) -> bool {
        Arc::make_mut(&mut self.inner).remove(name)
    }

    /// One tag per name: user `ids[i]` (uint32) gets `names[codes[i]]` (int64; <0 = none).
    fn add_grouped(
        &mut self,
        py: Python<'_>,
        names: Vec<String>,
        ids: PyArray,
        codes: PyArray,
    ) -> PyResult<()> {
        let ids = ids.array().clone();
        let codes = codes.array().clone();
        let (Some(ids), Some(codes)) = (
            ids.as_primitive_opt::<UInt32Type>(),
            codes.as_primitive_opt::<Int64Type>(),
        ) else {
            return Err(AudienceError::new_err(
                "add_grouped needs uint32 user ids and int64 group codes",
            ));
        };
        let mut store = (*self.inner).clone();
        py.detach(|| store.add_grouped(&names, ids.values(), codes.values()))
            .map_err(to_py)?;
        self.inner = Arc::new(store);
        Ok(())
    }

    /// Run a compiled selection: a list of (instruction, tag index) in postfix order.
    fn eval(&self, py: Python<'_>, program: Vec<(String, usize)>) -> PyResult<PyAudience> {
        let ops = program
            .iter()
            .map(|(code, arg)| parse_op(code, *arg))
            .collect::<PyResult<Vec<Op>>>()?;
        let store = self.inner.clone();
        let out = py.detach(|| store.eval(&ops)).map_err(to_py)?;
        Ok(PyAudience::new(self.log.clone(), out))
    }

    /// Per tag: |tag ∩ audience_j| for each audience, then |tag| (uint64, `t * (k+1) + j`).
    fn tag_counts(
        &self,
        py: Python<'_>,
        audiences: Vec<PyRef<'_, PyAudience>>,
    ) -> PyResult<Py<PyAny>> {
        for a in &audiences {
            if !Arc::ptr_eq(&self.log, &a.log) {
                return Err(AudienceError::new_err(
                    "the audience comes from another event log than this tag store",
                ));
            }
        }
        let inners: Vec<Arc<Audience>> = audiences.iter().map(|a| a.inner.clone()).collect();
        let store = self.inner.clone();
        let counts = py.detach(|| {
            let refs: Vec<&Audience> = inners.iter().map(|a| a.as_ref()).collect();
            insight::tag_counts(&refs, &store)
        });
        arrow_out::to_pyarrow(py, Arc::new(UInt64Array::from(counts)))
    }

    /// A profile's ranked table: the tag names (large_string), then as native-endian bytes
    /// (writable, for `numpy.frombuffer`) the int64 tag index, users in the audience and users
    /// in the base (`rows` each), and the float64 audience_share, base_share, tgi, lift,
    /// lift_low, lift_high and p_value (`rows` each). `audience` is already within `base`
    /// (None: every user of the log).
    #[pyo3(signature = (audience, base, z, min_count))]
    fn profile_table(
        &self,
        py: Python<'_>,
        audience: PyRef<'_, PyAudience>,
        base: Option<PyRef<'_, PyAudience>>,
        z: f64,
        min_count: f64,
    ) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        for a in std::iter::once(&audience).chain(base.as_ref()) {
            if !Arc::ptr_eq(&self.log, &a.log) {
                return Err(AudienceError::new_err(
                    "the audience comes from another event log than this tag store",
                ));
            }
        }
        let inner = audience.inner.clone();
        let base = base.map(|b| b.inner.clone());
        let store = self.inner.clone();
        let (table, names) = py.detach(|| {
            let table = profile::profile_table(&inner, base.as_deref(), &store, z, min_count);
            let names = store.names();
            // Tag indices come from the store itself, so each is in range.
            let ranked = LargeStringArray::from_iter_values(
                table.ints[..table.rows]
                    .iter()
                    .filter_map(|&t| names.get(t as usize)),
            );
            (table, ranked)
        });
        // A profile is a few hundred rows: bytearrays reach NumPy without Arrow's export.
        let ints = PyByteArray::new_with(py, 8 * table.ints.len(), |out| {
            fill_ne_bytes(out, table.ints.iter().map(|v| v.to_ne_bytes()));
            Ok(())
        })?;
        let floats = PyByteArray::new_with(py, 8 * table.floats.len(), |out| {
            fill_ne_bytes(out, table.floats.iter().map(|v| v.to_ne_bytes()));
            Ok(())
        })?;
        Ok((
            arrow_out::to_pyarrow(py, Arc::new(names))?,
            ints.into_any().unbind(),
            floats.into_any().unbind(),
        ))
    }

    /// Bytes of every tag over ORIGINAL integer keys, in tag order (built in parallel).
    #[pyo3(signature = (format="portable", bits=None))]
    fn key_bitmaps<'py>(
        &self,
        py: Python<'py>,
        format: &str,
        bits: Option<u8>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let format = Format::parse(format).map_err(to_py)?;
        let store = self.inner.clone();
        let log = self.log.clone();
        if formats::tags_as_stored(&log.user_keys, format, bits) {
            // Straight into the bytes objects: one copy of each tag, not two.
            return (store.bitmaps().iter())
                .map(|tag| {
                    PyBytes::new_with(py, tag.serialized_size(), |buffer| {
                        tag.serialize_into(&mut buffer[..]).map_err(|e| {
                            AudienceError::new_err(format!("could not write a tag: {e}"))
                        })
                    })
                })
                .collect();
        }
        let all = py
            .detach(|| formats::export_tags(&store, &log.user_keys, format, bits))
            .map_err(to_py)?;
        Ok(all.iter().map(|b| PyBytes::new(py, b)).collect())
    }

    fn save_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let store = self.inner.clone();
        let log = self.log.clone();
        let bytes = py
            .detach(|| {
                let names: Vec<&str> = store.names().iter().map(String::as_str).collect();
                let bits: Vec<_> = store.bitmaps().iter().collect();
                persist::save(&names, &bits, &log.user_keys)
            })
            .map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Load a saved store onto `log`: (store, members dropped per tag).
    #[staticmethod]
    fn load_bytes(
        py: Python<'_>,
        log: &Bound<'_, PyEncodedLog>,
        data: &[u8],
    ) -> PyResult<(PyTagStore, Vec<u64>)> {
        let log = log_arc(log);
        let loaded = py
            .detach(|| persist::load(data, &log.user_keys))
            .map_err(to_py)?;
        let mut store = TagStore::new(log.n_users() as u32);
        for (name, a) in loaded.names.iter().zip(loaded.audiences) {
            store.add(name, a).map_err(to_py)?;
        }
        Ok((
            PyTagStore {
                log,
                inner: Arc::new(store),
            },
            loaded.dropped,
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "TagStore({} tags over {} users)",
            self.inner.len(),
            self.inner.universe()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAudience>()?;
    m.add_class::<PyTagStore>()?;
    m.add_function(wrap_pyfunction!(audience_from_ids, m)?)?;
    m.add_function(wrap_pyfunction!(audience_from_keys, m)?)?;
    m.add_function(wrap_pyfunction!(audience_did, m)?)?;
    m.add_function(wrap_pyfunction!(audience_from_levels, m)?)?;
    m.add_function(wrap_pyfunction!(audience_from_flags, m)?)?;
    m.add_function(wrap_pyfunction!(audience_from_bitmap, m)?)?;
    m.add_function(wrap_pyfunction!(lookup_keys, m)?)?;
    m.add_function(wrap_pyfunction!(bitmap_keys, m)?)?;
    m.add_function(wrap_pyfunction!(save_audiences, m)?)?;
    m.add_function(wrap_pyfunction!(load_audiences, m)?)?;
    m.add_function(wrap_pyfunction!(overlap_counts, m)?)?;
    m.add_function(wrap_pyfunction!(event_user_counts, m)?)?;
    Ok(())
}

/// Writes 8-byte values one after another into `out` (sized for them).
fn fill_ne_bytes(out: &mut [u8], values: impl Iterator<Item = [u8; 8]>) {
    for (slot, bytes) in out.chunks_exact_mut(8).zip(values) {
        slot.copy_from_slice(&bytes);
    }
}
