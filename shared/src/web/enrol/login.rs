//! The link's login page (`/r/{tenant}/{token}`): opening the emailed link, the password
//! check, and the messages for a link that is used up, expired or locked.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::{locked_page, message, Who};
use crate::app::enrol::{self, Entry, LoginError, LoginForm, Opened};
use crate::app::sessions;
use crate::app::App;
use crate::domain::identity::password_forbidden_part;
use crate::domain::purpose::Purpose;
use crate::web::session::{set_cookie, Ctx, REGISTRANT_COOKIE};
use crate::web::{render, render_status, AppState, WebError};

#[derive(Template)]
#[template(path = "enrol_login.html")]
struct LoginView {
    who: Who,
    action: String,
    csrf: String,
    first_visit: bool,
    passcode: bool,
    error: Option<String>,
    purposes: Vec<&'static str>,
    qr: String,
    /// What a new password must not contain (the mail address's local part), said up front.
    forbidden_part: Option<String>,
}

fn link_page(app: &App, entry: &Entry, tenant: &str, token: &str, csrf: &str) -> LoginView {
    let url = crate::app::collection::link_url(app, entry.scope.tenant(), token);
    LoginView {
        who: Who::of(&entry.tenant, &entry.registrant),
        action: format!("/r/{tenant}/{token}"),
        csrf: csrf.to_string(),
        first_visit: entry.first_visit(),
        passcode: entry.tenant.passcode_hash.is_some(),
        error: None,
        purposes: Purpose::ALL.iter().map(|p| p.label()).collect(),
        qr: crate::web::qr::svg(&url).unwrap_or_default(),
        forbidden_part: entry
            .registrant
            .email
            .as_deref()
            .and_then(password_forbidden_part),
    }
}

pub(super) fn link_problem(opened: &Opened) -> Option<Response> {
    let ask =
        "お手数ですが、所属会社のマイナンバー担当者に、収集メールの再送信を依頼してください。";
    match opened {
        Opened::Ready(_) => None,
        Opened::Expired => Some(message(
            StatusCode::GONE,
            "URLの有効期限が切れています",
            "このマイナンバー登録用URLの有効期限（90日間）が切れています。",
            Some(ask),
        )),
        Opened::Replaced => Some(message(
            StatusCode::GONE,
            "このURLは使えません",
            "このURLの後に新しい登録用URLが発行されたため、このURLは使えなくなりました。最新のメール（またはQRコード）のURLを開いてください。",
            Some(ask),
        )),
        Opened::Revoked => Some(message(
            StatusCode::GONE,
            "このURLは使えません",
            "所属会社のマイナンバー担当者により、このURLでのマイナンバー登録の受付が終了しました。",
            Some("ご不明な点は、所属会社のマイナンバー担当者にお問い合わせください。"),
        )),
        Opened::Unknown => Some(message(
            StatusCode::NOT_FOUND,
            "このURLは無効です",
            "URLが正しくないか、登録が取り消されています。メールに記載されたURLをそのまま開いてください。",
            Some(ask),
        )),
    }
}

pub(super) async fn entry(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Path((tenant, token)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let opened = enrol::open(&app, &tenant, &token).await?;
    if let Some(problem) = link_problem(&opened) {
        return Ok(problem);
    }
    let Opened::Ready(entry) = opened else {
        return Err(WebError::Internal);
    };
    if entry.registrant.login_lock {
        return Ok(locked_page());
    }
    Ok(render(&link_page(
        &app,
        &entry,
        &tenant,
        &token,
        ctx.csrf(),
    )))
}

pub(super) async fn entry_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Path((tenant, token)): Path<(String, String)>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let opened = enrol::open(&app, &tenant, &token).await?;
    if let Some(problem) = link_problem(&opened) {
        return Ok(problem);
    }
    let Opened::Ready(entry) = opened else {
        return Err(WebError::Internal);
    };
    match enrol::login(&app, &entry, &ctx.ip, &form).await {
        Ok(session_token) => {
            if let Some(old) = ctx.session.as_ref() {
                sessions::end(&app, old).await?;
            }
            let mut res = Redirect::to("/r/me").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, REGISTRANT_COOKIE, &session_token, None),
            );
            Ok(res)
        }
        Err(LoginError::Locked) => Ok(locked_page()),
        Err(LoginError::Infra(e)) => Err(e.into()),
        Err(e) => {
            let (status, retry_after) = match e {
                LoginError::Blocked { seconds } => (StatusCode::TOO_MANY_REQUESTS, Some(seconds)),
                LoginError::WrongPassword | LoginError::WrongPasscode => {
                    (StatusCode::UNAUTHORIZED, None)
                }
                _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
            };
            let mut view = link_page(&app, &entry, &tenant, &token, ctx.csrf());
            view.error = Some(e.to_string());
            let mut res = render_status(status, &view);
            crate::web::with_retry_after(&mut res, retry_after);
            Ok(res)
        }
    }
}
