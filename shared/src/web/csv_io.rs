//! CSVダウンロード (manual ch.10) and CSVアップロード (manual ch.6) pages; the file format and
//! the rules are `app::csv_io`, the all-or-nothing commit `app::staging`. Served by the csv
//! function; the commit runs in the import-commit job function.
//!
//! The upload's commit is a job: the 登録 button starts the import and publishes
//! `import.commit` (the `import-commit` function runs it to the end, `app::staging::run_job`);
//! the status page shows its progress and reloads itself every second until it is over. Only
//! if the import has stood still too long (a lost event: `app::staging::stalled`) does the
//! status page continue it itself, a few seconds per load, so nothing stays half-way. It only
//! ever continues an import its owner already confirmed with a CSRF-checked POST, so that is
//! safe as a GET.
//!
//! A file over [`UPLOAD_BODY_LIMIT`] reaches the upload handler without its body: the session
//! layer cannot read it (nor its CSRF field) and marks the request `BodyTooLarge`; the handler
//! then only renders the upload page with 「ファイルが大きすぎます」 rather than the expired-form
//! page.

use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum::Form;
use futures_util::StreamExt;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{Authed, BodyTooLarge, Chrome};
use super::{render, render_status, AppState, WebError, UPLOAD_BODY_LIMIT};
use crate::app::csv_io::{
    self, Encoding, ExportError, ExportRequest, LineError, Unwritable, Uploaded,
};
use crate::app::registrants::Filter;
use crate::app::staging::{self, Budget, Import, State as ImportState};
use crate::app::usage::RevealError;
use crate::domain::purpose::Purpose;
use crate::domain::role::Permission;

/// How long one request may spend committing an import before showing its progress.
const SLICE: Duration = Duration::from_secs(3);

/// CSVダウンロード writes numbers (ExportCsv); the upload, its template and its staging are
/// imports.
pub(super) fn routes() -> Routes {
    let export = Access::Can(Permission::ExportCsv);
    let import = Access::Can(Permission::ImportCsv);
    Routes::new()
        .get("/registrants/csv", export, download_form)
        .post("/registrants/csv", export, download)
        // The body limit of this path is `web::UPLOAD_BODY_LIMIT` (`web::body_limit`).
        .get("/registrants/csv-upload", import, upload_page)
        .post("/registrants/csv-upload", import, upload)
        .get("/registrants/csv-upload/template.csv", import, template)
        .get("/registrants/csv-upload/{id}", import, status)
        .post("/registrants/csv-upload/{id}/commit", import, commit)
        .get(
            "/registrants/csv-upload/{id}/discard",
            import,
            discard_confirm,
        )
        .post("/registrants/csv-upload/{id}/discard", import, discard)
}

// ---------------------------------------------------------------- download

