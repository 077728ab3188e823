//! 廃棄 (manual ch.12): the four deletion screens (マイナンバー削除, 登録者削除,
//! 扶養家族マイナンバー削除, 扶養家族の削除), each a form with a mandatory reason, then
//! 入力確認, then 削除. The list links them from マイナンバー操作 and アクション, 登録者詳細 and
//! 扶養家族詳細 from their own 削除 buttons. `records` holds the 削除記録 list (`/disposal`) and the
//! printable 削除証明書.
//!
//! The form carries the deletion's id (made when the form is first shown), so a submission
//! retried after a failure finishes the same deletion (`app::disposal`). Nothing here checks
//! roles: the routes require `DisposeNumbers`.

mod records;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render_status, AppState, WebError};
use crate::app::dependents as deps;
use crate::app::disposal::{self, DisposalError, Target};
use crate::app::record::RecordRef;
use crate::app::registrants as regs;
use crate::domain::disposal::{parse_reason, DisposalKind, ReasonChoice, REASON_TEXT_MAX};
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let dispose = Access::Can(Permission::DisposeNumbers);
    let mut routes = Routes::new();
    for path in [
        "/registrants/{id}/number/delete",
        "/registrants/{id}/dependents/{dep}/number/delete",
    ] {
        routes = routes
            .get(path, dispose, number_form)
            .post(path, dispose, number_submit);
    }
    for path in [
        "/registrants/{id}/delete",
        "/registrants/{id}/dependents/{dep}/delete",
    ] {
        routes = routes
            .get(path, dispose, person_form)
            .post(path, dispose, person_submit);
    }
    records::routes(routes, dispose)
}

/// The form as posted: the reason, the deletion's id and which button was pressed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Posted {
    #[serde(default)]
    record: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reason_text: String,
    /// `commit` on the 入力確認 page's 削除 button.
    #[serde(default)]
    step: String,
    /// 戻る on the 入力確認 page.
    #[serde(default)]
    back: Option<String>,
}

