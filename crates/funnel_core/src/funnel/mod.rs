//! Funnels over an encoded log.
//!
//! `spec` says what a funnel is (steps, window, mode), `steps` turns step conditions into a bit
//! mask per row, `window_funnel` is ClickHouse's `windowFunnel` kernel for one user, and `run`
//! splits users across threads and gathers a [`FunnelOutput`]. `open_window` is the one rule
//! that says which unfinished units are still in progress, for every kernel. `reference` is the
//! slow, literal transcription of ClickHouse's algorithm that the tests hold the kernel to.
//!
//! Funnels with the product options (step order, exclusions, held properties, optional steps,
//! per-step windows, counting attempts, open windows) go through `analysis`, which runs the
//! `ordered` or `any_order` machine over each user's `chain`s.

mod analysis;
mod any_order;
mod attributed;
mod chain;
mod groups;
mod matching;
mod open_window;
mod ordered;
mod output;
mod parts;
pub mod reference;
mod run;
mod spec;
mod steps;
mod window_funnel;

pub use analysis::{run_analysis, AnalysisConditions};
pub use attributed::{attributed_codes, attributed_groups, AttributedGroups, RowCodes};
pub use groups::{group_tables, GroupTables, StepReach, UnitOutcomes};
pub use open_window::window_open;
pub use output::{FunnelOutput, Recycled, StepTimes, EXCLUDED, IN_PROGRESS, NO_HOLD, NO_ROW};
pub use run::run_funnel;
pub use spec::{AnalysisSpec, Counting, Exclusion, FunnelSpec, Mode, StepOrder, MAX_STEPS};
pub use steps::StepConditions;
