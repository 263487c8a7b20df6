//! A users-mode run's output in the making, split by user range: each range's task writes its
//! own slices of the per-user arrays and its own step-time streams, so the thread pool shares
//! nothing while it runs, and nothing is copied afterwards but the step times.
//!
//! The arrays and streams are the previous run's, handed back through `Recycled`: their pages
//! are already mapped, where fresh ones would cost a page fault per page every run.

use super::output::{FunnelOutput, StepEntry, StepTimes, NO_HOLD, NO_ROW};
use crate::log::EncodedLog;

/// One user range's share of the output. Slot `i` belongs to user `users.start + i`.
pub(crate) struct Part<'a> {
    pub users: std::ops::Range<usize>,
    pub levels: &'a mut [u8],
    pub reached: &'a mut [u32],
    pub flags: &'a mut [u8],
    pub entry_times: &'a mut [i64],
    pub entry_rows: &'a mut [u32],
    pub last_rows: &'a mut [u32],
    /// The held code of each user's chain; empty without a held property.
    pub held: &'a mut [u32],
    /// Per step 2..=N: the entries of the range's users who made it, users ascending.
    pub times: &'a mut Vec<Vec<StepEntry>>,
}

impl Part<'_> {
    /// Level 0 for every user of the part: six fills over cached slices, after which only the
    /// users who made step 1 need a write.
    pub fn clear(&mut self) {
        self.levels.fill(0);
        self.reached.fill(0);
        self.flags.fill(0);
        self.entry_times.fill(0);
        self.entry_rows.fill(NO_ROW);
        self.last_rows.fill(NO_ROW);
        self.held.fill(NO_HOLD);
    }
}

/// The recycled arrays of a users-mode run over `log`, and one set of step-time streams per
/// user range.
pub(crate) struct UserOutput {
    out: FunnelOutput,
    part_times: Vec<Vec<Vec<StepEntry>>>,
    n_times: usize,
}

impl UserOutput {
    /// Room for every user of `log` and `steps - 1` step-time streams per range of `ranges`,
    /// and a held code per user when the funnel `holds` a property.
    pub fn new(log: &EncodedLog, steps: usize, ranges: usize, holds: bool) -> Self {
        let n_users = log.n_users();
        let n_times = steps.saturating_sub(1);
        let mut out = log.recycled.take_output();
        out.unit_users = None;
        // Every user's slot is written by its range's task, so the values resized in do not
        // matter.
        out.levels.resize(n_users, 0);
        out.reached.resize(n_users, 0);
        out.flags.resize(n_users, 0);
        out.entry_times.resize(n_users, 0);
        out.entry_rows.resize(n_users, NO_ROW);
        out.last_rows.resize(n_users, NO_ROW);
        out.held.resize(if holds { n_users } else { 0 }, NO_HOLD);
        let mut part_times = log.recycled.take_parts();
        part_times.resize_with(ranges, Vec::new);
        part_times.truncate(ranges);
        for times in &mut part_times {
            times.resize_with(n_times, Vec::new);
            times.truncate(n_times);
            times.iter_mut().for_each(Vec::clear);
        }
        UserOutput {
            out,
            part_times,
            n_times,
        }
    }

    /// One part per range of `ranges` (consecutive, from user 0, as `new` was told how many).
    pub fn parts(&mut self, ranges: &[std::ops::Range<usize>]) -> Vec<Part<'_>> {
        let out = &mut self.out;
        let (mut l, mut m, mut f) = (
            &mut out.levels[..],
            &mut out.reached[..],
            &mut out.flags[..],
        );
        let (mut t, mut e, mut r) = (
            &mut out.entry_times[..],
            &mut out.entry_rows[..],
            &mut out.last_rows[..],
        );
        let mut h = &mut out.held[..];
        let mut parts = Vec::with_capacity(ranges.len());
        for (users, times) in ranges.iter().cloned().zip(self.part_times.iter_mut()) {
            let n = users.len();
            let (lh, lt) = l.split_at_mut(n);
            let (mh, mt) = m.split_at_mut(n);
            let (fh, ft) = f.split_at_mut(n);
            let (th, tt) = t.split_at_mut(n);
            let (eh, et) = e.split_at_mut(n);
            let (rh, rt) = r.split_at_mut(n);
            // Without a held property every part's slice is empty.
            let held_n = if h.is_empty() { 0 } else { n };
            let (hh, ht) = h.split_at_mut(held_n);
            parts.push(Part {
                users,
                levels: lh,
                reached: mh,
                flags: fh,
                entry_times: th,
                entry_rows: eh,
                last_rows: rh,
                held: hh,
                times,
            });
            (l, m, f, t, e, r, h) = (lt, mt, ft, tt, et, rt, ht);
        }
        parts
    }

    /// The output, its step times joined from the parts' streams (in parallel); the streams go
    /// back to `log` for the next run.
    pub fn finish(self, log: &EncodedLog) -> FunnelOutput {
        use rayon::prelude::*;
        let UserOutput {
            mut out,
            part_times,
            n_times,
        } = self;
        out.step_times.resize_with(n_times, StepTimes::default);
        out.step_times.truncate(n_times);
        (out.step_times.par_iter_mut().enumerate()).for_each(|(step, all)| {
            all.gather_parts(&part_times.iter().map(|p| &p[step][..]).collect::<Vec<_>>());
        });
        log.recycled.put_parts(part_times);
        out
    }
}
