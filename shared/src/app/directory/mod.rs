//! Where the registrant directory lives and how every write keeps it in step: the write side
//! of `registrants::directory` (which reads it, caches it and builds it for older tenants).
//!
//! Layout, all in the tenant's main partition under `DIR#`, so one prefix query reads it
//! whole and the month-end purge removes it with the tenant:
//! - `DIR#0VERSION`: the version item. `v` is a counter every directory change moves; it
//!   sorts first, so a query reads the version before the entries and never labels older
//!   entries with a newer version. Each write also stamps the directory items it changed:
//!   attribute `c#<sk after DIR#>` = a stamp unique to that write, so a container holding a
//!   copy re-reads only the items whose stamp moved (one `batch_get`) instead of the whole
//!   directory. `epoch` moves when the stamps no longer tell every change (a write of many
//!   items, a batch write, or the stamps trimmed): a copy of another epoch is read again whole.
//! - `DIR#E#<id>`: one small item per registrant: the attributes the list filters, sorts and
//!   shows, copied from the registrant item as one compact string (see [`entry_item`]: 10,000
//!   entries stay under 2 MB as DynamoDB counts, two query pages);
//! - `DIR#G#<id>`: a group's name; `DIR#I#<id>`: the state of an import that may hide rows;
//! - `DIR#META`: present once the directory is complete and in the current [`FORMAT`]
//!   (tenants older than it, older formats, or after a batch write that failed part-way, are
//!   built again on their next list).
//!
//! [`upkeep`] is applied by `TenantScope` to every write, so a registrant, group or import
//! written carries its entry, its stamp and the version bump in the SAME transaction. Entries
//! are written whole and unconditionally, one per registrant, and the version item only by
//! `SET`/`ADD`: two writers never contend for an entry they do not both change, and nothing is
//! read before a write.
//!
//! A leaf: it knows the items' attribute names but no other module of the app (`TenantScope`
//! calls it), so it works on the tenant's partition key, not on a scope. Numbers, images and
//! passwords never enter the directory: only whether a number is held.

mod entry;
mod stamps;

use std::collections::HashSet;

use serde_json::Value;

use crate::ports::store::{Condition, Item, Key, WriteOp};

pub use entry::{
    attribute_letter, entry_fields, entry_item, entry_raw, status_letter, ENTRY_ATTR, ENTRY_ATTRS,
    FORMAT, LEGACY_ENTRY_ATTR,
};
pub use stamps::{due_for_trim, trim, trim_after_write, Version};

pub const PREFIX: &str = "DIR#";
pub const VERSION: &str = "DIR#0VERSION";
pub const META: &str = "DIR#META";
pub const ENTRY: &str = "DIR#E#";
pub const GROUP: &str = "DIR#G#";
pub const IMPORT: &str = "DIR#I#";

/// Version item attributes: the counter, the epoch, and the prefix of each stamp.
pub const V: &str = "v";
pub const EPOCH: &str = "epoch";
pub const STAMP: &str = "c#";
/// A write changing more directory items than this moves the epoch instead of stamping them
/// (a reader would re-read them whole anyway, and the version item stays small).
pub const MOST_STAMPS_PER_WRITE: usize = 25;
/// Stamps the version item may gather before a reader (or, now and then, a writer) trims them
/// by moving the epoch: every list reads this item, and DynamoDB caps it at 400 KB.
pub const MOST_STAMPS: usize = 200;

/// Writes [`upkeep`] adds to a transaction besides one per registrant written: the version
/// bump and one import or group entry. Callers filling a transaction to the limit (the CSV
/// import's chunks) leave this much room, plus one per registrant.
pub const FIXED_OPS: usize = 2;

fn is_ulid(s: &str) -> bool {
    ulid::Ulid::from_string(s).is_ok()
}

/// Whether a main-partition sort key is a registrant item (not a dependent's).
pub fn is_registrant_sk(sk: &str) -> bool {
    sk.strip_prefix("REG#").is_some_and(is_ulid)
}

pub fn version_key(pk: &str) -> Key {
    Key::new(pk, VERSION)
}

pub fn meta_key(pk: &str) -> Key {
    Key::new(pk, META)
}

