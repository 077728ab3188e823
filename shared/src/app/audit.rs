//! The operation log (操作履歴): an append-only, hash-chained log per tenant, written through
//! the `Store` port into its own table.
//!
//! Each tenant's log is the partition `T#<tenant>` of the audit table: entries `LOG#<seq>` and
//! a head item `HEAD` holding the last sequence number and hash. An append writes the next
//! entry (must not exist) and moves the head (must still be at the previous sequence) in one
//! transaction, so concurrent writers never fork the chain; the loser retries. Each entry's
//! hash covers the previous hash and the entry's fields, so an edited, removed or reordered
//! entry breaks [`ChainedAudit::verify`]. Events without a tenant go to the `SYSTEM` log.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::keys::TenantId;
use crate::crypto;
use crate::ports::audit::{Audit, AuditError, AuditEvent};
use crate::ports::store::{Condition, Item, Key, Query, Store, StoreError, WriteOp};
use crate::ports::Clock;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HEAD: &str = "HEAD";

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
                prev: opt("prev")?,
            },
            opt("hash")?,
        ))
    }
}

/// Result of checking a log's chain.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    pub entries: u64,
    /// First sequence number where the chain breaks, if it does.
    pub broken_at: Option<i64>,
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

    /// Walks a whole log and checks every link of the chain and the head.
    pub async fn verify(&self, tenant: Option<&TenantId>) -> Result<Verification, StoreError> {
        let pk = partition(tenant.map(TenantId::as_str));
        let mut prev_hash = GENESIS.to_string();
        let mut expected_seq = 1;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    &Query::partition(&pk)
                        .prefix("LOG#")
                        .limit(500)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                let broken = match Entry::from_item(item) {
                    Some((entry, hash)) => {
                        entry.seq != expected_seq || entry.prev != prev_hash || entry.hash() != hash
                    }
                    None => true,
                };
                if broken {
                    return Ok(Verification {
                        entries: (expected_seq - 1) as u64,
                        broken_at: Some(expected_seq),
                    });
                }
                prev_hash = item.str("hash").unwrap_or_default().to_string();
                expected_seq += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Entries removed from the end show up as a head ahead of the last entry.
        let head = self.store.get(&Key::new(&pk, HEAD)).await?;
        let head_seq = head.as_ref().and_then(|h| h.i64("seq")).unwrap_or(0);
        let head_hash = head
            .as_ref()
            .and_then(|h| h.str("hash").map(str::to_string))
            .unwrap_or(GENESIS.into());
        let entries = (expected_seq - 1) as u64;
        let broken_at =
            (head_seq != expected_seq - 1 || head_hash != prev_hash).then_some(expected_seq);
        Ok(Verification { entries, broken_at })
    }
}

#[async_trait]
impl Audit for ChainedAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let pk = partition(event.tenant_id.as_deref());
        let head_key = Key::new(&pk, HEAD);
        let at = self
            .clock
            .now()
            .format(&Rfc3339)
            .map_err(|e| AuditError(e.to_string()))?;
        for _ in 0..20 {
            let head = self
                .store
                .get(&head_key)
                .await
                .map_err(|e| AuditError(e.to_string()))?;
            let (seq, prev, head_condition) = match &head {
                Some(h) => {
                    let seq = h
                        .i64("seq")
                        .ok_or_else(|| AuditError("corrupt head".into()))?;
                    let hash = h.str("hash").unwrap_or(GENESIS).to_string();
                    (
                        seq + 1,
                        hash,
                        Condition::Equals("seq".into(), Value::from(seq)),
                    )
                }
                None => (1, GENESIS.to_string(), Condition::NotExists),
            };
            let entry = Entry {
                seq,
                at: at.clone(),
                actor_id: event.actor_id.clone(),
                actor_name: event.actor_name.clone(),
                action: event.action.clone(),
                target: event.target.clone(),
                detail: event.detail.clone(),
                ip: event.ip.clone(),
                prev,
            };
            let hash = entry.hash();
            let mut item = Item::new(Key::new(&pk, entry_sk(seq)));
            if let Value::Object(fields) = serde_json::to_value(&entry).unwrap_or_default() {
                item.attrs = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
            }
            item.attrs.insert("hash".into(), Value::from(hash.clone()));
            let head_item = Item::new(head_key.clone())
                .with("seq", seq)
                .with("hash", hash);
            let ops = vec![
                WriteOp::Put {
                    item: head_item,
                    condition: head_condition,
                },
                WriteOp::put_new(item),
            ];
            match self.store.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(AuditError(e.to_string())),
            }
        }
        Err(AuditError("too much contention on the audit head".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::SqliteDb;
    use crate::ports::SystemClock;

    fn event(tenant: &TenantId, detail: &str) -> AuditEvent {
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

    #[tokio::test]
    async fn verify_detects_an_edited_or_removed_entry() {
        let db = SqliteDb::in_memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.table("audit").unwrap());
        let audit = ChainedAudit::new(store.clone(), Arc::new(SystemClock));
        let tenant = TenantId::new();
        for i in 0..5 {
            audit
                .record(event(&tenant, &format!("操作{i}")))
                .await
                .unwrap();
        }
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification {
                entries: 5,
                broken_at: None
            }
        );

        let key = Key::new(format!("T#{tenant}"), entry_sk(3));
        let mut item = store.get(&key).await.unwrap().unwrap();
        item.attrs.insert("detail".into(), Value::from("改ざん"));
        store.put(item.clone(), Condition::None).await.unwrap();
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap().broken_at,
            Some(3)
        );

        store.delete(&key, Condition::None).await.unwrap();
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap().broken_at,
            Some(3)
        );
    }

    #[tokio::test]
    async fn concurrent_appends_keep_one_chain() {
        let db = SqliteDb::in_memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.table("audit").unwrap());
        let audit = Arc::new(ChainedAudit::new(store, Arc::new(SystemClock)));
        let tenant = TenantId::new();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (audit, tenant) = (audit.clone(), tenant.clone());
                tokio::spawn(async move { audit.record(event(&tenant, &format!("並行{i}"))).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification {
                entries: 8,
                broken_at: None
            }
        );
    }
}
