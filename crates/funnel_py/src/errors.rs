//! The exception hierarchy Python sees, created here so tracebacks name `workbench.exceptions.*`,
//! and the one mapping from engine errors to it.

use funnel_core::CoreError;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

// A ValueError, so code that already catches bad values catches the workbench's too.
create_exception!(
    workbench.exceptions,
    WorkbenchError,
    PyValueError,
    "Base class of every error Funnel Workbench raises; also a ValueError."
);
create_exception!(
    workbench.exceptions,
    SchemaError,
    WorkbenchError,
    "A column is missing, has the wrong type, or disagrees with the others."
);
create_exception!(
    workbench.exceptions,
    NullValuesError,
    SchemaError,
    "A required column (user, event, time) holds nulls."
);
create_exception!(
    workbench.exceptions,
    EmptyLogError,
    WorkbenchError,
    "The event log has no rows to analyse."
);
create_exception!(
    workbench.exceptions,
    FunnelDefinitionError,
    WorkbenchError,
    "A funnel's steps, window or options cannot be run."
);
create_exception!(
    workbench.exceptions,
    AudienceError,
    WorkbenchError,
    "An audience, tag or bitmap operation cannot be carried out."
);
create_exception!(
    workbench.exceptions,
    CorruptDataError,
    WorkbenchError,
    "Bytes or a file do not decode as the format they claim to be."
);
create_exception!(
    workbench.exceptions,
    InternalError,
    WorkbenchError,
    "A bug in the engine; please report it with the input that caused it."
);

/// Map an engine error to the Python exception an analyst sees.
pub fn to_py(err: CoreError) -> PyErr {
    let message = err.to_string();
    match err {
        CoreError::UnsupportedType { .. }
        | CoreError::LengthMismatch { .. }
        | CoreError::TooLarge { .. } => SchemaError::new_err(message),
        CoreError::NullValues { .. } => NullValuesError::new_err(message),
        CoreError::EmptyLog { .. } => EmptyLogError::new_err(message),
        CoreError::InvalidFunnel(_) => FunnelDefinitionError::new_err(message),
        CoreError::InvalidAudience(_) => AudienceError::new_err(message),
        CoreError::Corrupt { .. } => CorruptDataError::new_err(message),
        CoreError::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("WorkbenchError", py.get_type::<WorkbenchError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add("NullValuesError", py.get_type::<NullValuesError>())?;
    m.add("EmptyLogError", py.get_type::<EmptyLogError>())?;
    m.add(
        "FunnelDefinitionError",
        py.get_type::<FunnelDefinitionError>(),
    )?;
    m.add("AudienceError", py.get_type::<AudienceError>())?;
    m.add("CorruptDataError", py.get_type::<CorruptDataError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
