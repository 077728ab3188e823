//! 削除 (manual ch.11): a registrant goes with everything under it, its dependents, its
//! 社員コード claim and number fingerprints, its place on the send list and its document
//! images. The one use case that needs registrants, dependents, collection and images at
//! once, so it sits above them and none of them imports another for it.
//!
//! Not here: deleting one dependent (`app::dependents::delete`); retention and 廃棄 to come.

use super::actor::{audit_event, Actor};
use super::keys::TenantScope;
use super::registrants::{self as regs, SaveError};
use super::tenants::Tenant;
use super::{collection, dependents as deps, images, App, InfraError};

/// Deletes a registrant with its claims and its dependents, in one transaction.
pub async fn delete_registrant(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    id: &str,
) -> Result<(), SaveError> {
    let before = regs::get(scope, id).await?.ok_or(SaveError::NotFound)?;
    let dependents = deps::list(scope, id).await?;
    let mut ops = deps::delete_ops(scope, id).await?;
    ops.extend(collection::forget_ops(scope, id));
    regs::commit_with(scope, Some(&before), None, ops).await?;
    images::remove_objects(app, scope, tenant, &before.person.images).await;
    for d in &dependents {
        images::remove_objects(app, scope, tenant, &d.person.images).await;
    }
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.delete",
            &before.id,
            format!("登録者「{}」の削除", before.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(())
}
