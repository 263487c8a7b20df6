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
    let parts: Vec<Vec<(u32, Outcome)>> = (0..n_users.div_ceil(chunk))
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
    fn run_users(&self, users: std::ops::Range<usize>) -> Vec<(u32, Outcome)> {
        let mut ordered = Ordered::new(self.spec);
        let any = AnyOrder::new(self.spec);
        let strict = self.spec.order == StepOrder::Strict;
        let mut events: Vec<(u32, Event)> = Vec::new();
        let mut group: Vec<Event> = Vec::new();
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut out = Vec::new();
        for user in users {
            events.clear();
            for row in self.log.user_rows(user) {
                let steps = self.steps.mask(&self.log.events, row);
                let exclusions = self.exclusions.map_or(0, |m| m.mask(&self.log.events, row));
                // Strict order needs every event: an unrelated one breaks the chain.
                if steps == 0 && exclusions == 0 && !strict {
                    continue;
                }
                let hold = self.hold.map_or(0, |h| h[row]);
                if hold == NO_HOLD {
                    continue;
                }
                events.push((
                    hold,
                    Event {
                        time: self.log.times[row],
                        row: row as u32,
                        steps,
                        exclusions,
                    },
                ));
            }
            if self.hold.is_some() {
                // Stable: each held value keeps its events in time order.
                events.sort_by_key(|(hold, _)| *hold);
            }
            outcomes.clear();
            let mut start = 0;
            while start < events.len() {
                let hold = events[start].0;
                let end = start
                    + events[start..]
                        .iter()
                        .take_while(|(h, _)| *h == hold)
                        .count();
                group.clear();
                group.extend(events[start..end].iter().map(|(_, e)| *e));
                match self.spec.order {
                    StepOrder::Any => any.run(&group, &mut outcomes),
                    _ => ordered.run(&group, &mut outcomes),
                }
                start = end;
            }
            match self.spec.counting {
                Counting::Users => {
                    let best = outcomes.iter().fold(None::<Outcome>, |best, o| match best {
                        Some(b) if !o.beats(&b) => Some(b),
                        _ => Some(*o),
                    });
                    if let Some(best) = best {
                        out.push((user as u32, best));
                    }
                }
                Counting::Conversions => {
                    outcomes.sort_by_key(|o| (o.chain.first_time(), o.chain.entry_row()));
                    out.extend(outcomes.iter().map(|o| (user as u32, *o)));
                }
            }
        }
        out
    }
}

/// Lay outcomes out per unit: users in id order (users mode) or attempts in user, time order.
fn assemble(
    log: &EncodedLog,
    spec: &AnalysisSpec,
    parts: Vec<Vec<(u32, Outcome)>>,
) -> FunnelOutput {
    let users_mode = spec.counting == Counting::Users;
    let n_units = if users_mode {
        log.n_users()
    } else {
        parts.iter().map(Vec::len).sum()
    };
    let mut out = FunnelOutput {
        unit_users: (!users_mode).then(|| Vec::with_capacity(n_units)),
        levels: vec![0; n_units],
        reached: Some(vec![0; n_units]),
        flags: Some(vec![0; n_units]),
        entry_rows: vec![u32::MAX; n_units],
        last_rows: vec![u32::MAX; n_units],
        step_times: vec![StepTimes::default(); spec.steps.saturating_sub(1)],
    };
    let mut next_unit = 0usize;
    for (user, outcome) in parts.into_iter().flatten() {
        let unit = if users_mode {
            user as usize
        } else {
            next_unit += 1;
            next_unit - 1
        };
        if let Some(users) = out.unit_users.as_mut() {
            users.push(user);
        }
        let chain = &outcome.chain;
        out.levels[unit] = chain.level();
        if let Some(reached) = out.reached.as_mut() {
            // Any order: level k means "k steps done", whichever they were.
            reached[unit] = if spec.order == StepOrder::Any {
                u32::MAX >> (32 - chain.level() as u32)
            } else {
                chain.mask()
            };
        }
        if let Some(flags) = out.flags.as_mut() {
            flags[unit] = (if outcome.in_progress { IN_PROGRESS } else { 0 })
                | (if outcome.excluded { EXCLUDED } else { 0 });
        }
        out.entry_rows[unit] = chain.rows[0];
        out.last_rows[unit] = chain.rows[chain.len as usize - 1];
        // Parts come in chunk order and users ascend within a chunk, so units ascend here.
        for i in 1..chain.len as usize {
            let step = chain.steps[i] as usize;
            out.step_times[step - 1].push(
                unit as u32,
                chain.times[i] - chain.times[0],
                chain.times[i] - chain.times[i - 1],
                chain.rows[i],
            );
        }
    }
    out
}
