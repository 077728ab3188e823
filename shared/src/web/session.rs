//! Sessions and CSRF for every route, in one middleware ([`layer`]), plus the extractors
//! handlers use to learn who is asking ([`Ctx`], [`Authed`], [`PendingLogin`]).
//!
//! - The session cookie (`myna_sid`) is HttpOnly, SameSite=Strict, Secure unless the operator
//!   runs plain-http localhost, and holds only a random token; the store keeps its SHA-256.
//! - Every state-changing request (anything but GET/HEAD) must carry a CSRF token, as the form
//!   field `csrf` or the header `x-csrf-token` (never the URL, which reaches logs, history and
//!   the Referer of other sites): the session's token
//!   when a session exists, otherwise the anonymous double-submit cookie `myna_csrf`. Requests
//!   without it are refused with 403 before any handler runs. A file upload form
//!   (`multipart/form-data`) carries it as its `csrf` field too.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{body_limit, AppState, WebError, UPLOAD_PATHS};
use crate::app::auth::totp;
use crate::app::keys::TenantScope;
use crate::app::sessions::{self, Lookup, Session, Stage};
use crate::app::tenants::{self, Tenant};
use crate::app::users::{self, User};
use crate::app::App;
use crate::crypto;
use crate::domain::plan::Standing;
use crate::domain::role::{Permission, Role};

pub const SESSION_COOKIE: &str = "myna_sid";
/// The registrant's session on their phone pages (`/r/…`), apart from any administrator's.
pub const REGISTRANT_COOKIE: &str = "myna_rsid";

/// Which session cookie a path reads: registrant pages have their own.
pub fn session_cookie_for(path: &str) -> &'static str {
    if path.starts_with("/r/") {
        REGISTRANT_COOKIE
    } else {
        SESSION_COOKIE
    }
}
pub const CSRF_COOKIE: &str = "myna_csrf";

/// What the middleware learned about a request; handlers read it through [`Ctx`].
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Client address (socket peer, or the address API Gateway saw).
    pub ip: String,
    /// A valid session of either stage.
    pub session: Option<Session>,
    /// The request carried a session cookie that has expired.
    pub session_expired: bool,
    /// The anonymous CSRF token (double-submit cookie).
    pub anon_csrf: String,
}

impl RequestContext {
    /// The token forms on this page must carry.
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or(&self.anon_csrf, |s| &s.csrf)
    }

    pub fn active(&self) -> Option<&Session> {
        self.session.as_ref().filter(|s| s.stage == Stage::Active)
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// A `Set-Cookie` value with the product's attributes.
pub fn set_cookie(app: &App, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if app.config.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static("invalid=1"))
}

pub fn clear_cookie(app: &App, name: &str) -> HeaderValue {
    set_cookie(app, name, "", Some(0))
}

