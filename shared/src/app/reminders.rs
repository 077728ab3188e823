//! リマインダー (manual ch.2, ログインできない場合): a forgotten password is reset, or a
//! forgotten お客様番号 shown, after a セキュリティコード mailed to the login address.
//!
//! - A request creates a ticket in the sessions table, keyed by the SHA-256 of a random token
//!   the browser keeps in a cookie; the ticket holds the hash of the 8-digit code (bound to the
//!   ticket), the accounts of the address as (tenant, user) ids (never the address), the
//!   attempts so far and its expiry (30 minutes). Five wrong codes void it.
//! - The answer never says whether the address has an account: an unknown address gets a ticket
//!   too (with a code nobody knows) and the same page; only no mail is sent. Each request is
//!   padded to [`ANSWER_FLOOR`], so the time of a mail sent does not tell either.
//! - Requests are limited per address and per client address, wrong codes per client address
//!   and per ticket.
//! - A password reset applies to every account of the address (a 士業 with one address in
//!   several companies): whoever reads the mailbox can recover each of them alike, so the
//!   code proves the same for all; the new password opens each account (オプションログイン picks
//!   one). It ends every session opened with the old password (`sessions::credential_tag`),
//!   is recorded in each company's log, and the address is told by mail.
//!
//! Not here: the pages (`web::reminders`).

use serde_json::{json, Value};
use time::Duration;

use super::auth::audit_each;
use super::keys::{self as k, sk, TenantId, TenantScope};
use super::rate_limit::{self, Rule};
use super::users::{self, User};
use super::{passwords, tenants, App, InfraError};
use crate::crypto;
use crate::domain::identity::{check_password_strength, Email};
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, Item, Key, Query, StoreError};

/// How long a mailed code is valid.
pub const CODE_VALIDITY: Duration = Duration::minutes(30);
/// Digits of the セキュリティコード.
const CODE_DIGITS: u32 = 8;
/// Wrong codes one ticket takes before it is void.
pub const ATTEMPTS_PER_CODE: i64 = 5;
/// Every request answers after at least this long, mail sent or not.
pub const ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(600);
/// Most accounts one address is looked up in.
const MAX_ACCOUNTS: usize = 20;

/// Reminder requests for one login address (each may send a mail).
pub const REMINDER_ADDRESS: Rule = Rule {
    kind: "reminder-address",
    limit: 5,
    window: Duration::hours(1),
};
/// Reminder requests from one client address (many addresses tried from one place).
pub const REMINDER_IP: Rule = Rule {
    kind: "reminder-ip",
    limit: 20,
    window: Duration::hours(1),
};
/// Wrong セキュリティコード from one client address, across tickets.
pub const REMINDER_CODE_IP: Rule = Rule {
    kind: "reminder-code-ip",
    limit: 20,
    window: Duration::minutes(15),
};

/// What was forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Password,
    CustomerNumber,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Password => "password",
            Kind::CustomerNumber => "customer_number",
        }
    }

    pub fn from_code(code: &str) -> Option<Kind> {
        [Kind::Password, Kind::CustomerNumber]
            .into_iter()
            .find(|k| k.code() == code)
    }

    fn subject(self) -> &'static str {
        match self {
            Kind::Password => "【マイナンバー管理】パスワードのリセット",
            Kind::CustomerNumber => "【マイナンバー管理】お客様番号のお知らせ",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error("「パスワードがわからない」か「お客様番号がわからない」を選択してください。")]
    NoKind,
    #[error("{0}")]
    InvalidEmail(String),
    #[error("お手続きの回数が上限に達しました。{}ほど時間をおいてから再度お試しください。", rate_limit::wait_text(*.seconds))]
    TooMany { seconds: i64 },
    #[error(
        "セキュリティコードが正しくありません。メールに記載された8桁の数字を入力してください。"
    )]
    Wrong,
    #[error("セキュリティコードの入力に続けて失敗したため、このセキュリティコードは無効になりました。お手数ですが、最初からやり直してください。")]
    TooManyAttempts,
    #[error("セキュリティコードの誤りが続いたため、一時的に入力を制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error("セキュリティコードの有効期限（30分）が切れたか、すでに使用されています。お手数ですが、最初からやり直してください。")]
    Expired,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// One message per broken rule, for the form.
    #[error("パスワードを確認してください。")]
    Invalid(Vec<String>),
    #[error("セキュリティコードの有効期限（30分）が切れたか、すでに使用されています。お手数ですが、最初からやり直してください。")]
    Expired,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// What a right code opens.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// The ticket now allows one new password.
    Password,
    /// The address's accounts: (company name, お客様番号).
    CustomerNumbers(Vec<(String, String)>),
}

