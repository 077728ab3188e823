//! ログインユーザ (manual ch.5): the list, 削除 with its confirmation page, and the route table of
//! the screens; 新規登録 / 編集 with 入力確認 are in [`form`], both パスワード変更 screens in
//! [`password`]. Belongs to the account administration function.
//!
//! Who may call each route is declared below (`web::access`); the rules every caller meets
//! (not yourself, never the last 最高権限) are the use cases' (`app::users::manage`).

mod form;
mod password;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::access::{Access, Routes};
use super::confirm::DeleteView;
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, MessagePage, WebError};
use crate::app::users::manage::{self, UserError};
use crate::app::users::{self, User};
use crate::domain::role::{Permission, Role};

/// Users on one page of the list.
const PAGE_SIZE: usize = 50;

pub fn routes() -> Routes {
    let manage = Access::Can(Permission::ManageUsers);
    Routes::new()
        .get("/users", manage, list)
        .get("/users/new", manage, form::new_form)
        .post("/users/new", manage, form::new_submit)
        .get("/users/{id}/edit", manage, form::edit_form)
        .post("/users/{id}/edit", manage, form::edit_submit)
        .get("/users/{id}/password", manage, password::user_form)
        .post("/users/{id}/password", manage, password::user_submit)
        .get("/users/{id}/delete", manage, delete_form)
        .post("/users/{id}/delete", manage, delete_submit)
        // Each user's own password, whatever their role.
        .get("/account/password", Access::Staff, password::own_form)
        .post("/account/password", Access::Staff, password::own_submit)
}

fn flash_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "created" => Some("ログインユーザを登録しました。登録したユーザに、ログインできることをメールでお知らせしました（パスワードは記載していません）。"),
        "updated" => Some("ログインユーザを変更しました。"),
        "password" => Some("パスワードを変更しました。ご本人にメールでお知らせしました（パスワードは記載していません）。"),
        "deleted" => Some("ログインユーザを削除しました。"),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    done: Option<String>,
    page: Option<usize>,
}

struct Row {
    id: String,
    name: String,
    email: String,
    department: String,
    role: &'static str,
    kind: &'static str,
    note: String,
    is_self: bool,
    deletable: bool,
}

#[derive(Template)]
#[template(path = "users_list.html")]
struct ListView {
    chrome: Chrome,
    flash: Option<&'static str>,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    pages: usize,
}

async fn list(authed: Authed, Query(q): Query<ListQuery>) -> Result<Response, WebError> {
    let all = users::list(&authed.scope).await?;
    let owners = all.iter().filter(|u| u.role == Role::Owner).count();
    let pages = all.len().div_ceil(PAGE_SIZE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let rows = all
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|u| {
            let is_self = u.id == authed.user.id;
            Row {
                id: u.id.clone(),
                name: u.display_name(),
                email: u.email.clone(),
                department: u.department.clone(),
                role: u.role.label(),
                kind: u.kind.label(),
                note: u.note.clone(),
                is_self,
                deletable: !(is_self || (u.role == Role::Owner && owners <= 1)),
            }
        })
        .collect();
    Ok(render(&ListView {
        chrome: Chrome::new(&authed, "/users"),
        flash: flash_text(q.done.as_deref()),
        rows,
        total: all.len(),
        page,
        pages,
    }))
}

/// The user `id` of the caller's tenant, or 404.
async fn target(authed: &Authed, id: &str) -> Result<User, WebError> {
    users::load(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// A refusal by the rules (yourself, the last 最高権限, a concurrent change) as a page with the
/// way back to the list.
fn refusal(e: &UserError) -> Response {
    let message = e.to_string();
    render_status(
        StatusCode::CONFLICT,
        &MessagePage {
            title: "この操作はできません",
            message: &message,
            back_href: "/users",
            back_label: "ログインユーザ一覧へ",
        },
    )
}

fn user_error(e: UserError) -> Result<Response, WebError> {
    match e {
        UserError::NotFound => Err(WebError::NotFound),
        UserError::Infra(e) => Err(e.into()),
        other => Ok(refusal(&other)),
    }
}

async fn delete_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let user = target(&authed, &id).await?;
    if user.id == authed.user.id {
        return Ok(refusal(&UserError::DeleteSelf));
    }
    let lines = vec![
        format!(
            "ログインユーザ「{}」（{}、{}）を削除します。",
            user.display_name(),
            user.email,
            user.role.label()
        ),
        "削除したログインユーザは元に戻せません。このユーザはすぐにログインできなくなり、ログイン中の画面も使えなくなります。".into(),
        "これまでの操作履歴は、削除したユーザの名前のまま残ります。".into(),
        "よろしいですか。".into(),
    ];
    Ok(render(&DeleteView {
        chrome: Chrome::new(&authed, "/users"),
        heading: "ログインユーザ削除",
        lines,
        action: format!("/users/{id}/delete"),
        cancel_href: "/users".into(),
    }))
}

async fn delete_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    match manage::delete(&app, &authed.scope, &authed.actor(), &id).await {
        Ok(_) => Ok(Redirect::to("/users?done=deleted").into_response()),
        Err(e) => user_error(e),
    }
}
