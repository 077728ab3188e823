//! The web layer: each capability module's routes with who may call them ([`access`]), the
//! split into Lambda functions ([`functions`]), shared middleware (sessions, CSRF, security
//! headers, a request span with the failure log), and the askama views.
//!
//! A Lambda function runs exactly its share of the routes
//! (`web::functions::function_router(app, Function::Login)` handed to `lambda_http::run`); the
//! local server runs [`all`]. Handlers use only axum extractors, so the same code serves both.

pub mod access;
pub mod approval;
pub mod audit_log;
pub mod audit_report;
pub mod auth;
pub mod bulk;
pub mod cancel;
pub mod collection;
pub mod confirm;
pub mod contractor;
pub mod csv_io;
pub mod dependents;
pub mod disposal;
pub mod enrol;
mod flash;
pub mod functions;
pub mod groups;
pub mod guide;
pub mod home;
pub mod images;
pub mod number;
mod person;
mod phone_message;
pub mod plan;
pub mod postal;
mod qr;
pub mod records;
pub mod registrants;
pub mod reminders;
pub mod security;
pub mod session;
pub mod usage;
pub mod users;

#[cfg(test)]
mod tests {
    use super::{loggable_path, Failure, WebError};
    use crate::app::InfraError;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[test]
    fn an_infrastructure_error_becomes_a_500_page_carrying_its_cause_for_the_log() {
        let res = WebError::from(InfraError::Corrupt("registrant")).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = res.extensions().get::<Failure>().map(|f| f.0.as_str());
        assert_eq!(cause, Some("corrupt record: registrant"));
    }

    #[test]
    fn loggable_path_hides_link_tokens_and_upload_tickets_only() {
        let cases = [
            ("/r/01JTENANT/SeCrEtToKeN", "/r/…"),
            ("/r/01JTENANT/SeCrEtToKeN/qr", "/r/…"),
            ("/uploads/TiCkEt.sig", "/uploads/…"),
            ("/r/me", "/r/me"),
            ("/r/me/step1", "/r/me/step1"),
            ("/r/meSeCrEt", "/r/…"),
            ("/registrants/01JX/edit", "/registrants/01JX/edit"),
        ];
        for (path, want) in cases {
            assert_eq!(loggable_path(path), want, "{path}");
        }
    }
}

use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;

use tracing::Instrument;

use crate::app::registrants::SaveError;
use crate::app::{App, InfraError};

pub type AppState = Arc<App>;

/// Largest request body any route accepts (forms; files never pass through the API), but
/// [`UPLOAD_PATHS`].
pub const BODY_LIMIT: usize = 256 * 1024;

/// Largest CSV upload (20 MB: well over 10,000 rows). Behind API Gateway and Lambda the
/// platform's own limit (6 MB for a Lambda request, some 50,000 rows) comes first.
pub const UPLOAD_BODY_LIMIT: usize = 20 * 1024 * 1024;

/// The only routes taking a file in the request body.
pub const UPLOAD_PATHS: [&str; 1] = ["/registrants/csv-upload"];

/// The body limit of a path.
pub fn body_limit(path: &str) -> usize {
    if UPLOAD_PATHS.contains(&path) {
        UPLOAD_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// Wraps a group's routes with the shared middleware. Every deployed function and the local
/// server go through here, so no route can miss the session, CSRF or header layers.
pub fn group(app: AppState, routes: Router<AppState>) -> Router {
    group_with(app, routes, Router::new())
}

/// [`group`], plus `sessionless` routes that stand outside the session and CSRF layer (the
/// local server's stand-in for S3 pre-signed uploads) yet still inside the header layer.
/// The header layer is the outermost one and wraps the 404 fallback too: every response the
/// product sends carries the security headers.
pub fn group_with(app: AppState, routes: Router<AppState>, sessionless: Router) -> Router {
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), session::layer))
        .layer(middleware::from_fn(audit_log::user_agent_scope))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app.clone())
        .merge(sessionless)
        .layer(middleware::from_fn(log_failures))
        .layer(middleware::from_fn_with_state(app, security_headers))
}

/// Every route of the product as an axum router (the local server adds its dev pages before
/// [`group`]).
pub fn routes(app: &AppState) -> Router<AppState> {
    declared().into_router(app)
}

/// Every route of the product with who may call it: each capability module's table. Which
/// function serves a route follows from its path (`web::functions`).
pub fn declared() -> access::Routes {
    modules_serving(None)
}

