//! Builders shared by the integration tests: a log from plain vectors.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, StringArray};
use funnel_core::funnel::Mode;
use funnel_core::log::{encode, ColumnRef, EncodeOptions, EncodedLog, TimeUnit};
use funnel_core::Control;
use proptest::prelude::*;

/// Encode `(user, event, time-in-seconds)` rows.
pub fn log_of(rows: &[(i64, &str, i64)]) -> EncodedLog {
    let users: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0)));
    let events: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1)));
    let times: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2)));
    encode(
        ColumnRef {
            name: "user_id",
            chunks: &[users],
        },
        ColumnRef {
            name: "event",
            chunks: &[events],
        },
        ColumnRef {
            name: "time",
            chunks: &[times],
        },
        EncodeOptions {
            drop_nulls: false,
            int_time_unit: Some(TimeUnit::Second),
        },
        &Control::new(),
    )
    .expect("test log encodes")
}

/// Every combination of ClickHouse's modes (`allow_reentry` only goes with `strict_order`).
// Only the property tests draw modes; the other test binaries that share this module do not.
#[allow(dead_code)]
pub fn mode_strategy() -> impl Strategy<Value = Mode> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(dedup, order, increase, reentry)| Mode {
            strict_deduplication: dedup,
            strict_order: order,
            strict_increase: increase,
            allow_reentry: order && reentry,
        },
    )
}
