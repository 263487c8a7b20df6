//! The original encoder (hash coding of keys, counting sort), kept as the tests' reference for
//! the radix encoder in `encode.rs`.
//!
//! Encode once: code users and events, then sort rows by (user, time) with a counting
//! sort on the dense user id followed by a per-user sort of (mostly tiny) time runs.

use rayon::prelude::*;

use super::columns::{mark_nulls, read_times, ColumnRef};
use super::keys::{code_column, UserKeys, NULL_CODE};
use super::{EncodeOptions, EncodedLog};
use crate::control::Control;
use crate::error::{CoreError, Result};

/// Encode an event log from its columns.
pub(crate) fn encode(
    user: ColumnRef<'_>,
    event: ColumnRef<'_>,
    time: ColumnRef<'_>,
    options: EncodeOptions,
    control: &Control,
) -> Result<EncodedLog> {
    let n = super::encode::check_shape(user, event, time)?;
    // Phases: users, events, times, sort; progress counts rows per phase.
    control.set_total(4 * n as u64);

    let mut valid = vec![true; n];
    let mut dropped = 0usize;
    for column in [user, event, time] {
        let (count, first) = mark_nulls(column, &mut valid);
        if count > 0 && !options.drop_nulls {
            return Err(CoreError::NullValues {
                column: column.name.to_string(),
                count,
                first_row: first.unwrap_or(0),
            });
        }
        dropped += count;
    }
    let dropped_rows = if dropped > 0 {
        valid.iter().filter(|v| !**v).count() as u64
    } else {
        0
    };

    let users = code_column(user)?;
    control.advance(n as u64);
    control.check()?;
    let events = code_column(event)?;
    let event_names = match events.values {
        UserKeys::Str(names) => names,
        UserKeys::Int(_) => return Err(event.unsupported("event names as strings")),
    };
    control.advance(n as u64);
    control.check()?;
    let (times, unit) = read_times(time, options.int_time_unit)?;
    control.advance(n as u64);
    control.check()?;

    // Users that only had dropped rows disappear; renumber so ids stay dense.
    let mut user_rows = vec![0u32; users.values.len()];
    for (row, &code) in users.codes.iter().enumerate() {
        if valid[row] {
            user_rows[code as usize] += 1;
        }
    }
    let kept: Vec<u32> = (0..user_rows.len() as u32)
        .filter(|&u| user_rows[u as usize] > 0)
        .collect();
    if kept.is_empty() {
        return Err(CoreError::EmptyLog {
            detail: format!(" after dropping {dropped_rows} row(s) with nulls"),
        });
    }
    let mut renumber = vec![NULL_CODE; user_rows.len()];
    for (new, &old) in kept.iter().enumerate() {
        renumber[old as usize] = new as u32;
    }
    let user_keys = users.values.select(&kept);
    let counts: Vec<u32> = kept.iter().map(|&u| user_rows[u as usize]).collect();

    // Counting sort by user: stable, so rows of one user keep input order before the time sort.
    let mut user_offsets = Vec::with_capacity(counts.len() + 1);
    let mut total = 0u32;
    user_offsets.push(0);
    for c in &counts {
        total += c;
        user_offsets.push(total);
    }
    let mut cursor: Vec<u32> = user_offsets[..counts.len()].to_vec();
    let mut source_rows = vec![0u32; total as usize];
    for (row, &code) in users.codes.iter().enumerate() {
        if valid[row] {
            let u = renumber[code as usize] as usize;
            source_rows[cursor[u] as usize] = row as u32;
            cursor[u] += 1;
        }
    }
    drop(cursor);
    control.check()?;

    let mut sorted_times: Vec<i64> = source_rows.par_iter().map(|&r| times[r as usize]).collect();
    drop(times);
    sort_within_users(&user_offsets, &mut sorted_times, &mut source_rows);
    control.check()?;

    let sorted_events: Vec<u32> = source_rows
        .par_iter()
        .map(|&r| events.codes[r as usize])
        .collect();
    let mut event_counts = vec![0u64; event_names.len()];
    for &code in &sorted_events {
        event_counts[code as usize] += 1;
    }
    control.advance(n as u64);

    Ok(EncodedLog {
        user_offsets,
        times: sorted_times,
        events: sorted_events.into(),
        source_rows,
        event_names,
        event_counts,
        user_keys,
        time_unit: unit,
        dropped_rows,
        recycled: Default::default(),
    })
}

/// Sort each user's rows by time, ties kept in input order, in parallel over user ranges.
fn sort_within_users(offsets: &[u32], times: &mut [i64], rows: &mut [u32]) {
    let n_users = offsets.len() - 1;
    let chunks = (rayon::current_num_threads() * 8).max(1);
    let per_chunk = n_users.div_ceil(chunks).max(1);
    let mut parts = Vec::new();
    let (mut times_rest, mut rows_rest) = (times, rows);
    let mut start_user = 0;
    while start_user < n_users {
        let end_user = (start_user + per_chunk).min(n_users);
        let len = (offsets[end_user] - offsets[start_user]) as usize;
        let (t, t_rest) = times_rest.split_at_mut(len);
        let (r, r_rest) = rows_rest.split_at_mut(len);
        parts.push((start_user, end_user, t, r));
        times_rest = t_rest;
        rows_rest = r_rest;
        start_user = end_user;
    }
    parts
        .into_par_iter()
        .for_each(|(first, last, times, rows)| {
            let base = offsets[first] as usize;
            let mut pairs: Vec<(i64, u32)> = Vec::new();
            for user in first..last {
                let range = offsets[user] as usize - base..offsets[user + 1] as usize - base;
                let t = &mut times[range.clone()];
                if t.windows(2).all(|w| w[0] <= w[1]) {
                    continue;
                }
                let r = &mut rows[range];
                pairs.clear();
                pairs.extend(t.iter().copied().zip(r.iter().copied()));
                // Source rows are unique, so an unstable sort on (time, row) is stable in input order.
                pairs.sort_unstable();
                for (i, (time, row)) in pairs.iter().enumerate() {
                    t[i] = *time;
                    r[i] = *row;
                }
            }
        });
}
