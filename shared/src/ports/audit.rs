//! The `Audit` port: an append-only writer of operation-log entries (操作履歴).
//!
//! Every capability records who did what to whom, from where. Entries never contain a My
//! Number, a password or an OTP. The log is append-only and hash-chained by its
//! implementation (`app::audit::ChainedAudit`), so a gap or an edit is detectable.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One operation to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Tenant the operation belongs to; `None` for events before a tenant is known (a login
    /// with an unknown address), which go to the system log.
    pub tenant_id: Option<String>,
    /// Acting login user's id, if known.
    pub actor_id: Option<String>,
    /// Acting person's display name (as shown in 操作履歴), if known.
    pub actor_name: Option<String>,
    /// Stable machine code, e.g. `auth.login`, `auth.login_failed`.
    pub action: String,
    /// What the operation touched (a registrant id, a user id), if anything.
    pub target: Option<String>,
    /// The Japanese description shown in 操作履歴 (操作内容).
    pub detail: String,
    /// Client address.
    pub ip: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("audit log write failed: {0}")]
pub struct AuditError(pub String);

#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends one entry. An operation whose entry cannot be written must not be reported
    /// as done.
    async fn record(&self, event: AuditEvent) -> Result<(), AuditError>;
}
