//! Encode once: read the user keys, code events, then sort rows by (user key, time)
//! with the radix sort of `sort.rs`, which also numbers the users densely in key order.

use rayon::prelude::*;

use crate::with_codes;

use std::borrow::Cow;

use super::codes::{Code, EventCodes};
use super::columns::{count_nulls, int_chunks, mark_nulls, time_chunks, ColumnRef, TimeUnit};
use super::keys::{code_column, code_text_column, UserKeys};
use super::sort::{key_range, sort_pieces, Piece, Sorted as SortedRows};
use super::EncodedLog;
use crate::control::Control;
use crate::error::{CoreError, Result};

/// How to read the input columns.
#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    /// Skip rows whose user, event or time is null instead of refusing the log.
    pub drop_nulls: bool,
    /// The unit of integer epoch timestamps (required for integer time columns).
    pub int_time_unit: Option<TimeUnit>,
}

/// The number of rows, once the columns agree on it and it is one the engine can address.
pub(crate) fn check_shape(
    user: ColumnRef<'_>,
    event: ColumnRef<'_>,
    time: ColumnRef<'_>,
) -> Result<usize> {
    let n = user.len();
    for column in [event, time] {
        if column.len() != n {
            return Err(CoreError::LengthMismatch {
                column: column.name.to_string(),
                found: column.len(),
                expected: n,
            });
        }
    }
    if n == 0 {
        return Err(CoreError::EmptyLog {
            detail: " (no rows)".into(),
        });
    }
    if n >= u32::MAX as usize {
        return Err(CoreError::TooLarge {
            what: "rows".into(),
            found: n,
            limit: u32::MAX as usize - 1,
        });
    }
    Ok(n)
}

/// Encode an event log from its columns.
pub fn encode(
    user: ColumnRef<'_>,
    event: ColumnRef<'_>,
    time: ColumnRef<'_>,
    options: EncodeOptions,
    control: &Control,
) -> Result<EncodedLog> {
    // Phases: users, events, times, sort; progress counts rows per phase.
    control.set_total(4 * user.len() as u64);
    encode_columns(user, event, time, options, control)
}

/// [`encode`] for a caller that has announced the total itself (four advances of the row count).
pub(crate) fn encode_columns(
    user: ColumnRef<'_>,
    event: ColumnRef<'_>,
    time: ColumnRef<'_>,
    options: EncodeOptions,
    control: &Control,
) -> Result<EncodedLog> {
    let n = check_shape(user, event, time)?;
    let mut t0 = crate::Phase::start();

    // Most logs have no nulls: then there is no per-row validity at all.
    let mut valid: Option<Vec<bool>> = None;
    let mut dropped = 0usize;
    for column in [user, event, time] {
        if count_nulls(column) == 0 {
            continue;
        }
        let valid = valid.get_or_insert_with(|| vec![true; n]);
        let (count, first) = mark_nulls(column, valid);
        if count > 0 && !options.drop_nulls {
            return Err(CoreError::NullValues {
                column: column.name.to_string(),
                count,
                first_row: first.unwrap_or(0),
            });
        }
        dropped += count;
    }
    let dropped_rows = match (&valid, dropped) {
        (Some(valid), 1..) => valid.iter().filter(|v| !**v).count() as u64,
        _ => 0,
    };

    // User keys as i64 per chunk: integers as they are (borrowed from Arrow when i64), strings
    // as their codes in sorted order, so key order is the same either way.
    let (key_chunks, string_keys) = match int_chunks(user) {
        Some(ints) => (ints?, None),
        None => {
            let coded = code_column(user)?;
            let UserKeys::Str(names) = coded.values else {
                return Err(user.unsupported("integers or strings"));
            };
            let codes: Vec<i64> = coded.codes.iter().map(|&c| c as i64).collect();
            (vec![Cow::Owned(codes)], Some(names))
        }
    };
    control.advance(n as u64);
    control.check()?;
    t0.lap("keys");
    if let Some(ints) = int_chunks(event) {
        ints?;
        return Err(event.unsupported("event names as strings"));
    }
    let (event_codes, event_names) = code_text_column(event)?;
    control.advance(n as u64);
    control.check()?;
    t0.lap("events");
    let (time_chunks, unit) = time_chunks(time, options.int_time_unit)?;
    control.advance(n as u64);
    control.check()?;

    let keep = valid.as_deref();
    let (sorted, range) = with_codes!(&event_codes, codes => {
        let pieces = pieces(&key_chunks, &time_chunks, codes);
        let range = pieces
            .par_iter()
            .filter_map(|p| key_range(p.keys, keep.map(|k| &k[p.start..p.start + p.keys.len()])))
            .reduce_with(|a, b| (a.0.min(b.0), a.1.max(b.1)));
        let Some(range) = range else {
            return Err(CoreError::EmptyLog {
                detail: format!(" after dropping {dropped_rows} row(s) with nulls"),
            });
        };
        let total = n - dropped_rows as usize;
        t0.lap("range");
        let sorted = sort_pieces(&pieces, keep, range, total);
        t0.lap("sort");
        (Sorted::from(sorted), range)
    });
    drop(event_codes);
    control.check()?;

    let log = sorted.into_log(range.0, string_keys, event_names, unit, dropped_rows);
    control.advance(n as u64);
    t0.lap("end");
    Ok(log)
}

