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
    // Group codes are checked as they are counted: a bad one is kept and reported after. One
    // set of counts per stretch of chunks a thread takes (rayon's fold), not per chunk: a
    // breakdown may have many groups.
    let counts = (units.levels.par_chunks(CHUNK).enumerate())
        .fold(
            || Counts::new(n_groups, n_steps),
            |mut c, (nth, chunk_levels)| {
                let from = nth * CHUNK;
                for (unit, &level) in (from..).zip(chunk_levels) {
                    let g = groups[unit];
                    if g >= n_groups as i64 {
                        c.bad.get_or_insert(g);
                        continue;
                    }
                    c.add_unit(
                        g,
                        level,
                        units.flags[unit] & (IN_PROGRESS | EXCLUDED),
                        units.reached[unit],
                    );
                }
                c
            },
        )
        .reduce(|| Counts::new(n_groups, n_steps), Counts::add);
    if let Some(bad) = counts.bad {
        return Err(invalid(format!(
            "group code {bad} is not below the number of groups ({n_groups})"
        )));
    }
    let (reached, at_level, open_at, excluded_at) = counts.tables();
    let mut tables = GroupTables {
        groups: n_groups,
        steps: n_steps,
        reached,
        at_level,
        open_at,
        excluded_at,
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
            // The selections are most of a step's time: both measures' run side by side.
            Ok(rayon::join(
                || quantiles(&mut first),
                || quantiles(&mut previous),
            ))
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

/// The counts of one stretch of units (a thread's share of the fold), one increment a unit in
/// the common case. Units in no group are counted in one more group, then dropped (about half
/// the units are in none, and a branch on it mispredicted every other unit); units are tallied
/// by (group, in progress and excluded bits, level); the steps each reached come from those
/// tallies when a unit's chain is the first `level` steps, and are added bit by bit only for
/// other chains (optional steps, or outcomes computed elsewhere).
struct Counts {
    /// The first group code found out of range, if any.
    bad: Option<i64>,
    groups: usize,
    steps: usize,
    /// `[(group * 4 + flags) * (steps + 1) + level]`.
    tally: Vec<u64>,
    /// Clean units whose chain is not the first `level` steps: `[group * (steps + 1) + level]`.
    odd: Vec<u64>,
    /// The steps those units reached: `[group * steps + k]`.
    odd_reached: Vec<u64>,
}

impl Counts {
    fn new(groups: usize, steps: usize) -> Self {
        let levels = steps + 1;
        Counts {
            bad: None,
            groups,
            steps,
            tally: vec![0; (groups + 1) * 4 * levels],
            odd: vec![0; (groups + 1) * levels],
            odd_reached: vec![0; (groups + 1) * steps],
        }
    }

    /// Count one unit of group `g` (negative: none) with `flags` (`IN_PROGRESS`, `EXCLUDED`).
    #[inline(always)]
    fn add_unit(&mut self, g: i64, level: u8, flags: u8, reached: u32) {
        let (steps, levels) = (self.steps, self.steps + 1);
        let g = if g < 0 { self.groups } else { g as usize };
        let level = (level as usize).min(steps);
        self.tally[(g * 4 + flags as usize) * levels + level] += 1;
        let all = u32::MAX >> (32 - steps);
        let first_steps = ((1u64 << level) - 1) as u32;
        if flags & EXCLUDED == 0 && reached & all != first_steps {
            self.odd[g * levels + level] += 1;
            let mut mask = reached & all;
            while mask != 0 {
                self.odd_reached[g * steps + mask.trailing_zeros() as usize] += 1;
                mask &= mask - 1;
            }
        }
    }

    fn add(mut self, other: Counts) -> Counts {
        self.bad = self.bad.or(other.bad);
        for (a, b) in [
            (&mut self.tally, other.tally),
            (&mut self.odd, other.odd),
            (&mut self.odd_reached, other.odd_reached),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }

    /// Per group (the units in none left out): units reaching each step, counted units at
    /// each level, of them in progress, and excluded units at each level.
    fn tables(&self) -> (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>) {
        let (groups, steps, levels) = (self.groups, self.steps, self.steps + 1);
        let mut reached = vec![0; groups * steps];
        let mut at_level = vec![0; groups * levels];
        let mut open_at = vec![0; groups * levels];
        let mut excluded_at = vec![0; groups * levels];
        let at = |g: usize, flags: u8, level: usize| {
            self.tally[(g * 4 + flags as usize) * levels + level]
        };
        for g in 0..groups {
            for level in 0..levels {
                let i = g * levels + level;
                open_at[i] = at(g, IN_PROGRESS, level);
                at_level[i] = at(g, 0, level) + open_at[i];
                excluded_at[i] = at(g, EXCLUDED, level) + at(g, EXCLUDED | IN_PROGRESS, level);
            }
            for k in 0..steps {
                // Units whose chain is the first `level` steps reached step k + 1 if level > k.
                let first_steps: u64 = (k + 1..levels)
                    .map(|level| at_level[g * levels + level] - self.odd[g * levels + level])
                    .sum();
                reached[g * steps + k] = first_steps + self.odd_reached[g * steps + k];
            }
        }
        (reached, at_level, open_at, excluded_at)
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

    proptest::proptest! {
        /// The counts, against their definition unit by unit: any masks (optional steps skip,
        /// outcomes from elsewhere need not be the first `level` steps), any flags.
        #[test]
        fn counts_follow_their_definition(
            n_steps in 1usize..6,
            n_groups in 1usize..4,
            units in proptest::collection::vec((0u8..8, 0u32..64, 0u8..4, -1i64..4), 0..300),
        ) {
            let levels: Vec<u8> = units.iter().map(|u| u.0).collect();
            let reached: Vec<u32> = units.iter().map(|u| u.1).collect();
            let flags: Vec<u8> = units.iter().map(|u| u.2).collect();
            let groups: Vec<i64> = units.iter().map(|u| u.3.min(n_groups as i64 - 1)).collect();
            let outcomes = UnitOutcomes { levels: &levels, reached: &reached, flags: &flags };
            let no_times = vec![StepReach { units: &[], from_first: &[], from_previous: &[] }; n_steps - 1];
            let t = group_tables(outcomes, &no_times, &groups, n_groups).unwrap();
            let n_levels = n_steps + 1;
            let mut expected = (
                vec![0u64; n_groups * n_steps],
                vec![0u64; n_groups * n_levels],
                vec![0u64; n_groups * n_levels],
                vec![0u64; n_groups * n_levels],
            );
            for unit in 0..units.len() {
                let Ok(g) = usize::try_from(groups[unit]) else { continue };
                let level = (levels[unit] as usize).min(n_steps);
                if flags[unit] & EXCLUDED != 0 {
                    expected.3[g * n_levels + level] += 1;
                    continue;
                }
                expected.1[g * n_levels + level] += 1;
                if flags[unit] & IN_PROGRESS != 0 {
                    expected.2[g * n_levels + level] += 1;
                }
                for k in 0..n_steps {
                    if reached[unit] >> k & 1 == 1 {
                        expected.0[g * n_steps + k] += 1;
                    }
                }
            }
            proptest::prop_assert_eq!((t.reached, t.at_level, t.open_at, t.excluded_at), expected);
        }
    }
}
