//! The registrant directory as the list reads it: each container keeps the tenant's
//! directory (see `app::directory` for its layout and upkeep) in memory by version, so a list
//! page costs one Store call (the version item) when the copy is current; two when another
//! container changed a few entries since (the version item's stamps name them: one
//! `batch_get`); and one query (two DynamoDB pages at 10,000 registrants) for a container
//! that has none, or whose copy is of another epoch. Tenants whose data predates the
//! directory (or its format) get it built from their items on their first list (`rebuild`).
//!
//! Not here: filtering and paging (`list`), the export's walk over the full rows (`select`),
//! how writes keep the directory in step (`app::directory`, applied by `TenantScope`).

mod entry;
mod rebuild;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, Weak};

pub use entry::Entry;

use crate::app::directory::{
    entry_raw, is_built, trim, Version, ENTRY, GROUP, IMPORT, META, MOST_STAMPS, PREFIX, VERSION,
};
use crate::app::import_gate::State;
use crate::app::keys::TenantScope;
use crate::app::InfraError;
use crate::ports::store::{Item, Query, Store, StoreError, MAX_BATCH_GET};

/// Items one directory query page asks for: the whole directory of any plan in one page on
/// the embedded store (DynamoDB still cuts pages at 1 MB).
const QUERY_LIMIT: usize = 100_000;
/// Tenants whose directory a container keeps; past it the cache starts over.
const CACHED_TENANTS: usize = 256;
/// Entries a container keeps across tenants (about 1 KB each in memory, so some 60 MB of a
/// 256 MB function); past it the cache starts over, so a container serving several large
/// tenants stays within its memory. A tenant larger than this alone is still kept.
const CACHED_ENTRIES: usize = 60_000;

/// Whether the cache starts over before keeping a snapshot of `adding` entries, holding
/// `tenants` snapshots of `held` entries in all.
fn starts_over(tenants: usize, held: usize, adding: usize) -> bool {
    tenants >= CACHED_TENANTS || held + adding > CACHED_ENTRIES
}

/// The directory of one tenant at one version: visible entries in 社員コード order and in
/// フリガナ order, and the names of every group.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub version: i64,
    pub entries: Vec<Arc<Entry>>,
    /// The same entries in フリガナ order (`sort=name`), kept sorted per version.
    pub by_name: Vec<Arc<Entry>>,
    pub groups: HashMap<String, String>,
    /// The version item this copy is current with (epoch and stamps).
    seen: Version,
    /// Every stored entry by id as read (hidden ones too) and what it made, so a full reload
    /// parses only the entries that changed.
    stored: HashMap<Arc<str>, (Arc<str>, Arc<Entry>)>,
    /// Imports whose rows are not there yet (`app::import_gate`).
    hidden: HashSet<String>,
}

impl Snapshot {
    /// The snapshot of the directory `items` (version first); entries unchanged since
    /// `previous` are taken over from it rather than parsed again.
    fn from_items(items: &[Item], previous: Option<&Snapshot>) -> Snapshot {
        let mut snap = Snapshot::default();
        for item in items {
            let sk = item.key.sk.as_str();
            if sk == VERSION {
                snap.seen = Version::read(Some(item));
            } else if let Some(id) = sk.strip_prefix(GROUP) {
                if let Some(name) = item.str("name") {
                    snap.groups.insert(id.to_string(), name.to_string());
                }
            } else if let Some(id) = sk.strip_prefix(IMPORT) {
                if hides(item) {
                    snap.hidden.insert(id.to_string());
                }
            } else if sk.starts_with(ENTRY) {
                snap.store_entry(item, previous);
            }
        }
        snap.arrange(None);
        snap
    }

