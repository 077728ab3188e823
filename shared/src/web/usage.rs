//! マイナンバーの表示 (manual ch.10): password re-entry and a purpose, then the number on a page
//! that is never cached (the shared headers say `no-store`) and closes itself after 60 seconds.
//! Served by the registrants function.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::usage::{self, RevealError, Target};
use crate::app::{dependents, registrants as regs};
use crate::domain::purpose::Purpose;
use crate::domain::role::Permission;

/// マイナンバーの表示 (閲覧のみ only where the company allows it: `Authed::allows`).
pub(super) fn routes() -> Routes {
    let reveal = Access::Can(Permission::RevealNumber);
    Routes::new()
        .get("/registrants/{id}/reveal", reveal, form)
        .post("/registrants/{id}/reveal", reveal, submit)
        .get(
            "/registrants/{id}/dependents/{dep}/reveal",
            reveal,
            dep_form,
        )
        .post(
            "/registrants/{id}/dependents/{dep}/reveal",
            reveal,
            dep_submit,
        )
}

#[derive(Template)]
#[template(path = "reveal_form.html")]
struct FormView {
    chrome: Chrome,
    whose: String,
    action: String,
    back_href: String,
    purposes: Vec<(&'static str, &'static str)>,
    purpose: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reveal_result.html")]
struct ResultView {
    chrome: Chrome,
    whose: String,
    number: String,
    purpose: &'static str,
    back_href: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Posted {
    password: String,
    purpose: String,
}

/// Whose number, where the form posts, where to go back.
async fn describe(
    authed: &Authed,
    id: &str,
    dep: Option<&str>,
) -> Result<(String, String, String), WebError> {
    let r = regs::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(match dep {
        None => (
            r.name(),
            format!("/registrants/{id}/reveal"),
            format!("/registrants/{id}"),
        ),
        Some(dep) => {
            let d = dependents::get(&authed.scope, id, dep)
                .await?
                .ok_or(WebError::NotFound)?;
            (
                format!("{}（{}の{}）", d.name(), r.name(), d.relationship.label()),
                format!("/registrants/{id}/dependents/{dep}/reveal"),
                format!("/registrants/{id}#dependents"),
            )
        }
    })
}

fn purposes() -> Vec<(&'static str, &'static str)> {
    Purpose::ALL.iter().map(|p| (p.code(), p.label())).collect()
}

async fn show_form(authed: Authed, id: String, dep: Option<String>) -> Result<Response, WebError> {
    let (whose, action, back_href) = describe(&authed, &id, dep.as_deref()).await?;
    Ok(render(&FormView {
        chrome: Chrome::new(&authed, "/registrants"),
        whose,
        action,
        back_href,
        purposes: purposes(),
        purpose: String::new(),
        error: None,
    }))
}

async fn reveal(
    app: AppState,
    authed: Authed,
    id: String,
    dep: Option<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let (whose, action, back_href) = describe(&authed, &id, dep.as_deref()).await?;
    let target = Target {
        registrant_id: &id,
        dependent_id: dep.as_deref(),
    };
    let result = usage::reveal(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.user,
        &authed.actor(),
        target,
        &posted.password,
        &posted.purpose,
    )
    .await;
    let status = match result {
        Ok(shown) => {
            let d = shown.number.expose();
            return Ok(render(&ResultView {
                chrome: Chrome::new(&authed, "/registrants"),
                whose: shown.whose,
                number: format!("{} {} {}", &d[..4], &d[4..8], &d[8..]),
                purpose: shown.purpose.label(),
                back_href,
            }));
        }
        Err(RevealError::NotFound) => return Err(WebError::NotFound),
        Err(RevealError::Infra(e)) => return Err(e.into()),
        Err(RevealError::Locked) => (StatusCode::TOO_MANY_REQUESTS, RevealError::Locked),
        Err(other) => (StatusCode::UNPROCESSABLE_ENTITY, other),
    };
    let (code, error) = status;
    Ok(render_status(
        code,
        &FormView {
            chrome: Chrome::new(&authed, "/registrants"),
            whose,
            action,
            back_href,
            purposes: purposes(),
            purpose: posted.purpose,
            error: Some(error.to_string()),
        },
    ))
}

async fn form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    show_form(authed, id, None).await
}

async fn submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    reveal(app, authed, id, None, p).await
}

async fn dep_form(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_form(authed, id, Some(dep)).await
}

async fn dep_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    reveal(app, authed, id, Some(dep), p).await
}
