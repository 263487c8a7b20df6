//! Original user keys to dense ids and back. Keys are sorted by dense id, so a lookup is a binary
//! search and mapping a sorted set of ids gives sorted keys.

use roaring::RoaringBitmap;

use super::set::{from_sorted, Audience};
use crate::error::{CoreError, Result};
use crate::log::UserKeys;

/// Keys given by the caller, in the type they arrived in.
#[derive(Debug, Clone)]
pub enum KeyQuery<'a> {
    Int(&'a [i64]),
    Str(&'a [&'a str]),
}

/// Dense ids of the keys; `Err` lists missing keys (up to 5) and how many there are.
pub fn lookup(keys: &UserKeys, query: &KeyQuery<'_>) -> Result<Vec<u32>> {
    let (ids, missing) = lookup_partial(keys, query)?;
    if missing.is_empty() {
        return Ok(ids.into_iter().flatten().collect());
    }
    let shown: Vec<String> = missing.iter().take(5).map(|m| m.to_string()).collect();
    Err(CoreError::InvalidAudience(format!(
        "{} user key(s) are not in the event log, e.g. {}; \
         only users with at least one event can be in an audience",
        missing.len(),
        shown.join(", ")
    )))
}

/// A key that was asked for but is not in the log, shown in messages.
#[derive(Debug, Clone, PartialEq)]
pub enum MissingKey {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for MissingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissingKey::Int(k) => write!(f, "{k}"),
            MissingKey::Str(k) => write!(f, "{k:?}"),
        }
    }
}

/// Dense id per query key (`None` when absent) and the absent keys.
pub fn lookup_partial(
    keys: &UserKeys,
    query: &KeyQuery<'_>,
) -> Result<(Vec<Option<u32>>, Vec<MissingKey>)> {
    let mut missing = Vec::new();
    let ids = match (keys, query) {
        (UserKeys::Int(table), KeyQuery::Int(q)) => q
            .iter()
            .map(|k| {
                let id = table.binary_search(k).ok().map(|i| i as u32);
                if id.is_none() {
                    missing.push(MissingKey::Int(*k));
                }
                id
            })
            .collect(),
        (UserKeys::Str(table), KeyQuery::Str(q)) => q
            .iter()
            .map(|k| {
                let id = table
                    .binary_search_by(|t| t.as_str().cmp(k))
                    .ok()
                    .map(|i| i as u32);
                if id.is_none() {
                    missing.push(MissingKey::Str(k.to_string()));
                }
                id
            })
            .collect(),
        (UserKeys::Int(_), KeyQuery::Str(_)) => {
            return Err(CoreError::InvalidAudience(
                "the log's user keys are integers but string keys were given".into(),
            ))
        }
        (UserKeys::Str(_), KeyQuery::Int(_)) => {
            return Err(CoreError::InvalidAudience(
                "the log's user keys are strings but integer keys were given".into(),
            ))
        }
    };
    Ok((ids, missing))
}

/// The audience of the given keys (all must be in the log).
pub fn from_keys(keys: &UserKeys, query: &KeyQuery<'_>) -> Result<Audience> {
    let ids = lookup(keys, query)?;
    Audience::from_ids(&ids, keys.len() as u32)
}

/// Dense ids of the log users whose integer key is in `wanted` (sorted, unsigned keys), by
/// walking both sorted sequences once. Returns the audience and the keys not in the log.
pub fn from_sorted_int_keys(
    keys: &UserKeys,
    wanted: impl Iterator<Item = u64>,
) -> Result<(Audience, Vec<u64>)> {
    let UserKeys::Int(table) = keys else {
        return Err(CoreError::InvalidAudience(
            "integer bitmaps cannot be matched to a log whose user keys are strings".into(),
        ));
    };
    // Negative keys never match an unsigned bitmap value; skip them once.
    let first_non_negative = table.partition_point(|&k| k < 0);
    let mut position = first_non_negative;
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for key in wanted {
        while position < table.len() && (table[position] as u64) < key {
            position += 1;
        }
        if position < table.len() && table[position] as u64 == key {
            ids.push(position as u32);
        } else {
            missing.push(key);
        }
    }
    let audience = Audience::new(from_sorted(ids), table.len() as u32)?;
    Ok((audience, missing))
}

/// The original integer keys of an audience, ascending, checked to be unsigned.
pub fn int_keys_of(bits: &RoaringBitmap, keys: &UserKeys) -> Result<Vec<u64>> {
    match keys {
        UserKeys::Int(table) => {
            let mut out = Vec::with_capacity(bits.len() as usize);
            for id in bits {
                let key = table[id as usize];
                if key < 0 {
                    return Err(CoreError::InvalidAudience(format!(
                        "user key {key} is negative; Roaring bitmaps hold unsigned integers. \
                         Export the keys as a table (to_parquet / to_csv) instead"
                    )));
                }
                out.push(key as u64);
            }
            Ok(out)
        }
        UserKeys::Str(_) => Err(string_keys_error()),
    }
}

pub(crate) fn string_keys_error() -> CoreError {
    CoreError::InvalidAudience(
        "the log's user keys are strings; Roaring bitmaps hold integers only. \
         Export the keys as a table instead (Audience.to_parquet / to_csv), or give users \
         integer ids in the event log"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_are_named_and_counted() {
        let keys = UserKeys::Int(vec![1, 5, 9]);
        let q: Vec<i64> = vec![5, 2, 3, 4, 6, 7, 8];
        let err = from_keys(&keys, &KeyQuery::Int(&q))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("6 user key(s)"), "{err}");
        assert!(err.contains("2, 3, 4, 6, 7") && !err.contains('8'), "{err}");
    }

    #[test]
    fn string_keys_round_trip() {
        let keys = UserKeys::Str(vec!["a".into(), "b".into(), "c".into()]);
        let a = from_keys(&keys, &KeyQuery::Str(&["c", "a"])).unwrap();
        assert_eq!(a.bits().iter().collect::<Vec<_>>(), vec![0, 2]);
        assert!(from_keys(&keys, &KeyQuery::Int(&[1])).is_err());
        assert!(int_keys_of(a.bits(), &keys).is_err());
    }

    #[test]
    fn sorted_keys_merge_with_negative_table_entries() {
        let keys = UserKeys::Int(vec![-4, 0, 7, 1 << 40]);
        let (a, missing) = from_sorted_int_keys(&keys, [0u64, 3, 1 << 40].into_iter()).unwrap();
        assert_eq!(a.bits().iter().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(missing, vec![3]);
        assert_eq!(int_keys_of(a.bits(), &keys).unwrap(), vec![0, 1 << 40]);
        let neg = Audience::from_ids(&[0], 4).unwrap();
        assert!(int_keys_of(neg.bits(), &keys)
            .unwrap_err()
            .to_string()
            .contains("-4"));
    }
}
