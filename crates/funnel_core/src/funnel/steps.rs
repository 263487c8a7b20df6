//! Which steps each row matches, as a bit mask (bit k-1 for step k).
//!
//! Event-only steps are a lookup table by event code: a run reads one `u32` per row and nothing
//! else for rows no step can match. A step with property predicates also carries a filter, one
//! boolean per input row (evaluated vectorised by the caller); filters are folded into a mask per
//! encoded row once per run.

use arrow_buffer::BooleanBuffer;
use rayon::prelude::*;

use super::matching::{keep_rows, Relevant};
use crate::error::{CoreError, Result};
use crate::log::{Code, EncodedLog, EventCodes};
use crate::with_codes;

/// Step conditions as the caller defines them.
#[derive(Debug, Clone, Default)]
pub struct StepConditions {
    /// For each step: the event codes it accepts.
    pub event_codes: Vec<Vec<u32>>,
    /// For steps with property predicates: step index and one boolean per *input* row; a row
    /// matches the step only if its event is accepted and its filter value is true.
    pub row_filters: Vec<(usize, BooleanBuffer)>,
}

/// Resolved conditions the kernel reads.
pub(crate) enum RowSteps {
    /// Mask by event code.
    ByEvent(Vec<u32>),
    /// Mask per encoded row.
    ByRow(Vec<u32>),
}

impl RowSteps {
    pub(crate) fn resolve(log: &EncodedLog, conditions: &StepConditions) -> Result<Self> {
        let mut by_event = vec![0u32; log.event_names.len()];
        for (step, codes) in conditions.event_codes.iter().enumerate() {
            for &code in codes {
                let slot = by_event.get_mut(code as usize).ok_or_else(|| {
                    CoreError::InvalidFunnel(format!(
                        "step {} names event code {code}, but the log has {} event names",
                        step + 1,
                        log.event_names.len()
                    ))
                })?;
                *slot |= 1 << step;
            }
        }
        if conditions.row_filters.is_empty() {
            return Ok(RowSteps::ByEvent(by_event));
        }
        let input_rows = log.source_rows.iter().copied().max().unwrap_or(0) as usize + 1;
        for (step, filter) in &conditions.row_filters {
            if *step >= conditions.event_codes.len() {
                return Err(CoreError::InvalidFunnel(format!(
                    "a filter names step {}, but the funnel has {} steps",
                    step + 1,
                    conditions.event_codes.len()
                )));
            }
            if filter.len() < input_rows {
                return Err(CoreError::InvalidFunnel(format!(
                    "the condition of step {} has {} values; the log was built from {input_rows} rows",
                    step + 1,
                    filter.len()
                )));
            }
        }
        let masks = with_codes!(&log.events, codes => log
            .source_rows
            .par_iter()
            .zip(codes.par_iter())
            .map(|(&source, &code)| {
                let mut mask = by_event[code.index()];
                for (step, filter) in &conditions.row_filters {
                    if !filter.value(source as usize) {
                        mask &= !(1 << step);
                    }
                }
                mask
            })
            .collect());
        Ok(RowSteps::ByRow(masks))
    }
}

impl RowSteps {
    /// The steps encoded row `row` matches; one predictable branch per call.
    #[inline(always)]
    pub(crate) fn mask(&self, events: &EventCodes, row: usize) -> u32 {
        match self {
            RowSteps::ByEvent(table) => table[events.get(row) as usize],
            RowSteps::ByRow(masks) => masks[row],
        }
    }
}

/// The kernel's view of row masks; monomorphised so the event-only path stays a table lookup.
pub(crate) trait MaskSource: Sync {
    fn mask(&self, row: usize) -> u32;

    /// What a gathered row keeps to find its mask again (`mask_of_key`): its event code when
    /// masks go by event, so gathered rows serve every funnel over the same events.
    fn key(&self, row: usize) -> u32;

    fn mask_of_key(&self, key: u32) -> u32;

    /// Per key, the one step (1-based, 0 for none) its rows match, when no key matches two
    /// steps: the distinct-time path (`Scan::run_distinct`) reads a step, not a mask.
    fn step_of_key(&self) -> Option<Vec<u8>> {
        None
    }

    /// Append the rows of `rows` with a nonzero mask to `out`, in order.
    fn extract(&self, rows: std::ops::Range<usize>, out: &mut Vec<u32>) {
        let first = rows.start;
        keep_rows(out, rows.len(), |i| {
            ((first + i) as u32, self.mask(first + i) != 0)
        });
    }
}

pub(crate) struct EventMasks<'a, C> {
    pub table: &'a [u32],
    pub events: &'a [C],
    pub relevant: &'a Relevant,
}

impl<C: Code> MaskSource for EventMasks<'_, C> {
    #[inline(always)]
    fn mask(&self, row: usize) -> u32 {
        self.table[self.events[row].index()]
    }

    #[inline(always)]
    fn key(&self, row: usize) -> u32 {
        self.events[row].index() as u32
    }

    #[inline(always)]
    fn mask_of_key(&self, key: u32) -> u32 {
        self.table.get(key as usize).copied().unwrap_or(0)
    }

    fn step_of_key(&self) -> Option<Vec<u8>> {
        (self.table.iter().all(|m| m.count_ones() <= 1)).then(|| {
            (self.table.iter())
                .map(|&m| {
                    if m == 0 {
                        0
                    } else {
                        m.trailing_zeros() as u8 + 1
                    }
                })
                .collect()
        })
    }

    fn extract(&self, rows: std::ops::Range<usize>, out: &mut Vec<u32>) {
        let first = rows.start;
        self.relevant.extract(&self.events[rows], first, out);
    }
}

pub(crate) struct RowMasks<'a>(pub &'a [u32]);

impl MaskSource for RowMasks<'_> {
    #[inline(always)]
    fn mask(&self, row: usize) -> u32 {
        self.0[row]
    }

    #[inline(always)]
    fn key(&self, row: usize) -> u32 {
        self.0[row]
    }

    #[inline(always)]
    fn mask_of_key(&self, key: u32) -> u32 {
        key
    }
}
