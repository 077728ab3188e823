//! The registrant directory as the list reads it: each container keeps the tenant's
//! directory (see `app::directory` for its layout and upkeep) in memory by version, so a list
//! page costs one Store call (the version check) when the copy is current, and one query
//! (two DynamoDB pages at 10,000 registrants) when it is not. Tenants whose data predates the
//! directory get it built from their items on their first list.
//!
//! Not here: filtering and paging (`list`), the export's walk over the full rows (`select`),
//! how writes keep the directory in step (`app::directory`, applied by `TenantScope`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use serde_json::Value;
use time::Date;

use super::Registrant;
use crate::app::directory::{self as layout, ENTRY, GROUP, IMPORT, META, PREFIX, VERSION};
use crate::app::import_gate::{State, IMPORT_ATTR};
use crate::app::keys::{sk, RecordId, TenantScope};
use crate::app::person::Names;
use crate::app::InfraError;
use crate::domain::person::Attribute;
use crate::domain::search::search_key;
use crate::domain::status::Status;
use crate::ports::store::{Condition, Item, Key, Query, Store, StoreError, WriteOp};

/// Items one directory query page asks for: the whole directory of any plan in one page on
/// the embedded store (DynamoDB still cuts pages at 1 MB).
const QUERY_LIMIT: usize = 100_000;
/// Tenants whose directory a container keeps; past it the cache starts over.
const CACHED_TENANTS: usize = 256;

/// One registrant as the list sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    pub code: String,
    pub names: Names,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub status: Status,
    pub dependents_status: Option<Status>,
    pub group_id: Option<String>,
    pub dependents: i64,
    pub has_number: bool,
    pub retired_on: Option<Date>,
    pub delete_on: Option<Date>,
    import_id: Option<String>,
    /// Whether a CP932 download holds the registrant's rows (`Registrant::text_cp932`);
    /// `None` when unknown (written before it was kept).
    pub text_cp932: Option<bool>,
    /// Folded names + kana, and kana alone (the name search).
    pub(super) search_all: String,
    pub(super) search_kana: String,
    /// `<code>#<id>`: the 社員コード order the index has always given.
    pub(super) order: String,
    /// Folded kana, folded name: the フリガナ order (`sort=name`), ties by id.
    name_order: (String, String),
    pub(super) code_lower: String,
}

impl Entry {
    pub fn from_registrant(r: &Registrant) -> Entry {
        let p = &r.person;
        Entry::new(
            r.id.clone(),
            r.code.clone(),
            [
                p.family_name.clone(),
                p.given_name.clone(),
                p.family_kana.clone(),
                p.given_kana.clone(),
            ],
            (r.attribute, r.email.clone(), p.status, r.dependents_status),
            (r.group_id.clone(), r.dependents, p.number.is_some()),
            (r.retired_on, r.delete_on, None, r.text_cp932()),
        )
    }

    #[allow(clippy::type_complexity)]
    fn new(
        id: String,
        code: String,
        names: [String; 4],
        (attribute, email, status, dependents_status): (
            Attribute,
            Option<String>,
            Status,
            Option<Status>,
        ),
        (group_id, dependents, has_number): (Option<String>, i64, bool),
        (retired_on, delete_on, import_id, text_cp932): (
            Option<Date>,
            Option<Date>,
            Option<String>,
            Option<bool>,
        ),
    ) -> Entry {
        let [family_name, given_name, family_kana, given_kana] = names;
        let search_all = search_key(&format!(
            "{family_name}{given_name}{family_kana}{given_kana}"
        ));
        let search_kana = search_key(&format!("{family_kana}{given_kana}"));
        let order = format!("{code}#{id}");
        let code_lower = code.to_lowercase();
        let mut e = Entry {
            id,
            code,
            names: Names {
                family_name,
                given_name,
                family_kana,
                given_kana,
            },
            attribute,
            email,
            status,
            dependents_status,
            group_id,
            dependents,
            has_number,
            retired_on,
            delete_on,
            import_id,
            text_cp932,
            search_all,
            search_kana,
            order,
            name_order: Default::default(),
            code_lower,
        };
        e.name_order = (search_key(&e.kana()), search_key(&e.name()));
        e
    }

    pub fn name(&self) -> String {
        self.names.name()
    }

