//! 契約者情報 (manual ch.4): the view (every login user), the edit form with 入力確認 → 登録 and
//! the company passcode (最高権限 and 管理担当者: `Permission::EditContractor`). Served by the
//! account administration function, with the postal table's shards (`web::postal`).
//!
//! The passcode is shown in clear only to those who may change it (the manual shows it here so
//! that it can be passed on); a 閲覧のみ user sees whether it is set. On the 入力確認 page it
//! travels sealed like the other secrets typed on a form (`confirm::seal_secret`).
//!
//! Not here: the rules and the storage (`app::contractor`), the old passcode page under
//! マイナンバー収集 (`web::collection`), which writes through the same use case.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::access::{Access, Routes};
use super::confirm::{open_secret, seal_secret, ConfirmView};
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::contractor::{self, Contractor, ContractorInput, Passcode};
use crate::app::person::FieldErrors;
use crate::domain::contractor::{BusinessForm, INDUSTRIES, PREFECTURES};
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let edit = Access::Can(Permission::EditContractor);
    Routes::new()
        .get("/contractor", Access::Staff, view)
        .get("/contractor/edit", edit, form)
        .post("/contractor/edit", edit, submit)
        .get("/postal/{shard}", edit, super::postal::shard)
        .get(
            "/static/contractor.js",
            Access::Public,
            super::postal::script,
        )
}

const HEADING: &str = "契約者情報編集";

/// The passcode as 契約者情報 shows it to those who may change it.
fn passcode_text(p: &Passcode) -> String {
    match p {
        Passcode::Unset => "未設定".into(),
        Passcode::Known(code) => code.clone(),
        Passcode::SetUnreadable => {
            "設定済み（以前に設定されたパスコードは表示できません。編集画面で設定し直すと表示されます）"
                .into()
        }
    }
}

// ---------------------------------------------------------------- view

#[derive(Template)]
#[template(path = "contractor_view.html")]
struct ViewPage {
    chrome: Chrome,
    can_edit: bool,
    flash: Option<&'static str>,
    incomplete: bool,
    rows: Vec<(&'static str, String)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: Option<String>,
}

async fn view(
    State(app): State<AppState>,
    authed: Authed,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let c = contractor::load(&authed.scope, &authed.tenant).await?;
    let can_edit = authed.allows(Permission::EditContractor);
    // A 閲覧のみ user never has the passcode opened: only whether it is set.
    let passcode = match (can_edit, authed.tenant.passcode_set) {
        (true, _) => {
            passcode_text(&contractor::passcode(&app, &authed.scope, &authed.tenant).await?)
        }
        (false, true) => "設定済み".to_string(),
        (false, false) => "未設定".to_string(),
    };
    let created = authed
        .tenant
        .created_at
        .to_offset(time::macros::offset!(+9))
        .date();
    let mut rows = vec![
        ("お客様番号", authed.tenant.customer_number.clone()),
        ("パスコード", passcode),
    ];
    rows.extend(detail_rows(&c));
    rows.push(("申込日", crate::domain::date::format_slash(created)));
    // 法人番号 comes second, as on the manual's screen.
    rows.swap(1, 2);
    Ok(render(&ViewPage {
        chrome: Chrome::new(&authed, ""),
        can_edit,
        flash: q.done.map(|_| "契約者情報を登録しました。"),
        incomplete: !c.is_complete(),
        rows,
    }))
}

/// The rows both the view and the 入力確認 page show, in the manual's order.
fn detail_rows(c: &Contractor) -> Vec<(&'static str, String)> {
    vec![
        ("法人番号", c.corporate_number.clone()),
        (
            "事業形態",
            c.business_form.map_or("", BusinessForm::label).to_string(),
        ),
        ("会社名/組織名", c.company_name.clone()),
        ("会社名（カナ）", c.company_kana.clone()),
        ("代表者氏名", c.representative.clone()),
        ("申請部署", c.department.clone()),
        ("申請者氏名", c.applicant_name()),
        ("メールアドレス", c.email.clone()),
        ("郵便番号", c.postal_code_display()),
        ("住所", c.full_address()),
        ("電話番号", c.phone.clone()),
        ("業種", c.industry.clone()),
        (
            "メールでのお知らせ",
            if c.mail_notices {
                "希望する"
            } else {
                "希望しない"
            }
            .to_string(),
        ),
    ]
}

// ---------------------------------------------------------------- edit

#[derive(Template)]
#[template(path = "contractor_form.html")]
struct FormPage {
    chrome: Chrome,
    form: ContractorInput,
    passcode: String,
    /// A passcode is set but cannot be shown (only its hash is kept).
    passcode_hidden: bool,
    errors: FieldErrors,
    business_forms: Vec<(&'static str, &'static str)>,
    prefectures: &'static [&'static str],
    industries: &'static [&'static str],
}

impl FormPage {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }

    /// Whether a radio button or option (`value`) is the one the form holds.
    fn chosen(&self, held: &str, value: &str) -> bool {
        held == value
    }
}

