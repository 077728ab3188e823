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

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::domain::person::Attribute;
use crate::domain::status::Status;
use crate::ports::store::{Condition, Item, Key, Store, StoreError, WriteOp};

pub const PREFIX: &str = "DIR#";
pub const VERSION: &str = "DIR#0VERSION";
pub const META: &str = "DIR#META";
pub const ENTRY: &str = "DIR#E#";
pub const GROUP: &str = "DIR#G#";
pub const IMPORT: &str = "DIR#I#";

/// The entry layout [`entry_item`] writes. A directory marked built in another format (or
/// none) is built again on its next list. Bump it when an attribute is inserted into
/// [`ENTRY_ATTRS`] or an encoding changes; appending one at the end needs no bump (an entry
/// written before reads it as empty).
pub const FORMAT: i64 = 2;
/// The entry's attribute: [`ENTRY_ATTRS`] encoded by [`entry_fields`]' rules.
pub const ENTRY_ATTR: &str = "d";
/// The first format's attribute (a JSON array in `ENTRY_ATTRS` order), still read.
pub const LEGACY_ENTRY_ATTR: &str = "e";
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

/// The registrant item's attributes an entry copies, in the entry's order (`has_number`
/// stands for whether `number` is present). `registrants::directory` reads them back by name.
pub const ENTRY_ATTRS: [&str; 15] = [
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

/// Separates an entry's fields (a control character no text of the list holds; escaped if
/// one does).
const SEP: char = '\u{1f}';

/// One field as the entry stores it: text as is, the status and attribute codes as one
/// letter, dates without dashes, `true` as "1"; null, `false` and missing as "".
fn field(name: &str, value: Option<&Value>) -> String {
    match (name, value) {
        ("status" | "dependents_status", Some(Value::String(code))) => Status::from_code(code)
            .map_or("", status_letter)
            .to_string(),
        ("attribute", Some(Value::String(code))) => Attribute::from_code(code)
            .map_or("", attribute_letter)
            .to_string(),
        ("retired_on" | "delete_on", Some(Value::String(day))) => day.replace('-', ""),
        (_, Some(Value::String(text))) => text.clone(),
        (_, Some(Value::Bool(true))) => "1".into(),
        (_, Some(Value::Number(n))) => n.to_string(),
        _ => String::new(),
    }
}

pub fn status_letter(s: Status) -> &'static str {
    match s {
        Status::Unregistered => "u",
        Status::Pending => "p",
        Status::SentBack => "s",
        Status::Completed => "c",
        Status::Refused => "r",
    }
}

pub fn attribute_letter(a: Attribute) -> &'static str {
    match a {
        Attribute::Employee1 => "1",
        Attribute::Employee2 => "2",
        Attribute::RemunerationPayee => "m",
        Attribute::RealEstatePayee => "e",
        Attribute::Shareholder => "s",
        Attribute::Other => "o",
    }
}

/// The fields of `values` (in [`ENTRY_ATTRS`] order) as one string: escaped, joined by
/// [`SEP`], empty ones at the end left off.
fn join_fields(values: impl Iterator<Item = String>) -> String {
    let mut fields: Vec<String> = values
        .map(|f| f.replace('\\', "\\\\").replace(SEP, "\\s"))
        .collect();
    while fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    fields.join(&SEP.to_string())
}

/// The fields of a stored entry by attribute name ("" for any it left off), from either
/// format; `None` if it holds neither.
pub fn entry_fields(item: &Item) -> Option<HashMap<&'static str, String>> {
    let values: Vec<String> = if let Some(raw) = item.str(ENTRY_ATTR) {
        raw.split(SEP).map(unescape).collect()
    } else {
        let wire: Vec<Value> = serde_json::from_str(item.str(LEGACY_ENTRY_ATTR)?).ok()?;
        ENTRY_ATTRS
            .iter()
            .zip(&wire)
            .map(|(name, v)| field(name, Some(v)))
            .collect()
    };
    let mut out: HashMap<&'static str, String> =
        ENTRY_ATTRS.iter().map(|&n| (n, String::new())).collect();
    for (name, value) in ENTRY_ATTRS.iter().zip(values) {
        out.insert(name, value);
    }
    Some(out)
}

fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
        } else if let Some(escaped) = chars.next() {
            out.push(if escaped == 's' { SEP } else { escaped });
        }
    }
    out
}

/// The raw stored form of an entry (for telling whether it changed), from either format.
pub fn entry_raw(item: &Item) -> Option<&str> {
    item.str(ENTRY_ATTR).or_else(|| item.str(LEGACY_ENTRY_ATTR))
}

/// The entry of a stored registrant item (see [`ENTRY_ATTRS`]).
pub fn entry_item(pk: &str, id: &str, registrant: &Item) -> Item {
    let values = ENTRY_ATTRS.iter().map(|&name| match name {
        "has_number" => field(
            name,
            Some(&Value::from(registrant.attrs.contains_key("number"))),
        ),
        name => field(name, registrant.attrs.get(name)),
    });
    Item::new(Key::new(pk, format!("{ENTRY}{id}"))).with(ENTRY_ATTR, join_fields(values))
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

/// Whether a transaction's [`upkeep`] calls for a look at the version item afterwards (about
/// one stamped write in 32, by its stamp's last character): so stamps cannot pile up past
/// [`MOST_STAMPS`] even while nobody lists.
pub fn due_for_trim(ops: &[WriteOp]) -> bool {
    ops.iter().any(|op| match op {
        WriteOp::Update { key, set, .. } if key.sk == VERSION => set
            .first()
            .and_then(|(_, stamp)| stamp.as_str())
            .is_some_and(|s| s.ends_with('0')),
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

    /// DynamoDB's item size: names and values of every attribute, keys included (numbers
    /// over-counted at 8 bytes).
    fn dynamodb_bytes(item: &Item) -> usize {
        "pkpk".len()
            + item.key.pk.len()
            + item.key.sk.len()
            + item
                .attrs
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(8, str::len))
                .sum::<usize>()
    }

    #[test]
    fn entries_of_ten_thousand_registrants_fit_two_dynamodb_query_pages() {
        // given a registrant as the list bench seeds them, the longer kind (a retiree with a
        // 削除予定日, a group and an e-mail address)
        let registrant = Item::new(Key::new(PK, format!("REG#{ID}")))
            .with("code", "E01234")
            .with("family_name", "社員12")
            .with("given_name", "太郎")
            .with("family_kana", "シャインア")
            .with("given_kana", "タロウ")
            .with("attribute", "employee1")
            .with("email", "staff1234@example.jp")
            .with("status", "unregistered")
            .with("dependents_status", "unregistered")
            .with("group_id", ID)
            .with("dependents", 1)
            .with("retired_on", "2025-03-31")
            .with("delete_on", "2027-04-01");
        // when its entry is made
        let entry = entry_item(PK, ID, &registrant);
        // then 10,000 of them, with the version item at its most stamps, stay under two
        // 1 MB pages (counted as 1,000,000 bytes each, short of DynamoDB's 1,048,576)
        let stamp = STAMP.len() + "E#".len() + ID.len() + 12;
        let version = 4 + PK.len() + VERSION.len() + 2 * 9 + MOST_STAMPS * stamp;
        let total = 10_000 * dynamodb_bytes(&entry) + version;
        assert!(total <= 2_000_000, "{total} bytes");
    }
}
