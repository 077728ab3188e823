//! Login (manual ch.2): email + password, then a one-time code mailed to the user.
//!
//! The password step finds the address's tenants through the global `EMAIL#` look-up, narrows
//! them by customer number when one is given (オプションログイン), and verifies the password
//! against each candidate. Only when the password matches in more than one tenant does it ask
//! for the customer number, so the question itself never tells a stranger anything.
//! Every failure is rate limited (see [`rate_limit`]: per pair of account and client address,
//! per client address, and a higher ceiling with growing delays per account, whose owner is
//! mailed when it trips), and every outcome is written to the audit log with the address.

use super::keys::{self as k, TenantId, TenantScope};
use super::rate_limit::{self, Verdict};
use super::sessions::{self, Session, Stage};
use super::users::{self, User};
use super::{passwords, App, InfraError};
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
    #[error("お客様番号が正しくありません。ログイン画面の「オプション入力」のお客様番号をご確認ください（お申し込み時のメールに記載しています）。")]
    WrongCustomerNumber,
    #[error("ログインの失敗が続いているため、しばらく待ってから再度お試しください（あと{}）。", rate_limit::wait_text(*.seconds))]
    Wait { seconds: i64 },
    #[error("ログインの失敗が続いたため、一時的にログインを制限しています。{}ほど時間をおいてから再度お試しください。", rate_limit::wait_text(*.seconds))]
    Locked { seconds: i64 },
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl LoginError {
    /// Seconds before another attempt can succeed, for a refusal by the limits.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            LoginError::Wait { seconds } | LoginError::Locked { seconds } => Some(*seconds),
            _ => None,
        }
    }
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

