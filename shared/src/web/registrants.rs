//! マイナンバー管理 (manual ch.6, 10, 11): the registrant list with search and paging, add /
//! edit with the 入力確認 → 登録 step, detail and delete. グループ管理 is `web::groups`, 扶養家族 and
//! document images are `web::dependents`; all three are served by the registrants function.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};

use super::confirm::{self, draft_duplicates, open_secret, seal_secret, ConfirmFlow, DeleteView};
use super::flash::Flash;
use super::images::{image_rows, ImageRow};
use super::records::registrant;
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::deletion;
use crate::app::dependents as deps;
use crate::app::groups::{self, Group};
use crate::app::person::FieldErrors;
use crate::app::registrants::{
    self as regs, Duplicate, Filter, ListPage, Registrant, RegistrantForm, SaveError, Valid,
};
use crate::app::App;
use crate::domain::date::{format_slash, to_wareki};
use crate::domain::my_number::MyNumber;
use crate::domain::person::{Attribute, Sex};
use crate::domain::role::Permission;
use crate::domain::status::Status;

/// The registrants function's routes: registrants, groups, dependents and images.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/registrants", get(list))
        .route("/registrants/new", get(new_form).post(new_submit))
        .route("/registrants/{id}", get(detail))
        .route("/registrants/{id}/edit", get(edit_form).post(edit_submit))
        .route(
            "/registrants/{id}/delete",
            get(delete_form).post(delete_submit),
        )
        .merge(super::groups::routes())
        .merge(super::dependents::routes())
        .merge(super::images::routes())
        .merge(super::usage::routes())
        .merge(super::collection::routes())
        .merge(super::approval::routes())
        .merge(super::number::routes())
        .merge(super::bulk::routes())
        .merge(super::csv_io::routes())
        .merge(super::home::coming_soon_routes(|p| {
            p.starts_with("/registrants/")
        }))
}

// ---------------------------------------------------------------- list

struct Row {
    id: String,
    has_number: bool,
    pending: bool,
    status: &'static str,
    status_class: &'static str,
    dep_status: &'static str,
    dep_status_class: &'static str,
    group: String,
    code: String,
    name: String,
    kana: String,
    attribute: &'static str,
    email: String,
    dependents: i64,
    retired: bool,
    retired_on: String,
    delete_on: String,
}

#[derive(Template)]
#[template(path = "registrants_list.html")]
struct ListView {
    chrome: Chrome,
    flash: Option<&'static str>,
    filter: Filter,
    filtered: bool,
    search_open: bool,
    page: ListPage,
    rows: Vec<Row>,
    groups: Vec<Group>,
    attributes: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    can_edit: bool,
    can_reveal: bool,
    can_approve: bool,
    first_href: String,
    /// CSVダウンロード of what this filter selects (all pages).
    csv_href: String,
    prev_href: String,
    next_href: String,
    last_href: String,
}

fn page_href(filter: &Filter, page: usize) -> String {
    let mut f = filter.clone();
    f.page = page.to_string();
    format!(
        "/registrants?{}",
        serde_urlencoded::to_string(&f).unwrap_or_default()
    )
}

async fn list(
    authed: Authed,
    Query(filter): Query<Filter>,
    Query(flash): Query<Flash>,
) -> Result<Response, WebError> {
    authed.require(Permission::ViewRegistrants)?;
    let page = regs::list(&authed.scope, &filter).await?;
    let groups = groups::list(&authed.scope).await?;
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_default();
    let rows = page
        .rows
        .iter()
        .map(|r| Row {
            id: r.id.clone(),
            has_number: r.person.number.is_some(),
            pending: r.person.status == Status::Pending,
            status: r.person.status.label(),
            status_class: r.person.status.colour().css_class(),
            dep_status: r.dependents_status.map_or("", Status::label),
            dep_status_class: r.dependents_status.map_or("", |s| s.colour().css_class()),
            group: r
                .group_id
                .as_ref()
                .and_then(|g| page.groups.get(g))
                .cloned()
                .unwrap_or_default(),
            code: r.code.clone(),
            name: r.name(),
            kana: r.kana(),
            attribute: r.attribute.short_label(),
            email: r.email.clone().unwrap_or_default(),
            dependents: r.dependents,
            retired: r.is_retired(),
            retired_on: date(r.retired_on),
            delete_on: date(r.delete_on),
        })
        .collect();
    let filtered = !(filter.code.is_empty()
        && filter.name.is_empty()
        && filter.attribute.is_empty()
        && filter.email.is_empty()
        && filter.status.is_empty()
        && filter.retired.is_empty()
        && filter.group.is_empty()
        && filter.retired_month.is_empty()
        && filter.delete_month.is_empty());
    Ok(render(&ListView {
        chrome: Chrome::new(&authed, "/registrants"),
        // Folded once there are rows to look at; open while it is the page's only content or
        // shows the conditions in use.
        search_open: filtered || page.rows.is_empty(),
        flash: flash.text(),
        first_href: page_href(&filter, 1),
        csv_href: page_href(&filter, 1).replacen("/registrants?", "/registrants/csv?", 1),
        prev_href: page_href(&filter, page.page.saturating_sub(1).max(1)),
        next_href: page_href(&filter, (page.page + 1).min(page.pages)),
        last_href: page_href(&filter, page.pages),
        filtered,
        rows,
        page,
        groups,
        filter,
        attributes: super::choices::attributes(),
        statuses: Status::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
        can_reveal: authed.user.role.allows(Permission::RevealNumber),
        can_approve: authed.user.role.allows(Permission::Approve),
    }))
}

