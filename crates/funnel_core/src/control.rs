//! Cooperation between a long native call and whoever waits for it: the waiter can cancel, and can
//! read how far the call has come to show progress. Checked between chunks, never per row.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{CoreError, Result};

/// A cancel flag and a progress counter shared between a worker and the caller waiting on it.
#[derive(Debug, Default)]
pub struct Control {
    cancelled: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl Control {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the worker to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// `Err(Cancelled)` once `cancel` has been called; workers call it between chunks.
    pub fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(CoreError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Announce the amount of work the call will do, in any unit (rows, users).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    pub fn advance(&self, amount: u64) {
        self.done.fetch_add(amount, Ordering::Relaxed);
    }

    /// (done, total) so far.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}
