//! セキュリティ (manual ch.13): each login user chooses their own second factor (メール or
//! トークン, with the app's QR code and key), and a 最高権限 user sets the company's security
//! settings (トークン認証 for everyone; 閲覧のみ may reveal numbers; the 法定保存期間 behind a
//! proposed 削除予定日) through 入力確認, and puts
//! another user back on メール認証 (`/users/{id}/second-factor/reset`, linked from the user's
//! edit page).
//!
//! Not here: the rules (`app::auth::totp`) and the login's use of the factor (`web::auth`).
//! Routes belong to the account-administration function.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::confirm::ConfirmView;
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::auth::totp::{self, Method, TotpError};
use crate::app::keys::RecordId;
use crate::app::security::{self as company, SettingsError};
use crate::app::tenants::TenantSettings;
use crate::app::users;
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    Routes::new()
        .get("/security", Access::Staff, page)
        .post("/security/method", Access::Staff, choose_method)
        .get("/security/totp", Access::Staff, totp_form)
        .post("/security/totp", Access::Staff, totp_submit)
        .get("/security/mail", Access::Staff, mail_form)
        .post("/security/mail", Access::Staff, mail_submit)
        .post(
            "/security/settings",
            Access::Can(Permission::ChangeSecurity),
            settings_submit,
        )
        .get(
            "/users/{id}/second-factor/reset",
            Access::Can(Permission::ManageUsers),
            reset_form,
        )
        .post(
            "/users/{id}/second-factor/reset",
            Access::Can(Permission::ManageUsers),
            reset_submit,
        )
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    flash: Option<&'static str>,
    error: Option<String>,
    totp: bool,
    method_label: &'static str,
    required: bool,
    can_settings: bool,
    settings: TenantSettings,
    /// 法定保存期間 as typed (kept when refused).
    retention_input: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

fn flash(done: &str) -> Option<&'static str> {
    match done {
        "totp" => Some("二段階認証方式をトークン認証に変更しました。次回のログインから、認証アプリのコードを入力してください。"),
        "mail" => Some("二段階認証方式をメール認証に変更しました。次回のログインから、メールで届くコードを入力してください。"),
        "settings" => Some("会社のセキュリティ設定を変更しました。"),
        "already" => Some("すでにトークン認証が設定されています。"),
        _ => None,
    }
}

async fn security_page(
    authed: &Authed,
    flash: Option<&'static str>,
    error: Option<String>,
    settings: TenantSettings,
) -> Result<SecurityPage, WebError> {
    let method = totp::method(&authed.scope, &authed.user.id).await?;
    Ok(SecurityPage {
        chrome: Chrome::new(authed, "/security"),
        flash,
        error,
        totp: method == Method::Totp,
        method_label: method.label(),
        required: authed.tenant.settings.require_totp,
        can_settings: authed.allows(Permission::ChangeSecurity),
        settings,
        retention_input: settings.retention_years.to_string(),
    })
}

