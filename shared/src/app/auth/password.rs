//! The password step (第一認証): candidates by address and お客様番号, the password checked
//! against each, the limits, and on success a pending session with the mailed code.

use super::totp::{self, Method};
use super::{audit, audit_each, event, LoginError, LoginInput};
use crate::app::keys::{self as k, TenantId, TenantScope};
use crate::app::rate_limit::{self, Verdict};
use crate::app::sessions;
use crate::app::users::{self, User};
use crate::app::{passwords, App, InfraError};
use crate::crypto;
use crate::domain::identity::{CustomerNumber, Email};
use crate::ports::mailer::Mail;
use crate::ports::store::Query;

/// Most tenants one address is tried against in one login.
const MAX_CANDIDATES: usize = 20;

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

    let scope = TenantScope::new(user.tenant.clone(), app.ports.store.clone());
    let (token, detail) = match totp::method(&scope, &user.id).await? {
        // The app shows the code: no mail. The pending session holds the hash of a code nobody
        // knows, so only the app's code (checked in the second step) can finish this login.
        Method::Totp => (
            sessions::start_pending(app, &user.tenant, &user.id, &crypto::random_token()).await?,
            "ログイン第一認証（トークン認証）",
        ),
        Method::Mail => (
            send_mail_code(app, &user).await?,
            "ログイン第一認証（第二認証コード送信）",
        ),
    };
    audit(
        app,
        event(
            Some(&user.tenant),
            Some(&user),
            "auth.password_ok",
            detail,
            ip,
        ),
    )
    .await?;
    Ok(token)
}

/// Starts the pending session of a メール認証 user and mails its code; returns the token.
async fn send_mail_code(app: &App, user: &User) -> Result<String, InfraError> {
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
    Ok(token)
}