/// The sorted rows with their codes in the log's type.
pub(crate) struct Sorted {
    pub user_offsets: Vec<u32>,
    /// `key - min` of each user, ascending.
    pub user_keys: Vec<u64>,
    pub times: Vec<i64>,
    pub events: EventCodes,
    pub source_rows: Vec<u32>,
}

impl Sorted {
    /// The log, with the users' keys back from their offsets above `min` (string keys were
    /// sorted codes into `string_keys`).
    pub(crate) fn into_log(
        self,
        min: i64,
        string_keys: Option<Vec<String>>,
        event_names: Vec<String>,
        time_unit: TimeUnit,
        dropped_rows: u64,
    ) -> EncodedLog {
        let key = |k: u64| min.wrapping_add(k as i64);
        let user_keys = match string_keys {
            None => UserKeys::Int(self.user_keys.iter().map(|&k| key(k)).collect()),
            Some(mut names) => UserKeys::Str(
                self.user_keys
                    .iter()
                    .map(|&k| std::mem::take(&mut names[key(k) as usize]))
                    .collect(),
            ),
        };
        let event_counts =
            with_codes!(&self.events, codes => count_codes(codes, event_names.len()));
        EncodedLog {
            user_offsets: self.user_offsets,
            times: self.times,
            events: self.events,
            source_rows: self.source_rows,
            event_names,
            event_counts,
            user_keys,
            time_unit,
            dropped_rows,
            recycled: Default::default(),
        }
    }
}

impl<C: Code> From<SortedRows<C>> for Sorted {
    fn from(s: SortedRows<C>) -> Self {
        Sorted {
            user_offsets: s.user_offsets,
            user_keys: s.user_keys,
            times: s.times,
            events: C::wrap(s.events),
            source_rows: s.source_rows,
        }
    }
}

/// Rows per event code.
fn count_codes<C: Code>(codes: &[C], names: usize) -> Vec<u64> {
    codes
        .par_chunks(1 << 16)
        .fold(
            || vec![0u64; names],
            |mut counts, chunk| {
                for &code in chunk {
                    counts[code.index()] += 1;
                }
                counts
            },
        )
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![0u64; names])
}

