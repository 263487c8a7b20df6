//! Run a funnel over every user: users split into row-balanced ranges, one scan per range on the
//! thread pool, no shared state in the hot loop, results written in user order.
//!
//! Each range's scan first gathers the rows some step matches (`matching::Chunk`: their times,
//! event codes and input rows, and where each user's start), then walks them user by user: with
//! one step per row (`Scan::run_single`, one copy per mode), or else row masks (`Scan::run`).
//! Rows gathered for a set of events are kept
//! with the log, so a re-run over the same events (any order, window or mode) reads only those,
//! a fraction of the log's columns. The output arrays come back from the previous run's result
//! once it is dropped (`Recycled`), so their pages are already mapped.

use rayon::prelude::*;

use super::matching::{Chunk, Gathered, Relevant};
use super::open_window::window_open;
use super::output::{FunnelOutput, StepEntry, IN_PROGRESS};
use super::parts::{Part, UserOutput};
use super::spec::FunnelSpec;
use super::steps::{EventMasks, MaskSource, RowMasks, RowSteps, StepConditions};
use super::window_funnel::{Scan, UserRows};
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;
use crate::with_codes;

/// Run `spec` with `conditions` over `log`; units whose window is still open at `analysis_end`
/// are flagged in progress.
pub fn run_funnel(
    log: &EncodedLog,
    spec: &FunnelSpec,
    conditions: &StepConditions,
    analysis_end: i64,
    control: &Control,
) -> Result<FunnelOutput> {
    if conditions.event_codes.len() != spec.steps {
        return Err(CoreError::InvalidFunnel(format!(
            "{} step conditions given for a {}-step funnel",
            conditions.event_codes.len(),
            spec.steps
        )));
    }
    let steps = RowSteps::resolve(log, conditions)?;
    match &steps {
        RowSteps::ByEvent(table) => {
            let relevant = Relevant::new(table);
            with_codes!(&log.events, events => scan_all(
                log,
                spec,
                &EventMasks { table, events, relevant: &relevant },
                Some(&relevant),
                analysis_end,
                control,
            ))
        }
        RowSteps::ByRow(masks) => {
            scan_all(log, spec, &RowMasks(masks), None, analysis_end, control)
        }
    }
}

/// `by_event`: the events `masks` go by, when its rows may be kept for the next run.
fn scan_all<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    by_event: Option<&Relevant>,
    analysis_end: i64,
    control: &Control,
) -> Result<FunnelOutput> {
    let mut phase = crate::Phase::start();
    let n_users = log.n_users();
    let ranges = user_ranges(log, rayon::current_num_threads() * 16);
    let mut output = UserOutput::new(log, spec.steps, ranges.len(), false);
    let parts = output.parts(&ranges);
    control.set_total(n_users as u64);
    phase.lap("run: arrays");
    let kept = by_event.and_then(|relevant| Gathered::kept(log, relevant, &ranges));
    let keep = by_event.filter(|relevant| Gathered::may_keep(log, relevant));
    let step_of = masks.step_of_key();
    let run_part = |part: &mut Part<'_>, chunk: &Chunk| -> Result<()> {
        control.check()?;
        walk(spec, masks, step_of.as_deref(), chunk, analysis_end, part);
        control.advance(part.users.len() as u64);
        Ok(())
    };
    if let Some(kept) = kept {
        (parts.into_par_iter().zip(kept.chunks.par_iter()))
            .try_for_each(|(mut part, chunk)| run_part(&mut part, chunk))?;
    } else if let Some(relevant) = keep {
        // Each range is run as soon as it is gathered, while its rows are in cache.
        Gathered::keep_built(log, relevant, &ranges, || {
            (parts.into_par_iter())
                .map(|mut part| {
                    let mut chunk = Chunk::default();
                    ROWS.with_borrow_mut(|rows| chunk.gather(log, masks, part.users.clone(), rows));
                    run_part(&mut part, &chunk).map(|()| chunk)
                })
                .collect::<Result<Vec<_>>>()
        })?;
    } else {
        parts.into_par_iter().try_for_each(|mut part| {
            SCRATCH.with_borrow_mut(|(rows, chunk)| {
                chunk.gather(log, masks, part.users.clone(), rows);
                run_part(&mut part, chunk)
            })
        })?;
    }
    phase.lap("run: scan");
    let out = output.finish(log);
    phase.lap("run: step times");
    Ok(out)
}

