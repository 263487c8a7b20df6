//! The open-window rule, for every kernel: a unit whose best chain has not completed is *in
//! progress* (censored), not dropped, while the window opened by its step-1 event still reaches
//! past the analysis end (by default the log's last event).

/// Whether a chain at `level` (1-based) of a `steps`-step funnel, whose step-1 event happened at
/// `start`, may still move on at `analysis_end` with a `window` measured from step 1.
///
/// The end of the window saturates: on a nanosecond log a window of centuries reaches past
/// `i64::MAX`, and such a window is open, never wrapped round into the past.
#[inline]
pub fn window_open(level: u8, steps: usize, start: i64, window: i64, analysis_end: i64) -> bool {
    (level as usize) < steps && start.saturating_add(window) > analysis_end
}

#[cfg(test)]
mod tests {
    use super::window_open;

    #[test]
    fn completed_chains_are_never_open() {
        assert!(!window_open(3, 3, 0, 100, 0));
        assert!(window_open(2, 3, 0, 100, 0));
    }

    #[test]
    fn the_window_end_is_exclusive_at_the_analysis_end() {
        // A step may join at start + window, but nothing happens after the analysis end.
        assert!(!window_open(1, 2, 0, 10, 10));
        assert!(window_open(1, 2, 1, 10, 10));
    }

    #[test]
    fn a_window_past_the_largest_time_saturates_instead_of_wrapping() {
        let start = i64::MAX - 5;
        assert!(window_open(1, 2, start, i64::MAX, i64::MAX - 1));
        assert!(!window_open(1, 2, start, i64::MAX, i64::MAX));
    }
}