async fn form_page(
    authed: &Authed,
    current: &Passcode,
    form: ContractorInput,
    passcode: String,
    errors: FieldErrors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        status,
        &FormPage {
            chrome: Chrome::new(authed, ""),
            form,
            passcode,
            passcode_hidden: *current == Passcode::SetUnreadable,
            errors,
            business_forms: BusinessForm::ALL.map(|f| (f.code(), f.label())).to_vec(),
            prefectures: &PREFECTURES,
            industries: &INDUSTRIES,
        },
    )
}

async fn form(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    let c = contractor::load(&authed.scope, &authed.tenant).await?;
    let current = contractor::passcode(&app, &authed.scope, &authed.tenant).await?;
    let passcode = match &current {
        Passcode::Known(p) => p.clone(),
        _ => String::new(),
    };
    Ok(form_page(&authed, &current, c.to_input(), passcode, Vec::new()).await)
}

/// The edit form as posted, with the 入力確認 step's fields.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Posted {
    #[serde(flatten)]
    form: ContractorInput,
    passcode: String,
    /// The passcode typed on the form, sealed for the 入力確認 page.
    passcode_token: String,
    confirmed: String,
    back: String,
}

/// 入力確認 → 登録: 戻る shows the form as typed, a valid form shows the 入力確認 page, and
/// 登録 (from that page) saves and returns to 契約者情報.
async fn submit(
    State(app): State<AppState>,
    authed: Authed,
    axum::Form(mut posted): axum::Form<Posted>,
) -> Result<Response, WebError> {
    let current = contractor::passcode(&app, &authed.scope, &authed.tenant).await?;
    if !posted.passcode_token.is_empty() {
        match open_secret(&app, &authed, "passcode", &posted.passcode_token).await? {
            Some(p) => posted.passcode = p,
            None => {
                let errors = vec![(
                    "passcode",
                    "入力内容の有効期限が切れました。パスコードをもう一度入力してください。"
                        .to_string(),
                )];
                return Ok(form_page(&authed, &current, posted.form, String::new(), errors).await);
            }
        }
    }
    if !posted.back.is_empty() {
        return Ok(form_page(&authed, &current, posted.form, posted.passcode, Vec::new()).await);
    }
    // Empty, or the passcode already set: unchanged.
    let typed = posted.passcode.trim();
    let new_passcode = match &current {
        _ if typed.is_empty() => None,
        Passcode::Known(p) if p == typed => None,
        _ => Some(typed.to_string()),
    };
    let mut errors = Vec::new();
    if let Some(p) = &new_passcode {
        if let Err(m) = super::collection::check_passcode(p) {
            errors.push(("passcode", m.to_string()));
        }
    }
    let details = match contractor::validate(&posted.form) {
        Ok(d) if errors.is_empty() => d,
        Ok(_) => {
            return Ok(form_page(&authed, &current, posted.form, posted.passcode, errors).await)
        }
        Err(mut e) => {
            e.append(&mut errors);
            return Ok(form_page(&authed, &current, posted.form, posted.passcode, e).await);
        }
    };
    if posted.confirmed.is_empty() {
        let mut rows = detail_rows(&details);
        let passcode_row = match &new_passcode {
            Some(p) => format!("{p}（変更します）"),
            None => match current {
                Passcode::Unset => "未設定".to_string(),
                _ => "変更しない".to_string(),
            },
        };
        rows.insert(1, ("パスコード", passcode_row));
        let token = seal_secret(
            &app,
            &authed,
            "passcode",
            new_passcode.as_deref().unwrap_or(""),
        )
        .await?;
        let mut hidden = hidden_fields(&posted.form);
        hidden.push(("passcode_token", token));
        hidden.push(("confirmed", "1".into()));
        return Ok(render(&ConfirmView {
            chrome: Chrome::new(&authed, ""),
            heading: HEADING,
            action: "/contractor/edit".into(),
            rows,
            hidden,
            duplicates: Vec::new(),
        }));
    }
    contractor::save(
        &app,
        &authed.scope,
        &authed.actor(),
        details,
        new_passcode.as_deref(),
    )
    .await?;
    Ok(Redirect::to("/contractor?done=1").into_response())
}

/// The form's fields as the 入力確認 page posts them back.
fn hidden_fields(f: &ContractorInput) -> Vec<(&'static str, String)> {
    vec![
        ("corporate_number", f.corporate_number.clone()),
        ("business_form", f.business_form.clone()),
        ("company_name", f.company_name.clone()),
        ("company_kana", f.company_kana.clone()),
        ("representative", f.representative.clone()),
        ("department", f.department.clone()),
        ("applicant_family", f.applicant_family.clone()),
        ("applicant_given", f.applicant_given.clone()),
        ("email", f.email.clone()),
        ("postal_code", f.postal_code.clone()),
        ("prefecture", f.prefecture.clone()),
        ("address", f.address.clone()),
        ("building", f.building.clone()),
        ("phone", f.phone.clone()),
        ("industry", f.industry.clone()),
        ("mail_notices", f.mail_notices.clone()),
    ]
}
