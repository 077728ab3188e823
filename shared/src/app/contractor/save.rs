//! Saving 契約者情報: the details, PROFILE's company name and (when changed) the passcode in
//! one transaction, then the operation-log entries. Not here: validation (`form`).

use super::passcode::passcode_ops;
use super::{load, Contractor};
use crate::app::actor::Actor;
use crate::app::audit::record_by;
use crate::app::keys::TenantScope;
use crate::app::tenants;
use crate::app::{App, InfraError};
use crate::ports::store::{Condition, WriteOp};

/// Saves 契約者情報 and, when `new_passcode` is given, the passcode: the details, PROFILE's
/// company name and the passcode in one transaction; then one operation-log entry per change
/// (the names of the fields changed, never their values; never the passcode).
pub async fn save(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    details: Contractor,
    new_passcode: Option<&str>,
) -> Result<(), InfraError> {
    let mut tenant = tenants::load(scope)
        .await?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let before = load(scope, &tenant).await?;
    let changed = details.changed_fields(&before);
    let mut ops = match new_passcode {
        Some(p) => passcode_ops(app, scope, &mut tenant, Some(p)).await?,
        None => Vec::new(),
    };
    tenant.company_name.clone_from(&details.company_name);
    ops.push(WriteOp::Put {
        item: tenant.to_item(scope),
        condition: Condition::Exists,
    });
    ops.push(WriteOp::put(details.to_item(scope, app.now())));
    scope.transact(ops).await?;

    if !changed.is_empty() || new_passcode.is_none() {
        let what = if changed.is_empty() {
            "変更なし".to_string()
        } else {
            changed.join("、")
        };
        record_by(
            app,
            scope,
            actor,
            "contractor.update",
            None,
            format!("契約者情報の変更（{what}）"),
        )
        .await?;
    }
    if new_passcode.is_some() {
        record_by(
            app,
            scope,
            actor,
            "tenant.passcode",
            None,
            "企業パスコードの変更".into(),
        )
        .await?;
    }
    Ok(())
}
