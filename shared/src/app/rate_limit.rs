//! Rate limits on every secret-guessing path (password, OTP, and later passcode and reset
//! codes), per account and per client address, in fixed windows stored in the sessions table.
//! Subjects are stored only as SHA-256 digests, so the table holds no addresses or emails.

use time::Duration;

use crate::crypto;
use crate::ports::store::{Key, Store, StoreError};

/// A limit: at most `limit` failures per `window` for one subject.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub kind: &'static str,
    pub limit: i64,
    pub window: Duration,
}

/// Wrong passwords for one login address.
pub const LOGIN_ACCOUNT: Rule = Rule {
    kind: "login-account",
    limit: 5,
    window: Duration::minutes(15),
};
/// Wrong passwords from one client address (spraying many accounts).
pub const LOGIN_IP: Rule = Rule {
    kind: "login-ip",
    limit: 20,
    window: Duration::minutes(15),
};
/// Wrong second-factor codes for one login user, across re-issued codes.
pub const OTP_ACCOUNT: Rule = Rule {
    kind: "otp-account",
    limit: 10,
    window: Duration::minutes(15),
};
/// Wrong second-factor codes from one client address.
pub const OTP_IP: Rule = Rule {
    kind: "otp-ip",
    limit: 30,
    window: Duration::minutes(15),
};
/// Wrong codes for one pending login before it is thrown away.
pub const OTP_PER_CODE: i64 = 5;

fn window_key(rule: &Rule, subject: &str, now: i64) -> (Key, i64) {
    let width = rule.window.whole_seconds().max(1);
    let index = now.div_euclid(width);
    let digest = crypto::sha256_hex(subject.as_bytes());
    (
        Key::new(format!("RL#{}#{digest}", rule.kind), index.to_string()),
        (index + 2) * width,
    )
}

/// Whether `subject` has used up its failures in the current window.
pub async fn is_blocked(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (key, _) = window_key(rule, subject, now);
    let count = store
        .get(&key)
        .await?
        .and_then(|i| i.i64("count"))
        .unwrap_or(0);
    Ok(count >= rule.limit)
}

/// Records one failure; returns whether the subject is now blocked.
pub async fn hit(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (key, expires) = window_key(rule, subject, now);
    Ok(store.add(&key, "count", 1, Some(expires)).await? >= rule.limit)
}

/// Forgets the failures of the current window (after a successful login).
pub async fn clear(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<(), StoreError> {
    let (key, _) = window_key(rule, subject, now);
    store.delete(&key, crate::ports::Condition::None).await
}

/// Wrong passwords when re-entering it to see a number (表示) or export, per login user.
pub const REAUTH_ACCOUNT: Rule = Rule {
    kind: "reauth-account",
    limit: 5,
    window: Duration::minutes(15),
};
/// The same, per client address.
pub const REAUTH_IP: Rule = Rule {
    kind: "reauth-ip",
    limit: 20,
    window: Duration::minutes(15),
};

/// Wrong passwords or passcodes on one registration link (the registrant's phone login).
pub const ENROL_LINK: Rule = Rule {
    kind: "enrol-link",
    limit: 5,
    window: Duration::minutes(15),
};
/// The same, per client address (many links tried from one place).
pub const ENROL_IP: Rule = Rule {
    kind: "enrol-ip",
    limit: 20,
    window: Duration::minutes(15),
};
