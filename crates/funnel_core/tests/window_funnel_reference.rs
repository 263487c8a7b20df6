//! The fast kernel agrees with the literal transcription of ClickHouse's algorithm on random
//! logs full of timestamp ties, rows matching several steps, and every mode combination.

mod common;

use funnel_core::funnel::reference::reference_level;
use funnel_core::funnel::{run_funnel, FunnelSpec, Mode, StepConditions};
use funnel_core::log::UserKeys;
use funnel_core::Control;
use proptest::prelude::*;

const EVENTS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// Rows as (user, event index, time), steps as alternative event indexes, window, mode.
type Case = (Vec<(i64, usize, i64)>, Vec<Vec<usize>>, i64, Mode);

fn case_strategy() -> impl Strategy<Value = Case> {
    let rows = prop::collection::vec((0i64..6, 0usize..EVENTS.len(), 0i64..25), 1..60);
    let steps = prop::collection::vec(prop::collection::vec(0usize..EVENTS.len(), 1..3), 1..5);
    (rows, steps, 0i64..12, common::mode_strategy())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn kernel_matches_reference((rows, steps, window, mode) in case_strategy()) {
        let named: Vec<(i64, &str, i64)> = rows.iter().map(|&(u, e, t)| (u, EVENTS[e], t)).collect();
        let log = common::log_of(&named);
        let codes: Vec<Vec<u32>> = steps
            .iter()
            .map(|events| events.iter().filter_map(|&e| log.event_code(EVENTS[e])).collect())
            .collect();
        let spec = FunnelSpec::new(steps.len(), window, mode).unwrap();
        let conditions = StepConditions { event_codes: codes, row_filters: vec![] };
        let output = run_funnel(&log, &spec, &conditions, i64::MAX, &Control::new()).unwrap();

        let UserKeys::Int(keys) = &log.user_keys else { panic!("integer keys expected") };
        for (dense, key) in keys.iter().enumerate() {
            let events: Vec<(i64, u32)> = rows
                .iter()
                .filter(|r| r.0 == *key)
                .map(|&(_, e, t)| {
                    let mask = steps
                        .iter()
                        .enumerate()
                        .filter(|(_, alts)| alts.contains(&e))
                        .fold(0u32, |m, (k, _)| m | (1 << k));
                    (t, mask)
                })
                .collect();
            prop_assert_eq!(
                output.levels[dense],
                reference_level(&spec, &events),
                "user {} of {:?}, steps {:?}, window {}, {:?}",
                key, rows, steps, window, mode
            );
        }
    }
}
