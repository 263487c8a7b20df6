//! What a funnel run leaves behind: arrays per counted unit and per step, aggregated on demand.
//!
//! A unit is a user when counting users, or one attempt when counting conversions (totals).

use rayon::prelude::*;

use super::matching::Gathered;

/// The units that reached one step k ≥ 2, ascending by unit, with how long it took and on which
/// input row the step happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepTimes {
    pub units: Vec<u32>,
    /// From the chain's step-1 event.
    pub from_start: Vec<i64>,
    /// From the chain's previous reached step.
    pub from_previous: Vec<i64>,
    /// Input row (`EncodedLog::source_rows`) of the event that made the step.
    pub rows: Vec<u32>,
}

impl StepTimes {
    #[inline(always)]
    pub fn push(&mut self, unit: u32, from_start: i64, from_previous: i64, row: u32) {
        self.units.push(unit);
        self.from_start.push(from_start);
        self.from_previous.push(from_previous);
        self.rows.push(row);
    }

    pub fn reserve(&mut self, more: usize) {
        self.units.reserve(more);
        self.from_start.reserve(more);
        self.from_previous.reserve(more);
        self.rows.reserve(more);
    }

    pub fn clear(&mut self) {
        self.units.clear();
        self.from_start.clear();
        self.from_previous.clear();
        self.rows.clear();
    }

    pub fn extend_from(&mut self, other: &StepTimes) {
        self.units.extend_from_slice(&other.units);
        self.from_start.extend_from_slice(&other.from_start);
        self.from_previous.extend_from_slice(&other.from_previous);
        self.rows.extend_from_slice(&other.rows);
    }

    /// Replace the contents with `parts`, one after another; the four columns are copied at
    /// once on the thread pool (the copy is a tenth of a re-run's time on one thread).
    pub fn concat(&mut self, parts: &[&StepTimes]) {
        fn fill<T: Copy + Send + Sync>(all: &mut Vec<T>, parts: &[&[T]]) {
            all.clear();
            all.reserve(parts.iter().map(|p| p.len()).sum());
            for part in parts {
                all.extend_from_slice(part);
            }
        }
        let units: Vec<&[u32]> = parts.iter().map(|p| &p.units[..]).collect();
        let from_start: Vec<&[i64]> = parts.iter().map(|p| &p.from_start[..]).collect();
        let from_previous: Vec<&[i64]> = parts.iter().map(|p| &p.from_previous[..]).collect();
        let rows: Vec<&[u32]> = parts.iter().map(|p| &p.rows[..]).collect();
        rayon::join(
            || {
                rayon::join(
                    || fill(&mut self.units, &units),
                    || fill(&mut self.rows, &rows),
                )
            },
            || {
                rayon::join(
                    || fill(&mut self.from_start, &from_start),
                    || fill(&mut self.from_previous, &from_previous),
                )
            },
        );
    }

