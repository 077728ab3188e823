//! Rate limits on every secret-guessing path (password, OTP, passcode, the registration link)
//! and on sign-up, in fixed windows stored in the sessions table. Subjects are stored only as
//! SHA-256 digests, so the table holds no addresses or emails.
//!
//! Guessing a password is limited without handing a stranger a way to lock the owner out:
//! - a low limit per *pair* of account and client address ([`LOGIN_PAIR`]): one address
//!   guessing one account is stopped after a few tries, and only that address is;
//! - a limit per client address across accounts ([`LOGIN_IP`]: spraying);
//! - a much higher [`Ceiling`] per account across all addresses ([`LOGIN_ACCOUNT`]): after a
//!   number of free failures each further attempt must wait longer (a refusal with the time
//!   to wait, never a server-side sleep that would tie up a Lambda), and at the ceiling the
//!   account is closed to everyone until the window ends.
//!
//! This module only counts; the use cases decide what a refusal means and who is told.

use time::Duration;

use crate::crypto;
use crate::ports::store::{Item, Key, Store, StoreError};

/// A limit: at most `limit` failures per `window` for one subject.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub kind: &'static str,
    pub limit: i64,
    pub window: Duration,
}

/// A per-subject ceiling with growing delays: the first `free` failures of a window cost
/// nothing; after them each attempt must wait `2^(n - free)` seconds (at most `max_delay`)
/// after the `n`-th failure; at `rule.limit` failures the subject is closed until the
/// window ends.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    pub rule: Rule,
    pub free: i64,
    pub max_delay: Duration,
}

/// What a limit says about the next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Open,
    /// Refused for now; try again after this many seconds (at least 1).
    Wait(i64),
    /// Refused until the window ends, this many seconds from now (at least 1).
    Closed(i64),
}

impl Verdict {
    pub fn is_open(self) -> bool {
        self == Verdict::Open
    }

    /// The stricter of two verdicts (the longer wait).
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Closed(a), Verdict::Closed(b)) => Verdict::Closed(a.max(b)),
            (Verdict::Closed(a), _) | (_, Verdict::Closed(a)) => Verdict::Closed(a),
            (Verdict::Wait(a), Verdict::Wait(b)) => Verdict::Wait(a.max(b)),
            (Verdict::Wait(a), _) | (_, Verdict::Wait(a)) => Verdict::Wait(a),
            (Verdict::Open, Verdict::Open) => Verdict::Open,
        }
    }

    /// Seconds until another attempt may succeed (0 when open).
    pub fn retry_after(self) -> i64 {
        match self {
            Verdict::Open => 0,
            Verdict::Wait(s) | Verdict::Closed(s) => s,
        }
    }
}

/// A wait in words for a refusal message: 「45秒」, 「3分」 (whole minutes, rounded up).
pub fn wait_text(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{}秒", s.max(1)),
        s => format!("{}分", (s + 59) / 60),
    }
}

/// The subject of a pair limit (an account or link together with a client address).
pub fn pair(subject: &str, ip: &str) -> String {
    format!("{subject}\u{1f}{ip}")
}

/// Wrong passwords for one login address from one client address.
pub const LOGIN_PAIR: Rule = Rule {
    kind: "login-pair",
    limit: 5,
    window: Duration::minutes(15),
};
/// Wrong passwords from one client address (spraying many accounts).
pub const LOGIN_IP: Rule = Rule {
    kind: "login-ip",
    limit: 20,
    window: Duration::minutes(15),
};
/// Wrong passwords for one login address from all client addresses together: ten free, then
/// growing delays (1 s, 2 s, … up to a minute), closed at fifty in an hour (the owner is mailed).
pub const LOGIN_ACCOUNT: Ceiling = Ceiling {
    rule: Rule {
        kind: "login-account",
        limit: 50,
        window: Duration::hours(1),
    },
    free: 10,
    max_delay: Duration::minutes(1),
};
/// A wrong お客様番号 given with the right password, per client address (it proves the
/// password, so it never counts against the account; this only stops number probing).
pub const LOGIN_CUSTOMER_IP: Rule = Rule {
    kind: "login-customer-ip",
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

/// Wrong passwords or passcodes on one registration link from one client address.
pub const ENROL_PAIR: Rule = Rule {
    kind: "enrol-pair",
    limit: 5,
    window: Duration::minutes(15),
};
/// The same, per client address (many links tried from one place).
pub const ENROL_IP: Rule = Rule {
    kind: "enrol-ip",
    limit: 20,
    window: Duration::minutes(15),
};
/// Wrong passwords or passcodes on one registration link from all addresses together (as
/// [`LOGIN_ACCOUNT`]: ten free, growing delays, closed at thirty in an hour).
pub const ENROL_LINK: Ceiling = Ceiling {
    rule: Rule {
        kind: "enrol-link",
        limit: 30,
        window: Duration::hours(1),
    },
    free: 10,
    max_delay: Duration::minutes(1),
};

/// Sign-ups (お申し込み) from one client address: each creates a company, its keys and a mail.
pub const SIGNUP_IP: Rule = Rule {
    kind: "signup-ip",
    limit: 5,
    window: Duration::hours(1),
};

/// The counter's key, when the item may be dropped, and seconds left in the window.
fn window_key(rule: &Rule, subject: &str, now: i64) -> (Key, i64, i64) {
    let width = rule.window.whole_seconds().max(1);
    let index = now.div_euclid(width);
    let digest = crypto::sha256_hex(subject.as_bytes());
    (
        Key::new(format!("RL#{}#{digest}", rule.kind), index.to_string()),
        (index + 2) * width,
        ((index + 1) * width - now).max(1),
    )
}

async fn count(store: &dyn Store, key: &Key) -> Result<i64, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|i| i.i64("count"))
        .unwrap_or(0))
}

