//! Run a funnel with the product options over every user: gather each user's relevant events,
//! split them by the held property value when asked, run the ordered or any-order machine, and
//! lay the outcomes out as a [`FunnelOutput`].

use rayon::prelude::*;

use super::any_order::AnyOrder;
use super::chain::{Event, Outcome};
use super::ordered::Ordered;
use super::output::{FunnelOutput, StepTimes, EXCLUDED, IN_PROGRESS};
use super::spec::{AnalysisSpec, Counting, StepOrder};
use super::steps::{RowSteps, StepConditions};
use crate::control::Control;
use crate::error::{CoreError, Result};
use crate::log::EncodedLog;

/// Conditions for an analysis: the steps, the exclusions (one "step" each), and the held value.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConditions {
    pub steps: StepConditions,
    pub exclusions: StepConditions,
    /// A code per *encoded* row (the log's sorted order) for the property values held constant
    /// (`NO_HOLD`: missing). Log order lets a caller code once and reuse the codes every run.
    pub hold_codes: Option<Vec<u32>>,
}

/// Marks a row whose held value is missing: it cannot join any chain.
pub const NO_HOLD: u32 = u32::MAX;

/// Run `spec` over `log`.
pub fn run_analysis(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    conditions: &AnalysisConditions,
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
    let inputs = Inputs {
        log,
        spec,
        steps: &step_masks,
        exclusions: exclusion_masks.as_ref(),
        hold: conditions.hold_codes.as_deref(),
    };

    let n_users = log.n_users();
    let chunk = n_users.div_ceil(rayon::current_num_threads() * 16).max(1);
    control.set_total(n_users as u64);
    let parts: Vec<PartUnits> = (0..n_users.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            control.check()?;
            let users = c * chunk..((c + 1) * chunk).min(n_users);
            let part = inputs.run_users(users.clone());
            control.advance(users.len() as u64);
            Ok(part)
        })
        .collect::<Result<_>>()?;
    Ok(assemble(log, spec, parts))
}

struct Inputs<'a> {
    log: &'a EncodedLog,
    spec: &'a AnalysisSpec,
    steps: &'a RowSteps,
    exclusions: Option<&'a RowSteps>,
    hold: Option<&'a [u32]>,
}

impl Inputs<'_> {
    fn run_users(&self, users: std::ops::Range<usize>) -> PartUnits {
        let mut ordered = Ordered::new(self.spec);
        let any = AnyOrder::new(self.spec);
        let strict = self.spec.order == StepOrder::Strict;
        let mut held: Vec<(u32, Event)> = Vec::new();
        let mut group: Vec<Event> = Vec::new();
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut part = PartUnits {
            units: Vec::new(),
            step_times: vec![StepTimes::default(); self.spec.steps.saturating_sub(1)],
        };
        let mut run = |events: &[Event], outcomes: &mut Vec<Outcome>| match self.spec.order {
            StepOrder::Any => any.run(events, outcomes),
            _ => ordered.run(events, outcomes),
        };
        for user in users {
            outcomes.clear();
            group.clear();
            held.clear();
            for row in self.log.user_rows(user) {
                let steps = self.steps.mask(&self.log.events, row);
                let exclusions = self.exclusions.map_or(0, |m| m.mask(&self.log.events, row));
                // Strict order needs every event: an unrelated one breaks the chain.
                if steps == 0 && exclusions == 0 && !strict {
                    continue;
                }
                let event = Event {
                    time: self.log.times[row],
                    row: row as u32,
                    steps,
                    exclusions,
                };
                match self.hold {
                    None => group.push(event),
                    Some(codes) if codes[row] != NO_HOLD => held.push((codes[row], event)),
                    Some(_) => {}
                }
            }
            if self.hold.is_none() {
                if !group.is_empty() {
                    run(&group, &mut outcomes);
                }
            } else {
                // Stable: each held value keeps its events in time order.
                held.sort_by_key(|(hold, _)| *hold);
                for same in held.chunk_by(|a, b| a.0 == b.0) {
                    group.clear();
                    group.extend(same.iter().map(|(_, e)| *e));
                    run(&group, &mut outcomes);
                }
            }
            match self.spec.counting {
                Counting::Users => {
                    if let Some(best) = best_of(&outcomes) {
                        part.add(self.log, user as u32, user as u32, &best);
                    }
                }
                Counting::Conversions => {
                    outcomes.sort_by_key(|o| (o.chain.first_time(), o.chain.entry_row()));
                    for outcome in &outcomes {
                        let local = part.units.len() as u32;
                        part.add(self.log, user as u32, local, outcome);
                    }
                }
            }
        }
        part
    }
}

/// A user's outcome from the best chain of each held value (one outcome without `hold`), by the
/// rule one machine applies to its own chains: the furthest wins, a clean chain before an
/// excluded one at the same step; its times are those of the chain that got there first; the
/// user is in progress while any clean chain at that step can still move on. The held values'
/// numbering (first seen in the input) therefore never decides the answer.
fn best_of(outcomes: &[Outcome]) -> Option<Outcome> {
    let reach = |o: &Outcome| {
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
    fn add(&mut self, log: &EncodedLog, user: u32, unit: u32, outcome: &Outcome) {
        let chain = &outcome.chain;
        self.units.push(Unit {
            user,
            level: chain.level(),
            // Any order chains number their elements, so level k reads "k steps done".
            reached: chain.mask,
            flags: (if outcome.in_progress { IN_PROGRESS } else { 0 })
                | (if outcome.excluded { EXCLUDED } else { 0 }),
            entry_row: chain.entry_row(),
            last_row: chain.last_row(),
        });
        let mut previous = log.times[chain.entry_row() as usize];
        let first = previous;
        for (step, row) in chain.elements().skip(1) {
            let time = log.times[row as usize];
            self.step_times[step - 1].push(unit, time - first, time - previous, row);
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
    let mut unit_users = Vec::with_capacity(if users_mode { 0 } else { n_units });
    let mut levels = vec![0; n_units];
    let mut reached = vec![0; n_units];
    let mut flags = vec![0; n_units];
    let mut entry_rows = vec![u32::MAX; n_units];
    let mut last_rows = vec![u32::MAX; n_units];
    let mut step_times = vec![StepTimes::default(); spec.steps.saturating_sub(1)];
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
            entry_rows[index] = unit.entry_row;
            last_rows[index] = unit.last_row;
        }
        for (all, mut mine) in step_times.iter_mut().zip(part.step_times) {
            if !users_mode {
                mine.units.iter_mut().for_each(|u| *u += base);
            }
            all.append(mine);
        }
        base += part.units.len() as u32;
    }
    FunnelOutput {
        unit_users: (!users_mode).then_some(unit_users),
        levels,
        reached: Some(reached),
        flags: Some(flags),
        entry_rows,
        last_rows,
        step_times,
    }
}
