//! Building a tenant's directory from its items: for data older than the directory (or its
//! current format), or after a batch write failed part-way. Not here: keeping it in step
//! (`app::directory::upkeep`), reading it (`super`).

use std::collections::HashSet;

use serde_json::Value;

use super::{read_prefix, Snapshot};
use crate::app::directory::{self as layout, Version, META, VERSION};
use crate::app::import_gate::IMPORT_ATTR;
use crate::app::keys::{sk, RecordId, TenantScope};
use crate::app::InfraError;
use crate::ports::store::{Condition, Item, Key, StoreError, WriteOp};

/// Builds the directory from the items themselves, and marks it built only if no write
/// happened since `current` (the directory items read, version first) was read; `None` when
/// one did (the next list builds again from what is then stored). With the Store calls it
/// took.
pub(super) async fn rebuild(
    scope: &TenantScope,
    current: &[Item],
) -> Result<(Option<Snapshot>, usize), InfraError> {
    let store = scope.raw_store().as_ref();
    let version_item = current.iter().find(|i| i.key.sk == VERSION);
    let version = version_item.and_then(|i| i.i64(layout::V));
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
        Some(v) => Condition::Equals(layout::V.into(), Value::from(v)),
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
            snap.seen = Version::read(version_item);
            tracing::info!(entries = snap.entries.len(), "registrant directory built");
            Ok((Some(snap), calls))
        }
        Err(StoreError::ConditionFailed) => Ok((None, calls)),
        Err(e) => Err(e.into()),
    }
}
