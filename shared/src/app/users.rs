//! Login users (ログインユーザ) of a tenant: who may log in, with which role.
//! Stored in the tenant's partition; the global `EMAIL#` look-up points at them for login.

use time::OffsetDateTime;

use super::keys::{sk, TenantId, TenantScope};
use super::InfraError;
use crate::domain::role::Role;
use crate::ports::store::Item;

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub tenant: TenantId,
    pub email: String,
    pub family_name: String,
    pub given_name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.family_name, self.given_name)
    }

    pub fn to_item(&self, scope: &TenantScope) -> Item {
        Item::new(scope.key(&sk::user(&self.id)))
            .with("kind", "user")
            .with("email", self.email.as_str())
            .with("family_name", self.family_name.as_str())
            .with("given_name", self.given_name.as_str())
            .with("role", self.role.code())
            .with("password_hash", self.password_hash.as_str())
            .with("created_at", self.created_at.unix_timestamp())
    }

    fn from_item(tenant: &TenantId, item: &Item) -> Option<User> {
        Some(User {
            id: item.key.sk.strip_prefix("USER#")?.to_string(),
            tenant: tenant.clone(),
            email: item.str("email")?.to_string(),
            family_name: item.str("family_name")?.to_string(),
            given_name: item.str("given_name")?.to_string(),
            role: Role::from_code(item.str("role")?)?,
            password_hash: item.str("password_hash")?.to_string(),
            created_at: OffsetDateTime::from_unix_timestamp(item.i64("created_at")?).ok()?,
        })
    }
}

/// The user `user_id` of the scope's tenant, if it exists.
pub async fn load(scope: &TenantScope, user_id: &str) -> Result<Option<User>, InfraError> {
    match scope.get(&scope.key(&sk::user(user_id))).await? {
        None => Ok(None),
        Some(item) => User::from_item(scope.tenant(), &item)
            .map(Some)
            .ok_or(InfraError::Corrupt("user")),
    }
}
