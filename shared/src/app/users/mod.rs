//! Login users (ログインユーザ, manual ch.5) of a tenant: who may log in, with which role.
//! Stored in the tenant's partition (`USER#<id>`); the global `EMAIL#<address>` / `T#<tenant>`
//! look-up points at them for login, one item per tenant, so one address (a 士業 serving
//! several companies) can be a user in several tenants and picks one with its お客様番号.
//!
//! This module is the record and its reads; [`manage`] holds the use cases that change the set
//! of users (register, edit, password, delete; the password changes written in `password`
//! and re-exported by `manage`) and [`form`] the checks of the typed form.
//! Not here: logging in (`app::auth`), roles and their permissions (`domain::role`).

pub mod form;
pub mod manage;
mod password;

use time::OffsetDateTime;

use super::keys::{sk, TenantId, TenantScope};
use super::InfraError;
use crate::domain::role::Role;
use crate::ports::store::{Item, Query};

/// 属性 of a login user: the company's own staff, or an outside professional (税理士,
/// 社会保険労務士 …) the company entrusts with numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserKind {
    /// 従業員
    Employee,
    /// 士業
    Professional,
}

impl UserKind {
    pub const ALL: [UserKind; 2] = [UserKind::Employee, UserKind::Professional];

    pub fn label(self) -> &'static str {
        match self {
            UserKind::Employee => "従業員",
            UserKind::Professional => "士業",
        }
    }

    /// Stable storage code.
    pub fn code(self) -> &'static str {
        match self {
            UserKind::Employee => "employee",
            UserKind::Professional => "professional",
        }
    }

    pub fn from_code(code: &str) -> Option<UserKind> {
        UserKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

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
    /// 部署 (free text, may be empty).
    pub department: String,
    /// 属性.
    pub kind: UserKind,
    /// 備考 (free text, may be empty).
    pub note: String,
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
            .with("department", self.department.as_str())
            .with("user_kind", self.kind.code())
            .with("note", self.note.as_str())
    }

    /// Users stored before 部署, 属性 and 備考 existed read as 従業員 with both empty.
    fn from_item(tenant: &TenantId, item: &Item) -> Option<User> {
        let text = |name: &str| item.str(name).unwrap_or_default().to_string();
        Some(User {
            id: item.key.sk.strip_prefix("USER#")?.to_string(),
            tenant: tenant.clone(),
            email: item.str("email")?.to_string(),
            family_name: item.str("family_name")?.to_string(),
            given_name: item.str("given_name")?.to_string(),
            role: Role::from_code(item.str("role")?)?,
            password_hash: item.str("password_hash")?.to_string(),
            created_at: OffsetDateTime::from_unix_timestamp(item.i64("created_at")?).ok()?,
            department: text("department"),
            kind: item
                .str("user_kind")
                .map_or(Some(UserKind::Employee), UserKind::from_code)?,
            note: text("note"),
        })
    }
}

/// What is kept of a deleted login user: enough for the operation log to name them (their
/// entries already carry the name they had) and to mark them as deleted. No address and no
/// password hash: a deleted person's credentials are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedUser {
    pub id: String,
    pub name: String,
    pub deleted_at: OffsetDateTime,
}

impl DeletedUser {
    fn to_item(&self, scope: &TenantScope) -> Item {
        Item::new(scope.key(&sk::deleted_user(&self.id)))
            .with("kind", "deleted_user")
            .with("name", self.name.as_str())
            .with("deleted_at", self.deleted_at.unix_timestamp())
    }

    fn from_item(item: &Item) -> Option<DeletedUser> {
        Some(DeletedUser {
            id: item.key.sk.strip_prefix(sk::DELETED_USERS)?.to_string(),
            name: item.str("name")?.to_string(),
            deleted_at: OffsetDateTime::from_unix_timestamp(item.i64("deleted_at")?).ok()?,
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

/// Every item of the tenant's main partition under `prefix`, all pages.
async fn walk(scope: &TenantScope, prefix: &str) -> Result<Vec<Item>, InfraError> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(prefix)
                    .limit(200)
                    .after(cursor),
            )
            .await?;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// Every login user of the tenant, oldest first (the applicant of the sign-up leads).
pub async fn list(scope: &TenantScope) -> Result<Vec<User>, InfraError> {
    let mut users = walk(scope, sk::USERS)
        .await?
        .iter()
        .map(|item| User::from_item(scope.tenant(), item).ok_or(InfraError::Corrupt("user")))
        .collect::<Result<Vec<_>, _>>()?;
    users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(users)
}

/// Every deleted login user of the tenant (for the operation log's 実施者 and its marking).
pub async fn deleted(scope: &TenantScope) -> Result<Vec<DeletedUser>, InfraError> {
    walk(scope, sk::DELETED_USERS)
        .await?
        .iter()
        .map(|item| DeletedUser::from_item(item).ok_or(InfraError::Corrupt("deleted user")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_code_round_trips_when_each_kind() {
        for kind in UserKind::ALL {
            assert_eq!(UserKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(UserKind::Professional.label(), "士業");
        assert_eq!(UserKind::from_code("admin"), None);
    }
}
