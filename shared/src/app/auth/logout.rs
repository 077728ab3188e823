//! Logout: the session ends and the log says so.

use super::{audit, event};
use crate::app::keys::TenantScope;
use crate::app::sessions::{self, Session};
use crate::app::users;
use crate::app::{App, InfraError};

/// Ends a session and records the logout.
pub async fn logout(app: &App, session: &Session, ip: &str) -> Result<(), InfraError> {
    sessions::end(app, session).await?;
    let scope = TenantScope::new(session.tenant.clone(), app.ports.store.clone());
    let user = users::load(&scope, &session.user_id).await?;
    audit(
        app,
        event(
            Some(&session.tenant),
            user.as_ref(),
            "auth.logout",
            "ログアウト",
            ip,
        ),
    )
    .await
}
