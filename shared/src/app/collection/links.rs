//! Registration links: issue (voiding the previous one), resolve, revoke, expiry; a link's token
//! is stored only as its SHA-256.

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::LINK_VALIDITY;
use crate::app::keys::{sk, TenantId, TenantScope};
use crate::app::{App, InfraError};
use crate::crypto;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

/// The URL a registrant opens on their phone.
pub fn link_url(app: &App, tenant: &TenantId, token: &str) -> String {
    format!(
        "{}/r/{}/{}",
        app.config.base_url.trim_end_matches('/'),
        tenant,
        token
    )
}

/// A freshly issued link (the token exists only here and in the mail or QR code).
#[derive(Clone, Debug)]
pub struct IssuedLink {
    pub url: String,
    pub token_hash: String,
    pub expires_at: OffsetDateTime,
}

/// What a token in a URL turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Valid {
        registrant_id: String,
        token_hash: String,
    },
    Expired,
    /// A newer link was issued for the same person.
    Replaced,
    /// The person was marked 拒否: collection through this link ended.
    Revoked,
    Unknown,
}

fn token_hash(token: &str) -> String {
    crypto::sha256_hex(format!("myna-link\n{token}").as_bytes())
}

/// Writes a new token for `registrant_id` without touching the current one (see [`activate`]).
pub(super) async fn prepare_link(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<(String, IssuedLink), InfraError> {
    let token = crypto::random_token();
    let hash = token_hash(&token);
    let now = app.now();
    let expires_at = now + LINK_VALIDITY;
    scope
        .put(
            Item::new(scope.key(&sk::link_token(&hash)))
                .with("registrant_id", registrant_id)
                .with("state", "new")
                .with("expires_at", expires_at.unix_timestamp())
                .with("ttl", (expires_at + Duration::days(30)).unix_timestamp()),
            Condition::NotExists,
        )
        .await?;
    Ok((
        token.clone(),
        IssuedLink {
            url: link_url(app, scope.tenant(), &token),
            token_hash: hash,
            expires_at,
        },
    ))
}

/// Makes a prepared token the registrant's link and voids the previous one, at once.
pub(super) async fn activate(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
    link: &IssuedLink,
) -> Result<(), InfraError> {
    let previous = scope
        .get(&scope.key(&sk::link(registrant_id)))
        .await?
        .and_then(|i| i.str("token_hash").map(str::to_string));
    let ttl = (link.expires_at + Duration::days(30)).unix_timestamp();
    let mut ops = vec![
        WriteOp::put(
            Item::new(scope.key(&sk::link_token(&link.token_hash)))
                .with("registrant_id", registrant_id)
                .with("state", "current")
                .with("expires_at", link.expires_at.unix_timestamp())
                .with("ttl", ttl),
        ),
        WriteOp::put(
            Item::new(scope.key(&sk::link(registrant_id)))
                .with("token_hash", link.token_hash.as_str())
                .with("issued_at", app.now().unix_timestamp())
                .with("expires_at", link.expires_at.unix_timestamp()),
        ),
    ];
    if let Some(old) = previous.filter(|h| *h != link.token_hash) {
        ops.push(WriteOp::put(
            Item::new(scope.key(&sk::link_token(&old)))
                .with("registrant_id", registrant_id)
                .with("state", "replaced")
                .with("ttl", ttl),
        ));
    }
    scope.transact(ops).await?;
    Ok(())
}

/// Removes a prepared token that was never handed out (its mail failed).
pub(super) async fn discard(scope: &TenantScope, link: &IssuedLink) -> Result<(), InfraError> {
    scope
        .delete(
            &scope.key(&sk::link_token(&link.token_hash)),
            Condition::Equals("state".into(), Value::from("new")),
        )
        .await
        .or_else(|e| match e {
            StoreError::ConditionFailed => Ok(()),
            e => Err(e),
        })?;
    Ok(())
}

/// Issues a new link for a registrant (QR code page), voiding the previous one.
pub async fn issue_link(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<IssuedLink, InfraError> {
    let (_, link) = prepare_link(app, scope, registrant_id).await?;
    activate(app, scope, registrant_id, &link).await?;
    Ok(link)
}

/// Looks a token up. Never distinguishes more than the states the page explains.
pub async fn resolve(app: &App, scope: &TenantScope, token: &str) -> Result<LinkState, InfraError> {
    if token.len() < 20 || token.len() > 100 {
        return Ok(LinkState::Unknown);
    }
    resolve_hash(app, scope, &token_hash(token)).await
}

/// The state of the link whose token hashes to `hash`: what a registrant's session checks on
/// every request, so a session lasts only while the link it was opened with is current.
pub async fn resolve_hash(
    app: &App,
    scope: &TenantScope,
    hash: &str,
) -> Result<LinkState, InfraError> {
    let Some(item) = scope.get(&scope.key(&sk::link_token(hash))).await? else {
        return Ok(LinkState::Unknown);
    };
    let Some(registrant_id) = item.str("registrant_id").map(str::to_string) else {
        return Ok(LinkState::Unknown);
    };
    Ok(match item.str("state") {
        Some("replaced") => LinkState::Replaced,
        Some("revoked") => LinkState::Revoked,
        Some("current") if item.i64("expires_at").unwrap_or(0) <= app.now().unix_timestamp() => {
            LinkState::Expired
        }
        Some("current") => LinkState::Valid {
            registrant_id,
            token_hash: hash.to_string(),
        },
        _ => LinkState::Unknown,
    })
}

/// Ends collection through the registrant's current link (拒否): the link stops working, and
/// with it every session opened through it. A new link (mail or QR code) re-opens collection.
pub async fn revoke_link(scope: &TenantScope, registrant_id: &str) -> Result<(), InfraError> {
    let Some(current) = scope.get(&scope.key(&sk::link(registrant_id))).await? else {
        return Ok(());
    };
    let mut ops = vec![WriteOp::Delete {
        key: scope.key(&sk::link(registrant_id)),
        condition: Condition::None,
    }];
    if let Some(hash) = current.str("token_hash") {
        let mut token = Item::new(scope.key(&sk::link_token(hash)))
            .with("registrant_id", registrant_id)
            .with("state", "revoked");
        if let Some(ttl) = current
            .i64("expires_at")
            .map(|e| e + Duration::days(30).whole_seconds())
        {
            token = token.with("ttl", ttl);
        }
        ops.push(WriteOp::put(token));
    }
    scope.transact(ops).await?;
    Ok(())
}

/// When the registrant's current link stops working, if they have one.
pub async fn link_expiry(
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<Option<OffsetDateTime>, InfraError> {
    Ok(scope
        .get(&scope.key(&sk::link(registrant_id)))
        .await?
        .and_then(|i| i.i64("expires_at"))
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()))
}

/// Writes that forget a registrant's collection state (with the registrant's deletion).
pub fn forget_ops(scope: &TenantScope, registrant_id: &str) -> Vec<WriteOp> {
    [
        sk::link(registrant_id),
        sk::send_list(registrant_id),
        sk::enrolment(registrant_id),
    ]
    .into_iter()
    .map(|k| WriteOp::Delete {
        key: scope.key(&k),
        condition: Condition::None,
    })
    .collect()
}
