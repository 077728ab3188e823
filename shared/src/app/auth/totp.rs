//! トークン認証: the second factor from an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits,
//! 30-second steps, one step of clock skew either way), per login user.
//!
//! The secret lives in its own item beside the user (`SECONDFACTOR#<user id>`), never in the user item
//! and never in a log, sealed (AES-256-GCM) under a data key of its own: made under the
//! tenant's master key with the encryption context `{tenant, purpose: second-factor, subject: user}` and
//! stored wrapped beside the secret. The login function can therefore be allowed to unwrap
//! second-factor keys only (an IAM condition on `kms:EncryptionContext:purpose`), never the data
//! key that opens the numbers; destroying the tenant's master key shreds these too. Setup keeps a new secret as `pending` until a code from the app proves the app holds
//! it; only then does the user's method change. Every accepted code moves `last_step` forward
//! with a conditional write, so a code (or an earlier one) is never accepted twice, even when
//! two requests race.
//!
//! Limits: this module does not decide who may change whose factor (the routes do) and does
//! not count failures itself beyond the shared limits in [`rate_limit`]; a missing item means
//! メール認証, the default of every user.

use totp_rs::{Algorithm, Builder, Totp};

use super::{audit, event};
use crate::app::actor::Actor;
use crate::app::keys::{RecordId, TenantScope};
use crate::app::rate_limit;
use crate::app::secrets::{self, Purpose, SealedSecret as Sealed};
use crate::app::tenants::Tenant;
use crate::app::users::{self, User};
use crate::app::{App, InfraError};
use crate::crypto;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, Key, StoreError};

/// The name the app lists the account under (with the user's address).
pub const ISSUER: &str = "マイナクラウド";

/// How long an unconfirmed setup keeps its secret (the QR code shown stays valid).
const PENDING_SECONDS: i64 = 30 * 60;

/// A user's second-factor method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// メール認証: a code mailed at each login (the default).
    Mail,
    /// トークン認証: the code of an authenticator app.
    Totp,
}

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Method::Mail => "メール認証",
            Method::Totp => "トークン認証",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("認証アプリのコードが正しくありません。アプリに表示されている6桁の数字を入力してください（一度使ったコードは使えません。次のコードをお待ちください）。")]
    Wrong,
    #[error("コードの誤りが続いたため、一時的に操作を制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error("この会社では、すべてのログインユーザにトークン認証が必須に設定されています。メール認証には変更できません。")]
    Required,
    #[error("設定の有効期限が切れました。お手数ですが、表示された新しいQRコードを読み取り直してください。")]
    NoSetup,
    #[error("トークン認証は設定されていません。")]
    NotEnabled,
    #[error("ログインユーザが見つかりません。")]
    NoSuchUser,
    #[error("ご自身の第二認証方式は「セキュリティ」画面から変更してください（認証アプリのコードが必要です）。")]
    OwnFactor,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// What the setup page shows: the key for manual entry and the `otpauth://` URL for the QR code.
pub struct Setup {
    /// The key in base32, in groups of four for typing.
    pub key: String,
    /// The account name the app shows (the user's address).
    pub account: String,
    /// The `otpauth://totp/…` URL the QR code carries.
    pub url: String,
}

/// Not under `USER#`: a listing of the login users by that prefix must not meet this item.
fn sk(user_id: &str) -> String {
    format!("SECONDFACTOR#{user_id}")
}

fn key(scope: &TenantScope, user_id: &str) -> Key {
    scope.key(&sk(user_id))
}

fn totp(secret: Vec<u8>, account: &str) -> Result<Totp, InfraError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|_| InfraError::Corrupt("totp secret"))
}