    /// This snapshot brought up to `seen` from the directory items under `changed` (sort
    /// keys) as read after `seen`: `items` holds those still stored; a missing one was deleted.
    fn patch(&self, seen: Version, changed: &[String], items: &[Item]) -> Snapshot {
        let fetched: HashMap<&str, &Item> = items.iter().map(|i| (i.key.sk.as_str(), i)).collect();
        let mut snap = Snapshot {
            version: 0,
            entries: Vec::new(),
            by_name: Vec::new(),
            groups: self.groups.clone(),
            seen,
            stored: self.stored.clone(),
            hidden: self.hidden.clone(),
        };
        let mut replaced: HashSet<&str> = HashSet::new();
        let mut imports_moved = false;
        for sk in changed {
            let item = fetched.get(sk.as_str()).copied();
            if let Some(id) = sk.strip_prefix(ENTRY) {
                replaced.insert(id);
                snap.stored.remove(id);
                if let Some(item) = item {
                    snap.store_entry(item, None);
                }
            } else if let Some(id) = sk.strip_prefix(GROUP) {
                match item.and_then(|i| i.str("name")) {
                    Some(name) => snap.groups.insert(id.to_string(), name.to_string()),
                    None => snap.groups.remove(id),
                };
            } else if let Some(id) = sk.strip_prefix(IMPORT) {
                imports_moved = true;
                snap.hidden.remove(id);
                if item.is_some_and(hides) {
                    snap.hidden.insert(id.to_string());
                }
            }
        }
        // An import's flip may show or hide any row: every entry is placed again. Otherwise
        // the previous orders stay, less what changed, plus its new form.
        let previous = (!imports_moved).then_some((self, &replaced));
        snap.arrange(previous);
        snap
    }

    /// Keeps the entry `item` (parsed unless `previous` holds it unchanged).
    fn store_entry(&mut self, item: &Item, previous: Option<&Snapshot>) {
        let (Some(id), Some(raw)) = (item.key.sk.strip_prefix(ENTRY), entry_raw(item)) else {
            return;
        };
        let known = previous
            .and_then(|p| p.stored.get_key_value(id))
            .filter(|(_, (was, _))| &**was == raw)
            .map(|(id, (raw, e))| (Arc::clone(id), (Arc::clone(raw), Arc::clone(e))));
        let parsed = || {
            let e = Entry::from_stored(item)?;
            Some((Arc::from(id), (Arc::from(raw), Arc::new(e))))
        };
        if let Some((id, stored)) = known.or_else(parsed) {
            self.stored.insert(id, stored);
        }
    }

    fn visible(&self, e: &Entry) -> bool {
        e.import_id
            .as_deref()
            .is_none_or(|i| !self.hidden.contains(i))
    }

    /// Lists the visible stored entries in both orders: from scratch, or from `previous`'s
    /// orders, taking out the entries `replaced` and putting in their stored form where
    /// each order has it (a binary search each: a few changes cost microseconds, not a sort).
    fn arrange(&mut self, previous: Option<(&Snapshot, &HashSet<&str>)>) {
        let by_code = |a: &Arc<Entry>, b: &Entry| a.order.cmp(&b.order);
        let by_name =
            |a: &Arc<Entry>, b: &Entry| (&a.name_order, &a.id).cmp(&(&b.name_order, &b.id));
        match previous {
            None => {
                let mut all: Vec<Arc<Entry>> = self
                    .stored
                    .values()
                    .map(|(_, e)| e)
                    .filter(|e| self.visible(e))
                    .cloned()
                    .collect();
                all.sort_by(|a, b| by_code(a, b));
                let mut names = all.clone();
                names.sort_by(|a, b| by_name(a, b));
                (self.entries, self.by_name) = (all, names);
            }
            Some((prev, replaced)) => {
                let (mut entries, mut names) = (prev.entries.clone(), prev.by_name.clone());
                for id in replaced.iter() {
                    if let Some((_, old)) = prev.stored.get(*id) {
                        if let Ok(i) = entries.binary_search_by(|e| by_code(e, old)) {
                            entries.remove(i);
                        }
                        if let Ok(i) = names.binary_search_by(|e| by_name(e, old)) {
                            names.remove(i);
                        }
                    }
                }
                for id in replaced.iter() {
                    let Some((_, new)) = self.stored.get(*id) else {
                        continue;
                    };
                    if !self.visible(new) {
                        continue;
                    }
                    if let Err(i) = entries.binary_search_by(|e| by_code(e, new)) {
                        entries.insert(i, Arc::clone(new));
                    }
                    if let Err(i) = names.binary_search_by(|e| by_name(e, new)) {
                        names.insert(i, Arc::clone(new));
                    }
                }
                (self.entries, self.by_name) = (entries, names);
            }
        }
        self.version = self.seen.v;
    }
}

