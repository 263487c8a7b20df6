//! Any-order funnels: level k means k distinct steps within one window from the first of them.
//! A window may open at any step event; two pointers keep per-step counts of the events inside.

use super::chain::{Chain, Event, Outcome};
use super::open_window::window_open;
use super::spec::{AnalysisSpec, Counting};

pub(crate) struct AnyOrder<'a> {
    spec: &'a AnalysisSpec,
}

impl<'a> AnyOrder<'a> {
    pub fn new(spec: &'a AnalysisSpec) -> Self {
        Self { spec }
    }

    /// `events` are one user's (or held value's) step events in time order.
    pub fn run<const N: usize>(&self, events: &[Event], out: &mut Vec<Outcome<N>>) {
        match self.spec.counting {
            Counting::Users => {
                if let Some(best) = self.best_window(events) {
                    out.push(best);
                }
            }
            Counting::Conversions => self.attempts(events, out),
        }
    }

    fn window_end(&self, start: i64) -> i64 {
        start.saturating_add(self.spec.window)
    }

    fn open(&self, level: u8, start: i64) -> bool {
        window_open(
            level,
            self.spec.steps,
            start,
            self.spec.window,
            self.spec.analysis_end,
        )
    }

    /// The chain of a window opening at `events[open]`: each distinct step when first seen,
    /// stopping once every step has been seen.
    fn chain_from<const N: usize>(&self, events: &[Event], open: usize) -> Chain<N> {
        let first = &events[open];
        let end = self.window_end(first.time);
        let mut seen = 0u32;
        let mut chain: Option<Chain<N>> = None;
        for event in events[open..].iter().take_while(|e| e.time <= end) {
            let new = event.steps & !seen;
            if new == 0 {
                continue;
            }
            for _ in 0..new.count_ones() {
                chain = Some(match chain {
                    None => Chain::start(event.row, event.time),
                    Some(c) => c.extended(c.len as usize, event.row, event.time),
                });
            }
            seen |= new;
            if seen.count_ones() as usize >= self.spec.steps {
                break;
            }
        }
        chain.unwrap_or_else(|| Chain::start(first.row, first.time))
    }

    fn outcome<const N: usize>(&self, chain: Chain<N>) -> Outcome<N> {
        let in_progress = self.open(chain.level(), chain.first_time());
        Outcome {
            chain,
            excluded: false,
            in_progress,
        }
    }

    /// The first window with the most distinct steps; in progress if any window with that many
    /// (the latest opened) is still open at the analysis end.
    fn best_window<const N: usize>(&self, events: &[Event]) -> Option<Outcome<N>> {
        let mut counts = [0u32; 32];
        let mut distinct = 0usize;
        let mut best: Option<(usize, usize, i64)> = None; // (distinct, opening event, latest open)
        let mut right = 0;
        for left in 0..events.len() {
            let end = self.window_end(events[left].time);
            while right < events.len() && events[right].time <= end {
                let mut bits = events[right].steps;
                while bits != 0 {
                    let step = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if counts[step] == 0 {
                        distinct += 1;
                    }
                    counts[step] += 1;
                }
                right += 1;
            }
            match best {
                Some((d, open, _)) if distinct == d => best = Some((d, open, events[left].time)),
                Some((d, _, _)) if distinct < d => {}
                _ => {
                    best = Some((distinct, left, events[left].time));
                    if distinct >= self.spec.steps {
                        break;
                    }
                }
            }
            let mut bits = events[left].steps;
            while bits != 0 {
                let step = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                counts[step] -= 1;
                if counts[step] == 0 {
                    distinct -= 1;
                }
            }
        }
        best.map(|(_, open, latest)| {
            let chain = self.chain_from(events, open);
            let in_progress = self.open(chain.level(), latest);
            Outcome {
                chain,
                excluded: false,
                in_progress,
            }
        })
    }

    fn attempts<const N: usize>(&self, events: &[Event], out: &mut Vec<Outcome<N>>) {
        let mut open = 0;
        while open < events.len() {
            let chain = self.chain_from(events, open);
            let complete = chain.level() as usize >= self.spec.steps;
            let ended = if complete {
                chain.last_time()
            } else {
                self.window_end(chain.first_time())
            };
            out.push(self.outcome(chain));
            open += events[open..]
                .iter()
                .take_while(|e| e.time <= ended)
                .count();
        }
    }
}
