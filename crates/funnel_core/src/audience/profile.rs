//! A profile's table in one call: every tag's users inside the audience, the tags kept by
//! support, their shares, TGI, lift with its interval and the z statistic of the audience
//! against the rest of the base, ranked. A profile is a few hundred rows, so doing the
//! arithmetic here rather than as two dozen small array operations in Python is most of what
//! separates the table from the bare counts.
//!
//! The formulas are the ones `workbench.audience.insight` documents, written in the same order
//! of operations as its NumPy reference, so every value is the same float (divisions and square
//! roots are correctly rounded either way; `exp` is the platform's, as NumPy's is on CPUs
//! without AVX-512). The p-value is the C library's `erfc`, the function Python's `math.erfc`
//! calls, so it is the float `workbench.stats.two_sided_p` gives.

use std::cmp::Ordering;

use super::set::Audience;
use super::tags::TagStore;

/// The float columns of a profile, in the order of [`ProfileTable::floats`].
pub const FLOAT_COLUMNS: [&str; 7] = [
    "audience_share",
    "base_share",
    "tgi",
    "lift",
    "lift_low",
    "lift_high",
    "p_value",
];

/// The ranked rows of a profile, column by column.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileTable {
    /// Rows.
    pub rows: usize,
    /// Three integer columns of `rows` each: tag index, users of the tag in the audience, users
    /// of the tag in the base.
    pub ints: Vec<i64>,
    /// [`FLOAT_COLUMNS`], `rows` each.
    pub floats: Vec<f64>,
}

/// One tag's statistics before ranking.
struct Row {
    tag: usize,
    count: u64,
    base_count: u64,
    values: [f64; 7],
}

/// The profile of `audience` (already within `base`) against every tag of `store`, over `base`
/// (every user of the log when None): tags with at least `min_count` users in the audience,
/// highest TGI first, then most users, then store order; `z` is the interval's normal quantile.
pub fn profile_table(
    audience: &Audience,
    base: Option<&Audience>,
    store: &TagStore,
    z: f64,
    min_count: f64,
) -> ProfileTable {
    let index = store.chunk_index();
    let (counts, base_counts) = match base {
        None => (
            index.intersections(audience.dense()),
            store.bitmaps().iter().map(|b| b.len()).collect(),
        ),
        Some(base) => rayon::join(
            || index.intersections(audience.dense()),
            || index.intersections(base.dense()),
        ),
    };
    let n1 = audience.len() as f64;
    let n = base.map_or(store.universe() as u64, |b| b.len());
    let n0 = n - audience.len().min(n);
    let mut rows: Vec<Row> = counts
        .iter()
        .zip(&base_counts)
        .enumerate()
        .filter(|&(_, (&count, _))| count as f64 >= min_count)
        .map(|(tag, (&count, &base_count))| Row {
            tag,
            count,
            base_count,
            values: statistics(count as f64, base_count as f64, n1, n as f64, n0 as f64, z),
        })
        .collect();
    // Stable: equal rows keep the store's order. NaN TGI (a tag nobody has) ranks last.
    rows.sort_by(|a, b| descending(a.values[2], b.values[2]).then_with(|| b.count.cmp(&a.count)));
    let m = rows.len();
    let mut ints = vec![0i64; 3 * m];
    let mut floats = vec![0f64; 7 * m];
    for (i, row) in rows.iter().enumerate() {
        ints[i] = row.tag as i64;
        ints[m + i] = row.count as i64;
        ints[2 * m + i] = row.base_count as i64;
        for (c, &v) in row.values.iter().enumerate() {
            floats[c * m + i] = v;
        }
    }
    ProfileTable {
        rows: m,
        ints,
        floats,
    }
}

