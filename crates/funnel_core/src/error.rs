//! The one error type of the engine. Every message names the column, value or row at fault and
//! what was expected, because it is shown to an analyst as it is.

use thiserror::Error;

/// Errors the engine reports; the binding maps each variant to a `workbench.exceptions` class.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// A column has a type the engine cannot read for its role.
    #[error("column '{column}' has type {found}; expected {expected}")]
    UnsupportedType {
        column: String,
        found: String,
        expected: String,
    },

    /// A required column holds nulls and the caller did not ask to drop them.
    #[error(
        "column '{column}' has {count} null value(s), first at row {first_row}; \
         clean them or pass drop_nulls=True to skip those rows"
    )]
    NullValues {
        column: String,
        count: usize,
        first_row: usize,
    },

    /// Columns of one log disagree in length.
    #[error("column '{column}' has {found} rows but the log has {expected}")]
    LengthMismatch {
        column: String,
        found: usize,
        expected: usize,
    },

    /// Nothing left to analyse.
    #[error("the event log is empty{detail}")]
    EmptyLog { detail: String },

    /// More rows or users than the engine's 32-bit ids address.
    #[error("the log has {found} {what}; at most {limit} are supported")]
    TooLarge {
        what: String,
        found: usize,
        limit: usize,
    },

    /// A funnel definition the engine cannot run.
    #[error("{0}")]
    InvalidFunnel(String),

    /// An audience, tag or bitmap argument the engine cannot use.
    #[error("{0}")]
    InvalidAudience(String),

    /// Bytes that do not decode as the format they claim to be.
    #[error("corrupt {format} data: {detail}")]
    Corrupt { format: String, detail: String },

    /// The caller interrupted a long call (the notebook's stop button).
    #[error("interrupted")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, CoreError>;
