//! Sign-up, login (password, then the mailed code), logout (manual ch.2). Public pages.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{clear_cookie, set_cookie, Ctx, PendingLogin, SESSION_COOKIE};
use super::{render, render_status, with_retry_after, AppState, WebError};
use crate::app::auth::{self as login, totp, LoginError, LoginInput, OtpError};
use crate::app::keys::TenantScope;
use crate::app::signup::{self, FieldErrors, SignupError, SignupInput};
use crate::domain::identity::CustomerNumber;

/// Public pages, but the second factor (after the password) and logout (which ends whatever
/// session the browser holds, and is harmless without one).
pub fn routes() -> Routes {
    let anyone = Access::Public;
    Routes::new()
        .get("/", anyone, root)
        .get("/static/app.css", anyone, super::stylesheet)
        .get("/static/favicon.png", anyone, super::favicon)
        .get("/static/upload.js", anyone, super::upload_script)
        .get("/static/collection.js", anyone, super::collection_script)
        .get("/static/progress.js", anyone, super::progress_script)
        .get("/static/viewer.js", anyone, super::viewer_script)
        .get("/static/enrol.js", anyone, super::enrol_script)
        .get("/signup", anyone, signup_form)
        .post("/signup", anyone, signup_submit)
        .get("/signup/done", anyone, signup_done)
        .get("/login", anyone, login_form)
        .post("/login", anyone, login_submit)
        .get("/login/otp", Access::SecondFactor, otp_form)
        .post("/login/otp", Access::SecondFactor, otp_submit)
        .post("/logout", anyone, logout)
}

async fn root(State(app): State<AppState>, Ctx(ctx): Ctx) -> Result<Redirect, WebError> {
    if ctx.active().is_some() {
        return Ok(Redirect::to("/home"));
    }
    if app.config.signup_open && signup::install_is_empty(&app).await? {
        return Ok(Redirect::to("/signup"));
    }
    Ok(Redirect::to("/login"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignupForm {
    pub company_name: String,
    pub family_name: String,
    pub given_name: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf: &'a str,
    form: &'a SignupForm,
    errors: FieldErrors,
    /// Why the form was not accepted at all (too many sign-ups from this address).
    refused: Option<String>,
}

impl SignupPage<'_> {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }
}

#[derive(Template)]
#[template(path = "signup_closed.html")]
struct SignupClosedPage;

#[derive(Template)]
#[template(path = "signup_done.html")]
struct SignupDonePage;

async fn signup_form(State(app): State<AppState>, Ctx(ctx): Ctx) -> Response {
    if !app.config.signup_open {
        return render_status(StatusCode::FORBIDDEN, &SignupClosedPage);
    }
    render(&SignupPage {
        csrf: ctx.csrf(),
        form: &SignupForm::default(),
        errors: Vec::new(),
        refused: None,
    })
}

async fn signup_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Form(form): Form<SignupForm>,
) -> Result<Response, WebError> {
    let input = SignupInput {
        company_name: form.company_name.clone(),
        family_name: form.family_name.clone(),
        given_name: form.given_name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        password_confirm: form.password_confirm.clone(),
    };
    match signup::signup(&app, input, &ctx.ip).await {
        Ok(_) => Ok(Redirect::to("/signup/done").into_response()),
        Err(SignupError::Closed) => Ok(render_status(StatusCode::FORBIDDEN, &SignupClosedPage)),
        Err(e @ (SignupError::Invalid(_) | SignupError::TooMany { .. })) => {
            // The form comes back filled, except for the passwords.
            let kept = SignupForm {
                password: String::new(),
                password_confirm: String::new(),
                ..form
            };
            let message = e.to_string();
            let (status, errors, refused, retry_after) = match e {
                SignupError::TooMany { seconds } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    Vec::new(),
                    Some(message),
                    Some(seconds),
                ),
                SignupError::Invalid(errors) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, errors, None, None)
                }
                _ => (StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), None, None),
            };
            let mut res = render_status(
                status,
                &SignupPage {
                    csrf: ctx.csrf(),
                    form: &kept,
                    errors,
                    refused,
                },
            );
            with_retry_after(&mut res, retry_after);
            Ok(res)
        }
        Err(SignupError::Infra(e)) => Err(e.into()),
    }
}

async fn signup_done() -> Response {
    render(&SignupDonePage)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    email: &'a str,
    customer_number: &'a str,
    show_option: bool,
    notice: Option<&'a str>,
    error: Option<String>,
    signup_open: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    expired: Option<String>,
    logout: Option<String>,
}

