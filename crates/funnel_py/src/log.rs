//! `workbench._core.EncodedLog`: the encoded event log, shared by funnels and audiences.

use std::sync::Arc;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::Array;
use arrow_schema::DataType;
use funnel_core::log::{
    encode, encode_parquet as core_encode_parquet, ColumnRef, EncodeOptions, EncodedLog,
    LogColumns, TimeUnit, UserKeys,
};
use funnel_core::CoreError;
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyChunkedArray};

use crate::arrow_out;
use crate::errors::{EmptyLogError, SchemaError};
use crate::interrupt::run_interruptible;

/// An event log encoded once: dense users, rows sorted by (user, time), coded event names.
#[pyclass(name = "EncodedLog", module = "workbench._core", frozen)]
pub struct PyEncodedLog {
    pub inner: Arc<EncodedLog>,
}

#[pymethods]
impl PyEncodedLog {
    #[getter]
    fn n_rows(&self) -> usize {
        self.inner.n_rows()
    }

    #[getter]
    fn n_users(&self) -> usize {
        self.inner.n_users()
    }

    #[getter]
    fn dropped_rows(&self) -> u64 {
        self.inner.dropped_rows
    }

    #[getter]
    fn time_unit(&self) -> &'static str {
        self.inner.time_unit.as_str()
    }

    #[getter]
    fn event_names(&self) -> Vec<String> {
        self.inner.event_names.clone()
    }

    #[getter]
    fn event_counts(&self) -> Vec<u64> {
        self.inner.event_counts.clone()
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        self.inner.time_range()
    }

    fn event_code(&self, name: &str) -> Option<u32> {
        self.inner.event_code(name)
    }

    /// Original user keys indexed by dense user id (pyarrow int64 or string array).
    fn user_keys(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.inner.user_keys {
            UserKeys::Int(keys) => arrow_out::i64s(py, keys.clone()),
            UserKeys::Str(keys) => arrow_out::strings(py, keys),
        }
    }

    /// The encoded rows as Arrow arrays `(user_offsets, times, events)`: what tests compare when
    /// they hold two readers of the same data to each other.
    fn encoded_rows(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        Ok((
            arrow_out::u32s(py, self.inner.user_offsets.clone())?,
            arrow_out::i64s(py, self.inner.times.clone())?,
            arrow_out::u32s(py, self.inner.events.to_u32())?,
        ))
    }

    /// Input row of every encoded row (uint32).
    fn source_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        arrow_out::u32s(py, self.inner.source_rows.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "EncodedLog(rows={}, users={}, events={})",
            self.inner.n_rows(),
            self.inner.n_users(),
            self.inner.event_names.len()
        )
    }
}

