//! The company passcode (企業パスコード) as 契約者情報 keeps it: its argon2 hash on `PROFILE`
//! (what the phone login checks) and a copy sealed under a passcode key of its own
//! (`PASSCODE`, `app::secrets`) so the screen can show it. Both are always written together.
//! Not here: the phone login's passcode check (`app::enrol`).

use crate::app::keys::{sk, TenantScope};
use crate::app::secrets::{self, Purpose, SealedSecret};
use crate::app::tenants::{self, Tenant};
use crate::app::{passwords, App, InfraError};
use crate::ports::store::{Condition, Item, WriteOp};

/// The subject the sealed passcode is bound to (`app::secrets`, purpose `passcode`).
const PASSCODE_SUBJECT: &str = "company";
/// What 契約者情報 can say about the company passcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Passcode {
    Unset,
    /// Set, and readable here.
    Known(String),
    /// Set before the sealed copy existed: only its hash is kept, so it cannot be shown.
    SetUnreadable,
}

/// The company passcode, opened from its sealed copy (a page for 最高権限/管理担当者 only).
pub async fn passcode(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
) -> Result<Passcode, InfraError> {
    let Some(hash) = tenant.passcode_hash.clone() else {
        return Ok(Passcode::Unset);
    };
    let Some(sealed) = scope.get(&scope.key(sk::PASSCODE)).await?.and_then(|i| {
        Some(SealedSecret {
            secret: i.str("sealed")?.to_string(),
            key: i.str("sealed_key")?.to_string(),
        })
    }) else {
        return Ok(Passcode::SetUnreadable);
    };
    let opened = secrets::open(
        app,
        &tenant.keys,
        Purpose::Passcode,
        PASSCODE_SUBJECT,
        &sealed,
    )
    .await?;
    let plain = String::from_utf8(opened).map_err(|_| InfraError::Corrupt("passcode"))?;
    // The sealed copy and the hash are written together; a copy that no longer matches the
    // hash (a write from an older version) is not shown as if it were the passcode.
    if passwords::verify(hash, plain.clone()).await {
        Ok(Passcode::Known(plain))
    } else {
        Ok(Passcode::SetUnreadable)
    }
}

/// The writes that set the passcode: PROFILE with the new hash (on `tenant`, changed in place)
/// and its sealed copy.
pub(super) async fn passcode_ops(
    app: &App,
    scope: &TenantScope,
    tenant: &mut Tenant,
    passcode: Option<&str>,
) -> Result<Vec<WriteOp>, InfraError> {
    let mut ops = Vec::new();
    match passcode {
        Some(p) => {
            tenant.passcode_hash =
                Some(passwords::hash(app.config.password_params, p.to_string()).await?);
            let sealed = secrets::seal(
                app,
                &tenant.keys,
                Purpose::Passcode,
                PASSCODE_SUBJECT,
                p.as_bytes(),
            )
            .await?;
            ops.push(WriteOp::put(
                Item::new(scope.key(sk::PASSCODE))
                    .with("kind", "passcode")
                    .with("sealed", sealed.secret)
                    .with("sealed_key", sealed.key),
            ));
        }
        None => {
            tenant.passcode_hash = None;
            ops.push(WriteOp::Delete {
                key: scope.key(sk::PASSCODE),
                condition: Condition::None,
            });
        }
    }
    tenant.passcode_set = tenant.passcode_hash.is_some();
    Ok(ops)
}

/// Sets (or, with `None`, removes) the company passcode: its hash and its sealed copy in one
/// transaction. The caller records it in the operation log.
pub async fn set_passcode(
    app: &App,
    scope: &TenantScope,
    passcode: Option<&str>,
) -> Result<(), InfraError> {
    let mut tenant = tenants::load(scope)
        .await?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let mut ops = passcode_ops(app, scope, &mut tenant, passcode).await?;
    ops.push(WriteOp::Put {
        item: tenant.to_item(scope),
        condition: Condition::Exists,
    });
    scope.transact(ops).await?;
    Ok(())
}
