//! Login (manual ch.2): email + password, then a one-time code mailed to the user.
//!
//! The password step finds the address's tenants through the global `EMAIL#` look-up, narrows
//! them by customer number when one is given (オプションログイン), and verifies the password
//! against each candidate. Only when the password matches in more than one tenant does it ask
//! for the customer number, so the question itself never tells a stranger anything.
//! Every failure is rate limited per account and per client address, and every outcome is
//! written to the audit log with the address.

use super::keys::{self as k, TenantId, TenantScope};
use super::sessions::{self, Session, Stage};
use super::users::{self, User};
use super::{passwords, rate_limit, App, InfraError};
use crate::crypto;
use crate::domain::identity::{CustomerNumber, Email};
use crate::ports::audit::AuditEvent;
use crate::ports::mailer::Mail;
use crate::ports::store::Query;

/// Most tenants one address is tried against in one login.
const MAX_CANDIDATES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("メールアドレスまたはパスワードが正しくありません。")]
    Invalid,
    #[error("このメールアドレスは複数のアカウントで登録されています。「オプション入力」を押して、お客様番号を入力してください。")]
    NeedCustomerNumber,
    #[error("ログインの失敗が続いたため、一時的にログインを制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("第二認証コードが正しくありません。")]
    Wrong,
    #[error("第二認証コードの有効期限（10分）が切れました。お手数ですが、もう一度ログインしてください。")]
    Expired,
    #[error("第二認証コードの入力に続けて失敗したため、このログインは無効になりました。もう一度ログインしてください。")]
    TooManyAttempts,
    #[error("第二認証コードの失敗が続いたため、一時的にログインを制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub customer_number: Option<String>,
}

fn event(
    tenant: Option<&TenantId>,
    user: Option<&User>,
    action: &str,
    detail: &str,
    ip: &str,
) -> AuditEvent {
    AuditEvent {
        tenant_id: tenant.map(TenantId::to_string),
        actor_id: user.map(|u| u.id.clone()),
        actor_name: user.map(User::display_name),
        action: action.into(),
        target: user.map(|u| u.id.clone()),
        detail: detail.into(),
        ip: Some(ip.to_string()),
    }
}

async fn audit(app: &App, e: AuditEvent) -> Result<(), InfraError> {
    app.audit().record(e).await.map_err(InfraError::from)
}

/// The login users behind an address, optionally only in the tenant of `customer_number`.
async fn candidates(
    app: &App,
    email: &Email,
    customer: Option<&CustomerNumber>,
) -> Result<Vec<User>, InfraError> {
    let only = match customer {
        None => None,
        Some(c) => match app.ports.store.get(&k::customer_lookup(c.as_str())).await? {
            None => return Ok(Vec::new()),
            Some(item) => item.str("tenant").and_then(TenantId::parse),
        },
    };
    let page = app
        .ports
        .store
        .query(&Query::partition(k::email_lookup_partition(email.as_str())).limit(MAX_CANDIDATES))
        .await?;
    let mut users = Vec::new();
    for item in page.items {
        let Some(tenant) = item.key.sk.strip_prefix("T#").and_then(TenantId::parse) else {
            continue;
        };
        if only.as_ref().is_some_and(|t| *t != tenant) {
            continue;
        }
        let Some(user_id) = item.str("user") else {
            continue;
        };
        let scope = TenantScope::new(tenant, app.ports.store.clone());
        if let Some(user) = users::load(&scope, user_id).await? {
            users.push(user);
        }
    }
    Ok(users)
}

