//! ClickHouse's `windowFunnel` for one user, over that user's rows sorted by time.
//!
//! ClickHouse sorts `(timestamp, step)` pairs, so at one instant lower steps come first and (with
//! `strict_order`) unrelated rows come before any step. Rows here are sorted by time only, so rows
//! sharing an instant are replayed as a group in that pair order; a row on its own (the common
//! case) takes a fast path. The kernel reads only the rows some step matches; where unrelated
//! rows were left out between them is a flag per row (`UserRows::gaps`).

use super::spec::FunnelSpec;
use super::steps::MaskSource;

/// One user's gathered rows (those some step matches), in time order: when each happened, its
/// key for `MaskSource::mask_of_key`, and whether unrelated rows come just before it (see
/// `matching::Chunk::gaps`).
pub(crate) struct UserRows<'a> {
    pub times: &'a [i64],
    pub keys: &'a [u32],
    pub gaps: &'a [u8],
}

/// One level's chain: when its step 1 happened (and on which row), when the previous step and
/// this step happened.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slot {
    pub start: i64,
    pub prev: i64,
    pub last: i64,
    pub start_row: u32,
    pub last_row: u32,
}

/// Scratch state for one user, reused across users of a thread.
pub(crate) struct Scan {
    pub slots: [Slot; 32],
    /// Bit k-1 set when level k holds a chain; always a prefix of levels.
    pub filled: u32,
}

enum Flow {
    Continue,
    Stop,
}

impl Scan {
    pub fn new() -> Self {
        Self {
            slots: [Slot::default(); 32],
            filled: 0,
        }
    }

    /// The highest level reached.
    #[inline]
    pub fn level(&self) -> u8 {
        (32 - self.filled.leading_zeros()) as u8
    }

    /// Scan one user's gathered rows; afterwards `level()` and `slots` describe the result, with
    /// rows as positions in `rows`.
    #[inline]
    pub fn run<M: MaskSource>(&mut self, spec: &FunnelSpec, masks: &M, rows: &UserRows<'_>) {
        self.filled = 0;
        let strict_order = spec.mode.strict_order;
        let mut seen_first = false;
        let (times, keys, gaps) = (rows.times, rows.keys, rows.gaps);
        let end = times.len().min(keys.len()).min(gaps.len());
        let mut k = 0;
        while k < end {
            let ts = times[k];
            let single = k + 1 >= end || times[k + 1] != ts;
            if single {
                // strict_order: an unrelated event ends the scan once step 1 was seen.
                if strict_order && seen_first && gaps[k] != 0 {
                    return;
                }
                let mask = masks.mask_of_key(keys[k]);
                if let Flow::Stop = self.pairs(spec, mask, ts, k as u32, &mut seen_first) {
                    return;
                }
                k += 1;
                continue;
            }
            let mut group_end = k + 1;
            while group_end < end && times[group_end] == ts {
                group_end += 1;
            }
            // Unrelated rows at this instant sort before its steps, as in ClickHouse.
            if strict_order && seen_first && gaps[k..group_end].iter().any(|&g| g != 0) {
                return;
            }
            let group = k..group_end;
            let union = group
                .clone()
                .fold(0u32, |acc, r| acc | masks.mask_of_key(keys[r]));
            let mut remaining = union;
            while remaining != 0 {
                let step = remaining.trailing_zeros();
                remaining &= remaining - 1;
                for row in group.clone() {
                    if masks.mask_of_key(keys[row]) & (1 << step) != 0 {
                        if let Flow::Stop =
                            self.pair(spec, step as usize, ts, row as u32, &mut seen_first)
                        {
                            return;
                        }
                    }
                }
            }
            k = group_end;
        }
    }

    /// All steps one row matches, lowest first.
    #[inline(always)]
    fn pairs(
        &mut self,
        spec: &FunnelSpec,
        mut mask: u32,
        ts: i64,
        row: u32,
        seen_first: &mut bool,
    ) -> Flow {
        while mask != 0 {
            let step = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Flow::Stop = self.pair(spec, step, ts, row, seen_first) {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// One `(ts, step)` pair; `step` is zero-based.
    #[inline(always)]
    fn pair(
        &mut self,
        spec: &FunnelSpec,
        step: usize,
        ts: i64,
        row: u32,
        seen_first: &mut bool,
    ) -> Flow {
        let mode = spec.mode;
        if step == 0 {
            self.slots[0] = Slot {
                start: ts,
                prev: ts,
                last: ts,
                start_row: row,
                last_row: row,
            };
            self.filled |= 1;
            *seen_first = true;
            return if spec.steps == 1 {
                Flow::Stop
            } else {
                Flow::Continue
            };
        }
        let bit = 1u32 << step;
        let prev_bit = bit >> 1;
        if mode.strict_deduplication && self.filled & bit != 0 {
            return Flow::Stop;
        }
        if mode.strict_order && *seen_first && self.filled & prev_bit == 0 {
            return if mode.allow_reentry {
                Flow::Continue
            } else {
                Flow::Stop
            };
        }
        if self.filled & prev_bit != 0 {
            let prev = self.slots[step - 1];
            let in_window = ts <= prev.start.saturating_add(spec.window);
            if in_window && (!mode.strict_increase || prev.last < ts) {
                self.slots[step] = Slot {
                    start: prev.start,
                    prev: prev.last,
                    last: ts,
                    start_row: prev.start_row,
                    last_row: row,
                };
                self.filled |= bit;
                if step + 1 == spec.steps {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }
}
