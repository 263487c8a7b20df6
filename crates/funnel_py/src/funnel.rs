//! `workbench._core.run_funnel` and the arrays it leaves behind.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt16Type, UInt32Type, UInt8Type};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_buffer::alloc::Allocation;
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use std::borrow::Cow;
use std::sync::Arc;

use funnel_core::funnel::{
    attributed_codes as core_attributed_codes, attributed_groups as core_attributed_groups,
    group_tables as core_group_tables, run_analysis as core_analysis, run_funnel as core_run,
    AnalysisConditions, AnalysisSpec, Counting, Exclusion, FunnelOutput, FunnelSpec, Mode,
    RowCodes, StepConditions, StepOrder, StepReach, UnitOutcomes, NO_HOLD,
};
use funnel_core::log::EncodedLog;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyArray;

use crate::arrow_out;
use crate::errors::{to_py, FunnelDefinitionError};
use crate::interrupt::run_interruptible;
use crate::log::{require_events, PyEncodedLog};

/// The arrays of one funnel run; the Python `FunnelOutcomes` reads them without a copy.
#[pyclass(name = "FunnelOutput", module = "workbench._core", frozen)]
pub struct PyFunnelOutput {
    run: Arc<FinishedRun>,
    steps: usize,
}

/// A run's arrays, owned together by the Python object and every array handed out from them.
/// The last owner to go hands them back to the log for its next run, so a re-run writes into
/// pages already mapped and nothing is copied on the way to Python.
struct FinishedRun {
    output: FunnelOutput,
    log: Arc<EncodedLog>,
}

impl Drop for FinishedRun {
    fn drop(&mut self) {
        self.log
            .recycled
            .put_output(std::mem::take(&mut self.output));
    }
}

impl PyFunnelOutput {
    fn new(output: FunnelOutput, steps: usize, log: Arc<EncodedLog>) -> Self {
        PyFunnelOutput {
            run: Arc::new(FinishedRun { output, log }),
            steps,
        }
    }

    fn output(&self) -> &FunnelOutput {
        &self.run.output
    }

    /// `values` (one of this run's arrays) as a pyarrow array sharing its memory.
    fn array<T: ArrowPrimitiveType>(
        &self,
        py: Python<'_>,
        values: &[T::Native],
    ) -> PyResult<Py<PyAny>> {
        let owner: Arc<dyn Allocation> = self.run.clone();
        arrow_out::shared::<T>(py, values, owner)
    }
}

#[pymethods]
impl PyFunnelOutput {
    #[getter]
    fn n_steps(&self) -> usize {
        self.steps
    }

    /// Users at each exact level 0..=N.
    fn level_counts(&self) -> Vec<u64> {
        self.output().level_counts(self.steps)
    }

    /// Level per dense user id (uint8).
    fn levels(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<UInt8Type>(py, &self.output().levels)
    }