#[derive(Template)]
#[template(path = "csv_download.html")]
struct DownloadView {
    chrome: Chrome,
    purposes: Vec<(&'static str, &'static str)>,
    purpose: String,
    encoding: &'static str,
    hidden: Vec<(String, String)>,
    back_href: String,
    count: usize,
    filtered: bool,
    error: Option<String>,
    /// Every cell a Shift_JIS download cannot hold.
    unwritable: Vec<Unwritable>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DownloadPosted {
    #[serde(flatten)]
    filter: Filter,
    password: String,
    purpose: String,
    encoding: String,
}

/// The list's filter as hidden fields and as the way back to the list.
fn filter_fields(filter: &Filter) -> (Vec<(String, String)>, String, bool) {
    let mut f = filter.clone();
    f.page = String::new();
    let query = serde_urlencoded::to_string(&f).unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let filtered = pairs.iter().any(|(k, _)| k != "sort");
    let back = if pairs.is_empty() {
        "/registrants".to_string()
    } else {
        format!(
            "/registrants?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    (pairs, back, filtered)
}

async fn download_page(
    authed: &Authed,
    filter: &Filter,
    purpose: String,
    encoding: Encoding,
    error: Option<(StatusCode, String)>,
    unwritable: Vec<Unwritable>,
) -> Result<Response, WebError> {
    let (hidden, back_href, filtered) = filter_fields(filter);
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    Ok(render_status(
        status,
        &DownloadView {
            chrome: Chrome::new(authed, "/registrants"),
            purposes: Purpose::ALL.iter().map(|p| (p.code(), p.label())).collect(),
            purpose,
            encoding: if encoding == Encoding::Utf8Bom {
                "utf8"
            } else {
                "cp932"
            },
            hidden,
            back_href,
            count: csv_io::count(&authed.scope, filter).await?,
            filtered,
            error,
            unwritable,
        },
    ))
}

async fn download_form(
    State(app): State<AppState>,
    authed: Authed,
    Query(mut filter): Query<Filter>,
) -> Result<Response, WebError> {
    // 削除予定日到来 compares with the app's day.
    filter.today = Some(crate::app::registrants::today(app.now()));
    download_page(
        &authed,
        &filter,
        String::new(),
        Encoding::Cp932,
        None,
        Vec::new(),
    )
    .await
}

async fn download(
    State(app): State<AppState>,
    authed: Authed,
    Form(mut posted): Form<DownloadPosted>,
) -> Result<Response, WebError> {
    posted.filter.today = Some(crate::app::registrants::today(app.now()));
    let encoding = Encoding::from_code(&posted.encoding);
    let req = ExportRequest {
        filter: &posted.filter,
        password: &posted.password,
        purpose: &posted.purpose,
        encoding,
    };
    let refused = match csv_io::export(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.user,
        &authed.actor(),
        req,
    )
    .await?
    {
        Ok(export) => {
            let body = export.body.map(|piece| {
                piece.inspect_err(|e| tracing::error!(error = %e, "CSV download stopped"))
            });
            return Ok((
                [
                    (header::CONTENT_TYPE, export.content_type.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}\"", export.filename),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                Body::from_stream(body),
            )
                .into_response());
        }
        Err(e) => e,
    };
    let status = match &refused {
        ExportError::Reauth(RevealError::Locked) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let message = refused.to_string();
    let unwritable = match refused {
        ExportError::Unrepresentable(cells) => cells,
        _ => Vec::new(),
    };
    download_page(
        &authed,
        &posted.filter,
        posted.purpose.clone(),
        encoding,
        Some((status, message)),
        unwritable,
    )
    .await
}

// ---------------------------------------------------------------- upload

#[derive(Template)]
#[template(path = "csv_upload.html")]
struct UploadView {
    chrome: Chrome,
    columns: &'static [csv_io::Column],
    remaining: u32,
    errors: Vec<LineError>,
    flash: Option<&'static str>,
    limit_mb: usize,
}

/// The upload limit in whole megabytes, as the page and its messages state it.
fn limit_mb() -> usize {
    UPLOAD_BODY_LIMIT / (1024 * 1024)
}

async fn upload_view(
    authed: &Authed,
    errors: Vec<LineError>,
    flash: Option<&'static str>,
) -> Result<Response, WebError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        &UploadView {
            chrome: Chrome::new(authed, "/registrants"),
            columns: &csv_io::COLUMNS,
            remaining: crate::app::registrants::room_left(&authed.scope, &authed.tenant).await?,
            errors,
            flash,
            limit_mb: limit_mb(),
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UploadFlash {
    done: String,
}

async fn upload_page(authed: Authed, Query(q): Query<UploadFlash>) -> Result<Response, WebError> {
    let flash =
        (q.done == "discarded").then_some("アップロードしたファイルの登録を取り消しました。");
    upload_view(&authed, Vec::new(), flash).await
}

async fn template() -> Result<Response, WebError> {
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=Shift_JIS"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mynumber_sample.csv\"",
            ),
        ],
        csv_io::template(),
    )
        .into_response())
}

/// The uploaded file's bytes (the form's `file` field), or `None` when no file was chosen (a
/// browser then sends the field with no name and no content).
async fn file_of(mut form: Multipart) -> Option<Vec<u8>> {
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            let named = field.file_name().is_some_and(|n| !n.is_empty());
            let bytes = field.bytes().await.ok()?.to_vec();
            return (named || !bytes.is_empty()).then_some(bytes);
        }
    }
    None
}