// ---------------------------------------------------------------- add / edit

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
    errors: Vec<(&'static str, String)>,
}

impl FormView {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
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
            attributes: super::choices::attributes(),
            sexes: super::choices::sexes(),
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
        (
            "性別",
            v.sex.map_or("（未選択）".into(), |s| s.label().to_string()),
        ),
        ("生年月日", date(v.birth_date)),
        ("入社日", date(v.hire_date)),
        ("備考", or_blank(&v.note)),
        (
            "マイナンバー",
            v.number.as_ref().map_or_else(
                || {
                    if editing {
                        "変更しない".into()
                    } else {
                        "（未入力）".into()
                    }
                },
                |n| n.masked(),
            ),
        ),
    ]
}

fn hidden_fields(
    token: &str,
    password_token: &str,
    f: &RegistrantForm,
) -> Vec<(&'static str, String)> {
    vec![
        ("group_id", f.group_id.clone()),
        ("code", f.code.clone()),
        ("family_name", f.family_name.clone()),
        ("given_name", f.given_name.clone()),
        ("family_kana", f.family_kana.clone()),
        ("given_kana", f.given_kana.clone()),
        ("attribute", f.attribute.clone()),
        ("email", f.email.clone()),
        ("password_token", password_token.to_string()),
        ("login_lock", f.login_lock.clone()),
        ("sex", f.sex.clone()),
        ("birth_date", f.birth_date.clone()),
        ("hire_date", f.hire_date.clone()),
        ("note", f.note.clone()),
        ("number_token", token.to_string()),
        ("confirmed", "1".into()),
    ]
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
        let valid =
            regs::validate(form, &groups, regs::today(app.now())).map_err(SaveError::Invalid)?;
        // A new registrant the plan cannot take is refused before 入力確認 suggests that 登録
        // will work (the save checks again: another user may have added someone meanwhile).
        if first && self.current.is_none() {
            regs::check_plan(&authed.scope, &authed.tenant, 1).await?;
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

    async fn refused(
        &self,
        authed: &Authed,
        form: RegistrantForm,
        e: SaveError,
    ) -> Result<Response, WebError> {
        refused(authed, self, form, e).await
    }
}

/// The form again, saying why the save was refused (a duplicate number is the confirm page's
/// business, not this one's).
async fn refused(
    authed: &Authed,
    mode: &Mode,
    form: RegistrantForm,
    e: SaveError,
) -> Result<Response, WebError> {
    let (errors, status) = match e {
        SaveError::Invalid(errors) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        SaveError::PlanLimit(e) => (
            vec![("plan", e.to_string())],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        SaveError::CodeTaken => (
            vec![("code", SaveError::CodeTaken.to_string())],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        SaveError::Conflict => (
            vec![("form", SaveError::Conflict.to_string())],
            StatusCode::CONFLICT,
        ),
        SaveError::Duplicate(_) => return Err(WebError::Internal),
        SaveError::NotFound => return Err(WebError::NotFound),
        SaveError::Infra(e) => return Err(e.into()),
    };
    form_page(authed, mode, form, errors, status).await
}

async fn new_form(authed: Authed) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let form = RegistrantForm {
        attribute: Attribute::ALL[0].code().into(),
        ..RegistrantForm::default()
    };
    form_page(&authed, &mode_new(), form, Vec::new(), StatusCode::OK).await
}

async fn new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    confirm::submit(&app, &authed, &mode_new(), posted).await
}

async fn edit_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = registrant(&authed, &id).await?;
    let form = RegistrantForm::from_registrant(&r);
    form_page(&authed, &mode_edit(r), form, Vec::new(), StatusCode::OK).await
}