/// The marker of a complete directory in the current format (a new tenant's, or one just
/// built).
pub fn built_item(pk: &str) -> Item {
    Item::new(meta_key(pk))
        .with("built", true)
        .with("format", FORMAT)
}

/// Whether a `META` item marks a directory complete in the current format.
pub fn is_built(meta: &Item) -> bool {
    meta.bool("built") == Some(true) && meta.i64("format") == Some(FORMAT)
}

/// The directory writes that keep it in step with `ops`, a write to the tenant partition `pk`
/// (empty when `ops` change nothing the list shows): entry puts and deletes and, if any, the
/// version update stamping them, to go in the same transaction (or batch: see
/// [`split_version`]).
pub fn upkeep(pk: &str, ops: &[WriteOp]) -> Vec<WriteOp> {
    let mut out = Vec::new();
    let delete = |sk: String| WriteOp::Delete {
        key: Key::new(pk, sk),
        condition: Condition::None,
    };
    for op in ops {
        let key = op.key();
        if key.pk != pk {
            continue;
        }
        let put = match op {
            WriteOp::Put { item, .. } => Some(item),
            WriteOp::Delete { .. } => None,
            WriteOp::Add { .. } | WriteOp::Update { .. } | WriteOp::Check { .. } => continue,
        };
        if let Some(id) = key.sk.strip_prefix("REG#").filter(|id| is_ulid(id)) {
            out.push(match put {
                Some(item) => WriteOp::put(entry_item(pk, id, item)),
                None => delete(format!("{ENTRY}{id}")),
            });
        } else if let Some(id) = key.sk.strip_prefix("GROUP#").filter(|id| is_ulid(id)) {
            out.push(match put {
                Some(item) => WriteOp::put(
                    Item::new(Key::new(pk, format!("{GROUP}{id}")))
                        .with("name", item.str("name").unwrap_or_default()),
                ),
                None => delete(format!("{GROUP}{id}")),
            });
        } else if let Some(id) = key.sk.strip_prefix("IMPORT#").filter(|id| is_ulid(id)) {
            // An import is remembered while it may hide rows, and dropped once it is over
            // (rows tidied, rolled back or never written), so imports do not pile up here.
            let state = put.and_then(|item| item.str("state"));
            out.push(match state {
                Some(s) if s != "finished" && s != "discarded" => {
                    WriteOp::put(Item::new(Key::new(pk, format!("{IMPORT}{id}"))).with("state", s))
                }
                _ => delete(format!("{IMPORT}{id}")),
            });
        }
    }
    // A caller already writing a directory item (the purge deleting everything) keeps its own.
    let written: HashSet<&Key> = ops.iter().map(WriteOp::key).collect();
    out.retain(|op| !written.contains(op.key()));
    let version = version_key(pk);
    if !out.is_empty() && !written.contains(&version) {
        let bump = if out.len() <= MOST_STAMPS_PER_WRITE {
            // One stamp for the whole write: 60 random bits of a fresh ULID.
            let ulid = ulid::Ulid::new().to_string();
            let stamp = Value::from(&ulid[ulid.len() - 12..]);
            let set = out
                .iter()
                .filter_map(|op| op.key().sk.strip_prefix(PREFIX))
                .map(|suffix| (format!("{STAMP}{suffix}"), stamp.clone()))
                .collect();
            WriteOp::Update {
                key: version,
                set,
                add: vec![(V.into(), 1)],
            }
        } else {
            epoch_bump(pk)
        };
        out.push(bump);
    }
    out
}

/// The version update of a write whose changes the stamps do not tell: every copy is read
/// again whole.
fn epoch_bump(pk: &str) -> WriteOp {
    WriteOp::Update {
        key: version_key(pk),
        set: Vec::new(),
        add: vec![(V.into(), 1), (EPOCH.into(), 1)],
    }
}

