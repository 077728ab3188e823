//! Server-side sessions, stored by the SHA-256 of their token in the sessions table.
//!
//! A session starts `Pending` after the password step (it carries the hashed OTP and lives
//! only as long as the OTP) and is replaced by a new `Active` session, with a new token, once
//! the second factor succeeds, so a token seen before login is worthless after it. Active
//! sessions end after `session_idle` without requests or `session_absolute` after login,
//! whichever comes first; the `ttl` attribute lets the store drop them afterwards.
//!
//! An active administrator's session is bound to the password it was opened with (`cred`, a
//! digest of the stored password hash): a new password, set by the user, an administrator or
//! a reminder, ends every session opened before it, with no list of sessions to walk.

use time::OffsetDateTime;

use super::keys::TenantId;
use super::{App, InfraError};
use crate::crypto;
use crate::ports::store::{Condition, Item, Key};

/// Only write `last_seen` when it is at least this old, to keep reads cheap.
const TOUCH_EVERY_SECONDS: i64 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; waiting for the second factor.
    Pending,
    /// Fully logged in.
    Active,
    /// A registrant on their phone (`user_id` is the registrant id); never an administrator.
    Registrant,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id_hash: String,
    pub tenant: TenantId,
    pub user_id: String,
    pub stage: Stage,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub otp_hash: Option<String>,
    pub otp_expires: Option<i64>,
    pub otp_attempts: i64,
    /// A registrant's session: the hash of the registration link it was opened with; the
    /// session lasts only while that link is the registrant's current one.
    pub link: Option<String>,
    /// An administrator's session: [`credential_tag`] of the password hash at login.
    pub cred: Option<String>,
}

/// What a cookie's token turned out to be.
#[derive(Debug)]
// A valid session is the common case; boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Lookup {
    Valid(Session),
    Expired,
    Missing,
}

fn key(id_hash: &str) -> Key {
    Key::new(format!("SESSION#{id_hash}"), "SESSION")
}

fn hash_token(token: &str) -> String {
    crypto::sha256_hex(token.as_bytes())
}

impl Session {
    fn to_item(&self, expires_at: i64) -> Item {
        let mut item = Item::new(key(&self.id_hash))
            .with("tenant", self.tenant.as_str())
            .with("user", self.user_id.as_str())
            .with(
                "stage",
                match self.stage {
                    Stage::Active => "active",
                    Stage::Pending => "pending",
                    Stage::Registrant => "registrant",
                },
            )
            .with("csrf", self.csrf.as_str())
            .with("created_at", self.created_at)
            .with("last_seen", self.last_seen)
            .with("otp_attempts", self.otp_attempts)
            .with("ttl", expires_at);
        if let Some(h) = &self.otp_hash {
            item = item.with("otp_hash", h.as_str());
        }
        if let Some(e) = self.otp_expires {
            item = item.with("otp_expires", e);
        }
        if let Some(l) = &self.link {
            item = item.with("link", l.as_str());
        }
        if let Some(c) = &self.cred {
            item = item.with("cred", c.as_str());
        }
        item
    }

    fn from_item(item: &Item) -> Option<Session> {
        Some(Session {
            id_hash: item.key.pk.strip_prefix("SESSION#")?.to_string(),
            tenant: TenantId::parse(item.str("tenant")?)?,
            user_id: item.str("user")?.to_string(),
            stage: match item.str("stage")? {
                "active" => Stage::Active,
                "pending" => Stage::Pending,
                "registrant" => Stage::Registrant,
                _ => return None,
            },
            csrf: item.str("csrf")?.to_string(),
            created_at: item.i64("created_at")?,
            last_seen: item.i64("last_seen")?,
            otp_hash: item.str("otp_hash").map(str::to_string),
            otp_expires: item.i64("otp_expires"),
            otp_attempts: item.i64("otp_attempts").unwrap_or(0),
            link: item.str("link").map(str::to_string),
            cred: item.str("cred").map(str::to_string),
        })
    }

    fn expires_at(&self, app: &App) -> i64 {
        match self.stage {
            Stage::Pending => self.otp_expires.unwrap_or(self.created_at),
            Stage::Active | Stage::Registrant => (self.created_at
                + app.config.session_absolute.whole_seconds())
            .min(self.last_seen + app.config.session_idle.whole_seconds()),
        }
    }

    pub fn is_expired(&self, app: &App, now: OffsetDateTime) -> bool {
        now.unix_timestamp() >= self.expires_at(app)
    }
}

/// What a session remembers of the password it was opened with: a digest of the stored
/// argon2 hash (itself salted), so the session table holds nothing a guesser could use.
pub fn credential_tag(password_hash: &str) -> String {
    crypto::sha256_hex(format!("session-credential\n{password_hash}").as_bytes())
}

impl Session {
    /// Whether the session was opened with the password whose stored hash is `password_hash`.
    pub fn is_bound_to(&self, password_hash: &str) -> bool {
        self.cred
            .as_deref()
            .is_some_and(|c| crypto::ct_eq(c.as_bytes(), credential_tag(password_hash).as_bytes()))
    }
}

/// Hash of an OTP bound to its session, so a code is useless for any other pending login.
pub fn otp_digest(id_hash: &str, code: &str) -> String {
    crypto::sha256_hex(format!("otp\n{id_hash}\n{code}").as_bytes())
}

