//! Re-runs on one log read the rows the previous run over the same events gathered and kept;
//! the kernel must give the reference's levels whichever run gathered them: funnels in sequence
//! on one log with ties everywhere, users without a step-1 row, 1- to 32-step funnels, the same
//! events in another order or mode, other events, and row filters (never kept).

mod common;

use arrow_buffer::BooleanBuffer;
use funnel_core::funnel::reference::reference_level;
use funnel_core::funnel::{run_funnel, FunnelSpec, Mode, StepConditions};
use funnel_core::log::{EncodedLog, UserKeys};
use funnel_core::Control;
use proptest::prelude::*;

const EVENTS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// One funnel: steps as alternative event indexes, window, mode, and an optional filter on
/// step 1 (one boolean per input row).
type Funnel = (Vec<Vec<usize>>, i64, Mode, Option<Vec<bool>>);

fn funnel_strategy(rows: usize) -> impl Strategy<Value = Funnel> {
    let steps = prop_oneof![
        prop::collection::vec(prop::collection::vec(0usize..4, 1..3), 1..6),
        // Long funnels cycle through few events, so many levels are reached.
        prop::collection::vec(prop::collection::vec(0usize..4, 1..2), 28..=32),
    ];
    let filter = prop::option::weighted(0.25, prop::collection::vec(any::<bool>(), rows));
    (steps, 0i64..8, common::mode_strategy(), filter)
}

/// Rows as (user, event index, time): few distinct times, so most rows share an instant with
/// another, and events 4 and 5 never in a step (unrelated rows for strict_order).
fn case_strategy() -> impl Strategy<Value = (Vec<(i64, usize, i64)>, Vec<Funnel>)> {
    prop::collection::vec((0i64..5, 0usize..EVENTS.len(), 0i64..10), 1..80).prop_flat_map(|rows| {
        let n = rows.len();
        (Just(rows), prop::collection::vec(funnel_strategy(n), 1..5))
    })
}

fn check(
    log: &EncodedLog,
    rows: &[(i64, usize, i64)],
    funnel: &Funnel,
) -> Result<(), TestCaseError> {
    let (steps, window, mode, filter) = funnel;
    let codes: Vec<Vec<u32>> = steps
        .iter()
        .map(|events| {
            events
                .iter()
                .filter_map(|&e| log.event_code(EVENTS[e]))
                .collect()
        })
        .collect();
    let spec = FunnelSpec::new(steps.len(), *window, *mode).unwrap();
    let row_filters = filter
        .iter()
        .map(|f| (0, BooleanBuffer::from(f.clone())))
        .collect();
    let conditions = StepConditions {
        event_codes: codes,
        row_filters,
    };
    let output = run_funnel(log, &spec, &conditions, i64::MAX, &Control::new()).unwrap();
    let UserKeys::Int(keys) = &log.user_keys else {
        panic!("integer keys expected")
    };
    for (dense, key) in keys.iter().enumerate() {
        let events: Vec<(i64, u32)> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 == *key)
            .map(|(input, &(_, e, t))| {
                let mask = steps
                    .iter()
                    .enumerate()
                    .filter(|(k, alts)| {
                        alts.contains(&e) && (*k != 0 || filter.as_ref().is_none_or(|f| f[input]))
                    })
                    .fold(0u32, |m, (k, _)| m | (1 << k));
                (t, mask)
            })
            .collect();
        prop_assert_eq!(
            output.levels[dense],
            reference_level(&spec, &events),
            "user {} of {:?}, funnel {:?}",
            key,
            rows,
            funnel
        );
    }
    log.recycled.put_output(output);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn funnels_in_sequence_on_one_log_match_the_reference((rows, funnels) in case_strategy()) {
        let named: Vec<(i64, &str, i64)> = rows.iter().map(|&(u, e, t)| (u, EVENTS[e], t)).collect();
        let log = common::log_of(&named);
        for funnel in &funnels {
            check(&log, &rows, funnel)?;
            // The same funnel again reads what the first run kept.
            check(&log, &rows, funnel)?;
        }
    }
}
