//! Run a funnel with the product options over every user: gather each user's relevant events,
//! split them by the held property value when asked, run the ordered or any-order machine, and
//! lay the outcomes out as a [`FunnelOutput`].
//!
//! Event-only conditions read the rows gathered for the funnel's events and kept with the log
//! (`matching::Gathered`, shared with the kernel: a product funnel over the plain funnel's events
//! reads the rows the plain run kept); filters, and strict order with a held value, read the
//! log's columns. In users mode each range writes its users' slots of the output directly.

use std::borrow::Cow;

use rayon::prelude::*;

use super::any_order::AnyOrder;
use super::chain::{Chain, Event, Outcome};
use super::matching::{Chunk, Gathered, Relevant};
use super::ordered::Ordered;
use super::output::{FunnelOutput, StepEntry, StepTimes, EXCLUDED, IN_PROGRESS, NO_HOLD, NO_ROW};
use super::parts::{Part, UserOutput};
use super::run::user_ranges;
use super::spec::{AnalysisSpec, Counting, StepOrder, MAX_STEPS};
use super::steps::{EventMasks, RowSteps, StepConditions};
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
            // Unless every row is read, a user's events are in the rows of the funnel's events,
            // gathered once and kept as the kernel keeps them (strict order looks up the rows
            // that break it in the log).
            let gathered = (rows != RowsUsed::Every).then(|| {
                let ranges = user_ranges(log, rayon::current_num_threads() * 16);
                Gathered::kept(log, &relevant, &ranges).or_else(|| {
                    Gathered::may_keep(log, &relevant).then(|| {
                        with_codes!(&log.events, events => Gathered::gather_and_keep(
                            log,
                            &EventMasks { table: &either, events, relevant: &relevant },
                            &relevant,
                            &ranges,
                        ))
                    })
                })
            });
            with_codes!(&log.events, events => {
                let tables = EventTables { steps, exclusions, events, relevant: &relevant };
                match gathered.flatten() {
                    Some(gathered) => run_gathered(log, spec, &tables, hold, &gathered, control),
                    None => run_with(log, spec, &tables, hold, rows, control),
                }
            })
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
    let rows = RowTimes {
        times: &log.times,
        sources: &log.source_rows,
        held: hold.map(|codes| HeldCodes { codes, rows: None }),
    };
    run_parts(
        log,
        spec,
        &ranges,
        control,
        hold.is_some(),
        |_, users, sink| {
            inputs.run_users(users, rows, sink);
        },
    )
}

/// Event-only conditions read by the machines from the rows gathered for their events
/// (`matching::Gathered`), the kernel's kept rows when it ran over the same events: each user's
/// events side by side in a few sequential arrays instead of scattered over the log's columns.
fn run_gathered<C: Code>(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    tables: &EventTables<'_, C>,
    hold: Option<&[u32]>,
    gathered: &Gathered,
    control: &Control,
) -> Result<FunnelOutput> {
    let strict = spec.order == StepOrder::Strict;
    run_parts(
        log,
        spec,
        &gathered.ranges,
        control,
        hold.is_some(),
        |nth, users, sink| {
            let chunk = &gathered.chunks[nth];
            let rows = RowTimes {
                times: &chunk.times,
                sources: &chunk.sources,
                held: hold.map(|codes| HeldCodes {
                    codes,
                    rows: Some(&chunk.rows),
                }),
            };
            let reader = ChunkReader {
                log,
                tables,
                strict,
                chunk,
                first_user: users.start,
            };
            if spec.steps <= SMALL {
                reader.run::<SMALL>(spec, rows, sink);
            } else {
                reader.run::<MAX_STEPS>(spec, rows, sink);
            }
        },
    )
}

/// The users of one chunk (the gathered rows of the range starting at user `first_user`), as
/// the machines read them; events name rows by their place in the chunk.
struct ChunkReader<'a, C> {
    log: &'a EncodedLog,
    tables: &'a EventTables<'a, C>,
    /// Strict order: the rows between gathered ones that break a chain are looked up in the log
    /// (`breaks`).
    strict: bool,
    chunk: &'a Chunk,
    first_user: usize,
}

