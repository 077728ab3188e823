//! Every key the application stores, built in one place, and [`TenantScope`]: the single
//! gate through which tenant data is read and written.
//!
//! Tenant items live in partitions starting `T#<tenant id>`; a `TenantScope` can only build
//! such keys for its own tenant and refuses any item (or index key) outside them, so no use
//! case can cross tenants even by mistake. The only global items are the login look-ups
//! (`EMAIL#…`, `CUST#…`), the install marker (`GLOBAL`), the purge job's work list
//! (`CANCELLATIONS`) and its number-free records (`PURGES`), built only by the functions below.

use std::sync::Arc;

use super::directory;
use crate::ports::store::{Condition, Item, Key, Page, Query, Store, StoreError, WriteOp};

/// A tenant id (ULID string), parsed once from trusted storage or a session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn new() -> Self {
        TenantId(ulid::Ulid::new().to_string())
    }

    /// Accepts only well-formed ULIDs, so an id can never smuggle a `#` into a key.
    pub fn parse(raw: &str) -> Option<Self> {
        ulid::Ulid::from_string(raw)
            .ok()
            .map(|u| TenantId(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record id (registrant, dependent, group, CSV import, mail blast): a ULID. An id from
/// outside (a URL, a form, an upload's name) is parsed into one before it reaches a key; one
/// that is not a ULID is simply not found. Kept as written (not re-cased), so a look-up asks
/// for exactly the id it was given.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(String);

impl RecordId {
    pub fn parse(raw: &str) -> Option<Self> {
        ulid::Ulid::from_string(raw)
            .ok()
            .map(|_| RecordId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Global look-up: email address → the tenants where it has a login user.
pub fn email_lookup(email: &str, tenant: &TenantId) -> Key {
    Key::new(format!("EMAIL#{email}"), format!("T#{tenant}"))
}

pub fn email_lookup_partition(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// Global look-up: customer number → tenant.
pub fn customer_lookup(customer_number: &str) -> Key {
    Key::new(format!("CUST#{customer_number}"), "CUST")
}

/// Global install marker (tenant count), so an empty install can lead to sign-up.
pub fn install_marker() -> Key {
    Key::new("GLOBAL", "INSTALL")
}

/// Global: a tenant whose cancellation (解約) is pending, by its 解約日, so the purge job
/// finds the tenants due without reading any tenant's data (`app::cancel`).
pub fn cancellation_due(due: &str, tenant: &TenantId) -> Key {
    Key::new(CANCELLATIONS, format!("{due}#{tenant}"))
}

/// The partition of [`cancellation_due`] items.
pub const CANCELLATIONS: &str = "CANCELLATIONS";

/// Global: a purge's progress and, once done, what is kept of the tenant (number-free:
/// customer number, company name, counts, key destruction time; `app::purge`).
pub fn purge_record(tenant: &TenantId) -> Key {
    Key::new(PURGES, format!("T#{tenant}"))
}

/// The partition of [`purge_record`] items.
pub const PURGES: &str = "PURGES";
/// Global: a tenant that holds (or held) a 削除予定日, so the retention reminder job finds the
/// tenants to look at without reading any other tenant's data (`app::retention`). Holds no
/// personal data: the tenant id only.
pub fn retention_tenant(tenant: &TenantId) -> Key {
    Key::new(RETENTION_TENANTS, format!("T#{tenant}"))
}

/// The partition of [`retention_tenant`] items.
pub const RETENTION_TENANTS: &str = "RETENTION_TENANTS";

/// Sort keys inside a tenant's main partition.
pub mod sk {
    pub const PROFILE: &str = "PROFILE";
    pub const COUNTERS: &str = "COUNTERS";
    /// 契約者情報 (app::contractor), apart from PROFILE so the two are edited independently.
    pub const CONTRACTOR: &str = "CONTRACTOR";
    /// The company passcode sealed under the tenant's data key, so 契約者情報 can show it.
    pub const PASSCODE: &str = "PASSCODE";
    /// A pending cancellation (解約申請), `app::cancel`.
    pub const CANCELLATION: &str = "CANCELLATION";

    pub fn user(user_id: &str) -> String {
        format!("USER#{user_id}")
    }

    /// Every login user of the tenant.
    pub const USERS: &str = "USER#";

    /// What is kept of a deleted login user: the name, for the operation log (no address,
    /// no password hash).
    pub fn deleted_user(user_id: &str) -> String {
        format!("DELUSER#{user_id}")
    }

    pub const DELETED_USERS: &str = "DELUSER#";

    /// The version of the tenant's set of login users: every change to it moves the version
    /// in its own transaction, so two changes can never together remove the last 最高権限.
    pub const USERS_VERSION: &str = "USERSVERSION";

    /// A deletion record of 廃棄 (`app::disposal`): number-free, kept after the person is gone.
    pub fn disposal(record_id: &str) -> String {
        format!("DISPOSAL#{record_id}")
    }

    pub const DISPOSALS: &str = "DISPOSAL#";
    /// The retention job mailed 最高権限 that this registrant's 削除予定日 (`date`, ISO) came.
    pub fn retention_mailed(registrant_id: &str, date: &str) -> String {
        format!("RETENTION#{registrant_id}#{date}")
    }
    pub const RETENTION_MAILED: &str = "RETENTION#";

    pub fn group(group_id: &str) -> String {
        format!("GROUP#{group_id}")
    }

    pub fn registrant(id: &str) -> String {
        format!("REG#{id}")
    }

    pub fn dependent(registrant_id: &str, dependent_id: &str) -> String {
        format!("REG#{registrant_id}#DEP#{dependent_id}")
    }

    pub fn dependents_prefix(registrant_id: &str) -> String {
        format!("REG#{registrant_id}#DEP#")
    }

    /// Claims a 社員コード within the tenant (uniqueness item).
    pub fn code(code: &str) -> String {
        format!("REGCODE#{code}")
    }

    /// One record holding a number with this fingerprint (duplicate detection).
    pub fn fingerprint(fp: &str, record_id: &str) -> String {
        format!("FP#{fp}#{record_id}")
    }

    pub fn fingerprint_prefix(fp: &str) -> String {
        format!("FP#{fp}#")
    }

    /// A registrant's current registration link (holds the hash of its token).
    pub fn link(registrant_id: &str) -> String {
        format!("LINK#{registrant_id}")
    }

    /// A registration link token, by its SHA-256 (current or replaced).
    pub fn link_token(token_hash: &str) -> String {
        format!("TOKEN#{token_hash}")
    }

    /// A registrant's own-entry progress (consent, finish).
    pub fn enrolment(registrant_id: &str) -> String {
        format!("ENROL#{registrant_id}")
    }

    /// A registrant on the 送信リスト (saved by 簡易登録, not yet mailed).
    pub fn send_list(registrant_id: &str) -> String {
        format!("SEND#{registrant_id}")
    }

    pub const SEND_LIST_PREFIX: &str = "SEND#";

    /// A collection-mail blast.
    pub fn blast(blast_id: &str) -> String {
        format!("BLAST#{blast_id}")
    }

    /// One recipient of a blast.
    pub fn blast_recipient(blast_id: &str, registrant_id: &str) -> String {
        format!("BLAST#{blast_id}#TO#{registrant_id}")
    }

    pub fn blast_recipients_prefix(blast_id: &str) -> String {
        format!("BLAST#{blast_id}#TO#")
    }

    /// Every fingerprint item of the tenant (a walk, for checking thousands of numbers).
    pub const FINGERPRINTS: &str = "FP#";

    /// Every registrant and dependent item of the tenant, each registrant followed by its
    /// dependents (a walk, for exporting thousands).
    pub const REGISTRANTS_AND_DEPENDENTS: &str = "REG#";

    /// A staged import (CSV アップロード, 複数一括登録): its state and progress.
    pub fn import(import_id: &str) -> String {
        format!("IMPORT#{import_id}")
    }

    /// One chunk of a staged import, in the import's own partition ([`super::index::import`]).
    pub fn import_chunk(n: usize) -> String {
        format!("CHUNK#{n:06}")
    }
}

/// Index partitions inside a tenant (the scope adds `T#<tenant>#`).
pub mod index {
    /// GSI1: registrants of one group (`NONE` for ungrouped), by 社員コード.
    pub fn group_members(group_id: Option<&str>) -> String {
        format!("GROUPMEMBERS#{}", group_id.unwrap_or("NONE"))
    }

    /// GSI2: every registrant of the tenant, by 社員コード.
    pub const ALL_REGISTRANTS: &str = "REGISTRANTS";

    /// Not an index: the partition holding a staged import's chunks, out of every list's way.
    pub fn import(import_id: &str) -> String {
        format!("IMPORT#{import_id}")
    }
}

/// Tenant-bound access to a store: every key starts with this tenant's partition prefix.
#[derive(Clone)]
pub struct TenantScope {
    tenant: TenantId,
    store: Arc<dyn Store>,
}

impl TenantScope {
    pub fn new(tenant: TenantId, store: Arc<dyn Store>) -> Self {
        TenantScope { tenant, store }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The tenant's main partition key, `T#<id>`.
    pub fn pk(&self) -> String {
        format!("T#{}", self.tenant)
    }

    /// A sub-partition of the tenant, `T#<id>#<suffix>` (secondary collections, indexes).
    pub fn partition(&self, suffix: &str) -> String {
        format!("T#{}#{suffix}", self.tenant)
    }

    /// A key in the tenant's main partition.
    pub fn key(&self, sk: &str) -> Key {
        Key::new(self.pk(), sk)
    }

    fn owns(&self, pk: &str) -> bool {
        let own = self.pk();
        pk == own
            || pk
                .strip_prefix(&own)
                .is_some_and(|rest| rest.starts_with('#'))
    }

    fn check_key(&self, key: &Key) -> Result<(), StoreError> {
        if self.owns(&key.pk) {
            Ok(())
        } else {
            Err(StoreError::Invalid("key outside the tenant".into()))
        }
    }

    fn check_item(&self, item: &Item) -> Result<(), StoreError> {
        self.check_key(&item.key)?;
        for attr in ["gsi1pk", "gsi2pk"] {
            if let Some(pk) = item.str(attr) {
                if !self.owns(pk) {
                    return Err(StoreError::Invalid("index key outside the tenant".into()));
                }
            }
        }
        Ok(())
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.check_key(key)?;
        self.store.get(key).await
    }

    pub async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        keys.iter().try_for_each(|k| self.check_key(k))?;
        self.store.batch_get(keys).await
    }

    pub async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.check_item(&item)?;
        let op = [WriteOp::Put { item, condition }];
        let extra = directory::upkeep(&self.pk(), &op);
        match op {
            [WriteOp::Put { item, condition }] if extra.is_empty() => {
                self.store.put(item, condition).await
            }
            [op] => self.transact_with_upkeep(vec![op], extra).await,
        }
    }

    pub async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.check_key(key)?;
        let op = WriteOp::Delete {
            key: key.clone(),
            condition,
        };
        let extra = directory::upkeep(&self.pk(), std::slice::from_ref(&op));
        match op {
            WriteOp::Delete { key, condition } if extra.is_empty() => {
                self.store.delete(&key, condition).await
            }
            op => self.transact_with_upkeep(vec![op], extra).await,
        }
    }

    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if !self.owns(&query.pk) {
            return Err(StoreError::Invalid("query outside the tenant".into()));
        }
        self.store.query(query).await
    }

    /// All of `ops` or none, with the registrant directory's upkeep in the same transaction
    /// (`app::directory`: one more write per registrant, group or import written,
    /// and a version bump).
    pub async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.check_ops(&ops)?;
        let extra = directory::upkeep(&self.pk(), &ops);
        self.transact_with_upkeep(ops, extra).await
    }

    /// `ops` and their directory upkeep `extra` in one transaction; now and then a look at
    /// the directory's stamps afterwards (`directory::due_for_trim`).
    async fn transact_with_upkeep(
        &self,
        mut ops: Vec<WriteOp>,
        extra: Vec<WriteOp>,
    ) -> Result<(), StoreError> {
        let trim = directory::due_for_trim(&extra);
        ops.extend(extra);
        self.store.transact(ops).await?;
        if trim {
            directory::trim_after_write(self.store.as_ref(), &self.pk()).await;
        }
        Ok(())
    }

    /// A batch write; the directory entries of what it writes go in the same batch and the
    /// version moves once it is done. A batch that fails part-way marks the directory for a
    /// rebuild, since it may then disagree with the items.
    pub async fn batch_write(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.check_ops(&ops)?;
        let pk = self.pk();
        let (extra, bump) = directory::split_version(&pk, directory::upkeep(&pk, &ops));
        ops.extend(extra);
        let written = self.store.batch_write(ops).await;
        if let Some(bump) = bump {
            if written.is_err() {
                // Best effort: the batch's own error is the one to report.
                let meta = directory::meta_key(&pk);
                let _ = self.store.delete(&meta, Condition::None).await;
            }
            self.store.transact(vec![bump]).await?;
        }
        written
    }

    /// The store behind the gate, for the registrant directory's own reads and writes (keys
    /// built by this scope only).
    pub(super) fn raw_store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Deletes every item of one of the tenant's partitions (the month-end purge only).
    pub async fn delete_partition(&self, pk: &str) -> Result<(), StoreError> {
        if !self.owns(pk) {
            return Err(StoreError::Invalid("partition outside the tenant".into()));
        }
        crate::ports::store::delete_partition(self.store.as_ref(), pk).await
    }

    /// Lists this tenant for the retention reminder job ([`retention_tenant`]); idempotent.
    pub async fn enlist_for_retention(&self) -> Result<(), StoreError> {
        self.store
            .put(Item::new(retention_tenant(&self.tenant)), Condition::None)
            .await
    }

    /// Checks ops built for this tenant, e.g. before adding them to a larger transaction.
    pub fn check_ops(&self, ops: &[WriteOp]) -> Result<(), StoreError> {
        ops.iter().try_for_each(|op| match op {
            WriteOp::Put { item, .. } => self.check_item(item),
            other => self.check_key(other.key()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> TenantScope {
        let db = crate::adapters::embedded::SqliteDb::in_memory().unwrap();
        TenantScope::new(TenantId::new(), Arc::new(db.table("main").unwrap()))
    }

    #[tokio::test]
    async fn scope_refuses_keys_of_another_tenant() {
        let a = scope();
        let other = TenantId::new();
        let foreign = Key::new(format!("T#{other}"), "PROFILE");
        assert!(matches!(a.get(&foreign).await, Err(StoreError::Invalid(_))));
        // A tenant id that merely starts with ours is still someone else's.
        let lookalike = Key::new(format!("{}X", a.pk()), "PROFILE");
        assert!(matches!(
            a.get(&lookalike).await,
            Err(StoreError::Invalid(_))
        ));
        let global = Key::new("EMAIL#a@example.jp", "x");
        assert!(a.put(Item::new(global), Condition::None).await.is_err());
        let sneaky = Item::new(a.key("X")).with("gsi1pk", format!("T#{other}#REG"));
        assert!(a.put(sneaky, Condition::None).await.is_err());
        assert!(a
            .query(&Query::partition(format!("T#{other}")))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn scope_reads_and_writes_its_own_partitions() {
        let a = scope();
        a.put(
            Item::new(a.key("PROFILE")).with("n", 1),
            Condition::NotExists,
        )
        .await
        .unwrap();
        let sub = Key::new(a.partition("REG"), "1");
        a.put(Item::new(sub.clone()), Condition::None)
            .await
            .unwrap();
        assert!(a.get(&a.key("PROFILE")).await.unwrap().is_some());
        assert!(a.get(&sub).await.unwrap().is_some());
    }

    #[test]
    fn tenant_id_parse_rejects_key_separators() {
        assert!(TenantId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_some());
        assert!(TenantId::parse("01ARZ3NDEKTSV4RRFFQ69G5FA#").is_none());
        assert!(TenantId::parse("").is_none());
    }

    #[test]
    fn record_id_parse_rejects_key_separators_and_keeps_the_id_as_written() {
        let upper = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        assert_eq!(RecordId::parse(upper).unwrap().as_str(), upper);
        let lower = upper.to_lowercase();
        assert_eq!(RecordId::parse(&lower).unwrap().as_str(), lower);
        assert!(RecordId::parse("01ARZ3NDEKTSV4RRFFQ69G5FA#").is_none());
        assert!(RecordId::parse("REG#01ARZ3NDEKTSV4RRFFQ69G5FAV").is_none());
        assert!(RecordId::parse("").is_none());
    }
}
