//! 操作履歴 (manual ch.14): the tenant's operation log, searched by date range, 実施者,
//! 登録者 and 操作内容, 50 entries a page newest first; CSVダウンロード of the search (CP932 or
//! UTF-8 with BOM, itself recorded); 検証, which checks the tenant's hash chain and names the
//! first broken or missing entry. Also the request layer that hands each request's user agent
//! to the audit log ([`user_agent_scope`]).
//!
//! The 取扱状況 report and a registrant's refusal evidence are in `web::audit_report`. All of
//! it belongs to the operation-log function and needs `ViewAuditLog`.

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::{Deserialize, Serialize};

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::audit::log::{self, CsvError, Filter, Found, Row, PAGE_SIZE, SCAN_LIMIT};
use crate::app::audit::{self, Verification};
use crate::app::csv_io::Encoding;
use crate::domain::date::parse_date;
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let can = Access::Can(Permission::ViewAuditLog);
    Routes::new()
        .get("/audit-log", can, page)
        .post("/audit-log/csv", can, download)
        .post("/audit-log/verify", can, verify)
}

/// Runs the request so that every audit entry it writes carries its user agent.
pub async fn user_agent_scope(req: Request, next: Next) -> Response {
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        // Not `to_str`: a user agent may carry non-ASCII bytes, kept as well as they decode.
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    audit::with_user_agent(ua.as_deref(), next.run(req)).await
}

/// The search fields as the form sends them (and the links carry them).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Search {
    pub from: String,
    pub to: String,
    pub actor: String,
    pub subject: String,
    pub operation: String,
    /// Where the page starts (below this sequence number); not part of the filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[serde(skip_serializing)]
    pub encoding: String,
}

impl Search {
    /// The filter, or the message for a date that cannot be read.
    fn filter(&self) -> Result<Filter, String> {
        let date = |label: &str, input: &str| match input.trim() {
            "" => Ok(None),
            text => parse_date(text).map(Some).map_err(|_| {
                format!("日付（{label}）を読み取れません。2026/04/01 のように入力してください。")
            }),
        };
        let filter = Filter {
            from: date("開始", &self.from)?,
            to: date("終了", &self.to)?,
            actor: self.actor.clone(),
            subject: self.subject.clone(),
            operation: self.operation.clone(),
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from > to {
                return Err("日付の開始が終了より後になっています。".into());
            }
        }
        Ok(filter)
    }

    /// The query string of this search, starting below `before`.
    fn href(&self, before: Option<i64>) -> String {
        let s = Search {
            before,
            ..self.clone()
        };
        format!(
            "/audit-log?{}",
            serde_urlencoded::to_string(&s).unwrap_or_default()
        )
    }
}

/// One row of the table.
pub struct RowView {
    pub when: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
    pub user_agent: String,
}

impl From<&Row> for RowView {
    fn from(r: &Row) -> Self {
        RowView {
            when: r.when(),
            actor: r.actor().to_string(),
            subject: r.subject.clone(),
            detail: r.entry.detail.clone(),
            ip: r.entry.ip.clone().unwrap_or_default(),
            user_agent: r.entry.user_agent.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit_log.html")]
struct PageView {
    chrome: Chrome,
    search: Search,
    filtered: bool,
    error: Option<String>,
    rows: Vec<RowView>,
    /// The page does not start at the newest entry.
    paged: bool,
    first_href: String,
    next_href: Option<String>,
    stopped_early: bool,
    verification: Option<(bool, String)>,
    encoding: String,
}

async fn page(
    State(app): State<AppState>,
    authed: Authed,
    Query(search): Query<Search>,
) -> Result<Response, WebError> {
    show(&app, &authed, search, None, None).await
}

async fn show(
    app: &AppState,
    authed: &Authed,
    search: Search,
    error: Option<String>,
    verification: Option<&Verification>,
) -> Result<Response, WebError> {
    let (found, error) = match (search.filter(), error) {
        (Ok(filter), None) => (
            log::search(
                app,
                &authed.scope,
                &filter,
                search.before,
                PAGE_SIZE,
                SCAN_LIMIT,
            )
            .await?,
            None,
        ),
        (Ok(_), Some(e)) | (Err(e), _) => (Found::default(), Some(e)),
    };
    let filtered = search.filter().is_ok_and(|f| !f.is_empty());
    let encoding = if search.encoding == "utf8" {
        "utf8"
    } else {
        "cp932"
    };
    Ok(render(&PageView {
        chrome: Chrome::new(authed, "/audit-log"),
        filtered,
        error,
        rows: found.rows.iter().map(RowView::from).collect(),
        paged: search.before.is_some(),
        first_href: search.href(None),
        next_href: found.next.map(|n| search.href(Some(n))),
        stopped_early: found.stopped_early,
        verification: verification.map(|v| (v.broken_at.is_none(), v.summary())),
        encoding: encoding.into(),
        search,
    }))
}

/// The search as a CSV file: every matching entry, not only one page.
async fn download(
    State(app): State<AppState>,
    authed: Authed,
    Form(search): Form<Search>,
) -> Result<Response, WebError> {
    let filter = match search.filter() {
        Ok(f) => f,
        Err(e) => return show(&app, &authed, search, Some(e), None).await,
    };
    let encoding = Encoding::from_code(&search.encoding);
    let found = log::search(&app, &authed.scope, &filter, None, usize::MAX, usize::MAX).await?;
    let bytes = match log::to_csv(&found.rows, encoding) {
        Ok(b) => b,
        Err(CsvError::Unrepresentable) => {
            let e = CsvError::Unrepresentable.to_string();
            return show(&app, &authed, search, Some(e), None).await;
        }
        Err(CsvError::Infra(e)) => return Err(e.into()),
    };
    // No audit entry, no file.
    audit::record_by(
        &app,
        &authed.scope,
        &authed.actor(),
        "audit.export",
        None,
        format!("操作履歴のCSVダウンロード（{}件）", found.rows.len()),
    )
    .await?;
    Ok(csv_response(encoding, "audit_log", bytes))
}

/// A CSV download that no cache keeps.
pub fn csv_response(encoding: Encoding, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, encoding.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// 検証: checks the tenant's chain and shows the result above the (unfiltered) log.
async fn verify(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    let result = app
        .audit
        .verify(Some(authed.scope.tenant()))
        .await
        .map_err(crate::app::InfraError::from)?;
    audit::record_by(
        &app,
        &authed.scope,
        &authed.actor(),
        "audit.verify",
        None,
        format!("操作履歴の検証（{}）", result.summary()),
    )
    .await?;
    if result.broken_at.is_some() {
        tracing::error!(
            tenant = %authed.scope.tenant(),
            broken_at = ?result.broken_at,
            "operation log chain broken"
        );
    }
    show(&app, &authed, Search::default(), None, Some(&result)).await
}
