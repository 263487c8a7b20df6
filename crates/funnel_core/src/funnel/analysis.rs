//! Run a funnel with the product options over every user: gather each user's relevant events,
//! split them by the held property value when asked, run the ordered or any-order machine, and
//! lay the outcomes out as a [`FunnelOutput`].

use std::borrow::Cow;

use rayon::prelude::*;

use super::any_order::AnyOrder;
use super::chain::{Event, Outcome};
use super::matching::Relevant;
use super::ordered::Ordered;
use super::output::{FunnelOutput, StepTimes, EXCLUDED, IN_PROGRESS, NO_ROW};
use super::run::user_ranges;
use super::spec::{AnalysisSpec, Counting, StepOrder, MAX_STEPS};
use super::steps::{RowSteps, StepConditions};
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::log::{Code, EncodedLog, EventCodes};
use crate::with_codes;

/// Conditions for an analysis: the steps, the exclusions (one "step" each), and the held value.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConditions<'a> {
    pub steps: StepConditions,
    pub exclusions: StepConditions,
    /// A code per *encoded* row (the log's sorted order) for the property values held constant
    /// (`NO_HOLD`: missing). Log order lets a caller code once and reuse the codes every run;
    /// borrowed, a run reads them where they are instead of copying one per row.
    pub hold_codes: Option<Cow<'a, [u32]>>,
}

/// Marks a row whose held value is missing: it cannot join any chain.
pub const NO_HOLD: u32 = u32::MAX;

/// Run `spec` over `log`.
pub fn run_analysis(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    conditions: &AnalysisConditions<'_>,
    control: &Control,
) -> Result<FunnelOutput> {
    spec.validate()?;
    if conditions.steps.event_codes.len() != spec.steps {
        return Err(CoreError::InvalidFunnel(format!(
            "{} step conditions given for a {}-step funnel",
            conditions.steps.event_codes.len(),
            spec.steps
        )));
    }
    if conditions.exclusions.event_codes.len() != spec.exclusions.len() {
        return Err(CoreError::InvalidFunnel(format!(
            "{} exclusion conditions given for {} exclusions",
            conditions.exclusions.event_codes.len(),
            spec.exclusions.len()
        )));
    }
    let step_masks = RowSteps::resolve(log, &conditions.steps)?;
    let exclusion_masks = if spec.exclusions.is_empty() {
        None
    } else {
        Some(RowSteps::resolve(log, &conditions.exclusions)?)
    };
    if let Some(codes) = &conditions.hold_codes {
        if codes.len() != log.n_rows() {
            return Err(CoreError::InvalidFunnel(format!(
                "the held property has {} codes; the log has {} rows",
                codes.len(),
                log.n_rows()
            )));
        }
    }
    let hold = conditions.hold_codes.as_deref();
    // Strict order is broken by events of no step; with a held value only by those of the same
    // value, so every row is read then. Otherwise only rows a step or exclusion names.
    let rows = if spec.order == StepOrder::Strict {
        if hold.is_some() {
            RowsUsed::Every
        } else {
            RowsUsed::RelevantAndBreaks
        }
    } else {
        RowsUsed::Relevant
    };
    let no_exclusions = vec![0u32; log.event_names.len()];
    match (&step_masks, &exclusion_masks) {
        (RowSteps::ByEvent(steps), None | Some(RowSteps::ByEvent(_))) => {
            let exclusions = match &exclusion_masks {
                Some(RowSteps::ByEvent(x)) => x.as_slice(),
                _ => no_exclusions.as_slice(),
            };
            let either: Vec<u32> = steps.iter().zip(exclusions).map(|(s, x)| s | x).collect();
            let relevant = Relevant::new(&either);
            with_codes!(&log.events, events => run_with(
                log,
                spec,
                &EventTables { steps, exclusions, events, relevant: &relevant },
                hold,
                rows,
                control,
            ))
        }
        _ => run_with(
            log,
            spec,
            &RowTables {
                steps: &step_masks,
                exclusions: exclusion_masks.as_ref(),
                events: &log.events,
            },
            hold,
            rows,
            control,
        ),
    }
}

