//! The registrant's own entry on their phone (manual ch.8): open the mailed link, set a
//! password (first visit) or log in, enter the company passcode, consent to the purposes,
//! then enter their number, photos and dependents, and finish (登録を終了 → 承認待).
//!
//! Every wrong password or passcode counts against the pair of link and client address, the
//! client address, and (with a higher ceiling and growing delays) the link from everywhere
//! (`rate_limit::ENROL_*`), so whoever else holds the link cannot lock its owner out from
//! another address; a locked registrant (approved, ログインロック) cannot log in.
//! Each step is saved as it is submitted, so a reload or a lost connection loses nothing.
//!
//! This file: the link, login and consent; `steps` holds ステップ1 and the phone's dependent
//! form, `finish` 登録を終了.

use super::actor::Actor;
use super::collection::{self, LinkState};
use super::keys::{sk, TenantId, TenantScope};
use super::rate_limit::{self, ENROL_IP, ENROL_LINK, ENROL_PAIR};
use super::registrants::{self as regs, Registrant, SaveError};
use super::tenants::{self, Tenant};
use super::{passwords, sessions, App, InfraError};
use crate::domain::identity::check_password_strength;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Item, StoreError, WriteOp};

mod finish;
mod steps;
pub use finish::{finish, missing, FinishError};
pub use steps::{
    birth_date, number_boxes, save_own, validate_dependent, validate_own, Own, OwnForm,
    PhoneDependentForm,
};

/// A link that resolved to a registrant.
#[derive(Clone)]
pub struct Entry {
    pub scope: TenantScope,
    pub tenant: Tenant,
    pub registrant: Registrant,
    pub token_hash: String,
}

impl Entry {
    /// First visit: the registrant has no password yet and sets one.
    pub fn first_visit(&self) -> bool {
        self.registrant.password_hash.is_none()
    }
}

pub enum Opened {
    Ready(Box<Entry>),
    Expired,
    Replaced,
    Revoked,
    Unknown,
}

/// Resolves `/r/<tenant>/<token>`.
pub async fn open(app: &App, tenant: &str, token: &str) -> Result<Opened, InfraError> {
    let Some(tenant_id) = TenantId::parse(tenant) else {
        return Ok(Opened::Unknown);
    };
    let scope = TenantScope::new(tenant_id, app.ports.store.clone());
    let Some(tenant) = tenants::load(&scope).await? else {
        return Ok(Opened::Unknown);
    };
    let (registrant_id, token_hash) = match collection::resolve(app, &scope, token).await? {
        LinkState::Valid {
            registrant_id,
            token_hash,
        } => (registrant_id, token_hash),
        LinkState::Expired => return Ok(Opened::Expired),
        LinkState::Replaced => return Ok(Opened::Replaced),
        LinkState::Revoked => return Ok(Opened::Revoked),
        LinkState::Unknown => return Ok(Opened::Unknown),
    };
    let Some(registrant) = regs::get(&scope, &registrant_id).await? else {
        return Ok(Opened::Unknown);
    };
    Ok(Opened::Ready(Box::new(Entry {
        scope,
        tenant,
        registrant,
        token_hash,
    })))
}

/// Why a registrant's session ends before its time: the link it was opened with (`link`, its
/// hash) is no longer the registrant's working link (a new link was mailed or shown as a QR
/// code, the registrant was marked 拒否, or the link expired). `None` while it still is.
pub async fn link_ended(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
    link: Option<&str>,
) -> Result<Option<Opened>, InfraError> {
    let Some(hash) = link else {
        return Ok(Some(Opened::Unknown));
    };
    Ok(match collection::resolve_hash(app, scope, hash).await? {
        LinkState::Valid {
            registrant_id: owner,
            ..
        } if owner == registrant_id => None,
        LinkState::Valid { .. } | LinkState::Unknown => Some(Opened::Unknown),
        LinkState::Expired => Some(Opened::Expired),
        LinkState::Replaced => Some(Opened::Replaced),
        LinkState::Revoked => Some(Opened::Revoked),
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub password: String,
    pub password_confirm: String,
    pub passcode: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("入力の誤りが続いたため、しばらくログインできません。{}ほど待ってからもう一度お試しください。", rate_limit::wait_text(*.seconds))]
    Blocked { seconds: i64 },
    #[error("ログインロックが有効になっています。")]
    Locked,
    #[error("企業パスコードが正しくありません。ご不明な場合は、所属会社のマイナンバー担当者にお問い合わせください。")]
    WrongPasscode,
    #[error("パスワードが正しくありません。")]
    WrongPassword,
    #[error("パスワードとパスワード確認が一致しません。")]
    Mismatch,
    #[error("{}", .0.join(" "))]
    Weak(Vec<String>),
    #[error("他の画面で操作が行われました。もう一度お試しください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Infra(e.into())
    }
}