/// One audit entry in the tenant of each of `users` (so each tenant's administrators see it).
async fn audit_each(
    app: &App,
    users: &[User],
    action: &str,
    detail: &str,
    ip: &str,
) -> Result<(), InfraError> {
    for user in users {
        audit(
            app,
            event(Some(&user.tenant), Some(user), action, detail, ip),
        )
        .await?;
    }
    Ok(())
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

/// Verifies `password` against each of `users`; returns those it opens.
async fn matching(users: &[User], password: &str) -> Vec<User> {
    let mut matched = Vec::new();
    for user in users {
        if passwords::verify(user.password_hash.clone(), password.to_string()).await {
            matched.push(user.clone());
        }
    }
    matched
}

/// Whether the limits let an attempt for `account` from `ip` go ahead now.
async fn verdict(app: &App, account: &str, ip: &str, now: i64) -> Result<Verdict, InfraError> {
    let store = app.ports.sessions.as_ref();
    let pair = rate_limit::pair(account, ip);
    Ok(rate_limit::check(store, &rate_limit::LOGIN_IP, ip, now)
        .await?
        .and(rate_limit::check(store, &rate_limit::LOGIN_PAIR, &pair, now).await?)
        .and(rate_limit::LOGIN_ACCOUNT.check(store, account, now).await?))
}

/// Counts a wrong password against the address, the pair and the account; returns the
/// account's failures in its window.
async fn count_failure(app: &App, account: &str, ip: &str, now: i64) -> Result<i64, InfraError> {
    let store = app.ports.sessions.as_ref();
    rate_limit::hit(store, &rate_limit::LOGIN_IP, ip, now).await?;
    rate_limit::hit(
        store,
        &rate_limit::LOGIN_PAIR,
        &rate_limit::pair(account, ip),
        now,
    )
    .await?;
    Ok(rate_limit::LOGIN_ACCOUNT.hit(store, account, now).await?)
}

/// The mail telling the owner of an address that its logins are closed for a while. It
/// carries no secret and no address of the guesser: what happened, when, and what to do.
fn lockout_mail(app: &App, user: &User, retry_after: i64) -> Mail {
    let jst = |t: time::OffsetDateTime| {
        let t = t.to_offset(time::macros::offset!(+9));
        format!(
            "{}年{}月{}日 {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    };
    let now = app.now();
    let body = format!(
        "{name} 様\n\n\
         {at}ごろ、このメールアドレスでのマイナクラウドへのログインで、パスワードの誤りが\
         続けて{count}回ありました。\n\
         安全のため、このメールアドレスでのログインを{until}ごろまで一時的に制限しています。\n\n\
         ■ お心当たりがない場合\n\
         第三者がパスワードを推測しようとした可能性があります。いずれも誤ったパスワードで\
         あったためログインはされておらず、ログインには第二認証コードも必要です。\
         パスワードが他で使われていない限り、アカウントは安全です。\n\
         念のため、制限の解除後にログインし、他のサービスと共用していない推測されにくい\
         パスワードに変更してください。操作履歴で失敗したログインの日時と接続元を確認できます。\n\n\
         ■ ご自身で入力された場合\n\
         {until}ごろ以降に、もう一度ログインしてください。パスワードがご不明な場合は、\
         最高権限のユーザにお問い合わせください。\n\n\
         このメールは送信専用です。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        at = jst(now),
        count = rate_limit::LOGIN_ACCOUNT.rule.limit,
        until = jst(now + time::Duration::seconds(retry_after)),
    );
    Mail::new(
        &user.email,
        "【マイナンバー管理】ログインを一時的に制限しました",
        body,
    )
}

/// The password step. On success a code is mailed and a pending session's token returned.
///
/// A wrong password counts against the pair (address, client), the client and the address
/// across all clients (see [`rate_limit`]); the right password with a wrong お客様番号 proves
/// the password, so it counts only against the client.
pub async fn password_step(app: &App, input: LoginInput, ip: &str) -> Result<String, LoginError> {
    let now = app.now().unix_timestamp();
    let email = Email::parse(&input.email).ok();
    // The same subject for every spelling of the address (case, full-width characters).
    let account_subject = email.as_ref().map_or_else(
        || input.email.trim().to_lowercase(),
        |e| e.as_str().to_string(),
    );
    let limits = verdict(app, &account_subject, ip, now).await?;
    if !limits.is_open() {
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
        return Err(match limits {
            Verdict::Wait(seconds) => LoginError::Wait { seconds },
            other => LoginError::Locked {
                seconds: other.retry_after(),
            },
        });
    }

    // A malformed customer number matches no tenant.
    let customer = input
        .customer_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|raw| CustomerNumber::parse(raw).ok());
    let mut found = Vec::new();
    let mut matched = Vec::new();
    if let (Some(e), Some(Some(c))) = (&email, &customer) {
        found = candidates(app, e, Some(c)).await?;
        matched = matching(&found, &input.password).await;
    }
    if matched.is_empty() {
        // Without a (right) customer number: every tenant of the address not tried yet.
        if let Some(e) = &email {
            let rest: Vec<User> = candidates(app, e, None)
                .await?
                .into_iter()
                .filter(|u| !found.iter().any(|f| f.tenant == u.tenant))
                .collect();
            matched = matching(&rest, &input.password).await;
            found.extend(rest);
        }
        if customer.is_some() && !matched.is_empty() {
            rate_limit::hit(app.ports.sessions.as_ref(), &rate_limit::LOGIN_IP, ip, now)
                .await
                .map_err(InfraError::from)?;
            audit_each(
                app,
                &matched,
                "auth.login_failed",
                "ログイン失敗（お客様番号誤り）",
                ip,
            )
            .await?;
            return Err(LoginError::WrongCustomerNumber);
        }
    }
    if found.is_empty() {
        passwords::verify_dummy(
            &app.dummy_hash,
            app.config.password_params,
            input.password.clone(),
        )
        .await;
    }

    match matched.len() {
        1 => {}
        0 => {
            let failures = count_failure(app, &account_subject, ip, now).await?;
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
            audit_each(
                app,
                &found,
                "auth.login_failed",
                "ログイン失敗（パスワード誤り）",
                ip,
            )
            .await?;
            // Exactly one request sees the count reach the ceiling: the owner is told once a
            // window. Addresses that are no login user are never mailed.
            if failures == rate_limit::LOGIN_ACCOUNT.rule.limit {
                if let Some(user) = found.first() {
                    let retry_after = rate_limit::LOGIN_ACCOUNT
                        .check(app.ports.sessions.as_ref(), &account_subject, now)
                        .await
                        .map_err(InfraError::from)?
                        .retry_after();
                    app.ports
                        .mailer
                        .send(&lockout_mail(app, user, retry_after))
                        .await
                        .map_err(InfraError::from)?;
                    audit_each(
                        app,
                        &found,
                        "auth.login_locked",
                        "ログイン失敗の上限によりログインを一時制限（本人にメール通知）",
                        ip,
                    )
                    .await?;
                }
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
