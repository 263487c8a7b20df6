//! Funnels over an encoded log.
//!
//! `spec` says what a funnel is (steps, window, mode), `steps` turns step conditions into a bit
//! mask per row, `window_funnel` is ClickHouse's `windowFunnel` kernel for one user, and `run`
//! splits users across threads and gathers a [`FunnelOutput`]. `reference` is the slow, literal
//! transcription of ClickHouse's algorithm that the tests hold the kernel to.

mod output;
pub mod reference;
mod run;
mod spec;
mod steps;
mod window_funnel;

pub use output::{FunnelOutput, StepTimes};
pub use run::run_funnel;
pub use spec::{FunnelSpec, Mode, MAX_STEPS};
pub use steps::StepConditions;
