//! Run a funnel over every user: users split into row-balanced ranges, one scan per range on the
//! thread pool, no shared state in the hot loop, results concatenated in user order.

use rayon::prelude::*;

use super::output::{FunnelOutput, StepTimes};
use super::spec::FunnelSpec;
use super::steps::{EventMasks, MaskSource, RowMasks, RowSteps, StepConditions};
use super::window_funnel::Scan;
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;

/// Run `spec` with `conditions` over `log`.
pub fn run_funnel(
    log: &EncodedLog,
    spec: &FunnelSpec,
    conditions: &StepConditions,
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
            control,
        ),
        RowSteps::ByRow(masks) => scan_all(log, spec, &RowMasks(masks), control),
    }
}

struct Part {
    levels: Vec<u8>,
    entry_rows: Vec<u32>,
    last_rows: Vec<u32>,
    step_times: Vec<StepTimes>,
}

fn scan_all<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    control: &Control,
) -> Result<FunnelOutput> {
    let ranges = user_ranges(log, rayon::current_num_threads() * 16);
    control.set_total(log.n_users() as u64);
    let parts: Vec<Part> = ranges
        .into_par_iter()
        .map(|users| {
            control.check()?;
            let part = scan_range(log, spec, masks, users.clone());
            control.advance(users.len() as u64);
            Ok(part)
        })
        .collect::<Result<_>>()?;

    let mut out = FunnelOutput {
        levels: Vec::with_capacity(log.n_users()),
        entry_rows: Vec::with_capacity(log.n_users()),
        last_rows: Vec::with_capacity(log.n_users()),
        step_times: vec![StepTimes::default(); spec.steps.saturating_sub(1)],
        ..FunnelOutput::default()
    };
    for part in parts {
        out.levels.extend_from_slice(&part.levels);
        out.entry_rows.extend_from_slice(&part.entry_rows);
        out.last_rows.extend_from_slice(&part.last_rows);
        for (all, mine) in out.step_times.iter_mut().zip(part.step_times) {
            all.append(mine);
        }
    }
    Ok(out)
}

fn scan_range<M: MaskSource>(
    log: &EncodedLog,
    spec: &FunnelSpec,
    masks: &M,
    users: std::ops::Range<usize>,
) -> Part {
    let n = users.len();
    let mut part = Part {
        levels: vec![0; n],
        entry_rows: vec![u32::MAX; n],
        last_rows: vec![u32::MAX; n],
        step_times: vec![StepTimes::default(); spec.steps.saturating_sub(1)],
    };
    let mut scan = Scan::new();
    if spec.mode.strict_order {
        // Unrelated rows end a strict_order scan, so every row is read.
        for (index, user) in users.enumerate() {
            scan.run(spec, &log.times, masks, &log.user_rows(user));
            record(log, &scan, index, user, &mut part);
        }
        return part;
    }
    // Rows no step matches cannot change a level: gather the others first, without a branch per
    // row, then walk them user by user. Users with none keep level 0 and cost one comparison.
    let first_row = log.user_offsets[users.start] as usize;
    let last_row = log.user_offsets[users.end] as usize;
    let mut matching = vec![0u32; last_row - first_row];
    let mut count = 0;
    for row in first_row..last_row {
        matching[count] = row as u32;
        count += usize::from(masks.mask(row) != 0);
    }
    matching.truncate(count);
    let mut next = 0;
    for (index, user) in users.enumerate() {
        let end = log.user_offsets[user + 1];
        let start = next;
        while next < count && matching[next] < end {
            next += 1;
        }
        if next > start {
            scan.run(spec, &log.times, masks, &matching[start..next]);
            record(log, &scan, index, user, &mut part);
        }
    }
    part
}

/// Keep what one user's scan found.
#[inline]
fn record(log: &EncodedLog, scan: &Scan, index: usize, user: usize, part: &mut Part) {
    let level = scan.level();
    if level == 0 {
        return;
    }
    part.levels[index] = level;
    let best = &scan.slots[level as usize - 1];
    part.entry_rows[index] = log.source_rows[best.start_row as usize];
    part.last_rows[index] = log.source_rows[best.last_row as usize];
    for step in 1..level as usize {
        let slot = &scan.slots[step];
        part.step_times[step - 1].push(
            user as u32,
            slot.last - slot.start,
            slot.last - slot.prev,
            log.source_rows[slot.last_row as usize],
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
