//! Results go back to Python as pyarrow arrays (zero-copy through the Arrow C interface).

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

pub fn to_pyarrow(py: Python<'_>, array: ArrayRef) -> PyResult<Py<PyAny>> {
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}

pub fn u8s(py: Python<'_>, values: Vec<u8>) -> PyResult<Py<PyAny>> {
    to_pyarrow(py, Arc::new(UInt8Array::from(values)))
}

pub fn u32s(py: Python<'_>, values: Vec<u32>) -> PyResult<Py<PyAny>> {
    to_pyarrow(py, Arc::new(UInt32Array::from(values)))
}

pub fn i64s(py: Python<'_>, values: Vec<i64>) -> PyResult<Py<PyAny>> {
    to_pyarrow(py, Arc::new(Int64Array::from(values)))
}

pub fn strings(py: Python<'_>, values: &[String]) -> PyResult<Py<PyAny>> {
    to_pyarrow(
        py,
        Arc::new(StringArray::from_iter_values(
            values.iter().map(String::as_str),
        )),
    )
}

pub fn u64s(py: Python<'_>, values: Vec<u64>) -> PyResult<Py<PyAny>> {
    to_pyarrow(py, Arc::new(UInt64Array::from(values)))
}

pub fn f64s(py: Python<'_>, values: Vec<f64>) -> PyResult<Py<PyAny>> {
    to_pyarrow(py, Arc::new(Float64Array::from(values)))
}
