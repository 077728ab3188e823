//! 扶養家族 (manual ch.9, 11) under a registrant: add / edit with 入力確認 → 登録, detail,
//! delete (`web::disposal`). Their document images are `web::images`. Served by the registrants function.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;

use super::access::{Access, Routes};
use super::confirm::{self, draft_duplicates, ConfirmFlow, FieldErrorsView};
use super::person::{number_row, sex_row};
use super::records::registrant;
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::dependents::{self as deps, DependentForm, ValidDependent};
use crate::app::images;
use crate::app::person::FieldErrors;
use crate::app::registrants::{self as regs, Duplicate, Registrant, SaveError};
use crate::app::App;
use crate::domain::date::{format_slash, to_wareki};
use crate::domain::image::DocumentKind;
use crate::domain::my_number::MyNumber;
use crate::domain::person::DependentKind;
use crate::domain::role::Permission;

pub(super) fn routes() -> Routes {
    let view = Access::Can(Permission::ViewRegistrants);
    let edit = Access::Can(Permission::EditRegistrants);
    Routes::new()
        .get("/registrants/{id}/dependents/new", edit, dep_new_form)
        .post("/registrants/{id}/dependents/new", edit, dep_new_submit)
        .get("/registrants/{id}/dependents/{dep}", view, dep_detail)
        .get(
            "/registrants/{id}/dependents/{dep}/edit",
            edit,
            dep_edit_form,
        )
        .post(
            "/registrants/{id}/dependents/{dep}/edit",
            edit,
            dep_edit_submit,
        )
}

#[derive(Template)]
#[template(path = "dependent_form.html")]
struct DepFormView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    registrant_id: String,
    registrant_name: String,
    form: DependentForm,
    relationships: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    sexes: Vec<(&'static str, &'static str)>,
    current_number: Option<String>,
    errors: Vec<(&'static str, String)>,
}

impl FieldErrorsView for DepFormView {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// The add/edit form as posted, with the 入力確認 step's fields.
type DepPosted = confirm::Posted<DependentForm>;

struct DepMode {
    registrant: Registrant,
    current: Option<deps::Dependent>,
}

impl DepMode {
    fn heading(&self) -> &'static str {
        if self.current.is_some() {
            "扶養家族編集"
        } else {
            "扶養家族追加"
        }
    }

    fn action(&self) -> String {
        match &self.current {
            Some(d) => format!(
                "/registrants/{}/dependents/{}/edit",
                self.registrant.id, d.id
            ),
            None => format!("/registrants/{}/dependents/new", self.registrant.id),
        }
    }
}

fn dep_form_page(
    authed: &Authed,
    mode: &DepMode,
    form: DependentForm,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    render_status(
        status,
        &DepFormView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: mode.heading(),
            action: mode.action(),
            registrant_id: mode.registrant.id.clone(),
            registrant_name: mode.registrant.name(),
            current_number: mode
                .current
                .as_ref()
                .and_then(|d| d.person.number.as_ref().map(|n| n.masked())),
            form,
            relationships: super::choices::relationships(),
            kinds: super::choices::dependent_kinds(),
            sexes: super::choices::sexes(),
            errors,
        },
    )
}

fn dep_confirm_rows(v: &ValidDependent, editing: bool) -> Vec<(&'static str, String)> {
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_else(|| "（未入力）".into());
    vec![
        ("氏名", v.names.name()),
        ("フリガナ", v.names.kana()),
        ("続柄", v.relationship.label().into()),
        ("属性", v.kind.label().into()),
        sex_row(v.sex),
        ("生年月日", date(v.birth_date)),
        number_row(v.number.as_ref(), editing),
    ]
}

fn dep_hidden(token: &str, f: &DependentForm) -> Vec<(&'static str, String)> {
    let mut fields = f.names.fields().to_vec();
    fields.extend([
        ("relationship", f.relationship.clone()),
        ("kind", f.kind.clone()),
        ("sex", f.sex.clone()),
        ("birth_date", f.birth_date.clone()),
        ("number_token", token.to_string()),
        ("confirmed", "1".into()),
    ]);
    fields
}

impl ConfirmFlow for DepMode {
    type Form = DependentForm;
    type Valid = ValidDependent;

