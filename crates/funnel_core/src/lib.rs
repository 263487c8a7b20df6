//! funnel_core: the engine of Funnel Workbench.
//!
//! An event log is encoded once ([`log::encode`]) into an [`log::EncodedLog`]: dense user ids,
//! rows sorted by (user, time), event names dictionary-coded. Funnels ([`funnel::run_funnel`])
//! scan it per user on all cores. Nothing here knows about Python.

pub mod audience;
pub mod control;
pub mod error;
pub mod funnel;
pub mod log;
pub mod memory;
#[doc(hidden)]
pub mod phases;
pub mod plan;

pub use control::Control;
pub use error::{CoreError, Result};
pub(crate) use phases::Phase;
