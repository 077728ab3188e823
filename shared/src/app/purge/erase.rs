//! Step 3 of the purge: every record of the tenant in the main table, and the global items
//! that point at it (login look-ups by address and customer number, the install count).
//! Each part deletes what is left, so a re-run after a crash finishes the job.
//!
//! The tenant's items are its main partition `T#<id>` and its sub-partitions: `NOTICES` and
//! one per staged import. A capability adding a sub-partition adds it here too (the purge
//! test checks that nothing of the tenant is left in the table).

use super::{PurgeError, PurgeRecord};
use crate::app::keys::{self as k, index, sk, TenantScope};
use crate::app::App;
use crate::ports::store::{Condition, Query, StoreError, WriteOp};

/// Items deleted per round.
const ROUND: usize = 500;

pub(super) async fn records(app: &App, record: &PurgeRecord) -> Result<(), PurgeError> {
    let scope = TenantScope::new(record.tenant.clone(), app.ports.store.clone());
    let main = scope.pk();

    // Sub-partitions first: they are found through items of the main partition.
    let imports = scope
        .query(&Query::partition(&main).prefix("IMPORT#").limit(ROUND))
        .await?;
    for item in &imports.items {
        if let Some(id) = item.key.sk.strip_prefix("IMPORT#") {
            scope
                .delete_partition(&scope.partition(&index::import(id)))
                .await?;
        }
    }
    scope.delete_partition(&scope.partition("NOTICES")).await?;

    // Login look-ups: after this no address or customer number leads to the tenant.
    loop {
        let users = scope
            .query(&Query::partition(&main).prefix(sk::USERS).limit(ROUND))
            .await?;
        if users.items.is_empty() {
            break;
        }
        let mut ops = Vec::new();
        for user in users.items {
            if let Some(email) = user.str("email") {
                ops.push(WriteOp::Delete {
                    key: k::email_lookup(email, &record.tenant),
                    condition: Condition::None,
                });
            }
            ops.push(WriteOp::Delete {
                key: user.key,
                condition: Condition::None,
            });
        }
        // Global look-ups and the tenant's own items: not one tenant's batch, so the store
        // itself (the look-up comes before the user item it is found from).
        app.ports.store.batch_write(ops).await?;
    }
    app.ports
        .store
        .delete(
            &k::customer_lookup(&record.customer_number),
            Condition::None,
        )
        .await?;

    // Everything else of the main partition; the profile last, with the install count.
    loop {
        let page = scope.query(&Query::partition(&main).limit(ROUND)).await?;
        let ops: Vec<WriteOp> = page
            .items
            .into_iter()
            .filter(|i| i.key.sk != sk::PROFILE)
            .map(|i| WriteOp::Delete {
                key: i.key,
                condition: Condition::None,
            })
            .collect();
        if ops.is_empty() {
            break;
        }
        scope.batch_write(ops).await?;
    }
    let last = vec![
        WriteOp::Delete {
            key: scope.key(sk::PROFILE),
            condition: Condition::Exists,
        },
        WriteOp::Add {
            key: k::install_marker(),
            deltas: vec![("tenants".into(), -1)],
            expires_at: None,
        },
    ];
    match app.ports.store.transact(last).await {
        // Already gone: a re-run after the profile went.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
