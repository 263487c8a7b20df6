//! A literal transcription of ClickHouse's `windowFunnel` for one user, written for clarity, not
//! speed: build `(timestamp, step)` pairs, stable-sort them, walk them with one optional slot per
//! level. The property tests hold the fast kernel to it on random logs.

use super::spec::FunnelSpec;

/// Level reached by one user whose events are `(timestamp, matched-steps mask)` in any order.
pub fn reference_level(spec: &FunnelSpec, events: &[(i64, u32)]) -> u8 {
    let mode = spec.mode;
    let n = spec.steps;
    let mut pairs: Vec<(i64, usize)> = Vec::new();
    for &(ts, mask) in events {
        let mut any = false;
        for k in (1..=n).rev() {
            if mask & (1 << (k - 1)) != 0 {
                pairs.push((ts, k));
                any = true;
            }
        }
        if mode.strict_order && !any {
            pairs.push((ts, 0));
        }
    }
    if pairs.is_empty() {
        return 0;
    }
    pairs.sort(); // stable, by (timestamp, step)

    let mut slots: Vec<Option<(i64, i64)>> = vec![None; n];
    let highest = |slots: &Vec<Option<(i64, i64)>>| {
        slots.iter().rposition(|s| s.is_some()).map_or(0, |i| i + 1) as u8
    };
    let mut first_event = false;
    for (ts, k) in pairs {
        if mode.strict_order && k == 0 {
            if first_event {
                break;
            }
            continue;
        }
        if k == 0 {
            continue;
        }
        let idx = k - 1;
        if idx == 0 {
            slots[0] = Some((ts, ts));
            first_event = true;
        } else if mode.strict_deduplication && slots[idx].is_some() {
            return highest(&slots);
        } else if mode.strict_order && first_event && slots[idx - 1].is_none() {
            if mode.allow_reentry {
                continue;
            }
            return slots.iter().position(|s| s.is_none()).unwrap_or(n) as u8;
        } else if let Some((start, last)) = slots[idx - 1] {
            let mut ok = ts <= start.saturating_add(spec.window);
            if mode.strict_increase {
                ok = ok && last < ts;
            }
            if ok {
                slots[idx] = Some((start, ts));
                if idx + 1 == n {
                    return n as u8;
                }
            }
        }
    }
    highest(&slots)
}
