//! Breakdowns without leaving the engine: the step table of every group (a group per unit, from
//! any engine's outcomes) in one counting pass over the units and one selection per (step,
//! group) for the time quantiles.
//!
//! Quantiles interpolate linearly between order statistics exactly as pandas' grouped
//! `quantile` does (`lo + (hi - lo) * frac`, in f64), so tables match those built in Python.

use rayon::prelude::*;

use super::output::{EXCLUDED, IN_PROGRESS};
use crate::error::{CoreError, Result};

/// The per-unit outcome of a run as plain arrays (what Python's `FunnelOutcomes` holds), so
/// any engine's outcomes can be tabled here.
#[derive(Debug, Clone, Copy)]
pub struct UnitOutcomes<'a> {
    /// Furthest step of each unit (0: never did step 1).
    pub levels: &'a [u8],
    /// Steps in each unit's chain, bit k-1 for step k.
    pub reached: &'a [u32],
    /// `IN_PROGRESS` / `EXCLUDED` bits per unit.
    pub flags: &'a [u8],
}

/// The units that reached one step k >= 2 and their times (unit indices ascending).
#[derive(Debug, Clone, Copy)]
pub struct StepReach<'a> {
    pub units: &'a [i64],
    pub from_first: &'a [i64],
    pub from_previous: &'a [i64],
}

/// The step table of each group: `[group * steps + k]` for step k+1, and `[group * (steps + 1)
/// + level]` for the per-level counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTables {
    pub groups: usize,
    pub steps: usize,
    /// Counted (not excluded) units whose chain includes the step.
    pub reached: Vec<u64>,
    /// Counted units at each level 0..=steps.
    pub at_level: Vec<u64>,
    /// Counted units in progress at each level.
    pub open_at: Vec<u64>,
    /// Excluded units at each level (the level their voided chain reached).
    pub excluded_at: Vec<u64>,
    /// Median and 90th percentile of the time to each step from step 1 and from the previous
    /// step, over counted units (NaN where none reached it; step 1 is always NaN).
    pub median_from_first: Vec<f64>,
    pub p90_from_first: Vec<f64>,
    pub median_from_previous: Vec<f64>,
    pub p90_from_previous: Vec<f64>,
}

/// Units per parallel chunk of the counting pass.
const CHUNK: usize = 1 << 16;

fn invalid(message: String) -> CoreError {
    CoreError::InvalidFunnel(message)
}