/// Whether `subject` has used up its failures in the current window.
pub async fn is_blocked(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(!check(store, rule, subject, now).await?.is_open())
}

/// [`is_blocked`] with the time left: `Closed(seconds to the window's end)` once used up.
pub async fn check(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<Verdict, StoreError> {
    let (key, _, left) = window_key(rule, subject, now);
    Ok(match count(store, &key).await? >= rule.limit {
        true => Verdict::Closed(left),
        false => Verdict::Open,
    })
}

/// Records one failure; returns whether the subject is now blocked.
pub async fn hit(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let (key, expires, _) = window_key(rule, subject, now);
    Ok(store.add(&key, "count", 1, Some(expires)).await? >= rule.limit)
}

/// Forgets the failures of the current window (after a successful login).
pub async fn clear(
    store: &dyn Store,
    rule: &Rule,
    subject: &str,
    now: i64,
) -> Result<(), StoreError> {
    let (key, _, _) = window_key(rule, subject, now);
    store.delete(&key, crate::ports::Condition::None).await
}

impl Ceiling {
    /// The wait after the `n`-th failure of a window.
    fn delay(&self, n: i64) -> i64 {
        let over = n - self.free;
        if over < 0 {
            return 0;
        }
        let max = self.max_delay.whole_seconds().max(1);
        // 2^over, without overflow for any count.
        1i64.checked_shl(over.min(62) as u32)
            .unwrap_or(max)
            .min(max)
    }

    fn wait_key(&self, subject: &str, now: i64) -> Key {
        let (key, _, _) = window_key(&self.rule, subject, now);
        Key::new(format!("{}#wait", key.pk), key.sk)
    }

    /// Whether an attempt for `subject` may go ahead now.
    pub async fn check(
        &self,
        store: &dyn Store,
        subject: &str,
        now: i64,
    ) -> Result<Verdict, StoreError> {
        let (key, _, left) = window_key(&self.rule, subject, now);
        let n = count(store, &key).await?;
        if n >= self.rule.limit {
            return Ok(Verdict::Closed(left));
        }
        if n < self.free {
            return Ok(Verdict::Open);
        }
        let until = store
            .get(&self.wait_key(subject, now))
            .await?
            .and_then(|i| i.i64("until"))
            .unwrap_or(0);
        Ok(match until > now {
            true => Verdict::Wait(until - now),
            false => Verdict::Open,
        })
    }

    /// Records one failure; returns the count in the window so far (the caller acts once,
    /// when it equals `rule.limit`: the failure that closed the subject).
    pub async fn hit(&self, store: &dyn Store, subject: &str, now: i64) -> Result<i64, StoreError> {
        let (key, expires, _) = window_key(&self.rule, subject, now);
        let n = store.add(&key, "count", 1, Some(expires)).await?;
        let delay = self.delay(n);
        if delay > 0 && n < self.rule.limit {
            store
                .put(
                    Item::new(self.wait_key(subject, now))
                        .with("until", now + delay)
                        .with("ttl", expires),
                    crate::ports::Condition::None,
                )
                .await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_from_one_second_after_the_free_failures_up_to_the_cap() {
        let c = LOGIN_ACCOUNT;
        let delays: Vec<i64> = (8..=18).map(|n| c.delay(n)).collect();
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(c.delay(i64::MAX), 60);
    }

    #[test]
    fn waits_read_as_seconds_then_whole_minutes_rounded_up() {
        let cases = [
            (0, "1秒"),
            (1, "1秒"),
            (59, "59秒"),
            (60, "1分"),
            (61, "2分"),
            (3599, "60分"),
        ];
        for (seconds, text) in cases {
            assert_eq!(wait_text(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn the_stricter_verdict_wins() {
        assert_eq!(Verdict::Open.and(Verdict::Wait(3)), Verdict::Wait(3));
        assert_eq!(Verdict::Wait(9).and(Verdict::Closed(2)), Verdict::Closed(2));
        assert_eq!(Verdict::Wait(2).and(Verdict::Wait(5)), Verdict::Wait(5));
        assert_eq!(Verdict::Open.and(Verdict::Open), Verdict::Open);
    }
}
