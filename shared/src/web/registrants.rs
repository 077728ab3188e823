//! マイナンバー管理 (manual ch.6, 10, 11): the registrant list with search and paging, add /
//! edit with the 入力確認 → 登録 step, detail, delete; and グループ管理.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::dependents::{self as deps, DependentForm, ValidDependent};
use crate::app::groups::{self, Group};
use crate::app::images::{self, ImageFlowError, Owner};
use crate::app::registrants::{
    self as regs, Actor, Duplicate, Filter, ListPage, Registrant, RegistrantForm, SaveError, Valid,
};
use crate::app::uploads::UploadError;
use crate::app::App;
use crate::domain::date::{format_slash, to_wareki};
use crate::domain::image::DocumentKind;
use crate::domain::person::{Attribute, DependentKind, Relationship, Sex};
use crate::domain::role::Permission;
use crate::domain::status::Status;

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
        .route("/registrants/groups", get(groups_list))
        .route(
            "/registrants/groups/new",
            get(group_new_form).post(group_new_submit),
        )
        .route(
            "/registrants/groups/{id}/edit",
            get(group_edit_form).post(group_edit_submit),
        )
        .route(
            "/registrants/groups/{id}/delete",
            get(group_delete_form).post(group_delete_submit),
        )
        .route(
            "/registrants/groups/{id}/members",
            get(group_members_form).post(group_members_submit),
        )
        .route(
            "/registrants/{id}/dependents/new",
            get(dep_new_form).post(dep_new_submit),
        )
        .route(
            "/registrants/{id}/dependents/{dep}/edit",
            get(dep_edit_form).post(dep_edit_submit),
        )
        .route(
            "/registrants/{id}/dependents/{dep}/delete",
            get(dep_delete_form).post(dep_delete_submit),
        )
        .route("/registrants/{id}/images/{kind}/ticket", post(image_ticket))
        .route(
            "/registrants/{id}/images/{kind}/complete",
            post(image_complete),
        )
        .route(
            "/registrants/{id}/dependents/{dep}/images/{kind}/ticket",
            post(dep_image_ticket),
        )
        .route(
            "/registrants/{id}/dependents/{dep}/images/{kind}/complete",
            post(dep_image_complete),
        )
        .route("/registrants/{id}/dependents/{dep}", get(dep_detail))
        .merge(super::home::coming_soon_routes(|p| {
            p.starts_with("/registrants/")
        }))
}

fn actor(a: &Authed) -> Actor {
    Actor {
        user_id: a.user.id.clone(),
        name: a.user.display_name(),
        ip: a.ctx.ip.clone(),
    }
}

fn attributes() -> Vec<(&'static str, &'static str)> {
    Attribute::ALL
        .iter()
        .map(|a| (a.code(), a.label()))
        .collect()
}

fn flash_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "created" => Some("登録者を追加しました。"),
        "updated" => Some("登録者情報を更新しました。"),
        "deleted" => Some("登録者を削除しました。"),
        "group_created" => Some("グループを追加しました。"),
        "group_updated" => Some("グループを更新しました。"),
        "group_deleted" => Some("グループを削除しました。"),
        "members" => Some("メンバーを登録しました。"),
        "dep_created" => Some("扶養家族を追加しました。"),
        "dep_updated" => Some("扶養家族を更新しました。"),
        "dep_deleted" => Some("扶養家族を削除しました。"),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Flash {
    done: Option<String>,
}

// ---------------------------------------------------------------- list