/// The capability modules' route tables, each named with the functions that serve its routes
/// (the test `each_module_names_exactly_the_functions_serving_its_routes` holds the names to
/// the paths). [`modules_serving`] merges the modules a function serves (every module for
/// `None`); a function's binary passes its own constant, so the optimiser drops the other
/// modules' handlers and everything only they call: each function links its own share of the
/// product, not all of it (the Lambda size goal, `infra/bench.sh coldstart`).
macro_rules! modules {
    ($($module:ident: $($function:ident)|+;)*) => {
        #[inline(always)]
        pub(crate) fn modules_serving(function: Option<functions::Function>) -> access::Routes {
            let mut routes = access::Routes::new();
            $(
                let serves = 0 $(| functions::Function::$function.bit())+;
                if function.is_none_or(|f| f.bit() & serves != 0) {
                    routes = routes.merge($module::routes());
                }
            )*
            routes
        }

        /// Each module's routes and the functions it is named with (as a mask of `bit`s).
        #[cfg(test)]
        pub(crate) fn module_table() -> Vec<(&'static str, access::Routes, u32)> {
            vec![$((
                stringify!($module),
                $module::routes(),
                0 $(| functions::Function::$function.bit())+,
            )),*]
        }
    };
}

modules! {
    auth: Login | SecondFactor;
    home: Home;
    guide: Home;
    plan: Home;
    registrants: Registrants;
    groups: Registrants;
    dependents: Registrants;
    disposal: Home | Registrants;
    images: Registrants;
    usage: Registrants;
    collection: Collection;
    approval: Approval;
    number: Registrants;
    bulk: Csv;
    csv_io: Csv;
    enrol: Enrol;
    reminders: Login;
    users: Account;
    contractor: Login | Account;
    security: Account;
    audit_log: AuditLog;
    audit_report: Registrants | AuditLog;
    cancel: Home;
}

/// The whole product behind the shared middleware (tests, and the local server's base).
pub fn all(app: AppState) -> Router {
    let routes = routes(&app);
    group(app, routes)
}

async fn security_headers(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    if !h.contains_key("content-security-policy") {
        let csp = format!(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data: blob:; \
             connect-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            app.config.connect_src
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert("content-security-policy", v);
        }
    }
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "permissions-policy",
        "geolocation=(), microphone=(), payment=()",
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    // Pages may show personal data: never cache them anywhere (static files set their own).
    set(h, "cache-control", "no-store");
    if app.config.secure_cookies {
        set(
            h,
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        );
    }
    res
}

/// A request path fit for a log line: the bearer secrets some paths carry (the registration
/// link `/r/<tenant>/<token>…`, the upload ticket `/uploads/<ticket>`) are replaced by `…`.
/// Every log line that names a path goes through here.
pub fn loggable_path(path: &str) -> String {
    const SECRET_BEARING: [&str; 2] = ["/r/", "/uploads/"];
    for prefix in SECRET_BEARING {
        if let Some(rest) = path.strip_prefix(prefix) {
            // The registrant's own pages (`/r/me…`) carry no secret: their session is a cookie.
            if prefix == "/r/" && (rest == "me" || rest.starts_with("me/")) {
                return path.to_string();
            }
            return format!("{prefix}…");
        }
    }
    path.to_string()
}

/// Renders an askama template into a response.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => Failure::attach(
            WebError::Internal.into_response(),
            format!("template rendering failed: {e}"),
        ),
    }
}

/// Same, with a status code other than 200.
pub fn render_status<T: Template>(status: StatusCode, template: &T) -> Response {
    let mut res = render(template);
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// Adds `Retry-After` to a refusal by the rate limits (scripts and API clients read it).
pub(crate) fn with_retry_after(res: &mut Response, seconds: Option<i64>) {
    if let Some(v) =
        seconds.and_then(|s| axum::http::header::HeaderValue::from_str(&s.to_string()).ok())
    {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
}

/// A plain page with a title, a message and one way back.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub back_href: &'a str,
    pub back_label: &'a str,
}

/// Failures a handler can end with; each becomes a Japanese page.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("login required")]
    LoginRequired { expired: bool },
    #[error("forbidden")]
    Forbidden,
    /// The company requires トークン認証 and this user has not set it up yet.
    #[error("second factor setup required")]
    TotpSetupRequired,
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("internal error")]
    Internal,
    /// An internal error with its cause, which [`log_failures`] logs (infrastructure messages
    /// never carry personal data: see the ports' error types).
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// A save's refusals that have their own page are matched by the handler first; what is left
/// is a missing record (404) or a failure (500).
impl From<SaveError> for WebError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::NotFound => WebError::NotFound,
            SaveError::Infra(e) => e.into(),
            _ => WebError::Internal,
        }
    }
}

