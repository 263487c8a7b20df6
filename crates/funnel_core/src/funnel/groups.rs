//! Breakdowns without leaving the engine: each unit's group (the property value on the row its
//! chain is attributed to), then the step table of every group in one counting pass over the
//! units and one selection per (step, group) for the time quantiles.
//!
//! Quantiles interpolate linearly between order statistics exactly as pandas' grouped
//! `quantile` does (`lo + (hi - lo) * frac`, in f64), so tables match those built in Python.

use rayon::prelude::*;

use super::output::{FunnelOutput, EXCLUDED, IN_PROGRESS, NO_ROW};
use crate::error::{CoreError, Result};

/// Which row of a unit's chain carries the value it is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// The step-1 event.
    FirstTouch,
    /// The chain's last step.
    LastTouch,
    /// The event of this (1-based) step; units that did not reach it have no value.
    Step(usize),
}

/// The step table of each group: `[group * steps + k]` for step k+1, and `[group * (steps + 1)
/// + level]` for the per-level counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTables {
    pub groups: usize,
    pub steps: usize,
    /// Clean units whose chain includes the step.
    pub reached: Vec<u64>,
    /// Clean units at each level 0..=steps.
    pub at_level: Vec<u64>,
    /// Clean units in progress at each level.
    pub open_at: Vec<u64>,
    /// Excluded units at each level (the level their voided chain reached).
    pub excluded_at: Vec<u64>,
    /// Median and 90th percentile of the time to each step from step 1 and from the previous
    /// step, over clean units (NaN where none reached it; step 1 is always NaN).
    pub median_from_first: Vec<f64>,
    pub p90_from_first: Vec<f64>,
    pub median_from_previous: Vec<f64>,
    pub p90_from_previous: Vec<f64>,
}

impl GroupTables {
    /// Units of group `g` in the table at all (entered, clean or excluded).
    pub fn members(&self, g: usize) -> u64 {
        let levels = self.steps + 1;
        let row = g * levels..(g + 1) * levels;
        self.at_level[row.clone()].iter().sum::<u64>() + self.excluded_at[row].iter().sum::<u64>()
    }
}

impl FunnelOutput {
    fn flag(&self, unit: usize, flag: u8) -> bool {
        self.flags.as_ref().is_some_and(|f| f[unit] & flag != 0)
    }

    /// Steps in a unit's chain as a mask (a prefix of its level when the kernel does not say).
    fn reached_mask(&self, unit: usize) -> u32 {
        match &self.reached {
            Some(r) => r[unit],
            None => ((1u64 << self.levels[unit]) - 1) as u32,
        }
    }

