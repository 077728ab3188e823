//! Appending to a log: the next entry and the moved head in one transaction, retried when
//! another writer won; and the user agent of the request the entry is written in.
//! Not here: checking the chain (`chain`).

use std::future::Future;

use async_trait::async_trait;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::{entry_sk, partition, ChainedAudit, Entry, GENESIS, HEAD, LOGS};
use crate::ports::audit::{Audit, AuditError, AuditEvent};
use crate::ports::store::{Condition, Item, Key, StoreError, WriteOp};

/// Longest user agent kept in an entry (characters); longer ones are cut.
pub const USER_AGENT_MAX: usize = 300;

tokio::task_local! {
    static USER_AGENT: Option<String>;
}

/// Runs `work` (one request) so that every entry it writes carries `user_agent`.
pub async fn with_user_agent<F: Future>(user_agent: Option<&str>, work: F) -> F::Output {
    USER_AGENT.scope(user_agent.map(bounded), work).await
}

/// A user agent fit to store: control characters dropped, at most [`USER_AGENT_MAX`] characters.
fn bounded(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX)
        .collect()
}

fn current_user_agent() -> Option<String> {
    USER_AGENT
        .try_with(Clone::clone)
        .ok()
        .flatten()
        .filter(|ua| !ua.is_empty())
}

/// Sort-key prefix of the markers of entries written once (see [`ChainedAudit::record_once`]);
/// outside the `LOG#` range every read of the log uses.
const ONCE: &str = "ONCE#";

impl ChainedAudit {
    /// Appends `event` unless an entry was already appended under `once` in its log: how a
    /// job that may be re-run after a failure (a re-delivered event, a resumed import) writes
    /// its entry exactly once. The marker is written in the same transaction as the entry,
    /// so either both exist or neither; it is deleted with the log.
    pub async fn record_once(&self, event: AuditEvent, once: &str) -> Result<(), AuditError> {
        self.append(event, Some(once)).await
    }

    async fn append(&self, event: AuditEvent, once: Option<&str>) -> Result<(), AuditError> {
        let pk = partition(event.tenant_id.as_deref());
        let marker = once.map(|o| Key::new(&pk, format!("{ONCE}{o}")));
        let head_key = Key::new(&pk, HEAD);
        let at = self
            .clock
            .now()
            .format(&Rfc3339)
            .map_err(|e| AuditError(e.to_string()))?;
        let user_agent = current_user_agent();
        for _ in 0..20 {
            if let Some(marker) = &marker {
                let done = self
                    .store
                    .get(marker)
                    .await
                    .map_err(|e| AuditError(e.to_string()))?;
                if done.is_some() {
                    return Ok(());
                }
            }
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
                user_agent: user_agent.clone(),
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
            let first = head.is_none();
            let mut ops = vec![
                WriteOp::Put {
                    item: head_item,
                    condition: head_condition,
                },
                WriteOp::put_new(item),
            ];
            if first {
                // The log's first entry lists it, so a check of every log finds it.
                ops.push(WriteOp::put(Item::new(Key::new(LOGS, &pk))));
            }
            if let Some(marker) = &marker {
                ops.push(WriteOp::put_new(Item::new(marker.clone()).with("seq", seq)));
            }
            match self.store.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(AuditError(e.to_string())),
            }
        }
        Err(AuditError("too much contention on the audit head".into()))
    }
}

#[async_trait]
impl Audit for ChainedAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.append(event, None).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::event;
    use super::super::Verification;
    use super::*;
    use crate::adapters::embedded::SqliteDb;
    use crate::app::keys::TenantId;
    use crate::ports::store::Store;
    use crate::ports::SystemClock;

    #[tokio::test]
    async fn entries_carry_the_bounded_user_agent_of_the_request_they_were_written_in() {
        let db = SqliteDb::in_memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.table("audit").unwrap());
        let audit = ChainedAudit::new(store, Arc::new(SystemClock));
        let tenant = TenantId::new();
        let long = format!("Mozilla/5.0\n{}", "x".repeat(1000));
        with_user_agent(Some(&long), audit.record(event(&tenant, "画面から")))
            .await
            .unwrap();
        audit
            .record(event(&tenant, "バックグラウンド"))
            .await
            .unwrap();

        let (entries, _) = audit.list(Some(&tenant), 10, None).await.unwrap();
        assert_eq!(entries[0].user_agent, None);
        let ua = entries[1].user_agent.clone().unwrap();
        assert!(ua.starts_with("Mozilla/5.0x"), "{ua}");
        assert_eq!(ua.chars().count(), USER_AGENT_MAX);
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification::intact(2)
        );
        assert_eq!(audit.tenants().await.unwrap(), vec![tenant]);
    }

    #[tokio::test]
    async fn record_once_appends_one_entry_when_called_again_with_the_same_key() {
        // given a log with one entry written once under a key
        let db = SqliteDb::in_memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.table("audit").unwrap());
        let audit = ChainedAudit::new(store, Arc::new(SystemClock));
        let tenant = TenantId::new();
        audit
            .record_once(event(&tenant, "取込"), "import#1")
            .await
            .unwrap();
        // when the same key comes again (a re-run), and another key
        audit
            .record_once(event(&tenant, "取込"), "import#1")
            .await
            .unwrap();
        audit
            .record_once(event(&tenant, "取込"), "import#2")
            .await
            .unwrap();
        // then two entries, the chain intact
        let (entries, _) = audit.list(Some(&tenant), 10, None).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification::intact(2)
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
            Verification::intact(8)
        );
    }
}
