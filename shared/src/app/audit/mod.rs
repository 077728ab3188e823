//! The operation log (操作履歴): an append-only, hash-chained log per tenant, written through
//! the `Store` port into its own table.
//!
//! Each tenant's log is the partition `T#<tenant>` of the audit table: entries `LOG#<seq>` and
//! a head item `HEAD` holding the last sequence number and hash. An append writes the next
//! entry (must not exist) and moves the head (must still be at the previous sequence) in one
//! transaction, so concurrent writers never fork the chain; the loser retries. Each entry's
//! hash covers the previous hash and the entry's fields, so an edited, removed or reordered
//! entry breaks [`ChainedAudit::verify`]. Events without a tenant go to the `SYSTEM` log.
//! A log's first entry also lists its tenant under the `LOGS` partition, so a check of every
//! log (`myna-local verify-audit`) can find them all without scanning the table.
//!
//! The browser's user agent is recorded too: the web layer runs each request inside
//! [`with_user_agent`], and every entry written while it runs carries it (bounded in length),
//! so no use case passes it along. Reading the log for the screens lives in [`log`] (search,
//! CSV), [`report`] (取扱状況) and [`evidence`] (one person's history).
//!
//! Not here: who may read the log (the route table), and the IAM rule that no function may
//! update or delete audit items (the SAM template).
//!
//! Files by concern: this one holds the log's layout (keys, the stored [`Entry`]) and its
//! reads; `chain` the verification of the hash chain ([`Verification`]); `record` the append
//! and the request's user agent ([`with_user_agent`]); all re-exported here.

mod chain;
pub mod evidence;
pub mod log;
mod record;
pub mod report;

use std::sync::Arc;

use serde::Serialize;

use super::keys::TenantId;
use crate::crypto;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, Key, Query, Store, StoreError};
use crate::ports::Clock;

pub use chain::{LogCheck, Problem, Verification};
pub use record::{with_user_agent, USER_AGENT_MAX};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HEAD: &str = "HEAD";
/// The partition listing every log (one item per tenant, and one for `SYSTEM`).
const LOGS: &str = "LOGS";

pub struct ChainedAudit {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// One stored entry, in the field order its hash covers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
    /// Absent on entries written outside a request (background jobs) and on entries written
    /// before user agents were recorded: skipped when absent, so their hashes still hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub prev: String,
}

impl Entry {
    fn hash(&self) -> String {
        crypto::sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }

    fn from_item(item: &Item) -> Option<(Entry, String)> {
        let opt = |k: &str| item.str(k).map(str::to_string);
        Some((
            Entry {
                seq: item.i64("seq")?,
                at: opt("at")?,
                actor_id: opt("actor_id"),
                actor_name: opt("actor_name"),
                action: opt("action")?,
                target: opt("target"),
                detail: opt("detail")?,
                ip: opt("ip"),
                user_agent: opt("user_agent"),
                prev: opt("prev")?,
            },
            opt("hash")?,
        ))
    }
}

/// Records what a logged-in user did in their tenant.
pub async fn record_by(
    app: &crate::app::App,
    scope: &crate::app::keys::TenantScope,
    actor: &crate::app::actor::Actor,
    action: &str,
    target: Option<&str>,
    detail: String,
) -> Result<(), crate::app::InfraError> {
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: action.into(),
            target: target.map(str::to_string),
            detail,
            ip: Some(actor.ip.clone()),
        })
        .await?;
    Ok(())
}

fn partition(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("T#{t}"),
        None => "SYSTEM".to_string(),
    }
}

fn entry_sk(seq: i64) -> String {
    format!("LOG#{seq:012}")
}

/// The sequence number a stored entry's sort key names.
fn seq_of_sk(sk: &str) -> Option<i64> {
    sk.strip_prefix("LOG#")?.parse().ok()
}
impl ChainedAudit {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        ChainedAudit { store, clock }
    }

    /// Newest entries first, one page at a time.
    pub async fn list(
        &self,
        tenant: Option<&TenantId>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<Entry>, Option<String>), StoreError> {
        let page = self
            .store
            .query(
                &Query::partition(partition(tenant.map(TenantId::as_str)))
                    .prefix("LOG#")
                    .backwards()
                    .limit(limit)
                    .after(cursor),
            )
            .await?;
        let entries = page
            .items
            .iter()
            .filter_map(Entry::from_item)
            .map(|(e, _)| e)
            .collect();
        Ok((entries, page.next))
    }

    /// How many entries the tenant's log holds (its head's sequence number).
    pub async fn entry_count(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        let head = self
            .store
            .get(&Key::new(partition(Some(tenant.as_str())), HEAD))
            .await?;
        Ok(head.and_then(|h| h.i64("seq")).unwrap_or(0))
    }

    /// Deletes the tenant's whole log and its entry under `LOGS`: the month-end purge only
    /// (`app::purge`; in AWS only its role may delete from the audit table). Re-running after
    /// a failure deletes what is left.
    pub async fn erase_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let pk = partition(Some(tenant.as_str()));
        crate::ports::store::delete_partition(self.store.as_ref(), &pk).await?;
        self.store
            .delete(&Key::new(LOGS, &pk), Condition::None)
            .await
    }

    /// Every tenant with a log, in id order.
    pub async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(&Query::partition(LOGS).limit(500).after(cursor))
                .await?;
            out.extend(
                page.items
                    .iter()
                    .filter_map(|i| i.key.sk.strip_prefix("T#"))
                    .filter_map(TenantId::parse),
            );
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Entries of one log from newest to oldest, starting below `before` (a sequence number),
    /// read `chunk` at a time; `visit` returns `false` to stop.
    pub(crate) async fn walk_back(
        &self,
        tenant: &TenantId,
        before: Option<i64>,
        chunk: usize,
        mut visit: impl FnMut(Entry) -> bool,
    ) -> Result<(), StoreError> {
        let upper = match before {
            Some(b) if b <= 1 => return Ok(()),
            Some(b) => entry_sk(b - 1),
            None => entry_sk(999_999_999_999),
        };
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    &Query::partition(partition(Some(tenant.as_str())))
                        .between(entry_sk(0), upper.clone())
                        .backwards()
                        .limit(chunk)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                if let Some((entry, _)) = Entry::from_item(item) {
                    if !visit(entry) {
                        return Ok(());
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// What the unit tests of this log's files share: an event to record.
#[cfg(test)]
mod test_support {
    use super::TenantId;
    use crate::ports::audit::AuditEvent;

    pub(super) fn event(tenant: &TenantId, detail: &str) -> AuditEvent {
        AuditEvent {
            tenant_id: Some(tenant.to_string()),
            actor_id: None,
            actor_name: Some("監査 太郎".into()),
            action: "test".into(),
            target: None,
            detail: detail.into(),
            ip: Some("192.0.2.1".into()),
        }
    }
}