/// Why a response is a failure, for the log only: carried from the handler to
/// [`log_failures`] as a response extension, so turning an error into a response has no
/// side effect. Its text never carries personal data.
#[derive(Clone, Debug)]
pub struct Failure(pub String);

impl Failure {
    /// `res` with `why` attached for [`log_failures`].
    pub fn attach(mut res: Response, why: String) -> Response {
        res.extensions_mut().insert(Failure(why));
        res
    }
}

/// Runs each request in a span naming its method and matched route template (never the raw
/// path: `/r/` and `/uploads/` paths carry bearer secrets), and logs a failed response's
/// [`Failure`] once, inside that span.
async fn log_failures(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!("request", method = %req.method(), route = %route);
    let res = next.run(req).instrument(span.clone()).await;
    if let Some(Failure(why)) = res.extensions().get::<Failure>() {
        span.in_scope(
            || tracing::error!(error = %why, status = res.status().as_u16(), "request failed"),
        );
    }
    res
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = |status, title, message| {
            render_status(
                status,
                &MessagePage {
                    title,
                    message,
                    back_href: "/",
                    back_label: "トップページへ",
                },
            )
        };
        match self {
            WebError::Infra(e) => Failure::attach(WebError::Internal.into_response(), e.to_string()),
            WebError::LoginRequired { expired: true } => Redirect::to("/login?expired=1").into_response(),
            WebError::LoginRequired { expired: false } => Redirect::to("/login").into_response(),
            WebError::TotpSetupRequired => Redirect::to("/security/totp").into_response(),
            WebError::Forbidden => page(
                StatusCode::FORBIDDEN,
                "権限がありません",
                "この操作を行う権限がありません。必要な場合は最高権限のユーザにお問い合わせください。",
            ),
            WebError::Csrf => page(
                StatusCode::FORBIDDEN,
                "不正なリクエストです",
                "フォームの有効期限が切れたか、不正なリクエストです。お手数ですが、画面を開き直してもう一度操作してください。",
            ),
            WebError::NotFound => page(StatusCode::NOT_FOUND, "ページが見つかりません", "お探しのページは見つかりませんでした。"),
            WebError::Internal => page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "エラーが発生しました",
                "処理中にエラーが発生しました。しばらくしてからもう一度お試しください。",
            ),
        }
    }
}

async fn not_found() -> WebError {
    WebError::NotFound
}

/// The site icon (a binary response: Lambda returns it base64-encoded).
pub async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        &include_bytes!("../../../templates/static/favicon.png")[..],
    )
        .into_response()
}

/// A script compiled into the binary (the CSP allows scripts from this origin only).
fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The upload script.
pub async fn upload_script() -> Response {
    script(include_str!("../../../templates/static/upload.js"))
}

/// The image viewer of the approval screen (拡大・縮小・回転).
pub async fn viewer_script() -> Response {
    script(include_str!("../../../templates/static/viewer.js"))
}

/// The collection pages' script (select all, 一括選択, print).
pub async fn collection_script() -> Response {
    script(include_str!("../../../templates/static/collection.js"))
}

/// The import status page's script (its progress, updated in place).
pub async fn progress_script() -> Response {
    script(include_str!("../../../templates/static/progress.js"))
}

/// The phone pages' script (the three number boxes).
pub async fn enrol_script() -> Response {
    script(include_str!("../../../templates/static/enrol.js"))
}

/// `(code, label)` lists for the forms' selects and radio buttons.
pub(super) mod choices {
    use crate::domain::person::{Attribute, DependentKind, Relationship, Sex};

    pub fn attributes() -> Vec<(&'static str, &'static str)> {
        Attribute::ALL.map(|a| (a.code(), a.label())).to_vec()
    }

    pub fn sexes() -> Vec<(&'static str, &'static str)> {
        Sex::ALL.map(|s| (s.code(), s.label())).to_vec()
    }

    pub fn relationships() -> Vec<(&'static str, &'static str)> {
        Relationship::ALL.map(|r| (r.code(), r.label())).to_vec()
    }

    pub fn dependent_kinds() -> Vec<(&'static str, &'static str)> {
        DependentKind::ALL.map(|k| (k.code(), k.label())).to_vec()
    }
}

/// A JSON response (for the few endpoints the page's script calls).
pub fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// The stylesheet, compiled into the binary.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../templates/static/app.css"),
    )
        .into_response()
}
