//! Verifying a log's hash chain: each entry checked against its hash, its place and its
//! predecessor, and the head against the last entry. Not here: writing entries (`record`).

use super::{partition, seq_of_sk, ChainedAudit, Entry, GENESIS, HEAD};
use crate::app::keys::TenantId;
use crate::ports::store::{Item, Key, Query, StoreError};

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
    pub(super) fn intact(entries: u64) -> Verification {
        Verification {
            entries,
            broken_at: None,
            problem: None,
        }
    }

    pub(super) fn broken(seq: i64, problem: Problem) -> Verification {
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::super::entry_sk;
    use super::super::test_support::event;
    use super::*;
    use crate::adapters::embedded::SqliteDb;
    use crate::ports::audit::Audit;
    use crate::ports::store::{Condition, Store};
    use crate::ports::SystemClock;

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
}