impl<C: Code> ChunkReader<'_, C> {
    fn run<const N: usize>(&self, spec: &AnalysisSpec, rows: RowTimes<'_>, sink: &mut Sink) {
        let chunk = self.chunk;
        let mut machine = Machine::<N>::new(spec);
        let mut group: Vec<Event> = Vec::new();
        let mut held: Vec<(u32, Event)> = Vec::new();
        let mut breaks = (if self.strict { self.breaks() } else { &[] })
            .iter()
            .peekable();
        for (nth, &index) in chunk.users.iter().enumerate() {
            let user = self.first_user + index as usize;
            let at = chunk.rows_of(nth);
            machine.outcomes.clear();
            group.clear();
            self.user_events(at, &mut breaks, &mut group);
            match rows.held {
                None => machine.run(&group),
                Some(codes) => {
                    // Strict order with a held value reads every row (`RowsUsed::Every`), so
                    // no break event is here: rows are unique and ascend with time.
                    held.clear();
                    held.extend(group.iter().filter_map(|e| {
                        let code = codes.of(e.row);
                        (code != NO_HOLD).then_some((code, *e))
                    }));
                    machine.run_each_value(&mut held, &mut group);
                }
            }
            sink.record(rows, user, &mut machine.outcomes);
        }
    }

    /// The events of one user, whose gathered rows are `at`, in time order; `breaks` is the
    /// rest of the chunk's breaks (strict order), consumed as the users go by.
    #[inline]
    fn user_events(
        &self,
        at: std::ops::Range<usize>,
        breaks: &mut std::iter::Peekable<std::slice::Iter<'_, (u32, i64)>>,
        group: &mut Vec<Event>,
    ) {
        let (chunk, tables) = (self.chunk, self.tables);
        for pos in at {
            let key = chunk.keys[pos] as usize;
            let row = pos as u32;
            group.push(Event {
                time: chunk.times[pos],
                row,
                steps: tables.steps[key],
                exclusions: tables.exclusions[key],
            });
            if let Some(&(_, time)) = breaks.next_if(|&&(after, _)| after == row) {
                // A break names no step, so no chain ever holds its row.
                group.push(Event {
                    time,
                    row,
                    steps: 0,
                    exclusions: 0,
                });
            }
        }
    }

    /// Where strict order breaks in the chunk (`Chunk::breaks`): looked up in the log's times
    /// once, then read in order by every strict run.
    fn breaks(&self) -> &[(u32, i64)] {
        let (chunk, log) = (self.chunk, self.log);
        chunk.breaks.get_or_init(|| {
            let mut breaks = Vec::new();
            for (nth, &index) in chunk.users.iter().enumerate() {
                let user_end = log.user_offsets[self.first_user + index as usize + 1] as usize;
                let at = chunk.rows_of(nth);
                for pos in at.clone() {
                    let row = chunk.rows[pos] as usize;
                    let next = (pos + 1 < at.end).then(|| chunk.rows[pos + 1] as usize);
                    if let Some(gap) = break_after(&log.times, row, next, user_end) {
                        breaks.push((pos as u32, log.times[gap]));
                    }
                }
            }
            breaks
        })
    }
}