    pub fn kana(&self) -> String {
        self.names.kana()
    }

    pub fn is_retired(&self) -> bool {
        self.retired_on.is_some()
    }

    /// Whether the 削除予定日 has come by `today` (no day known: nobody is due).
    pub fn is_due(&self, today: Option<Date>) -> bool {
        matches!((self.delete_on, today), (Some(d), Some(t)) if d <= t)
    }

    /// An entry as `app::directory::entry_item` stored it (attributes in `ENTRY_ATTRS`
    /// order); `None` for one that is not a listable registrant.
    fn from_stored(item: &Item) -> Option<Entry> {
        let id = item.key.sk.strip_prefix(ENTRY)?.to_string();
        let mut wire: Vec<Value> = serde_json::from_str(item.str("e")?).ok()?;
        // Entries written before `text_cp932` was kept end one sooner: unknown.
        if wire.len() == 15 {
            wire.push(Value::Null);
        }
        let [code, family, given, family_kana, given_kana, attribute, email, status, dependents_status, group, dependents, has_number, retired, delete, import, text_cp932]: [Value; 16] =
            wire.try_into().ok()?;
        let text = |v: Value| v.as_str().map(str::to_string);
        let date = |v: Value| {
            v.as_str().and_then(|d| {
                Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
            })
        };
        Some(Entry::new(
            id,
            text(code).unwrap_or_default(),
            [
                text(family)?,
                text(given).unwrap_or_default(),
                text(family_kana).unwrap_or_default(),
                text(given_kana).unwrap_or_default(),
            ],
            (
                Attribute::from_code(attribute.as_str()?)?,
                text(email),
                Status::from_code(status.as_str()?)?,
                dependents_status.as_str().and_then(Status::from_code),
            ),
            (
                text(group),
                dependents.as_i64().unwrap_or(0),
                has_number.as_bool() == Some(true),
            ),
            (
                date(retired),
                date(delete),
                text(import),
                text_cp932.as_bool(),
            ),
        ))
    }
}

/// The directory of one tenant at one version: visible entries in 社員コード order and in
/// フリガナ order, and the names of every group.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub version: i64,
    pub entries: Vec<Arc<Entry>>,
    /// Positions in `entries` in フリガナ order (`sort=name`), sorted once per version.
    pub by_name: Vec<usize>,
    pub groups: HashMap<String, String>,
    /// Every stored entry as read (hidden ones too) and what it made, so the next version
    /// re-reads only the entries that changed.
    stored: HashMap<String, (String, Arc<Entry>)>,
}

impl Snapshot {
    /// The snapshot of the directory `items` (version first); entries unchanged since
    /// `previous` are taken over from it rather than parsed again.
    fn from_items(items: &[Item], previous: Option<&Snapshot>) -> Snapshot {
        let mut snap = Snapshot::default();
        let mut hidden: HashSet<&str> = HashSet::new();
        for item in items {
            let sk = item.key.sk.as_str();
            if sk == VERSION {
                snap.version = item.i64("v").unwrap_or(0);
            } else if let Some(id) = sk.strip_prefix(GROUP) {
                if let Some(name) = item.str("name") {
                    snap.groups.insert(id.to_string(), name.to_string());
                }
            } else if let Some(id) = sk.strip_prefix(IMPORT) {
                let state = item.str("state").and_then(State::from_code);
                if !state.is_some_and(State::visible) {
                    hidden.insert(id);
                }
            } else if let (Some(id), Some(raw)) = (sk.strip_prefix(ENTRY), item.str("e")) {
                let known = previous
                    .and_then(|p| p.stored.get(id))
                    .filter(|(was, _)| was == raw)
                    .map(|(_, e)| Arc::clone(e));
                if let Some(e) = known.or_else(|| Entry::from_stored(item).map(Arc::new)) {
                    snap.stored.insert(id.to_string(), (raw.to_string(), e));
                }
            }
        }
        // A row of an import not yet flipped is not there yet (`app::import_gate`).
        snap.entries = snap
            .stored
            .values()
            .map(|(_, e)| e)
            .filter(|e| e.import_id.as_deref().is_none_or(|i| !hidden.contains(i)))
            .cloned()
            .collect();
        snap.entries.sort_by(|a, b| a.order.cmp(&b.order));
        let mut by_name: Vec<usize> = (0..snap.entries.len()).collect();
        by_name.sort_by(|&a, &b| {
            let (a, b) = (&snap.entries[a], &snap.entries[b]);
            (&a.name_order, &a.id).cmp(&(&b.name_order, &b.id))
        });
        snap.by_name = by_name;
        snap
    }
}

