//! HOME (manual ch.3): what the landing page after login shows. The registration counts come
//! from the counters item maintained on write, one read, never a scan.

use super::keys::TenantScope;
use super::tenants::{self, Counters, Tenant};
use super::users::{self, User};
use super::{App, InfraError, Notice};

pub struct Home {
    pub tenant: Tenant,
    pub user: User,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Whether the company passcode (企業パスコード) is still unset: HOME warns.
    pub passcode_unset: bool,
}

pub async fn load(app: &App, scope: &TenantScope, user_id: &str) -> Result<Home, InfraError> {
    let tenant = tenants::load(scope)
        .await?
        .ok_or(InfraError::Corrupt("tenant missing"))?;
    let user = users::load(scope, user_id)
        .await?
        .ok_or(InfraError::Corrupt("user missing"))?;
    let counters = tenants::counters(scope).await?;
    Ok(Home {
        passcode_unset: !tenant.passcode_set,
        notices: app.config.notices.clone(),
        tenant,
        user,
        counters,
    })
}
