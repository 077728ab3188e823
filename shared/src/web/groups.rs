//! グループ管理 (manual ch.6): list, add and rename with 入力確認 → 登録, delete (members become
//! ungrouped), メンバー登録. Served by the registrants function.

use axum::body::Bytes;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::confirm::DeleteView;
use super::flash::Flash;
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::groups::{self, Group};
use crate::app::registrants as regs;
use crate::app::App;
use crate::domain::role::Permission;

pub(super) fn routes() -> Routes {
    let edit = Access::Can(Permission::EditRegistrants);
    Routes::new()
        .get(
            "/registrants/groups",
            Access::Can(Permission::ViewRegistrants),
            groups_list,
        )
        .get("/registrants/groups/new", edit, group_new_form)
        .post("/registrants/groups/new", edit, group_new_submit)
        .get("/registrants/groups/{id}/edit", edit, group_edit_form)
        .post("/registrants/groups/{id}/edit", edit, group_edit_submit)
        .get("/registrants/groups/{id}/delete", edit, group_delete_form)
        .post("/registrants/groups/{id}/delete", edit, group_delete_submit)
        .get("/registrants/groups/{id}/members", edit, group_members_form)
        .post(
            "/registrants/groups/{id}/members",
            edit,
            group_members_submit,
        )
}

#[derive(Template)]
#[template(path = "groups_list.html")]
struct GroupsView {
    chrome: Chrome,
    flash: Option<&'static str>,
    groups: Vec<Group>,
    can_edit: bool,
}

async fn groups_list(authed: Authed, Query(flash): Query<Flash>) -> Result<Response, WebError> {
    Ok(render(&GroupsView {
        chrome: Chrome::new(&authed, "/registrants"),
        flash: flash.text(),
        groups: groups::list(&authed.scope).await?,
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
    }))
}

#[derive(Template)]
#[template(path = "group_form.html")]
struct GroupFormView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    name: String,
    confirming: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupPosted {
    name: String,
    confirmed: String,
    back: String,
}

async fn group_new_form(authed: Authed) -> Result<Response, WebError> {
    Ok(render(&GroupFormView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの新規追加",
        action: "/registrants/groups/new".into(),
        name: String::new(),
        confirming: false,
        error: None,
    }))
}

async fn group_submit(
    app: &App,
    authed: &Authed,
    existing: Option<Group>,
    posted: GroupPosted,
) -> Result<Response, WebError> {
    let (heading, action) = match &existing {
        None => ("グループの新規追加", "/registrants/groups/new".to_string()),
        Some(g) => (
            "グループの編集",
            format!("/registrants/groups/{}/edit", g.id),
        ),
    };
    let page = |name: String, confirming: bool, error: Option<String>, status| {
        render_status(
            status,
            &GroupFormView {
                chrome: Chrome::new(authed, "/registrants"),
                heading,
                action: action.clone(),
                name,
                confirming,
                error,
            },
        )
    };
    if !posted.back.is_empty() {
        return Ok(page(posted.name, false, None, StatusCode::OK));
    }
    let all = groups::list(&authed.scope).await?;
    let name =
        match groups::validate_name(&posted.name, &all, existing.as_ref().map(|g| g.id.as_str())) {
            Ok(n) => n,
            Err(e) => {
                return Ok(page(
                    posted.name,
                    false,
                    Some(e),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        };
    if posted.confirmed.is_empty() {
        return Ok(page(name, true, None, StatusCode::OK));
    }
    let (group, done, action, detail) = match existing {
        None => {
            let g = groups::new_group(name, app.now());
            let detail = format!("グループ「{}」の追加", g.name);
            (g, "group_created", "group.create", detail)
        }
        Some(mut g) => {
            let detail = format!("グループ「{}」を「{name}」に変更", g.name);
            g.name = name;
            (g, "group_updated", "group.update", detail)
        }
    };
    authed
        .scope
        .put(group.to_item(&authed.scope), crate::ports::Condition::None)
        .await
        .map_err(crate::app::InfraError::from)?;
    crate::ports::Audit::record(
        &app.audit,
        crate::ports::AuditEvent {
            tenant_id: Some(authed.scope.tenant().to_string()),
            actor_id: Some(authed.user.id.clone()),
            actor_name: Some(authed.user.display_name()),
            action: action.into(),
            target: Some(group.id.clone()),
            detail,
            ip: Some(authed.ctx.ip.clone()),
        },
    )
    .await
    .map_err(crate::app::InfraError::from)?;
    Ok(Redirect::to(&format!("/registrants/groups?done={done}")).into_response())
}

async fn group_new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<GroupPosted>,
) -> Result<Response, WebError> {
    group_submit(&app, &authed, None, posted).await
}

async fn load_group(authed: &Authed, id: &str) -> Result<Group, WebError> {
    groups::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn group_edit_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    Ok(render(&GroupFormView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの編集",
        action: format!("/registrants/groups/{id}/edit"),
        name: g.name,
        confirming: false,
        error: None,
    }))
}

async fn group_edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<GroupPosted>,
) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    group_submit(&app, &authed, Some(g), posted).await
}

async fn group_delete_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    let (members, _) = regs::load_all(&authed.scope, Some(regs::GroupFilter::Group(&g.id))).await?;
    let mut lines = vec![format!("グループ「{}」を削除します。", g.name)];
    if members.is_empty() {
        lines.push("このグループにメンバーはいません。".into());
    } else {
        lines.push(format!("このグループには{}人のメンバーがいます。削除すると、メンバーは「グループなし」になります（登録者情報は削除されません）。", members.len()));
    }
    lines.push("よろしいですか。".into());
    Ok(render(&DeleteView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの削除",
        lines,
        action: format!("/registrants/groups/{id}/delete"),
        cancel_href: "/registrants/groups".into(),
    }))
}

async fn group_delete_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    match regs::delete_group(&app, &authed.scope, &authed.actor(), &g).await {
        Ok(_) => Ok(Redirect::to("/registrants/groups?done=group_deleted").into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "group_members.html")]
struct MembersView {
    chrome: Chrome,
    group_id: String,
    group_name: String,
    /// (id, code, name, attribute)
    candidates: Vec<(String, String, String, &'static str)>,
    error: Option<&'static str>,
}

async fn members_page(
    authed: &Authed,
    g: Group,
    error: Option<&'static str>,
) -> Result<Response, WebError> {
    let (ungrouped, _) = regs::load_all(&authed.scope, Some(regs::GroupFilter::Ungrouped)).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &MembersView {
            chrome: Chrome::new(authed, "/registrants"),
            group_id: g.id,
            group_name: g.name,
            candidates: ungrouped
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.code.clone(),
                        r.name(),
                        r.attribute.short_label(),
                    )
                })
                .collect(),
            error,
        },
    ))
}

async fn group_members_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    members_page(&authed, g, None).await
}

async fn group_members_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ids: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "member")
        .map(|(_, v)| v)
        .collect();
    if ids.is_empty() {
        let error = "メンバーに登録する登録者が選択されていません。登録する登録者にチェックを入れてください。";
        return members_page(&authed, g, Some(error)).await;
    }
    match regs::join_group(&app, &authed.scope, &authed.actor(), &g, &ids).await {
        Ok(0) => {
            // Everyone ticked joined a group (or was deleted) since the page was served.
            let error = "選択した登録者は、すでに他のグループに登録されているか削除されています。一覧を確認してください。";
            members_page(&authed, g, Some(error)).await
        }
        Ok(_) => Ok(Redirect::to("/registrants/groups?done=members").into_response()),
        Err(e) => Err(e.into()),
    }
}