async fn login_form(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Query(q): Query<LoginQuery>,
) -> Response {
    if ctx.active().is_some() {
        return Redirect::to("/home").into_response();
    }
    let notice = if q.expired.is_some() {
        Some("セッションの有効期限が切れました。お手数ですが、再度ログインしてください。")
    } else if q.logout.is_some() {
        Some("ログアウトしました。")
    } else {
        None
    };
    render(&LoginPage {
        csrf: ctx.csrf(),
        email: "",
        customer_number: "",
        show_option: false,
        notice,
        error: None,
        signup_open: app.config.signup_open,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    email: String,
    password: String,
    customer_number: String,
}

async fn login_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let input = LoginInput {
        email: form.email.clone(),
        password: form.password,
        customer_number: Some(form.customer_number.clone()),
    };
    let status = match login::password_step(&app, input, &ctx.ip).await {
        Ok(token) => {
            let mut res = Redirect::to("/login/otp").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &token, None),
            );
            return Ok(res);
        }
        Err(LoginError::Infra(e)) => return Err(e.into()),
        Err(other) if other.retry_after().is_some() => (StatusCode::TOO_MANY_REQUESTS, other),
        Err(other) => (StatusCode::UNAUTHORIZED, other),
    };
    let (code, error) = status;
    let retry_after = error.retry_after();
    let mut res = render_status(
        code,
        &LoginPage {
            csrf: ctx.csrf(),
            email: form.email.trim(),
            show_option: matches!(error, LoginError::NeedCustomerNumber)
                || !form.customer_number.is_empty(),
            customer_number: form.customer_number.trim(),
            notice: None,
            error: Some(login_error_text(&error, &form.customer_number)),
            signup_open: app.config.signup_open,
        },
    );
    with_retry_after(&mut res, retry_after);
    Ok(res)
}

/// The login page's message. With a customer number typed (オプションログイン), a refusal names
/// it: a malformed one by its rule, a well-formed one among the three things that can be wrong
/// (naming it alone would tell a stranger which numbers exist or that the password was right).
fn login_error_text(error: &LoginError, customer_number: &str) -> String {
    let typed = !customer_number.trim().is_empty();
    match (error, CustomerNumber::parse(customer_number)) {
        // A malformed お客様番号 is told its rule, whatever else was wrong.
        (LoginError::Invalid | LoginError::WrongCustomerNumber, Err(e)) if typed => e.to_string(),
        // A wrong password with a number typed: any of the three may be wrong; say which only
        // when the password was right (WrongCustomerNumber), so strangers learn nothing.
        (LoginError::Invalid, Ok(_)) if typed => "メールアドレス、パスワードまたはお客様番号が正しくありません。お客様番号は、お申し込み完了時のメールに記載された7桁の番号です。".into(),
        (other, _) => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "otp.html")]
struct OtpPage<'a> {
    csrf: &'a str,
    error: Option<String>,
    /// The code comes from the user's authenticator app, not a mail.
    totp: bool,
}

/// Whether the pending login's user answers with their authenticator app.
async fn uses_totp(app: &AppState, pending: &PendingLogin) -> Result<bool, WebError> {
    let scope = TenantScope::new(pending.session.tenant.clone(), app.ports.store.clone());
    Ok(totp::method(&scope, &pending.session.user_id).await? == totp::Method::Totp)
}

async fn otp_form(
    State(app): State<AppState>,
    pending: PendingLogin,
) -> Result<Response, WebError> {
    Ok(render(&OtpPage {
        csrf: &pending.session.csrf,
        error: None,
        totp: uses_totp(&app, &pending).await?,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OtpForm {
    code: String,
}

async fn otp_submit(
    State(app): State<AppState>,
    pending: PendingLogin,
    Form(form): Form<OtpForm>,
) -> Result<Response, WebError> {
    let error = match login::otp_step(&app, &pending.session, &form.code, &pending.ctx.ip).await {
        Ok(token) => {
            let mut res = Redirect::to("/home").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, SESSION_COOKIE, &token, None),
            );
            return Ok(res);
        }
        Err(OtpError::Infra(e)) => return Err(e.into()),
        Err(e) => e,
    };
    if matches!(error, OtpError::Wrong) {
        return Ok(render_status(
            StatusCode::UNAUTHORIZED,
            &OtpPage {
                csrf: &pending.session.csrf,
                error: Some(error.to_string()),
                totp: uses_totp(&app, &pending).await?,
            },
        ));
    }
    // The pending login is gone: back to the login form, with the reason.
    let status = if matches!(error, OtpError::Locked) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut res = render_status(
        status,
        &LoginPage {
            csrf: &pending.ctx.anon_csrf,
            email: "",
            customer_number: "",
            show_option: false,
            notice: None,
            error: Some(error.to_string()),
            signup_open: app.config.signup_open,
        },
    );
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, SESSION_COOKIE));
    Ok(res)
}

async fn logout(State(app): State<AppState>, Ctx(ctx): Ctx) -> Result<Response, WebError> {
    if let Some(session) = &ctx.session {
        login::logout(&app, session, &ctx.ip).await?;
    }
    let mut res = Redirect::to("/login?logout=1").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, SESSION_COOKIE));
    Ok(res)
}