/// [`upkeep`]'s ops for a batch write: the puts and deletes, and the version update (if any)
/// to apply once the batch is written, moving the epoch (a batch is not atomic, and its
/// stamps could not ride with it).
pub fn split_version(pk: &str, ops: Vec<WriteOp>) -> (Vec<WriteOp>, Option<WriteOp>) {
    let before = ops.len();
    let rest: Vec<WriteOp> = ops
        .into_iter()
        .filter(|op| !matches!(op, WriteOp::Update { key, .. } if key.sk == VERSION))
        .collect();
    let bump = (rest.len() != before).then(|| epoch_bump(pk));
    (rest, bump)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "T#01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAW";

    #[test]
    fn upkeep_adds_nothing_when_no_listed_item_is_written() {
        // given writes of a dependent, a counter and a session
        let ops = vec![
            WriteOp::put(Item::new(Key::new(PK, format!("REG#{ID}#DEP#{ID}")))),
            WriteOp::Add {
                key: Key::new(PK, "COUNTERS"),
                deltas: vec![("registrants".into(), 1)],
                expires_at: None,
            },
            WriteOp::put(Item::new(Key::new("SESSION#x", "S"))),
        ];
        // then the directory has nothing to do
        assert!(upkeep(PK, &ops).is_empty());
    }

    #[test]
    fn upkeep_writes_the_entry_and_stamps_it_on_the_version_when_a_registrant_is_saved_or_deleted()
    {
        let reg = Key::new(PK, format!("REG#{ID}"));
        let entry_sk = format!("{ENTRY}{ID}");
        let saved = upkeep(
            PK,
            &[WriteOp::put(Item::new(reg.clone()).with("code", "E1"))],
        );
        assert!(
            matches!(&saved[..], [WriteOp::Put { item, .. }, WriteOp::Update { key, set, add }]
            if item.key.sk == entry_sk && key.sk == VERSION
                && item.str(ENTRY_ATTR) == Some("E1")
                && set.len() == 1 && set[0].0 == format!("{STAMP}E#{ID}")
                && add == &vec![(V.to_string(), 1)])
        );
        let deleted = upkeep(
            PK,
            &[WriteOp::Delete {
                key: reg,
                condition: Condition::Exists,
            }],
        );
        assert!(
            matches!(&deleted[..], [WriteOp::Delete { key, .. }, WriteOp::Update { .. }]
            if key.sk == entry_sk)
        );
        // and the two writes' stamps differ, so a reader tells the second from the first
        let stamp = |ops: &[WriteOp]| match ops.last() {
            Some(WriteOp::Update { set, .. }) => set[0].1.clone(),
            _ => Value::Null,
        };
        assert_ne!(stamp(&saved), stamp(&deleted));
        let read = Version::read(Some(
            &Item::new(version_key(PK))
                .with(V, 7)
                .with(&format!("{STAMP}E#{ID}"), stamp(&saved)),
        ));
        assert_eq!(read.v, 7);
        assert_eq!(read.stamps.keys().collect::<Vec<_>>(), vec![&entry_sk]);
    }

    #[test]
    fn upkeep_moves_the_epoch_instead_of_stamping_when_a_write_changes_many_items() {
        // given one transaction saving more registrants than a write stamps
        let ops: Vec<WriteOp> = (0..=MOST_STAMPS_PER_WRITE)
            .map(|_| {
                let id = ulid::Ulid::new().to_string();
                WriteOp::put(Item::new(Key::new(PK, format!("REG#{id}"))).with("code", "E"))
            })
            .collect();
        // then the version update moves v and the epoch, and sets no stamp
        let out = upkeep(PK, &ops);
        assert!(matches!(out.last(), Some(WriteOp::Update { set, add, .. })
            if set.is_empty() && add.contains(&(EPOCH.to_string(), 1))));
        // and so does a batch write's, applied after it
        let (rest, bump) = split_version(PK, upkeep(PK, &ops[..1]));
        assert_eq!(rest.len(), 1);
        assert!(matches!(bump, Some(WriteOp::Update { set, add, .. })
            if set.is_empty() && add.contains(&(EPOCH.to_string(), 1))));
    }

    #[test]
    fn upkeep_forgets_an_import_when_it_is_over() {
        let import = |state: &str| {
            WriteOp::put(Item::new(Key::new(PK, format!("IMPORT#{ID}"))).with("state", state))
        };
        assert!(matches!(
            upkeep(PK, &[import("committing")])[0],
            WriteOp::Put { .. }
        ));
        assert!(matches!(
            upkeep(PK, &[import("finished")])[0],
            WriteOp::Delete { .. }
        ));
    }
}
