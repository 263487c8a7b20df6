//! Hand-written cases, each named for the rule it pins down.

mod common;

use funnel_core::funnel::{run_funnel, FunnelOutput, FunnelSpec, Mode, StepConditions};
use funnel_core::log::EncodedLog;
use funnel_core::{Control, CoreError};

fn run(log: &EncodedLog, steps: &[&[&str]], window: i64, mode: Mode) -> FunnelOutput {
    let codes = steps
        .iter()
        .map(|alts| alts.iter().filter_map(|e| log.event_code(e)).collect())
        .collect();
    let spec = FunnelSpec::new(steps.len(), window, mode).unwrap();
    let conditions = StepConditions {
        event_codes: codes,
        row_filters: vec![],
    };
    run_funnel(log, &spec, &conditions, i64::MAX, &Control::new()).unwrap()
}

fn level(rows: &[(i64, &str, i64)], steps: &[&[&str]], window: i64, mode: Mode) -> u8 {
    run(&common::log_of(rows), steps, window, mode).levels[0]
}

const ABC: &[&[&str]] = &[&["a"], &["b"], &["c"]];

#[test]
fn window_is_inclusive_and_measured_from_step_one() {
    let rows = [(1, "a", 0), (1, "b", 5), (1, "c", 10)];
    assert_eq!(level(&rows, ABC, 10, Mode::default()), 3);
    assert_eq!(level(&rows, ABC, 9, Mode::default()), 2);
}

#[test]
fn zero_window_counts_steps_at_the_same_instant() {
    let rows = [(1, "a", 7), (1, "b", 7), (1, "c", 8)];
    assert_eq!(level(&rows, ABC, 0, Mode::default()), 2);
}

#[test]
fn latest_step_one_restarts_the_chain() {
    // a@0 b@1 a@100 c@101: the restart at 100 loses b; level stays 2 from the first chain.
    let rows = [(1, "a", 0), (1, "b", 1), (1, "a", 100), (1, "c", 101)];
    assert_eq!(level(&rows, ABC, 50, Mode::default()), 2);
}

#[test]
fn one_row_matching_two_steps_advances_two_levels() {
    let rows = [(1, "x", 0)];
    assert_eq!(
        level(&rows, &[&["x"], &["x"], &["c"]], 10, Mode::default()),
        2
    );
}

#[test]
fn tie_orders_lower_step_first_whatever_the_row_order() {
    let rows = [(1, "b", 5), (1, "a", 5)];
    assert_eq!(level(&rows, &[&["a"], &["b"]], 0, Mode::default()), 2);
}

#[test]
fn strict_increase_is_clickhouses_greedy_rule() {
    // From the spec: A@0, B@5, A@5, C@5 gives level 1 although A@0 -> B@5 exists.
    let rows = [(1, "a", 0), (1, "b", 5), (1, "a", 5), (1, "c", 5)];
    let mode = Mode {
        strict_increase: true,
        ..Mode::default()
    };
    assert_eq!(level(&rows, ABC, 10, mode), 1);
}

#[test]
fn strict_deduplication_stops_at_a_repeated_step() {
    let rows = [(1, "a", 0), (1, "b", 1), (1, "b", 2), (1, "c", 3)];
    let mode = Mode {
        strict_deduplication: true,
        ..Mode::default()
    };
    assert_eq!(level(&rows, ABC, 10, mode), 2);
    assert_eq!(level(&rows, ABC, 10, Mode::default()), 3);
}

#[test]
fn strict_order_stops_at_an_unrelated_event_after_step_one_only() {
    let rows = [
        (1, "x", 0),
        (1, "a", 1),
        (1, "b", 2),
        (1, "x", 3),
        (1, "c", 4),
    ];
    let mode = Mode {
        strict_order: true,
        ..Mode::default()
    };
    assert_eq!(level(&rows, ABC, 10, mode), 2);
}

#[test]
fn allow_reentry_skips_out_of_order_steps_but_not_unrelated_events() {
    let rows = [(1, "a", 0), (1, "c", 1), (1, "b", 2), (1, "c", 3)];
    let order = Mode {
        strict_order: true,
        ..Mode::default()
    };
    let reentry = Mode {
        strict_order: true,
        allow_reentry: true,
        ..Mode::default()
    };
    assert_eq!(level(&rows, ABC, 10, order), 1);
    assert_eq!(level(&rows, ABC, 10, reentry), 3);
}

#[test]
fn users_without_step_one_are_level_zero() {
    let log = common::log_of(&[(1, "b", 0), (1, "c", 1), (2, "a", 0)]);
    let out = run(&log, ABC, 10, Mode::default());
    assert_eq!(out.levels, vec![0, 1]);
    assert_eq!(out.level_counts(3), vec![1, 1, 0, 0]);
    assert_eq!(out.entry_rows[0], u32::MAX);
}

#[test]
fn times_to_convert_come_from_the_chain_that_reached_the_step() {
    let log = common::log_of(&[(9, "a", 100), (9, "b", 130), (9, "c", 190)]);
    let out = run(&log, ABC, 1000, Mode::default());
    assert_eq!(out.step_times[0].from_start, vec![30]);
    assert_eq!(out.step_times[1].from_start, vec![90]);
    assert_eq!(out.step_times[1].from_previous, vec![60]);
    assert_eq!(out.entry_rows, vec![0]);
}

#[test]
fn definition_errors_say_what_is_wrong() {
    let err = FunnelSpec::new(33, 1, Mode::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a funnel has at most 32 steps; this one has 33"
    );
    let err = FunnelSpec::new(2, -1, Mode::default()).unwrap_err();
    assert!(err.to_string().contains("must not be negative"));
    let err = FunnelSpec::new(
        2,
        1,
        Mode {
            allow_reentry: true,
            ..Mode::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, CoreError::InvalidFunnel(_)));
}

#[test]
fn cancelled_run_stops_with_cancelled() {
    let log = common::log_of(&[(1, "a", 0)]);
    let spec = FunnelSpec::new(1, 0, Mode::default()).unwrap();
    let control = Control::new();
    control.cancel();
    let conditions = StepConditions {
        event_codes: vec![vec![0]],
        row_filters: vec![],
    };
    assert_eq!(
        run_funnel(&log, &spec, &conditions, i64::MAX, &control),
        Err(CoreError::Cancelled)
    );
}

#[test]
fn unfinished_users_whose_window_reaches_past_the_analysis_end_are_in_progress() {
    // User 1 is at step 2 with the window open until 100; user 2's window closed at 60; user 3
    // converted; user 4's window is wider than any time (it saturates instead of wrapping).
    let log = common::log_of(&[
        (1, "a", 0),
        (1, "b", 5),
        (2, "a", -40),
        (3, "a", 0),
        (3, "b", 1),
        (3, "c", 2),
        (4, "a", 10),
        (4, "x", 80),
    ]);
    let codes = ABC
        .iter()
        .map(|alts| alts.iter().filter_map(|e| log.event_code(e)).collect())
        .collect();
    let conditions = StepConditions {
        event_codes: codes,
        row_filters: vec![],
    };
    let flags = |window, end| {
        let spec = FunnelSpec::new(3, window, Mode::default()).unwrap();
        run_funnel(&log, &spec, &conditions, end, &Control::new())
            .unwrap()
            .flags
    };
    assert_eq!(flags(100, 80), vec![1, 0, 0, 1]);
    // 10 + i64::MAX wraps to a negative end without saturation, closing user 4's window.
    assert_eq!(flags(i64::MAX, i64::MAX - 1), vec![1, 0, 0, 1]);
}
