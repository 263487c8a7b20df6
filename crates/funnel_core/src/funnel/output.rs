//! What a funnel run leaves behind: arrays per counted unit and per step, aggregated on demand.
//!
//! A unit is a user when counting users, or one attempt when counting conversions (totals).

/// The units that reached one step k ≥ 2, ascending by unit, with how long it took and on which
/// input row the step happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepTimes {
    pub units: Vec<u32>,
    /// From the chain's step-1 event.
    pub from_start: Vec<i64>,
    /// From the chain's previous reached step.
    pub from_previous: Vec<i64>,
    /// Encoded row (position in the log's sorted rows) of the event that made the step.
    pub rows: Vec<u32>,
}

impl StepTimes {
    pub fn push(&mut self, unit: u32, from_start: i64, from_previous: i64, row: u32) {
        self.units.push(unit);
        self.from_start.push(from_start);
        self.from_previous.push(from_previous);
        self.rows.push(row);
    }

    pub fn append(&mut self, mut other: StepTimes) {
        self.units.append(&mut other.units);
        self.from_start.append(&mut other.from_start);
        self.from_previous.append(&mut other.from_previous);
        self.rows.append(&mut other.rows);
    }
}

/// Per-unit flag: the unit's chain has not completed and its window is still open at the
/// analysis end (see `open_window`).
pub const IN_PROGRESS: u8 = 1;
/// Per-unit flag: the unit's best chain was voided by an exclusion.
pub const EXCLUDED: u8 = 2;
/// The row of a step a unit never made (entry and last rows at level 0).
pub const NO_ROW: u32 = u32::MAX;

/// The result of one funnel run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelOutput {
    /// Dense user id of each unit; `None` when units are the users themselves, in id order.
    pub unit_users: Option<Vec<u32>>,
    /// Highest step reached by each unit (0: never did step 1).
    pub levels: Vec<u8>,
    /// Steps in each unit's chain (bit k-1 for step k); `None` when always `levels` as a prefix.
    pub reached: Option<Vec<u32>>,
    /// `IN_PROGRESS` / `EXCLUDED` per unit; `None` when all zero.
    pub flags: Option<Vec<u8>>,
    /// Encoded row of the step-1 event of each unit's chain (`NO_ROW` at level 0). Rows stay
    /// encoded so a re-run pays no random lookups; `EncodedLog::source_rows` maps them to input
    /// rows when a breakdown needs them.
    pub entry_rows: Vec<u32>,
    /// Encoded row of the last step of each unit's chain (`NO_ROW` at level 0).
    pub last_rows: Vec<u32>,
    /// Steps 2..=N (index 0 is step 2).
    pub step_times: Vec<StepTimes>,
}

impl FunnelOutput {
    /// Units at each level 0..=steps, excluded units left out.
    pub fn level_counts(&self, steps: usize) -> Vec<u64> {
        let mut counts = vec![0u64; steps + 1];
        for (unit, &level) in self.levels.iter().enumerate() {
            if !self.is_excluded(unit) {
                counts[level as usize] += 1;
            }
        }
        counts
    }

    pub fn is_excluded(&self, unit: usize) -> bool {
        self.flags.as_ref().is_some_and(|f| f[unit] & EXCLUDED != 0)
    }
}
