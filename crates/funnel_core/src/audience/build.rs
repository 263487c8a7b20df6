//! Audiences computed from the log and from funnel results, users split across threads.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::set::{from_sorted, Audience};
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;

/// Users per parallel task: large enough that merging the partial bitmaps is negligible.
const CHUNK: usize = 1 << 16;

/// Users whose funnel level is in `min_level..=max_level` (the drill-down of a funnel cell).
/// `levels` is indexed by dense user id, as a funnel result gives it.
pub fn from_levels(levels: &[u8], min_level: u8, max_level: u8) -> Result<Audience> {
    let universe = universe_of(levels.len())?;
    if min_level > max_level {
        return Err(CoreError::InvalidAudience(format!(
            "min_level {min_level} is above max_level {max_level}; no user can match"
        )));
    }
    let parts: Vec<RoaringBitmap> = levels
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(chunk, levels)| {
            let base = (chunk * CHUNK) as u32;
            from_sorted(
                levels
                    .iter()
                    .enumerate()
                    .filter(|(_, &l)| l >= min_level && l <= max_level)
                    .map(|(i, _)| base + i as u32),
            )
        })
        .collect();
    Audience::new(union_in_order(parts), universe)
}

/// Users flagged true in `flags` (indexed by dense user id).
pub fn from_flags(flags: &[bool]) -> Result<Audience> {
    let universe = universe_of(flags.len())?;
    let parts: Vec<RoaringBitmap> = flags
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(chunk, flags)| {
            let base = (chunk * CHUNK) as u32;
            from_sorted(
                flags
                    .iter()
                    .enumerate()
                    .filter(|(_, &f)| f)
                    .map(|(i, _)| base + i as u32),
            )
        })
        .collect();
    Audience::new(union_in_order(parts), universe)
}

/// What a user must have done to be in a behaviour audience.
#[derive(Debug, Clone, Default)]
pub struct Behaviour<'a> {
    /// Event codes that count (any of them); empty means every event.
    pub events: &'a [u32],
    /// Per input row (the log's source order): does the row pass the property predicates?
    pub row_mask: Option<&'a [bool]>,
    /// Inclusive lower bound on the row time, in the log's unit.
    pub start: Option<i64>,
    /// Exclusive upper bound on the row time, in the log's unit.
    pub end: Option<i64>,
    /// How many matching rows a user needs (at least 1).
    pub min_times: u32,
}

/// Users with at least `min_times` rows matching the behaviour.
pub fn did(log: &EncodedLog, behaviour: &Behaviour<'_>) -> Result<Audience> {
    let universe = universe_of(log.n_users())?;
    if behaviour.min_times == 0 {
        return Err(CoreError::InvalidAudience(
            "min_times must be at least 1 (every user did an event at least 0 times; \
             use the complement of the audience instead)"
                .into(),
        ));
    }
    if let Some(mask) = behaviour.row_mask {
        let expected = log.n_rows() + log.dropped_rows as usize;
        if mask.len() != expected {
            return Err(CoreError::LengthMismatch {
                column: "where (row mask)".into(),
                found: mask.len(),
                expected,
            });
        }
    }
    let mut wanted = vec![behaviour.events.is_empty(); log.event_names.len()];
    for &code in behaviour.events {
        match wanted.get_mut(code as usize) {
            Some(w) => *w = true,
            None => {
                return Err(CoreError::InvalidAudience(format!(
                    "event code {code} is not in the log ({} events)",
                    log.event_names.len()
                )))
            }
        }
    }
    let start = behaviour.start.unwrap_or(i64::MIN);
    let end = behaviour.end.unwrap_or(i64::MAX);
    let need = behaviour.min_times as usize;
    let n_users = log.n_users();
    let parts: Vec<RoaringBitmap> = (0..n_users.div_ceil(CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let users = chunk * CHUNK..((chunk + 1) * CHUNK).min(n_users);
            from_sorted(users.filter_map(|user| {
                let mut count = 0usize;
                for row in log.user_rows(user) {
                    let time = log.times[row];
                    if time < start || time >= end || !wanted[log.events.get(row) as usize] {
                        continue;
                    }
                    if let Some(mask) = behaviour.row_mask {
                        if !mask[log.source_rows[row] as usize] {
                            continue;
                        }
                    }
                    count += 1;
                    if count >= need {
                        return Some(user as u32);
                    }
                }
                None
            }))
        })
        .collect();
    Audience::new(union_in_order(parts), universe)
}

fn universe_of(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| CoreError::TooLarge {
        what: "users".into(),
        found: n,
        limit: u32::MAX as usize,
    })
}

/// Union of bitmaps over disjoint, increasing id ranges.
pub(crate) fn union_in_order(parts: Vec<RoaringBitmap>) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    for part in parts {
        out |= part;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{TimeUnit, UserKeys};

    /// Three users: 0 did a,b,a; 1 did b; 2 did a at t=100.
    fn log() -> EncodedLog {
        EncodedLog {
            user_offsets: vec![0, 3, 4, 5],
            times: vec![1, 2, 3, 5, 100],
            events: vec![0, 1, 0, 1, 0].into(),
            source_rows: vec![4, 3, 2, 1, 0],
            event_names: vec!["a".into(), "b".into()],
            event_counts: vec![3, 2],
            user_keys: UserKeys::Int(vec![10, 20, 30]),
            time_unit: TimeUnit::Second,
            dropped_rows: 0,
            recycled: Default::default(),
        }
    }

    fn ids(a: &Audience) -> Vec<u32> {
        a.bits().iter().collect()
    }

    #[test]
    fn levels_select_a_band() {
        let levels = [0u8, 1, 2, 3, 2];
        assert_eq!(
            ids(&from_levels(&levels, 2, u8::MAX).unwrap()),
            vec![2, 3, 4]
        );
        assert_eq!(ids(&from_levels(&levels, 2, 2).unwrap()), vec![2, 4]);
        assert!(from_levels(&levels, 3, 2).is_err());
    }

    #[test]
    fn did_counts_times_window_and_mask() {
        let log = log();
        let did_a = |min_times, start, end, mask: Option<&[bool]>| {
            ids(&did(
                &log,
                &Behaviour {
                    events: &[0],
                    row_mask: mask,
                    start,
                    end,
                    min_times,
                },
            )
            .unwrap())
        };
        assert_eq!(did_a(1, None, None, None), vec![0, 2]);
        assert_eq!(did_a(2, None, None, None), vec![0]);
        assert_eq!(did_a(1, None, Some(100), None), vec![0]);
        assert_eq!(did_a(1, Some(3), None, None), vec![0, 2]);
        // Source row 0 is user 2's row; masking it out leaves user 0.
        let mask = [false, true, true, true, true];
        assert_eq!(did_a(1, None, None, Some(&mask)), vec![0]);
        let short = [true];
        assert!(did(
            &log,
            &Behaviour {
                events: &[0],
                row_mask: Some(&short),
                min_times: 1,
                ..Default::default()
            }
        )
        .is_err());
    }
}
