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
//!
//! This file holds the reminder's rules, kinds and errors and the ticket's reads; the three
//! steps live by concern in `request` (the ticket and its mailed code), `verify` (checking
//! the code) and `reset` (the new password), all re-exported here so callers keep using
//! `reminders::…`.

mod request;
mod reset;
mod verify;

use serde_json::Value;
use time::Duration;

use super::keys::{TenantId, TenantScope};
use super::rate_limit::{self, Rule};
use super::users::{self, User};
use super::{App, InfraError};
use crate::crypto;
use crate::ports::store::{Item, Key};

pub use request::request;
pub use reset::reset_password;
pub use verify::verify_code;

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
