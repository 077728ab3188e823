//! The sweep of master keys orphaned by a failed sign-up: sign-up creates the tenant's key
//! before the transaction that writes the tenant (`app::signup`), so a failure in between
//! leaves a key that no tenant uses. A key older than [`GRACE`] whose tenant has no profile
//! (and is not the key of that profile) is destroyed. A purged tenant's key was destroyed by
//! its purge and is no longer listed.

use time::Duration;

use crate::app::keys::{TenantId, TenantScope};
use crate::app::{tenants, App, InfraError};

/// How long a key may exist without its tenant (a sign-up in progress is much shorter).
pub const GRACE: Duration = Duration::hours(24);

/// Destroys orphaned master keys; returns how many.
pub async fn orphan_keys(app: &App) -> Result<usize, InfraError> {
    let now = app.now();
    let mut destroyed = 0;
    for key in app.ports.keys.list_master_keys().await? {
        if now - key.created_at < GRACE {
            continue;
        }
        let in_use = match TenantId::parse(&key.tenant_id) {
            Some(tenant) => {
                let scope = TenantScope::new(tenant, app.ports.store.clone());
                tenants::load(&scope)
                    .await?
                    .is_some_and(|t| same_key(&t.keys.master_key, &key.id))
            }
            None => false,
        };
        if !in_use {
            app.ports.keys.destroy_master_key(&key.id).await?;
            tracing::info!(tenant = %key.tenant_id, "orphaned master key destroyed");
            destroyed += 1;
        }
    }
    Ok(destroyed)
}

/// A KMS key may be named by its ARN or its bare id.
fn same_key(a: &str, b: &str) -> bool {
    let id = |k: &str| k.rsplit_once("key/").map_or(k, |(_, id)| id).to_string();
    id(a) == id(b)
}

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn same_key_matches_an_arn_and_its_bare_id() {
        let arn = "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab";
        assert!(same_key(arn, "1234abcd-12ab"));
        assert!(same_key("T1-ab", "T1-ab"));
        assert!(!same_key(arn, "ffff"));
    }
}