/// Run `each(nth, users, sink)` for every range of `ranges` on the thread pool and lay out what
/// the sinks kept: users straight into the output's slots, attempts joined afterwards.
fn run_parts(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    ranges: &[std::ops::Range<usize>],
    control: &Control,
    holds: bool,
    each: impl Fn(usize, std::ops::Range<usize>, &mut Sink<'_, '_>) + Sync,
) -> Result<FunnelOutput> {
    control.set_total(log.n_users() as u64);
    if spec.counting == Counting::Users {
        // One unit per user: each range writes its users' slots of the output directly.
        let mut output = UserOutput::new(log, spec.steps, ranges.len(), holds);
        (output.parts(ranges).into_par_iter().enumerate()).try_for_each(|(nth, mut part)| {
            control.check()?;
            let count = part.users.len() as u64;
            part.clear();
            each(nth, part.users.clone(), &mut Sink::Users(&mut part));
            control.advance(count);
            Ok(())
        })?;
        return Ok(output.finish(log));
    }
    let parts: Vec<PartUnits> = (ranges.par_iter().cloned().enumerate())
        .map(|(nth, users)| {
            control.check()?;
            let count = users.len() as u64;
            let mut part = PartUnits {
                units: Vec::new(),
                step_times: vec![StepTimes::default(); spec.steps.saturating_sub(1)],
            };
            each(nth, users, &mut Sink::Attempts(&mut part));
            control.advance(count);
            Ok(part)
        })
        .collect::<Result<_>>()?;
    Ok(assemble(log, spec, holds, parts))
}

/// The time, input row and held code of each row the machines' events name: the log's own
/// columns, or a chunk's gathered ones.
#[derive(Clone, Copy)]
struct RowTimes<'a> {
    times: &'a [i64],
    sources: &'a [u32],
    held: Option<HeldCodes<'a>>,
}

/// The held code of each row as the machines name it: the log's codes (encoded order), read
/// through a chunk's encoded rows when the machines read a chunk.
#[derive(Clone, Copy)]
struct HeldCodes<'a> {
    codes: &'a [u32],
    rows: Option<&'a [u32]>,
}

impl HeldCodes<'_> {
    #[inline]
    fn of(&self, row: u32) -> u32 {
        let row = self.rows.map_or(row, |rows| rows[row as usize]);
        self.codes[row as usize]
    }
}

/// Where the units of a range go as each user's outcomes are known.
enum Sink<'p, 'a> {
    /// Users mode: the best outcome of each user, written to the user's slot of a part.
    Users(&'p mut Part<'a>),
    /// Conversions mode: every attempt.
    Attempts(&'p mut PartUnits),
}

impl Sink<'_, '_> {
    /// Keep the units `outcomes` (one user's, one per held value in users mode) count as.
    #[inline]
    fn record<const N: usize>(
        &mut self,
        rows: RowTimes<'_>,
        user: usize,
        outcomes: &mut [Outcome<N>],
    ) {
        match self {
            Sink::Users(part) => record_user(part, rows, user, outcomes),
            Sink::Attempts(part) => part.record(rows, user, outcomes),
        }
    }
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
            let next = rows.get(k + 1).map(|&r| r as usize);
            if let Some(gap) = break_after(times, row, next, user_end) {
                push(hold(gap), event(gap, 0, 0));
            }
        }
    }

    fn run_users(&self, users: std::ops::Range<usize>, rows: RowTimes<'_>, sink: &mut Sink) {
        if self.spec.steps <= SMALL {
            self.run_users_with::<SMALL>(users, rows, sink)
        } else {
            self.run_users_with::<MAX_STEPS>(users, rows, sink)
        }
    }

    fn run_users_with<const N: usize>(
        &self,
        users: std::ops::Range<usize>,
        row_times: RowTimes<'_>,
        sink: &mut Sink,
    ) {
        let mut machine = Machine::<N>::new(self.spec);
        let mut held: Vec<(u32, Event)> = Vec::new();
        let mut group: Vec<Event> = Vec::new();
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
                machine.outcomes.clear();
                match self.hold {
                    None => {
                        group.clear();
                        self.user_events(end as usize, user_rows, |_, e| group.push(e));
                        machine.run(&group);
                    }
                    Some(_) => {
                        held.clear();
                        self.user_events(end as usize, user_rows, |hold, e| {
                            if hold != NO_HOLD {
                                held.push((hold, e));
                            }
                        });
                        machine.run_each_value(&mut held, &mut group);
                    }
                }
                sink.record(row_times, user, &mut machine.outcomes);
            }
        });
    }
}

