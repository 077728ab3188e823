//! The version item's stamps: what a reader learns from them (which directory items changed
//! since its copy), and their trim. Not here: writing them (`super::upkeep`).

use std::collections::HashMap;

use serde_json::Value;

use super::{version_key, EPOCH, MOST_STAMPS, PREFIX, STAMP, V, VERSION};
use crate::ports::store::{Condition, Item, Store, StoreError, WriteOp};

/// What a version item says: the counter, the epoch, and each stamp by directory sort key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Version {
    pub v: i64,
    pub epoch: i64,
    pub stamps: HashMap<String, String>,
}

impl Version {
    pub fn read(item: Option<&Item>) -> Version {
        let Some(item) = item else {
            return Version::default();
        };
        Version {
            v: item.i64(V).unwrap_or(0),
            epoch: item.i64(EPOCH).unwrap_or(0),
            stamps: item
                .attrs
                .iter()
                .filter_map(|(name, stamp)| {
                    let suffix = name.strip_prefix(STAMP)?;
                    Some((format!("{PREFIX}{suffix}"), stamp.as_str()?.to_string()))
                })
                .collect(),
        }
    }

    /// The directory sort keys changed since `older` (same epoch): stamped anew or again.
    pub fn changed_since(&self, older: &Version) -> Vec<String> {
        let mut keys: Vec<String> = self
            .stamps
            .iter()
            .filter(|(sk, stamp)| older.stamps.get(*sk) != Some(stamp))
            .map(|(sk, _)| sk.clone())
            .collect();
        keys.sort();
        keys
    }
}

/// Whether a transaction's upkeep calls for a look at the version item afterwards: when it
/// stamps an item whose id ends in "0" (one id in 32, ids being ULIDs). Stamps pile up only
/// with distinct items, so about one write in 32 of those looks, and they cannot grow far past
/// [`MOST_STAMPS`] even while nobody lists. Decided by the ids, not by chance, so the same
/// write makes the same Store calls every time (the fault tests count them).
pub fn due_for_trim(ops: &[WriteOp]) -> bool {
    ops.iter().any(|op| match op {
        WriteOp::Update { key, set, .. } if key.sk == VERSION => set
            .iter()
            .any(|(name, _)| name.starts_with(STAMP) && name.ends_with('0')),
        _ => false,
    })
}

/// Trims the stamps of `seen` (the version item as just read) if there are more than
/// [`MOST_STAMPS`]: the item again with the epoch moved and no stamps, every other attribute
/// kept, unless a write moved `v` since (it then stays as is). Whether it trimmed.
pub async fn trim(store: &dyn Store, seen: &Item) -> Result<bool, StoreError> {
    let stamps = seen.attrs.keys().filter(|n| n.starts_with(STAMP)).count();
    if stamps <= MOST_STAMPS {
        return Ok(false);
    }
    let mut item = seen.clone();
    item.attrs.retain(|name, _| !name.starts_with(STAMP));
    item.attrs
        .insert(EPOCH.into(), Value::from(seen.i64(EPOCH).unwrap_or(0) + 1));
    let unchanged = Condition::Equals(V.into(), Value::from(seen.i64(V).unwrap_or(0)));
    match store.put(item, unchanged).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// After a write [`due_for_trim`]: reads the version item and trims it if long. Best effort
/// (the write itself is done; a failure here only leaves the trim to the next one).
pub async fn trim_after_write(store: &dyn Store, pk: &str) {
    if let Ok(Some(item)) = store.get(&version_key(pk)).await {
        if trim(store, &item).await.is_err() {
            tracing::warn!("registrant directory stamps not trimmed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_since_names_the_items_stamped_anew_or_again() {
        let version = |stamps: &[(&str, &str)]| Version {
            v: 1,
            epoch: 0,
            stamps: stamps
                .iter()
                .map(|(k, s)| (k.to_string(), s.to_string()))
                .collect(),
        };
        let older = version(&[("DIR#E#a", "1"), ("DIR#E#b", "2")]);
        let newer = version(&[("DIR#E#a", "1"), ("DIR#E#b", "3"), ("DIR#G#c", "3")]);
        assert_eq!(newer.changed_since(&older), vec!["DIR#E#b", "DIR#G#c"]);
        assert!(older.changed_since(&older).is_empty());
    }

    #[test]
    fn due_for_trim_is_decided_by_the_stamped_ids() {
        let update = |id: &str| {
            vec![WriteOp::Update {
                key: version_key("T#x"),
                set: vec![(format!("{STAMP}E#{id}"), Value::from("s"))],
                add: vec![(V.into(), 1)],
            }]
        };
        assert!(due_for_trim(&update("01ARZ3NDEKTSV4RRFFQ69G5FA0")));
        assert!(!due_for_trim(&update("01ARZ3NDEKTSV4RRFFQ69G5FAW")));
        assert!(!due_for_trim(&[]));
    }
}
