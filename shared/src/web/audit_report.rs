//! What the operation log proves, on two pages: 取扱状況 (`/audit-log/report`), a month's
//! reveals and downloads by purpose and person with the counts of registrations, approvals,
//! refusals, deletions and logins, and a registrant's evidence page
//! (`/registrants/{id}/evidence`), every logged step about that person, printable, for a
//! refusal (拒否). Both have a CSV, whose download is itself recorded.
//!
//! They belong to the operation-log function and need `ViewAuditLog`; neither shows a number.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::audit_log::{csv_response, RowView};
use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::audit::log::{self as audit_log, CsvError};
use crate::app::audit::report::{self, Report, YearMonth};
use crate::app::audit::{self, evidence};
use crate::app::csv_io::Encoding;
use crate::app::registrants as regs;
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let can = Access::Can(Permission::ViewAuditLog);
    Routes::new()
        .get("/audit-log/report", can, report_page)
        .post("/audit-log/report/csv", can, report_csv)
        .get("/registrants/{id}/evidence", can, evidence_page)
        .post("/registrants/{id}/evidence/csv", can, evidence_csv)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MonthQuery {
    month: String,
    encoding: String,
}

impl MonthQuery {
    /// The month asked for, this month when none, or the message for one that cannot be read.
    fn month(&self, now: time::OffsetDateTime) -> Result<YearMonth, (YearMonth, String)> {
        let this = YearMonth::of(now);
        match self.month.trim() {
            "" => Ok(this),
            text => YearMonth::parse(text).ok_or((
                this,
                "年月を読み取れません。2026-04 のように入力してください。".into(),
            )),
        }
    }
}

#[derive(Template)]
#[template(path = "audit_report.html")]
struct ReportView {
    chrome: Chrome,
    report: Report,
    error: Option<String>,
    month_label: String,
    month_code: String,
    previous_href: String,
    next_href: String,
}

async fn report_page(
    State(app): State<AppState>,
    authed: Authed,
    Query(q): Query<MonthQuery>,
) -> Result<Response, WebError> {
    let (month, error) = match q.month(app.now()) {
        Ok(m) => (m, None),
        Err((m, e)) => (m, Some(e)),
    };
    let report = report::monthly(&app, &authed.scope, month).await?;
    Ok(render(&ReportView {
        chrome: Chrome::new(&authed, "/audit-log"),
        error,
        month_label: month.label(),
        month_code: month.code(),
        previous_href: format!("/audit-log/report?month={}", month.previous().code()),
        next_href: format!("/audit-log/report?month={}", month.next().code()),
        report,
    }))
}

async fn report_csv(
    State(app): State<AppState>,
    authed: Authed,
    Form(q): Form<MonthQuery>,
) -> Result<Response, WebError> {
    let Ok(month) = q.month(app.now()) else {
        return report_page(State(app), authed, Query(q)).await;
    };
    let asked = Encoding::from_code(&q.encoding);
    let report = report::monthly(&app, &authed.scope, month).await?;
    // A name without a CP932 form (「𠮷」) turns the file into UTF-8 rather than failing.
    let (encoding, bytes) = match report::to_csv(&report, asked) {
        Ok(bytes) => (asked, bytes),
        Err(_) => (
            Encoding::Utf8Bom,
            report::to_csv(&report, Encoding::Utf8Bom)?,
        ),
    };
    audit::record_by(
        &app,
        &authed.scope,
        &authed.actor(),
        "audit.report_export",
        None,
        format!("取扱状況のCSVダウンロード（{}）", month.label()),
    )
    .await?;
    Ok(csv_response(
        encoding,
        &format!("handling_{}", month.code()),
        bytes,
    ))
}

#[derive(Template)]
#[template(path = "audit_evidence.html")]
struct EvidenceView {
    chrome: Chrome,
    id: String,
    name: String,
    code: String,
    status: &'static str,
    rows: Vec<RowView>,
    printed_at: String,
    error: Option<String>,
}

async fn evidence_view(
    app: &AppState,
    authed: &Authed,
    id: &str,
    error: Option<String>,
) -> Result<(EvidenceView, Vec<audit_log::Row>), WebError> {
    let r = regs::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let rows = evidence::of(app, &authed.scope, &r).await?;
    Ok((
        EvidenceView {
            chrome: Chrome::new(authed, "/registrants"),
            id: r.id.clone(),
            name: r.name(),
            code: r.code.clone(),
            status: r.person.status.label(),
            rows: rows.iter().map(RowView::from).collect(),
            printed_at: audit_log::format_time(app.now().to_offset(time::macros::offset!(+9))),
            error,
        },
        rows,
    ))
}

async fn evidence_page(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    Ok(render(&evidence_view(&app, &authed, &id, None).await?.0))
}

async fn evidence_csv(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(q): Form<MonthQuery>,
) -> Result<Response, WebError> {
    let (view, rows) = evidence_view(&app, &authed, &id, None).await?;
    let encoding = Encoding::from_code(&q.encoding);
    let bytes = match audit_log::to_csv(&rows, encoding) {
        Ok(b) => b,
        Err(CsvError::Unrepresentable) => {
            let error = Some(CsvError::Unrepresentable.to_string());
            return Ok(render(&EvidenceView { error, ..view }));
        }
        Err(CsvError::Infra(e)) => return Err(e.into()),
    };
    audit::record_by(
        &app,
        &authed.scope,
        &authed.actor(),
        "audit.evidence_export",
        Some(&id),
        format!("登録者「{}」の対応記録のCSVダウンロード", view.name),
    )
    .await?;
    Ok(csv_response(encoding, "evidence", bytes))
}