#[derive(Template)]
#[template(path = "disposal_form.html")]
struct FormView {
    chrome: Chrome,
    heading: &'static str,
    removes: &'static str,
    action: String,
    cancel_href: String,
    rows: Vec<(&'static str, String)>,
    reasons: Vec<(&'static str, &'static str)>,
    record: String,
    reason: String,
    reason_text: String,
    reason_max: usize,
    error: Option<String>,
    /// The 入力確認 step: the reason is shown, not edited.
    confirming: bool,
    reason_label: String,
    /// A number-only deletion of a record without number or images: nothing to submit.
    nothing: bool,
}

/// Whom a deletion is about, as its page shows them.
struct Subject {
    target: Target,
    rows: Vec<(&'static str, String)>,
    cancel_href: String,
    nothing: bool,
}

/// The deletion a route asks for: the whole person (`whole`) or the number only.
fn target_of(at: &RecordRef, whole: bool) -> Target {
    let kind = match (&at.dependent_id, whole) {
        (None, true) => DisposalKind::Registrant,
        (None, false) => DisposalKind::Number,
        (Some(_), true) => DisposalKind::Dependent,
        (Some(_), false) => DisposalKind::DependentNumber,
    };
    Target {
        kind,
        registrant_id: at.registrant_id.clone(),
        dependent_id: at.dependent_id.clone(),
    }
}

async fn subject(authed: &Authed, at: &RecordRef, whole: bool) -> Result<Subject, WebError> {
    let target = target_of(at, whole);
    let r = super::records::registrant(authed, &at.registrant_id).await?;
    let mut rows = vec![("社員コード", r.code.clone()), ("登録者名", r.name())];
    let masked =
        |n: &Option<regs::SealedNumber>| n.as_ref().map_or("未登録".into(), |n| n.masked());
    let (cancel_href, nothing) = match &at.dependent_id {
        None => {
            if whole {
                rows.push((
                    "扶養家族",
                    format!("{}人（すべて削除されます）", r.dependents),
                ));
            }
            rows.push(("マイナンバー", masked(&r.person.number)));
            rows.push(("画像", format!("{}件", count_images(&r.person.images))));
            let nothing = !whole && r.person.number.is_none() && r.person.images.is_empty();
            (format!("/registrants/{}", r.id), nothing)
        }
        Some(dep) => {
            let d = deps::get(&authed.scope, &r.id, dep)
                .await?
                .ok_or(WebError::NotFound)?;
            rows.push((
                "扶養家族",
                format!("{}（{}）", d.name(), d.relationship.label()),
            ));
            rows.push(("マイナンバー", masked(&d.person.number)));
            rows.push(("画像", format!("{}件", count_images(&d.person.images))));
            let nothing = !whole && d.person.number.is_none() && d.person.images.is_empty();
            (
                format!("/registrants/{}/dependents/{}", r.id, d.id),
                nothing,
            )
        }
    };
    Ok(Subject {
        target,
        rows,
        cancel_href,
        nothing,
    })
}

fn count_images(images: &serde_json::Map<String, serde_json::Value>) -> usize {
    crate::app::images::object_names(images).len()
}

fn action_of(target: &Target) -> String {
    let base = match &target.dependent_id {
        Some(d) => format!("/registrants/{}/dependents/{d}", target.registrant_id),
        None => format!("/registrants/{}", target.registrant_id),
    };
    if target.kind.keeps_person() {
        format!("{base}/number/delete")
    } else {
        format!("{base}/delete")
    }
}

fn page(
    authed: &Authed,
    s: Subject,
    posted: Posted,
    error: Option<String>,
    confirming: bool,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let reason_label = parse_reason(&posted.reason, &posted.reason_text)
        .map(|r| r.label())
        .unwrap_or_default();
    let error = error.or_else(|| {
        s.nothing
            .then(|| "削除するマイナンバー・画像がありません。".to_string())
    });
    render_status(
        status,
        &FormView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: s.target.kind.label(),
            removes: s.target.kind.removes(),
            action: action_of(&s.target),
            cancel_href: s.cancel_href,
            rows: s.rows,
            reasons: ReasonChoice::ALL
                .iter()
                .map(|r| (r.code(), r.label()))
                .collect(),
            record: if posted.record.is_empty() {
                disposal::new_id()
            } else {
                posted.record
            },
            reason: posted.reason,
            reason_text: posted.reason_text,
            reason_max: REASON_TEXT_MAX,
            error,
            confirming,
            reason_label,
            nothing: s.nothing,
        },
    )
}

async fn number_form(authed: Authed, at: RecordRef) -> Result<Response, WebError> {
    let s = subject(&authed, &at, false).await?;
    Ok(page(&authed, s, Posted::default(), None, false))
}

async fn person_form(authed: Authed, at: RecordRef) -> Result<Response, WebError> {
    let s = subject(&authed, &at, true).await?;
    Ok(page(&authed, s, Posted::default(), None, false))
}

async fn number_submit(
    State(app): State<AppState>,
    authed: Authed,
    at: RecordRef,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    submit(&app, &authed, &at, false, posted).await
}

async fn person_submit(
    State(app): State<AppState>,
    authed: Authed,
    at: RecordRef,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    submit(&app, &authed, &at, true, posted).await
}

/// 入力確認 (or back to the form), then 削除. A 削除 retried after a failure finishes the
/// deletion it started even when the person is already gone.
async fn submit(
    app: &AppState,
    authed: &Authed,
    at: &RecordRef,
    whole: bool,
    posted: Posted,
) -> Result<Response, WebError> {
    if posted.step == "commit" {
        if let Some(found) = disposal::get(&authed.scope, &posted.record).await? {
            if found.target() == target_of(at, whole) {
                let done = disposal::dispose(
                    app,
                    &authed.scope,
                    &authed.tenant,
                    &authed.actor(),
                    &found.target(),
                    found.reason.clone(),
                    &found.id,
                )
                .await;
                return match done {
                    Ok(r) => {
                        Ok(Redirect::to(&format!("/disposal/{}?done=1", r.id)).into_response())
                    }
                    Err(DisposalError::Infra(e)) => Err(e.into()),
                    Err(_) => Err(WebError::NotFound),
                };
            }
        }
    }
    let s = subject(authed, at, whole).await?;
    if posted.back.is_some() {
        return Ok(page(authed, s, posted, None, false));
    }
    let reason = match parse_reason(&posted.reason, &posted.reason_text) {
        Ok(r) => r,
        Err(e) => return Ok(page(authed, s, posted, Some(e.to_string()), false)),
    };
    if posted.step != "commit" {
        let confirming = !s.nothing;
        return Ok(page(authed, s, posted, None, confirming));
    }
    match disposal::dispose(
        app,
        &authed.scope,
        &authed.tenant,
        &authed.actor(),
        &s.target,
        reason,
        &posted.record,
    )
    .await
    {
        Ok(record) => Ok(Redirect::to(&format!("/disposal/{}?done=1", record.id)).into_response()),
        Err(DisposalError::NotFound) => Err(WebError::NotFound),
        Err(e @ (DisposalError::Conflict | DisposalError::NothingToDelete)) => {
            let message = e.to_string();
            Ok(page(
                authed,
                s,
                Posted {
                    record: String::new(),
                    ..posted
                },
                Some(message),
                false,
            ))
        }
        Err(DisposalError::Infra(e)) => Err(e.into()),
    }
}
