//! The second-factor step (第二認証): the code is checked against the pending session, within
//! the limits, and a new active session replaces the pending one.

use super::totp::{self, Method};
use super::{audit, event, OtpError};
use crate::app::keys::TenantScope;
use crate::app::rate_limit;
use crate::app::sessions::{self, Session, Stage};
use crate::app::{tenants, users};
use crate::app::{App, InfraError};
use crate::crypto;

/// The second-factor step. On success the pending session is consumed and the token of a
/// new active session returned.
pub async fn otp_step(
    app: &App,
    pending: &Session,
    code: &str,
    ip: &str,
) -> Result<String, OtpError> {
    if pending.stage != Stage::Pending {
        return Err(OtpError::Expired);
    }
    let now_ts = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    let scope = TenantScope::new(pending.tenant.clone(), app.ports.store.clone());
    let user = users::load(&scope, &pending.user_id)
        .await?
        .ok_or(OtpError::Expired)?;
    let account_subject = format!("{}#{}", pending.tenant, pending.user_id);

    if rate_limit::is_blocked(store, &rate_limit::OTP_IP, ip, now_ts)
        .await
        .map_err(InfraError::from)?
        || rate_limit::is_blocked(store, &rate_limit::OTP_ACCOUNT, &account_subject, now_ts)
            .await
            .map_err(InfraError::from)?
    {
        sessions::end(app, pending).await?;
        audit(
            app,
            event(
                Some(&pending.tenant),
                Some(&user),
                "auth.otp_blocked",
                "ログイン制限中の第二認証",
                ip,
            ),
        )
        .await?;
        return Err(OtpError::Locked);
    }
    if pending.otp_expires.is_none_or(|e| now_ts >= e) {
        sessions::end(app, pending).await?;
        audit(
            app,
            event(
                Some(&pending.tenant),
                Some(&user),
                "auth.otp_expired",
                "第二認証失敗（有効期限切れ）",
                ip,
            ),
        )
        .await?;
        return Err(OtpError::Expired);
    }

    let code: String = code.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let right = match totp::method(&scope, &user.id).await? {
        // The app's code, once per time step (a replayed code is a wrong code).
        Method::Totp => match tenants::load(&scope).await? {
            Some(tenant) => totp::accept_code(app, &scope, &tenant, &user.id, &code).await?,
            None => false,
        },
        Method::Mail => {
            let given = sessions::otp_digest(&pending.id_hash, &code);
            let expected = pending.otp_hash.clone().unwrap_or_default();
            crypto::ct_eq(given.as_bytes(), expected.as_bytes())
        }
    };
    if !right {
        rate_limit::hit(store, &rate_limit::OTP_IP, ip, now_ts)
            .await
            .map_err(InfraError::from)?;
        let locked = rate_limit::hit(store, &rate_limit::OTP_ACCOUNT, &account_subject, now_ts)
            .await
            .map_err(InfraError::from)?;
        let attempts = sessions::count_otp_failure(app, pending).await?;
        audit(
            app,
            event(
                Some(&pending.tenant),
                Some(&user),
                "auth.otp_failed",
                "第二認証失敗（コード誤り）",
                ip,
            ),
        )
        .await?;
        if locked {
            sessions::end(app, pending).await?;
            return Err(OtpError::Locked);
        }
        if attempts >= rate_limit::OTP_PER_CODE {
            sessions::end(app, pending).await?;
            return Err(OtpError::TooManyAttempts);
        }
        return Err(OtpError::Wrong);
    }

    let Some(token) = sessions::activate(app, pending, &user.password_hash).await? else {
        // The same code was used a moment ago: single use.
        return Err(OtpError::Expired);
    };
    // The owner's own address starts afresh; the account's count across addresses stays, so
    // a guesser elsewhere gains nothing from the owner's login.
    rate_limit::clear(
        store,
        &rate_limit::LOGIN_PAIR,
        &rate_limit::pair(&user.email, ip),
        now_ts,
    )
    .await
    .map_err(InfraError::from)?;
    audit(
        app,
        event(
            Some(&pending.tenant),
            Some(&user),
            "auth.login",
            "ログイン",
            ip,
        ),
    )
    .await?;
    Ok(token)
}