/// Encode a log straight from Parquet files (read in the given order as one table), decoding
/// only the three named columns. Returns `(log, "")`, or `(None, why)` when the native reader
/// does not take the input (a corrupt file, an unsupported type or encoding, nulls that need
/// the message the general path gives): the caller then reads the files the general way, which
/// reports any problem as it always has.
#[pyfunction]
#[pyo3(signature = (paths, *, names, time_unit=None, drop_nulls=false, progress=None))]
pub fn encode_parquet(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    names: (String, String, String),
    time_unit: Option<&str>,
    drop_nulls: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<(Option<PyEncodedLog>, String)> {
    let options = EncodeOptions {
        drop_nulls,
        int_time_unit: time_unit.map(parse_time_unit).transpose()?,
    };
    let (user, event, time) = names;
    let outcome = run_interruptible(py, progress.as_ref(), |control| {
        let columns = LogColumns {
            user: &user,
            event: &event,
            time: &time,
        };
        // A malformed file may trip a panic deep in the decoder; it declines like any other
        // unreadable input rather than failing the load.
        let read = catch_unwind(AssertUnwindSafe(|| {
            core_encode_parquet(&paths, columns, options, control)
        }));
        Ok(match read {
            Ok(Err(CoreError::Cancelled)) => return Err(CoreError::Cancelled),
            Ok(other) => other,
            Err(_) => Err(CoreError::Corrupt {
                format: "Parquet".into(),
                detail: "the native reader failed on this input".into(),
            }),
        })
    })?;
    Ok(match outcome {
        Ok(log) => (
            Some(PyEncodedLog {
                inner: Arc::new(log),
            }),
            String::new(),
        ),
        Err(err) => (None, err.to_string()),
    })
}

/// Encode a log from its columns (chunked Arrow arrays); names are used in error messages.
#[pyfunction]
#[pyo3(signature = (user, event, time, *, names, time_unit=None, drop_nulls=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn encode_log(
    py: Python<'_>,
    user: PyChunkedArray,
    event: PyChunkedArray,
    time: PyChunkedArray,
    names: (String, String, String),
    time_unit: Option<&str>,
    drop_nulls: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyEncodedLog> {
    let int_time_unit = time_unit.map(parse_time_unit).transpose()?;
    let (user_name, event_name, time_name) = names;
    let options = EncodeOptions {
        drop_nulls,
        int_time_unit,
    };
    let encoded = run_interruptible(py, progress.as_ref(), |control| {
        encode(
            ColumnRef {
                name: &user_name,
                chunks: user.chunks(),
            },
            ColumnRef {
                name: &event_name,
                chunks: event.chunks(),
            },
            ColumnRef {
                name: &time_name,
                chunks: time.chunks(),
            },
            options,
            control,
        )
    })?;
    Ok(PyEncodedLog {
        inner: Arc::new(encoded),
    })
}

fn parse_time_unit(unit: &str) -> PyResult<TimeUnit> {
    TimeUnit::parse(unit).ok_or_else(|| {
        SchemaError::new_err(format!(
            "time_unit must be one of 's', 'ms', 'us', 'ns'; got {unit:?}"
        ))
    })
}

/// The users of a log whose events live elsewhere (a Spark cluster): the id space that a result
/// and its audiences share, with the log's event names and counts, and no rows. `keys` are the
/// distinct user keys (int64 or strings), ascending, as the encoder would order them.
#[pyfunction]
#[pyo3(signature = (keys, *, event_names, event_counts, time_unit))]
pub fn user_space(
    keys: PyArray,
    event_names: Vec<String>,
    event_counts: Vec<u64>,
    time_unit: &str,
) -> PyResult<PyEncodedLog> {
    let time_unit = parse_time_unit(time_unit)?;
    let array = keys.array();
    if array.null_count() > 0 {
        return Err(SchemaError::new_err(format!(
            "user keys contain {} null(s); a user key cannot be null",
            array.null_count()
        )));
    }
    let user_keys = match array.data_type() {
        DataType::Int64 => UserKeys::Int(array.as_primitive::<Int64Type>().values().to_vec()),
        DataType::Utf8 => UserKeys::Str(
            array
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect(),
        ),
        DataType::LargeUtf8 => UserKeys::Str(
            array
                .as_string::<i64>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect(),
        ),
        other => {
            return Err(SchemaError::new_err(format!(
                "user keys must be int64 or strings; got {other}"
            )))
        }
    };
    let unordered = match &user_keys {
        UserKeys::Int(k) => k.windows(2).position(|w| w[0] >= w[1]),
        UserKeys::Str(k) => k.windows(2).position(|w| w[0] >= w[1]),
    };
    if let Some(i) = unordered {
        return Err(SchemaError::new_err(format!(
            "user keys must be distinct and ascending; the key at position {} does not follow the one before it",
            i + 1
        )));
    }
    if user_keys.len() >= u32::MAX as usize {
        return Err(SchemaError::new_err(format!(
            "the log has {} users; at most {} are supported",
            user_keys.len(),
            u32::MAX - 1
        )));
    }
    if let Some(i) = event_names.windows(2).position(|w| w[0] >= w[1]) {
        return Err(SchemaError::new_err(format!(
            "event names must be distinct and ascending; {:?} follows {:?}",
            event_names[i + 1],
            event_names[i]
        )));
    }
    if event_counts.len() != event_names.len() {
        return Err(SchemaError::new_err(format!(
            "{} event counts given for {} event names",
            event_counts.len(),
            event_names.len()
        )));
    }
    let n_users = user_keys.len();
    Ok(PyEncodedLog {
        inner: Arc::new(EncodedLog {
            user_offsets: vec![0; n_users + 1],
            times: Vec::new(),
            events: funnel_core::log::EventCodes::U8(Vec::new()),
            source_rows: Vec::new(),
            event_names,
            event_counts,
            user_keys,
            time_unit,
            dropped_rows: 0,
            recycled: Default::default(),
        }),
    })
}

/// Refuse work that reads events on a log that holds only users (a [`user_space`]).
pub fn require_events(log: &EncodedLog, what: &str) -> PyResult<()> {
    if log.n_rows() == 0 {
        return Err(EmptyLogError::new_err(format!(
            "{what} reads events, but this log holds only the users of a run made elsewhere (its \
             events stay in Spark); work on the events with workbench.spark"
        )));
    }
    Ok(())
}
