//! What a funnel is: how many steps, the window, and ClickHouse's mode flags.

use crate::error::{CoreError, Result};

/// At most 32 steps, as in ClickHouse: a row's matched steps fit in one `u32`.
pub const MAX_STEPS: usize = 32;

/// ClickHouse `windowFunnel` options; see `shared/spec/funnel-semantics.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// A repeated step (other than step 1) ends the scan.
    pub strict_deduplication: bool,
    /// After the first step-1 event, an unrelated event or an out-of-order step ends the scan.
    pub strict_order: bool,
    /// A step joins a chain only if strictly later than the chain's previous step.
    pub strict_increase: bool,
    /// With `strict_order`, out-of-order steps are skipped instead of ending the scan.
    pub allow_reentry: bool,
}

/// A funnel the kernel can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelSpec {
    pub steps: usize,
    /// Inclusive window from the step-1 event, in the log's time unit.
    pub window: i64,
    pub mode: Mode,
}

impl FunnelSpec {
    pub fn new(steps: usize, window: i64, mode: Mode) -> Result<Self> {
        if steps == 0 {
            return Err(CoreError::InvalidFunnel(
                "a funnel needs at least one step".into(),
            ));
        }
        if steps > MAX_STEPS {
            return Err(CoreError::InvalidFunnel(format!(
                "a funnel has at most {MAX_STEPS} steps; this one has {steps}"
            )));
        }
        if window < 0 {
            return Err(CoreError::InvalidFunnel(format!(
                "the window must not be negative (got {window}); a zero window means steps at the same instant"
            )));
        }
        if mode.allow_reentry && !mode.strict_order {
            return Err(CoreError::InvalidFunnel(
                "allow_reentry only applies together with strict_order".into(),
            ));
        }
        Ok(Self {
            steps,
            window,
            mode,
        })
    }
}
