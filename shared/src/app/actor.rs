//! Who acts (a login user, or a registrant on the phone) and the audit entry every use case on
//! a person writes with it. A leaf: every capability records through it, it knows none of them.

use super::keys::TenantScope;
use crate::ports::audit::AuditEvent;

/// Who acts, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub ip: String,
}

/// The audit entry of `actor` doing `action` to the record `target` (a registrant's id).
pub fn audit_event(
    scope: &TenantScope,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: String,
) -> AuditEvent {
    AuditEvent {
        tenant_id: Some(scope.tenant().to_string()),
        actor_id: Some(actor.user_id.clone()),
        actor_name: Some(actor.name.clone()),
        action: action.into(),
        target: Some(target.to_string()),
        detail,
        ip: Some(actor.ip.clone()),
    }
}
