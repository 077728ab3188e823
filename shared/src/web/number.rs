//! マイナンバー編集 / 扶養家族マイナンバー編集 (manual ch.9 拒否, ch.10 編集): the number in three
//! boxes with 入力確認 → 登録 (check digit, the add/edit flows' duplicate warning), the document
//! images (the detail page's upload flow) and マイナンバー登録拒否 with its reason. Served by the
//! registrants function under `/registrants/{id}/number` and
//! `/registrants/{id}/dependents/{dep}/number`.
//!
//! A changed number goes back to 承認待 whatever the status was, 完了 included: what was approved
//! was the old number (manual: 承認 is 本人確認 of the number and its documents).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::approval::{person_rows, take, DecisionForm};
use super::confirm::{open_draft, seal_draft, ConfirmView};
use super::records::path_of;
use super::registrants::{actor, image_rows, ImageRow};
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::approval::{self, Subject};
use crate::app::record::RecordRef;
use crate::app::registrants::{self as regs, Duplicate, SaveError};
use crate::domain::approval::Decision;
use crate::domain::my_number::MyNumber;
use crate::domain::role::Permission;
use crate::domain::status::Status;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/registrants/{id}/number", get(form).post(submit))
        .route("/registrants/{id}/number/refuse", post(refuse))
        .route(
            "/registrants/{id}/dependents/{dep}/number",
            get(form).post(submit),
        )
        .route(
            "/registrants/{id}/dependents/{dep}/number/refuse",
            post(refuse),
        )
}

#[derive(Template)]
#[template(path = "approval_number.html")]
struct NumberView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    back_href: String,
    rows: Vec<(&'static str, String)>,
    current_number: Option<String>,
    number1: String,
    number2: String,
    number3: String,
    number_error: Option<String>,
    images: Vec<ImageRow>,
    /// Always: the page itself needs `EditRegistrants` (the shared upload slot asks).
    can_edit: bool,
    can_refuse: bool,
    refusable: bool,
    refused_reason: Option<String>,
    version: i64,
    reason: String,
    refuse_error: Option<String>,
    flash: Option<&'static str>,
}

/// The number as typed (the boxes), with the confirm step's fields.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Posted {
    number1: String,
    number2: String,
    number3: String,
    confirmed: String,
    back: String,
    allow_duplicate: String,
    number_token: String,
}

fn heading(s: &Subject) -> &'static str {
    if s.dependent.is_some() {
        "扶養家族マイナンバー編集"
    } else {
        "マイナンバー編集"
    }
}

/// What the page shows besides the record: the boxes, and the refuse form as posted.
#[derive(Default)]
struct Kept {
    boxes: [String; 3],
    number_error: Option<String>,
    reason: String,
    refuse_error: Option<String>,
    flash: Option<&'static str>,
}

