//! 解約申請 (manual ch.15, FAQ): the warning that everything will be deleted at the end of the
//! month, the full CSV download to keep first (the ordinary download with password and purpose,
//! posted to `/registrants/csv` and audited there), 入力確認 → 申請, and 解約の取り消し until the
//! 解約日 has ended. 最高権限 only (`Permission::CancelContract`).
//!
//! Not here: the rules (`app::cancel`) and the purge after the 解約日 (`app::purge`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render_status, AppState, WebError};
use crate::app::cancel::{self, CancelError, Cancellation};
use crate::domain::date::format_slash;
use crate::domain::purpose::Purpose;
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let owner = Access::Can(Permission::CancelContract);
    Routes::new()
        .get("/plan/cancel", owner, page)
        .post("/plan/cancel/confirm", owner, confirm)
        .post("/plan/cancel", owner, apply)
        .post("/plan/cancel/withdraw", owner, withdraw)
}

#[derive(Template)]
#[template(path = "cancel_form.html")]
struct CancelPage {
    chrome: Chrome,
    flash: Option<&'static str>,
    error: Option<String>,
    pending: Option<Cancellation>,
    /// The 解約日 a request made now would get.
    due: String,
    registrants: i64,
    dependents: i64,
    /// For the download form (`_reauth.html`).
    purposes: Vec<(&'static str, &'static str)>,
    purpose: String,
    can_export: bool,
}

#[derive(Template)]
#[template(path = "cancel_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    due: String,
    company: String,
    customer_number: String,
    registrants: i64,
    dependents: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

fn flash(done: &str) -> Option<&'static str> {
    match done {
        "requested" => Some("解約申請を受け付けました。解約日までは引き続きご利用いただけます。"),
        "withdrawn" => Some("解約申請を取り消しました。引き続きご利用いただけます。"),
        _ => None,
    }
}

const NOT_ACKNOWLEDGED: &str =
    "「すべてのデータが削除され、元に戻せないことを確認しました」にチェックを入れてください。";

async fn cancel_page(
    app: &AppState,
    authed: &Authed,
    status: StatusCode,
    flash: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let counters = crate::app::tenants::counters(&authed.scope).await?;
    Ok(render_status(
        status,
        &CancelPage {
            chrome: Chrome::new(authed, "/plan"),
            flash,
            error,
            pending: cancel::pending(&authed.scope).await?,
            due: format_slash(cancel::due_date(app.now())),
            registrants: counters.registrants,
            dependents: counters.dependents,
            purposes: Purpose::ALL.iter().map(|p| (p.code(), p.label())).collect(),
            purpose: String::new(),
            can_export: authed.allows(Permission::ExportCsv),
        },
    ))
}

async fn page(
    State(app): State<AppState>,
    authed: Authed,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    cancel_page(&app, &authed, StatusCode::OK, flash(&q.done), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Acknowledged {
    acknowledged: String,
}

impl Acknowledged {
    fn given(&self) -> bool {
        self.acknowledged == "on"
    }
}

/// 入力確認: what will happen, and when.
async fn confirm(
    State(app): State<AppState>,
    authed: Authed,
    Form(f): Form<Acknowledged>,
) -> Result<Response, WebError> {
    if !f.given() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return cancel_page(&app, &authed, status, None, Some(NOT_ACKNOWLEDGED.into())).await;
    }
    if cancel::pending(&authed.scope).await?.is_some() {
        return Ok(Redirect::to("/plan/cancel").into_response());
    }
    let counters = crate::app::tenants::counters(&authed.scope).await?;
    Ok(render_status(
        StatusCode::OK,
        &ConfirmPage {
            chrome: Chrome::new(&authed, "/plan"),
            due: format_slash(cancel::due_date(app.now())),
            company: authed.tenant.company_name.clone(),
            customer_number: authed.tenant.customer_number.clone(),
            registrants: counters.registrants,
            dependents: counters.dependents,
        },
    ))
}

/// 申請.
async fn apply(
    State(app): State<AppState>,
    authed: Authed,
    Form(f): Form<Acknowledged>,
) -> Result<Response, WebError> {
    if !f.given() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return cancel_page(&app, &authed, status, None, Some(NOT_ACKNOWLEDGED.into())).await;
    }
    let done = match cancel::request(&app, &authed.scope, &authed.actor()).await {
        // A second 申請 (a double click) lands on the same page.
        Err(CancelError::AlreadyRequested) => Ok(()),
        other => other.map(|_| ()),
    };
    finish(&app, &authed, done, "/plan/cancel?done=requested").await
}

/// On to `next`, or the page again with why not.
async fn finish(
    app: &AppState,
    authed: &Authed,
    done: Result<(), CancelError>,
    next: &str,
) -> Result<Response, WebError> {
    match done {
        Ok(()) => Ok(Redirect::to(next).into_response()),
        Err(CancelError::Infra(e)) => Err(e.into()),
        Err(e) => cancel_page(app, authed, StatusCode::CONFLICT, None, Some(e.to_string())).await,
    }
}

/// 解約の取り消し.
async fn withdraw(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    let done = cancel::withdraw(&app, &authed.scope, &authed.actor()).await;
    finish(&app, &authed, done, "/plan/cancel?done=withdrawn").await
}
