//! リマインダー pages (manual ch.2, ログインできない場合): choose what was forgotten and give
//! the address → enter the mailed セキュリティコード → a new password, or the お客様番号 shown.
//! Public pages: the browser holds the reminder's ticket in its own cookie (`myna_reminder`,
//! HttpOnly, SameSite=Strict, 30 minutes), never in the URL.
//!
//! Not here: the rules (`app::reminders`). Routes belong to the login function.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{clear_cookie, cookie, set_cookie, Ctx};
use super::with_retry_after;
use super::{render, render_status, AppState, WebError};
use crate::app::reminders::{self, Kind, Opened, ReminderError, ResetError};
use crate::domain::identity::{password_forbidden_part, PASSWORD_MIN_LEN};

/// The cookie holding the reminder's ticket token.
pub const REMINDER_COOKIE: &str = "myna_reminder";

pub fn routes() -> Routes {
    Routes::new()
        .get("/login/reminder", Access::Public, request_form)
        .post("/login/reminder", Access::Public, request_submit)
        .get("/login/reminder/code", Access::Public, code_form)
        .post("/login/reminder/code", Access::Public, code_submit)
        .get("/login/reminder/password", Access::Public, password_form)
        .post("/login/reminder/password", Access::Public, password_submit)
}

fn ticket(headers: &HeaderMap) -> String {
    cookie(headers, REMINDER_COOKIE)
        .unwrap_or_default()
        .to_string()
}

#[derive(Template)]
#[template(path = "reminder_request.html")]
struct RequestPage<'a> {
    csrf: &'a str,
    kind: &'a str,
    email: &'a str,
    error: Option<String>,
}

async fn request_form(Ctx(ctx): Ctx) -> Response {
    render(&RequestPage {
        csrf: ctx.csrf(),
        kind: "",
        email: "",
        error: None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestForm {
    kind: String,
    email: String,
}

async fn request_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Form(f): Form<RequestForm>,
) -> Result<Response, WebError> {
    let kind = Kind::from_code(&f.kind);
    let error = match reminders::request(&app, kind, &f.email, &ctx.ip).await {
        Ok(token) => {
            let mut res = Redirect::to("/login/reminder/code").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    &app,
                    REMINDER_COOKIE,
                    &token,
                    Some(reminders::CODE_VALIDITY.whole_seconds()),
                ),
            );
            return Ok(res);
        }
        Err(ReminderError::Infra(e)) => return Err(e.into()),
        Err(e) => e,
    };
    let (status, retry) = match error {
        ReminderError::TooMany { seconds } => (StatusCode::TOO_MANY_REQUESTS, Some(seconds)),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
    };
    let mut res = render_status(
        status,
        &RequestPage {
            csrf: ctx.csrf(),
            kind: &f.kind,
            email: f.email.trim(),
            error: Some(error.to_string()),
        },
    );
    with_retry_after(&mut res, retry);
    Ok(res)
}

#[derive(Template)]
#[template(path = "reminder_code.html")]
struct CodePage<'a> {
    csrf: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reminder_message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: String,
}

/// The ticket is gone (expired, used, voided): say so, forget the cookie, offer a new start.
fn start_again(app: &AppState, message: String, status: StatusCode) -> Response {
    let mut res = render_status(
        status,
        &MessagePage {
            title: "ログインできない場合",
            message,
        },
    );
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(app, REMINDER_COOKIE));
    res
}

async fn code_form(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if reminders::kind_of(&app, &ticket(&headers)).await?.is_none() {
        return Ok(start_again(
            &app,
            ReminderError::Expired.to_string(),
            StatusCode::GONE,
        ));
    }
    Ok(render(&CodePage {
        csrf: ctx.csrf(),
        error: None,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

#[derive(Template)]
#[template(path = "reminder_numbers.html")]
struct NumbersPage {
    numbers: Vec<(String, String)>,
}

async fn code_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let error = match reminders::verify_code(&app, &ticket(&headers), &f.code, &ctx.ip).await {
        Ok(Opened::Password) => return Ok(Redirect::to("/login/reminder/password").into_response()),
        Ok(Opened::CustomerNumbers(numbers)) => {
            let mut res = render(&NumbersPage { numbers });
            res.headers_mut()
                .append(header::SET_COOKIE, clear_cookie(&app, REMINDER_COOKIE));
            return Ok(res);
        }
        Err(ReminderError::Infra(e)) => return Err(e.into()),
        Err(e) => e,
    };
    match error {
        ReminderError::Wrong => Ok(render_status(
            StatusCode::UNAUTHORIZED,
            &CodePage {
                csrf: ctx.csrf(),
                error: Some(error.to_string()),
            },
        )),
        ReminderError::Locked => Ok(render_status(
            StatusCode::TOO_MANY_REQUESTS,
            &CodePage {
                csrf: ctx.csrf(),
                error: Some(error.to_string()),
            },
        )),
        other => Ok(start_again(&app, other.to_string(), StatusCode::GONE)),
    }
}

#[derive(Template)]
#[template(path = "reminder_password.html")]
struct PasswordPage<'a> {
    csrf: &'a str,
    min_len: usize,
    forbidden: Option<String>,
    errors: Vec<String>,
}

async fn password_page(
    app: &AppState,
    csrf: &str,
    token: &str,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let forbidden = reminders::address_of(app, token)
        .await?
        .and_then(|e| password_forbidden_part(&e));
    let status = match errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok(render_status(
        status,
        &PasswordPage {
            csrf,
            min_len: PASSWORD_MIN_LEN,
            forbidden,
            errors,
        },
    ))
}

async fn password_form(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let token = ticket(&headers);
    if !reminders::is_open(&app, &token).await? {
        return Ok(start_again(
            &app,
            ResetError::Expired.to_string(),
            StatusCode::GONE,
        ));
    }
    password_page(&app, ctx.csrf(), &token, Vec::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    password: String,
    password_confirm: String,
}

async fn password_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let token = ticket(&headers);
    match reminders::reset_password(&app, &token, &f.password, &f.password_confirm, &ctx.ip).await {
        Ok(()) => {
            let mut res = render(&MessagePage {
                title: "パスワードのリセット",
                message: "パスワードを変更しました。ログイン中だった画面はすべてログアウトしています。新しいパスワードで、もう一度ログインしてください。".into(),
            });
            res.headers_mut()
                .append(header::SET_COOKIE, clear_cookie(&app, REMINDER_COOKIE));
            Ok(res)
        }
        Err(ResetError::Invalid(errors)) => password_page(&app, ctx.csrf(), &token, errors).await,
        Err(ResetError::Expired) => Ok(start_again(
            &app,
            ResetError::Expired.to_string(),
            StatusCode::GONE,
        )),
        Err(ResetError::Infra(e)) => Err(e.into()),
    }
}