async fn page(
    authed: &Authed,
    record: &RecordRef,
    status: StatusCode,
    kept: Kept,
) -> Result<Response, WebError> {
    let s = approval::load(&authed.scope, record)
        .await?
        .ok_or(WebError::NotFound)?;
    let base = path_of("/registrants", record);
    let [number1, number2, number3] = kept.boxes;
    Ok(render_status(
        status,
        &NumberView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: heading(&s),
            action: format!("{base}/number"),
            back_href: match record.dependent_id {
                Some(_) => format!("/registrants/{}#dependents", record.registrant_id),
                None => base.clone(),
            },
            rows: person_rows(&s),
            current_number: s.number().map(|n| n.masked()),
            number1,
            number2,
            number3,
            number_error: kept.number_error,
            images: image_rows(&base, s.images()),
            can_edit: true,
            can_refuse: authed.user.role.allows(Permission::Approve),
            refusable: !matches!(s.status(), Status::Completed | Status::Refused),
            refused_reason: s
                .review()
                .refused_reason
                .clone()
                .filter(|_| s.status() == Status::Refused),
            version: s.version(),
            reason: kept.reason,
            refuse_error: kept.refuse_error,
            flash: kept.flash,
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

async fn form(
    authed: Authed,
    record: RecordRef,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let flash = match q.done.as_str() {
        "updated" => Some("マイナンバーを登録しました。"),
        "refused" => Some("ステータスを「拒否」にしました。"),
        _ => None,
    };
    page(
        &authed,
        &record,
        StatusCode::OK,
        Kept {
            flash,
            ..Kept::default()
        },
    )
    .await
}

async fn submit(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let s = approval::load(&authed.scope, &record)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut boxes = [posted.number1, posted.number2, posted.number3];
    let [a, b, c] = &mut boxes;
    let opened = open_draft(&app, &authed, &posted.number_token, [a, b, c]).await;
    let refused = |boxes: [String; 3], status, error: String| {
        page(
            &authed,
            &record,
            status,
            Kept {
                boxes,
                number_error: Some(error),
                ..Kept::default()
            },
        )
    };
    if let Err(e) = opened {
        return refused(boxes, StatusCode::UNPROCESSABLE_ENTITY, e).await;
    }
    if !posted.back.is_empty() {
        return page(
            &authed,
            &record,
            StatusCode::OK,
            Kept {
                boxes,
                ..Kept::default()
            },
        )
        .await;
    }
    let number = match MyNumber::parse(&boxes.iter().map(|b| b.trim()).collect::<String>()) {
        Ok(n) => n,
        Err(e) => return refused(boxes, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).await,
    };
    let token = seal_draft(&app, &authed, Some(&number)).await?;
    let fingerprint = app.vault.fingerprint(&authed.tenant.keys, &number).await?;
    let confirm = |duplicates: Vec<Duplicate>| {
        confirm_page(&authed, &s, &number, &fingerprint, &token, duplicates)
    };
    if posted.confirmed.is_empty() {
        let duplicates = regs::duplicates(&authed.scope, &fingerprint, Some(s.record_id())).await?;
        return Ok(confirm(duplicates));
    }
    match approval::change_number(
        &app,
        &authed.scope,
        &authed.tenant,
        &actor(&authed),
        &record,
        &number,
        !posted.allow_duplicate.is_empty(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/number?done=updated",
            path_of("/registrants", &record)
        ))
        .into_response()),
        Err(SaveError::Duplicate(d)) => Ok(confirm(d)),
        Err(SaveError::NotFound) => Err(WebError::NotFound),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(e) => refused(boxes, StatusCode::CONFLICT, e.to_string()).await,
    }
}

/// 入力確認: the number masked, what happens to the status, and any record holding it already.
fn confirm_page(
    authed: &Authed,
    s: &Subject,
    number: &MyNumber,
    fingerprint: &str,
    token: &str,
    duplicates: Vec<Duplicate>,
) -> Response {
    let changed = s.number().map(|n| n.fingerprint.as_str()) != Some(fingerprint);
    let status = match (changed, s.status()) {
        (false, now) => format!("{}（変更なし）", now.label()),
        (true, Status::Pending) => Status::Pending.label().to_string(),
        (true, now) => format!(
            "{} → 承認待（番号を変更すると、もう一度承認が必要になります）",
            now.label()
        ),
    };
    render(&ConfirmView {
        chrome: Chrome::new(authed, "/registrants"),
        heading: heading(s),
        action: format!("{}/number", path_of("/registrants", &s.record())),
        rows: vec![
            ("氏名", s.whose()),
            ("マイナンバー", number.masked()),
            ("ステータス", status),
        ],
        hidden: vec![
            ("number_token", token.to_string()),
            ("confirmed", "1".into()),
        ],
        duplicates,
    })
}

/// マイナンバー登録拒否: the reason is required; the status becomes 拒否.
async fn refuse(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    match take(&app, &authed, &record, Decision::Refuse, &form).await? {
        None => Ok(Redirect::to(&format!(
            "{}/number?done=refused",
            path_of("/registrants", &record)
        ))
        .into_response()),
        Some((status, message)) => {
            page(
                &authed,
                &record,
                status,
                Kept {
                    reason: form.reason,
                    refuse_error: Some(message),
                    ..Kept::default()
                },
            )
            .await
        }
    }
}
