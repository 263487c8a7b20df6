//! What a funnel is: how many steps, the window, and ClickHouse's mode flags.

use crate::error::{CoreError, Result};

/// At most 32 steps, as in ClickHouse: a row's matched steps fit in one `u32`.
pub const MAX_STEPS: usize = 32;

/// ClickHouse `windowFunnel` options; see `docs/funnel-semantics.md`.
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

/// How steps must follow each other (product semantics; see the API reference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StepOrder {
    /// Steps in order; other events may come between them.
    #[default]
    Sequential,
    /// Steps in order with no other event of the user between consecutive steps; a later clean
    /// attempt can still convert (unlike ClickHouse's `strict_order`).
    Strict,
    /// Level k means k distinct steps within one window, in any order.
    Any,
}

/// What one row of the funnel table counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counting {
    /// Each user once, at the furthest step of their best chain.
    #[default]
    Users,
    /// Every attempt: a chain that starts after the previous attempt completed or expired.
    Conversions,
}

/// An exclusion: an event between step `after` and step `before` (1-based) voids the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exclusion {
    pub after: usize,
    pub before: usize,
}

/// A funnel with the product options (everything beyond ClickHouse's `windowFunnel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisSpec {
    pub steps: usize,
    /// Inclusive window from the step-1 event, in the log's time unit.
    pub window: i64,
    pub order: StepOrder,
    pub counting: Counting,
    /// Per step: the longest time allowed since the chain's previous step (`None`: no limit).
    pub step_windows: Vec<Option<i64>>,
    /// Per step: whether a chain may skip it.
    pub optional: Vec<bool>,
    pub exclusions: Vec<Exclusion>,
    /// Chains whose window is still open at this time are in progress, not dropped.
    pub analysis_end: i64,
}

impl AnalysisSpec {
    pub fn validate(&self) -> Result<()> {
        FunnelSpec::new(self.steps, self.window, Mode::default())?;
        let bad = |message: String| Err(CoreError::InvalidFunnel(message));
        if self.step_windows.len() != self.steps || self.optional.len() != self.steps {
            return bad(format!(
                "per-step options must have one entry per step ({} steps)",
                self.steps
            ));
        }
        if self.optional[0] {
            return bad("step 1 cannot be optional: every chain starts there".into());
        }
        if self.steps > 1 && self.optional[self.steps - 1] {
            return bad(format!(
                "the last step ({}) cannot be optional: it defines conversion",
                self.steps
            ));
        }
        if self.step_windows[0].is_some() {
            return bad("step 1 has no previous step, so it cannot have its own window".into());
        }
        for (index, window) in self.step_windows.iter().enumerate() {
            if let Some(w) = window {
                if *w < 0 {
                    return bad(format!(
                        "the window of step {} must not be negative",
                        index + 1
                    ));
                }
            }
        }
        if self.exclusions.len() > 32 {
            return bad(format!(
                "a funnel has at most 32 exclusions; this one has {}",
                self.exclusions.len()
            ));
        }
        for exclusion in &self.exclusions {
            if exclusion.after < 1
                || exclusion.after >= exclusion.before
                || exclusion.before > self.steps
            {
                return bad(format!(
                    "an exclusion must sit between two steps 1 <= after < before <= {}; got after={}, before={}",
                    self.steps, exclusion.after, exclusion.before
                ));
            }
        }
        if self.order == StepOrder::Any {
            if !self.exclusions.is_empty() {
                return bad("exclusions need ordered steps (sequential or strict order)".into());
            }
            if self.optional.iter().any(|o| *o) || self.step_windows.iter().any(Option::is_some) {
                return bad(
                    "optional steps and per-step windows need ordered steps (sequential or strict order)"
                        .into(),
                );
            }
        }
        Ok(())
    }
}