fn client_ip(app: &App, req: &Request) -> String {
    if app.config.trust_forwarded_for {
        // API Gateway appends the address it saw; anything before it came from the client.
        if let Some(last) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return last.to_string();
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// A text field among the first 64 KiB of a `multipart/form-data` body (a file upload form
/// puts its `csrf` field before the file, so the file itself is never parsed here).
async fn multipart_field(headers: &HeaderMap, body: &Bytes, name: &str) -> Option<String> {
    let head = body.slice(..body.len().min(64 * 1024));
    let mut req = Request::new(Body::from(head));
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        headers.get(header::CONTENT_TYPE)?.clone(),
    );
    let mut form = Multipart::from_request(req, &()).await.ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

/// The session and CSRF middleware (see the module docs).
pub async fn layer(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let ip = client_ip(&app, &req);
    let session_cookie = session_cookie_for(req.uri().path());
    let mut clear_session = false;
    let mut session = None;
    let mut session_expired = false;
    if let Some(token) = cookie(req.headers(), session_cookie).filter(|t| !t.is_empty()) {
        match sessions::lookup(&app, token).await {
            Ok(Lookup::Valid(mut s)) => {
                if let Err(e) = sessions::touch(&app, &mut s).await {
                    return WebError::from(e).into_response();
                }
                session = Some(s);
            }
            Ok(Lookup::Expired) => {
                session_expired = true;
                clear_session = true;
            }
            Ok(Lookup::Missing) => clear_session = true,
            Err(e) => return WebError::from(e).into_response(),
        }
    }
    let anon_cookie = cookie(req.headers(), CSRF_COOKIE)
        .filter(|v| v.len() >= 20 && v.len() <= 100)
        .map(str::to_string);
    let new_anon = anon_cookie.is_none();
    let ctx = RequestContext {
        ip,
        session,
        session_expired,
        anon_csrf: anon_cookie.clone().unwrap_or_else(crypto::random_token),
    };

    let req = if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        req
    } else {
        let (parts, body) = req.into_parts();
        let bytes = match to_bytes(body, body_limit(parts.uri.path())).await {
            Ok(bytes) => Some(bytes),
            // A file upload over its limit is routed without its body, marked [`BodyTooLarge`]:
            // its CSRF field was never read, so the upload handler answers only with its page
            // and the size message (after the route's own access check). Anything else that
            // cannot be read is refused as a form without its token.
            Err(e) if over_limit(&e) && UPLOAD_PATHS.contains(&parts.uri.path()) => None,
            Err(_) => return WebError::Csrf.into_response(),
        };
        match bytes {
            None => {
                let mut req = Request::from_parts(parts, Body::empty());
                req.extensions_mut().insert(BodyTooLarge);
                req
            }
            Some(bytes) => {
                if !csrf_ok(&parts, &bytes, &ctx, anon_cookie.as_deref()).await {
                    tracing::warn!(path = %super::loggable_path(parts.uri.path()), "request refused: CSRF token missing or wrong");
                    return WebError::Csrf.into_response();
                }
                Request::from_parts(parts, Body::from(bytes))
            }
        }
    };

    let mut req = req;
    req.extensions_mut().insert(ctx.clone());
    let mut res = next.run(req).await;
    if new_anon {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&app, CSRF_COOKIE, &ctx.anon_csrf, None),
        );
    }
    if clear_session
        && !res.headers().get_all(header::SET_COOKIE).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.starts_with(&format!("{session_cookie}=")))
        })
    {
        res.headers_mut()
            .append(header::SET_COOKIE, clear_cookie(&app, session_cookie));
    }
    res
}

/// Set on an upload whose body was over its limit and was not read (see [`layer`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyTooLarge;

fn over_limit(err: &axum::Error) -> bool {
    std::error::Error::source(err).is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
}

/// Whether the request carries the expected CSRF token: the `x-csrf-token` header, or the
/// `csrf` field of a urlencoded or multipart body.
async fn csrf_ok(
    parts: &axum::http::request::Parts,
    bytes: &Bytes,
    ctx: &RequestContext,
    anon_cookie: Option<&str>,
) -> bool {
    let multipart_csrf = match is_multipart(&parts.headers) {
        true => multipart_field(&parts.headers, bytes, "csrf").await,
        false => None,
    };
    let provided = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            is_form(&parts.headers)
                .then(|| form_field(bytes, "csrf"))
                .flatten()
        })
        .or(multipart_csrf);
    let expected = match &ctx.session {
        Some(s) => Some(s.csrf.as_str()),
        None => anon_cookie,
    };
    matches!((provided.as_deref(), expected), (Some(p), Some(e)) if crypto::ct_eq(p.as_bytes(), e.as_bytes()))
}

/// The only page a user may open while the company requires トークン認証 and they have not set
/// it up (the session layer sends every other page here).
pub fn totp_setup_path(path: &str) -> bool {
    path == "/security/totp"
}

/// The request context set by [`layer`].
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .map(Ctx)
            .ok_or(WebError::Internal)
    }
}

/// A fully logged-in administrator, with their tenant-bound store access.
#[derive(Clone)]
pub struct Authed {
    pub ctx: RequestContext,
    pub session: Session,
    pub user: User,
    pub tenant: Tenant,
    /// The only way handlers reach tenant data: bound to the session's tenant.
    pub scope: TenantScope,
    /// Where the contract stands today (a lapsed trial makes the company read-only).
    pub standing: Standing,
}

impl Authed {
    /// Who is acting, as the use cases record it (audit entries, review notes).
    pub fn actor(&self) -> crate::app::actor::Actor {
        crate::app::actor::Actor {
            user_id: self.user.id.clone(),
            name: self.user.display_name(),
            ip: self.ctx.ip.clone(),
        }
    }

