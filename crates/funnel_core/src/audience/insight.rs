//! The counting behind profile, compare and overlap: intersection cardinalities, one parallel
//! call each. Ratios, confidence intervals and ranking are arithmetic on these counts and are
//! done by the caller (Python, vectorized).

use rayon::prelude::*;

use super::set::Audience;
use super::tags::TagStore;
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;

/// Per tag: (users of the tag inside each audience..., users of the tag overall).
/// `counts[t * (k + 1) + j]` is |tag t ∩ audience j| for j < k and |tag t| for j = k.
pub fn tag_counts(audiences: &[&Audience], store: &TagStore) -> Vec<u64> {
    let index = store.chunk_index();
    let k = audiences.len();
    let mut counts = vec![0u64; store.len() * (k + 1)];
    for (t, tag) in store.bitmaps().iter().enumerate() {
        counts[t * (k + 1) + k] = tag.len();
    }
    for (j, audience) in audiences.iter().enumerate() {
        for (t, hits) in index
            .intersections(audience.dense())
            .into_iter()
            .enumerate()
        {
            counts[t * (k + 1) + j] = hits;
        }
    }
    counts
}

/// Per event code: how many distinct users of each audience did it at least once.
/// `counts[e * k + j]` for event `e` and audience `j`.
pub fn event_user_counts(log: &EncodedLog, audiences: &[&Audience]) -> Result<Vec<u64>> {
    let n_events = log.event_names.len();
    let k = audiences.len();
    for a in audiences {
        if a.universe() as usize != log.n_users() {
            return Err(CoreError::InvalidAudience(format!(
                "an audience of a log with {} users cannot be compared over a log with {} users",
                a.universe(),
                log.n_users()
            )));
        }
    }
    let mut out = vec![0u64; n_events * k];
    for (j, audience) in audiences.iter().enumerate() {
        let ids: Vec<u32> = audience.bits().iter().collect();
        let counts = ids
            .par_chunks(1 << 14)
            .map(|chunk| {
                let mut counts = vec![0u64; n_events];
                // Which user last counted each event, so repeated events count once per user.
                let mut last = vec![u32::MAX; n_events];
                for &user in chunk {
                    for row in log.user_rows(user as usize) {
                        let e = log.events.get(row) as usize;
                        if last[e] != user {
                            last[e] = user;
                            counts[e] += 1;
                        }
                    }
                }
                counts
            })
            .reduce(
                || vec![0u64; n_events],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        for (e, c) in counts.into_iter().enumerate() {
            out[e * k + j] = c;
        }
    }
    Ok(out)
}

/// |a_i ∩ a_j| for every pair, row-major n × n (the diagonal holds the sizes).
pub fn overlap(audiences: &[&Audience]) -> Result<Vec<u64>> {
    let n = audiences.len();
    if let Some(first) = audiences.first() {
        if audiences.iter().any(|a| a.universe() != first.universe()) {
            return Err(CoreError::InvalidAudience(
                "overlap needs audiences of one log; these come from logs of different sizes"
                    .into(),
            ));
        }
    }
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i..n).map(move |j| (i, j))).collect();
    let values: Vec<u64> = pairs
        .par_iter()
        .map(|&(i, j)| {
            if i == j {
                audiences[i].len()
            } else {
                audiences[i].bits().intersection_len(audiences[j].bits())
            }
        })
        .collect();
    let mut out = vec![0u64; n * n];
    for (&(i, j), v) in pairs.iter().zip(values) {
        out[i * n + j] = v;
        out[j * n + i] = v;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{TimeUnit, UserKeys};

    #[test]
    fn tag_counts_are_intersections_then_totals() {
        let a = Audience::from_ids(&[0, 1, 2], 10).unwrap();
        let b = Audience::from_ids(&[5], 10).unwrap();
        let mut store = TagStore::new(10);
        store
            .add("t", Audience::from_ids(&[1, 2, 5, 9], 10).unwrap())
            .unwrap();
        store.add("empty", Audience::empty(10)).unwrap();
        assert_eq!(tag_counts(&[&a, &b], &store), vec![2, 1, 4, 0, 0, 0]);
    }

    #[test]
    fn events_count_users_once() {
        let log = EncodedLog {
            user_offsets: vec![0, 3, 4],
            times: vec![1, 2, 3, 4],
            events: vec![0, 0, 1, 1].into(),
            source_rows: vec![0, 1, 2, 3],
            event_names: vec!["a".into(), "b".into()],
            event_counts: vec![2, 2],
            user_keys: UserKeys::Int(vec![1, 2]),
            time_unit: TimeUnit::Second,
            dropped_rows: 0,
            recycled: Default::default(),
        };
        let all = Audience::all(2);
        let second = Audience::from_ids(&[1], 2).unwrap();
        assert_eq!(
            event_user_counts(&log, &[&all, &second]).unwrap(),
            vec![1, 0, 2, 1]
        );
    }

    #[test]
    fn overlap_is_symmetric_with_sizes_on_the_diagonal() {
        let a = Audience::from_ids(&[0, 1, 2], 5).unwrap();
        let b = Audience::from_ids(&[2, 3], 5).unwrap();
        assert_eq!(overlap(&[&a, &b]).unwrap(), vec![3, 1, 1, 2]);
        assert!(overlap(&[&a, &Audience::empty(6)]).is_err());
    }
}