    /// Replace the contents with the entries of `parts`, one after another, split into the four
    /// columns. Parts are copied at once on the thread pool, each into its own stretch of every
    /// column.
    pub(crate) fn gather_parts(&mut self, parts: &[&[StepEntry]]) {
        type Stretch<'a> = (
            &'a [StepEntry],
            &'a mut [MaybeUninit<u32>],
            &'a mut [MaybeUninit<i64>],
            &'a mut [MaybeUninit<i64>],
            &'a mut [MaybeUninit<u32>],
        );
        use std::mem::MaybeUninit;
        let total: usize = parts.iter().map(|p| p.len()).sum();
        self.clear();
        self.reserve(total);
        let mut units = &mut self.units.spare_capacity_mut()[..total];
        let mut from_start = &mut self.from_start.spare_capacity_mut()[..total];
        let mut from_previous = &mut self.from_previous.spare_capacity_mut()[..total];
        let mut rows = &mut self.rows.spare_capacity_mut()[..total];
        let mut stretches: Vec<Stretch<'_>> = Vec::with_capacity(parts.len());
        for &part in parts {
            let n = part.len();
            let (u, u_rest) = std::mem::take(&mut units).split_at_mut(n);
            let (s, s_rest) = std::mem::take(&mut from_start).split_at_mut(n);
            let (p, p_rest) = std::mem::take(&mut from_previous).split_at_mut(n);
            let (r, r_rest) = std::mem::take(&mut rows).split_at_mut(n);
            stretches.push((part, u, s, p, r));
            (units, from_start, from_previous, rows) = (u_rest, s_rest, p_rest, r_rest);
        }
        stretches.into_par_iter().for_each(|(part, u, s, p, r)| {
            for (i, entry) in part.iter().enumerate() {
                u[i].write(entry.unit);
                s[i].write(entry.from_start);
                p[i].write(entry.from_previous);
                r[i].write(entry.row);
            }
        });
        // SAFETY: the parts' stretches cover the first `total` slots of every column, and each
        // slot of a stretch was written above.
        unsafe {
            self.units.set_len(total);
            self.from_start.set_len(total);
            self.from_previous.set_len(total);
            self.rows.set_len(total);
        }
    }

    pub fn append(&mut self, mut other: StepTimes) {
        self.units.append(&mut other.units);
        self.from_start.append(&mut other.from_start);
        self.from_previous.append(&mut other.from_previous);
        self.rows.append(&mut other.rows);
    }
}

/// One unit's entry in a step's times while a run is under way: `StepTimes`' four columns side
/// by side, so a scan appends to one stream per step instead of four (sixteen streams at once
/// for a five-step funnel outran the prefetchers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepEntry {
    pub from_start: i64,
    pub from_previous: i64,
    pub unit: u32,
    pub row: u32,
}

/// Per-unit flag: the unit's chain has not completed and its window is still open at the
/// analysis end (see `open_window`).
pub const IN_PROGRESS: u8 = 1;
/// Per-unit flag: the unit's best chain was voided by an exclusion.
pub const EXCLUDED: u8 = 2;
/// The row of a step a unit never made (entry and last rows at level 0).
pub const NO_ROW: u32 = u32::MAX;
/// Marks a row whose held value is missing (it cannot join any chain), and the held code of a
/// unit at level 0.
pub const NO_HOLD: u32 = u32::MAX;

/// The result of one funnel run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelOutput {
    /// Dense user id of each unit; `None` when units are the users themselves, in id order.
    pub unit_users: Option<Vec<u32>>,
    /// Highest step reached by each unit (0: never did step 1).
    pub levels: Vec<u8>,
    /// Steps in each unit's chain (bit k-1 for step k); with optional steps not always a
    /// prefix of the level.
    pub reached: Vec<u32>,
    /// `IN_PROGRESS` / `EXCLUDED` bits per unit.
    pub flags: Vec<u8>,
    /// Time of the step-1 event of each unit's chain (0 at level 0).
    pub entry_times: Vec<i64>,
    /// Input row of the step-1 event of each unit's chain (`NO_ROW` at level 0). Engines write
    /// input rows as they record a chain, while the user's rows are in cache: mapping them
    /// afterwards would be a random read per unit.
    pub entry_rows: Vec<u32>,
    /// Input row of the last step of each unit's chain (`NO_ROW` at level 0).
    pub last_rows: Vec<u32>,
    /// Steps 2..=N (index 0 is step 2).
    pub step_times: Vec<StepTimes>,
    /// With a held property, the held code of each unit's chain (`NO_HOLD` at level 0), read
    /// as the chain is recorded; empty otherwise.
    pub held: Vec<u32>,
}

