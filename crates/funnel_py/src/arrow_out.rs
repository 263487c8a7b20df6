//! Results go back to Python as pyarrow arrays (zero-copy through the Arrow C interface).

use std::sync::Arc;

use std::ptr::NonNull;

use arrow_array::{
    ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array, PrimitiveArray, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_buffer::alloc::Allocation;
use arrow_buffer::{Buffer, ScalarBuffer};
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

pub fn to_pyarrow(py: Python<'_>, array: ArrayRef) -> PyResult<Py<PyAny>> {
    Ok(PyArray::from_array_ref(array).to_pyarrow(py)?.unbind())
}

/// `values` as a pyarrow array over the same memory, kept alive by `owner` (which must own
/// `values` and never change them while it lives).
pub fn shared<T: ArrowPrimitiveType>(
    py: Python<'_>,
    values: &[T::Native],
    owner: Arc<dyn Allocation>,
) -> PyResult<Py<PyAny>> {
    let bytes = std::mem::size_of_val(values);
    let start = NonNull::from(values).cast::<u8>();
    // SAFETY: `start..start + bytes` is `values`' memory, which `owner` owns and keeps
    // unchanged for as long as the buffer (which holds `owner`) lives.
    let buffer = unsafe { Buffer::from_custom_allocation(start, bytes, owner) };
    let values = ScalarBuffer::<T::Native>::new(buffer, 0, values.len());
    to_pyarrow(py, Arc::new(PrimitiveArray::<T>::new(values, None)))
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