/// Run the kernel over each user of `chunk` (the gathered rows of `part`'s users) and write every
/// user's slot of `part`: users the scan leaves at level 0 (or with no rows) get the empty values.
fn walk<M: MaskSource>(
    spec: &FunnelSpec,
    masks: &M,
    step_of: Option<&[u8]>,
    chunk: &Chunk,
    analysis_end: i64,
    part: &mut Part<'_>,
) {
    let mode = spec.mode;
    let (order, increase, dedup) = (
        mode.strict_order,
        mode.strict_increase,
        mode.strict_deduplication,
    );
    let Some(step_of) = step_of else {
        return walk_with(chunk, analysis_end, spec, part, |scan, rows| {
            scan.run(spec, masks, rows)
        });
    };
    // One copy of the walk per mode, so the default mode's loop carries none of the others.
    macro_rules! single {
        ($o:literal, $i:literal, $d:literal) => {
            walk_with(chunk, analysis_end, spec, part, |scan, rows| {
                scan.run_single::<$o, $i, $d>(spec, step_of, rows)
            })
        };
    }
    match (order, increase, dedup) {
        (false, false, false) => single!(false, false, false),
        (false, false, true) => single!(false, false, true),
        (false, true, false) => single!(false, true, false),
        (false, true, true) => single!(false, true, true),
        (true, false, false) => single!(true, false, false),
        (true, false, true) => single!(true, false, true),
        (true, true, false) => single!(true, true, false),
        (true, true, true) => single!(true, true, true),
    }
}

/// `walk` with `scan` deciding each user that has rows.
#[inline(always)]
fn walk_with(
    chunk: &Chunk,
    analysis_end: i64,
    spec: &FunnelSpec,
    part: &mut Part<'_>,
    mut scan_user: impl FnMut(&mut Scan, &UserRows<'_>),
) {
    // Level 0 for everyone first, in six fills over the part's slices (cached, a few
    // instructions a user); then only users who reached step 1 are written. Writing each
    // level-0 user's slots in the loop cost a mispredicted branch per run of them.
    part.clear();
    let mut scan = Scan::new();
    let first_user = part.users.start;
    for (nth, &index) in chunk.users.iter().enumerate() {
        let at = chunk.rows_of(nth);
        let rows = UserRows {
            times: &chunk.times[at.clone()],
            keys: &chunk.keys[at.clone()],
            gaps: &chunk.gaps[at.clone()],
        };
        scan_user(&mut scan, &rows);
        if scan.level() > 0 {
            let index = index as usize;
            let user = (first_user + index) as u32;
            record(
                &scan,
                spec,
                &chunk.sources[at],
                analysis_end,
                index,
                user,
                part,
            );
        }
    }
}

thread_local! {
    /// Rows of the current user range that some step matches.
    static ROWS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The same, and what is gathered of them, for runs that do not keep them: kept per thread
    /// across runs, as fresh buffers would be page-faulted in every run.
    static SCRATCH: std::cell::RefCell<(Vec<u32>, Chunk)> = std::cell::RefCell::new(Default::default());
}

/// Keep what one user's scan found; `source` maps the scan's rows (positions among the user's
/// gathered rows) to rows of the input.
#[inline(always)]
fn record(
    scan: &Scan,
    spec: &FunnelSpec,
    source: &[u32],
    analysis_end: i64,
    index: usize,
    user: u32,
    part: &mut Part<'_>,
) {
    let level = scan.level();
    if level == 0 {
        return;
    }
    part.levels[index] = level;
    // The kernel's chains are a prefix of the steps (level is 1..=32 here).
    part.reached[index] = u32::MAX >> (32 - u32::from(level));
    let best = scan.slot(level as usize);
    if window_open(level, spec.steps, best.start, spec.window, analysis_end) {
        part.flags[index] = IN_PROGRESS;
    }
    part.entry_times[index] = best.start;
    part.entry_rows[index] = source[best.start_row as usize];
    part.last_rows[index] = source[best.last_row as usize];
    for step in 2..=level as usize {
        let slot = scan.slot(step);
        part.times[step - 2].push(StepEntry {
            from_start: slot.last - slot.start,
            from_previous: slot.last - slot.prev,
            unit: user,
            row: source[slot.last_row as usize],
        });
    }
}

/// Split users into about `parts` ranges holding similar numbers of rows.
pub(crate) fn user_ranges(log: &EncodedLog, parts: usize) -> Vec<std::ops::Range<usize>> {
    let n_users = log.n_users();
    let n_rows = log.n_rows().max(1);
    let mut ranges = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 1..=parts {
        let target = (n_rows as u64 * p as u64 / parts as u64) as u32;
        let end = if p == parts {
            n_users
        } else {
            log.user_offsets[1..]
                .partition_point(|&o| o < target)
                .min(n_users)
        };
        if end > start {
            ranges.push(start..end);
            start = end;
        }
    }
    if start < n_users {
        ranges.push(start..n_users);
    }
    ranges
}
