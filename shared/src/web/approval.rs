//! マイナンバーの承認（本人確認作業） (manual ch.9): the list of people waiting, the approval
//! screen of a registrant or dependent (number in clear, both document images with 拡大・縮小・
//! 回転, a 本人確認 guide) and its 承認 / 差戻し forms, and the images themselves. Served by the
//! registrants function, the only one that may open numbers. Every route needs
//! `Permission::Approve`; records are reached only through the session's tenant scope.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::person::person_rows;
use super::records::{path_of, KindParam};
use super::session::{Authed, Chrome};
use super::{render_status, AppState, WebError};
use crate::app::approval::{self, ApprovalFlowError};
use crate::app::record::RecordRef;
use crate::app::App;
use crate::domain::approval::{ApprovalError, Decision};
use crate::domain::image::DocumentKind;
use crate::domain::role::Permission;
use crate::domain::status::Status;

/// 承認: the number and the documents are shown only to those who may approve.
pub(super) fn routes() -> Routes {
    let approver = Access::Can(Permission::Approve);
    Routes::new()
        .get("/approval", approver, list)
        .get("/approval/{id}", approver, view)
        .post("/approval/{id}/approve", approver, approve)
        .post("/approval/{id}/send-back", approver, send_back)
        .get("/approval/{id}/images/{kind}", approver, image)
        .get("/approval/{id}/dependents/{dep}", approver, view)
        .post("/approval/{id}/dependents/{dep}/approve", approver, approve)
        .post(
            "/approval/{id}/dependents/{dep}/send-back",
            approver,
            send_back,
        )
        .get(
            "/approval/{id}/dependents/{dep}/images/{kind}",
            approver,
            image,
        )
}

