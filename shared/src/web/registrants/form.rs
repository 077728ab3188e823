//! 登録者追加 / 登録者編集 (manual ch.10): the form and its 入力確認 → 登録 step through the one
//! flow of `web::confirm`, with the login password carried sealed like the number.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;

use crate::app::groups::{self, Group};
use crate::app::person::FieldErrors;
use crate::app::registrants::{
    self as regs, Duplicate, Registrant, RegistrantForm, SaveError, Valid,
};
use crate::app::App;
use crate::domain::date::{format_slash, to_wareki};
use crate::domain::my_number::MyNumber;
use crate::domain::person::Attribute;
use crate::web::confirm::{
    self, draft_duplicates, open_secret, seal_secret, ConfirmFlow, FieldErrorsView,
};
use crate::web::person::{number_row, sex_row};
use crate::web::records::registrant;
use crate::web::session::{Authed, Chrome};
use crate::web::{render_status, AppState, WebError};

#[derive(Template)]
#[template(path = "registrant_form.html")]
struct FormView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    cancel_href: String,
    editing: bool,
    form: RegistrantForm,
    groups: Vec<Group>,
    attributes: Vec<(&'static str, &'static str)>,
    sexes: Vec<(&'static str, &'static str)>,
    current_number: Option<String>,
    /// The tenant's 法定保存期間, named beside the 削除予定日 field.
    retention_years: u8,
    errors: Vec<(&'static str, String)>,
}

impl FieldErrorsView for FormView {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// The add/edit form as posted, with the 入力確認 step's fields.
type Posted = confirm::Posted<RegistrantForm>;

struct Mode {
    heading: &'static str,
    action: String,
    cancel_href: String,
    editing: bool,
    current: Option<Registrant>,
}

fn mode_new() -> Mode {
    Mode {
        heading: "登録者追加",
        action: "/registrants/new".into(),
        cancel_href: "/registrants".into(),
        editing: false,
        current: None,
    }
}

fn mode_edit(r: Registrant) -> Mode {
    Mode {
        heading: "登録者編集",
        action: format!("/registrants/{}/edit", r.id),
        cancel_href: format!("/registrants/{}", r.id),
        editing: true,
        current: Some(r),
    }
}

async fn form_page(
    authed: &Authed,
    mode: &Mode,
    mut form: RegistrantForm,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    // Secrets never come back in a re-rendered form.
    form.password.clear();
    Ok(render_status(
        status,
        &FormView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: mode.heading,
            action: mode.action.clone(),
            cancel_href: mode.cancel_href.clone(),
            editing: mode.editing,
            current_number: mode
                .current
                .as_ref()
                .and_then(|r| r.person.number.as_ref().map(|n| n.masked())),
            form,
            groups: groups::list(&authed.scope).await?,
            attributes: crate::web::choices::attributes(),
            sexes: crate::web::choices::sexes(),
            retention_years: authed.tenant.settings.retention_years,
            errors,
        },
    ))
}

