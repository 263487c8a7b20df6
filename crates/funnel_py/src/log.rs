//! `workbench._core.EncodedLog`: the encoded event log, shared by funnels and audiences.

use std::sync::Arc;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use funnel_core::log::{
    encode, encode_parquet as core_encode_parquet, ColumnRef, EncodeOptions, EncodedLog,
    LogColumns, TimeUnit, UserKeys,
};
use funnel_core::CoreError;
use pyo3::prelude::*;
use pyo3_arrow::PyChunkedArray;

use crate::arrow_out;
use crate::errors::SchemaError;
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

fn parse_time_unit(time_unit: Option<&str>) -> PyResult<Option<TimeUnit>> {
    time_unit
        .map(|unit| {
            TimeUnit::parse(unit).ok_or_else(|| {
                SchemaError::new_err(format!(
                    "time_unit must be one of 's', 'ms', 'us', 'ns'; got {unit:?}"
                ))
            })
        })
        .transpose()
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
        int_time_unit: parse_time_unit(time_unit)?,
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
    let int_time_unit = parse_time_unit(time_unit)?;
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