/// The row that breaks a strict order after relevant row `row`: the rows up to the next relevant
/// one (`next`, or the user's end) name no step, and matter only where one of them sits at an
/// instant of its own, and then only the first.
#[inline]
fn break_after(times: &[i64], row: usize, next: Option<usize>, user_end: usize) -> Option<usize> {
    let end = next.unwrap_or(user_end);
    let mut gap = row + 1;
    while gap < end && times[gap] == times[row] {
        gap += 1;
    }
    (gap < end && next.is_none_or(|next| times[gap] < times[next])).then_some(gap)
}

/// Funnels of up to this many steps run with chains of this size.
const SMALL: usize = 8;

/// The machine a funnel's order calls for, and the outcomes of the user it is on. Chains are
/// copied at every step they make: `N` sizes them to the funnel.
struct Machine<'a, const N: usize> {
    spec: &'a AnalysisSpec,
    ordered: Ordered<'a, N>,
    any: AnyOrder<'a>,
    outcomes: Vec<Outcome<N>>,
}

impl<'a, const N: usize> Machine<'a, N> {
    fn new(spec: &'a AnalysisSpec) -> Self {
        Machine {
            spec,
            ordered: Ordered::new(spec),
            any: AnyOrder::new(spec),
            outcomes: Vec::new(),
        }
    }

    /// Add the outcomes of `events` (one user's, or one held value's, in time order).
    #[inline]
    fn run(&mut self, events: &[Event]) {
        match self.spec.order {
            StepOrder::Any => self.any.run(events, &mut self.outcomes),
            _ => self.ordered.run(events, &mut self.outcomes),
        }
    }

    /// Add the outcomes of each held value's events among `held` (one user's events with their
    /// held values, in time order; `group` is scratch space).
    fn run_each_value(&mut self, held: &mut [(u32, Event)], group: &mut Vec<Event>) {
        // Rows ascend in time order, so each held value keeps its events in time order;
        // unstable sorts need no buffer.
        held.sort_unstable_by_key(|(hold, e)| (*hold, e.row));
        for same in held.chunk_by(|a, b| a.0 == b.0) {
            group.clear();
            group.extend(same.iter().map(|(_, e)| *e));
            self.run(group);
        }
    }
}

thread_local! {
    /// Rows of the current user range the machines read.
    static ROWS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Users mode: the best of one user's outcomes, written to the user's slot of `part`.
#[inline]
fn record_user<const N: usize>(
    part: &mut Part<'_>,
    rows: RowTimes<'_>,
    user: usize,
    outcomes: &[Outcome<N>],
) {
    let Some(best) = best_of(outcomes) else {
        return;
    };
    let slot = user - part.users.start;
    let unit = Unit::of(rows, user as u32, &best);
    part.levels[slot] = unit.level;
    part.reached[slot] = unit.reached;
    part.flags[slot] = unit.flags;
    part.entry_times[slot] = unit.entry_time;
    part.entry_rows[slot] = unit.entry_row;
    part.last_rows[slot] = unit.last_row;
    if let Some(held) = part.held.get_mut(slot) {
        *held = unit.held;
    }
    for (step, entry) in step_entries(rows, &best.chain, user as u32) {
        part.times[step - 1].push(entry);
    }
}

/// The steps after the first of `chain`, each with the entry it makes in the step times of
/// unit `unit`.
fn step_entries<'a, const N: usize>(
    rows: RowTimes<'a>,
    chain: &'a Chain<N>,
    unit: u32,
) -> impl Iterator<Item = (usize, StepEntry)> + 'a {
    let first = rows.times[chain.entry_row() as usize];
    let mut previous = first;
    chain.elements().skip(1).map(move |(step, row)| {
        let time = rows.times[row as usize];
        let entry = StepEntry {
            from_start: time - first,
            from_previous: time - previous,
            unit,
            row: rows.sources[row as usize],
        };
        previous = time;
        (step, entry)
    })
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
    /// The chain's held code (`NO_HOLD` without a held property).
    held: u32,
}