async fn page(authed: Authed, Query(q): Query<Done>) -> Result<Response, WebError> {
    let settings = authed.tenant.settings;
    Ok(render(
        &security_page(&authed, flash(&q.done), None, settings).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MethodForm {
    method: String,
}

/// 方式変更: on to the step the chosen method needs (a code from the app either way).
async fn choose_method(authed: Authed, Form(f): Form<MethodForm>) -> Result<Response, WebError> {
    let current = totp::method(&authed.scope, &authed.user.id).await?;
    let next = match (f.method.as_str(), current) {
        ("totp", Method::Mail) => "/security/totp",
        ("mail", Method::Totp) => "/security/mail",
        ("totp" | "mail", _) => "/security",
        _ => {
            let settings = authed.tenant.settings;
            let page = security_page(
                &authed,
                None,
                Some("二段階認証方式を選択してください。".into()),
                settings,
            )
            .await?;
            return Ok(render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ));
        }
    };
    Ok(Redirect::to(next).into_response())
}

#[derive(Template)]
#[template(path = "security_totp.html")]
struct TotpSetupPage {
    chrome: Chrome,
    qr: String,
    account: String,
    key: String,
    issuer: &'static str,
    required: bool,
    error: Option<String>,
}

async fn setup_page(
    app: &AppState,
    authed: &Authed,
    error: Option<String>,
) -> Result<Response, WebError> {
    let setup = totp::begin_setup(app, &authed.scope, &authed.tenant, &authed.user).await?;
    let view = TotpSetupPage {
        chrome: Chrome::new(authed, "/security"),
        qr: super::qr::svg(&setup.url).ok_or(WebError::Internal)?,
        account: setup.account,
        key: setup.key,
        issuer: totp::ISSUER,
        required: authed.tenant.settings.require_totp,
        error,
    };
    Ok(match view.error.is_some() {
        true => render_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &view),
        false => render(&view),
    })
}

async fn totp_form(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    if totp::method(&authed.scope, &authed.user.id).await? == Method::Totp {
        return Ok(Redirect::to("/security?done=already").into_response());
    }
    setup_page(&app, &authed, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

async fn totp_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match totp::confirm_setup(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.user,
        &f.code,
        &authed.ctx.ip,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/security?done=totp").into_response()),
        Err(TotpError::Infra(e)) => Err(e.into()),
        Err(e) => setup_page(&app, &authed, Some(e.to_string())).await,
    }
}

#[derive(Template)]
#[template(path = "security_mail.html")]
struct MailSwitchPage {
    chrome: Chrome,
    error: Option<String>,
}

async fn mail_form(authed: Authed) -> Result<Response, WebError> {
    if totp::method(&authed.scope, &authed.user.id).await? == Method::Mail {
        return Ok(Redirect::to("/security").into_response());
    }
    if authed.tenant.settings.require_totp {
        let settings = authed.tenant.settings;
        let page = security_page(
            &authed,
            None,
            Some(TotpError::Required.to_string()),
            settings,
        )
        .await?;
        return Ok(render_status(axum::http::StatusCode::CONFLICT, &page));
    }
    Ok(render(&MailSwitchPage {
        chrome: Chrome::new(&authed, "/security"),
        error: None,
    }))
}

async fn mail_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let error = match totp::switch_to_mail(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.user,
        &f.code,
        &authed.ctx.ip,
    )
    .await
    {
        Ok(()) => return Ok(Redirect::to("/security?done=mail").into_response()),
        Err(TotpError::Infra(e)) => return Err(e.into()),
        Err(e) => e,
    };
    let status = match error {
        TotpError::Locked => axum::http::StatusCode::TOO_MANY_REQUESTS,
        _ => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok(render_status(
        status,
        &MailSwitchPage {
            chrome: Chrome::new(&authed, "/security"),
            error: Some(error.to_string()),
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsForm {
    require_totp: String,
    view_only_may_reveal: String,
    retention_years: String,
    confirmed: String,
    back: String,
}

impl SettingsForm {
    fn settings(&self, current: TenantSettings) -> Result<TenantSettings, String> {
        // A form without the field (an older page) keeps the stored years.
        let retention_years = match self.retention_years.trim() {
            "" => current.retention_years,
            raw => crate::domain::retention::parse_years(raw)?,
        };
        Ok(TenantSettings {
            require_totp: self.require_totp == "on",
            view_only_may_reveal: self.view_only_may_reveal == "on",
            retention_years,
        })
    }
}

fn on_off(on: bool) -> String {
    match on {
        true => "オン".into(),
        false => "オフ".into(),
    }
}

/// 入力確認 → 登録 of the company's settings, through one action: the form posts here for the
/// confirmation page, whose 登録 posts back with `confirmed`, and whose 戻る brings the form back
/// as it was typed.
async fn settings_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let wanted = match f.settings(authed.tenant.settings) {
        Ok(w) => w,
        Err(message) => {
            let mut page =
                security_page(&authed, None, Some(message), authed.tenant.settings).await?;
            page.settings.require_totp = f.require_totp == "on";
            page.settings.view_only_may_reveal = f.view_only_may_reveal == "on";
            page.retention_input = f.retention_years.clone();
            return Ok(render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ));
        }
    };
    if !f.back.is_empty() {
        return Ok(render(&security_page(&authed, None, None, wanted).await?));
    }
    if f.confirmed.is_empty() {
        let flag = |on: bool| if on { "on" } else { "" }.to_string();
        return Ok(render(&ConfirmView {
            chrome: Chrome::new(&authed, "/security"),
            heading: "会社のセキュリティ設定",
            action: "/security/settings".into(),
            rows: vec![
                (
                    "トークン認証をすべてのログインユーザに必須にする",
                    on_off(wanted.require_totp),
                ),
                (
                    "閲覧のみのユーザにマイナンバーの表示・ダウンロードを許可する",
                    on_off(wanted.view_only_may_reveal),
                ),
                (
                    "法定保存期間（削除予定日の提案）",
                    format!("{}年", wanted.retention_years),
                ),
            ],
            hidden: vec![
                ("require_totp", flag(wanted.require_totp)),
                ("view_only_may_reveal", flag(wanted.view_only_may_reveal)),
                ("retention_years", wanted.retention_years.to_string()),
                ("confirmed", "1".into()),
            ],
            duplicates: Vec::new(),
        }));
    }
    match company::update_settings(&app, &authed.scope, &authed.actor(), wanted).await {
        Ok(()) => Ok(Redirect::to("/security?done=settings").into_response()),
        Err(SettingsError::Infra(e)) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "security_reset.html")]
struct ResetPage {
    chrome: Chrome,
    user_id: String,
    name: String,
    method_label: &'static str,
}

async fn reset_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = RecordId::parse(&id).ok_or(WebError::NotFound)?;
    let target = users::load(&authed.scope, id.as_str())
        .await?
        .ok_or(WebError::NotFound)?;
    if target.id == authed.user.id {
        return Ok(Redirect::to("/security").into_response());
    }
    let method = totp::method(&authed.scope, &target.id).await?;
    Ok(render(&ResetPage {
        chrome: Chrome::new(&authed, "/users"),
        user_id: target.id.clone(),
        name: target.display_name(),
        method_label: method.label(),
    }))
}

#[derive(Template)]
#[template(path = "security_reset_done.html")]
struct ResetDonePage {
    chrome: Chrome,
    name: String,
}

async fn reset_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    match totp::reset(&app, &authed.scope, &authed.actor(), &id).await {
        Ok(target) => Ok(render(&ResetDonePage {
            chrome: Chrome::new(&authed, "/users"),
            name: target.display_name(),
        })),
        Err(TotpError::NoSuchUser) => Err(WebError::NotFound),
        // One's own factor changes on セキュリティ, with a code from the app.
        Err(TotpError::OwnFactor) => Ok(Redirect::to("/security").into_response()),
        Err(TotpError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}