type CacheMap = HashMap<(usize, String), (Weak<dyn Store>, Arc<Snapshot>)>;

/// Snapshots by (store, tenant): one per container in Lambda. The `Weak` keeps the store's
/// address from being reused while its entry exists, so the key names one store exactly.
static CACHE: LazyLock<Mutex<CacheMap>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn cache_key(store: &Arc<dyn Store>, scope: &TenantScope) -> (usize, String) {
    (
        Arc::as_ptr(store).cast::<()>() as usize,
        scope.tenant().to_string(),
    )
}

/// The tenant's current directory and the Store calls it took: 1 when this container's copy
/// is current, otherwise the directory query (plus the version check if a copy was stale).
pub async fn snapshot(scope: &TenantScope) -> Result<(Arc<Snapshot>, usize), InfraError> {
    let store = scope.raw_store();
    let key = cache_key(store, scope);
    let cached = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .map(|(_, snap)| Arc::clone(snap));
    let mut calls = 0;
    if let Some(snap) = &cached {
        let current = store.get(&scope.key(VERSION)).await?;
        calls += 1;
        if current.and_then(|i| i.i64("v")).unwrap_or(0) == snap.version {
            return Ok((Arc::clone(snap), calls));
        }
    }
    let (items, pages) = read_prefix(store.as_ref(), scope.pk(), PREFIX).await?;
    calls += pages;
    let snap = if items.iter().any(|i| i.key.sk == META) {
        Arc::new(Snapshot::from_items(&items, cached.as_deref()))
    } else {
        let (built, building) = rebuild(scope, &items).await?;
        calls += building;
        match built {
            Some(snap) => Arc::new(snap),
            // Someone wrote meanwhile: serve what was read, cache nothing.
            None => return Ok((Arc::new(Snapshot::from_items(&items, None)), calls)),
        }
    };
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED_TENANTS {
        cache.clear();
    }
    cache.insert(key, (Arc::downgrade(store), Arc::clone(&snap)));
    Ok((snap, calls))
}

/// Every item of a partition under a sort-key prefix, and the pages it took.
async fn read_prefix(
    store: &dyn Store,
    pk: String,
    prefix: &str,
) -> Result<(Vec<Item>, usize), StoreError> {
    let mut items = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .query(
                &Query::partition(pk.clone())
                    .prefix(prefix)
                    .limit(QUERY_LIMIT)
                    .after(cursor),
            )
            .await?;
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((items, pages)),
        }
    }
}

