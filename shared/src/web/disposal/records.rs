//! 登録者の削除（廃棄） (`/disposal`, HOME's 詳しい操作): where deletion starts (the registrant
//! list's 削除 columns, the retirees) and the 削除記録 list, newest first and paged; and the
//! printable 削除証明書 of one deletion (`/disposal/{record}`). Neither shows a number: the
//! records never held one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::super::access::{Access, Routes};
use super::super::session::{Authed, Chrome};
use super::super::{render, AppState, WebError};
use crate::app::audit::log::format_time;
use crate::app::disposal::{self, DisposalRecord};

pub(super) fn routes(routes: Routes, dispose: Access) -> Routes {
    routes
        .get("/disposal", dispose, list)
        .get("/disposal/{record}", dispose, certificate)
}

/// One row of the list and the certificate, formatted for the screen.
struct RecordView {
    id: String,
    kind: &'static str,
    removes: &'static str,
    subject: String,
    dependents: Vec<String>,
    images: usize,
    reason: String,
    actor: String,
    at: String,
    done_at: String,
    done: bool,
}

fn japan(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|t| format_time(t.to_offset(time::macros::offset!(+9))))
        .unwrap_or_default()
}

impl RecordView {
    fn of(r: &DisposalRecord) -> RecordView {
        RecordView {
            id: r.id.clone(),
            kind: r.kind.label(),
            removes: r.kind.removes(),
            subject: r.subject(),
            dependents: r.dependents.clone(),
            images: r.images,
            reason: r.reason.label(),
            actor: r.actor_name.clone(),
            at: japan(r.at),
            done_at: r.done_at.map(japan).unwrap_or_default(),
            done: r.done_at.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "disposal_list.html")]
struct ListView {
    chrome: Chrome,
    records: Vec<RecordView>,
    next_href: Option<String>,
    first_href: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    after: Option<String>,
}

async fn list(authed: Authed, Query(q): Query<ListQuery>) -> Result<Response, WebError> {
    let after = q.after.filter(|a| !a.is_empty());
    let first_href = after.as_ref().map(|_| "/disposal".to_string());
    let (records, next) = disposal::list(&authed.scope, after).await?;
    Ok(render(&ListView {
        chrome: Chrome::new(&authed, "/registrants"),
        records: records.iter().map(RecordView::of).collect(),
        next_href: next.map(|n| {
            format!(
                "/disposal?{}",
                serde_urlencoded::to_string([("after", n)]).unwrap_or_default()
            )
        }),
        first_href,
    }))
}

#[derive(Template)]
#[template(path = "disposal_certificate.html")]
struct CertificateView {
    company_name: String,
    record: RecordView,
    printed_at: String,
    just_done: bool,
}

#[derive(Deserialize)]
struct CertificateQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn certificate(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Query(q): Query<CertificateQuery>,
) -> Result<Response, WebError> {
    let record = disposal::get(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(render(&CertificateView {
        company_name: authed.tenant.company_name.clone(),
        record: RecordView::of(&record),
        printed_at: japan(app.now().unix_timestamp()),
        just_done: q.done.is_some(),
    }))
}
