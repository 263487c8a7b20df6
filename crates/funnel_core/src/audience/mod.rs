//! Audiences: sets of users as Roaring bitmaps over the log's dense user ids.
//!
//! Funnels and audiences share one id space (the dense ids of [`crate::log::EncodedLog`]), so a
//! drill-down is a bitmap built from the funnel's level array and a tag is a bitmap built once
//! from a user table. Original user keys appear only at the edges: when an audience is built from
//! keys ([`keys`]) and when it is exported ([`formats`], [`persist`]).
//!
//! - [`set`]: the [`Audience`] type and its set algebra.
//! - [`build`]: audiences from funnel levels and from behaviour in the log.
//! - [`keys`]: original keys to dense ids and back.
//! - [`tags`]: the [`TagStore`] and its compiled selection programs, evaluated chunk by chunk
//!   over plain bits (`select`).
//! - [`insight`]: profile / compare / overlap counts, one parallel call each; profiles count
//!   against tags laid out by chunk (`chunks`).
//! - [`profile`]: a profile's whole table (counts, statistics, ranking) in one call.
//! - [`formats`]: portable Roaring (32/64-bit), ClickHouse `groupBitmap`, Doris/StarRocks `BITMAP`.
//! - [`persist`]: the file format for saved audiences and tag stores.

pub mod build;
mod chunks;
pub mod formats;
pub mod insight;
pub mod keys;
pub mod persist;
pub mod profile;
mod select;
pub mod set;
pub mod tags;

pub use set::Audience;
pub use tags::{Op, TagStore};