/// The base32 key in groups of four (`ABCD EFGH …`), as the setup page prints it.
pub fn grouped(base32: &str) -> String {
    base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The second-factor method of `user_id`.
pub async fn method(scope: &TenantScope, user_id: &str) -> Result<Method, InfraError> {
    let item = scope.get(&key(scope, user_id)).await?;
    Ok(match item.as_ref().and_then(|i| i.str("secret")) {
        Some(_) => Method::Totp,
        None => Method::Mail,
    })
}

/// Seals a new secret under a new second-factor data key (`app::secrets`).
async fn seal_secret(
    app: &App,
    tenant: &Tenant,
    user_id: &str,
    secret: &[u8],
) -> Result<Sealed, InfraError> {
    secrets::seal(app, &tenant.keys, Purpose::SecondFactor, user_id, secret).await
}

async fn open_secret(
    app: &App,
    tenant: &Tenant,
    user_id: &str,
    sealed: &Sealed,
) -> Result<Vec<u8>, InfraError> {
    secrets::open(app, &tenant.keys, Purpose::SecondFactor, user_id, sealed).await
}

/// The sealed secret stored under `secret`/`secret_key` (or `pending`/`pending_key`).
fn stored(item: &Item, prefix: &str) -> Option<Sealed> {
    Some(Sealed {
        secret: item.str(prefix)?.to_string(),
        key: item.str(&format!("{prefix}_key"))?.to_string(),
    })
}

/// Starts setup, or shows the setup already started (a reload must not change the QR code
/// the user may have scanned): a new secret is kept sealed as `pending` for half an hour.
pub async fn begin_setup(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
) -> Result<Setup, InfraError> {
    let k = key(scope, &user.id);
    let now = app.now().unix_timestamp();
    let item = scope.get(&k).await?;
    let current = item
        .as_ref()
        .filter(|i| i.i64("pending_until").is_some_and(|u| u > now))
        .and_then(|i| stored(i, "pending"));
    let secret = match current {
        Some(sealed) => open_secret(app, tenant, &user.id, &sealed).await?,
        None => {
            let secret = crypto::random_bytes::<20>().to_vec();
            let sealed = seal_secret(app, tenant, &user.id, &secret).await?;
            let item = item
                .unwrap_or_else(|| Item::new(k.clone()).with("kind", "second_factor"))
                .with("pending", sealed.secret)
                .with("pending_key", sealed.key)
                .with("pending_until", now + PENDING_SECONDS);
            scope.put(item, Condition::None).await?;
            secret
        }
    };
    let t = totp(secret, &user.email)?;
    Ok(Setup {
        key: grouped(&t.secret().to_base32()),
        account: user.email.clone(),
        url: t.to_url().map_err(|_| InfraError::Corrupt("totp secret"))?,
    })
}

/// The step `code` matches for `secret` at the app's clock, if any.
fn matching_step(secret: Vec<u8>, code: &str, now: i64) -> Result<Option<i64>, InfraError> {
    let t = totp(secret, "-")?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = u64::try_from(now).unwrap_or(0);
    Ok(t.check(&code, now).and_then(|s| i64::try_from(s).ok()))
}

/// Counts a wrong code against the user and the client address; `true` once either is used up.
async fn count_failure(app: &App, subject: &str, ip: &str, now: i64) -> Result<bool, InfraError> {
    let store = app.ports.sessions.as_ref();
    let by_ip = rate_limit::hit(store, &rate_limit::OTP_IP, ip, now).await?;
    let by_user = rate_limit::hit(store, &rate_limit::OTP_ACCOUNT, subject, now).await?;
    Ok(by_ip || by_user)
}

async fn blocked(app: &App, subject: &str, ip: &str, now: i64) -> Result<bool, InfraError> {
    let store = app.ports.sessions.as_ref();
    Ok(
        rate_limit::is_blocked(store, &rate_limit::OTP_IP, ip, now).await?
            || rate_limit::is_blocked(store, &rate_limit::OTP_ACCOUNT, subject, now).await?,
    )
}

/// The subject the second-factor limits count under (the same as the login's code step).
pub fn subject(scope: &TenantScope, user_id: &str) -> String {
    format!("{}#{user_id}", scope.tenant())
}

/// Accepts `code` as the user's app code at most once: the matched step must be later than
/// the last accepted one, and moving `last_step` is conditional on the value read, so two
/// requests with one code cannot both pass. `false` for a wrong, old or replayed code, or a
/// user without トークン認証. Counts nothing (callers apply their limits).
pub async fn accept_code(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user_id: &str,
    code: &str,
) -> Result<bool, InfraError> {
    let Some(item) = scope.get(&key(scope, user_id)).await? else {
        return Ok(false);
    };
    let Some(sealed) = stored(&item, "secret") else {
        return Ok(false);
    };
    let secret = open_secret(app, tenant, user_id, &sealed).await?;
    let Some(step) = matching_step(secret, code, app.now().unix_timestamp())? else {
        return Ok(false);
    };
    let last = item.i64("last_step").unwrap_or(-1);
    if step <= last {
        return Ok(false);
    }
    let updated = item.clone().with("last_step", step);
    match scope
        .put(updated, Condition::Equals("last_step".into(), last.into()))
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(InfraError::from(e)),
    }
}

/// A wrong code on セキュリティ: counted against the user and the client address, recorded;
/// the refusal to show.
async fn refuse(
    app: &App,
    user: &User,
    ip: &str,
    now: i64,
    action: &str,
    detail: &str,
) -> Result<TotpError, InfraError> {
    let scope_subject = format!("{}#{}", user.tenant, user.id);
    let locked = count_failure(app, &scope_subject, ip, now).await?;
    audit(app, own_event(user, action, detail, ip)).await?;
    Ok(if locked {
        TotpError::Locked
    } else {
        TotpError::Wrong
    })
}

fn own_event(user: &User, action: &str, detail: &str, ip: &str) -> AuditEvent {
    event(Some(&user.tenant), Some(user), action, detail, ip)
}

