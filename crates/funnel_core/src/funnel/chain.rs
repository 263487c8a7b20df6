//! A chain: the events that carried one attempt through the steps, and what became of it.

/// One attempt's path through the steps: which step each event made, on which row and when.
/// Fixed-size so a chain is copied, never allocated, in the per-user loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain {
    pub len: u8,
    /// Zero-based step of each element (for any-order funnels: the k-th distinct step).
    pub steps: [u8; 32],
    /// Encoded row of each element.
    pub rows: [u32; 32],
    pub times: [i64; 32],
}

impl Chain {
    pub fn start(row: u32, time: i64) -> Self {
        let mut chain = Chain {
            len: 1,
            steps: [0; 32],
            rows: [0; 32],
            times: [0; 32],
        };
        chain.rows[0] = row;
        chain.times[0] = time;
        chain
    }

    pub fn extended(&self, step: usize, row: u32, time: i64) -> Self {
        let mut chain = *self;
        let i = chain.len as usize;
        chain.steps[i] = step as u8;
        chain.rows[i] = row;
        chain.times[i] = time;
        chain.len += 1;
        chain
    }

    #[inline]
    pub fn first_time(&self) -> i64 {
        self.times[0]
    }

    #[inline]
    pub fn last_time(&self) -> i64 {
        self.times[self.len as usize - 1]
    }

    #[inline]
    pub fn entry_row(&self) -> u32 {
        self.rows[0]
    }

    /// 1-based furthest step.
    #[inline]
    pub fn level(&self) -> u8 {
        self.steps[self.len as usize - 1] + 1
    }

    /// Steps in the chain as a bit mask.
    pub fn mask(&self) -> u32 {
        self.steps[..self.len as usize]
            .iter()
            .fold(0u32, |m, s| m | (1 << s))
    }
}

/// What one counted unit (a user, or an attempt) ended as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    pub chain: Chain,
    pub excluded: bool,
    pub in_progress: bool,
}

impl Outcome {
    /// Whether `self` is a better result for a user than `other`: further wins; at the same
    /// step a clean chain beats an excluded one.
    pub fn beats(&self, other: &Outcome) -> bool {
        let (a, b) = (self.chain.level(), other.chain.level());
        a > b || (a == b && other.excluded && !self.excluded)
    }
}

/// One row as the chain machines see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub time: i64,
    pub row: u32,
    pub steps: u32,
    pub exclusions: u32,
}
