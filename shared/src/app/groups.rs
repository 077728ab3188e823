//! Groups (グループ管理, manual ch.6): departments, branches or shops registrants belong to.
//! A registrant is in at most one group. Deleting a group leaves its members ungrouped.

use time::OffsetDateTime;

use super::keys::{sk, RecordId, TenantScope};
use super::InfraError;
use crate::ports::store::{Item, Query};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

pub const MAX_NAME: usize = 50;

impl Group {
    pub fn to_item(&self, scope: &TenantScope) -> Item {
        Item::new(scope.key(&sk::group(&self.id)))
            .with("kind", "group")
            .with("name", self.name.as_str())
            .with("created_at", self.created_at)
    }

    fn from_item(item: &Item) -> Option<Group> {
        Some(Group {
            id: item.key.sk.strip_prefix("GROUP#")?.to_string(),
            name: item.str("name")?.to_string(),
            created_at: item.i64("created_at").unwrap_or(0),
        })
    }
}

/// Checks a group name; the cleaned name or a Japanese message.
pub fn validate_name(
    raw: &str,
    existing: &[Group],
    except: Option<&str>,
) -> Result<String, String> {
    let name = raw.trim().to_string();
    if name.is_empty() {
        return Err("グループ名を入力してください。".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!(
            "グループ名は{MAX_NAME}文字以内で入力してください。"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("グループ名に使用できない文字が含まれています。".into());
    }
    crate::domain::text::refuse_my_number("グループ名", &name).map_err(|e| e.to_string())?;
    if existing
        .iter()
        .any(|g| g.name == name && Some(g.id.as_str()) != except)
    {
        return Err(format!(
            "「{name}」というグループはすでに登録されています。"
        ));
    }
    Ok(name)
}

/// Every group of the tenant, in creation order.
pub async fn list(scope: &TenantScope) -> Result<Vec<Group>, InfraError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix("GROUP#")
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        out.extend(page.items.iter().filter_map(Group::from_item));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

pub async fn get(scope: &TenantScope, id: &str) -> Result<Option<Group>, InfraError> {
    let Some(id) = RecordId::parse(id) else {
        return Ok(None);
    };
    Ok(scope
        .get(&scope.key(&sk::group(id.as_str())))
        .await?
        .as_ref()
        .and_then(Group::from_item))
}

pub fn new_group(name: String, now: OffsetDateTime) -> Group {
    Group {
        id: ulid::Ulid::new().to_string(),
        name,
        created_at: now.unix_timestamp(),
    }
}