struct Row {
    id: String,
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
    page: ListPage,
    rows: Vec<Row>,
    groups: Vec<Group>,
    attributes: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    can_edit: bool,
    first_href: String,
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
            status: r.status.label(),
            status_class: r.status.colour().css_class(),
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
        flash: flash_text(flash.done.as_deref()),
        first_href: page_href(&filter, 1),
        prev_href: page_href(&filter, page.page.saturating_sub(1).max(1)),
        next_href: page_href(&filter, (page.page + 1).min(page.pages)),
        last_href: page_href(&filter, page.pages),
        filtered,
        rows,
        page,
        groups,
        filter,
        attributes: attributes(),
        statuses: Status::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
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

#[derive(Template)]
#[template(path = "registrant_confirm.html")]
struct ConfirmView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    rows: Vec<(&'static str, String)>,
    hidden: Vec<(&'static str, String)>,
    duplicates: Vec<Duplicate>,
}

/// The add/edit form as posted, with the confirm step's extra fields.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Posted {
    #[serde(flatten)]
    form: RegistrantForm,
    /// Set by the confirm page's 登録 button (absent on the first submit).
    confirmed: String,
    back: String,
    allow_duplicate: String,
    /// The number typed on the form, sealed for the confirm page (see [`seal_draft`]).
    number_token: String,
}

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
    mode: Mode,
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
            action: mode.action,
            cancel_href: mode.cancel_href,
            editing: mode.editing,
            current_number: mode
                .current
                .as_ref()
                .and_then(|r| r.number.as_ref().map(|n| n.masked())),
            form,
            groups: groups::list(&authed.scope).await?,
            attributes: attributes(),
            sexes: Sex::ALL.iter().map(|s| (s.code(), s.label())).collect(),
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
        ("氏名", format!("{} {}", v.family_name, v.given_name)),
        (
            "フリガナ",
            or_blank(format!("{} {}", v.family_kana, v.given_kana).trim()),
        ),
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

fn hidden_fields(token: &str, f: &RegistrantForm) -> Vec<(&'static str, String)> {
    vec![
        ("group_id", f.group_id.clone()),
        ("code", f.code.clone()),
        ("family_name", f.family_name.clone()),
        ("given_name", f.given_name.clone()),
        ("family_kana", f.family_kana.clone()),
        ("given_kana", f.given_kana.clone()),
        ("attribute", f.attribute.clone()),
        ("email", f.email.clone()),
        ("password", f.password.clone()),
        ("login_lock", f.login_lock.clone()),
        ("sex", f.sex.clone()),
        ("birth_date", f.birth_date.clone()),
        ("hire_date", f.hire_date.clone()),
        ("note", f.note.clone()),
        ("number_token", token.to_string()),
        ("confirmed", "1".into()),
    ]
}

async fn submit(
    app: &App,
    authed: &Authed,
    mode: Mode,
    posted: Posted,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    if !posted.back.is_empty() {
        return form_page(authed, mode, posted.form, Vec::new(), StatusCode::OK).await;
    }
    let mut posted = posted;
    if let Err(e) = open_draft(
        app,
        authed,
        &posted.number_token,
        [
            &mut posted.form.number1,
            &mut posted.form.number2,
            &mut posted.form.number3,
        ],
    )
    .await
    {
        return form_page(
            authed,
            mode,
            posted.form,
            vec![("number", e)],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let groups = groups::list(&authed.scope).await?;
    let valid = match regs::validate(&posted.form, &groups, regs::today(app.now())) {
        Ok(v) => v,
        Err(errors) => {
            return form_page(
                authed,
                mode,
                posted.form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let editing = mode.editing;
    let token = seal_draft(app, authed, valid.number.as_ref()).await?;
    let confirm = |duplicates: Vec<Duplicate>| {
        render(&ConfirmView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: mode.heading,
            action: mode.action.clone(),
            rows: confirm_rows(&valid, &groups, editing),
            hidden: hidden_fields(&token, &posted.form),
            duplicates,
        })
    };
    if posted.confirmed.is_empty() {
        // First submit: show 入力確認, warning about a number another record already holds.
        let duplicates = match &valid.number {
            Some(n) => {
                let fp = app.vault.fingerprint(&authed.tenant.keys, n).await?;
                regs::duplicates(
                    &authed.scope,
                    &fp,
                    mode.current.as_ref().map(|r| r.id.as_str()),
                )
                .await?
            }
            None => Vec::new(),
        };
        return Ok(confirm(duplicates));
    }
    let allow_duplicate = !posted.allow_duplicate.is_empty();
    let actor = actor(authed);
    let saved = match &mode.current {
        None => {
            regs::create(
                app,
                &authed.scope,
                &authed.tenant,
                &actor,
                valid.clone(),
                allow_duplicate,
            )
            .await
        }
        Some(r) => {
            regs::update(
                app,
                &authed.scope,
                &authed.tenant,
                &actor,
                &r.id,
                valid.clone(),
                allow_duplicate,
            )
            .await
        }
    };
    match saved {
        Ok(r) => Ok(Redirect::to(&format!(
            "/registrants/{}?done={}",
            r.id,
            if editing { "updated" } else { "created" }
        ))
        .into_response()),
        Err(SaveError::Duplicate(d)) => Ok(confirm(d)),
        Err(SaveError::Invalid(errors)) => {
            form_page(
                authed,
                mode,
                posted.form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(SaveError::PlanLimit(e)) => {
            form_page(
                authed,
                mode,
                posted.form,
                vec![("plan", e.to_string())],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(SaveError::CodeTaken) => {
            form_page(
                authed,
                mode,
                posted.form,
                vec![("code", SaveError::CodeTaken.to_string())],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(SaveError::Conflict) => {
            form_page(
                authed,
                mode,
                posted.form,
                vec![("form", SaveError::Conflict.to_string())],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(SaveError::NotFound) => Err(WebError::NotFound),
        Err(SaveError::Infra(e)) => Err(e.into()),
    }
}

async fn new_form(authed: Authed) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let form = RegistrantForm {
        attribute: Attribute::ALL[0].code().into(),
        ..RegistrantForm::default()
    };
    form_page(&authed, mode_new(), form, Vec::new(), StatusCode::OK).await
}

async fn new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    submit(&app, &authed, mode_new(), posted).await
}

async fn load(authed: &Authed, id: &str) -> Result<Registrant, WebError> {
    regs::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn edit_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = load(&authed, &id).await?;
    let form = RegistrantForm::from_registrant(&r);
    form_page(&authed, mode_edit(r), form, Vec::new(), StatusCode::OK).await
}

async fn edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = load(&authed, &id).await?;
    submit(&app, &authed, mode_edit(r), posted).await
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
}

/// One document image slot with its upload form.
struct ImageRow {
    label: &'static str,
    accepted: &'static str,
    uploaded: Option<String>,
    ticket: String,
    complete: String,
}

fn image_rows(base: &str, images: &serde_json::Map<String, serde_json::Value>) -> Vec<ImageRow> {
    DocumentKind::ALL
        .iter()
        .map(|k| ImageRow {
            label: k.label(),
            accepted: k.accepted(),
            uploaded: images
                .get(&format!("{}_at", images::attr(*k)))
                .and_then(|v| v.as_i64())
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .map(|t| {
                    let t = t.to_offset(time::macros::offset!(+9));
                    format!(
                        "{}/{:02}/{:02} {:02}:{:02}",
                        t.year(),
                        u8::from(t.month()),
                        t.day(),
                        t.hour(),
                        t.minute()
                    )
                }),
            ticket: format!("{base}/images/{}/ticket", k.code()),
            complete: format!("{base}/images/{}/complete", k.code()),
        })
        .collect()
}

struct DepRow {
    id: String,
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
    let r = load(&authed, &id).await?;
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
        ("ステータス", r.status.label().to_string()),
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
            r.sex.map_or(String::new(), |s| s.label().to_string()),
        ),
        ("生年月日", date(r.birth_date)),
        ("入社日", date(r.hire_date)),
        ("備考", r.note.clone()),
        (
            "マイナンバー",
            r.number.as_ref().map_or("未登録".into(), |n| n.masked()),
        ),
        ("扶養家族", format!("{}人", r.dependents)),
    ];
    Ok(render(&DetailView {
        chrome: Chrome::new(&authed, "/registrants"),
        flash: flash_text(flash.done.as_deref()),
        id: r.id.clone(),
        name: r.name(),
        rows,
        dependents: deps::list(&authed.scope, &id)
            .await?
            .into_iter()
            .map(|d| DepRow {
                status: d.status.label(),
                status_class: d.status.colour().css_class(),
                name: d.name(),
                relationship: d.relationship.label(),
                sex: d.sex.map_or("", Sex::label),
                kind: d.kind.label(),
                number: d.number.as_ref().map_or("未登録".into(), |n| n.masked()),
                images: image_rows(&format!("/registrants/{id}/dependents/{}", d.id), &d.images),
                images_required: d.kind.requires_images(),
                id: d.id,
            })
            .collect(),
        images: image_rows(&format!("/registrants/{}", r.id), &r.images),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
    }))
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct DeleteView {
    chrome: Chrome,
    heading: &'static str,
    lines: Vec<String>,
    action: String,
    cancel_href: String,
}

async fn delete_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let r = load(&authed, &id).await?;
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
    match regs::delete(&app, &authed.scope, &authed.tenant, &actor(&authed), &id).await {
        Ok(()) => Ok(Redirect::to("/registrants?done=deleted").into_response()),
        Err(SaveError::NotFound) => Err(WebError::NotFound),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}

// ---------------------------------------------------------------- groups

#[derive(Template)]
#[template(path = "groups_list.html")]
struct GroupsView {
    chrome: Chrome,
    flash: Option<&'static str>,
    groups: Vec<Group>,
    can_edit: bool,
}

async fn groups_list(authed: Authed, Query(flash): Query<Flash>) -> Result<Response, WebError> {
    authed.require(Permission::ViewRegistrants)?;
    Ok(render(&GroupsView {
        chrome: Chrome::new(&authed, "/registrants"),
        flash: flash_text(flash.done.as_deref()),
        groups: groups::list(&authed.scope).await?,
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
    }))
}

#[derive(Template)]
#[template(path = "group_form.html")]
struct GroupFormView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    name: String,
    confirming: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupPosted {
    name: String,
    confirmed: String,
    back: String,
}

async fn group_new_form(authed: Authed) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    Ok(render(&GroupFormView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの新規追加",
        action: "/registrants/groups/new".into(),
        name: String::new(),
        confirming: false,
        error: None,
    }))
}

async fn group_submit(
    app: &App,
    authed: &Authed,
    existing: Option<Group>,
    posted: GroupPosted,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let (heading, action) = match &existing {
        None => ("グループの新規追加", "/registrants/groups/new".to_string()),
        Some(g) => (
            "グループの編集",
            format!("/registrants/groups/{}/edit", g.id),
        ),
    };
    let page = |name: String, confirming: bool, error: Option<String>, status| {
        render_status(
            status,
            &GroupFormView {
                chrome: Chrome::new(authed, "/registrants"),
                heading,
                action: action.clone(),
                name,
                confirming,
                error,
            },
        )
    };
    if !posted.back.is_empty() {
        return Ok(page(posted.name, false, None, StatusCode::OK));
    }
    let all = groups::list(&authed.scope).await?;
    let name =
        match groups::validate_name(&posted.name, &all, existing.as_ref().map(|g| g.id.as_str())) {
            Ok(n) => n,
            Err(e) => {
                return Ok(page(
                    posted.name,
                    false,
                    Some(e),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        };
    if posted.confirmed.is_empty() {
        return Ok(page(name, true, None, StatusCode::OK));
    }
    let (group, done, action, detail) = match existing {
        None => {
            let g = groups::new_group(name, app.now());
            let detail = format!("グループ「{}」の追加", g.name);
            (g, "group_created", "group.create", detail)
        }
        Some(mut g) => {
            let detail = format!("グループ「{}」を「{name}」に変更", g.name);
            g.name = name;
            (g, "group_updated", "group.update", detail)
        }
    };
    authed
        .scope
        .put(group.to_item(&authed.scope), crate::ports::Condition::None)
        .await
        .map_err(crate::app::InfraError::from)?;
    crate::ports::Audit::record(
        &app.audit,
        crate::ports::AuditEvent {
            tenant_id: Some(authed.scope.tenant().to_string()),
            actor_id: Some(authed.user.id.clone()),
            actor_name: Some(authed.user.display_name()),
            action: action.into(),
            target: Some(group.id.clone()),
            detail,
            ip: Some(authed.ctx.ip.clone()),
        },
    )
    .await
    .map_err(crate::app::InfraError::from)?;
    Ok(Redirect::to(&format!("/registrants/groups?done={done}")).into_response())
}

async fn group_new_submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<GroupPosted>,
) -> Result<Response, WebError> {
    group_submit(&app, &authed, None, posted).await
}

async fn load_group(authed: &Authed, id: &str) -> Result<Group, WebError> {
    groups::get(&authed.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn group_edit_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let g = load_group(&authed, &id).await?;
    Ok(render(&GroupFormView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの編集",
        action: format!("/registrants/groups/{id}/edit"),
        name: g.name,
        confirming: false,
        error: None,
    }))
}

async fn group_edit_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Form(posted): Form<GroupPosted>,
) -> Result<Response, WebError> {
    let g = load_group(&authed, &id).await?;
    group_submit(&app, &authed, Some(g), posted).await
}

async fn group_delete_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let g = load_group(&authed, &id).await?;
    let (members, _) = regs::load_all(&authed.scope, Some(regs::GroupFilter::Group(&g.id))).await?;
    let mut lines = vec![format!("グループ「{}」を削除します。", g.name)];
    if members.is_empty() {
        lines.push("このグループにメンバーはいません。".into());
    } else {
        lines.push(format!("このグループには{}人のメンバーがいます。削除すると、メンバーは「グループなし」になります（登録者情報は削除されません）。", members.len()));
    }
    lines.push("よろしいですか。".into());
    Ok(render(&DeleteView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "グループの削除",
        lines,
        action: format!("/registrants/groups/{id}/delete"),
        cancel_href: "/registrants/groups".into(),
    }))
}

async fn group_delete_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let g = load_group(&authed, &id).await?;
    match regs::delete_group(&app, &authed.scope, &actor(&authed), &g).await {
        Ok(_) => Ok(Redirect::to("/registrants/groups?done=group_deleted").into_response()),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}

#[derive(Template)]
#[template(path = "group_members.html")]
struct MembersView {
    chrome: Chrome,
    group_id: String,
    group_name: String,
    /// (id, code, name, attribute)
    candidates: Vec<(String, String, String, &'static str)>,
}

async fn group_members_form(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let g = load_group(&authed, &id).await?;
    let (ungrouped, _) = regs::load_all(&authed.scope, Some(regs::GroupFilter::Ungrouped)).await?;
    Ok(render(&MembersView {
        chrome: Chrome::new(&authed, "/registrants"),
        group_id: g.id,
        group_name: g.name,
        candidates: ungrouped
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    r.code.clone(),
                    r.name(),
                    r.attribute.short_label(),
                )
            })
            .collect(),
    }))
}

async fn group_members_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let g = load_group(&authed, &id).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ids: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "member")
        .map(|(_, v)| v)
        .collect();
    match regs::join_group(&app, &authed.scope, &actor(&authed), &g, &ids).await {
        Ok(_) => Ok(Redirect::to("/registrants/groups?done=members").into_response()),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}

// ---------------------------------------------------------------- dependents

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

impl DepFormView {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|(f, _)| *f == field)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DepPosted {
    #[serde(flatten)]
    form: DependentForm,
    confirmed: String,
    back: String,
    allow_duplicate: String,
    number_token: String,
}

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
                .and_then(|d| d.number.as_ref().map(|n| n.masked())),
            form,
            relationships: Relationship::ALL
                .iter()
                .map(|r| (r.code(), r.label()))
                .collect(),
            kinds: DependentKind::ALL
                .iter()
                .map(|k| (k.code(), k.label()))
                .collect(),
            sexes: Sex::ALL.iter().map(|s| (s.code(), s.label())).collect(),
            errors,
        },
    )
}

