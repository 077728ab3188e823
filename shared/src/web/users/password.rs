//! パスワード変更 (manual ch.5): a 最高権限 sets another user's password from the list (PW変更);
//! each user changes their own at `/account/password` with the current password, which is rate
//! limited like the re-entry before a number is shown. Passwords are never echoed.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{target, user_error};
use crate::app::signup::FieldErrors;
use crate::app::users::manage::{self, UserError};
use crate::web::session::{Authed, Chrome};
use crate::web::{render, render_status, AppState, MessagePage, WebError};

#[derive(Template)]
#[template(path = "users_password.html")]
struct PasswordView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    /// Whose password (another user's name), or `None` for one's own.
    whose: Option<String>,
    /// One's own change asks for the current password.
    ask_current: bool,
    errors: FieldErrors,
    cancel_href: &'static str,
}

impl PasswordView {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Posted {
    current_password: String,
    password: String,
    password_confirm: String,
}

fn view(authed: &Authed, whose: Option<(&str, String)>, errors: FieldErrors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (action, whose, section, cancel_href) = match whose {
        Some((id, name)) => (
            format!("/users/{id}/password"),
            Some(name),
            "/users",
            "/users",
        ),
        None => ("/account/password".to_string(), None, "", "/home"),
    };
    render_status(
        status,
        &PasswordView {
            chrome: Chrome::new(authed, section),
            heading: "パスワード変更",
            action,
            ask_current: whose.is_none(),
            whose,
            errors,
            cancel_href,
        },
    )
}

/// PW変更 of the list. One's own row leads to the own screen (the current password is asked).
pub(super) async fn user_form(
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    if id == authed.user.id {
        return Ok(Redirect::to("/account/password").into_response());
    }
    let user = target(&authed, &id).await?;
    Ok(view(
        &authed,
        Some((&user.id, user.display_name())),
        Vec::new(),
    ))
}

pub(super) async fn user_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    if id == authed.user.id {
        return Ok(Redirect::to("/account/password").into_response());
    }
    let user = target(&authed, &id).await?;
    match manage::set_password(
        &app,
        &authed.scope,
        &authed.actor(),
        &user.id,
        posted.password,
        &posted.password_confirm,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/users?done=password").into_response()),
        Err(UserError::Invalid(errors)) => {
            Ok(view(&authed, Some((&user.id, user.display_name())), errors))
        }
        Err(e) => user_error(e),
    }
}

pub(super) async fn own_form(authed: Authed) -> Response {
    view(&authed, None, Vec::new())
}

pub(super) async fn own_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    let outcome = manage::change_own_password(
        &app,
        &authed.scope,
        &authed.user,
        &authed.ctx.ip,
        &posted.current_password,
        posted.password,
        &posted.password_confirm,
    )
    .await;
    match outcome {
        Ok(hash) => {
            // This session stays; every other session of the user ends (it was opened with
            // the old password).
            let mut session = authed.session.clone();
            crate::app::sessions::rebind(&app, &mut session, &hash).await?;
            Ok(render(&MessagePage {
            title: "パスワードを変更しました",
            message: "このまま操作を続けられます。ほかの端末でのログインは終了しました。次回のログインから、新しいパスワードをお使いください。",
            back_href: "/home",
            back_label: "HOMEへ",
        }))
        }
        Err(UserError::Invalid(errors)) => Ok(view(&authed, None, errors)),
        Err(e @ UserError::WrongPassword) => Ok(view(
            &authed,
            None,
            vec![("current_password", e.to_string())],
        )),
        Err(e @ UserError::Locked) => {
            let mut res = view(&authed, None, vec![("current_password", e.to_string())]);
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            Ok(res)
        }
        Err(e) => user_error(e),
    }
}
