//! Where the registrant directory lives and how every write keeps it in step: the write side
//! of `registrants::directory` (which reads it, caches it and builds it for older tenants).
//!
//! Layout, all in the tenant's main partition under `DIR#`, so one prefix query reads it
//! whole and the month-end purge removes it with the tenant:
//! - `DIR#0VERSION`: a counter every directory change moves; it sorts first, so a query reads
//!   the version before the entries and never labels older entries with a newer version;
//! - `DIR#E#<id>`: one small item per registrant: the attributes the list filters, sorts and
//!   shows, copied from the registrant item as one JSON array (no field names: 10,000 entries
//!   stay near 1.5 MB, two DynamoDB pages);
//! - `DIR#G#<id>`: a group's name; `DIR#I#<id>`: the state of an import that may hide rows;
//! - `DIR#META`: present once the directory is complete (tenants older than it, or after a
//!   batch write that failed part-way, are built again on their next list).
//!
//! [`upkeep`] is applied by `TenantScope` to every write, so a registrant, group or import
//! written carries its entry and the version bump in the SAME transaction. Entries are written
//! whole and unconditionally, one per registrant: two writers never contend for an entry they
//! do not both change, and nothing is read before a write.
//!
//! A leaf: it knows the items' attribute names but no other module of the app (`TenantScope`
//! calls it), so it works on the tenant's partition key, not on a scope. Numbers, images and
//! passwords never enter the directory: only whether a number is held.

use std::collections::HashSet;

use serde_json::Value;

use crate::ports::store::{Condition, Item, Key, WriteOp};

pub const PREFIX: &str = "DIR#";
pub const VERSION: &str = "DIR#0VERSION";
pub const META: &str = "DIR#META";
pub const ENTRY: &str = "DIR#E#";
pub const GROUP: &str = "DIR#G#";
pub const IMPORT: &str = "DIR#I#";

/// The registrant item's attributes an entry copies, in the entry's order (`has_number`
/// stands for whether `number` is present). `registrants::directory` reads them back in this
/// order; its tests hold the two together.
pub const ENTRY_ATTRS: [&str; 16] = [
    "code",
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "attribute",
    "email",
    "status",
    "dependents_status",
    "group_id",
    "dependents",
    "has_number",
    "retired_on",
    "delete_on",
    // `import_gate::IMPORT_ATTR`: the import whose flip makes the row visible.
    "import_id",
    // `Registrant::text_cp932`: whether a CP932 download holds its rows (absent: unknown).
    "text_cp932",
];

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

/// The marker of a complete directory (a new tenant's, or one just built).
pub fn built_item(pk: &str) -> Item {
    Item::new(meta_key(pk)).with("built", true)
}

/// The entry of a stored registrant item (see [`ENTRY_ATTRS`]).
pub fn entry_item(pk: &str, id: &str, registrant: &Item) -> Item {
    let wire: Vec<Value> = ENTRY_ATTRS
        .iter()
        .map(|&name| match name {
            "has_number" => Value::from(registrant.attrs.contains_key("number")),
            name => registrant.attrs.get(name).cloned().unwrap_or(Value::Null),
        })
        .collect();
    Item::new(Key::new(pk, format!("{ENTRY}{id}"))).with("e", Value::from(wire).to_string())
}

/// The directory writes that keep it in step with `ops`, a write to the tenant partition `pk`
/// (empty when `ops` change nothing the list shows): entry puts and deletes and, if any, the
/// version bump, to go in the same transaction or batch.
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
            WriteOp::Add { .. } | WriteOp::Check { .. } => continue,
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
        out.push(WriteOp::Add {
            key: version,
            deltas: vec![("v".into(), 1)],
            expires_at: None,
        });
    }
    out
}

/// [`upkeep`]'s ops without the version bump (a batch write takes no `Add`), and whether it
/// was there.
pub fn split_version(ops: Vec<WriteOp>) -> (Vec<WriteOp>, bool) {
    let before = ops.len();
    let rest: Vec<WriteOp> = ops
        .into_iter()
        .filter(|op| !matches!(op, WriteOp::Add { key, .. } if key.sk == VERSION))
        .collect();
    let bumped = rest.len() != before;
    (rest, bumped)
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
    fn upkeep_writes_the_entry_and_bumps_the_version_when_a_registrant_is_saved_or_deleted() {
        let reg = Key::new(PK, format!("REG#{ID}"));
        let saved = upkeep(
            PK,
            &[WriteOp::put(Item::new(reg.clone()).with("code", "E1"))],
        );
        assert!(
            matches!(&saved[..], [WriteOp::Put { item, .. }, WriteOp::Add { key, .. }]
            if item.key.sk == format!("{ENTRY}{ID}") && key.sk == VERSION
                && item.str("e").is_some_and(|e| e.starts_with("[\"E1\"")))
        );
        let deleted = upkeep(
            PK,
            &[WriteOp::Delete {
                key: reg,
                condition: Condition::Exists,
            }],
        );
        assert!(
            matches!(&deleted[..], [WriteOp::Delete { key, .. }, WriteOp::Add { .. }]
            if key.sk == format!("{ENTRY}{ID}"))
        );
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
