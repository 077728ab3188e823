//! Group membership: moving registrants into a group, and deleting a group (its members become
//! ungrouped first).

use super::get;
use super::list::{load_all, GroupFilter};
use super::save::{commit, SaveError};
use crate::app::actor::Actor;
use crate::app::groups::Group;
use crate::app::keys::{sk, TenantScope};
use crate::app::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::store::Condition;

/// Moves registrants into a group (only those currently ungrouped), one transaction each.
pub async fn join_group(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    group: &Group,
    ids: &[String],
) -> Result<usize, SaveError> {
    let mut moved = 0;
    for id in ids {
        let Some(before) = get(scope, id).await? else {
            continue;
        };
        if before.group_id.is_some() {
            continue;
        }
        let mut r = before.clone();
        r.group_id = Some(group.id.clone());
        r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
        commit(scope, Some(&before), Some(&r)).await?;
        moved += 1;
    }
    if moved > 0 {
        app.audit()
            .record(AuditEvent {
                tenant_id: Some(scope.tenant().to_string()),
                actor_id: Some(actor.user_id.clone()),
                actor_name: Some(actor.name.clone()),
                action: "group.members".into(),
                target: Some(group.id.clone()),
                detail: format!("グループ「{}」へ{moved}人をメンバー登録", group.name),
                ip: Some(actor.ip.clone()),
            })
            .await
            .map_err(InfraError::from)?;
    }
    Ok(moved)
}

/// Removes a group; its members become ungrouped (each moved in its own transaction first,
/// so a crash half-way leaves a group with fewer members, never members of a missing group).
pub async fn delete_group(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    group: &Group,
) -> Result<usize, SaveError> {
    let (members, _) = load_all(scope, Some(GroupFilter::Group(&group.id))).await?;
    for before in &members {
        let mut r = before.clone();
        r.group_id = None;
        r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
        commit(scope, Some(before), Some(&r)).await?;
    }
    scope
        .delete(&scope.key(&sk::group(&group.id)), Condition::None)
        .await
        .map_err(InfraError::from)?;
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "group.delete".into(),
            target: Some(group.id.clone()),
            detail: format!(
                "グループ「{}」の削除（メンバー{}人はグループなしに）",
                group.name,
                members.len()
            ),
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(members.len())
}