fn confirm_rows(v: &Valid, groups: &[Group], editing: bool) -> Vec<(&'static str, String)> {
    let date = |d: Option<time::Date>| {
        d.map(|d| match to_wareki(d) {
            Some(w) => format!("{}（{w}）", format_slash(d)),
            None => format_slash(d),
        })
        .unwrap_or_else(|| "（未入力）".into())
    };
    let or_blank = |s: &str| {
        if s.is_empty() {
            "（未入力）".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        (
            "グループ",
            v.group_id
                .as_ref()
                .and_then(|id| groups.iter().find(|g| &g.id == id))
                .map_or("（なし）".into(), |g| g.name.clone()),
        ),
        ("社員コード", or_blank(&v.code)),
        ("氏名", v.names.name()),
        ("フリガナ", or_blank(&v.names.kana())),
        ("属性", v.attribute.label().to_string()),
        (
            "メールアドレス",
            v.email.clone().unwrap_or_else(|| "（未入力）".into()),
        ),
        (
            "ログインパスワード",
            if v.password.is_some() {
                "設定する".into()
            } else if editing {
                "変更しない".into()
            } else {
                "設定しない".into()
            },
        ),
        (
            "ログインロック",
            if v.login_lock {
                "ロックする".into()
            } else {
                "ロックしない".into()
            },
        ),
        sex_row(v.sex),
        ("生年月日", date(v.birth_date)),
        ("入社日", date(v.hire_date)),
        ("退職日", date(v.retention.retired_on)),
        (
            "マイナンバー削除予定日",
            match &v.retention.proposed {
                Some(p) => format!(
                    "{}（提案。{}。変更する場合は「戻る」で入力してください）",
                    date(Some(p.delete_on)),
                    p.basis
                ),
                None => date(v.retention.delete_on),
            },
        ),
        (
            "最終申告書年",
            v.retention
                .last_declaration_year
                .map_or_else(|| "（未入力）".into(), |y| format!("{y}年")),
        ),
        ("備考", or_blank(&v.note)),
        number_row(v.number.as_ref(), editing),
    ]
}

fn hidden_fields(
    token: &str,
    password_token: &str,
    f: &RegistrantForm,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![("group_id", f.group_id.clone()), ("code", f.code.clone())];
    fields.extend(f.names.fields());
    fields.extend([
        ("attribute", f.attribute.clone()),
        ("email", f.email.clone()),
        ("password_token", password_token.to_string()),
        ("login_lock", f.login_lock.clone()),
        ("sex", f.sex.clone()),
        ("birth_date", f.birth_date.clone()),
        ("hire_date", f.hire_date.clone()),
        ("retired_on", f.retired_on.clone()),
        ("delete_on", f.delete_on.clone()),
        ("last_declaration_year", f.last_declaration_year.clone()),
        ("note", f.note.clone()),
        ("number_token", token.to_string()),
        ("confirmed", "1".into()),
    ]);
    fields
}

/// The registrant's form as it checks: valid, with the groups it was checked against.
struct Checked {
    valid: Valid,
    groups: Vec<Group>,
}

impl ConfirmFlow for Mode {
    type Form = RegistrantForm;
    type Valid = Checked;

    fn heading(&self) -> &'static str {
        self.heading
    }

    fn nav(&self) -> &'static str {
        "/registrants"
    }

    fn action(&self) -> String {
        self.action.clone()
    }

    fn boxes(form: &mut RegistrantForm) -> [&mut String; 3] {
        [&mut form.number1, &mut form.number2, &mut form.number3]
    }

    fn number(checked: &Checked) -> Option<&MyNumber> {
        checked.valid.number.as_ref()
    }

    async fn form_page(
        &self,
        authed: &Authed,
        form: RegistrantForm,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response, WebError> {
        form_page(authed, self, form, errors, status).await
    }

    async fn open_secrets(
        &self,
        app: &App,
        authed: &Authed,
        posted: &mut Posted,
    ) -> Result<Result<(), FieldErrors>, WebError> {
        if posted.form.password.is_empty() {
            match open_secret(app, authed, "password", &posted.password_token).await? {
                Some(password) => posted.form.password = password,
                None => {
                    return Ok(Err(vec![(
                        "password",
                        "入力内容の有効期限が切れました。ログインパスワードをもう一度入力してください。"
                            .into(),
                    )]))
                }
            }
        }
        Ok(Ok(()))
    }

    async fn check(
        &self,
        app: &App,
        authed: &Authed,
        form: &RegistrantForm,
        first: bool,
    ) -> Result<Checked, SaveError> {
        let groups = groups::list(&authed.scope).await?;
        let years = authed.tenant.settings.retention_years;
        let valid = regs::validate(form, &groups, regs::today(app.now()), years)
            .map_err(SaveError::Invalid)?;
        // A new registrant the plan cannot take is refused before 入力確認 suggests that 登録
        // will work (the save checks again: another user may have added someone meanwhile).
        match (&self.current, first) {
            (None, true) => regs::check_plan(&authed.scope, &authed.tenant, 1).await?,
            // A retiree whose 退職日 is cleared counts against the plan again.
            (Some(before), true) => {
                regs::check_return(
                    &authed.scope,
                    &authed.tenant,
                    before,
                    valid.retention.retired_on,
                )
                .await?
            }
            (_, false) => {}
        }
        Ok(Checked { valid, groups })
    }

    fn rows(&self, checked: &Checked) -> Vec<(&'static str, String)> {
        confirm_rows(&checked.valid, &checked.groups, self.editing)
    }

    async fn hidden(
        &self,
        app: &App,
        authed: &Authed,
        form: &RegistrantForm,
        number_token: String,
    ) -> Result<Vec<(&'static str, String)>, WebError> {
        let password_token = seal_secret(app, authed, "password", &form.password).await?;
        Ok(hidden_fields(&number_token, &password_token, form))
    }

    async fn duplicates(
        &self,
        app: &App,
        authed: &Authed,
        checked: &Checked,
    ) -> Result<Vec<Duplicate>, WebError> {
        let except = self.current.as_ref().map(|r| r.id.as_str());
        draft_duplicates(app, authed, checked.valid.number.as_ref(), except).await
    }

    async fn save(
        &self,
        app: &App,
        authed: &Authed,
        checked: Checked,
        allow_duplicate: bool,
    ) -> Result<String, SaveError> {
        let actor = authed.actor();
        let (scope, tenant, valid) = (&authed.scope, &authed.tenant, checked.valid);
        let saved = match &self.current {
            None => regs::create(app, scope, tenant, &actor, valid, allow_duplicate).await?,
            Some(r) => {
                regs::update(app, scope, tenant, &actor, &r.id, valid, allow_duplicate).await?
            }
        };
        Ok(format!(
            "/registrants/{}?done={}",
            saved.id,
            if self.editing { "updated" } else { "created" }
        ))
    }
}

pub(super) async fn new_form(authed: Authed) -> Result<Response, WebError> {
    let form = RegistrantForm {
        attribute: Attribute::ALL[0].code().into(),
        ..RegistrantForm::default()
    };
    form_page(&authed, &mode_new(), form, Vec::new(), StatusCode::OK).await
}

pub(super) async fn new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    confirm::submit(&app, &authed, &mode_new(), posted).await
}

pub(super) async fn edit_form(
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let r = registrant(&authed, &id).await?;
    let form = RegistrantForm::from_registrant(&r);
    form_page(&authed, &mode_edit(r), form, Vec::new(), StatusCode::OK).await
}

pub(super) async fn edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    let r = registrant(&authed, &id).await?;
    confirm::submit(&app, &authed, &mode_edit(r), posted).await
}
