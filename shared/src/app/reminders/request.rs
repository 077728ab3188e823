//! Starting a reminder: the rate limits, the ticket with the hashed code, and the mail (only
//! when the address has an account; the answer and its time are the same either way).
//! Not here: checking the code (`verify`).

use serde_json::{json, Value};

use super::{
    code_digest, ticket_key, Kind, ReminderError, ANSWER_FLOOR, CODE_DIGITS, CODE_VALIDITY,
    MAX_ACCOUNTS, REMINDER_ADDRESS, REMINDER_IP,
};
use crate::app::auth::audit_each;
use crate::app::keys::{self as k, TenantId, TenantScope};
use crate::app::rate_limit;
use crate::app::users::{self, User};
use crate::app::{App, InfraError};
use crate::crypto;
use crate::domain::identity::Email;
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, Item, Query};

/// The login users behind an address (every tenant where it has one).
async fn accounts(app: &App, email: &Email) -> Result<Vec<User>, InfraError> {
    let page = app
        .ports
        .store
        .query(&Query::partition(k::email_lookup_partition(email.as_str())).limit(MAX_ACCOUNTS))
        .await?;
    let mut found = Vec::new();
    for item in page.items {
        let Some(tenant) = item.key.sk.strip_prefix("T#").and_then(TenantId::parse) else {
            continue;
        };
        let Some(user_id) = item.str("user") else {
            continue;
        };
        let scope = TenantScope::new(tenant, app.ports.store.clone());
        if let Some(user) = users::load(&scope, user_id).await? {
            found.push(user);
        }
    }
    Ok(found)
}
fn code_mail(user: &User, kind: Kind, code: &str) -> Mail {
    let what = match kind {
        Kind::Password => "パスワードのリセット",
        Kind::CustomerNumber => "お客様番号の確認",
    };
    let body = format!(
        "{name} 様\n\n\
         マイナクラウドの「ログインできない場合」から、{what}のお手続きがありました。\n\
         画面の「セキュリティコードの入力」に、次のセキュリティコードを入力してください。\n\n\
         セキュリティコード: {code}\n\n\
         有効期限は{minutes}分間です。このコードは一度だけ使用できます。\n\n\
         お心当たりのない場合は、このメールを破棄してください。コードを入力しない限り、\
         パスワードは変更されません。\n\n\
         このメールは送信専用です。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        minutes = CODE_VALIDITY.whole_minutes(),
    );
    Mail::new(&user.email, kind.subject(), body)
}

/// Starts a reminder for `email`; returns the ticket's token for the browser's cookie. The
/// answer is the same whether or not the address has an account (see the module docs).
pub async fn request(
    app: &App,
    kind: Option<Kind>,
    email: &str,
    ip: &str,
) -> Result<String, ReminderError> {
    let kind = kind.ok_or(ReminderError::NoKind)?;
    let email = Email::parse(email).map_err(|e| ReminderError::InvalidEmail(e.to_string()))?;
    let started = tokio::time::Instant::now();
    let outcome = request_inner(app, kind, &email, ip).await;
    tokio::time::sleep_until(started + ANSWER_FLOOR).await;
    outcome
}

async fn request_inner(
    app: &App,
    kind: Kind,
    email: &Email,
    ip: &str,
) -> Result<String, ReminderError> {
    let now = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    let verdict = rate_limit::check(store, &REMINDER_IP, ip, now)
        .await
        .map_err(InfraError::from)?
        .and(
            rate_limit::check(store, &REMINDER_ADDRESS, email.as_str(), now)
                .await
                .map_err(InfraError::from)?,
        );
    if !verdict.is_open() {
        return Err(ReminderError::TooMany {
            seconds: verdict.retry_after(),
        });
    }
    rate_limit::hit(store, &REMINDER_IP, ip, now)
        .await
        .map_err(InfraError::from)?;
    rate_limit::hit(store, &REMINDER_ADDRESS, email.as_str(), now)
        .await
        .map_err(InfraError::from)?;

    let found = accounts(app, email).await?;
    let token = crypto::random_token();
    let key = ticket_key(&token);
    let code = crypto::random_digits(CODE_DIGITS);
    let expires = now + CODE_VALIDITY.whole_seconds();
    let listed: Vec<Value> = found
        .iter()
        .map(|u| json!({ "tenant": u.tenant.as_str(), "user": u.id }))
        .collect();
    let item = Item::new(key.clone())
        .with("kind", kind.code())
        .with("code_hash", code_digest(&key, &code))
        .with("accounts", Value::Array(listed))
        .with("attempts", 0)
        .with("expires", expires)
        .with("ttl", expires);
    app.ports
        .sessions
        .put(item, Condition::NotExists)
        .await
        .map_err(InfraError::from)?;
    // One mail to the address, whatever the number of its accounts.
    if let Some(first) = found.first() {
        app.ports
            .mailer
            .send(&code_mail(first, kind, &code))
            .await
            .map_err(InfraError::from)?;
        let detail = match kind {
            Kind::Password => "リマインダー: パスワードリセットのセキュリティコード送信",
            Kind::CustomerNumber => "リマインダー: お客様番号確認のセキュリティコード送信",
        };
        audit_each(app, &found, "reminder.code_sent", detail, ip).await?;
    }
    Ok(token)
}
