//! Builders shared by the integration tests: a log from plain vectors.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, StringArray};
use funnel_core::log::{encode, ColumnRef, EncodeOptions, EncodedLog, TimeUnit};
use funnel_core::Control;

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