/// Builds the directory of a tenant whose data predates it (or whose directory a batch write
/// invalidated) from the items themselves, and marks it built only if no write happened
/// since `current` (the directory items read, version first) was read; `None` when one did
/// (the next list builds again from what is then stored). With the Store calls it took.
async fn rebuild(
    scope: &TenantScope,
    current: &[Item],
) -> Result<(Option<Snapshot>, usize), InfraError> {
    let store = scope.raw_store().as_ref();
    let version = current
        .iter()
        .find(|i| i.key.sk == VERSION)
        .and_then(|i| i.i64("v"));
    // The table itself, not an index: a strongly consistent read on DynamoDB.
    let (records, record_pages) = read_prefix(store, scope.pk(), "REG#").await?;
    let (groups, group_pages) = read_prefix(store, scope.pk(), "GROUP#").await?;
    let mut calls = record_pages + group_pages + 1;
    let mut imports: Vec<Key> = records
        .iter()
        .filter_map(|i| i.str(IMPORT_ATTR))
        .filter_map(RecordId::parse)
        .map(|id| scope.key(&sk::import(id.as_str())))
        .collect();
    imports.sort();
    imports.dedup();
    let imports = if imports.is_empty() {
        Vec::new()
    } else {
        calls += 1;
        store.batch_get(&imports).await?
    };
    let ops: Vec<WriteOp> = records
        .iter()
        .chain(&groups)
        .chain(&imports)
        .map(|i| WriteOp::put(i.clone()))
        .collect();
    let mut writes: Vec<WriteOp> = layout::upkeep(&scope.pk(), &ops)
        .into_iter()
        .filter(|op| matches!(op, WriteOp::Put { .. }))
        .collect();
    let kept: HashSet<Key> = writes.iter().map(|op| op.key().clone()).collect();
    writes.extend(
        current
            .iter()
            .filter(|i| i.key.sk != VERSION && i.key.sk != META && !kept.contains(&i.key))
            .map(|i| WriteOp::Delete {
                key: i.key.clone(),
                condition: Condition::None,
            }),
    );
    let built: Vec<Item> = writes
        .iter()
        .filter_map(|op| match op {
            WriteOp::Put { item, .. } => Some(item.clone()),
            _ => None,
        })
        .collect();
    if !writes.is_empty() {
        calls += 1;
        store.batch_write(writes).await?;
    }
    let unchanged = match version {
        Some(v) => Condition::Equals("v".into(), Value::from(v)),
        None => Condition::NotExists,
    };
    let marked = store
        .transact(vec![
            WriteOp::Check {
                key: scope.key(VERSION),
                condition: unchanged,
            },
            WriteOp::put(layout::built_item(&scope.pk())),
        ])
        .await;
    match marked {
        Ok(()) => {
            let mut snap = Snapshot::from_items(&built, None);
            snap.version = version.unwrap_or(0);
            tracing::info!(entries = snap.entries.len(), "registrant directory built");
            Ok((Some(snap), calls))
        }
        Err(StoreError::ConditionFailed) => Ok((None, calls)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::person::fixtures::scope;
    use crate::app::person::{PersonCore, SealedNumber};

    fn registrant(scope: &TenantScope) -> Registrant {
        let mut person = PersonCore::new(
            Names {
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
            },
            None,
            None,
            0,
        );
        person.status = Status::Pending;
        person.number = SealedNumber::read(
            &Item::new(scope.key("X"))
                .with("number", "sealed")
                .with("number_fp", "fp")
                .with("number_last4", "1234"),
        );
        Registrant {
            id: ulid::Ulid::new().to_string(),
            group_id: Some(ulid::Ulid::new().to_string()),
            code: "E001".into(),
            person,
            attribute: Attribute::ALL[1],
            email: Some("hanako@example.jp".into()),
            password_hash: Some("never listed".into()),
            login_lock: false,
            hire_date: None,
            note: String::new(),
            dependents: 2,
            dependents_unregistered: 1,
            dependents_pending: 1,
            dependents_status: Some(Status::Unregistered),
            dependents_text_cp932: Some(true),
            retired_on: Date::from_calendar_date(2026, time::Month::March, 31).ok(),
            delete_on: Date::from_calendar_date(2033, time::Month::April, 1).ok(),
            last_declaration_year: None,
        }
    }

    #[test]
    fn entry_stored_for_a_registrant_reads_back_as_the_registrant_lists() {
        // given a registrant with every listed field set, as its item is written
        let scope = scope();
        let r = registrant(&scope);
        let item = r.to_item(&scope);
        // when the directory entry is made from the item and read back
        let stored = layout::entry_item(&scope.pk(), &r.id, &item);
        let read = Entry::from_stored(&stored).expect("an entry");
        // then it equals the registrant's own entry, and holds no secret
        assert_eq!(read, Entry::from_registrant(&r));
        let raw = stored.str("e").unwrap_or_default();
        assert!(
            !raw.contains("sealed") && !raw.contains("never listed"),
            "{raw}"
        );
    }

    #[test]
    fn entry_written_before_the_cp932_flag_reads_back_as_unknown() {
        // given an entry as stored before `text_cp932` was kept (one attribute fewer)
        let scope = scope();
        let r = registrant(&scope);
        let stored = layout::entry_item(&scope.pk(), &r.id, &r.to_item(&scope));
        let mut wire: Vec<Value> = serde_json::from_str(stored.str("e").unwrap()).unwrap();
        assert_eq!(wire.pop(), Some(Value::from(true)));
        let old = Item::new(stored.key.clone()).with("e", Value::from(wire).to_string());
        // when it is read, then it still lists, its flag unknown
        let read = Entry::from_stored(&old).expect("an entry");
        assert_eq!((read.code.as_str(), read.text_cp932), ("E001", None));
    }
}