/// Confirms setup with a code from the app: the pending secret becomes the user's and the
/// method トークン認証. The code's step counts as used.
pub async fn confirm_setup(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
    code: &str,
    ip: &str,
) -> Result<(), TotpError> {
    let now = app.now().unix_timestamp();
    let subject = subject(scope, &user.id);
    if blocked(app, &subject, ip, now).await? {
        return Err(TotpError::Locked);
    }
    let k = key(scope, &user.id);
    let item = scope
        .get(&k)
        .await
        .map_err(InfraError::from)?
        .ok_or(TotpError::NoSetup)?;
    let pending = stored(&item, "pending")
        .filter(|_| item.i64("pending_until").is_some_and(|u| u > now))
        .ok_or(TotpError::NoSetup)?;
    let secret = open_secret(app, tenant, &user.id, &pending).await?;
    let Some(step) = matching_step(secret, code, now)? else {
        return Err(refuse(
            app,
            user,
            ip,
            now,
            "security.totp_setup_failed",
            "トークン認証の設定失敗（コード誤り）",
        )
        .await?);
    };
    let done = Item::new(k)
        .with("kind", "second_factor")
        .with("secret", pending.secret.as_str())
        .with("secret_key", pending.key)
        .with("last_step", step)
        .with("enabled_at", now);
    match scope
        .put(
            done,
            Condition::Equals("pending".into(), pending.secret.into()),
        )
        .await
    {
        Ok(()) => {}
        // Confirmed a moment ago by the same user in another tab.
        Err(StoreError::ConditionFailed) => return Err(TotpError::NoSetup),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    audit(
        app,
        own_event(
            user,
            "security.totp_enabled",
            "第二認証方式をトークン認証に変更",
            ip,
        ),
    )
    .await?;
    Ok(())
}

/// Switches the user back to メール認証; needs a current app code (whoever holds the session
/// alone cannot weaken the factor), and is refused where the company requires トークン認証.
pub async fn switch_to_mail(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
    code: &str,
    ip: &str,
) -> Result<(), TotpError> {
    if tenant.settings.require_totp {
        return Err(TotpError::Required);
    }
    if method(scope, &user.id).await? != Method::Totp {
        return Err(TotpError::NotEnabled);
    }
    let now = app.now().unix_timestamp();
    let subject = subject(scope, &user.id);
    if blocked(app, &subject, ip, now).await? {
        return Err(TotpError::Locked);
    }
    if !accept_code(app, scope, tenant, &user.id, code).await? {
        return Err(refuse(
            app,
            user,
            ip,
            now,
            "security.totp_disable_failed",
            "メール認証への変更失敗（コード誤り）",
        )
        .await?);
    }
    scope
        .delete(&key(scope, &user.id), Condition::None)
        .await
        .map_err(InfraError::from)?;
    audit(
        app,
        own_event(
            user,
            "security.totp_disabled",
            "第二認証方式をメール認証に変更",
            ip,
        ),
    )
    .await?;
    Ok(())
}

/// A 最高権限 user puts another user back on メール認証 (a lost phone): the secret is deleted.
/// Recorded with the acting user and the target.
pub async fn reset(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    target_id: &str,
) -> Result<User, TotpError> {
    // Only a well-formed id reaches a key (`USER#<id>` must not name another item).
    let target_id = RecordId::parse(target_id).ok_or(TotpError::NoSuchUser)?;
    let target = users::load(scope, target_id.as_str())
        .await?
        .ok_or(TotpError::NoSuchUser)?;
    if target.id == actor.user_id {
        return Err(TotpError::OwnFactor);
    }
    scope
        .delete(&key(scope, &target.id), Condition::None)
        .await
        .map_err(InfraError::from)?;
    audit(
        app,
        AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "security.second_factor_reset".into(),
            target: Some(target.id.clone()),
            detail: format!(
                "{}の第二認証方式をメール認証にリセット",
                target.display_name()
            ),
            ip: Some(actor.ip.clone()),
        },
    )
    .await?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_splits_the_key_into_fours() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
        assert_eq!(grouped(""), "");
    }

    #[test]
    fn matching_step_accepts_one_step_of_skew_only() {
        let secret = vec![7u8; 20];
        let t = totp(secret.clone(), "a@example.jp").unwrap();
        let now = 1_800_000_000i64;
        let code = t.generate(u64::try_from(now).unwrap()).to_string();
        assert_eq!(
            matching_step(secret.clone(), &code, now).unwrap(),
            Some(now / 30)
        );
        assert!(matching_step(secret.clone(), &code, now + 30)
            .unwrap()
            .is_some());
        assert_eq!(
            matching_step(secret.clone(), &code, now + 90).unwrap(),
            None
        );
        assert_eq!(matching_step(secret, "12345", now).unwrap(), None);
    }
}