    /// Input row of each unit's chain's step-1 event (uint32; 2**32-1 at level 0).
    fn entry_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<UInt32Type>(py, &self.output().entry_rows)
    }

    /// Time of each unit's chain's step-1 event (int64, the log's unit; 0 at level 0).
    fn entry_times(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<Int64Type>(py, &self.output().entry_times)
    }

    /// Input row of each unit's chain's last step event (uint32; 2**32-1 at level 0).
    fn last_rows(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<UInt32Type>(py, &self.output().last_rows)
    }

    /// Dense user id of each unit, or None when units are the users in id order.
    fn unit_users(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.output()
            .unit_users
            .as_ref()
            .map(|u| self.array::<UInt32Type>(py, u))
            .transpose()
    }

    /// With a held property, the held code of each unit's chain (uint32, the codes the run was
    /// given; `NO_HOLD` = 2**32-1 at level 0); None otherwise.
    fn held_codes(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let held = &self.output().held;
        (!held.is_empty())
            .then(|| self.array::<UInt32Type>(py, held))
            .transpose()
    }

    /// Steps in each unit's chain as a bit mask (uint32).
    fn reached(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<UInt32Type>(py, &self.output().reached)
    }

    /// Per-unit flags (uint8: 1 in progress, 2 excluded).
    fn flags(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.array::<UInt8Type>(py, &self.output().flags)
    }

    /// (units, from_start, from_previous, input rows) for step `step` (2..=N).
    #[allow(clippy::type_complexity)]
    fn step_times(
        &self,
        py: Python<'_>,
        step: usize,
    ) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        let times = step
            .checked_sub(2)
            .and_then(|i| self.output().step_times.get(i))
            .ok_or_else(|| {
                FunnelDefinitionError::new_err(format!(
                    "step must be between 2 and {} for times to convert; got {step}",
                    self.steps
                ))
            })?;
        Ok((
            self.array::<UInt32Type>(py, &times.units)?,
            self.array::<Int64Type>(py, &times.from_start)?,
            self.array::<Int64Type>(py, &times.from_previous)?,
            self.array::<UInt32Type>(py, &times.rows)?,
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
/// `row_filters` adds, for steps with property conditions, one boolean per input row. Units whose
/// window is still open at `analysis_end` are flagged in progress.
#[pyfunction]
#[pyo3(signature = (log, event_codes, row_filters, window, *, analysis_end, strict_deduplication=false, strict_order=false, strict_increase=false, allow_reentry=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_funnel(
    py: Python<'_>,
    log: &PyEncodedLog,
    event_codes: Vec<Vec<u32>>,
    row_filters: Vec<(usize, PyArray)>,
    window: i64,
    analysis_end: i64,
    strict_deduplication: bool,
    strict_order: bool,
    strict_increase: bool,
    allow_reentry: bool,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyFunnelOutput> {
    require_events(&log.inner, "a funnel")?;
    let mode = Mode {
        strict_deduplication,
        strict_order,
        strict_increase,
        allow_reentry,
    };
    let spec = FunnelSpec::new(event_codes.len(), window, mode).map_err(to_py)?;
    let row_filters = filters(&row_filters)?;
    let conditions = StepConditions {
        event_codes,
        row_filters,
    };
    let encoded = log.inner.clone();
    let output = run_interruptible(py, progress.as_ref(), |control| {
        core_run(&encoded, &spec, &conditions, analysis_end, control)
    })?;
    Ok(PyFunnelOutput::new(output, spec.steps, encoded))
}

fn filters(row_filters: &[(usize, PyArray)]) -> PyResult<Vec<(usize, BooleanBuffer)>> {
    row_filters
        .iter()
        .map(|(step, array)| Ok((*step, boolean_values(*step, array)?)))
        .collect()
}

/// The values of a primitive array without nulls, named in the error when it is not one.
fn plain_values<'a, T: arrow_array::ArrowPrimitiveType>(
    what: &str,
    array: &'a PyArray,
) -> PyResult<&'a [T::Native]> {
    let array = array.array();
    if array.data_type() != &T::DATA_TYPE || array.null_count() > 0 {
        return Err(FunnelDefinitionError::new_err(format!(
            "{what} must be {} without nulls, got {}",
            T::DATA_TYPE,
            array.data_type()
        )));
    }
    Ok(array.as_primitive::<T>().values())
}