/// Whether an import's directory item hides its rows (not yet flipped, or unknown).
fn hides(item: &Item) -> bool {
    let state = item.str("state").and_then(State::from_code);
    !state.is_some_and(State::visible)
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

fn remember(key: (usize, String), store: &Arc<dyn Store>, snap: &Arc<Snapshot>) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.remove(&key);
    let held = cache.values().map(|(_, s)| s.entries.len()).sum();
    if starts_over(cache.len(), held, snap.entries.len()) {
        cache.clear();
    }
    cache.insert(key, (Arc::downgrade(store), Arc::clone(snap)));
}

/// The tenant's current directory and the Store calls it took: 1 when this container's copy
/// is current; 2 when a few items changed since (the version item, then those items); else
/// the directory query (after the version item if a copy was there).
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
        let item = store.get(&scope.key(VERSION)).await?;
        calls += 1;
        let seen = Version::read(item.as_ref());
        if (seen.v, seen.epoch) == (snap.seen.v, snap.seen.epoch) {
            return Ok((Arc::clone(snap), calls));
        }
        // Too many stamps: trimmed here (the next reader of another copy reads it whole).
        let mut trimmed = false;
        if let Some(item) = item.as_ref().filter(|_| seen.stamps.len() > MOST_STAMPS) {
            trimmed = trim(store.as_ref(), item).await?;
            calls += 1;
        }
        if let Some(mut patched) = catch_up(scope, snap, &seen, &mut calls).await? {
            // Current with the version item as read, so with the same item trimmed.
            if trimmed {
                patched.seen.epoch += 1;
                patched.seen.stamps.clear();
            }
            let patched = Arc::new(patched);
            remember(key, store, &patched);
            return Ok((patched, calls));
        }
    }
    let (items, pages) = read_prefix(store.as_ref(), scope.pk(), PREFIX).await?;
    calls += pages;
    let built = items.iter().any(|i| i.key.sk == META && is_built(i));
    let snap = if built {
        Arc::new(Snapshot::from_items(&items, cached.as_deref()))
    } else {
        let (built, building) = rebuild::rebuild(scope, &items).await?;
        calls += building;
        match built {
            Some(snap) => Arc::new(snap),
            // Someone wrote meanwhile: serve what was read, cache nothing.
            None => return Ok((Arc::new(Snapshot::from_items(&items, None)), calls)),
        }
    };
    remember(key, store, &snap);
    Ok((snap, calls))
}

/// `snap` brought up to `seen` (the version item as just read) by re-reading only the items
/// whose stamp moved; `None` when the stamps cannot tell (another epoch, too many changes, or
/// none though the version moved): the caller reads the directory whole.
async fn catch_up(
    scope: &TenantScope,
    snap: &Snapshot,
    seen: &Version,
    calls: &mut usize,
) -> Result<Option<Snapshot>, InfraError> {
    if seen.epoch != snap.seen.epoch {
        return Ok(None);
    }
    let changed = seen.changed_since(&snap.seen);
    if changed.is_empty() || changed.len() > MAX_BATCH_GET {
        return Ok(None);
    }
    let keys: Vec<_> = changed.iter().map(|sk| scope.key(sk)).collect();
    let items = scope.raw_store().batch_get(&keys).await?;
    *calls += 1;
    Ok(Some(snap.patch(seen.clone(), &changed, &items)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_starts_over_when_its_tenants_or_entries_would_pass_the_bound() {
        // a few small tenants stay; the 257th tenant, or entries past the bound, start over
        assert!(!starts_over(3, 1_000, 500));
        assert!(starts_over(CACHED_TENANTS, 1_000, 500));
        assert!(!starts_over(5, 50_000, 10_000));
        assert!(starts_over(5, 50_000, 10_001));
        // one tenant larger than the bound alone is still kept (nothing else is held)
        assert!(!starts_over(0, 0, CACHED_ENTRIES));
    }
}