impl FunnelOutput {
    /// Units at each level 0..=steps, excluded units left out.
    pub fn level_counts(&self, steps: usize) -> Vec<u64> {
        // Blocks on the thread pool, four tallies each: one tally would wait on its own last
        // increment whenever neighbours share a level, as most do.
        const BLOCK: usize = 1 << 16;
        let tally = |(levels, flags): (&[u8], &[u8])| {
            let mut tallies = [[0u32; 256]; 4];
            for (i, (&level, &flag)) in levels.iter().zip(flags).enumerate() {
                tallies[i % 4][usize::from(level)] += u32::from(flag & EXCLUDED == 0);
            }
            let mut counts = [0u64; 256];
            for tally in &tallies {
                for (count, &n) in counts.iter_mut().zip(tally) {
                    *count += u64::from(n);
                }
            }
            counts
        };
        let counts = (self
            .levels
            .par_chunks(BLOCK)
            .zip(self.flags.par_chunks(BLOCK)))
        .map(tally)
        .reduce(
            || [0u64; 256],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
        let mut out = vec![0u64; steps + 1];
        for (level, &count) in counts.iter().enumerate() {
            // Levels are at most `steps`; a larger one would be a kernel bug, counted at the top.
            out[level.min(steps)] += count;
        }
        out
    }

    pub fn is_excluded(&self, unit: usize) -> bool {
        self.flags[unit] & EXCLUDED != 0
    }
}

/// Output arrays of a finished run handed back for the next run on the same log, so a re-run
/// writes into memory that is already mapped (a fresh mapping costs a page fault per page, which
/// on a virtual machine is several times the work of the run itself).
///
/// It also keeps the rows the last funnel run by event gathered (`matching::Gathered`): a run
/// over the same events reads those instead of the log's columns.
#[derive(Default)]
pub struct Recycled {
    output: std::sync::Mutex<Option<FunnelOutput>>,
    parts: std::sync::Mutex<Vec<Vec<Vec<StepEntry>>>>,
    gathered: std::sync::Mutex<Option<std::sync::Arc<Gathered>>>,
}

impl Recycled {
    /// The last output handed back, or an empty one.
    pub fn take_output(&self) -> FunnelOutput {
        self.output
            .lock()
            .ok()
            .and_then(|mut o| o.take())
            .unwrap_or_default()
    }

    /// Keep `output`'s arrays for the next run (the caller is done with them).
    pub fn put_output(&self, output: FunnelOutput) {
        if let Ok(mut slot) = self.output.lock() {
            *slot = Some(output);
        }
    }

    pub(crate) fn take_parts(&self) -> Vec<Vec<Vec<StepEntry>>> {
        self.parts
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// The rows gathered by the last run by event, if they were kept.
    pub(crate) fn gathered(&self) -> Option<std::sync::Arc<Gathered>> {
        self.gathered.lock().ok().and_then(|g| g.clone())
    }

    /// Keep `gathered` for later runs, in place of what was kept before.
    pub(crate) fn keep_gathered(&self, gathered: Option<std::sync::Arc<Gathered>>) {
        if let Ok(mut slot) = self.gathered.lock() {
            *slot = gathered;
        }
    }

    pub(crate) fn put_parts(&self, parts: Vec<Vec<Vec<StepEntry>>>) {
        if let Ok(mut slot) = self.parts.lock() {
            *slot = parts;
        }
    }
}

impl Clone for Recycled {
    /// A copy of a log starts with nothing to reuse.
    fn clone(&self) -> Self {
        Recycled::default()
    }
}

impl std::fmt::Debug for Recycled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recycled")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_gathered_into_columns_keep_their_order_and_values() {
        let entry = |unit: u32| StepEntry {
            from_start: i64::from(unit) * 10,
            from_previous: -i64::from(unit),
            unit,
            row: unit + 1000,
        };
        let parts: Vec<Vec<StepEntry>> = vec![
            (0..3).map(entry).collect(),
            vec![],
            (3..70_000).map(entry).collect(),
            vec![entry(70_000)],
        ];
        let mut times = StepTimes::default();
        times.push(7, 7, 7, 7);
        times.gather_parts(&parts.iter().map(|p| &p[..]).collect::<Vec<_>>());
        let units: Vec<u32> = (0..=70_000).collect();
        assert_eq!(times.units, units);
        assert_eq!(
            times.from_start,
            units.iter().map(|&u| i64::from(u) * 10).collect::<Vec<_>>()
        );
        assert_eq!(
            times.from_previous,
            units.iter().map(|&u| -i64::from(u)).collect::<Vec<_>>()
        );
        assert_eq!(
            times.rows,
            units.iter().map(|&u| u + 1000).collect::<Vec<_>>()
        );
    }
}
