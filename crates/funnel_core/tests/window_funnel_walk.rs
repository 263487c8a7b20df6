//! Re-runs of funnels whose steps each name their own events go through the one-step-per-row
//! path (`Scan::run_single`): its levels must be the reference's on the users it was written
//! for (a row or two, distinct times) and the ones it must not get wrong: many rows at one
//! instant, no step-1 row, one row, 1- and 32-step funnels, every mode, run twice on one log
//! (the second run reads the rows the first kept), and the level counts must add up.

mod common;

use funnel_core::funnel::reference::reference_level;
use funnel_core::funnel::{run_funnel, FunnelSpec, Mode, StepConditions};
use funnel_core::log::UserKeys;
use funnel_core::Control;
use proptest::prelude::*;

/// Events "e0".."e33"; steps name distinct ones, the rest are unrelated rows.
const EVENTS: usize = 34;
/// Times run over 0..SPAN.
const SPAN: i64 = 64;

fn name(event: usize) -> String {
    format!("e{event}")
}

/// Rows as (user, event, time) and a funnel: each step one event of its own (a permutation's
/// prefix), window, mode.
type Case = (Vec<(i64, usize, i64)>, Vec<usize>, i64, Mode);

fn case_strategy() -> impl Strategy<Value = Case> {
    let steps = prop_oneof![1usize..=5, Just(1usize), 28usize..=32];
    steps.prop_flat_map(|n| {
        let order = Just((0..EVENTS).collect::<Vec<_>>()).prop_shuffle();
        let steps = order.prop_map(move |events| events[..n].to_vec());
        // Times from a few instants (ties everywhere) or from the whole span (mostly distinct).
        let times = prop_oneof![Just(4i64), Just(SPAN)];
        (steps, times).prop_flat_map(|(steps, distinct_times)| {
            let n = steps.len();
            let funnel = steps.clone();
            let row = (0i64..8, 0i64..distinct_times, 0usize..3, 0usize..EVENTS).prop_map(
                move |(user, t, pick, any)| {
                    // Mostly the step a journey would be at by then, so long funnels get far.
                    let time = t * (SPAN / distinct_times);
                    let along = funnel[(time as usize * n / SPAN as usize).min(n - 1)];
                    (user, if pick == 0 { any } else { along }, time)
                },
            );
            (
                prop::collection::vec(row, 1..120),
                Just(steps),
                0i64..40,
                common::mode_strategy(),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn one_event_per_step_funnels_match_the_reference_run_after_run(
        (rows, steps, window, mode) in case_strategy()
    ) {
        let names: Vec<String> = (0..EVENTS).map(name).collect();
        let named: Vec<(i64, &str, i64)> =
            rows.iter().map(|&(u, e, t)| (u, names[e].as_str(), t)).collect();
        let log = common::log_of(&named);
        let spec = FunnelSpec::new(steps.len(), window, mode).unwrap();
        let conditions = StepConditions {
            event_codes: steps.iter().map(|&e| log.event_code(&names[e]).into_iter().collect()).collect(),
            row_filters: vec![],
        };
        let UserKeys::Int(keys) = &log.user_keys else { panic!("integer keys expected") };
        for run in 0..2 {
            let output = run_funnel(&log, &spec, &conditions, i64::MAX, &Control::new()).unwrap();
            let mut expected_counts = vec![0u64; steps.len() + 1];
            for (dense, key) in keys.iter().enumerate() {
                let events: Vec<(i64, u32)> = rows
                    .iter()
                    .filter(|r| r.0 == *key)
                    .map(|&(_, e, t)| {
                        let mask = steps.iter().position(|&s| s == e).map_or(0, |k| 1 << k);
                        (t, mask)
                    })
                    .collect();
                let level = reference_level(&spec, &events);
                expected_counts[level as usize] += 1;
                prop_assert_eq!(
                    output.levels[dense], level,
                    "run {}: user {} of {:?}, steps {:?}, window {}, {:?}",
                    run, key, rows, steps, window, mode
                );
                // A chain's step times are from its own start and in order.
                for (k, times) in output.step_times.iter().enumerate() {
                    if let Ok(at) = times.units.binary_search(&(dense as u32)) {
                        prop_assert!(k + 2 <= level as usize);
                        prop_assert!(times.from_start[at] >= times.from_previous[at]);
                        prop_assert!(times.from_start[at] <= window);
                    }
                }
            }
            prop_assert_eq!(output.level_counts(steps.len()), expected_counts);
            log.recycled.put_output(output);
        }
    }
}

/// A user whose rows all share one instant climbs the whole funnel in step order, whatever
/// order the rows came in; a user with only later steps stays at level 0; a one-row user at 1.
#[test]
fn rows_at_one_instant_are_taken_in_step_order() {
    let rows = [
        (1, "c", 5),
        (1, "a", 5),
        (1, "b", 5),
        (2, "b", 1),
        (2, "c", 2),
        (3, "a", 9),
    ];
    let log = common::log_of(&rows);
    let code = |e: &str| vec![log.event_code(e).unwrap()];
    let conditions = StepConditions {
        event_codes: vec![code("a"), code("b"), code("c")],
        row_filters: vec![],
    };
    for mode in [
        Mode::default(),
        Mode {
            strict_deduplication: true,
            ..Mode::default()
        },
        Mode {
            strict_order: true,
            ..Mode::default()
        },
    ] {
        let spec = FunnelSpec::new(3, 0, mode).unwrap();
        for _ in 0..2 {
            let output = run_funnel(&log, &spec, &conditions, i64::MAX, &Control::new()).unwrap();
            assert_eq!(output.levels, [3, 0, 1], "{mode:?}");
            assert_eq!(output.level_counts(3), [1, 1, 0, 1]);
            assert_eq!(output.step_times[1].units, [0]);
            log.recycled.put_output(output);
        }
    }
}