async fn edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = registrant(&authed, &id).await?;
    confirm::submit(&app, &authed, &mode_edit(r), posted).await
}

// ---------------------------------------------------------------- detail / delete

#[derive(Template)]
#[template(path = "registrant_detail.html")]
struct DetailView {
    chrome: Chrome,
    flash: Option<&'static str>,
    id: String,
    name: String,
    rows: Vec<(&'static str, String)>,
    dependents: Vec<DepRow>,
    images: Vec<ImageRow>,
    can_edit: bool,
    can_approve: bool,
    pending: bool,
}

struct DepRow {
    id: String,
    has_number: bool,
    pending: bool,
    images: Vec<ImageRow>,
    images_required: bool,
    status: &'static str,
    status_class: &'static str,
    name: String,
    relationship: &'static str,
    sex: &'static str,
    kind: &'static str,
    number: String,
}

async fn detail(
    authed: Authed,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Response, WebError> {
    authed.require(Permission::ViewRegistrants)?;
    let r = registrant(&authed, &id).await?;
    let group = match &r.group_id {
        Some(g) => groups::get(&authed.scope, g)
            .await?
            .map(|g| g.name)
            .unwrap_or_default(),
        None => "（なし）".into(),
    };
    let date = |d: Option<time::Date>| {
        d.map(|d| {
            format!(
                "{}（{}）",
                format_slash(d),
                to_wareki(d).unwrap_or_default()
            )
        })
        .unwrap_or_default()
    };
    let rows = vec![
        ("ステータス", r.person.status.label().to_string()),
        ("グループ", group),
        ("社員コード", r.code.clone()),
        ("氏名", r.name()),
        ("フリガナ", r.kana()),
        ("属性", r.attribute.label().to_string()),
        ("メールアドレス", r.email.clone().unwrap_or_default()),
        (
            "ログインパスワード",
            if r.password_hash.is_some() {
                "設定済み".into()
            } else {
                "未設定".into()
            },
        ),
        (
            "ログインロック",
            if r.login_lock {
                "ロック中".into()
            } else {
                "なし".into()
            },
        ),
        (
            "性別",
            r.person
                .sex
                .map_or(String::new(), |s| s.label().to_string()),
        ),
        ("生年月日", date(r.person.birth_date)),
        ("入社日", date(r.hire_date)),
        ("備考", r.note.clone()),
        (
            "マイナンバー",
            r.person
                .number
                .as_ref()
                .map_or("未登録".into(), |n| n.masked()),
        ),
        ("扶養家族", format!("{}人", r.dependents)),
    ]
    .into_iter()
    .chain(super::person::review_rows(
        r.person.status,
        &r.person.review,
    ))
    .collect();
    Ok(render(&DetailView {
        chrome: Chrome::new(&authed, "/registrants"),
        flash: flash.text(),
        id: r.id.clone(),
        name: r.name(),
        rows,
        dependents: deps::list(&authed.scope, &id)
            .await?
            .into_iter()
            .map(|d| DepRow {
                has_number: d.person.number.is_some(),
                pending: d.person.status == Status::Pending,
                status: d.person.status.label(),
                status_class: d.person.status.colour().css_class(),
                name: d.name(),
                relationship: d.relationship.label(),
                sex: d.person.sex.map_or("", Sex::label),
                kind: d.kind.label(),
                number: d
                    .person
                    .number
                    .as_ref()
                    .map_or("未登録".into(), |n| n.masked()),
                images: image_rows(
                    &format!("/registrants/{id}/dependents/{}", d.id),
                    &d.person.images,
                ),
                images_required: d.kind.requires_images(),
                id: d.id,
            })
            .collect(),
        images: image_rows(&format!("/registrants/{}", r.id), &r.person.images),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
        can_approve: authed.user.role.allows(Permission::Approve),
        pending: r.person.status == Status::Pending,
    }))
}

async fn delete_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = registrant(&authed, &id).await?;
    Ok(render(&DeleteView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "登録者の削除",
        lines: vec![
            format!(
                "登録者「{}」{}を削除します。",
                r.name(),
                if r.code.is_empty() {
                    String::new()
                } else {
                    format!("（社員コード {}）", r.code)
                }
            ),
            "登録者情報・マイナンバーは完全に削除され、元に戻せません。よろしいですか。".into(),
        ],
        action: format!("/registrants/{id}/delete"),
        cancel_href: format!("/registrants/{id}"),
    }))
}

async fn delete_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    match deletion::delete_registrant(&app, &authed.scope, &authed.tenant, &authed.actor(), &id)
        .await
    {
        Ok(()) => Ok(Redirect::to("/registrants?done=deleted").into_response()),
        Err(e) => Err(e.into()),
    }
}
