//! The native module `workbench._core`: a thin layer that moves Arrow data into `funnel_core`
//! and results back, maps errors to `workbench.exceptions`, and releases the GIL while it works.

use pyo3::prelude::*;

mod arrow_out;
mod audience;
mod errors;
mod funnel;
mod interrupt;
mod log;
mod plan;

// Large buffers get huge pages wherever they are allocated (see funnel_core::memory).
#[global_allocator]
static ALLOCATOR: funnel_core::memory::HugePages = funnel_core::memory::HugePages;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_STEPS", funnel_core::funnel::MAX_STEPS)?;
    m.add("IN_PROGRESS", funnel_core::funnel::IN_PROGRESS)?;
    m.add("EXCLUDED", funnel_core::funnel::EXCLUDED)?;
    m.add("NO_ROW", funnel_core::funnel::NO_ROW)?;
    m.add("NO_HOLD", funnel_core::funnel::NO_HOLD)?;
    errors::register(m)?;
    audience::register(m)?;
    m.add_class::<log::PyEncodedLog>()?;
    m.add_class::<funnel::PyFunnelOutput>()?;
    m.add_function(wrap_pyfunction!(log::encode_log, m)?)?;
    m.add_function(wrap_pyfunction!(log::encode_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::run_funnel, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::run_analysis, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::group_tables, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::attributed_groups, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::attributed_codes, m)?)?;
    m.add_function(wrap_pyfunction!(log::user_space, m)?)?;
    m.add_function(wrap_pyfunction!(plan::code_text, m)?)?;
    m.add_function(wrap_pyfunction!(plan::present_by_code, m)?)?;
    m.add_function(wrap_pyfunction!(plan::rows_outside, m)?)?;
    m.add_function(wrap_pyfunction!(limit_threads, m)?)?;
    Ok(())
}

/// Give the engine at most `threads` threads in this process before its first parallel call (a
/// Spark task runs beside others on the same cores: it wants one). Returns the number the
/// engine's pool has, which differs from `threads` when the pool had already started.
#[pyfunction]
fn limit_threads(threads: usize) -> usize {
    // An error only means the pool already runs; the count returned says with how many.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build_global();
    rayon::current_num_threads()
}
