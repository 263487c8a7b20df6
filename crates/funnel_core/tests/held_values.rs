//! Held properties: the user's result never depends on the order the held values were first
//! seen in (their codes), only on the events.

mod common;

use funnel_core::funnel::{
    run_analysis, AnalysisConditions, AnalysisSpec, Counting, StepConditions, StepOrder,
    IN_PROGRESS,
};
use funnel_core::log::EncodedLog;
use funnel_core::Control;

/// Run `view -> cart -> pay` (window 100 s, analysis end 1000) holding the given code per row
/// (in the order of the input rows), and return (level, flags, entry time).
fn run(log: &EncodedLog, codes_by_input_row: &[u32]) -> (u8, u8, i64) {
    let codes: Vec<u32> = log
        .source_rows
        .iter()
        .map(|&r| codes_by_input_row[r as usize])
        .collect();
    let event_codes = ["view", "cart", "pay"]
        .iter()
        .map(|e| log.event_code(e).into_iter().collect())
        .collect();
    let spec = AnalysisSpec {
        steps: 3,
        window: 100,
        order: StepOrder::Sequential,
        counting: Counting::Users,
        step_windows: vec![None; 3],
        optional: vec![false; 3],
        exclusions: vec![],
        analysis_end: 1000,
    };
    let conditions = AnalysisConditions {
        steps: StepConditions {
            event_codes,
            row_filters: vec![],
        },
        exclusions: StepConditions::default(),
        hold_codes: Some(codes.into()),
    };
    let out = run_analysis(log, &spec, &conditions, &Control::new()).unwrap();
    let flags = out.flags[0];
    let entry = out.entry_times[0];
    (out.levels[0], flags, entry)
}

#[test]
fn a_tie_between_held_values_goes_to_the_chain_that_got_there_first() {
    // Product A is viewed at 10 and carted at 20; product B at 950 and 960 (window still open
    // at 1000). Both reach step 2: A got there first, and B can still convert.
    let rows = [
        (1, "view", 10),
        (1, "cart", 20),
        (1, "view", 950),
        (1, "cart", 960),
    ];
    let log = common::log_of(&rows);
    let a_first = run(&log, &[0, 0, 1, 1]);
    let b_first = run(&log, &[1, 1, 0, 0]);
    assert_eq!(a_first, b_first);
    assert_eq!(a_first, (2, IN_PROGRESS, 10));
}