/// The step table of every group from a run's per-unit outcomes (`FunnelOutcomes` arrays:
/// levels uint8, reached uint32, flags uint8; per step 2..N its units, times from step 1 and
/// from the previous step, int64) and a group per unit (int64, negative: in none), as arrays
/// (see `funnel_core::funnel::GroupTables`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn group_tables<'py>(
    py: Python<'py>,
    levels: PyArray,
    reached: PyArray,
    flags: PyArray,
    step_units: Vec<PyArray>,
    step_from_first: Vec<PyArray>,
    step_from_previous: Vec<PyArray>,
    groups: PyArray,
    n_groups: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let units = UnitOutcomes {
        levels: plain_values::<UInt8Type>("levels", &levels)?,
        reached: plain_values::<UInt32Type>("reached", &reached)?,
        flags: plain_values::<UInt8Type>("flags", &flags)?,
    };
    if step_from_first.len() != step_units.len() || step_from_previous.len() != step_units.len() {
        return Err(FunnelDefinitionError::new_err(
            "every step needs its units, times from step 1 and times from the previous step",
        ));
    }
    let mut steps = Vec::with_capacity(step_units.len());
    for ((u, f), p) in step_units
        .iter()
        .zip(&step_from_first)
        .zip(&step_from_previous)
    {
        steps.push(StepReach {
            units: plain_values::<Int64Type>("step units", u)?,
            from_first: plain_values::<Int64Type>("times from step 1", f)?,
            from_previous: plain_values::<Int64Type>("times from the previous step", p)?,
        });
    }
    let codes = plain_values::<Int64Type>("group codes", &groups)?;
    let tables = py
        .detach(|| core_group_tables(units, &steps, codes, n_groups))
        .map_err(to_py)?;
    let out = PyDict::new(py);
    out.set_item("reached", arrow_out::u64s(py, tables.reached)?)?;
    out.set_item("at_level", arrow_out::u64s(py, tables.at_level)?)?;
    out.set_item("open_at", arrow_out::u64s(py, tables.open_at)?)?;
    out.set_item("excluded_at", arrow_out::u64s(py, tables.excluded_at)?)?;
    for (name, values) in [
        ("median_time_from_first", tables.median_from_first),
        ("p90_time_from_first", tables.p90_from_first),
        ("median_time_from_previous", tables.median_from_previous),
        ("p90_time_from_previous", tables.p90_from_previous),
    ] {
        out.set_item(name, arrow_out::f64s(py, values)?)?;
    }
    Ok(out)
}

/// Hold codes per encoded row (log order): uint32 with nulls for missing values.
fn read_hold_codes(array: &PyArray) -> PyResult<Cow<'_, [u32]>> {
    let array = array.array();
    if array.data_type() != &DataType::UInt32 {
        return Err(FunnelDefinitionError::new_err(format!(
            "held-property codes must be uint32, got {}",
            array.data_type()
        )));
    }
    let codes = array.as_primitive::<UInt32Type>();
    if codes.null_count() == 0 {
        // Read in place: a code equal to NO_HOLD already reads as missing.
        return Ok(Cow::Borrowed(codes.values()));
    }
    Ok(Cow::Owned(
        codes
            .iter()
            .map(|code| code.filter(|c| *c != NO_HOLD).unwrap_or(NO_HOLD))
            .collect(),
    ))
}

fn parse_order(order: &str) -> PyResult<StepOrder> {
    match order {
        "sequential" => Ok(StepOrder::Sequential),
        "strict" => Ok(StepOrder::Strict),
        "any" => Ok(StepOrder::Any),
        other => Err(FunnelDefinitionError::new_err(format!(
            "order must be 'sequential', 'strict' or 'any'; got {other:?}"
        ))),
    }
}

fn parse_counting(counting: &str) -> PyResult<Counting> {
    match counting {
        "users" => Ok(Counting::Users),
        "conversions" => Ok(Counting::Conversions),
        other => Err(FunnelDefinitionError::new_err(format!(
            "counting must be 'users' or 'conversions'; got {other:?}"
        ))),
    }
}