/// The step table of every group; `groups[unit]` is the unit's group (< `n_groups`), or
/// negative for a unit in none. `steps` holds steps 2..=N.
pub fn group_tables(
    units: UnitOutcomes<'_>,
    steps: &[StepReach<'_>],
    groups: &[i64],
    n_groups: usize,
) -> Result<GroupTables> {
    let n_units = units.levels.len();
    let n_steps = steps.len() + 1;
    for (name, len) in [
        ("reached", units.reached.len()),
        ("flags", units.flags.len()),
        ("group codes", groups.len()),
    ] {
        if len != n_units {
            return Err(invalid(format!("{len} {name} given for {n_units} units")));
        }
    }
    for (i, step) in steps.iter().enumerate() {
        let n = step.units.len();
        if step.from_first.len() != n || step.from_previous.len() != n {
            return Err(invalid(format!(
                "step {} has {n} units but {} and {} times",
                i + 2,
                step.from_first.len(),
                step.from_previous.len()
            )));
        }
    }
    let levels = n_steps + 1;
    // Group codes are checked as they are counted: a bad one is kept and reported after.
    let counts = (units.levels.par_chunks(CHUNK).enumerate())
        .map(|(nth, chunk_levels)| {
            let mut c = Counts::new(n_groups, n_steps);
            let from = nth * CHUNK;
            for (unit, &level) in (from..).zip(chunk_levels) {
                let g = groups[unit];
                if g < 0 {
                    continue;
                }
                if g >= n_groups as i64 {
                    c.bad.get_or_insert(g);
                    continue;
                }
                let g = g as usize;
                let level = (level as usize).min(n_steps);
                let flags = units.flags[unit];
                if flags & EXCLUDED != 0 {
                    c.excluded_at[g * levels + level] += 1;
                    continue;
                }
                c.at_level[g * levels + level] += 1;
                c.open_at[g * levels + level] += u64::from(flags & IN_PROGRESS != 0);
                // A fixed count of adds, where a loop over the set bits mispredicts its exit.
                let mask = units.reached[unit];
                let reached = &mut c.reached[g * n_steps..(g + 1) * n_steps];
                for (k, count) in reached.iter_mut().enumerate() {
                    *count += u64::from(mask >> k & 1);
                }
            }
            c
        })
        .reduce(|| Counts::new(n_groups, n_steps), Counts::add);
    if let Some(bad) = counts.bad {
        return Err(invalid(format!(
            "group code {bad} is not below the number of groups ({n_groups})"
        )));
    }
    let mut tables = GroupTables {
        groups: n_groups,
        steps: n_steps,
        reached: counts.reached,
        at_level: counts.at_level,
        open_at: counts.open_at,
        excluded_at: counts.excluded_at,
        median_from_first: vec![f64::NAN; n_groups * n_steps],
        p90_from_first: vec![f64::NAN; n_groups * n_steps],
        median_from_previous: vec![f64::NAN; n_groups * n_steps],
        p90_from_previous: vec![f64::NAN; n_groups * n_steps],
    };
    time_quantiles(units, steps, groups, n_groups, &mut tables)?;
    Ok(tables)
}

/// One step's (median, p90) per group, of the times from step 1 and from the previous step.
type StepQuantiles = (Vec<(f64, f64)>, Vec<(f64, f64)>);

fn time_quantiles(
    units: UnitOutcomes<'_>,
    steps: &[StepReach<'_>],
    groups: &[i64],
    n_groups: usize,
    out: &mut GroupTables,
) -> Result<()> {
    let n_steps = out.steps;
    let n_units = groups.len();
    // Per step k >= 2, each entry's group is found once; both measures are then laid out
    // group by group, contiguously, for the selections.
    let results: Vec<StepQuantiles> = (2..=n_steps)
        .into_par_iter()
        .map(|step| {
            let reach = &steps[step - 2];
            let mut group_of = Vec::with_capacity(reach.units.len());
            let mut starts = vec![0usize; n_groups + 1];
            for &unit in reach.units {
                if unit < 0 || unit >= n_units as i64 {
                    return Err(invalid(format!(
                        "step {step} names unit {unit}, outside the {n_units} units"
                    )));
                }
                let unit = unit as usize;
                let g = groups[unit];
                let g = if g >= 0 && units.flags[unit] & EXCLUDED == 0 {
                    starts[g as usize + 1] += 1;
                    g as u32
                } else {
                    u32::MAX
                };
                group_of.push(g);
            }
            for g in 0..n_groups {
                starts[g + 1] += starts[g];
            }
            let mut first = vec![0i64; starts[n_groups]];
            let mut previous = vec![0i64; starts[n_groups]];
            let mut next = starts.clone();
            for ((&g, &f), &p) in group_of
                .iter()
                .zip(reach.from_first)
                .zip(reach.from_previous)
            {
                if g != u32::MAX {
                    let at = &mut next[g as usize];
                    first[*at] = f;
                    previous[*at] = p;
                    *at += 1;
                }
            }
            let quantiles = |laid: &mut [i64]| -> Vec<(f64, f64)> {
                (0..n_groups)
                    .map(|g| median_and_p90(&mut laid[starts[g]..starts[g + 1]]))
                    .collect()
            };
            Ok((quantiles(&mut first), quantiles(&mut previous)))
        })
        .collect::<Result<_>>()?;
    for (step, (from_first, from_previous)) in (2..).zip(results) {
        for (g, ((median_f, p90_f), (median_p, p90_p))) in
            from_first.into_iter().zip(from_previous).enumerate()
        {
            let at = g * n_steps + step - 1;
            out.median_from_first[at] = median_f;
            out.p90_from_first[at] = p90_f;
            out.median_from_previous[at] = median_p;
            out.p90_from_previous[at] = p90_p;
        }
    }
    Ok(())
}

struct Counts {
    /// The first group code found out of range, if any.
    bad: Option<i64>,
    reached: Vec<u64>,
    at_level: Vec<u64>,
    open_at: Vec<u64>,
    excluded_at: Vec<u64>,
}

impl Counts {
    fn new(groups: usize, steps: usize) -> Self {
        Counts {
            bad: None,
            reached: vec![0; groups * steps],
            at_level: vec![0; groups * (steps + 1)],
            open_at: vec![0; groups * (steps + 1)],
            excluded_at: vec![0; groups * (steps + 1)],
        }
    }

    fn add(mut self, other: Counts) -> Counts {
        self.bad = self.bad.or(other.bad);
        for (a, b) in [
            (&mut self.reached, other.reached),
            (&mut self.at_level, other.at_level),
            (&mut self.open_at, other.open_at),
            (&mut self.excluded_at, other.excluded_at),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }
}

/// Median and 90th percentile with pandas' linear interpolation; NaN for no values. Reorders
/// `values` (selection, not a sort).
fn median_and_p90(values: &mut [i64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len();
    let position = |q: f64| {
        let at = q * (n - 1) as f64;
        (at as usize, at % 1.0)
    };
    let (lo50, frac50) = position(0.5);
    let (lo90, frac90) = position(0.9);
    // The two order statistics of each quantile, from two selections: the median's split the
    // slice, the 90th percentile's lies in the upper part.
    let (_, &mut m, upper) = values.select_nth_unstable(lo50);
    let m_next = upper.iter().copied().min().unwrap_or(m);
    let (p, p_next) = if lo90 == lo50 {
        (m, m_next)
    } else {
        let (_, &mut p, rest) = upper.select_nth_unstable(lo90 - lo50 - 1);
        (p, rest.iter().copied().min().unwrap_or(p))
    };
    let lerp = |lo: i64, hi: i64, frac: f64| {
        let (lo, hi) = (lo as f64, hi as f64);
        lo + (hi - lo) * frac
    };
    (lerp(m, m_next, frac50), lerp(p, p_next, frac90))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_quantile(v: &[i64], q: f64) -> f64 {
        let mut s = v.to_vec();
        s.sort_unstable();
        let at = q * (s.len() - 1) as f64;
        let (lo, frac) = (at as usize, at % 1.0);
        let hi = s.get(lo + 1).copied().unwrap_or(s[lo]);
        s[lo] as f64 + (hi as f64 - s[lo] as f64) * frac
    }

    #[test]
    fn selection_gives_the_sorted_quantiles() {
        let mut x = 11u64;
        for n in 1..200 {
            let v: Vec<i64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 50) as i64 - 10
                })
                .collect();
            let (m, p) = median_and_p90(&mut v.clone());
            assert_eq!(m, sorted_quantile(&v, 0.5), "{v:?}");
            assert_eq!(p, sorted_quantile(&v, 0.9), "{v:?}");
        }
        assert!(median_and_p90(&mut []).0.is_nan());
    }

    #[test]
    fn groups_count_their_units_and_refuse_bad_codes() {
        let outcomes = UnitOutcomes {
            levels: &[2, 1, 2, 0],
            reached: &[0b11, 0b1, 0b11, 0],
            flags: &[0, IN_PROGRESS, EXCLUDED, 0],
        };
        let step2 = StepReach {
            units: &[0, 2],
            from_first: &[10, 30],
            from_previous: &[10, 30],
        };
        let t = group_tables(outcomes, &[step2], &[0, 0, 1, -1], 2).unwrap();
        assert_eq!(t.reached, vec![2, 1, 0, 0]);
        assert_eq!(t.at_level, vec![0, 1, 1, 0, 0, 0]);
        assert_eq!(t.open_at, vec![0, 1, 0, 0, 0, 0]);
        assert_eq!(t.excluded_at, vec![0, 0, 0, 0, 0, 1]);
        assert_eq!(t.median_from_first[1], 10.0);
        assert!(t.median_from_first[3].is_nan());
        assert!(group_tables(outcomes, &[step2], &[0, 0, 2, -1], 2).is_err());
        let stray = StepReach {
            units: &[7],
            from_first: &[1],
            from_previous: &[1],
        };
        assert!(group_tables(outcomes, &[stray], &[0, 0, 1, -1], 2).is_err());
    }
}
