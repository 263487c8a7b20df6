//! `workbench._core.run_funnel` and the arrays it leaves behind.

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use funnel_core::funnel::{run_funnel as core_run, FunnelOutput, FunnelSpec, Mode, StepConditions};
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use crate::arrow_out;
use crate::errors::{to_py, FunnelDefinitionError};
use crate::interrupt::run_interruptible;
use crate::log::PyEncodedLog;

/// The arrays of one funnel run; the Python `FunnelResult` aggregates them on demand.
#[pyclass(name = "FunnelOutput", module = "workbench._core", frozen)]
pub struct PyFunnelOutput {
    inner: FunnelOutput,
    steps: usize,
}

#[pymethods]
impl PyFunnelOutput {
    #[getter]
    fn n_steps(&self) -> usize {
        self.steps
    }

    /// Users at each exact level 0..=N.
    fn level_counts(&self) -> Vec<u64> {
        self.inner.level_counts(self.steps)
    }

    /// Level per dense user id (uint8).
    fn levels(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        arrow_out::u8s(py, self.inner.levels.clone())
    }

    /// Input row of each user's chain's step-1 event (uint32; 2**32-1 at level 0).
    fn entry_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        arrow_out::u32s(py, self.inner.entry_rows.clone())
    }

    /// (users, from_start, from_previous) for step `step` (2..=N).
    fn step_times(
        &self,
        py: Python<'_>,
        step: usize,
    ) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        let times = step
            .checked_sub(2)
            .and_then(|i| self.inner.step_times.get(i))
            .ok_or_else(|| {
                FunnelDefinitionError::new_err(format!(
                    "step must be between 2 and {} for times to convert; got {step}",
                    self.steps
                ))
            })?;
        Ok((
            arrow_out::u32s(py, times.users.clone())?,
            arrow_out::i64s(py, times.from_start.clone())?,
            arrow_out::i64s(py, times.from_previous.clone())?,
        ))
    }
}

fn boolean_values(step: usize, array: &PyArray) -> PyResult<BooleanBuffer> {
    let array = array.array();
    if array.data_type() != &DataType::Boolean {
        return Err(FunnelDefinitionError::new_err(format!(
            "the condition of step {} evaluated to {}, expected booleans",
            step + 1,
            array.data_type()
        )));
    }
    let booleans = array.as_boolean();
    // A null comparison (a missing property) does not match the step.
    Ok(match booleans.nulls() {
        Some(nulls) => booleans.values() & nulls.inner(),
        None => booleans.values().clone(),
    })
}

/// Run a funnel of `len(event_codes)` steps. `event_codes[k]` lists the codes step k+1 accepts;
/// `row_filters` adds, for steps with property conditions, one boolean per input row.
#[pyfunction]
#[pyo3(signature = (log, event_codes, row_filters, window, *, strict_deduplication=false, strict_order=false, strict_increase=false, allow_reentry=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_funnel(
    py: Python<'_>,
    log: &PyEncodedLog,
    event_codes: Vec<Vec<u32>>,
    row_filters: Vec<(usize, PyArray)>,
    window: i64,
    strict_deduplication: bool,
    strict_order: bool,
    strict_increase: bool,
    allow_reentry: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyFunnelOutput> {
    let mode = Mode {
        strict_deduplication,
        strict_order,
        strict_increase,
        allow_reentry,
    };
    let spec = FunnelSpec::new(event_codes.len(), window, mode).map_err(to_py)?;
    let row_filters = row_filters
        .iter()
        .map(|(step, array)| Ok((*step, boolean_values(*step, array)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let conditions = StepConditions {
        event_codes,
        row_filters,
    };
    let encoded = log.inner.clone();
    let output = run_interruptible(py, progress.as_ref(), |control| {
        core_run(&encoded, &spec, &conditions, control)
    })?;
    Ok(PyFunnelOutput {
        inner: output,
        steps: spec.steps,
    })
}
