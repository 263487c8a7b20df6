//! Ordered funnels with the product options: sequential or strict order, optional steps,
//! per-step windows, exclusions, and counting users or every attempt.
//!
//! Like `window_funnel`, one slot per step holds the latest chain that reached it: a later
//! chain start never hurts (windows are measured from step 1, and per-step windows from the
//! previous step, both later for a later chain), so keeping the latest is the best choice.
//! Events at one instant are replayed in step order, then exclusions; with strict order, a
//! slot that did not advance at an instant is cleared after it.

use std::cell::Cell;

use super::chain::{Chain, Event, Outcome, Reach};
use super::open_window::window_open;
use super::spec::{AnalysisSpec, Counting, StepOrder};

/// What tells chains apart: where they started, how far they got, and on which row.
fn identity<const N: usize>(chain: &Chain<N>) -> (u32, u8, u32) {
    (chain.entry_row(), chain.level(), chain.last_row())
}

pub(crate) struct Ordered<'a, const N: usize> {
    spec: &'a AnalysisSpec,
    /// Per step, the latest chain that reached it (`Chain::is_empty` when none).
    slots: Vec<Chain<N>>,
}

impl<'a, const N: usize> Ordered<'a, N> {
    pub fn new(spec: &'a AnalysisSpec) -> Self {
        Self {
            spec,
            slots: vec![Chain::EMPTY; spec.steps],
        }
    }

    /// Run one user's (or one held value's) events, in time order, into `out`.
    pub fn run(&mut self, events: &[Event], out: &mut Vec<Outcome<N>>) {
        match self.spec.counting {
            Counting::Users => {
                if let Some(best) = self.best_chain(events) {
                    out.push(best);
                }
            }
            Counting::Conversions => self.attempts(events, out),
        }
    }

    fn clear(&mut self) {
        self.slots.iter_mut().for_each(Chain::vacate);
    }

    /// The slot a step may extend: the previous step's, or further back across optional steps.
    /// Of the usable ones, the chain that started latest (it has the most window left); on a
    /// tie the nearer slot, whose chain includes more steps.
    fn source_slot(&self, step: usize, time: i64) -> Option<usize> {
        let mut best: Option<(usize, i64)> = None;
        let mut previous = step - 1;
        loop {
            let chain = &self.slots[previous];
            if !chain.is_empty() {
                let in_window = time <= chain.first_time().saturating_add(self.spec.window);
                let in_step_window =
                    self.spec.step_windows[step].is_none_or(|w| time - chain.last_time() <= w);
                if in_window && in_step_window && best.is_none_or(|(_, s)| chain.first_time() > s) {
                    best = Some((previous, chain.first_time()));
                }
            }
            if previous == 0 || !self.spec.optional[previous] {
                return best.map(|(slot, _)| slot);
            }
            previous -= 1;
        }
    }

