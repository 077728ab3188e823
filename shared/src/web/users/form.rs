//! ログインユーザ登録 and 編集 (manual ch.5) with 入力確認 → 登録. The initial password typed on
//! 新規登録 is never echoed: from the first valid post on it travels sealed under the tenant's
//! data key and bound to this session (`web::confirm::seal_secret`), through 入力確認, 戻る and
//! a form sent back with mistakes, so nothing typed is lost and nothing secret is on a page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{target, user_error};
use crate::app::signup::FieldErrors;
use crate::app::users::form::{self as user_form, UserDraft, UserInput};
use crate::app::users::manage::{self, UserError};
use crate::app::users::{User, UserKind};
use crate::app::App;
use crate::domain::role::Role;
use crate::web::confirm::{open_secret, seal_secret, ConfirmView};
use crate::web::session::{Authed, Chrome};
use crate::web::{render, render_status, AppState, WebError};

/// The sealed password's name on the pages and in the sealing's associated data.
const SEALED: &str = "sealed_password";

#[derive(Template)]
#[template(path = "users_form.html")]
struct FormView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    form: UserInput,
    errors: FieldErrors,
    /// 新規登録 asks for the password; 編集 does not.
    with_password: bool,
    /// The password typed before, sealed (the fields may stay empty).
    sealed_password: String,
    roles: Vec<(&'static str, &'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    /// 編集 of another user: the link to reset their second factor.
    reset_href: Option<String>,
}

impl FormView {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Posted {
    #[serde(flatten)]
    input: UserInput,
    sealed_password: String,
    confirmed: String,
    back: String,
}

/// What differs between 新規登録 and 編集 of one user.
struct Mode {
    existing: Option<User>,
}

impl Mode {
    fn heading(&self) -> &'static str {
        match self.existing {
            None => "ログインユーザ登録",
            Some(_) => "ログインユーザ編集",
        }
    }

    fn action(&self) -> String {
        match &self.existing {
            None => "/users/new".into(),
            Some(u) => format!("/users/{}/edit", u.id),
        }
    }

    fn with_password(&self) -> bool {
        self.existing.is_none()
    }
}

fn page(
    authed: &Authed,
    mode: &Mode,
    form: UserInput,
    errors: FieldErrors,
    sealed_password: String,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let reset_href = mode
        .existing
        .as_ref()
        .filter(|u| u.id != authed.user.id)
        .map(|u| format!("/users/{}/second-factor/reset", u.id));
    render_status(
        status,
        &FormView {
            chrome: Chrome::new(authed, "/users"),
            heading: mode.heading(),
            action: mode.action(),
            form: UserInput {
                password: String::new(),
                password_confirm: String::new(),
                ..form
            },
            errors,
            with_password: mode.with_password(),
            sealed_password,
            roles: Role::ALL
                .iter()
                .map(|r| (r.code(), r.label(), r.description()))
                .collect(),
            kinds: UserKind::ALL
                .iter()
                .map(|k| (k.code(), k.label()))
                .collect(),
            reset_href,
        },
    )
}

pub(super) async fn new_form(authed: Authed) -> Response {
    let form = UserInput {
        role: Role::ViewOnly.code().into(),
        kind: UserKind::Employee.code().into(),
        ..UserInput::default()
    };
    page(
        &authed,
        &Mode { existing: None },
        form,
        Vec::new(),
        String::new(),
    )
}

pub(super) async fn edit_form(
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let user = target(&authed, &id).await?;
    let form = user_form::input_of(&user);
    Ok(page(
        &authed,
        &Mode {
            existing: Some(user),
        },
        form,
        Vec::new(),
        String::new(),
    ))
}

pub(super) async fn new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    submit(&app, &authed, Mode { existing: None }, posted).await
}

pub(super) async fn edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    let user = target(&authed, &id).await?;
    submit(
        &app,
        &authed,
        Mode {
            existing: Some(user),
        },
        posted,
    )
    .await
}

