//! What a funnel run leaves behind: arrays per user and per step, aggregated on demand.

/// Times to reach one step (k ≥ 2), for the users who reached it, ascending by user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepTimes {
    pub users: Vec<u32>,
    /// From the chain's step-1 event.
    pub from_start: Vec<i64>,
    /// From the chain's previous step.
    pub from_previous: Vec<i64>,
}

/// The result of one funnel run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelOutput {
    /// Level reached by each dense user id (0: never did step 1).
    pub levels: Vec<u8>,
    /// Input row of the step-1 event of each user's best chain (`u32::MAX` at level 0).
    pub entry_rows: Vec<u32>,
    /// Times for steps 2..=N (index 0 is step 2).
    pub step_times: Vec<StepTimes>,
}

impl FunnelOutput {
    /// Users at each level 0..=steps.
    pub fn level_counts(&self, steps: usize) -> Vec<u64> {
        let mut counts = vec![0u64; steps + 1];
        for &level in &self.levels {
            counts[level as usize] += 1;
        }
        counts
    }
}
