//! HOME (manual ch.3): what the landing page after login shows. The registration counts come
//! from the counters item maintained on write, one read, never a scan.
//!
//! お知らせ are data: items in the tenant's `NOTICES` sub-partition, dated, each with an
//! optional link to a screen, dismissed per login user (one administrator's 閉じる does not hide
//! a notice from the others). An account's first notices (welcome, trial end) are seeded the
//! first time HOME finds none; features still to come (reminders, plans) will write theirs with [`post`].

use time::{Date, OffsetDateTime};

use super::keys::TenantScope;
use super::tenants::{self, Counters, Tenant};
use super::users::User;
use super::InfraError;
use crate::domain::date::format_slash;
use crate::ports::{Condition, Item, Query, StoreError};

/// Most notices HOME reads (the newest first).
const MAX_NOTICES: usize = 50;

/// A notice shown on HOME (お知らせ).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub id: String,
    /// Shown as `YYYY/MM/DD`.
    pub date: Date,
    pub text: String,
    /// A screen the notice points to, with its link text (only screens that exist).
    pub link: Option<(String, String)>,
}

impl Notice {
    pub fn date_label(&self) -> String {
        format_slash(self.date)
    }
}

pub struct Home {
    pub tenant: Tenant,
    pub user: User,
    pub counters: Counters,
    pub notices: Vec<Notice>,
    /// Whether the company passcode (企業パスコード) is still unset: HOME warns.
    pub passcode_unset: bool,
}

fn partition(scope: &TenantScope) -> String {
    scope.partition("NOTICES")
}

/// Notices sort newest first by their key: `N#<inverted date>#<id>`.
fn notice_sk(date: Date, id: &str) -> String {
    let inverted = 99_999_999
        - (date.year() * 10_000 + i32::from(u8::from(date.month())) * 100 + i32::from(date.day()));
    format!("N#{inverted:08}#{id}")
}

fn dismissed_prefix(user_id: &str) -> String {
    format!("D#{user_id}#")
}

fn to_item(scope: &TenantScope, n: &Notice) -> Item {
    let mut item = Item::new(crate::ports::Key::new(
        partition(scope),
        notice_sk(n.date, &n.id),
    ))
    .with("id", n.id.as_str())
    .with("date", n.date.to_string())
    .with("text", n.text.as_str());
    if let Some((href, label)) = &n.link {
        item = item
            .with("href", href.as_str())
            .with("link", label.as_str());
    }
    item
}

fn from_item(item: &Item) -> Option<Notice> {
    let date = Date::parse(
        item.str("date")?,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(Notice {
        id: item.str("id")?.to_string(),
        date,
        text: item.str("text")?.to_string(),
        link: match (item.str("href"), item.str("link")) {
            (Some(h), Some(l)) => Some((h.to_string(), l.to_string())),
            _ => None,
        },
    })
}

/// Writes a notice for every user of the tenant; writing the same id again changes nothing.
pub async fn post(scope: &TenantScope, notice: &Notice) -> Result<(), InfraError> {
    match scope
        .put(to_item(scope, notice), Condition::NotExists)
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The notices a new account starts with.
fn first_notices(tenant: &Tenant) -> Vec<Notice> {
    let created = tenant
        .created_at
        .to_offset(time::macros::offset!(+9))
        .date();
    vec![
        Notice {
            id: "getting-started".into(),
            date: created,
            text: "マイナクラウドをご利用いただきありがとうございます。収集・承認・利用・廃棄の流れは「操作ガイド」でご覧いただけます。".into(),
            link: Some(("/guide".into(), "操作ガイドを見る".into())),
        },
        Notice {
            id: "trial".into(),
            date: created,
            text: format!(
                "無料お試し期間は{}までです。期間中はすべての機能をご利用いただけます。",
                format_slash(tenant.trial_ends)
            ),
            link: None,
        },
    ]
}

async fn read(scope: &TenantScope, query: &Query) -> Result<Vec<Notice>, InfraError> {
    let page = scope.query(query).await?;
    Ok(page.items.iter().filter_map(from_item).collect())
}

/// The notices `user` has not dismissed, newest first (seeding a new account's first ones).
pub async fn notices(
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
) -> Result<Vec<Notice>, InfraError> {
    let query = Query::partition(partition(scope))
        .prefix("N#")
        .limit(MAX_NOTICES);
    let mut all = read(scope, &query).await?;
    if all.is_empty() {
        for n in first_notices(tenant) {
            post(scope, &n).await?;
        }
        all = read(scope, &query).await?;
    }
    let dismissed = scope
        .query(&Query::partition(partition(scope)).prefix(dismissed_prefix(&user.id)))
        .await?;
    let gone: Vec<&str> = dismissed
        .items
        .iter()
        .filter_map(|i| i.str("notice"))
        .collect();
    Ok(all
        .into_iter()
        .filter(|n| !gone.contains(&n.id.as_str()))
        .collect())
}

/// Hides a notice from `user` (閉じる). Unknown ids change nothing.
pub async fn dismiss(
    scope: &TenantScope,
    user: &User,
    notice_id: &str,
    now: OffsetDateTime,
) -> Result<(), InfraError> {
    // Ids are ours (seeded or posted); anything else cannot name a notice.
    if notice_id.is_empty()
        || notice_id.len() > 64
        || !notice_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(());
    }
    let key = crate::ports::Key::new(
        partition(scope),
        format!("{}{notice_id}", dismissed_prefix(&user.id)),
    );
    let item = Item::new(key)
        .with("notice", notice_id)
        .with("at", now.unix_timestamp());
    scope.put(item, Condition::None).await?;
    Ok(())
}

/// HOME for a user whose tenant and user records the request already holds.
pub async fn load(scope: &TenantScope, tenant: Tenant, user: User) -> Result<Home, InfraError> {
    let counters = tenants::counters(scope).await?;
    let notices = notices(scope, &tenant, &user).await?;
    Ok(Home {
        passcode_unset: !tenant.passcode_set,
        notices,
        tenant,
        user,
        counters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn notice_keys_sort_the_newest_first() {
        let older = notice_sk(date!(2026 - 01 - 31), "a");
        let newer = notice_sk(date!(2026 - 12 - 01), "b");
        assert!(newer < older);
    }
}
