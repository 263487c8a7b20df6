//! The event log as the engine keeps it: encoded once, read by every funnel and audience.
//!
//! Rows are sorted by (user, time) and addressed through per-user offsets (CSR), so a funnel is a
//! scan over two flat arrays: event codes and timestamps. Users get dense ids `0..U` in the order
//! of their original keys; `user_keys` maps them back at the edge.

mod codes;
mod columns;
mod encode;
mod keys;
mod packed;
mod parquet;
#[cfg(test)]
mod reference;
mod sort;

pub use codes::{Code, EventCodes};
pub use columns::{ColumnRef, TimeUnit};
pub use encode::{encode, EncodeOptions};
pub(crate) use keys::next_code;
pub use keys::UserKeys;
pub use parquet::{encode_parquet, LogColumns};

/// An event log encoded for analysis.
#[derive(Debug, Clone)]
pub struct EncodedLog {
    /// `user_offsets[u]..user_offsets[u + 1]` are the rows of user `u`; length `U + 1`.
    pub user_offsets: Vec<u32>,
    /// Timestamp of each row, in `time_unit`, sorted within each user.
    pub times: Vec<i64>,
    /// Event code of each row: an index into `event_names`, as narrow as the names allow.
    pub events: EventCodes,
    /// Row of the original input that each encoded row came from (for property columns).
    pub source_rows: Vec<u32>,
    /// Event names, sorted; codes index this table.
    pub event_names: Vec<String>,
    /// Number of rows of each event code.
    pub event_counts: Vec<u64>,
    /// Original user keys, indexed by dense user id.
    pub user_keys: UserKeys,
    pub time_unit: TimeUnit,
    /// Rows of the input skipped because a required column was null (`drop_nulls`).
    pub dropped_rows: u64,
    /// Arrays of finished funnel runs, reused by the next run.
    pub recycled: crate::funnel::Recycled,
}

impl EncodedLog {
    pub fn n_rows(&self) -> usize {
        self.times.len()
    }

    pub fn n_users(&self) -> usize {
        self.user_offsets.len().saturating_sub(1)
    }

    /// The rows of dense user `user` as a range into the row arrays.
    #[inline]
    pub fn user_rows(&self, user: usize) -> std::ops::Range<usize> {
        self.user_offsets[user] as usize..self.user_offsets[user + 1] as usize
    }

    /// The code of an event name, if the log has it.
    pub fn event_code(&self, name: &str) -> Option<u32> {
        self.event_names
            .binary_search_by(|n| n.as_str().cmp(name))
            .ok()
            .map(|i| i as u32)
    }

    /// Earliest and latest timestamp in the log.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        use rayon::prelude::*;
        // Every load checks the times are plausible: one pass, split over the cores.
        self.times
            .par_chunks(1 << 20)
            .filter_map(sort::min_max)
            .reduce_with(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }
}