/// Run a funnel with the product options (order, exclusions, held properties, optional steps,
/// per-step windows, counting, analysis end). Exclusions are `(after, before, event codes)`.
#[pyfunction]
#[pyo3(signature = (log, event_codes, row_filters, window, *, order, counting, step_windows, optional, exclusions, exclusion_filters, hold_codes=None, analysis_end, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_analysis(
    py: Python<'_>,
    log: &PyEncodedLog,
    event_codes: Vec<Vec<u32>>,
    row_filters: Vec<(usize, PyArray)>,
    window: i64,
    order: &str,
    counting: &str,
    step_windows: Vec<Option<i64>>,
    optional: Vec<bool>,
    exclusions: Vec<(usize, usize, Vec<u32>)>,
    exclusion_filters: Vec<(usize, PyArray)>,
    hold_codes: Option<PyArray>,
    analysis_end: i64,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyFunnelOutput> {
    require_events(&log.inner, "a funnel")?;
    let spec = AnalysisSpec {
        steps: event_codes.len(),
        window,
        order: parse_order(order)?,
        counting: parse_counting(counting)?,
        step_windows,
        optional,
        exclusions: exclusions
            .iter()
            .map(|(after, before, _)| Exclusion {
                after: *after,
                before: *before,
            })
            .collect(),
        analysis_end,
    };
    spec.validate().map_err(to_py)?;
    let conditions = AnalysisConditions {
        steps: StepConditions {
            event_codes,
            row_filters: filters(&row_filters)?,
        },
        exclusions: StepConditions {
            event_codes: exclusions.into_iter().map(|(_, _, codes)| codes).collect(),
            row_filters: filters(&exclusion_filters)?,
        },
        hold_codes: hold_codes.as_ref().map(read_hold_codes).transpose()?,
    };
    let encoded = log.inner.clone();
    let output = run_interruptible(py, progress.as_ref(), |control| {
        core_analysis(&encoded, &spec, &conditions, control)
    })?;
    Ok(PyFunnelOutput::new(output, spec.steps, encoded))
}

/// A property coded per input row: uint8, uint16 or uint32 without nulls.
fn row_codes<'a>(array: &'a PyArray) -> PyResult<RowCodes<'a>> {
    Ok(match array.array().data_type() {
        DataType::UInt8 => RowCodes::U8(plain_values::<UInt8Type>("property codes", array)?),
        DataType::UInt16 => RowCodes::U16(plain_values::<UInt16Type>("property codes", array)?),
        DataType::UInt32 => RowCodes::U32(plain_values::<UInt32Type>("property codes", array)?),
        other => {
            return Err(FunnelDefinitionError::new_err(format!(
                "property codes must be UInt8, UInt16 or UInt32 without nulls, got {other}"
            )))
        }
    })
}

/// The property codes, attributed rows (uint32) and levels (uint8) of the attribution calls.
fn attributed_inputs<'a>(
    row_codes: &'a PyArray,
    rows: &'a PyArray,
    levels: &'a PyArray,
) -> PyResult<(RowCodes<'a>, &'a [u32], &'a [u8])> {
    Ok((
        self::row_codes(row_codes)?,
        plain_values::<UInt32Type>("attributed rows", rows)?,
        plain_values::<UInt8Type>("levels", levels)?,
    ))
}

/// A breakdown's group per unit from a coded event property: `row_codes` (uint8, uint16 or
/// uint32 per input row, `n_values` for a missing value) read at each unit's attributed input
/// row `rows` (uint32, `NO_ROW`: none), values numbered in the order units first show them;
/// units at level 0 (`levels`, uint8) in no group (-1). Returns (codes int64, the property code
/// of each group).
#[pyfunction]
pub fn attributed_groups(
    py: Python<'_>,
    row_codes: PyArray,
    rows: PyArray,
    levels: PyArray,
    n_values: usize,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let (codes, rows, levels) = attributed_inputs(&row_codes, &rows, &levels)?;
    let groups = py
        .detach(|| core_attributed_groups(codes, rows, levels, n_values))
        .map_err(to_py)?;
    Ok((
        arrow_out::i64s(py, groups.codes)?,
        arrow_out::u32s(py, groups.shown)?,
    ))
}

/// Each unit's property code (int64) on its attributed row, as `attributed_groups` reads it but
/// not renumbered: `n_values` without a row or a value, -1 at level 0.
#[pyfunction]
pub fn attributed_codes(
    py: Python<'_>,
    row_codes: PyArray,
    rows: PyArray,
    levels: PyArray,
    n_values: usize,
) -> PyResult<Py<PyAny>> {
    let (codes, rows, levels) = attributed_inputs(&row_codes, &rows, &levels)?;
    let codes = py
        .detach(|| core_attributed_codes(codes, rows, levels, n_values))
        .map_err(to_py)?;
    arrow_out::i64s(py, codes)
}