    /// Replay the steps of one instant; `may_start` says whether step 1 may (re)start a chain.
    /// Calls `reached` for every chain that advanced (see `Reach`: a keeper copies it from the
    /// chain it extends); returns the mask of slots that advanced.
    fn steps_at(
        &mut self,
        group: &[Event],
        mut may_start: impl FnMut() -> bool,
        mut reached: impl FnMut(Reach<'_, N>),
    ) -> u32 {
        let union = group.iter().fold(0u32, |m, e| m | e.steps);
        let mut advanced = 0u32;
        let mut remaining = union;
        while remaining != 0 {
            let step = remaining.trailing_zeros() as usize;
            remaining &= remaining - 1;
            for event in group.iter().filter(|e| e.steps & (1 << step) != 0) {
                let (row, time) = (event.row, event.time);
                if step == 0 {
                    if !may_start() {
                        continue;
                    }
                    self.slots[0].restart(row, time);
                    reached(Reach {
                        from: None,
                        step,
                        row,
                        time,
                    });
                } else {
                    // A source slot is always an earlier step's, and never empty.
                    let Some(from) = self.source_slot(step, time) else {
                        continue;
                    };
                    let (earlier, later) = self.slots.split_at_mut(step);
                    later[0] = earlier[from];
                    later[0].push(step, row, time);
                    reached(Reach {
                        from: Some(&earlier[from]),
                        step,
                        row,
                        time,
                    });
                }
                advanced |= 1 << step;
            }
        }
        advanced
    }

    /// Apply the exclusions of one instant: each tracked chain that has reached step `after`
    /// but not `before`, whose latest step is strictly earlier and whose window is still open,
    /// is voided. Returns the voided chains' (entry row, furthest step, last row).
    fn exclusions_at(&mut self, group: &[Event], time: i64, voided: &mut Vec<(u32, u8, u32)>) {
        voided.clear();
        if self.spec.exclusions.is_empty() {
            return;
        }
        let union = group.iter().fold(0u32, |m, e| m | e.exclusions);
        if union == 0 {
            return;
        }
        for slot in 0..self.spec.steps {
            let chain = &self.slots[slot];
            if chain.is_empty() {
                continue;
            }
            let level = slot + 1;
            let inside = time <= chain.first_time().saturating_add(self.spec.window);
            let hit = (0..self.spec.exclusions.len())
                .filter(|x| union & (1 << x) != 0)
                .map(|x| self.spec.exclusions[x])
                .any(|e| level >= e.after && level < e.before);
            if hit && inside && chain.last_time() < time {
                voided.push(identity(chain));
                self.slots[slot].vacate();
            }
        }
    }

    fn strict_clear(&mut self, advanced: u32) {
        if self.spec.order == StepOrder::Strict {
            for (step, slot) in self.slots.iter_mut().enumerate() {
                if advanced & (1 << step) == 0 {
                    slot.vacate();
                }
            }
        }
    }

    fn in_progress(&self, chain: &Chain<N>) -> bool {
        self.open_from(chain.level(), chain.first_time())
    }

    /// Whether a chain at `level` that started at `start` can still move on at the analysis end.
    fn open_from(&self, level: u8, start: i64) -> bool {
        window_open(
            level,
            self.spec.steps,
            start,
            self.spec.window,
            self.spec.analysis_end,
        )
    }

    /// Users mode: the best chain over the whole history, restarts allowed. Its times are those
    /// of the first chain to reach the furthest step; the user is in progress if any chain at
    /// that step (the latest started one) still has its window open.
    fn best_chain(&mut self, events: &[Event]) -> Option<Outcome<N>> {
        self.clear();
        let steps = self.spec.steps as u8;
        // Level 0 (the empty chain) until a chain is reached: most chains reached beat it.
        let mut best = Outcome {
            chain: Chain::EMPTY,
            excluded: false,
            in_progress: false,
        };
        let mut latest_start = i64::MIN;
        let mut voided = Vec::new();
        for group in events.chunk_by(|a, b| a.time == b.time) {
            let time = group[0].time;
            let advanced = self.steps_at(
                group,
                || true,
                |reach| {
                    let level = reach.level();
                    if best.yields_to(level, false) {
                        reach.write(&mut best.chain);
                        best.excluded = false;
                        latest_start = reach.first_time();
                    } else if best.chain.level() == level {
                        latest_start = latest_start.max(reach.first_time());
                    }
                },
            );
            self.exclusions_at(group, time, &mut voided);
            if !best.chain.is_empty() && voided.contains(&identity(&best.chain)) {
                best.excluded = true;
            }
            self.strict_clear(advanced);
            if !best.excluded && best.chain.level() == steps {
                break;
            }
        }
        (!best.chain.is_empty()).then(|| {
            best.in_progress = !best.excluded && self.open_from(best.chain.level(), latest_start);
            best
        })
    }

    /// Conversions mode: every attempt, each starting after the previous one ended.
    fn attempts(&mut self, events: &[Event], out: &mut Vec<Outcome<N>>) {
        self.clear();
        let steps = self.spec.steps as u8;
        // The attempt under way, when `open`; its chain is updated in place as it advances.
        let mut attempt = Outcome {
            chain: Chain::EMPTY,
            excluded: false,
            in_progress: false,
        };
        let mut open = false;
        let mut voided = Vec::new();
        for group in events.chunk_by(|a, b| a.time == b.time) {
            let time = group[0].time;
            if open && time > attempt.chain.first_time().saturating_add(self.spec.window) {
                attempt.in_progress = self.in_progress(&attempt.chain);
                out.push(attempt);
                open = false;
                self.clear();
            }
            let active = open;
            // One attempt starts at a time: step 1 is taken once, and only between attempts.
            let started = Cell::new(false);
            // The attempt keeps the first chain of this instant to go further than it had.
            let mut level = if active { attempt.chain.level() } else { 0 };
            let advanced = self.steps_at(
                group,
                || !active && !started.get(),
                |reach| {
                    if reach.is_start() {
                        started.set(true);
                    }
                    if reach.level() > level {
                        level = reach.level();
                        reach.write(&mut attempt.chain);
                    }
                },
            );
            if started.get() {
                open = true;
                attempt.excluded = false;
                attempt.in_progress = false;
            }
            self.exclusions_at(group, time, &mut voided);
            self.strict_clear(advanced);
            if open {
                let is_voided = voided.contains(&identity(&attempt.chain));
                let done = attempt.chain.level() == steps;
                let broken = self.slots.iter().all(Chain::is_empty);
                if is_voided || done || broken {
                    attempt.excluded = is_voided;
                    // A voided or broken attempt cannot move on, whatever its window says.
                    attempt.in_progress = !is_voided && !broken && self.in_progress(&attempt.chain);
                    out.push(attempt);
                    open = false;
                    self.clear();
                }
            }
        }
        if open {
            attempt.in_progress = self.in_progress(&attempt.chain);
            out.push(attempt);
        }
    }
}