fn dep_confirm_rows(v: &ValidDependent, editing: bool) -> Vec<(&'static str, String)> {
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_else(|| "（未入力）".into());
    vec![
        ("氏名", format!("{} {}", v.family_name, v.given_name)),
        (
            "フリガナ",
            format!("{} {}", v.family_kana, v.given_kana)
                .trim()
                .to_string(),
        ),
        ("続柄", v.relationship.label().into()),
        ("属性", v.kind.label().into()),
        (
            "性別",
            v.sex.map_or("（未選択）".into(), |s| s.label().to_string()),
        ),
        ("生年月日", date(v.birth_date)),
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

fn dep_hidden(token: &str, f: &DependentForm) -> Vec<(&'static str, String)> {
    vec![
        ("family_name", f.family_name.clone()),
        ("given_name", f.given_name.clone()),
        ("family_kana", f.family_kana.clone()),
        ("given_kana", f.given_kana.clone()),
        ("relationship", f.relationship.clone()),
        ("kind", f.kind.clone()),
        ("sex", f.sex.clone()),
        ("birth_date", f.birth_date.clone()),
        ("number_token", token.to_string()),
        ("confirmed", "1".into()),
    ]
}

async fn dep_submit(
    app: &App,
    authed: &Authed,
    mode: DepMode,
    posted: DepPosted,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    if !posted.back.is_empty() {
        return Ok(dep_form_page(
            authed,
            &mode,
            posted.form,
            Vec::new(),
            StatusCode::OK,
        ));
    }
    let mut posted = posted;
    if let Err(e) = open_draft(
        app,
        authed,
        &posted.number_token,
        [
            &mut posted.form.number1,
            &mut posted.form.number2,
            &mut posted.form.number3,
        ],
    )
    .await
    {
        return Ok(dep_form_page(
            authed,
            &mode,
            posted.form,
            vec![("number", e)],
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let valid = match deps::validate(&posted.form, regs::today(app.now())) {
        Ok(v) => v,
        Err(errors) => {
            return Ok(dep_form_page(
                authed,
                &mode,
                posted.form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    };
    let editing = mode.current.is_some();
    let token = seal_draft(app, authed, valid.number.as_ref()).await?;
    let confirm = |duplicates: Vec<Duplicate>| {
        render(&ConfirmView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: mode.heading(),
            action: mode.action(),
            rows: dep_confirm_rows(&valid, editing),
            hidden: dep_hidden(&token, &posted.form),
            duplicates,
        })
    };
    if posted.confirmed.is_empty() {
        let duplicates = match &valid.number {
            Some(n) => {
                let fp = app.vault.fingerprint(&authed.tenant.keys, n).await?;
                regs::duplicates(
                    &authed.scope,
                    &fp,
                    mode.current.as_ref().map(|d| d.id.as_str()),
                )
                .await?
            }
            None => Vec::new(),
        };
        return Ok(confirm(duplicates));
    }
    let saved = deps::save(
        app,
        &authed.scope,
        &authed.tenant,
        &actor(authed),
        &mode.registrant.id,
        mode.current.as_ref().map(|d| d.id.as_str()),
        valid.clone(),
        !posted.allow_duplicate.is_empty(),
    )
    .await;
    match saved {
        Ok(_) => Ok(Redirect::to(&format!(
            "/registrants/{}?done={}#dependents",
            mode.registrant.id,
            if editing {
                "dep_updated"
            } else {
                "dep_created"
            }
        ))
        .into_response()),
        Err(SaveError::Duplicate(d)) => Ok(confirm(d)),
        Err(SaveError::Invalid(errors)) => Ok(dep_form_page(
            authed,
            &mode,
            posted.form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(SaveError::Conflict) => Ok(dep_form_page(
            authed,
            &mode,
            posted.form,
            vec![("form", SaveError::Conflict.to_string())],
            StatusCode::CONFLICT,
        )),
        Err(SaveError::NotFound) => Err(WebError::NotFound),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}

async fn dep_mode(authed: &Authed, id: &str, dep: Option<&str>) -> Result<DepMode, WebError> {
    let registrant = load(authed, id).await?;
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
    authed.require(Permission::EditRegistrants)?;
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
    authed.require(Permission::EditRegistrants)?;
    let mode = dep_mode(&authed, &id, None).await?;
    dep_submit(&app, &authed, mode, posted).await
}

async fn dep_edit_form(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
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
    authed.require(Permission::EditRegistrants)?;
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    dep_submit(&app, &authed, mode, posted).await
}

async fn dep_delete_form(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    let d = mode.current.as_ref().ok_or(WebError::NotFound)?;
    Ok(render(&DeleteView {
        chrome: Chrome::new(&authed, "/registrants"),
        heading: "扶養家族の削除",
        lines: vec![
            format!(
                "{}さんの扶養家族「{}」（{}）を削除します。",
                mode.registrant.name(),
                d.name(),
                d.relationship.label()
            ),
            "扶養家族の登録情報・マイナンバーは完全に削除され、元に戻せません。よろしいですか。"
                .into(),
        ],
        action: format!("/registrants/{id}/dependents/{dep}/delete"),
        cancel_href: format!("/registrants/{id}#dependents"),
    }))
}

async fn dep_delete_submit(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    match deps::delete(
        &app,
        &authed.scope,
        &authed.tenant,
        &actor(&authed),
        &id,
        &dep,
    )
    .await
    {
        Ok(()) => Ok(
            Redirect::to(&format!("/registrants/{id}?done=dep_deleted#dependents")).into_response(),
        ),
        Err(SaveError::NotFound) => Err(WebError::NotFound),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(WebError::Internal),
    }
}

// ---------------------------------------------------------------- document images

#[derive(Deserialize, Default)]
#[serde(default)]
struct TicketForm {
    content_type: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CompleteForm {
    upload: String,
}

fn image_error(e: ImageFlowError) -> Response {
    let (status, message) = match e {
        ImageFlowError::NotFound => (
            StatusCode::NOT_FOUND,
            "登録者が見つかりません。".to_string(),
        ),
        ImageFlowError::Upload(UploadError::Rejected(r)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, r.to_string())
        }
        ImageFlowError::Conflict => (StatusCode::CONFLICT, ImageFlowError::Conflict.to_string()),
        ImageFlowError::Upload(UploadError::Storage(e)) => {
            tracing::error!(error = %e, "image storage failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "画像を保存できませんでした。しばらくしてからもう一度お試しください。".into(),
            )
        }
        ImageFlowError::Infra(e) => {
            tracing::error!(error = %e, "image flow failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "処理中にエラーが発生しました。".into(),
            )
        }
    };
    super::json(status, serde_json::json!({ "error": message }))
}

async fn ticket_for(
    app: &App,
    authed: &Authed,
    owner: Owner,
    kind: &str,
    form: TicketForm,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let kind = DocumentKind::from_code(kind).ok_or(WebError::NotFound)?;
    match images::start(
        app,
        &authed.scope,
        &authed.tenant,
        &owner,
        kind,
        &form.content_type,
    )
    .await
    {
        Ok((ticket, upload)) => Ok(super::json(
            StatusCode::OK,
            serde_json::json!({ "url": ticket.url, "method": ticket.method, "headers": ticket.headers, "upload": upload }),
        )),
        Err(e) => Ok(image_error(e)),
    }
}

async fn complete_for(
    app: &App,
    authed: &Authed,
    owner: Owner,
    kind: &str,
    form: CompleteForm,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
    let kind = DocumentKind::from_code(kind).ok_or(WebError::NotFound)?;
    match images::complete(
        app,
        &authed.scope,
        &authed.tenant,
        &actor(authed),
        &owner,
        kind,
        &form.upload,
    )
    .await
    {
        Ok(()) => Ok(super::json(
            StatusCode::OK,
            serde_json::json!({ "ok": true }),
        )),
        Err(e) => Ok(image_error(e)),
    }
}

async fn image_ticket(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, kind)): Path<(String, String)>,
    Form(f): Form<TicketForm>,
) -> Result<Response, WebError> {
    ticket_for(
        &app,
        &authed,
        Owner {
            registrant_id: id,
            dependent_id: None,
        },
        &kind,
        f,
    )
    .await
}

async fn image_complete(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, kind)): Path<(String, String)>,
    Form(f): Form<CompleteForm>,
) -> Result<Response, WebError> {
    complete_for(
        &app,
        &authed,
        Owner {
            registrant_id: id,
            dependent_id: None,
        },
        &kind,
        f,
    )
    .await
}

async fn dep_image_ticket(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, dep, kind)): Path<(String, String, String)>,
    Form(f): Form<TicketForm>,
) -> Result<Response, WebError> {
    ticket_for(
        &app,
        &authed,
        Owner {
            registrant_id: id,
            dependent_id: Some(dep),
        },
        &kind,
        f,
    )
    .await
}

async fn dep_image_complete(
    State(app): State<AppState>,
    authed: Authed,
    Path((id, dep, kind)): Path<(String, String, String)>,
    Form(f): Form<CompleteForm>,
) -> Result<Response, WebError> {
    complete_for(
        &app,
        &authed,
        Owner {
            registrant_id: id,
            dependent_id: Some(dep),
        },
        &kind,
        f,
    )
    .await
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
}

async fn dep_detail(
    authed: Authed,
    Path((id, dep)): Path<(String, String)>,
) -> Result<Response, WebError> {
    authed.require(Permission::ViewRegistrants)?;
    let mode = dep_mode(&authed, &id, Some(&dep)).await?;
    let d = mode.current.as_ref().ok_or(WebError::NotFound)?;
    let images = |k: DocumentKind| {
        if d.images.contains_key(&images::attr(k)) {
            "アップロード済み"
        } else {
            "未アップロード"
        }
        .to_string()
    };
    let rows = vec![
        ("ステータス", d.status.label().to_string()),
        ("氏名", d.name()),
        (
            "フリガナ",
            format!("{} {}", d.family_kana, d.given_kana)
                .trim()
                .to_string(),
        ),
        ("続柄", d.relationship.label().into()),
        ("属性", d.kind.label().into()),
        (
            "性別",
            d.sex.map_or(String::new(), |s| s.label().to_string()),
        ),
        (
            "生年月日",
            d.birth_date
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
            d.number.as_ref().map_or("未登録".into(), |n| n.masked()),
        ),
        ("番号確認書類", images(DocumentKind::NumberProof)),
        ("身元確認書類", images(DocumentKind::IdentityProof)),
    ];
    Ok(render(&DepDetailView {
        chrome: Chrome::new(&authed, "/registrants"),
        registrant_id: mode.registrant.id.clone(),
        registrant_name: mode.registrant.name(),
        id: d.id.clone(),
        name: d.name(),
        rows,
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
    }))
}

// ---------------------------------------------------------------- the number on the confirm page

/// Associated data binding a draft number to this user's session: a token copied into another
/// session or account does not open.
fn draft_record(authed: &Authed) -> String {
    format!("draft:{}:{}", authed.user.id, authed.session.csrf)
}

/// The number typed on the form, sealed under the tenant's data key, so that the 入力確認 page
/// carries it back without holding the digits.
async fn seal_draft(
    app: &App,
    authed: &Authed,
    number: Option<&crate::domain::my_number::MyNumber>,
) -> Result<String, WebError> {
    Ok(match number {
        Some(n) => {
            app.vault
                .seal_number(&authed.tenant.keys, &draft_record(authed), n)
                .await?
        }
        None => String::new(),
    })
}

/// Puts a sealed draft number back into the form's three boxes (in memory only).
async fn open_draft(
    app: &App,
    authed: &Authed,
    token: &str,
    boxes: [&mut String; 3],
) -> Result<(), String> {
    if token.is_empty() {
        return Ok(());
    }
    let n = app
        .vault
        .open_number(&authed.tenant.keys, &draft_record(authed), token)
        .await
        .map_err(|_| {
            "入力内容の有効期限が切れました。マイナンバーをもう一度入力してください。".to_string()
        })?;
    let digits = n.expose();
    let [a, b, c] = boxes;
    *a = digits[..4].to_string();
    *b = digits[4..8].to_string();
    *c = digits[8..].to_string();
    Ok(())
}
