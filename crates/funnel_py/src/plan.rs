//! The tracking-plan kernels (`funnel_core::plan`): text columns coded per row, and present
//! values counted per event code.

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::Array;
use arrow_schema::DataType;
use funnel_core::log::ColumnRef;
use funnel_core::plan;
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyChunkedArray};

use crate::arrow_out;
use crate::errors::{to_py, SchemaError};

/// Code a text column per row: `known` values first, then the others as they first appear;
/// nulls get 2**32 - 1. Returns `(codes as uint32, values by code)`.
#[pyfunction]
#[pyo3(signature = (column, known, *, name))]
pub fn code_text(
    py: Python<'_>,
    column: PyChunkedArray,
    known: Vec<String>,
    name: String,
) -> PyResult<(Py<PyAny>, Vec<String>)> {
    let coded = py
        .detach(|| {
            plan::code_text(
                ColumnRef {
                    name: &name,
                    chunks: column.chunks(),
                },
                &known,
            )
        })
        .map_err(to_py)?;
    Ok((arrow_out::u32s(py, coded.codes)?, coded.values))
}

/// Rows per event code (uint32 `codes`, one per row of `column`) whose value is present: not
/// null and not NaN. The last of the `n_codes + 1` counts is for codes past `n_codes`.
#[pyfunction]
#[pyo3(signature = (codes, n_codes, column, *, name))]
pub fn present_by_code(
    py: Python<'_>,
    codes: PyArray,
    n_codes: usize,
    column: PyChunkedArray,
    name: String,
) -> PyResult<Vec<u64>> {
    let codes = codes.array();
    if codes.data_type() != &DataType::UInt32 || codes.null_count() > 0 {
        return Err(SchemaError::new_err(format!(
            "event codes must be uint32 without nulls; got {} with {} null(s)",
            codes.data_type(),
            codes.null_count()
        )));
    }
    let codes = codes.as_primitive::<UInt32Type>().values();
    py.detach(|| {
        plan::present_by_code(
            codes,
            n_codes,
            ColumnRef {
                name: &name,
                chunks: column.chunks(),
            },
        )
    })
    .map_err(to_py)
}

/// Rows (uint64, ascending) of a text column whose value is present and not in `allowed`.
#[pyfunction]
#[pyo3(signature = (column, allowed, *, name))]
pub fn rows_outside(
    py: Python<'_>,
    column: PyChunkedArray,
    allowed: Vec<String>,
    name: String,
) -> PyResult<Py<PyAny>> {
    let rows = py
        .detach(|| {
            plan::rows_outside(
                ColumnRef {
                    name: &name,
                    chunks: column.chunks(),
                },
                &allowed,
            )
        })
        .map_err(to_py)?;
    arrow_out::u64s(py, rows)
}