    /// The group of every unit: `row_groups[row]` (by encoded row) at its attributed row,
    /// `missing` where it has no such row, -1 where the unit never did step 1.
    pub fn attribute(
        &self,
        row_groups: &[u32],
        missing: u32,
        how: Attribution,
        steps: usize,
    ) -> Result<Vec<i64>> {
        let group_of = |row: u32| -> Result<i64> {
            if row == NO_ROW {
                return Ok(missing as i64);
            }
            row_groups
                .get(row as usize)
                .map(|&g| g as i64)
                .ok_or_else(|| {
                    CoreError::InvalidFunnel(format!(
                        "the property codes cover {} rows but a chain names row {row}",
                        row_groups.len()
                    ))
                })
        };
        let rows: std::borrow::Cow<'_, [u32]> = match how {
            Attribution::FirstTouch | Attribution::Step(1) => (&self.entry_rows[..]).into(),
            Attribution::LastTouch => (&self.last_rows[..]).into(),
            Attribution::Step(step) => {
                let times = step
                    .checked_sub(2)
                    .and_then(|i| self.step_times.get(i))
                    .filter(|_| step <= steps)
                    .ok_or_else(|| {
                        CoreError::InvalidFunnel(format!(
                            "attribution step must be between 1 and {steps}; got {step}"
                        ))
                    })?;
                let mut rows = vec![NO_ROW; self.levels.len()];
                for (&unit, &row) in times.units.iter().zip(&times.rows) {
                    if let Some(slot) = rows.get_mut(unit as usize) {
                        *slot = row;
                    }
                }
                rows.into()
            }
        };
        self.levels
            .par_iter()
            .zip(rows.par_iter())
            .map(|(&level, &row)| if level == 0 { Ok(-1) } else { group_of(row) })
            .collect()
    }

    /// The step table of every group; `groups[unit]` is the unit's group (< `n_groups`), or
    /// negative for a unit in none.
    pub fn group_tables(
        &self,
        groups: &[i64],
        n_groups: usize,
        steps: usize,
    ) -> Result<GroupTables> {
        let n_units = self.levels.len();
        if groups.len() != n_units {
            return Err(CoreError::InvalidFunnel(format!(
                "{} group codes given for {n_units} units",
                groups.len()
            )));
        }
        if let Some(&bad) = groups.iter().find(|&&g| g >= n_groups as i64) {
            return Err(CoreError::InvalidFunnel(format!(
                "group code {bad} is not below the number of groups ({n_groups})"
            )));
        }
        let levels = steps + 1;
        let counts = (0..n_units)
            .into_par_iter()
            .fold(
                || Counts::new(n_groups, steps),
                |mut c, unit| {
                    let g = groups[unit];
                    if g < 0 {
                        return c;
                    }
                    let g = g as usize;
                    let level = (self.levels[unit] as usize).min(steps);
                    if self.flag(unit, EXCLUDED) {
                        c.excluded_at[g * levels + level] += 1;
                        return c;
                    }
                    c.at_level[g * levels + level] += 1;
                    if self.flag(unit, IN_PROGRESS) {
                        c.open_at[g * levels + level] += 1;
                    }
                    let mut mask = self.reached_mask(unit);
                    while mask != 0 {
                        let k = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        if k < steps {
                            c.reached[g * steps + k] += 1;
                        }
                    }
                    c
                },
            )
            .reduce(|| Counts::new(n_groups, steps), Counts::add);
        let mut tables = GroupTables {
            groups: n_groups,
            steps,
            reached: counts.reached,
            at_level: counts.at_level,
            open_at: counts.open_at,
            excluded_at: counts.excluded_at,
            median_from_first: vec![f64::NAN; n_groups * steps],
            p90_from_first: vec![f64::NAN; n_groups * steps],
            median_from_previous: vec![f64::NAN; n_groups * steps],
            p90_from_previous: vec![f64::NAN; n_groups * steps],
        };
        self.time_quantiles(groups, n_groups, steps, &mut tables);
        Ok(tables)
    }

    fn time_quantiles(&self, groups: &[i64], n_groups: usize, steps: usize, out: &mut GroupTables) {
        // Per step k >= 2 and per measure, the values of each group laid out contiguously.
        let jobs: Vec<(usize, bool)> = (2..=steps.min(self.step_times.len() + 1))
            .flat_map(|step| [(step, true), (step, false)])
            .collect();
        let results: Vec<(usize, bool, Vec<(f64, f64)>)> = jobs
            .into_par_iter()
            .map(|(step, from_first)| {
                let times = &self.step_times[step - 2];
                let values = if from_first {
                    &times.from_start
                } else {
                    &times.from_previous
                };
                let group_of = |i: usize| {
                    let unit = times.units[i] as usize;
                    match groups.get(unit) {
                        Some(&g) if g >= 0 && !self.flag(unit, EXCLUDED) => Some(g as usize),
                        _ => None,
                    }
                };
                let mut starts = vec![0usize; n_groups + 1];
                for i in 0..values.len() {
                    if let Some(g) = group_of(i) {
                        starts[g + 1] += 1;
                    }
                }
                for g in 0..n_groups {
                    starts[g + 1] += starts[g];
                }
                let mut laid = vec![0i64; starts[n_groups]];
                let mut next = starts.clone();
                for (i, &v) in values.iter().enumerate() {
                    if let Some(g) = group_of(i) {
                        laid[next[g]] = v;
                        next[g] += 1;
                    }
                }
                let quantiles = (0..n_groups)
                    .map(|g| median_and_p90(&mut laid[starts[g]..starts[g + 1]]))
                    .collect();
                (step, from_first, quantiles)
            })
            .collect();
        for (step, from_first, quantiles) in results {
            for (g, (median, p90)) in quantiles.into_iter().enumerate() {
                let at = g * steps + step - 1;
                if from_first {
                    out.median_from_first[at] = median;
                    out.p90_from_first[at] = p90;
                } else {
                    out.median_from_previous[at] = median;
                    out.p90_from_previous[at] = p90;
                }
            }
        }
    }
}

struct Counts {
    reached: Vec<u64>,
    at_level: Vec<u64>,
    open_at: Vec<u64>,
    excluded_at: Vec<u64>,
}

impl Counts {
    fn new(groups: usize, steps: usize) -> Self {
        Counts {
            reached: vec![0; groups * steps],
            at_level: vec![0; groups * (steps + 1)],
            open_at: vec![0; groups * (steps + 1)],
            excluded_at: vec![0; groups * (steps + 1)],
        }
    }

    fn add(mut self, other: Counts) -> Counts {
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
}
