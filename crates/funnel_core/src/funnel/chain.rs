//! A chain: the events that carried one attempt through the steps, and what became of it.

/// One attempt's path through the steps: which steps it made and on which rows. Kept small
/// (the times come from the log when needed) because chains are copied, never allocated, in the
/// per-user loop. `N` is the most steps a chain can hold: funnels of a few steps use a small
/// one, so each copy moves tens of bytes instead of the 150 a 32-step chain takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain<const N: usize> {
    pub len: u8,
    /// Zero-based steps in the chain, one bit each (any order: the first `len` bits).
    pub mask: u32,
    /// Encoded row of each element, in chain order.
    pub rows: [u32; N],
    first: i64,
    last: i64,
}

impl<const N: usize> Chain<N> {
    pub fn start(row: u32, time: i64) -> Self {
        let mut chain = Self::EMPTY;
        chain.restart(row, time);
        chain
    }

    /// No chain: the state of a machine's slot that holds none (`len` 0).
    pub const EMPTY: Self = Chain {
        len: 0,
        mask: 0,
        rows: [0; N],
        first: 0,
        last: 0,
    };

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Make this slot empty; the rest of it is left as it was, as nothing reads it.
    #[inline(always)]
    pub fn vacate(&mut self) {
        self.len = 0;
    }

    /// Make this slot a new chain at `row`, in place: building a chain and copying it in costs
    /// a store-forwarding stall per copy (its narrow stores read back as wide loads).
    #[inline(always)]
    pub fn restart(&mut self, row: u32, time: i64) {
        self.len = 1;
        self.mask = 1;
        self.rows[0] = row;
        self.first = time;
        self.last = time;
    }

    /// Extend this chain in place by `step` at `row` (see `restart`).
    #[inline(always)]
    pub fn push(&mut self, step: usize, row: u32, time: i64) {
        self.rows[self.len as usize] = row;
        self.len += 1;
        self.mask |= 1 << step;
        self.last = time;
    }

    pub fn extended(&self, step: usize, row: u32, time: i64) -> Self {
        let mut chain = *self;
        chain.push(step, row, time);
        chain
    }

    #[inline]
    pub fn first_time(&self) -> i64 {
        self.first
    }

    #[inline]
    pub fn last_time(&self) -> i64 {
        self.last
    }

    #[inline]
    pub fn entry_row(&self) -> u32 {
        self.rows[0]
    }

    #[inline]
    pub fn last_row(&self) -> u32 {
        self.rows[self.len as usize - 1]
    }

    /// 1-based furthest step.
    #[inline]
    pub fn level(&self) -> u8 {
        (32 - self.mask.leading_zeros()) as u8
    }

    /// (zero-based step, encoded row) of each element, in chain order.
    pub fn elements(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let mut remaining = self.mask;
        self.rows[..self.len as usize].iter().map(move |&row| {
            let step = remaining.trailing_zeros() as usize;
            remaining &= remaining - 1;
            (step, row)
        })
    }
}

/// The chain one event just made: a new chain at `row` (`from` is `None`), or `from` extended by
/// `step` at `row`. Handed to whoever keeps a copy as the recipe rather than the result: a copy
/// built from `from`, whose stores are long done, costs no store-forwarding stall, where reading
/// back the chain just pushed (narrow stores read as wide loads) costs one per copy.
#[derive(Clone, Copy)]
pub(crate) struct Reach<'a, const N: usize> {
    pub from: Option<&'a Chain<N>>,
    pub step: usize,
    pub row: u32,
    pub time: i64,
}

impl<const N: usize> Reach<'_, N> {
    /// 1-based furthest step of the chain made.
    #[inline(always)]
    pub fn level(&self) -> u8 {
        let mask = self.from.map_or(0, |c| c.mask) | 1 << self.step;
        (32 - mask.leading_zeros()) as u8
    }

    #[inline(always)]
    pub fn first_time(&self) -> i64 {
        self.from.map_or(self.time, Chain::first_time)
    }

    /// Whether the chain made is new (one step long).
    #[inline(always)]
    pub fn is_start(&self) -> bool {
        self.from.is_none()
    }

    /// Make `to` the chain made.
    #[inline(always)]
    pub fn write(&self, to: &mut Chain<N>) {
        match self.from {
            None => to.restart(self.row, self.time),
            Some(from) => {
                *to = *from;
                to.push(self.step, self.row, self.time);
            }
        }
    }
}

/// What one counted unit (a user, or an attempt) ended as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome<const N: usize> {
    pub chain: Chain<N>,
    pub excluded: bool,
    pub in_progress: bool,
}

impl<const N: usize> Outcome<N> {
    /// Whether `self` is a better result for a user than `other`: further wins; at the same
    /// step a clean chain beats an excluded one.
    pub fn beats(&self, other: &Outcome<N>) -> bool {
        other.yields_to(self.chain.level(), self.excluded)
    }

    /// Whether an outcome at `level`, `excluded` or not, beats `self` (`beats`, asked before
    /// that outcome is built).
    #[inline]
    pub fn yields_to(&self, level: u8, excluded: bool) -> bool {
        let mine = self.chain.level();
        level > mine || (level == mine && self.excluded && !excluded)
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