async fn upload(
    State(app): State<AppState>,
    authed: Authed,
    too_large: Option<Extension<BodyTooLarge>>,
    form: Multipart,
) -> Result<Response, WebError> {
    // Over the limit: the session layer did not read the body (nor its CSRF field), so only
    // the page with the size message is answered.
    if too_large.is_some() {
        let e = LineError {
            line: 0,
            column: "",
            message: format!(
                "ファイルが大きすぎます（上限 {}MB）。ファイルを分けてアップロードしてください。",
                limit_mb()
            ),
        };
        let mut res = upload_view(&authed, vec![e], None).await?;
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return Ok(res);
    }
    let Some(bytes) = file_of(form).await else {
        let e = LineError {
            line: 0,
            column: "",
            message: "CSVファイルを選択してください。".into(),
        };
        return upload_view(&authed, vec![e], None).await;
    };
    let actor = authed.actor();
    match csv_io::upload(&app, &authed.scope, &authed.tenant, &actor, &bytes).await? {
        Uploaded::Refused(errors) => upload_view(&authed, errors, None).await,
        Uploaded::Staged { import, encoding } => {
            status_page(&authed, &import, Some(encoding)).await
        }
    }
}

// ---------------------------------------------------------------- confirm, progress

#[derive(Template)]
#[template(path = "csv_upload_status.html")]
struct StatusView {
    chrome: Chrome,
    id: String,
    state: &'static str,
    registrants: usize,
    dependents: usize,
    people: usize,
    committed: usize,
    remaining: u32,
    encoding: &'static str,
    error: Option<String>,
}

async fn status_page(
    authed: &Authed,
    import: &Import,
    encoding: Option<&'static str>,
) -> Result<Response, WebError> {
    let state = match import.state {
        ImportState::Staged => "staged",
        ImportState::Committing => "committing",
        ImportState::Done | ImportState::Finished => "done",
        ImportState::Failed => "failed",
        ImportState::Discarded => "discarded",
    };
    state_page(authed, import, state, encoding).await
}

async fn state_page(
    authed: &Authed,
    import: &Import,
    state: &'static str,
    encoding: Option<&'static str>,
) -> Result<Response, WebError> {
    Ok(render(&StatusView {
        chrome: Chrome::new(authed, "/registrants"),
        id: import.id.clone(),
        state,
        registrants: import.registrants,
        dependents: import.dependents,
        people: import.people(),
        committed: import.committed_people,
        remaining: crate::app::registrants::room_left(&authed.scope, &authed.tenant).await?,
        encoding: encoding.unwrap_or(""),
        error: import.error.clone(),
    }))
}

async fn load(authed: &Authed, id: &str) -> Result<Import, WebError> {
    staging::load(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// Continues a stalled import for one slice of time (see the module docs).
async fn advance(app: &AppState, authed: &Authed, import: Import) -> Result<Import, WebError> {
    if !staging::stalled(&import, app.now().unix_timestamp()) {
        return Ok(import);
    }
    let budget = Budget {
        steps: None,
        until: Some(Instant::now() + SLICE),
    };
    Ok(staging::run(app, &authed.scope, &authed.tenant, &import.id, budget).await?)
}

async fn status(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let import = load(&authed, &id).await?;
    let import = advance(&app, &authed, import).await?;
    status_page(&authed, &import, None).await
}

async fn commit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let import = load(&authed, &id).await?;
    if staging::start(&app, &authed.scope, &import).await? {
        publish(&app, &authed, &id).await?;
    }
    Ok(Redirect::to(&format!("/registrants/csv-upload/{id}")).into_response())
}

/// Hands import `id` to the `import-commit` job.
async fn publish(app: &AppState, authed: &Authed, id: &str) -> Result<(), WebError> {
    let event = staging::commit_event(authed.scope.tenant(), id);
    app.ports
        .events
        .publish(vec![event])
        .await
        .map_err(crate::app::InfraError::from)?;
    Ok(())
}

/// 登録を取り消す's confirmation: while an import is being committed, taking it back deletes
/// the rows already written, so the page says how many before anything happens. Any other
/// state has nothing to confirm: its status page.
async fn discard_confirm(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let import = load(&authed, &id).await?;
    if import.state != ImportState::Committing {
        return Ok(Redirect::to(&format!("/registrants/csv-upload/{id}")).into_response());
    }
    state_page(&authed, &import, "confirm_discard", None).await
}

async fn discard(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let import = load(&authed, &id).await?;
    staging::discard(&app, &authed.scope, &import).await?;
    if import.state == ImportState::Committing {
        // The roll-back of what was committed so far is the job's too.
        publish(&app, &authed, &id).await?;
    }
    Ok(match import.state {
        ImportState::Staged => Redirect::to("/registrants/csv-upload?done=discarded"),
        _ => Redirect::to(&format!("/registrants/csv-upload/{id}")),
    }
    .into_response())
}
