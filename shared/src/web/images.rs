//! Document images (番号確認・身元確認) of registrants and dependents: the page's script asks for
//! an upload ticket, puts the file straight into storage, then asks for it to be verified and
//! kept. One handler pair serves a registrant's and a dependent's routes in the registrants
//! function; the phone flow (`web::enrol`) calls the same two bodies for its own session.
//!
//! Limits: answers are JSON for the page's script; what counts as an acceptable image is
//! `domain::image`, the storage dance `app::images`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::records::KindParam;
use super::session::Authed;
use super::{AppState, Failure, WebError};
use crate::app::actor::Actor;
use crate::app::images::{self, ImageFlowError};
use crate::app::keys::TenantScope;
use crate::app::record::RecordRef;
use crate::app::tenants::Tenant;
use crate::app::uploads::UploadError;
use crate::app::App;
use crate::domain::image::DocumentKind;
use crate::domain::role::Permission;

/// An administrator uploading a document image for a registrant edits the record.
pub(super) fn routes() -> Routes {
    let edit = Access::Can(Permission::EditRegistrants);
    Routes::new()
        .post("/registrants/{id}/images/{kind}/ticket", edit, ticket)
        .post("/registrants/{id}/images/{kind}/complete", edit, complete)
        .post(
            "/registrants/{id}/dependents/{dep}/images/{kind}/ticket",
            edit,
            ticket,
        )
        .post(
            "/registrants/{id}/dependents/{dep}/images/{kind}/complete",
            edit,
            complete,
        )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TicketForm {
    pub(super) content_type: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CompleteForm {
    pub(super) upload: String,
}

pub(super) fn image_error(e: ImageFlowError) -> Response {
    let (status, message) = match e {
        ImageFlowError::NotFound => (
            StatusCode::NOT_FOUND,
            "登録者が見つかりません。".to_string(),
        ),
        ImageFlowError::Upload(UploadError::Rejected(r)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, r.to_string())
        }
        ImageFlowError::Conflict => (StatusCode::CONFLICT, ImageFlowError::Conflict.to_string()),
        ImageFlowError::Upload(UploadError::Storage(e)) => {
            let message = "画像を保存できませんでした。しばらくしてからもう一度お試しください。";
            return failure(message, format!("image storage failed: {e}"));
        }
        ImageFlowError::Infra(e) => {
            return failure(
                "処理中にエラーが発生しました。",
                format!("image flow failed: {e}"),
            );
        }
    };
    super::json(status, serde_json::json!({ "error": message }))
}

/// A 500 for the page's script, its cause left for the log.
fn failure(message: &str, why: String) -> Response {
    let res = super::json(
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::json!({ "error": message }),
    );
    Failure::attach(res, why)
}

/// A ticket for a new upload of `record`'s image of `kind` (a 404 for an unknown kind).
pub(super) async fn start(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    record: &RecordRef,
    kind: &str,
    form: TicketForm,
) -> Response {
    let Some(kind) = DocumentKind::from_code(kind) else {
        return WebError::NotFound.into_response();
    };
    match images::start(app, scope, tenant, record, kind, &form.content_type).await {
        Ok((ticket, upload)) => super::json(
            StatusCode::OK,
            serde_json::json!({ "url": ticket.url, "method": ticket.method, "headers": ticket.headers, "upload": upload }),
        ),
        Err(e) => image_error(e),
    }
}

/// Verifies the upload the ticket named and keeps it as `record`'s image of `kind`.
pub(super) async fn finish(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    record: &RecordRef,
    kind: &str,
    form: CompleteForm,
) -> Response {
    let Some(kind) = DocumentKind::from_code(kind) else {
        return WebError::NotFound.into_response();
    };
    match images::complete(app, scope, tenant, actor, record, kind, &form.upload).await {
        Ok(()) => super::json(StatusCode::OK, serde_json::json!({ "ok": true })),
        Err(e) => image_error(e),
    }
}

async fn ticket(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    KindParam(kind): KindParam,
    Form(f): Form<TicketForm>,
) -> Result<Response, WebError> {
    Ok(start(&app, &authed.scope, &authed.tenant, &record, &kind, f).await)
}

async fn complete(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    KindParam(kind): KindParam,
    Form(f): Form<CompleteForm>,
) -> Result<Response, WebError> {
    let actor = authed.actor();
    Ok(finish(
        &app,
        &authed.scope,
        &authed.tenant,
        &actor,
        &record,
        &kind,
        f,
    )
    .await)
}

/// One document image slot with its upload form.
pub(super) struct ImageRow {
    pub(super) label: &'static str,
    pub(super) accepted: &'static str,
    pub(super) uploaded: Option<String>,
    pub(super) ticket: String,
    pub(super) complete: String,
}

pub(super) fn image_rows(
    base: &str,
    images: &serde_json::Map<String, serde_json::Value>,
) -> Vec<ImageRow> {
    DocumentKind::ALL
        .iter()
        .map(|k| ImageRow {
            label: k.label(),
            accepted: k.accepted(),
            uploaded: images
                .get(&format!("{}_at", images::attr(*k)))
                .and_then(|v| v.as_i64())
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .map(|t| {
                    let t = t.to_offset(time::macros::offset!(+9));
                    format!(
                        "{}/{:02}/{:02} {:02}:{:02}",
                        t.year(),
                        u8::from(t.month()),
                        t.day(),
                        t.hour(),
                        t.minute()
                    )
                }),
            ticket: format!("{base}/images/{}/ticket", k.code()),
            complete: format!("{base}/images/{}/complete", k.code()),
        })
        .collect()
}
