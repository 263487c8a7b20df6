//! ClickHouse's `windowFunnel` for one user, over that user's rows sorted by time.
//!
//! ClickHouse sorts `(timestamp, step)` pairs, so at one instant lower steps come first and (with
//! `strict_order`) unrelated rows come before any step. Rows here are sorted by time only, so rows
//! sharing an instant are replayed as a group in that pair order; a row on its own (the common
//! case) takes a fast path. The kernel reads only the rows some step matches; where unrelated
//! rows were left out between them is a flag per row (`UserRows::gaps`).

use super::spec::{FunnelSpec, MAX_STEPS};
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

/// Where a row that joins no chain writes its candidate slot, so the distinct-time path stores
/// unconditionally instead of branching on whether the step joined (`Scan::run_distinct`).
const DISCARD: usize = MAX_STEPS + 1;

/// Scratch state for one user, reused across users of a thread.
pub(crate) struct Scan {
    /// `slots[k]` is level k's chain (1-based). `slots[0]` stands for the chain a step-1 row
    /// starts (its own time and row), so step 1 joins like any other step; `slots[DISCARD]`
    /// takes the writes of rows that join nothing.
    slots: [Slot; MAX_STEPS + 2],
    /// Bit k set when level k holds a chain, bit 0 always (the start `slots[0]` stands for);
    /// always a prefix of levels.
    filled: u64,
    /// The rows of one instant in (step, row) order (`run_single`).
    group: Vec<(u8, u32)>,
}

enum Flow {
    Continue,
    Stop,
}

impl Scan {
    pub fn new() -> Self {
        Self {
            slots: [Slot::default(); MAX_STEPS + 2],
            filled: 1,
            group: Vec::new(),
        }
    }

    /// The highest level reached.
    #[inline]
    pub fn level(&self) -> u8 {
        (63 - self.filled.leading_zeros()) as u8
    }

    /// The chain at `level` (1..=`level()`).
    #[inline(always)]
    pub fn slot(&self, level: usize) -> &Slot {
        &self.slots[level]
    }

    /// Scan one user's gathered rows; afterwards `level()` and `slot` describe the result, with
    /// rows as positions in `rows`.
    #[inline]
    pub fn run<M: MaskSource>(&mut self, spec: &FunnelSpec, masks: &M, rows: &UserRows<'_>) {
        self.filled = 1;
        let strict_order = spec.mode.strict_order;
        let (times, keys, gaps) = (rows.times, rows.keys, rows.gaps);
        let end = times.len().min(keys.len()).min(gaps.len());
        let mut k = 0;
        while k < end {
            let ts = times[k];
            let single = k + 1 >= end || times[k + 1] != ts;
            if single {
                // strict_order: an unrelated event ends the scan once step 1 was seen.
                if strict_order && self.seen_first() && gaps[k] != 0 {
                    return;
                }
                let mask = masks.mask_of_key(keys[k]);
                if let Flow::Stop = self.pairs(spec, mask, ts, k as u32) {
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
            if strict_order && self.seen_first() && gaps[k..group_end].iter().any(|&g| g != 0) {
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
                        if let Flow::Stop = self.pair(spec, step as usize + 1, ts, row as u32) {
                            return;
                        }
                    }
                }
            }
            k = group_end;
        }
    }

    /// `run` for rows that each match one step: `step_of[key]` is that step (1-based, 0 for
    /// none). This is the path the time goes to, over users of a row or two each: a row's
    /// chain is written whether it joins or not (to `DISCARD` when not), a select in place of
    /// the branches `run` takes per row, which miss half the time. The scan still ends where
    /// `run`'s does (a completed chain, or a strict mode's stop), once per user at most.
    /// The mode's flags are type parameters, so the default mode pays nothing for the others.
    #[inline(always)]
    pub fn run_single<const ORDER: bool, const INCREASE: bool, const DEDUP: bool>(
        &mut self,
        spec: &FunnelSpec,
        step_of: &[u8],
        rows: &UserRows<'_>,
    ) {
        let reentry = spec.mode.allow_reentry;
        let mut filled = 1u64;
        let (times, keys, gaps) = (rows.times, rows.keys, rows.gaps);
        let end = times.len().min(keys.len()).min(gaps.len());
        let step = |row: usize| step_of.get(keys[row] as usize).map_or(0, |&s| s);
        let mut k = 0;
        while k < end {
            let ts = times[k];
            if k + 1 < end && times[k + 1] == ts {
                // Rows sharing an instant go in ClickHouse's (timestamp, step) order, and
                // unrelated rows at the instant before all of them.
                let mut group_end = k + 2;
                while group_end < end && times[group_end] == ts {
                    group_end += 1;
                }
                if ORDER && filled & 2 != 0 && gaps[k..group_end].iter().any(|&g| g != 0) {
                    break;
                }
                let mut group = std::mem::take(&mut self.group);
                group.clear();
                group.extend((k..group_end).map(|row| (step(row), row as u32)));
                group.sort_unstable();
                let stop = group.iter().any(|&(s, row)| {
                    let flow = self.join::<ORDER, INCREASE, DEDUP>(
                        &mut filled,
                        spec,
                        reentry,
                        usize::from(s),
                        ts,
                        row,
                    );
                    matches!(flow, Flow::Stop)
                });
                self.group = group;
                if stop {
                    break;
                }
                k = group_end;
                continue;
            }
            if ORDER && filled & 2 != 0 && gaps[k] != 0 {
                break;
            }
            let s = usize::from(step(k));
            if let Flow::Stop =
                self.join::<ORDER, INCREASE, DEDUP>(&mut filled, spec, reentry, s, ts, k as u32)
            {
                break;
            }
            k += 1;
        }
        self.filled = filled;
    }

