//! 企業パスコード: the passcode a registrant types on the phone before entering a number.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::audit;
use crate::web::session::{Authed, Chrome};
use crate::web::{render, render_status, AppState, WebError};

#[derive(Template)]
#[template(path = "collection_passcode.html")]
struct PasscodeView {
    chrome: Chrome,
    passcode_set: bool,
    error: Option<String>,
    flash: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn passcode_form(
    authed: Authed,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    Ok(render(&PasscodeView {
        chrome: Chrome::new(&authed, "/registrants"),
        passcode_set: authed.tenant.passcode_set,
        error: None,
        flash: q
            .done
            .map(|_| "パスコードを設定しました。登録者へ事前にパスコードを通知してください。"),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PasscodeForm {
    passcode: String,
}

/// Checks a company passcode: 4 to 20 half-width letters or digits.
pub(in crate::web) fn check_passcode(raw: &str) -> Result<&str, &'static str> {
    let p = raw.trim();
    if p.len() < 4 || p.len() > 20 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("パスコードは半角英数字4〜20文字で入力してください。");
    }
    Ok(p)
}

pub(super) async fn passcode_submit(
    State(app): State<AppState>,
    authed: Authed,
    axum::Form(f): axum::Form<PasscodeForm>,
) -> Result<Response, WebError> {
    let passcode = match check_passcode(&f.passcode) {
        Ok(p) => p,
        Err(m) => {
            return Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasscodeView {
                    chrome: Chrome::new(&authed, "/registrants"),
                    passcode_set: authed.tenant.passcode_set,
                    error: Some(m.into()),
                    flash: None,
                },
            ))
        }
    };
    crate::app::contractor::set_passcode(&app, &authed.scope, Some(passcode)).await?;
    audit(
        &app,
        &authed,
        "tenant.passcode",
        None,
        "企業パスコードの設定".into(),
    )
    .await?;
    Ok(Redirect::to("/collection/passcode?done=1").into_response())
}