impl Unit {
    /// What the output keeps of `outcome`, a chain of `user`.
    #[inline]
    fn of<const N: usize>(rows: RowTimes<'_>, user: u32, outcome: &Outcome<N>) -> Unit {
        let chain = &outcome.chain;
        let entry = chain.entry_row() as usize;
        Unit {
            user,
            level: chain.level(),
            // Any order chains number their elements, so level k reads "k steps done".
            reached: chain.mask,
            flags: (if outcome.in_progress { IN_PROGRESS } else { 0 })
                | (if outcome.excluded { EXCLUDED } else { 0 }),
            entry_time: rows.times[entry],
            entry_row: rows.sources[entry],
            last_row: rows.sources[chain.last_row() as usize],
            // The chain's rows all hold one value; its entry's is read while the user's rows
            // are in cache, where looking it up afterwards would be a random read per unit.
            held: rows.held.map_or(NO_HOLD, |held| held.of(chain.entry_row())),
        }
    }
}

/// Conversions mode: the attempts of one user range and their step times, which name attempts
/// by their index within the part (`assemble` shifts them).
struct PartUnits {
    units: Vec<Unit>,
    step_times: Vec<StepTimes>,
}

impl PartUnits {
    /// Every attempt of one user, in time order.
    fn record<const N: usize>(
        &mut self,
        rows: RowTimes<'_>,
        user: usize,
        outcomes: &mut [Outcome<N>],
    ) {
        outcomes.sort_by_key(|o| (o.chain.first_time(), o.chain.entry_row()));
        for outcome in outcomes.iter() {
            let local = self.units.len() as u32;
            self.add(rows, user as u32, local, outcome);
        }
    }

    fn add<const N: usize>(
        &mut self,
        rows: RowTimes<'_>,
        user: u32,
        unit: u32,
        outcome: &Outcome<N>,
    ) {
        self.units.push(Unit::of(rows, user, outcome));
        for (step, e) in step_entries(rows, &outcome.chain, unit) {
            self.step_times[step - 1].push(e.unit, e.from_start, e.from_previous, e.row);
        }
    }
}