/// Which rows of a user the chain machines are given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowsUsed {
    /// Rows some step or exclusion names.
    Relevant,
    /// Those, and for each stretch of other rows between them, the first row at a new instant:
    /// all strict order needs to know about the rows it skips.
    RelevantAndBreaks,
    Every,
}

fn run_with<M: RowMasker>(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    masks: &M,
    hold: Option<&[u32]>,
    rows: RowsUsed,
    control: &Control,
) -> Result<FunnelOutput> {
    let inputs = Inputs {
        log,
        spec,
        masks,
        hold,
        rows,
    };
    let ranges = user_ranges(log, rayon::current_num_threads() * 16);
    control.set_total(log.n_users() as u64);
    let parts: Vec<PartUnits> = ranges
        .into_par_iter()
        .map(|users| {
            control.check()?;
            let count = users.len() as u64;
            let part = inputs.run_users(users);
            control.advance(count);
            Ok(part)
        })
        .collect::<Result<_>>()?;
    Ok(assemble(log, spec, parts))
}

/// Step and exclusion masks of a row, and the rows worth reading.
trait RowMasker: Sync {
    fn steps(&self, row: usize) -> u32;
    fn exclusions(&self, row: usize) -> u32;
    /// Append the rows of `rows` some step or exclusion names, in order.
    fn extract(&self, rows: std::ops::Range<usize>, out: &mut Vec<u32>);
}

/// Event-only conditions: two lookup tables by event code.
struct EventTables<'a, C> {
    steps: &'a [u32],
    exclusions: &'a [u32],
    events: &'a [C],
    relevant: &'a Relevant,
}

impl<C: Code> RowMasker for EventTables<'_, C> {
    #[inline(always)]
    fn steps(&self, row: usize) -> u32 {
        self.steps[self.events[row].index()]
    }

    #[inline(always)]
    fn exclusions(&self, row: usize) -> u32 {
        self.exclusions[self.events[row].index()]
    }

    fn extract(&self, rows: std::ops::Range<usize>, out: &mut Vec<u32>) {
        let first = rows.start;
        self.relevant.extract(&self.events[rows], first, out);
    }
}

/// Conditions with property filters: masks per row for steps or exclusions.
struct RowTables<'a> {
    steps: &'a RowSteps,
    exclusions: Option<&'a RowSteps>,
    events: &'a EventCodes,
}

impl RowMasker for RowTables<'_> {
    fn steps(&self, row: usize) -> u32 {
        self.steps.mask(self.events, row)
    }

    fn exclusions(&self, row: usize) -> u32 {
        self.exclusions.map_or(0, |m| m.mask(self.events, row))
    }

    fn extract(&self, rows: std::ops::Range<usize>, out: &mut Vec<u32>) {
        out.extend(
            rows.filter(|&r| self.steps(r) | self.exclusions(r) != 0)
                .map(|r| r as u32),
        );
    }
}

struct Inputs<'a, M> {
    log: &'a EncodedLog,
    spec: &'a AnalysisSpec,
    masks: &'a M,
    hold: Option<&'a [u32]>,
    rows: RowsUsed,
}

