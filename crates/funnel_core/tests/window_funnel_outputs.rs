//! Everything a run leaves per user, not only levels, must not depend on what ran before on the
//! log: a re-run writes into the arrays of the previous run's output (any funnel, any mode) and
//! reads the rows it kept, yet must leave exactly what a first run on a fresh copy of the log
//! leaves. Users who never start (no rows of the funnel's events at all, or no step-1 row) get
//! the empty values, and each step's times list exactly the users who reached it.

mod common;

use funnel_core::funnel::reference::reference_level;
use funnel_core::funnel::{run_funnel, FunnelOutput, FunnelSpec, Mode, StepConditions, NO_ROW};
use funnel_core::log::{EncodedLog, UserKeys};
use funnel_core::Control;
use proptest::prelude::*;

const EVENTS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

/// Steps as event indexes (one each, or alternatives), window, mode.
type Funnel = (Vec<Vec<usize>>, i64, Mode);

fn funnel_strategy() -> impl Strategy<Value = Funnel> {
    let own_events = Just((0..EVENTS.len()).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_flat_map(|events| {
            (1..=6usize).prop_map(move |n| events[..n].iter().map(|&e| vec![e]).collect())
        });
    let alternatives = prop::collection::vec(prop::collection::vec(0usize..6, 1..3), 1..5);
    let steps = prop_oneof![3 => own_events, 1 => alternatives];
    (steps, 0i64..12, common::mode_strategy())
}

/// Rows as (user, event index, time) over up to 40 users, many of whom have none of a funnel's
/// events; and the funnels run one after another on one log.
fn case_strategy() -> impl Strategy<Value = (Vec<(i64, usize, i64)>, Vec<Funnel>)> {
    let times = prop_oneof![Just(3i64), Just(40i64)];
    let rows = times.prop_flat_map(|span| {
        prop::collection::vec((0i64..40, 0usize..EVENTS.len(), 0i64..span), 1..150)
    });
    (rows, prop::collection::vec(funnel_strategy(), 2..6))
}

fn run(log: &EncodedLog, funnel: &Funnel) -> (FunnelSpec, FunnelOutput) {
    let (steps, window, mode) = funnel;
    let spec = FunnelSpec::new(steps.len(), *window, *mode).unwrap();
    let conditions = StepConditions {
        event_codes: (steps.iter())
            .map(|events| {
                (events.iter())
                    .filter_map(|&e| log.event_code(EVENTS[e]))
                    .collect()
            })
            .collect(),
        row_filters: vec![],
    };
    let output = run_funnel(log, &spec, &conditions, 20, &Control::new()).unwrap();
    (spec, output)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn a_rerun_leaves_what_a_first_run_on_a_fresh_log_leaves((rows, funnels) in case_strategy()) {
        let named: Vec<(i64, &str, i64)> =
            rows.iter().map(|&(u, e, t)| (u, EVENTS[e], t)).collect();
        let log = common::log_of(&named);
        let UserKeys::Int(keys) = &log.user_keys else { panic!("integer keys expected") };
        for funnel in &funnels {
            for _ in 0..2 {
                let (spec, output) = run(&log, funnel);
                // A copy of a log starts with nothing kept and no arrays to reuse.
                let (_, fresh) = run(&log.clone(), funnel);
                prop_assert_eq!(&output, &fresh, "{:?} of {:?}", funnel, rows);
                for (dense, key) in keys.iter().enumerate() {
                    let events: Vec<(i64, u32)> = (rows.iter())
                        .filter(|r| r.0 == *key)
                        .map(|&(_, e, t)| {
                            let mask = (funnel.0.iter().enumerate())
                                .filter(|(_, alts)| alts.contains(&e))
                                .fold(0u32, |m, (k, _)| m | (1 << k));
                            (t, mask)
                        })
                        .collect();
                    let level = reference_level(&spec, &events);
                    prop_assert_eq!(output.levels[dense], level, "user {} of {:?}", key, funnel);
                    prop_assert_eq!(output.reached[dense], (1u64 << level) as u32 - 1);
                    if level == 0 {
                        prop_assert_eq!(
                            (output.flags[dense], output.entry_times[dense]),
                            (0, 0),
                            "user {} of {:?}", key, funnel
                        );
                        prop_assert_eq!(
                            (output.entry_rows[dense], output.last_rows[dense]),
                            (NO_ROW, NO_ROW),
                            "user {} of {:?}", key, funnel
                        );
                    }
                    for (k, times) in output.step_times.iter().enumerate() {
                        prop_assert_eq!(
                            times.units.binary_search(&(dense as u32)).is_ok(),
                            usize::from(level) >= k + 2,
                            "step {} of user {} of {:?}", k + 2, key, funnel
                        );
                    }
                }
                log.recycled.put_output(output);
            }
        }
    }
}