    /// Whether the user's role, with the company's settings, allows `permission`: a 閲覧のみ
    /// user reveals or downloads numbers only where the company has turned that on.
    pub fn allows(&self, permission: Permission) -> bool {
        let numbers = matches!(permission, Permission::RevealNumber | Permission::ExportCsv);
        self.user.role.allows(permission)
            && !(numbers
                && self.user.role == Role::ViewOnly
                && !self.tenant.settings.view_only_may_reveal)
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Set by the route's access check (`web::access`): the user and tenant are read once.
        if let Some(authed) = parts.extensions.get::<Authed>() {
            return Ok(authed.clone());
        }
        let Ctx(ctx) = Ctx::from_request_parts(parts, app).await?;
        let Some(session) = ctx.active().cloned() else {
            return Err(WebError::LoginRequired {
                expired: ctx.session_expired,
            });
        };
        let scope = TenantScope::new(session.tenant.clone(), app.ports.store.clone());
        // A user removed (or a tenant gone) since login loses the session at once.
        let (Some(user), Some(tenant)) = (
            users::load(&scope, &session.user_id).await?,
            tenants::load(&scope).await?,
        ) else {
            sessions::end(app, &session).await?;
            return Err(WebError::LoginRequired { expired: false });
        };
        // A new password (a reminder, an administrator) ends the sessions opened before it.
        if !session.is_bound_to(&user.password_hash) {
            sessions::end(app, &session).await?;
            return Err(WebError::LoginRequired { expired: false });
        }
        // Where the company requires トークン認証, a user without it sets it up before any
        // other page (`web::security` serves the setup under `/security`).
        if tenant.settings.require_totp
            && !totp_setup_path(parts.uri.path())
            && totp::method(&scope, &user.id).await? != totp::Method::Totp
        {
            return Err(WebError::TotpSetupRequired);
        }
        let standing = crate::app::contract::standing(&tenant, app.now());
        Ok(Authed {
            ctx,
            session,
            user,
            tenant,
            scope,
            standing,
        })
    }
}

/// A login waiting for its second factor.
pub struct PendingLogin {
    pub ctx: RequestContext,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for PendingLogin {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ctx(ctx) = Ctx::from_request_parts(parts, state).await?;
        match ctx.session.clone() {
            Some(session) if session.stage == Stage::Pending => Ok(PendingLogin { ctx, session }),
            _ => Err(WebError::LoginRequired {
                expired: ctx.session_expired,
            }),
        }
    }
}

/// The header, menus and logout form of every logged-in page.
pub struct Chrome {
    pub company_name: String,
    pub user_name: String,
    pub csrf: String,
    pub menu: Vec<MenuItem>,
    /// The trial ended without 本契約: every page says the company is read-only.
    pub read_only: bool,
    /// Whether this user may make the 本契約 the banner asks for.
    pub may_contract: bool,
}

pub struct MenuItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The main menu (manual ch.3), each entry with the permission its screen needs (`None`:
/// every logged-in user). A user sees only the entries they may open.
pub const MAIN_MENU: [(&str, &str, Option<Permission>); 5] = [
    ("/home", "HOME", None),
    (
        "/registrants",
        "マイナンバー管理",
        Some(Permission::ViewRegistrants),
    ),
    ("/users", "ログインユーザ", Some(Permission::ManageUsers)),
    ("/audit-log", "操作履歴", Some(Permission::ViewAuditLog)),
    ("/guide", "操作ガイド", None),
];

impl Chrome {
    pub fn new(authed: &Authed, current: &str) -> Chrome {
        Chrome {
            company_name: authed.tenant.company_name.clone(),
            user_name: authed.user.display_name(),
            csrf: authed.session.csrf.clone(),
            menu: MAIN_MENU
                .iter()
                .filter(|(_, _, needs)| needs.is_none_or(|p| authed.allows(p)))
                .map(|(href, label, _)| MenuItem {
                    href,
                    label,
                    current: *href == current,
                })
                .collect(),
            read_only: authed.standing.read_only(),
            may_contract: authed.allows(Permission::ChangePlan),
        }
    }
}
