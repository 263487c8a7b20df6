//! Run a funnel over every user: users split into row-balanced ranges, one scan per range on the
//! thread pool, no shared state in the hot loop, results written in user order.
//!
//! A re-run allocates nothing in proportion to the log: the rows a step can match are gathered
//! into a buffer kept per thread, and the output arrays come back from the previous run's result
//! once it is dropped (`Recycled`), so their pages are already mapped.

use rayon::prelude::*;

use super::matching::Relevant;
use super::open_window::window_open;
use super::output::{FunnelOutput, StepTimes, IN_PROGRESS, NO_ROW};
use super::spec::FunnelSpec;
use super::steps::{EventMasks, MaskSource, RowMasks, RowSteps, StepConditions};
use super::window_funnel::Scan;
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
                analysis_end,
                control,
            ))
        }
        RowSteps::ByRow(masks) => scan_all(log, spec, &RowMasks(masks), analysis_end, control),
    }
}

/// One user range's share of the output: its own slices of the per-user arrays, and its own
/// step times (concatenated in range order afterwards).
struct Part<'a> {
    users: std::ops::Range<usize>,
    levels: &'a mut [u8],
    reached: &'a mut [u32],
    flags: &'a mut [u8],
    entry_times: &'a mut [i64],
    entry_rows: &'a mut [u32],
    last_rows: &'a mut [u32],
    times: &'a mut Vec<StepTimes>,
}

fn scan_all<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    analysis_end: i64,
    control: &Control,
) -> Result<FunnelOutput> {
    let mut phase = crate::Phase::start();
    let n_users = log.n_users();
    let n_times = spec.steps.saturating_sub(1);
    let mut out = log.recycled.take_output();
    let mut levels = std::mem::take(&mut out.levels);
    let mut reached = std::mem::take(&mut out.reached);
    let mut flags = std::mem::take(&mut out.flags);
    let mut entry_times = std::mem::take(&mut out.entry_times);
    let mut entry_rows = std::mem::take(&mut out.entry_rows);
    let mut last_rows = std::mem::take(&mut out.last_rows);
    // Every user's slot is written by its range's scan, so the values resized in do not matter.
    levels.resize(n_users, 0);
    flags.resize(n_users, 0);
    reached.resize(n_users, 0);
    entry_times.resize(n_users, 0);
    entry_rows.resize(n_users, NO_ROW);
    last_rows.resize(n_users, NO_ROW);
    let ranges = user_ranges(log, rayon::current_num_threads() * 16);
    let mut part_times = log.recycled.take_parts();
    part_times.resize_with(ranges.len(), Vec::new);
    let mut parts = Vec::with_capacity(ranges.len());
    let (mut l, mut m, mut f) = (&mut levels[..], &mut reached[..], &mut flags[..]);
    let (mut t, mut e, mut r) = (
        &mut entry_times[..],
        &mut entry_rows[..],
        &mut last_rows[..],
    );
    for (users, times) in ranges.into_iter().zip(part_times.iter_mut()) {
        let n = users.len();
        let (lh, lt) = l.split_at_mut(n);
        let (mh, mt) = m.split_at_mut(n);
        let (fh, ft) = f.split_at_mut(n);
        let (th, tt) = t.split_at_mut(n);
        let (eh, et) = e.split_at_mut(n);
        let (rh, rt) = r.split_at_mut(n);
        times.resize_with(n_times, StepTimes::default);
        times.truncate(n_times);
        times.iter_mut().for_each(StepTimes::clear);
        parts.push(Part {
            users,
            levels: lh,
            reached: mh,
            flags: fh,
            entry_times: th,
            entry_rows: eh,
            last_rows: rh,
            times,
        });
        (l, m, f, t, e, r) = (lt, mt, ft, tt, et, rt);
    }
    control.set_total(n_users as u64);
    phase.lap("run: arrays");
    parts.into_par_iter().try_for_each(|mut part| {
        control.check()?;
        let users = part.users.len() as u64;
        scan_range(log, spec, masks, analysis_end, &mut part);
        control.advance(users);
        Ok::<(), CoreError>(())
    })?;
    phase.lap("run: scan");
    let mut step_times = std::mem::take(&mut out.step_times);
    step_times.resize_with(n_times, StepTimes::default);
    step_times.truncate(n_times);
    for (step, all) in step_times.iter_mut().enumerate() {
        all.clear();
        all.reserve(part_times.iter().map(|p| p[step].units.len()).sum());
        for part in &part_times {
            all.extend_from(&part[step]);
        }
    }
    log.recycled.put_parts(part_times);
    phase.lap("run: step times");
    Ok(FunnelOutput {
        unit_users: None,
        levels,
        reached,
        flags,
        entry_times,
        entry_rows,
        last_rows,
        step_times,
    })
}

fn scan_range<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    analysis_end: i64,
    part: &mut Part<'_>,
) {
    let mut scan = Scan::new();
    let users = part.users.clone();
    part.levels.fill(0);
    part.reached.fill(0);
    part.flags.fill(0);
    part.entry_times.fill(0);
    part.entry_rows.fill(NO_ROW);
    part.last_rows.fill(NO_ROW);
    let keep = |scan: &Scan, index: usize, user: usize, part: &mut Part<'_>| {
        record(
            scan,
            spec,
            &log.source_rows,
            analysis_end,
            index,
            user,
            part,
        )
    };
    if spec.mode.strict_order {
        // Unrelated rows end a strict_order scan, so every row is read.
        for (index, user) in users.enumerate() {
            scan.run(spec, &log.times, masks, &log.user_rows(user));
            keep(&scan, index, user, part);
        }
        return;
    }
    // Rows no step matches cannot change a level: gather the others first, then walk them user
    // by user. Users with none keep level 0 at one comparison.
    let first_row = log.user_offsets[users.start] as usize;
    let last_row = log.user_offsets[users.end] as usize;
    MATCHING.with_borrow_mut(|matching| {
        // A buffer kept per thread across runs: a fresh one would be page-faulted in every run.
        matching.clear();
        masks.extract(first_row..last_row, matching);
        let count = matching.len();
        let mut next = 0;
        for (index, user) in users.enumerate() {
            let end = log.user_offsets[user + 1];
            let start = next;
            while next < count && matching[next] < end {
                next += 1;
            }
            if next > start {
                scan.run(spec, &log.times, masks, &matching[start..next]);
                keep(&scan, index, user, part);
            }
        }
    });
}

thread_local! {
    /// Rows of the current user range that some step matches.
    static MATCHING: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keep what one user's scan found, with its rows as rows of the input (`source`): the user's
/// rows are next to each other there too, so this costs no random reads.
#[inline]
fn record(
    scan: &Scan,
    spec: &FunnelSpec,
    source: &[u32],
    analysis_end: i64,
    index: usize,
    user: usize,
    part: &mut Part<'_>,
) {
    let level = scan.level();
    if level == 0 {
        return;
    }
    part.levels[index] = level;
    // The kernel's chains are a prefix of the steps (level is 1..=32 here).
    part.reached[index] = u32::MAX >> (32 - u32::from(level));
    let best = &scan.slots[level as usize - 1];
    if window_open(level, spec.steps, best.start, spec.window, analysis_end) {
        part.flags[index] = IN_PROGRESS;
    }
    part.entry_times[index] = best.start;
    part.entry_rows[index] = source[best.start_row as usize];
    part.last_rows[index] = source[best.last_row as usize];
    for step in 1..level as usize {
        let slot = &scan.slots[step];
        part.times[step - 1].push(
            user as u32,
            slot.last - slot.start,
            slot.last - slot.prev,
            source[slot.last_row as usize],
        );
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