/// Larger first, NaN after every number; -0.0 and 0.0 tie (as NumPy's sort has them).
fn descending(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// [`FLOAT_COLUMNS`] of one tag with `a` users in the audience of `n1` and `cb` in the base of
/// `n` (`n0` outside the audience). Delta-method variance of log lift, audience vs the rest;
/// the p-value of the two-proportion z test, audience vs the rest.
fn statistics(a: f64, cb: f64, n1: f64, n: f64, n0: f64, z: f64) -> [f64; 7] {
    let p1 = a / n1;
    let pb = cb / n;
    let p0 = if n0 != 0.0 { (cb - a) / n0 } else { f64::NAN };
    let lift = p1 / pb;
    let w = n1 / n;
    let d = 1.0 / p1 - w / pb;
    let mut var = d * d * p1 * (1.0 - p1) / n1;
    if n0 != 0.0 {
        let e = (1.0 - w) / pb;
        var += e * e * p0 * (1.0 - p0) / n0;
    }
    let se = var.sqrt();
    let low = lift * (-z * se).exp();
    let high = lift * (z * se).exp();
    let rest = if n0 != 0.0 { 1.0 / n0 } else { f64::NAN };
    let pooled = (pb * (1.0 - pb) * (1.0 / n1 + rest)).sqrt();
    let p = two_sided_p((p1 - p0) / pooled);
    [p1, pb, lift * 100.0, lift, low, high, p]
}

#[cfg_attr(unix, link(name = "m"))]
extern "C" {
    fn erfc(x: f64) -> f64;
}

/// P(|Z| >= |z|) for a standard normal Z, as `workbench.stats.two_sided_p` computes it (NaN
/// stays NaN, where `f64::min` would give 1).
fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    // SAFETY: erfc is a pure function of one double, defined for every input.
    let tail = unsafe { erfc(z.abs() / std::f64::consts::SQRT_2) };
    tail.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> TagStore {
        let mut s = TagStore::new(10);
        for (name, ids) in [
            ("a", vec![0u32, 1, 2, 3]),
            ("b", vec![0, 5, 6]),
            ("empty", vec![]),
            ("c", vec![1, 2, 7, 8, 9]),
        ] {
            s.add(name, Audience::from_ids(&ids, 10).unwrap()).unwrap();
        }
        s
    }

    #[test]
    fn rows_are_ranked_by_tgi_then_users_with_nan_last() {
        let s = store();
        let audience = Audience::from_ids(&[0, 1, 2], 10).unwrap();
        let t = profile_table(&audience, None, &s, 1.96, 0.0);
        assert_eq!(t.rows, 4);
        // tgi: a = (3/3)/(4/10) = 250, b = (1/3)/(3/10) = 111.1, c = (2/3)/(5/10) = 133.3.
        assert_eq!(&t.ints[..4], &[0, 3, 1, 2]);
        assert_eq!(&t.ints[4..8], &[3, 2, 1, 0]);
        assert_eq!(&t.ints[8..], &[4, 5, 3, 0]);
        assert_eq!(t.floats[2 * 4], 250.0);
        assert!(t.floats[2 * 4 + 3].is_nan());
    }

    #[test]
    fn support_and_base_narrow_the_rows() {
        let s = store();
        let base = Audience::from_ids(&[0, 1, 2, 5, 7], 10).unwrap();
        let audience = Audience::from_ids(&[0, 1], 10).unwrap();
        let t = profile_table(&audience, Some(&base), &s, 1.96, 1.0);
        // a: 2 of 2 in, 3 of 5 in the base; b: 1, 2; c: 1, 3.
        assert_eq!(t.rows, 3);
        assert_eq!(&t.ints[..3], &[0, 1, 3]);
        assert_eq!(&t.ints[6..], &[3, 2, 3]);
        assert_eq!(t.floats[3], 3.0 / 5.0);
    }

    #[test]
    fn p_values_are_two_sided_normal_tails() {
        assert_eq!(two_sided_p(0.0), 1.0);
        assert!((two_sided_p(1.959963984540054) - 0.05).abs() < 1e-15);
        assert_eq!(two_sided_p(-1.5), two_sided_p(1.5));
        assert!(two_sided_p(40.0) < 1e-300);
        assert!(two_sided_p(f64::NAN).is_nan());
    }

    #[test]
    fn an_audience_of_the_whole_base_has_no_rest() {
        let s = store();
        let everyone = Audience::all(10);
        let t = profile_table(&everyone, None, &s, 1.96, 0.0);
        let p = &t.floats[6 * t.rows..];
        assert!(p.iter().all(|v| v.is_nan()));
        assert_eq!(t.floats[2 * t.rows], 100.0);
    }
}