/// The link to the collection mail page with the reason as its message.
fn mail_href(registrant_id: &str, reason: &str) -> String {
    format!(
        "/collection/mail?{}",
        serde_urlencoded::to_string([("ids", registrant_id), ("message", reason)])
            .unwrap_or_default()
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
    page: String,
}

// ---------------------------------------------------------------- list

struct ListRow {
    href: Option<String>,
    status: &'static str,
    status_class: &'static str,
    dep_status: &'static str,
    dep_status_class: &'static str,
    code: String,
    name: String,
    kana: String,
    attribute: &'static str,
    dependents: Vec<ListDep>,
}

struct ListDep {
    href: String,
    name: String,
    relationship: &'static str,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "approval_list.html")]
struct ListView {
    chrome: Chrome,
    flash: Option<&'static str>,
    rows: Vec<ListRow>,
    total: usize,
    page: usize,
    pages: usize,
    prev_href: String,
    next_href: String,
}

async fn list(authed: Authed, Query(q): Query<Done>) -> Result<Response, WebError> {
    let page = approval::waiting(&authed.scope, q.page.trim().parse().unwrap_or(1)).await?;
    let rows = page
        .rows
        .into_iter()
        .map(|w| {
            let r = &w.registrant;
            ListRow {
                href: (r.person.status == Status::Pending).then(|| format!("/approval/{}", r.id)),
                status: r.person.status.label(),
                status_class: r.person.status.colour().css_class(),
                dep_status: r.dependents_status.map_or("", Status::label),
                dep_status_class: r.dependents_status.map_or("", |s| s.colour().css_class()),
                code: r.code.clone(),
                name: r.name(),
                kana: r.kana(),
                attribute: r.attribute.short_label(),
                dependents: w
                    .dependents
                    .iter()
                    .map(|d| ListDep {
                        href: format!("/approval/{}/dependents/{}", r.id, d.id),
                        name: d.name(),
                        relationship: d.relationship.label(),
                        kind: d.kind.label(),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(render_status(
        StatusCode::OK,
        &ListView {
            chrome: Chrome::new(&authed, "/registrants"),
            flash: match q.done.as_str() {
                "approved" => Some("承認しました。ステータスが「完了」になり、登録者のログインロックが有効になりました。"),
                "dep_approved" => Some("扶養家族を承認しました。ステータスが「完了」になりました。"),
                _ => None,
            },
            rows,
            total: page.total,
            prev_href: format!("/approval?page={}", page.page.saturating_sub(1).max(1)),
            next_href: format!("/approval?page={}", (page.page + 1).min(page.pages)),
            page: page.page,
            pages: page.pages,
        },
    ))
}

// ---------------------------------------------------------------- the approval screen

struct ViewImage {
    label: &'static str,
    accepted: &'static str,
    src: Option<String>,
}

#[derive(Template)]
#[template(path = "approval_view.html")]
struct View {
    chrome: Chrome,
    heading: &'static str,
    base: String,
    rows: Vec<(&'static str, String)>,
    pending: bool,
    number: Option<String>,
    version: i64,
    images: Vec<ViewImage>,
    images_required: bool,
    plain_dependent: bool,
    edit_href: String,
    back_href: String,
    sent_back_reason: Option<String>,
    refused_reason: Option<String>,
    mail_href: Option<String>,
    flash: Option<&'static str>,
    error: Option<String>,
    reason: String,
}

/// Renders the approval screen (opening, and auditing, the number while 承認待).
async fn view_page(
    app: &App,
    authed: &Authed,
    record: &RecordRef,
    status: StatusCode,
    flash: Option<&'static str>,
    error: Option<String>,
    reason: String,
) -> Result<Response, WebError> {
    let viewed =
        approval::view(app, &authed.scope, &authed.tenant, &authed.actor(), record).await?;
    let s = &viewed.subject;
    let base = path_of("/approval", record);
    let pending = s.status() == Status::Pending;
    let review = s.review();
    let sent_back_reason = review.sent_back_reason.clone();
    let page = View {
        chrome: Chrome::new(authed, "/registrants"),
        heading: if s.dependent.is_some() {
            "扶養家族マイナンバー承認"
        } else {
            "マイナンバー承認"
        },
        rows: person_rows(s),
        pending,
        number: viewed.number.as_ref().map(|n| {
            let d = n.expose();
            format!("{} {} {}", &d[..4], &d[4..8], &d[8..])
        }),
        version: s.version(),
        images: DocumentKind::ALL
            .iter()
            .map(|k| ViewImage {
                label: k.label(),
                accepted: k.accepted(),
                src: s
                    .image(*k)
                    .filter(|_| pending)
                    .map(|_| format!("{base}/images/{}", k.code())),
            })
            .collect(),
        images_required: s.images_required(),
        plain_dependent: s.dependent.is_some() && !s.images_required(),
        edit_href: path_of("/registrants", record) + "/number",
        back_href: "/approval".into(),
        mail_href: sent_back_reason
            .as_deref()
            .filter(|_| s.status() == Status::SentBack)
            .map(|r| mail_href(&s.registrant.id, r)),
        sent_back_reason,
        refused_reason: review
            .refused_reason
            .clone()
            .filter(|_| s.status() == Status::Refused),
        base,
        flash,
        error,
        reason,
    };
    Ok(render_status(status, &page))
}

impl From<ApprovalFlowError> for WebError {
    fn from(e: ApprovalFlowError) -> Self {
        match e {
            ApprovalFlowError::NotFound => WebError::NotFound,
            ApprovalFlowError::Infra(e) => e.into(),
            // Decisions' own errors are shown on their page, never through here.
            ApprovalFlowError::Rule(_) | ApprovalFlowError::Conflict => WebError::Internal,
        }
    }
}

async fn view(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let flash = match q.done.as_str() {
        "sent_back" => {
            Some("差戻ししました。収集メールを再送して、必要な情報の提供を依頼してください。")
        }
        _ => None,
    };
    view_page(
        &app,
        &authed,
        &record,
        StatusCode::OK,
        flash,
        None,
        String::new(),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DecisionForm {
    pub(super) reason: String,
    pub(super) version: String,
}

/// The status code a refused decision answers with: 422 for the form, 409 for the state.
pub(super) fn refusal_status(e: &ApprovalFlowError) -> StatusCode {
    match e {
        ApprovalFlowError::Rule(
            ApprovalError::ReasonMissing(_)
            | ApprovalError::ReasonTooLong(_)
            | ApprovalError::ReasonControl(_)
            | ApprovalError::ReasonHoldsNumber(_),
        ) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

/// Takes `decision`; `Ok(None)` when it was applied, else the refusal to show on the page.
pub(super) async fn take(
    app: &App,
    authed: &Authed,
    record: &RecordRef,
    decision: Decision,
    form: &DecisionForm,
) -> Result<Option<(StatusCode, String)>, WebError> {
    let version = form.version.trim().parse().unwrap_or(-1);
    match approval::decide(
        app,
        &authed.scope,
        &authed.actor(),
        record,
        decision,
        &form.reason,
        version,
    )
    .await
    {
        Ok(_) => Ok(None),
        Err(ApprovalFlowError::NotFound) => Err(WebError::NotFound),
        Err(ApprovalFlowError::Infra(e)) => Err(e.into()),
        Err(e) => Ok(Some((refusal_status(&e), e.to_string()))),
    }
}

async fn decide(
    app: AppState,
    authed: Authed,
    record: RecordRef,
    decision: Decision,
    form: DecisionForm,
) -> Result<Response, WebError> {
    match take(&app, &authed, &record, decision, &form).await? {
        None => {
            let to = match (decision, &record.dependent_id) {
                (Decision::SendBack, _) => {
                    format!("{}?done=sent_back", path_of("/approval", &record))
                }
                (_, None) => "/approval?done=approved".into(),
                (_, Some(_)) => "/approval?done=dep_approved".into(),
            };
            Ok(Redirect::to(&to).into_response())
        }
        Some((status, message)) => {
            view_page(
                &app,
                &authed,
                &record,
                status,
                None,
                Some(message),
                form.reason,
            )
            .await
        }
    }
}

async fn approve(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    decide(app, authed, record, Decision::Approve, form).await
}

async fn send_back(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    decide(app, authed, record, Decision::SendBack, form).await
}

// ---------------------------------------------------------------- images

/// A document image of a record waiting for approval, typed by its stored bytes, never cached.
async fn image(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    KindParam(kind): KindParam,
) -> Result<Response, WebError> {
    let kind = DocumentKind::from_code(&kind).ok_or(WebError::NotFound)?;
    let (bytes, format) = approval::image(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.actor(),
        &record,
        kind,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response())
}