    fn heading(&self) -> &'static str {
        self.heading()
    }

    fn nav(&self) -> &'static str {
        "/registrants"
    }

    fn action(&self) -> String {
        self.action()
    }

    fn boxes(form: &mut DependentForm) -> [&mut String; 3] {
        [&mut form.number1, &mut form.number2, &mut form.number3]
    }

    fn number(valid: &ValidDependent) -> Option<&MyNumber> {
        valid.number.as_ref()
    }

    async fn form_page(
        &self,
        authed: &Authed,
        form: DependentForm,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response, WebError> {
        Ok(dep_form_page(authed, self, form, errors, status))
    }

    async fn check(
        &self,
        app: &App,
        _authed: &Authed,
        form: &DependentForm,
        _first: bool,
    ) -> Result<ValidDependent, SaveError> {
        deps::validate(form, regs::today(app.now())).map_err(SaveError::Invalid)
    }

    fn rows(&self, valid: &ValidDependent) -> Vec<(&'static str, String)> {
        dep_confirm_rows(valid, self.current.is_some())
    }

    async fn hidden(
        &self,
        _app: &App,
        _authed: &Authed,
        form: &DependentForm,
        number_token: String,
    ) -> Result<Vec<(&'static str, String)>, WebError> {
        Ok(dep_hidden(&number_token, form))
    }

    async fn duplicates(
        &self,
        app: &App,
        authed: &Authed,
        valid: &ValidDependent,
    ) -> Result<Vec<Duplicate>, WebError> {
        let except = self.current.as_ref().map(|d| d.id.as_str());
        draft_duplicates(app, authed, valid.number.as_ref(), except).await
    }

    async fn save(
        &self,
        app: &App,
        authed: &Authed,
        valid: ValidDependent,
        allow_duplicate: bool,
    ) -> Result<String, SaveError> {
        deps::save(
            app,
            &authed.scope,
            &authed.tenant,
            &authed.actor(),
            &self.registrant.id,
            self.current.as_ref().map(|d| d.id.as_str()),
            valid,
            allow_duplicate,
        )
        .await?;
        Ok(format!(
            "/registrants/{}?done={}#dependents",
            self.registrant.id,
            if self.current.is_some() {
                "dep_updated"
            } else {
                "dep_created"
            }
        ))
    }
}

async fn dep_mode(authed: &Authed, id: &str, dep: Option<&str>) -> Result<DepMode, WebError> {
    let registrant = registrant(authed, id).await?;
    let current = match dep {
        Some(dep) => Some(
            deps::get(&authed.scope, id, dep)
                .await?
                .ok_or(WebError::NotFound)?,
        ),
        None => None,
    };
    Ok(DepMode {
        registrant,
        current,
    })
}

async fn dep_new_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    let mode = dep_mode(&authed, &id, None).await?;
    let form = DependentForm {
        kind: DependentKind::ALL[0].code().into(),
        ..DependentForm::default()
    };
    Ok(dep_form_page(
        &authed,
        &mode,
        form,
        Vec::new(),
        StatusCode::OK,
    ))
}

async fn dep_new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<DepPosted>,
) -> Result<Response, WebError> {
    let mode = dep_mode(&authed, &id, None).await?;
    confirm::submit(&app, &authed, &mode, posted).await
}

async fn dep_edit_form(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    let form = mode
        .current
        .as_ref()
        .map(DependentForm::from_dependent)
        .unwrap_or_default();
    Ok(dep_form_page(
        &authed,
        &mode,
        form,
        Vec::new(),
        StatusCode::OK,
    ))
}

async fn dep_edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
    Form(posted): Form<DepPosted>,
) -> Result<Response, WebError> {
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    confirm::submit(&app, &authed, &mode, posted).await
}

#[derive(Template)]
#[template(path = "dependent_detail.html")]
struct DepDetailView {
    chrome: Chrome,
    registrant_id: String,
    registrant_name: String,
    id: String,
    name: String,
    rows: Vec<(&'static str, String)>,
    can_edit: bool,
    can_dispose: bool,
    can_approve: bool,
    pending: bool,
}

async fn dep_detail(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    let d = mode.current.as_ref().ok_or(WebError::NotFound)?;
    let images = |k: DocumentKind| {
        if d.person.images.contains_key(&images::attr(k)) {
            "アップロード済み"
        } else {
            "未アップロード"
        }
        .to_string()
    };
    let rows = vec![
        ("ステータス", d.person.status.label().to_string()),
        ("氏名", d.name()),
        (
            "フリガナ",
            format!("{} {}", d.person.family_kana, d.person.given_kana)
                .trim()
                .to_string(),
        ),
        ("続柄", d.relationship.label().into()),
        ("属性", d.kind.label().into()),
        (
            "性別",
            d.person
                .sex
                .map_or(String::new(), |s| s.label().to_string()),
        ),
        (
            "生年月日",
            d.person
                .birth_date
                .map(|b| {
                    format!(
                        "{}（{}）",
                        format_slash(b),
                        to_wareki(b).unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        ),
        (
            "マイナンバー",
            d.person
                .number
                .as_ref()
                .map_or("未登録".into(), |n| n.masked()),
        ),
        ("番号確認書類", images(DocumentKind::NumberProof)),
        ("身元確認書類", images(DocumentKind::IdentityProof)),
    ]
    .into_iter()
    .chain(super::person::review_rows(
        d.person.status,
        &d.person.review,
    ))
    .collect();
    Ok(render(&DepDetailView {
        chrome: Chrome::new(&authed, "/registrants"),
        registrant_id: mode.registrant.id.clone(),
        registrant_name: mode.registrant.name(),
        id: d.id.clone(),
        name: d.name(),
        rows,
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
        can_dispose: authed.allows(Permission::DisposeNumbers),
        can_approve: authed.user.role.allows(Permission::Approve),
        pending: d.person.status == crate::domain::status::Status::Pending,
    }))
}
