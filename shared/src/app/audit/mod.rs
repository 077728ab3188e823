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

pub mod evidence;
pub mod log;
pub mod report;

use std::future::Future;
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
/// The partition listing every log (one item per tenant, and one for `SYSTEM`).
const LOGS: &str = "LOGS";
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

/// Result of checking a log's chain.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    /// Entries found intact, from the first, before any break.
    pub entries: u64,
    /// First sequence number where the chain breaks, if it does.
    pub broken_at: Option<i64>,
    /// What is wrong there.
    pub problem: Option<Problem>,
}

/// How a chain is broken at its first bad entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The entry's content no longer matches its hash.
    Altered,
    /// The entry is gone (a later one follows, or the head says there were more).
    Missing,
    /// An entry stands where another belongs, or links to another predecessor.
    OutOfOrder,
}

impl Problem {
    /// The 操作履歴 screen's words for it.
    pub fn label(self) -> &'static str {
        match self {
            Problem::Altered => "記録の内容が書き換えられています",
            Problem::Missing => "記録が欠落しています",
            Problem::OutOfOrder => "記録の順序が入れ替えられています",
        }
    }
}

impl Verification {
    fn intact(entries: u64) -> Verification {
        Verification {
            entries,
            broken_at: None,
            problem: None,
        }
    }

    fn broken(seq: i64, problem: Problem) -> Verification {
        Verification {
            entries: u64::try_from(seq - 1).unwrap_or(0),
            broken_at: Some(seq),
            problem: Some(problem),
        }
    }

    /// One line for people: 正常 with the count, or where and how the chain breaks.
    pub fn summary(&self) -> String {
        match (self.broken_at, self.problem) {
            (Some(seq), Some(p)) => format!("異常: {seq}番目の記録で{}", p.label()),
            (Some(seq), None) => format!("異常: {seq}番目の記録"),
            _ => format!("正常（{}件）", self.entries),
        }
    }
}

/// One log in a check of every log: its tenant (`None` for `SYSTEM`) and the result.
#[derive(Debug)]
pub struct LogCheck {
    pub tenant: Option<TenantId>,
    pub result: Verification,
}

/// Records what a logged-in user did in their tenant.
pub async fn record_by(
    app: &crate::app::App,
    scope: &crate::app::keys::TenantScope,
    actor: &crate::app::registrants::Actor,
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

/// What is wrong with `item`, found where entry `expected` (following `prev_hash`) belongs.
fn check_entry(item: &Item, expected: i64, prev_hash: &str) -> Option<Problem> {
    let at = seq_of_sk(&item.key.sk);
    if at.is_some_and(|at| at > expected) {
        return Some(Problem::Missing);
    }
    let Some((entry, hash)) = Entry::from_item(item) else {
        return Some(Problem::Altered);
    };
    if entry.seq != expected || at != Some(expected) {
        return Some(Problem::OutOfOrder);
    }
    if entry.hash() != hash {
        return Some(Problem::Altered);
    }
    if entry.prev != prev_hash {
        return Some(Problem::OutOfOrder);
    }
    None
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
                if let Some(problem) = check_entry(item, expected_seq, &prev_hash) {
                    return Ok(Verification::broken(expected_seq, problem));
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
        let last = expected_seq - 1;
        Ok(if head_seq > last {
            Verification::broken(expected_seq, Problem::Missing)
        } else if head_seq != last || head_hash != prev_hash {
            Verification::broken(last.max(1), Problem::Altered)
        } else {
            Verification::intact(u64::try_from(last).unwrap_or(0))
        })
    }

    /// Checks every log the audit table holds: each tenant's, then the `SYSTEM` log.
    pub async fn verify_all(&self) -> Result<Vec<LogCheck>, StoreError> {
        let mut checks = Vec::new();
        for tenant in self.tenants().await? {
            let result = self.verify(Some(&tenant)).await?;
            checks.push(LogCheck {
                tenant: Some(tenant),
                result,
            });
        }
        let result = self.verify(None).await?;
        checks.push(LogCheck {
            tenant: None,
            result,
        });
        Ok(checks)
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
        let user_agent = current_user_agent();
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
    async fn verify_reports_out_of_order_when_two_entries_swap_places() {
        let db = SqliteDb::in_memory().unwrap();
        let store: Arc<dyn Store> = Arc::new(db.table("audit").unwrap());
        let audit = ChainedAudit::new(store.clone(), Arc::new(SystemClock));
        let tenant = TenantId::new();
        for i in 0..4 {
            audit
                .record(event(&tenant, &format!("操作{i}")))
                .await
                .unwrap();
        }
        let key = |seq| Key::new(format!("T#{tenant}"), entry_sk(seq));
        let (mut two, mut three) = (
            store.get(&key(2)).await.unwrap().unwrap(),
            store.get(&key(3)).await.unwrap().unwrap(),
        );
        std::mem::swap(&mut two.key, &mut three.key);
        store.put(two, Condition::None).await.unwrap();
        store.put(three, Condition::None).await.unwrap();

        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification::broken(2, Problem::OutOfOrder)
        );
    }

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
            Verification::intact(5)
        );

        let key = Key::new(format!("T#{tenant}"), entry_sk(3));
        let mut item = store.get(&key).await.unwrap().unwrap();
        item.attrs.insert("detail".into(), Value::from("改ざん"));
        store.put(item.clone(), Condition::None).await.unwrap();
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification::broken(3, Problem::Altered)
        );

        store.delete(&key, Condition::None).await.unwrap();
        assert_eq!(
            audit.verify(Some(&tenant)).await.unwrap(),
            Verification::broken(3, Problem::Missing)
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