fn ticket_key(token: &str) -> Key {
    Key::new(
        format!("REMINDER#{}", crypto::sha256_hex(token.as_bytes())),
        "REMINDER",
    )
}

fn code_digest(key: &Key, code: &str) -> String {
    crypto::sha256_hex(format!("reminder\n{}\n{code}", key.pk).as_bytes())
}

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

/// The users a ticket names, as they are now (one deleted since is skipped).
async fn ticket_users(app: &App, item: &Item) -> Result<Vec<User>, InfraError> {
    let mut found = Vec::new();
    let listed = item
        .attrs
        .get("accounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for a in listed {
        let (Some(tenant), Some(user)) = (
            a.get("tenant")
                .and_then(Value::as_str)
                .and_then(TenantId::parse),
            a.get("user").and_then(Value::as_str),
        ) else {
            continue;
        };
        let scope = TenantScope::new(tenant, app.ports.store.clone());
        if let Some(u) = users::load(&scope, user).await? {
            found.push(u);
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

/// The ticket behind `token`, if it is still valid.
async fn live_ticket(app: &App, token: &str) -> Result<Option<Item>, InfraError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let now = app.now().unix_timestamp();
    Ok(app
        .ports
        .sessions
        .get(&ticket_key(token))
        .await?
        .filter(|i| i.i64("expires").is_some_and(|e| e > now)))
}

/// Which reminder a ticket is for (the code page names it).
pub async fn kind_of(app: &App, token: &str) -> Result<Option<Kind>, InfraError> {
    Ok(live_ticket(app, token)
        .await?
        .and_then(|i| i.str("kind").and_then(Kind::from_code)))
}

/// Checks the mailed code. A right code for a password opens the ticket for one new password;
/// for お客様番号 it returns the numbers and the ticket is used up.
pub async fn verify_code(
    app: &App,
    token: &str,
    code: &str,
    ip: &str,
) -> Result<Opened, ReminderError> {
    let now = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    if rate_limit::is_blocked(store, &REMINDER_CODE_IP, ip, now)
        .await
        .map_err(InfraError::from)?
    {
        return Err(ReminderError::Locked);
    }
    let item = live_ticket(app, token)
        .await?
        .ok_or(ReminderError::Expired)?;
    let Some(expected) = item.str("code_hash").map(str::to_string) else {
        // Already opened: the code was used.
        return Err(ReminderError::Expired);
    };
    let kind = item
        .str("kind")
        .and_then(Kind::from_code)
        .ok_or(InfraError::Corrupt("reminder"))?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let given = code_digest(&item.key, &code);
    let listed = ticket_users(app, &item).await?;
    if !crypto::ct_eq(given.as_bytes(), expected.as_bytes()) {
        let locked = rate_limit::hit(store, &REMINDER_CODE_IP, ip, now)
            .await
            .map_err(InfraError::from)?;
        let attempts = store
            .add(&item.key, "attempts", 1, None)
            .await
            .map_err(InfraError::from)?;
        audit_each(
            app,
            &listed,
            "reminder.code_failed",
            "リマインダー: セキュリティコード誤り",
            ip,
        )
        .await?;
        if attempts >= ATTEMPTS_PER_CODE {
            store
                .delete(&item.key, Condition::None)
                .await
                .map_err(InfraError::from)?;
            return Err(ReminderError::TooManyAttempts);
        }
        return Err(if locked {
            ReminderError::Locked
        } else {
            ReminderError::Wrong
        });
    }
    match kind {
        Kind::CustomerNumber => {
            // Used up at once, and only once (a second request with the code finds nothing).
            match store
                .delete(
                    &item.key,
                    Condition::Equals("code_hash".into(), expected.into()),
                )
                .await
            {
                Ok(()) => {}
                Err(StoreError::ConditionFailed) => return Err(ReminderError::Expired),
                Err(e) => return Err(InfraError::from(e).into()),
            }
            let mut numbers = Vec::new();
            for u in &listed {
                let scope = TenantScope::new(u.tenant.clone(), app.ports.store.clone());
                if let Some(t) = tenants::load(&scope).await? {
                    numbers.push((t.company_name, t.customer_number));
                }
            }
            audit_each(
                app,
                &listed,
                "reminder.customer_number_shown",
                "リマインダー: お客様番号の表示",
                ip,
            )
            .await?;
            Ok(Opened::CustomerNumbers(numbers))
        }
        Kind::Password => {
            let mut opened = item.clone().with("opened", true);
            opened.attrs.remove("code_hash");
            match store
                .put(
                    opened,
                    Condition::Equals("code_hash".into(), expected.into()),
                )
                .await
            {
                Ok(()) => Ok(Opened::Password),
                Err(StoreError::ConditionFailed) => Err(ReminderError::Expired),
                Err(e) => Err(InfraError::from(e).into()),
            }
        }
    }
}

/// Whether the ticket allows a new password now (its code was right and it is unused).
pub async fn is_open(app: &App, token: &str) -> Result<bool, InfraError> {
    Ok(live_ticket(app, token)
        .await?
        .is_some_and(|i| i.bool("opened") == Some(true)))
}

/// The address a password ticket is for (the password rules refuse its local part).
pub async fn address_of(app: &App, token: &str) -> Result<Option<String>, InfraError> {
    let Some(item) = live_ticket(app, token).await? else {
        return Ok(None);
    };
    Ok(ticket_users(app, &item)
        .await?
        .first()
        .map(|u| u.email.clone()))
}

/// Sets the new password on every account of the ticket, ends their sessions (the password
/// they were opened with is gone), records it and tells the address.
pub async fn reset_password(
    app: &App,
    token: &str,
    password: &str,
    confirm: &str,
    ip: &str,
) -> Result<(), ResetError> {
    let item = live_ticket(app, token)
        .await?
        .filter(|i| i.bool("opened") == Some(true))
        .ok_or(ResetError::Expired)?;
    let listed = ticket_users(app, &item).await?;
    let email = listed.first().map(|u| u.email.clone());
    if let Err(problems) = check_password_strength(password, email.as_deref()) {
        return Err(ResetError::Invalid(problems));
    }
    if password != confirm {
        return Err(ResetError::Invalid(vec![
            "確認用のパスワードが一致しません。".into(),
        ]));
    }
    // Single use: only the request that removes the opened ticket goes on.
    match app
        .ports
        .sessions
        .delete(&item.key, Condition::Equals("opened".into(), true.into()))
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(ResetError::Expired),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    let hash = passwords::hash(app.config.password_params, password.to_string()).await?;
    for u in &listed {
        set_password_hash(app, u, &hash).await?;
    }
    audit_each(
        app,
        &listed,
        "reminder.password_reset",
        "リマインダー: パスワード再設定（他のログイン中のセッションを終了）",
        ip,
    )
    .await?;
    if let Some(first) = listed.first() {
        app.ports
            .mailer
            .send(&reset_notice(app, first))
            .await
            .map_err(InfraError::from)?;
    }
    Ok(())
}

/// Writes a new password hash onto the stored user, leaving every other attribute as it is.
async fn set_password_hash(app: &App, user: &User, hash: &str) -> Result<(), InfraError> {
    let scope = TenantScope::new(user.tenant.clone(), app.ports.store.clone());
    let key = scope.key(&sk::user(&user.id));
    let Some(item) = scope.get(&key).await? else {
        return Ok(());
    };
    scope
        .put(item.with("password_hash", hash), Condition::Exists)
        .await?;
    Ok(())
}

fn reset_notice(app: &App, user: &User) -> Mail {
    let at = app.now().to_offset(time::macros::offset!(+9));
    let body = format!(
        "{name} 様\n\n\
         {y}年{m}月{d}日 {hh:02}:{mm:02}ごろ、「ログインできない場合」のお手続きにより、\
         マイナクラウドのパスワードを再設定しました。ログイン中だった画面は、すべてログアウト\
         しています。\n\n\
         お心当たりのない場合は、至急、最高権限のユーザにご連絡ください。\
         操作履歴で日時と接続元を確認できます。\n\n\
         このメールは送信専用です。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        y = at.year(),
        m = u8::from(at.month()),
        d = at.day(),
        hh = at.hour(),
        mm = at.minute(),
    );
    Mail::new(
        &user.email,
        "【マイナンバー管理】パスワードを再設定しました",
        body,
    )
}