/// The actor the audit log names for the registrant's own actions.
pub fn actor(r: &Registrant, ip: &str) -> Actor {
    Actor {
        user_id: format!("registrant:{}", r.id),
        name: format!("{}（本人）", r.name()),
        ip: ip.to_string(),
    }
}

async fn audit(
    app: &App,
    scope: &TenantScope,
    r: &Registrant,
    ip: &str,
    action: &str,
    detail: String,
) -> Result<(), InfraError> {
    let a = actor(r, ip);
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(a.user_id),
            actor_name: Some(a.name),
            action: action.into(),
            target: Some(r.id.clone()),
            detail,
            ip: Some(ip.to_string()),
        })
        .await?;
    Ok(())
}

/// Checks the passcode and the password (setting it on the first visit, with consent to the
/// purposes) and starts the registrant's session. Returns the session cookie's token.
pub async fn login(
    app: &App,
    entry: &Entry,
    ip: &str,
    form: &LoginForm,
) -> Result<String, LoginError> {
    let store = app.ports.sessions.as_ref();
    let now = app.now().unix_timestamp();
    let link = &entry.token_hash;
    let pair = rate_limit::pair(link, ip);
    let limits = rate_limit::check(store, &ENROL_IP, ip, now)
        .await?
        .and(rate_limit::check(store, &ENROL_PAIR, &pair, now).await?)
        .and(ENROL_LINK.check(store, link, now).await?);
    if !limits.is_open() {
        return Err(LoginError::Blocked {
            seconds: limits.retry_after(),
        });
    }
    let r = &entry.registrant;
    if r.login_lock {
        return Err(LoginError::Locked);
    }
    let fail = |e: LoginError, what: &'static str| async move {
        rate_limit::hit(store, &ENROL_IP, ip, now).await?;
        rate_limit::hit(store, &ENROL_PAIR, &rate_limit::pair(link, ip), now).await?;
        ENROL_LINK.hit(store, link, now).await?;
        audit(
            app,
            &entry.scope,
            r,
            ip,
            "enrol.login_failed",
            format!("登録者のスマホログイン失敗（{what}）"),
        )
        .await?;
        Err::<String, LoginError>(e)
    };
    if let Some(hash) = &entry.tenant.passcode_hash {
        if !passwords::verify(hash.clone(), form.passcode.trim().to_string()).await {
            return fail(LoginError::WrongPasscode, "企業パスコード誤り").await;
        }
    }
    match &r.password_hash {
        Some(hash) => {
            if !passwords::verify(hash.clone(), form.password.clone()).await {
                return fail(LoginError::WrongPassword, "パスワード誤り").await;
            }
        }
        None => {
            if form.password != form.password_confirm {
                return Err(LoginError::Mismatch);
            }
            check_password_strength(&form.password, r.email.as_deref())
                .map_err(LoginError::Weak)?;
            set_password(app, entry, &form.password).await?;
        }
    }
    rate_limit::clear(store, &ENROL_PAIR, &pair, now).await?;
    let token =
        sessions::start_registrant(app, entry.scope.tenant(), &r.id, &entry.token_hash).await?;
    let detail = if entry.first_visit() {
        "登録者のスマホログイン（パスワード設定・利用目的に同意）"
    } else {
        "登録者のスマホログイン"
    };
    audit(app, &entry.scope, r, ip, "enrol.login", detail.into()).await?;
    Ok(token)
}

async fn set_password(app: &App, entry: &Entry, password: &str) -> Result<(), LoginError> {
    let before = &entry.registrant;
    let mut r = before.clone();
    r.password_hash =
        Some(passwords::hash(app.config.password_params, password.to_string()).await?);
    r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
    let consent = WriteOp::put(
        Item::new(entry.scope.key(&sk::enrolment(&r.id)))
            .with("consented_at", app.now().unix_timestamp()),
    );
    match regs::commit_with(&entry.scope, Some(before), Some(&r), vec![consent]).await {
        Ok(()) => Ok(()),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(LoginError::Conflict),
    }
}