    /// One `(ts, step)` pair of `run_single`; `step` is 1-based. Conditions are combined with
    /// `&`, not `&&`: each is cheap, and short-circuiting would bring the branches back.
    #[inline(always)]
    fn join<const ORDER: bool, const INCREASE: bool, const DEDUP: bool>(
        &mut self,
        filled: &mut u64,
        spec: &FunnelSpec,
        reentry: bool,
        step: usize,
        ts: i64,
        row: u32,
    ) -> Flow {
        if step.wrapping_sub(1) >= MAX_STEPS {
            return Flow::Continue;
        }
        let later = step > 1;
        let below = *filled >> (step - 1) & 1 != 0;
        if DEDUP && later & (*filled >> step & 1 != 0) {
            return Flow::Stop;
        }
        if ORDER && later & (*filled & 2 != 0) & !below {
            return if reentry { Flow::Continue } else { Flow::Stop };
        }
        // A step-1 row starts a chain of its own, at its time and on its row.
        self.slots[0].start = ts;
        self.slots[0].last = ts;
        self.slots[0].start_row = row;
        let prev = self.slots[step - 1];
        // Rows come in time order, so `ts >= prev.start` and the difference fits in a `u64`;
        // the window is never negative.
        let within = (ts as u64).wrapping_sub(prev.start as u64) <= spec.window as u64;
        let mut joins = below & within;
        if INCREASE {
            joins &= !later | (prev.last < ts);
        }
        let keep = 0usize.wrapping_sub(usize::from(joins));
        self.slots[(step & keep) | (DISCARD & !keep)] = Slot {
            start: prev.start,
            prev: prev.last,
            last: ts,
            start_row: prev.start_row,
            last_row: row,
        };
        *filled |= u64::from(joins) << step;
        if *filled >> spec.steps & 1 != 0 {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Whether a step-1 row was seen (level 1 holds a chain).
    #[inline(always)]
    fn seen_first(&self) -> bool {
        self.filled & 2 != 0
    }

    /// All steps one row matches, lowest first.
    #[inline(always)]
    fn pairs(&mut self, spec: &FunnelSpec, mut mask: u32, ts: i64, row: u32) -> Flow {
        while mask != 0 {
            let step = mask.trailing_zeros() as usize + 1;
            mask &= mask - 1;
            if let Flow::Stop = self.pair(spec, step, ts, row) {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// One `(ts, step)` pair; `step` is 1-based.
    #[inline(always)]
    fn pair(&mut self, spec: &FunnelSpec, step: usize, ts: i64, row: u32) -> Flow {
        let mode = spec.mode;
        if step == 1 {
            self.slots[1] = Slot {
                start: ts,
                prev: ts,
                last: ts,
                start_row: row,
                last_row: row,
            };
            self.filled |= 2;
            return if spec.steps == 1 {
                Flow::Stop
            } else {
                Flow::Continue
            };
        }
        let bit = 1u64 << step;
        let prev_bit = bit >> 1;
        if mode.strict_deduplication && self.filled & bit != 0 {
            return Flow::Stop;
        }
        if mode.strict_order && self.seen_first() && self.filled & prev_bit == 0 {
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
                if step == spec.steps {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funnel::spec::Mode;
    use proptest::prelude::*;

    /// Keys are steps: key k matches step k (1-based), key 0 none.
    struct StepKeys;

    impl MaskSource for StepKeys {
        fn mask(&self, _row: usize) -> u32 {
            0
        }
        fn key(&self, _row: usize) -> u32 {
            0
        }
        fn mask_of_key(&self, key: u32) -> u32 {
            if key == 0 {
                0
            } else {
                1 << (key - 1)
            }
        }
    }

    fn mode_strategy() -> impl Strategy<Value = Mode> {
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(dedup, order, increase, reentry)| Mode {
                strict_deduplication: dedup,
                strict_order: order,
                strict_increase: increase,
                allow_reentry: order && reentry,
            },
        )
    }

    /// One user's rows as (time step, key, gap), times made ascending from the steps; and a
    /// funnel of 1..=32 steps.
    fn case_strategy() -> impl Strategy<Value = (Vec<(i64, u32, u8)>, FunnelSpec)> {
        (1usize..=32).prop_flat_map(|steps| {
            let row = (
                prop_oneof![Just(0i64), Just(0), 1i64..4, 0i64..50],
                // Mostly steps in funnel order, so long funnels reach high levels too.
                0u32..=steps as u32,
                prop_oneof![4 => Just(0u8), 1 => Just(1u8)],
            );
            let spec = (0i64..60, mode_strategy())
                .prop_map(move |(window, mode)| FunnelSpec::new(steps, window, mode).unwrap());
            (prop::collection::vec(row, 0..70), spec)
        })
    }

    fn run_both(rows: &[(i64, u32, u8)], spec: &FunnelSpec) -> (Scan, Scan) {
        let mut time = -1_000;
        let times: Vec<i64> = (rows.iter())
            .map(|&(dt, _, _)| {
                time += dt;
                time
            })
            .collect();
        let keys: Vec<u32> = rows.iter().map(|r| r.1).collect();
        let gaps: Vec<u8> = rows.iter().map(|r| r.2).collect();
        let rows = UserRows {
            times: &times,
            keys: &keys,
            gaps: &gaps,
        };
        let step_of: Vec<u8> = (0..=MAX_STEPS as u8).collect();
        let mut general = Scan::new();
        general.run(spec, &StepKeys, &rows);
        let mut single = Scan::new();
        let m = spec.mode;
        match (m.strict_order, m.strict_increase, m.strict_deduplication) {
            (false, false, false) => {
                single.run_single::<false, false, false>(spec, &step_of, &rows)
            }
            (false, false, true) => single.run_single::<false, false, true>(spec, &step_of, &rows),
            (false, true, false) => single.run_single::<false, true, false>(spec, &step_of, &rows),
            (false, true, true) => single.run_single::<false, true, true>(spec, &step_of, &rows),
            (true, false, false) => single.run_single::<true, false, false>(spec, &step_of, &rows),
            (true, false, true) => single.run_single::<true, false, true>(spec, &step_of, &rows),
            (true, true, false) => single.run_single::<true, true, false>(spec, &step_of, &rows),
            (true, true, true) => single.run_single::<true, true, true>(spec, &step_of, &rows),
        }
        (general, single)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The one-step-per-row path leaves exactly the chains the general kernel leaves: same
        /// level, and at every level the same start, times and rows (what `record` writes), on
        /// users full of ties, rows of no step, unrelated rows and every mode.
        #[test]
        fn single_step_rows_leave_the_general_kernels_chains((rows, spec) in case_strategy()) {
            let (general, single) = run_both(&rows, &spec);
            prop_assert_eq!(general.level(), single.level(), "{:?} {:?}", rows, spec);
            for level in 1..=general.level() as usize {
                let (g, s) = (general.slot(level), single.slot(level));
                prop_assert_eq!(
                    (g.start, g.last, g.start_row, g.last_row),
                    (s.start, s.last, s.start_row, s.last_row),
                    "level {} of {:?} {:?}", level, rows, spec
                );
                if level >= 2 {
                    prop_assert_eq!(g.prev, s.prev, "level {} of {:?} {:?}", level, rows, spec);
                }
            }
        }
    }

    #[test]
    fn a_step_one_row_at_the_earliest_time_starts_a_chain_under_strict_increase() {
        let mode = Mode {
            strict_increase: true,
            ..Mode::default()
        };
        let spec = FunnelSpec::new(2, 10, mode).unwrap();
        let rows = UserRows {
            times: &[i64::MIN, i64::MIN + 1],
            keys: &[1, 2],
            gaps: &[0, 0],
        };
        let mut scan = Scan::new();
        scan.run_single::<false, true, false>(&spec, &[0, 1, 2], &rows);
        assert_eq!(scan.level(), 2);
        assert_eq!(scan.slot(2).start, i64::MIN);
    }
}
