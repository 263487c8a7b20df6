//! Run a funnel over every user: users split into row-balanced ranges, one scan per range on the
//! thread pool, no shared state in the hot loop, results concatenated in user order.

use rayon::prelude::*;

use super::open_window::window_open;
use super::output::{FunnelOutput, StepTimes, IN_PROGRESS, NO_ROW};
use super::spec::FunnelSpec;
use super::steps::{EventMasks, MaskSource, RowMasks, RowSteps, StepConditions};
use super::window_funnel::Scan;
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;

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
        RowSteps::ByEvent(table) => scan_all(
            log,
            spec,
            &EventMasks {
                table,
                events: &log.events,
            },
            analysis_end,
            control,
        ),
        RowSteps::ByRow(masks) => scan_all(log, spec, &RowMasks(masks), analysis_end, control),
    }
}

/// One user range's share of the output: its own slices of the per-user arrays.
struct Part<'a> {
    users: std::ops::Range<usize>,
    levels: &'a mut [u8],
    flags: &'a mut [u8],
    entry_rows: &'a mut [u32],
    last_rows: &'a mut [u32],
}

fn scan_all<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    analysis_end: i64,
    control: &Control,
) -> Result<FunnelOutput> {
    let n_users = log.n_users();
    let mut levels = vec![0u8; n_users];
    let mut flags = vec![0u8; n_users];
    let mut entry_rows = vec![NO_ROW; n_users];
    let mut last_rows = vec![NO_ROW; n_users];
    // Each range writes straight into its slices of the final arrays: nothing is copied after.
    let mut parts = Vec::new();
    let (mut l, mut f) = (&mut levels[..], &mut flags[..]);
    let (mut e, mut r) = (&mut entry_rows[..], &mut last_rows[..]);
    for users in user_ranges(log, rayon::current_num_threads() * 16) {
        let (lh, lt) = l.split_at_mut(users.len());
        let (fh, ft) = f.split_at_mut(users.len());
        let (eh, et) = e.split_at_mut(users.len());
        let (rh, rt) = r.split_at_mut(users.len());
        parts.push(Part {
            users,
            levels: lh,
            flags: fh,
            entry_rows: eh,
            last_rows: rh,
        });
        (l, f, e, r) = (lt, ft, et, rt);
    }
    control.set_total(n_users as u64);
    let times: Vec<Vec<StepTimes>> = parts
        .into_par_iter()
        .map(|mut part| {
            control.check()?;
            let users = part.users.len() as u64;
            let times = scan_range(log, spec, masks, analysis_end, &mut part);
            control.advance(users);
            Ok(times)
        })
        .collect::<Result<_>>()?;
    let mut step_times = vec![StepTimes::default(); spec.steps.saturating_sub(1)];
    for part in times {
        for (all, mine) in step_times.iter_mut().zip(part) {
            all.append(mine);
        }
    }
    Ok(FunnelOutput {
        levels,
        flags: Some(flags),
        entry_rows,
        last_rows,
        step_times,
        ..FunnelOutput::default()
    })
}

fn scan_range<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    analysis_end: i64,
    part: &mut Part<'_>,
) -> Vec<StepTimes> {
    let mut times = vec![StepTimes::default(); spec.steps.saturating_sub(1)];
    let mut scan = Scan::new();
    let users = part.users.clone();
    if spec.mode.strict_order {
        // Unrelated rows end a strict_order scan, so every row is read.
        for (index, user) in users.enumerate() {
            scan.run(spec, &log.times, masks, &log.user_rows(user));
            record(&scan, spec, analysis_end, index, user, part, &mut times);
        }
        return times;
    }
    // Rows no step matches cannot change a level: gather the others first, without a branch per
    // row, then walk them user by user. Users with none keep level 0 at one comparison.
    let first_row = log.user_offsets[users.start] as usize;
    let last_row = log.user_offsets[users.end] as usize;
    MATCHING.with_borrow_mut(|matching| {
        // A buffer kept per thread across runs: a fresh one would be page-faulted in every run.
        matching.clear();
        matching.resize(last_row - first_row, 0);
        let mut count = 0;
        for row in first_row..last_row {
            matching[count] = row as u32;
            count += usize::from(masks.mask(row) != 0);
        }
        let mut next = 0;
        for (index, user) in users.enumerate() {
            let end = log.user_offsets[user + 1];
            let start = next;
            while next < count && matching[next] < end {
                next += 1;
            }
            if next > start {
                scan.run(spec, &log.times, masks, &matching[start..next]);
                record(&scan, spec, analysis_end, index, user, part, &mut times);
            }
        }
    });
    times
}

thread_local! {
    /// Rows of the current user range that some step matches.
    static MATCHING: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keep what one user's scan found (rows as positions in the encoded log).
#[inline]
fn record(
    scan: &Scan,
    spec: &FunnelSpec,
    analysis_end: i64,
    index: usize,
    user: usize,
    part: &mut Part<'_>,
    times: &mut [StepTimes],
) {
    let level = scan.level();
    if level == 0 {
        return;
    }
    part.levels[index] = level;
    let best = &scan.slots[level as usize - 1];
    if window_open(level, spec.steps, best.start, spec.window, analysis_end) {
        part.flags[index] = IN_PROGRESS;
    }
    part.entry_rows[index] = best.start_row;
    part.last_rows[index] = best.last_row;
    for step in 1..level as usize {
        let slot = &scan.slots[step];
        times[step - 1].push(
            user as u32,
            slot.last - slot.start,
            slot.last - slot.prev,
            slot.last_row,
        );
    }
}

/// Split users into about `parts` ranges holding similar numbers of rows.
fn user_ranges(log: &EncodedLog, parts: usize) -> Vec<std::ops::Range<usize>> {
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