/// Lay the attempts out in user, time order. Parts come in chunk order and users ascend within
/// a part, so attempts do too.
fn assemble(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    holds: bool,
    parts: Vec<PartUnits>,
) -> FunnelOutput {
    let n_units = parts.iter().map(|p| p.units.len()).sum();
    // The previous run's arrays, already mapped: a fresh mapping costs a page fault per page.
    let mut out = log.recycled.take_output();
    let mut unit_users = out.unit_users.take().unwrap_or_default();
    unit_users.clear();
    unit_users.reserve(n_units);
    let mut levels = refill(std::mem::take(&mut out.levels), n_units, 0);
    let mut reached = refill(std::mem::take(&mut out.reached), n_units, 0);
    let mut flags = refill(std::mem::take(&mut out.flags), n_units, 0);
    let mut entry_times = refill(std::mem::take(&mut out.entry_times), n_units, 0);
    let mut entry_rows = refill(std::mem::take(&mut out.entry_rows), n_units, NO_ROW);
    let mut last_rows = refill(std::mem::take(&mut out.last_rows), n_units, NO_ROW);
    let mut held = refill(
        std::mem::take(&mut out.held),
        if holds { n_units } else { 0 },
        NO_HOLD,
    );
    let mut step_times = std::mem::take(&mut out.step_times);
    step_times.resize_with(spec.steps.saturating_sub(1), StepTimes::default);
    step_times.truncate(spec.steps.saturating_sub(1));
    step_times.iter_mut().for_each(StepTimes::clear);
    let mut base = 0u32;
    for part in parts {
        for (i, unit) in part.units.iter().enumerate() {
            let index = base as usize + i;
            unit_users.push(unit.user);
            levels[index] = unit.level;
            reached[index] = unit.reached;
            flags[index] = unit.flags;
            entry_times[index] = unit.entry_time;
            entry_rows[index] = unit.entry_row;
            last_rows[index] = unit.last_row;
            if let Some(slot) = held.get_mut(index) {
                *slot = unit.held;
            }
        }
        for (all, mut mine) in step_times.iter_mut().zip(part.step_times) {
            mine.units.iter_mut().for_each(|u| *u += base);
            all.extend_from(&mine);
        }
        base += part.units.len() as u32;
    }
    FunnelOutput {
        unit_users: Some(unit_users),
        levels,
        reached,
        flags,
        entry_times,
        entry_rows,
        last_rows,
        step_times,
        held,
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
    //! them, and runs read rows gathered for their events; each must give what reading every
    //! row of the log gives, on random logs full of ties.

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

    /// A spec over `optional.len()` steps, with a random window and analysis end; even cases
    /// count users, odd ones conversions.
    fn random_spec(
        rng: &mut Rng,
        order: StepOrder,
        case: usize,
        with_exclusion: bool,
        optional: Vec<bool>,
    ) -> AnalysisSpec {
        let steps = optional.len();
        AnalysisSpec {
            steps,
            window: rng.below(40) as i64,
            order,
            counting: if case % 2 == 0 {
                Counting::Users
            } else {
                Counting::Conversions
            },
            step_windows: vec![None; steps],
            optional,
            exclusions: if with_exclusion {
                vec![Exclusion {
                    after: 1,
                    before: steps,
                }]
            } else {
                vec![]
            },
            analysis_end: rng.below(80) as i64,
        }
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
            let optional = vec![false; steps];
            let spec = random_spec(&mut rng, StepOrder::Strict, case, with_exclusion, optional);
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

    #[test]
    fn runs_over_gathered_rows_equal_runs_over_the_log() {
        let mut rng = Rng(0x6A7E_4E2D_0BAD_F00D);
        let orders = [StepOrder::Sequential, StepOrder::Strict, StepOrder::Any];
        for case in 0..1500 {
            let log = random_log(&mut rng);
            let steps = 2 + rng.below(3) as usize;
            let order = orders[rng.below(3) as usize];
            let with_exclusion = order != StepOrder::Any && rng.below(2) == 0;
            // Strict order with a held value reads every row, never gathered ones.
            let held = order != StepOrder::Strict && rng.below(2) == 0;
            let optional = (0..steps)
                .map(|k| k > 0 && k + 1 < steps && rng.below(3) == 0)
                .collect();
            let spec = random_spec(&mut rng, order, case, with_exclusion, optional);
            let code = |name: &str| log.event_code(name).map_or(0, |c| c as usize);
            let mut step_table = vec![0u32; log.event_names.len()];
            for k in 0..steps {
                if log.event_code(NAMES[k % 3]).is_some() {
                    step_table[code(NAMES[k % 3])] |= 1 << k;
                }
            }
            let mut exclusion_table = vec![0u32; log.event_names.len()];
            if with_exclusion && log.event_code("x").is_some() {
                exclusion_table[code("x")] = 1;
            }
            let hold_codes: Vec<u32> = (0..log.n_rows())
                .map(|_| match rng.below(4) {
                    0 => NO_HOLD,
                    v => v as u32,
                })
                .collect();
            let hold = held.then_some(&hold_codes[..]);
            let either: Vec<u32> = (step_table.iter().zip(&exclusion_table))
                .map(|(s, x)| s | x)
                .collect();
            let relevant = Relevant::new(&either);
            let control = Control::new();
            let rows = if order == StepOrder::Strict {
                RowsUsed::RelevantAndBreaks
            } else {
                RowsUsed::Relevant
            };
            let (gathered, from_log) = with_codes!(&log.events, events => {
                let tables = EventTables {
                    steps: &step_table,
                    exclusions: &exclusion_table,
                    events,
                    relevant: &relevant,
                };
                let ranges = user_ranges(&log, 1 + rng.below(5) as usize);
                let masks = EventMasks { table: &either, events, relevant: &relevant };
                let kept = Gathered::gather_and_keep(&log, &masks, &relevant, &ranges);
                (
                    run_gathered(&log, &spec, &tables, hold, &kept, &control).unwrap(),
                    run_with(&log, &spec, &tables, hold, rows, &control).unwrap(),
                )
            });
            assert_eq!(gathered, from_log, "case {case}: {spec:?}, held {held}");
        }
    }
}