/// Cut the rows at every chunk boundary of the key and time columns, so that each piece reads
/// plain slices.
fn pieces<'a, C>(
    keys: &'a [Cow<'a, [i64]>],
    times: &'a [Cow<'a, [i64]>],
    events: &'a [C],
) -> Vec<Piece<'a, C>> {
    let mut out = Vec::with_capacity(keys.len().max(times.len()));
    let (mut ki, mut ko, mut ti, mut to, mut start) = (0, 0, 0, 0, 0);
    while ki < keys.len() && ti < times.len() {
        let (k, t) = (&keys[ki][ko..], &times[ti][to..]);
        let len = k.len().min(t.len());
        if len > 0 {
            out.push(Piece {
                start,
                keys: &k[..len],
                times: &t[..len],
                events: &events[start..start + len],
            });
        }
        start += len;
        ko += len;
        to += len;
        if ko == keys[ki].len() {
            ki += 1;
            ko = 0;
        }
        if to == times[ti].len() {
            ti += 1;
            to = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The radix encoder against the original hash-and-counting-sort encoder (`reference.rs`) on
    //! random logs: same ids, same row order, same errors.

    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
        UInt64Array,
    };

    use super::*;
    use crate::log::reference;

    /// A small xorshift generator: deterministic cases without another dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// Cut `0..n` into random chunk lengths.
    fn cuts(rng: &mut Rng, n: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut left = n;
        while left > 0 {
            let len = if rng.chance(30) {
                left
            } else {
                (rng.below(left as u64) as usize + 1).min(left)
            };
            out.push(len);
            left -= len;
        }
        out
    }

    fn chunked<T: Clone>(
        values: &[T],
        lens: &[usize],
        make: impl Fn(&[T]) -> ArrayRef,
    ) -> Vec<ArrayRef> {
        let mut at = 0;
        lens.iter()
            .map(|&len| {
                let chunk = make(&values[at..at + len]);
                at += len;
                chunk
            })
            .collect()
    }

    #[derive(Clone, Copy)]
    enum KeyKind {
        Int64,
        Int32,
        UInt64,
        Text,
    }

    struct Case {
        users: Vec<ArrayRef>,
        events: Vec<ArrayRef>,
        times: Vec<ArrayRef>,
        drop_nulls: bool,
    }

    fn random_case(rng: &mut Rng, n: usize, kind: KeyKind) -> Case {
        let spread = match rng.below(4) {
            0 => 3,
            1 => (n as u64 / 4).max(1),
            2 => 1 << 40,
            _ => u64::MAX,
        };
        let null_percent = if rng.chance(40) { rng.below(10) } else { 0 };
        let base = if rng.chance(50) {
            -(rng.below(1 << 50) as i64)
        } else {
            0
        };
        let mut keys: Vec<Option<i64>> = (0..n)
            .map(|_| {
                if rng.chance(null_percent) {
                    return None;
                }
                Some(match spread {
                    u64::MAX => rng.next() as i64,
                    s => base.wrapping_add(rng.below(s) as i64),
                })
            })
            .collect();
        if rng.chance(20) && n > 2 {
            keys[0] = Some(i64::MIN);
            keys[1] = Some(i64::MAX);
        }
        let tie = [1, 7, 1000][rng.below(3) as usize];
        let times: Vec<Option<i64>> = (0..n)
            .map(|_| (!rng.chance(null_percent)).then(|| (rng.below(50) as i64 - 20) * tie))
            .collect();
        let names = ["view", "cart", "buy", "a", "zz", "b", "view2"];
        let n_names = rng.below(names.len() as u64) + 1;
        let events: Vec<Option<&str>> = (0..n)
            .map(|_| (!rng.chance(null_percent)).then(|| names[rng.below(n_names) as usize]))
            .collect();

        let users = {
            let lens = cuts(rng, n);
            match kind {
                KeyKind::Int64 => chunked(&keys, &lens, |v| {
                    Arc::new(Int64Array::from(v.to_vec())) as ArrayRef
                }),
                KeyKind::Int32 => chunked(&keys, &lens, |v| {
                    Arc::new(Int32Array::from(
                        v.iter().map(|k| k.map(|k| k as i32)).collect::<Vec<_>>(),
                    )) as ArrayRef
                }),
                KeyKind::UInt64 => chunked(&keys, &lens, |v| {
                    Arc::new(UInt64Array::from(
                        v.iter()
                            .map(|k| k.map(|k| (k as u64) >> 1))
                            .collect::<Vec<_>>(),
                    )) as ArrayRef
                }),
                KeyKind::Text => chunked(&keys, &lens, |v| {
                    Arc::new(StringArray::from(
                        v.iter()
                            .map(|k| k.map(|k| format!("u{}", k % 1000)))
                            .collect::<Vec<_>>(),
                    )) as ArrayRef
                }),
            }
        };
        let events = {
            let lens = cuts(rng, n);
            let dictionary = rng.chance(60);
            chunked(&events, &lens, |v| {
                if dictionary {
                    // Each chunk has its own dictionary, with an unused value at times.
                    let mut dict: Vec<&str> = v.iter().flatten().copied().collect();
                    dict.sort_unstable();
                    dict.dedup();
                    dict.reverse();
                    dict.push("never_used");
                    let keys: Int32Array = v
                        .iter()
                        .map(|e| e.map(|e| dict.iter().position(|d| *d == e).unwrap() as i32))
                        .collect();
                    let values = Arc::new(StringArray::from(dict));
                    Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).unwrap())
                        as ArrayRef
                } else {
                    Arc::new(StringArray::from(v.to_vec())) as ArrayRef
                }
            })
        };
        let times = {
            let lens = cuts(rng, n);
            chunked(&times, &lens, |v| {
                Arc::new(TimestampMillisecondArray::from(v.to_vec())) as ArrayRef
            })
        };
        Case {
            users,
            events,
            times,
            drop_nulls: rng.chance(70),
        }
    }

    fn run(case: &Case, new: bool) -> Result<EncodedLog> {
        let column = |name, chunks| ColumnRef { name, chunks };
        let options = EncodeOptions {
            drop_nulls: case.drop_nulls,
            int_time_unit: None,
        };
        let f = if new { encode } else { reference::encode };
        f(
            column("user", &case.users),
            column("event", &case.events),
            column("time", &case.times),
            options,
            &Control::new(),
        )
    }

    fn assert_same(case: &Case) {
        let (new, old) = (run(case, true), run(case, false));
        match (new, old) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.user_keys, b.user_keys);
                assert_eq!(a.user_offsets, b.user_offsets);
                assert_eq!(a.source_rows, b.source_rows);
                assert_eq!(a.times, b.times);
                assert_eq!(a.events.to_u32(), b.events.to_u32());
                assert_eq!(a.event_names, b.event_names);
                assert_eq!(a.event_counts, b.event_counts);
                assert_eq!(a.time_unit, b.time_unit);
                assert_eq!(a.dropped_rows, b.dropped_rows);
            }
            (a, b) => assert_eq!(a.err(), b.err()),
        }
    }

    #[test]
    fn matches_reference_on_small_random_logs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for i in 0..600 {
            let kind = [
                KeyKind::Int64,
                KeyKind::Int32,
                KeyKind::UInt64,
                KeyKind::Text,
            ][i % 4];
            let n = rng.below(300) as usize + 1;
            assert_same(&random_case(&mut rng, n, kind));
        }
    }

    #[test]
    fn matches_reference_on_large_random_logs() {
        // Large enough for many buckets of more than `SMALL_BUCKET` rows (the radix path).
        let mut rng = Rng(12345);
        for i in 0..24 {
            let kind = [
                KeyKind::Int64,
                KeyKind::Text,
                KeyKind::Int64,
                KeyKind::UInt64,
            ][i % 4];
            let n = 20_000 + rng.below(60_000) as usize;
            assert_same(&random_case(&mut rng, n, kind));
        }
    }

    /// One chunk per column, no nulls.
    fn single_chunks(keys: Vec<i64>, times: Vec<i64>, events: Vec<&str>) -> Case {
        Case {
            users: vec![Arc::new(Int64Array::from(keys))],
            events: vec![Arc::new(StringArray::from(events))],
            times: vec![Arc::new(TimestampMillisecondArray::from(times))],
            drop_nulls: false,
        }
    }

    #[test]
    fn input_already_in_user_and_time_order() {
        // Buckets that need no move, next to ones with a row out of place.
        let mut rng = Rng(777);
        let n = 50_000;
        let mut rows: Vec<(i64, i64)> = (0..n)
            .map(|_| (rng.below(4000) as i64 * 3, rng.below(1000) as i64))
            .collect();
        rows.sort_unstable();
        rows.swap(10, 200);
        let events = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
        assert_same(&single_chunks(
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            events,
        ));
    }

    #[test]
    fn times_too_far_apart_to_pack_with_the_keys() {
        // Times over most of the i64 range leave no bits for the key: the unpacked sort.
        let mut rng = Rng(4242);
        let n = 30_000;
        let keys = (0..n).map(|_| rng.below(2000) as i64).collect();
        let times = (0..n)
            .map(|_| (rng.next() as i64) >> rng.below(3))
            .collect();
        assert_same(&single_chunks(keys, times, vec!["e"; n]));
    }

    #[test]
    fn one_user_and_all_equal_keys() {
        let times = (0..5000).map(|i| (i * 7919) % 101).collect();
        assert_same(&single_chunks(vec![-5i64; 5000], times, vec!["e"; 5000]));
    }
}