impl<M: RowMasker> Inputs<'_, M> {
    /// The events of one user the machines read, in time order, each given to `push` with its
    /// held value (0 without `hold`).
    fn user_events(&self, user_end: usize, rows: &[u32], mut push: impl FnMut(u32, Event)) {
        let times = &self.log.times;
        let event = |row: usize, steps: u32, exclusions: u32| Event {
            time: times[row],
            row: row as u32,
            steps,
            exclusions,
        };
        let hold = |row: usize| self.hold.map_or(0, |codes| codes[row]);
        for (k, &row) in rows.iter().enumerate() {
            let row = row as usize;
            push(
                hold(row),
                event(row, self.masks.steps(row), self.masks.exclusions(row)),
            );
            if self.rows != RowsUsed::RelevantAndBreaks {
                continue;
            }
            // The rows up to the next relevant one name no step: they matter to strict order
            // only where one of them sits at an instant of its own, and then only the first.
            let next = rows.get(k + 1).map_or(user_end, |&r| r as usize);
            let mut gap = row + 1;
            while gap < next && times[gap] == times[row] {
                gap += 1;
            }
            if gap < next
                && rows
                    .get(k + 1)
                    .is_none_or(|&r| times[gap] < times[r as usize])
            {
                push(hold(gap), event(gap, 0, 0));
            }
        }
    }

    fn run_users(&self, users: std::ops::Range<usize>) -> PartUnits {
        // Chains are copied at every step they make: size them to the funnel.
        if self.spec.steps <= SMALL {
            self.run_users_with::<SMALL>(users)
        } else {
            self.run_users_with::<MAX_STEPS>(users)
        }
    }

    fn run_users_with<const N: usize>(&self, users: std::ops::Range<usize>) -> PartUnits {
        let mut ordered = Ordered::<N>::new(self.spec);
        let any = AnyOrder::new(self.spec);
        let mut held: Vec<(u32, Event)> = Vec::new();
        let mut group: Vec<Event> = Vec::new();
        let mut outcomes: Vec<Outcome<N>> = Vec::new();
        let mut part = PartUnits {
            units: Vec::new(),
            step_times: vec![StepTimes::default(); self.spec.steps.saturating_sub(1)],
        };
        let mut run = |events: &[Event], outcomes: &mut Vec<Outcome<N>>| match self.spec.order {
            StepOrder::Any => any.run(events, outcomes),
            _ => ordered.run(events, outcomes),
        };
        let offsets = &self.log.user_offsets;
        let (first_row, last_row) = (offsets[users.start] as usize, offsets[users.end] as usize);
        ROWS.with_borrow_mut(|rows| {
            rows.clear();
            if self.rows == RowsUsed::Every {
                rows.extend(first_row as u32..last_row as u32);
            } else {
                self.masks.extract(first_row..last_row, rows);
            }
            let mut next = 0;
            for user in users {
                let end = offsets[user + 1];
                let start = next;
                while next < rows.len() && rows[next] < end {
                    next += 1;
                }
                if next == start {
                    continue;
                }
                let user_rows = &rows[start..next];
                outcomes.clear();
                match self.hold {
                    None => {
                        group.clear();
                        self.user_events(end as usize, user_rows, |_, e| group.push(e));
                        run(&group, &mut outcomes);
                    }
                    Some(_) => {
                        held.clear();
                        self.user_events(end as usize, user_rows, |hold, e| {
                            if hold != NO_HOLD {
                                held.push((hold, e));
                            }
                        });
                        // Rows ascend in time order, so each held value keeps its events in
                        // time order; unstable sorts need no buffer.
                        held.sort_unstable_by_key(|(hold, e)| (*hold, e.row));
                        for same in held.chunk_by(|a, b| a.0 == b.0) {
                            group.clear();
                            group.extend(same.iter().map(|(_, e)| *e));
                            run(&group, &mut outcomes);
                        }
                    }
                }
                part.record(self.log, self.spec.counting, user, &mut outcomes);
            }
        });
        part
    }
}

/// Funnels of up to this many steps run with chains of this size.
const SMALL: usize = 8;