/// The password of this post: the fields when typed, else the sealed one from before. A sealed
/// token that no longer opens (another session) counts as not typed.
async fn password_of(
    app: &App,
    authed: &Authed,
    posted: &Posted,
) -> Result<(String, String), WebError> {
    if !posted.input.password.is_empty() || posted.sealed_password.is_empty() {
        return Ok((
            posted.input.password.clone(),
            posted.input.password_confirm.clone(),
        ));
    }
    let opened = open_secret(app, authed, SEALED, &posted.sealed_password)
        .await?
        .unwrap_or_default();
    Ok((opened.clone(), opened))
}

fn confirm_page(authed: &Authed, mode: &Mode, draft: &UserDraft, sealed: String) -> Response {
    let mut rows = vec![
        (
            "氏名",
            format!("{} {}", draft.family_name, draft.given_name),
        ),
        ("メールアドレス", draft.email.as_str().to_string()),
    ];
    if mode.with_password() {
        rows.push(("パスワード", "（入力済み・表示しません）".into()));
    }
    rows.extend([
        ("部署", draft.department.clone()),
        ("権限", draft.role.label().to_string()),
        ("属性", draft.kind.label().to_string()),
        ("備考", draft.note.clone()),
    ]);
    let mut hidden = vec![
        ("family_name", draft.family_name.clone()),
        ("given_name", draft.given_name.clone()),
        ("email", draft.email.as_str().to_string()),
        ("department", draft.department.clone()),
        ("role", draft.role.code().to_string()),
        ("kind", draft.kind.code().to_string()),
        ("note", draft.note.clone()),
        ("confirmed", "1".into()),
    ];
    if mode.with_password() {
        hidden.push((SEALED, sealed));
    }
    render(&ConfirmView {
        chrome: Chrome::new(authed, "/users"),
        heading: mode.heading(),
        action: mode.action(),
        rows,
        hidden,
        duplicates: Vec::new(),
    })
}

async fn submit(
    app: &App,
    authed: &Authed,
    mode: Mode,
    posted: Posted,
) -> Result<Response, WebError> {
    let (password, confirm) = password_of(app, authed, &posted).await?;
    let input = UserInput {
        password: password.clone(),
        password_confirm: confirm,
        ..posted.input.clone()
    };
    let checked = user_form::validate(&input, mode.with_password());
    // Kept sealed for the next page when the password itself passed its checks.
    let password_ok = mode.with_password()
        && !password.is_empty()
        && checked.as_ref().err().is_none_or(|errors| {
            !errors
                .iter()
                .any(|(f, _)| *f == "password" || *f == "password_confirm")
        });
    let sealed = if password_ok {
        seal_secret(app, authed, SEALED, &password).await?
    } else {
        String::new()
    };
    if !posted.back.is_empty() {
        return Ok(page(authed, &mode, posted.input, Vec::new(), sealed));
    }
    let draft = match checked {
        Ok(d) => d,
        Err(errors) => return Ok(page(authed, &mode, posted.input, errors, sealed)),
    };
    if posted.confirmed.is_empty() {
        return Ok(confirm_page(authed, &mode, &draft, sealed));
    }
    let saved = match &mode.existing {
        None => {
            manage::create(
                app,
                &authed.scope,
                &authed.actor(),
                &authed.tenant.company_name,
                &authed.tenant.customer_number,
                draft,
                password,
            )
            .await
        }
        Some(u) => manage::update(app, &authed.scope, &authed.actor(), &u.id, draft).await,
    };
    let done = if mode.existing.is_none() {
        "created"
    } else {
        "updated"
    };
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("/users?done={done}")).into_response()),
        Err(UserError::Invalid(errors)) => Ok(page(authed, &mode, posted.input, errors, sealed)),
        Err(UserError::LastOwner) => {
            let errors = vec![("role", UserError::LastOwner.to_string())];
            Ok(page(authed, &mode, posted.input, errors, sealed))
        }
        Err(e) => user_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_reads_the_form_fields_and_the_confirm_markers() {
        let posted: Posted = serde_urlencoded::from_str(
            "family_name=%E4%BD%90%E8%97%A4&email=a%40b.jp&role=manager&confirmed=1&sealed_password=x",
        )
        .unwrap();
        assert_eq!(posted.input.family_name, "佐藤");
        assert_eq!(posted.input.email, "a@b.jp");
        assert_eq!(posted.input.role, "manager");
        assert_eq!(posted.confirmed, "1");
        assert_eq!(posted.sealed_password, "x");
    }
}