/// Starts a pending session holding the hash of `otp`. Returns the cookie token.
pub async fn start_pending(
    app: &App,
    tenant: &TenantId,
    user_id: &str,
    otp: &str,
) -> Result<String, InfraError> {
    let token = crypto::random_token();
    let now = app.now().unix_timestamp();
    let id_hash = hash_token(&token);
    let session = Session {
        otp_hash: Some(otp_digest(&id_hash, otp)),
        otp_expires: Some(now + app.config.otp_validity.whole_seconds()),
        id_hash,
        tenant: tenant.clone(),
        user_id: user_id.to_string(),
        stage: Stage::Pending,
        csrf: crypto::random_token(),
        created_at: now,
        last_seen: now,
        otp_attempts: 0,
        link: None,
        cred: None,
    };
    let expires = session.expires_at(app);
    app.ports
        .sessions
        .put(session.to_item(expires), Condition::NotExists)
        .await?;
    Ok(token)
}

/// Replaces a pending session by an active one. The pending session is deleted only if it
/// still holds `otp_hash`, so a code works once even when submitted twice at the same time.
/// Returns `None` if the pending session was already used. The new session is bound to
/// `password_hash`, the user's stored hash now.
pub async fn activate(
    app: &App,
    pending: &Session,
    password_hash: &str,
) -> Result<Option<String>, InfraError> {
    let used = app
        .ports
        .sessions
        .delete(
            &key(&pending.id_hash),
            Condition::Equals(
                "otp_hash".into(),
                pending.otp_hash.clone().unwrap_or_default().into(),
            ),
        )
        .await;
    match used {
        Ok(()) => {}
        Err(crate::ports::StoreError::ConditionFailed) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    Ok(Some(
        start(
            app,
            &pending.tenant,
            &pending.user_id,
            Stage::Active,
            None,
            Some(credential_tag(password_hash)),
        )
        .await?,
    ))
}

/// Stores a new logged-in session (administrator or registrant); returns its cookie token.
async fn start(
    app: &App,
    tenant: &TenantId,
    user_id: &str,
    stage: Stage,
    link: Option<String>,
    cred: Option<String>,
) -> Result<String, InfraError> {
    let token = crypto::random_token();
    let now = app.now().unix_timestamp();
    let session = Session {
        id_hash: hash_token(&token),
        tenant: tenant.clone(),
        user_id: user_id.to_string(),
        stage,
        csrf: crypto::random_token(),
        created_at: now,
        last_seen: now,
        otp_hash: None,
        otp_expires: None,
        otp_attempts: 0,
        link,
        cred,
    };
    let expires = session.expires_at(app);
    app.ports
        .sessions
        .put(session.to_item(expires), Condition::NotExists)
        .await?;
    Ok(token)
}

/// Starts a registrant's session after their phone login through the link whose hash is
/// `link_hash`. Returns the cookie token.
pub async fn start_registrant(
    app: &App,
    tenant: &TenantId,
    registrant_id: &str,
    link_hash: &str,
) -> Result<String, InfraError> {
    start(
        app,
        tenant,
        registrant_id,
        Stage::Registrant,
        Some(link_hash.to_string()),
        None,
    )
    .await
}

/// The session behind a cookie token. Expired sessions are deleted and reported as such.
pub async fn lookup(app: &App, token: &str) -> Result<Lookup, InfraError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(Lookup::Missing);
    }
    let k = key(&hash_token(token));
    let Some(item) = app.ports.sessions.get(&k).await? else {
        return Ok(Lookup::Missing);
    };
    let Some(session) = Session::from_item(&item) else {
        app.ports.sessions.delete(&k, Condition::None).await?;
        return Ok(Lookup::Missing);
    };
    let now = app.now();
    if session.is_expired(app, now) {
        app.ports.sessions.delete(&k, Condition::None).await?;
        return Ok(Lookup::Expired);
    }
    Ok(Lookup::Valid(session))
}

/// Marks activity on an active session (at most once a minute).
pub async fn touch(app: &App, session: &mut Session) -> Result<(), InfraError> {
    let now = app.now().unix_timestamp();
    if session.stage == Stage::Pending || now - session.last_seen < TOUCH_EVERY_SECONDS {
        return Ok(());
    }
    session.last_seen = now;
    let expires = session.expires_at(app);
    match app
        .ports
        .sessions
        .put(session.to_item(expires), Condition::Exists)
        .await
    {
        // Logged out concurrently: nothing to keep alive.
        Ok(()) | Err(crate::ports::StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Keeps `session` alive across its own user's password change (ログインユーザのPW変更 of
/// oneself): it is re-bound to the new hash; every other session of the user still ends.
pub async fn rebind(
    app: &App,
    session: &mut Session,
    password_hash: &str,
) -> Result<(), InfraError> {
    session.cred = Some(credential_tag(password_hash));
    let expires = session.expires_at(app);
    app.ports
        .sessions
        .put(session.to_item(expires), Condition::Exists)
        .await?;
    Ok(())
}

/// Counts a wrong OTP on a pending session; returns the attempts so far.
pub async fn count_otp_failure(app: &App, session: &Session) -> Result<i64, InfraError> {
    Ok(app
        .ports
        .sessions
        .add(&key(&session.id_hash), "otp_attempts", 1, None)
        .await?)
}

pub async fn end(app: &App, session: &Session) -> Result<(), InfraError> {
    app.ports
        .sessions
        .delete(&key(&session.id_hash), Condition::None)
        .await?;
    Ok(())
}