thread_local! {
    /// Rows of the current user range the machines read.
    static ROWS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A user's outcome from the best chain of each held value (one outcome without `hold`), by the
/// rule one machine applies to its own chains: the furthest wins, a clean chain before an
/// excluded one at the same step; its times are those of the chain that got there first; the
/// user is in progress while any clean chain at that step can still move on. The held values'
/// numbering (first seen in the input) therefore never decides the answer.
fn best_of<const N: usize>(outcomes: &[Outcome<N>]) -> Option<Outcome<N>> {
    let reach = |o: &Outcome<N>| {
        (
            o.chain.last_time(),
            o.chain.first_time(),
            o.chain.last_row(),
        )
    };
    let mut best = *outcomes.iter().reduce(|best, o| {
        if o.beats(best) || (!best.beats(o) && reach(o) < reach(best)) {
            o
        } else {
            best
        }
    })?;
    best.in_progress = !best.excluded
        && outcomes
            .iter()
            .any(|o| o.in_progress && !o.excluded && o.chain.level() == best.chain.level());
    Some(best)
}

/// One counted unit, reduced to what the output keeps.
struct Unit {
    user: u32,
    level: u8,
    reached: u32,
    flags: u8,
    entry_time: i64,
    /// Input rows (`EncodedLog::source_rows`), as the output keeps them.
    entry_row: u32,
    last_row: u32,
}

/// The units of one user range and their step times. In conversions mode the step times name
/// units by their index within the part; `assemble` shifts them.
struct PartUnits {
    units: Vec<Unit>,
    step_times: Vec<StepTimes>,
}

impl PartUnits {
    /// Keep the units one user's outcomes count as.
    fn record<const N: usize>(
        &mut self,
        log: &EncodedLog,
        counting: Counting,
        user: usize,
        outcomes: &mut [Outcome<N>],
    ) {
        match counting {
            Counting::Users => {
                if let Some(best) = best_of(outcomes) {
                    self.add(log, user as u32, user as u32, &best);
                }
            }
            Counting::Conversions => {
                outcomes.sort_by_key(|o| (o.chain.first_time(), o.chain.entry_row()));
                for outcome in outcomes.iter() {
                    let local = self.units.len() as u32;
                    self.add(log, user as u32, local, outcome);
                }
            }
        }
    }

    fn add<const N: usize>(
        &mut self,
        log: &EncodedLog,
        user: u32,
        unit: u32,
        outcome: &Outcome<N>,
    ) {
        let chain = &outcome.chain;
        self.units.push(Unit {
            user,
            level: chain.level(),
            // Any order chains number their elements, so level k reads "k steps done".
            reached: chain.mask,
            flags: (if outcome.in_progress { IN_PROGRESS } else { 0 })
                | (if outcome.excluded { EXCLUDED } else { 0 }),
            entry_time: log.times[chain.entry_row() as usize],
            entry_row: log.source_rows[chain.entry_row() as usize],
            last_row: log.source_rows[chain.last_row() as usize],
        });
        let mut previous = log.times[chain.entry_row() as usize];
        let first = previous;
        for (step, row) in chain.elements().skip(1) {
            let time = log.times[row as usize];
            let input_row = log.source_rows[row as usize];
            self.step_times[step - 1].push(unit, time - first, time - previous, input_row);
            previous = time;
        }
    }
}

/// Lay units out: users in id order (users mode) or attempts in user, time order. Parts come in
/// chunk order and users ascend within a part, so units ascend too.
fn assemble(log: &EncodedLog, spec: &AnalysisSpec, parts: Vec<PartUnits>) -> FunnelOutput {
    let users_mode = spec.counting == Counting::Users;
    let n_units = if users_mode {
        log.n_users()
    } else {
        parts.iter().map(|p| p.units.len()).sum()
    };
    // The previous run's arrays, already mapped: a fresh mapping costs a page fault per page.
    let mut out = log.recycled.take_output();
    let mut unit_users = out.unit_users.take().unwrap_or_default();
    unit_users.clear();
    unit_users.reserve(if users_mode { 0 } else { n_units });
    let mut levels = refill(std::mem::take(&mut out.levels), n_units, 0);
    let mut reached = refill(std::mem::take(&mut out.reached), n_units, 0);
    let mut flags = refill(std::mem::take(&mut out.flags), n_units, 0);
    let mut entry_times = refill(std::mem::take(&mut out.entry_times), n_units, 0);
    let mut entry_rows = refill(std::mem::take(&mut out.entry_rows), n_units, NO_ROW);
    let mut last_rows = refill(std::mem::take(&mut out.last_rows), n_units, NO_ROW);
    let mut step_times = std::mem::take(&mut out.step_times);
    step_times.resize_with(spec.steps.saturating_sub(1), StepTimes::default);
    step_times.truncate(spec.steps.saturating_sub(1));
    step_times.iter_mut().for_each(StepTimes::clear);
    let mut base = 0u32;
    for part in parts {
        for (i, unit) in part.units.iter().enumerate() {
            let index = if users_mode {
                unit.user as usize
            } else {
                unit_users.push(unit.user);
                base as usize + i
            };
            levels[index] = unit.level;
            reached[index] = unit.reached;
            flags[index] = unit.flags;
            entry_times[index] = unit.entry_time;
            entry_rows[index] = unit.entry_row;
            last_rows[index] = unit.last_row;
        }
        for (all, mut mine) in step_times.iter_mut().zip(part.step_times) {
            if !users_mode {
                mine.units.iter_mut().for_each(|u| *u += base);
            }
            all.extend_from(&mine);
        }
        base += part.units.len() as u32;
    }
    FunnelOutput {
        unit_users: (!users_mode).then_some(unit_users),
        levels,
        reached,
        flags,
        entry_times,
        entry_rows,
        last_rows,
        step_times,
    }
}

/// `values` holding `n` copies of `value`, in its own memory.
fn refill<T: Copy>(mut values: Vec<T>, n: usize, value: T) -> Vec<T> {
    values.clear();
    values.resize(n, value);
    values
}

#[cfg(test)]
mod tests {
    //! Strict order reads only the relevant rows and the first row of each stretch between
    //! them; it must give what reading every row gives, on random logs full of ties.

    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray};

    use super::*;
    use crate::funnel::Exclusion;
    use crate::log::{encode, ColumnRef, EncodeOptions, TimeUnit};

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    const NAMES: [&str; 5] = ["a", "b", "c", "x", "y"];

    fn random_log(rng: &mut Rng) -> EncodedLog {
        let n = 1 + rng.below(400) as usize;
        let users: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.below(8) as i64),
        ));
        let events: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| NAMES[rng.below(5) as usize]),
        ));
        let times: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| rng.below(60) as i64),
        ));
        let (users, events, times) = ([users], [events], [times]);
        let column = |name, chunks| ColumnRef { name, chunks };
        encode(
            column("user", &users),
            column("event", &events),
            column("time", &times),
            EncodeOptions {
                drop_nulls: false,
                int_time_unit: Some(TimeUnit::Second),
            },
            &Control::new(),
        )
        .expect("random log encodes")
    }

    #[test]
    fn strict_order_on_relevant_rows_and_breaks_equals_every_row() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        for case in 0..1500 {
            let log = random_log(&mut rng);
            let steps = 2 + rng.below(3) as usize;
            let codes = |name: &str| log.event_code(name).map(|c| vec![c]).unwrap_or_default();
            let event_codes: Vec<Vec<u32>> = (0..steps).map(|k| codes(NAMES[k % 3])).collect();
            let with_exclusion = rng.below(2) == 0;
            let spec = AnalysisSpec {
                steps,
                window: rng.below(40) as i64,
                order: StepOrder::Strict,
                counting: if case % 2 == 0 {
                    Counting::Users
                } else {
                    Counting::Conversions
                },
                step_windows: vec![None; steps],
                optional: vec![false; steps],
                exclusions: if with_exclusion {
                    vec![Exclusion {
                        after: 1,
                        before: steps,
                    }]
                } else {
                    vec![]
                },
                analysis_end: rng.below(80) as i64,
            };
            let steps_masks = RowSteps::resolve(
                &log,
                &StepConditions {
                    event_codes,
                    row_filters: vec![],
                },
            )
            .unwrap();
            let exclusion_masks = with_exclusion.then(|| {
                RowSteps::resolve(
                    &log,
                    &StepConditions {
                        event_codes: vec![codes("x")],
                        row_filters: vec![],
                    },
                )
                .unwrap()
            });
            let masks = RowTables {
                steps: &steps_masks,
                exclusions: exclusion_masks.as_ref(),
                events: &log.events,
            };
            let control = Control::new();
            let fast = run_with(
                &log,
                &spec,
                &masks,
                None,
                RowsUsed::RelevantAndBreaks,
                &control,
            )
            .unwrap();
            let every = run_with(&log, &spec, &masks, None, RowsUsed::Every, &control).unwrap();
            assert_eq!(fast, every, "case {case}: {spec:?}");
        }
    }
}
