//! HOME (manual ch.3): what the landing page after login shows. The registration counts come
//! from the counters item maintained on write, one read, never a scan.

use super::keys::TenantScope;
use super::tenants::{self, Counters, Tenant};
use super::users::User;
use super::{App, InfraError, Notice};

pub struct Home {
    pub tenant: Tenant,
    pub user: User,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Whether the company passcode (企業パスコード) is still unset: HOME warns.
    pub passcode_unset: bool,
}

/// HOME for a user whose tenant and user records the request already holds: only the
/// counters are read here.
pub async fn load(
    app: &App,
    scope: &TenantScope,
    tenant: Tenant,
    user: User,
) -> Result<Home, InfraError> {
    let counters = tenants::counters(scope).await?;
    Ok(Home {
        passcode_unset: !tenant.passcode_set,
        notices: app.config.notices.clone(),
        tenant,
        user,
        counters,
    })
}