/// The password step. On success a code is mailed and a pending session's token returned.
pub async fn password_step(app: &App, input: LoginInput, ip: &str) -> Result<String, LoginError> {
    let now = app.now().unix_timestamp();
    let sessions_store = app.ports.sessions.as_ref();
    let email = Email::parse(&input.email).ok();
    // The same subject for every spelling of the address (case, full-width characters).
    let account_subject = email.as_ref().map_or_else(
        || input.email.trim().to_lowercase(),
        |e| e.as_str().to_string(),
    );
    if rate_limit::is_blocked(sessions_store, &rate_limit::LOGIN_IP, ip, now)
        .await
        .map_err(InfraError::from)?
        || rate_limit::is_blocked(
            sessions_store,
            &rate_limit::LOGIN_ACCOUNT,
            &account_subject,
            now,
        )
        .await
        .map_err(InfraError::from)?
    {
        audit(
            app,
            event(
                None,
                None,
                "auth.login_blocked",
                "ログイン制限中のログイン試行",
                ip,
            ),
        )
        .await?;
        return Err(LoginError::Locked);
    }

    // A malformed customer number matches no tenant (and counts as a failure).
    let customer = match input
        .customer_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(raw) => CustomerNumber::parse(raw).map(Some).map_err(|_| ()),
    };
    let found = match (&email, customer) {
        (Some(e), Ok(c)) => candidates(app, e, c.as_ref()).await?,
        _ => Vec::new(),
    };

    let mut matched = Vec::new();
    if found.is_empty() {
        passwords::verify_dummy(
            &app.dummy_hash,
            app.config.password_params,
            input.password.clone(),
        )
        .await;
    }
    for user in found.iter() {
        if passwords::verify(user.password_hash.clone(), input.password.clone()).await {
            matched.push(user.clone());
        }
    }

    match matched.len() {
        1 => {}
        0 => {
            rate_limit::hit(sessions_store, &rate_limit::LOGIN_IP, ip, now)
                .await
                .map_err(InfraError::from)?;
            rate_limit::hit(
                sessions_store,
                &rate_limit::LOGIN_ACCOUNT,
                &account_subject,
                now,
            )
            .await
            .map_err(InfraError::from)?;
            // Recorded in each tenant where the address exists, so its administrators see it.
            if found.is_empty() {
                audit(
                    app,
                    event(
                        None,
                        None,
                        "auth.login_failed",
                        "ログイン失敗（メールアドレスまたはパスワード誤り）",
                        ip,
                    ),
                )
                .await?;
            }
            for user in &found {
                audit(
                    app,
                    event(
                        Some(&user.tenant),
                        Some(user),
                        "auth.login_failed",
                        "ログイン失敗（パスワード誤り）",
                        ip,
                    ),
                )
                .await?;
            }
            return Err(LoginError::Invalid);
        }
        _ => return Err(LoginError::NeedCustomerNumber),
    }
    let user = matched.remove(0);

    let code = crypto::random_digits(6);
    let token = sessions::start_pending(app, &user.tenant, &user.id, &code).await?;
    let minutes = app.config.otp_validity.whole_minutes();
    let body = format!(
        "{name} 様\n\n\
         マイナクラウドの第二認証コードをお知らせします。\n\n\
         第二認証コード: {code}\n\n\
         有効期限は{minutes}分間です。ログイン画面の「第二認証コード入力」に入力してください。\n\
         このコードは一度だけ使用できます。\n\n\
         お心当たりのない場合は、パスワードが第三者に知られている可能性があります。\n\
         至急パスワードを変更し、管理責任者にご連絡ください。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
    );
    app.ports
        .mailer
        .send(&Mail::new(
            &user.email,
            "【マイナンバー管理】第二認証コードのお知らせ",
            body,
        ))
        .await
        .map_err(InfraError::from)?;
    audit(
        app,
        event(
            Some(&user.tenant),
            Some(&user),
            "auth.password_ok",
            "ログイン第一認証（第二認証コード送信）",
            ip,
        ),
    )
    .await?;
    Ok(token)
}

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
    let given = sessions::otp_digest(&pending.id_hash, &code);
    let expected = pending.otp_hash.clone().unwrap_or_default();
    if !crypto::ct_eq(given.as_bytes(), expected.as_bytes()) {
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

    let Some(token) = sessions::activate(app, pending).await? else {
        // The same code was used a moment ago: single use.
        return Err(OtpError::Expired);
    };
    rate_limit::clear(store, &rate_limit::LOGIN_ACCOUNT, &user.email, now_ts)
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

/// Ends a session and records the logout.
pub async fn logout(app: &App, session: &Session, ip: &str) -> Result<(), InfraError> {
    sessions::end(app, session).await?;
    let scope = TenantScope::new(session.tenant.clone(), app.ports.store.clone());
    let user = users::load(&scope, &session.user_id).await?;
    audit(
        app,
        event(
            Some(&session.tenant),
            user.as_ref(),
            "auth.logout",
            "ログアウト",
            ip,
        ),
    )
    .await
}
