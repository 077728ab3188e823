//! マイナンバーの利用 (manual ch.10): showing a number (表示) to a user who re-enters their
//! password and declares one of the legal purposes. Every showing is audited with the purpose;
//! wrong passwords are rate limited per user and per client address.

use super::actor::{audit_event, Actor};
use super::dependents;
use super::keys::TenantScope;
use super::registrants::{self as regs};
use super::tenants::Tenant;
use super::users::User;
use super::{passwords, rate_limit, App, InfraError};
use crate::domain::my_number::MyNumber;
use crate::domain::purpose::Purpose;

#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("パスワードを入力してください。")]
    PasswordMissing,
    #[error("利用目的を選択してください。")]
    PurposeMissing,
    #[error("パスワードが正しくありません。")]
    WrongPassword,
    #[error("パスワードの誤りが続いたため、一時的に表示を制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error("マイナンバーは登録されていません。")]
    NoNumber,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Whose number: a registrant, or one of its dependents.
pub struct Target<'a> {
    pub registrant_id: &'a str,
    pub dependent_id: Option<&'a str>,
}

/// What was shown, for the page.
pub struct Revealed {
    pub number: MyNumber,
    pub whose: String,
    pub purpose: Purpose,
}

#[allow(clippy::too_many_arguments)]
pub async fn reveal(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
    actor: &Actor,
    target: Target<'_>,
    password: &str,
    purpose: &str,
) -> Result<Revealed, RevealError> {
    let registrant = regs::get(scope, target.registrant_id)
        .await?
        .ok_or(RevealError::NotFound)?;
    let (record_id, sealed, whose) = match target.dependent_id {
        None => (
            registrant.id.clone(),
            registrant.person.number.clone(),
            registrant.name(),
        ),
        Some(dep) => {
            let d = dependents::get(scope, target.registrant_id, dep)
                .await?
                .ok_or(RevealError::NotFound)?;
            let whose = format!(
                "{}（{}の{}）",
                d.name(),
                registrant.name(),
                d.relationship.label()
            );
            (d.id.clone(), d.person.number.clone(), whose)
        }
    };
    let purpose = match reauthenticate(app, scope, user, actor, password, purpose).await {
        Err(RevealError::WrongPassword) => {
            app.audit()
                .record(audit_event(
                    scope,
                    actor,
                    "number.reveal_denied",
                    &registrant.id,
                    format!("{whose}のマイナンバー表示（パスワード誤り）"),
                ))
                .await
                .map_err(InfraError::from)?;
            return Err(RevealError::WrongPassword);
        }
        other => other?,
    };
    let sealed = sealed.ok_or(RevealError::NoNumber)?;
    let number = app
        .vault
        .open_number(&tenant.keys, &record_id, &sealed.sealed)
        .await?;
    // Recorded before the page is returned: no audit entry, no number.
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "number.reveal",
            &registrant.id,
            format!("{whose}のマイナンバー表示（利用目的: {}）", purpose.label()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(Revealed {
        number,
        whose,
        purpose,
    })
}

/// The checks before any number leaves the vault (表示 and CSVダウンロード alike): the user's
/// password again and one of the legal purposes. Wrong passwords count against the user and
/// the client address ([`rate_limit::REAUTH_ACCOUNT`], [`rate_limit::REAUTH_IP`]); once either
/// is used up even the right password waits out the window. The caller audits a refusal
/// ([`RevealError::WrongPassword`]) in its own words.
pub async fn reauthenticate(
    app: &App,
    scope: &TenantScope,
    user: &User,
    actor: &Actor,
    password: &str,
    purpose: &str,
) -> Result<Purpose, RevealError> {
    if password.is_empty() {
        return Err(RevealError::PasswordMissing);
    }
    let purpose = Purpose::from_code(purpose.trim()).ok_or(RevealError::PurposeMissing)?;
    let now = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    let account = format!("{}#{}", scope.tenant(), user.id);
    let blocked = rate_limit::is_blocked(store, &rate_limit::REAUTH_ACCOUNT, &account, now)
        .await
        .map_err(InfraError::from)?
        || rate_limit::is_blocked(store, &rate_limit::REAUTH_IP, &actor.ip, now)
            .await
            .map_err(InfraError::from)?;
    if blocked {
        return Err(RevealError::Locked);
    }
    if !passwords::verify(user.password_hash.clone(), password.to_string()).await {
        rate_limit::hit(store, &rate_limit::REAUTH_IP, &actor.ip, now)
            .await
            .map_err(InfraError::from)?;
        rate_limit::hit(store, &rate_limit::REAUTH_ACCOUNT, &account, now)
            .await
            .map_err(InfraError::from)?;
        return Err(RevealError::WrongPassword);
    }
    Ok(purpose)
}
