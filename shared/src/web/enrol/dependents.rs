//! 扶養家族 on the phone: the list, add/edit (ステップ4, saved on 決定 without a 入力確認 step;
//! checked by `app::enrol::validate_dependent` and saved by `app::dependents::save`, as the
//! admin's form is), detail, delete, and ステップ5–6 (each dependent's photos).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::steps::{has, image_page, this_year, DateSelects, ImageStep};
use super::{message, Enrollee, Who};
use crate::app::dependents::{self as deps, Dependent};
use crate::app::enrol::{self, PhoneDependentForm};
use crate::app::person::FieldErrors;
use crate::app::registrants::{today, SaveError};
use crate::app::App;
use crate::domain::image::DocumentKind;
use crate::domain::person::DependentKind;
use crate::web::images::{image_rows, ImageRow};
use crate::web::{render, render_status, AppState, WebError};

#[derive(Template)]
#[template(path = "enrol_family.html")]
struct FamilyView {
    who: Who,
}

pub(super) async fn family(me: Enrollee) -> Response {
    render(&FamilyView { who: me.who() })
}

struct DepRow {
    id: String,
    name: String,
    sex: &'static str,
    kind: &'static str,
    needs_images: bool,
    images_done: bool,
}

#[derive(Template)]
#[template(path = "enrol_dependents.html")]
struct DependentsView {
    who: Who,
    rows: Vec<DepRow>,
}

pub(super) async fn dependents(me: Enrollee) -> Result<Response, WebError> {
    let list = deps::list(&me.scope, &me.registrant.id).await?;
    Ok(render(&DependentsView {
        who: me.who(),
        rows: list
            .iter()
            .map(|d| DepRow {
                id: d.id.clone(),
                name: d.name(),
                sex: d.person.sex.map_or("", |s| s.label()),
                kind: d.kind.label(),
                needs_images: d.kind == DependentKind::NationalPensionCategory3,
                images_done: DocumentKind::ALL.iter().all(|k| has(&d.person.images, *k)),
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "enrol_dependent_form.html")]
struct DepFormView {
    who: Who,
    csrf: String,
    action: String,
    form: PhoneDependentForm,
    date: DateSelects,
    months: Vec<u8>,
    days: Vec<u8>,
    sexes: Vec<(&'static str, &'static str)>,
    relationships: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    number: [String; 3],
    stored: Option<String>,
    errors: Vec<(&'static str, String)>,
}

impl DepFormView {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn dep_view(
    me: &Enrollee,
    app: &App,
    action: String,
    form: PhoneDependentForm,
    stored: Option<String>,
    errors: Vec<(&'static str, String)>,
) -> DepFormView {
    DepFormView {
        who: me.who(),
        csrf: me.csrf(),
        action,
        date: DateSelects::new(
            &form.birth_year,
            &form.birth_month,
            &form.birth_day,
            this_year(app),
        ),
        number: [
            form.number1.clone(),
            form.number2.clone(),
            form.number3.clone(),
        ],
        form,
        months: (1..=12).collect(),
        days: (1..=31).collect(),
        sexes: crate::web::choices::sexes(),
        relationships: crate::web::choices::relationships(),
        kinds: crate::web::choices::dependent_kinds(),
        stored,
        errors,
    }
}

async fn own_dependent(me: &Enrollee, dep: &str) -> Result<Dependent, WebError> {
    deps::get(&me.scope, &me.registrant.id, dep)
        .await?
        .ok_or(WebError::NotFound)
}

pub(super) async fn dep_new(State(app): State<AppState>, me: Enrollee) -> Response {
    let view = dep_view(
        &me,
        &app,
        "/r/me/dependents/new".into(),
        PhoneDependentForm {
            relationship: "spouse".into(),
            kind: "dependent".into(),
            ..PhoneDependentForm::default()
        },
        None,
        Vec::new(),
    );
    render(&view)
}

pub(super) async fn dep_edit(
    State(app): State<AppState>,
    me: Enrollee,
    Path(dep): Path<String>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    let date = |f: fn(time::Date) -> String| d.person.birth_date.map(f).unwrap_or_default();
    let form = PhoneDependentForm {
        family_name: d.person.family_name.clone(),
        given_name: d.person.given_name.clone(),
        sex: d
            .person
            .sex
            .map(|s| s.code().to_string())
            .unwrap_or_default(),
        birth_year: date(|d| d.year().to_string()),
        birth_month: date(|d| u8::from(d.month()).to_string()),
        birth_day: date(|d| d.day().to_string()),
        relationship: d.relationship.code().into(),
        kind: d.kind.code().into(),
        ..PhoneDependentForm::default()
    };
    let view = dep_view(
        &me,
        &app,
        format!("/r/me/dependents/{}/edit", d.id),
        form,
        d.person.number.as_ref().map(|n| n.masked()),
        Vec::new(),
    );
    Ok(render(&view))
}

async fn dep_save(
    app: &App,
    me: &Enrollee,
    existing: Option<Dependent>,
    form: PhoneDependentForm,
) -> Result<Response, WebError> {
    let action = existing.as_ref().map_or_else(
        || "/r/me/dependents/new".to_string(),
        |d| format!("/r/me/dependents/{}/edit", d.id),
    );
    let stored = existing
        .as_ref()
        .and_then(|d| d.person.number.as_ref().map(|n| n.masked()));
    let page = |errors: FieldErrors, status: StatusCode| {
        let view = dep_view(
            me,
            app,
            action.clone(),
            form.clone(),
            stored.clone(),
            errors,
        );
        render_status(status, &view)
    };
    let valid = match enrol::validate_dependent(&form, today(app.now()), stored.is_some()) {
        Ok(valid) => valid,
        Err(errors) => return Ok(page(errors, StatusCode::UNPROCESSABLE_ENTITY)),
    };
    match deps::save(
        app,
        &me.scope,
        &me.tenant,
        &me.actor(),
        &me.registrant.id,
        existing.as_ref().map(|d| d.id.as_str()),
        valid,
        false,
    )
    .await
    {
        Ok(d) if d.kind == DependentKind::NationalPensionCategory3 => {
            Ok(Redirect::to(&format!("/r/me/dependents/{}/step5", d.id)).into_response())
        }
        Ok(_) => Ok(Redirect::to("/r/me/dependents").into_response()),
        // The registrant is not told whose record holds the number.
        Err(SaveError::Duplicate(_)) => Ok(page(
            vec![(
                "number",
                "このマイナンバーはすでに登録されています。番号を確認してください。".into(),
            )],
            StatusCode::CONFLICT,
        )),
        Err(SaveError::Invalid(errors)) => Ok(page(errors, StatusCode::UNPROCESSABLE_ENTITY)),
        Err(e @ SaveError::Infra(_)) => Err(e.into()),
        Err(e) => Ok(page(vec![("number", e.to_string())], StatusCode::CONFLICT)),
    }
}

pub(super) async fn dep_new_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Form(form): Form<PhoneDependentForm>,
) -> Result<Response, WebError> {
    dep_save(&app, &me, None, form).await
}

pub(super) async fn dep_edit_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Path(dep): Path<String>,
    Form(form): Form<PhoneDependentForm>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    dep_save(&app, &me, Some(d), form).await
}

#[derive(Template)]
#[template(path = "enrol_dependent_detail.html")]
struct DepDetailView {
    who: Who,
    id: String,
    rows: Vec<(&'static str, String)>,
    needs_images: bool,
    images: Vec<ImageRow>,
}

pub(super) fn dep_rows(d: &Dependent) -> Vec<(&'static str, String)> {
    vec![
        ("氏名", d.name()),
        ("性別", d.person.sex.map_or("", |s| s.label()).to_string()),
        (
            "生年月日",
            d.person
                .birth_date
                .map(crate::domain::date::format_slash)
                .unwrap_or_default(),
        ),
        ("続柄", d.relationship.label().to_string()),
        ("属性", d.kind.label().to_string()),
        (
            "マイナンバー",
            d.person
                .number
                .as_ref()
                .map_or("未入力".to_string(), |n| n.masked()),
        ),
    ]
}

pub(super) async fn dep_detail(
    me: Enrollee,
    Path(dep): Path<String>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    Ok(render(&DepDetailView {
        who: me.who(),
        id: d.id.clone(),
        rows: dep_rows(&d),
        needs_images: d.kind == DependentKind::NationalPensionCategory3,
        images: image_rows(&format!("/r/me/dependents/{}", d.id), &d.person.images),
    }))
}

#[derive(Template)]
#[template(path = "enrol_dependent_delete.html")]
struct DepDeleteView {
    who: Who,
    csrf: String,
    id: String,
    rows: Vec<(&'static str, String)>,
}

pub(super) async fn dep_delete(
    me: Enrollee,
    Path(dep): Path<String>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    Ok(render(&DepDeleteView {
        who: me.who(),
        csrf: me.csrf(),
        id: d.id.clone(),
        rows: dep_rows(&d),
    }))
}

pub(super) async fn dep_delete_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Path(dep): Path<String>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    match deps::delete(
        &app,
        &me.scope,
        &me.tenant,
        &me.actor(),
        &me.registrant.id,
        &d.id,
    )
    .await
    {
        Ok(()) | Err(SaveError::NotFound) => Ok(Redirect::to("/r/me/dependents").into_response()),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(e) => Ok(message(
            StatusCode::CONFLICT,
            "削除できませんでした",
            &e.to_string(),
            None,
        )),
    }
}

async fn dep_image_step(
    me: &Enrollee,
    dep: &str,
    kind: DocumentKind,
) -> Result<Response, WebError> {
    let d = own_dependent(me, dep).await?;
    let base = format!("/r/me/dependents/{}", d.id);
    let (step, back, next) = match kind {
        DocumentKind::NumberProof => (5, format!("{base}/edit"), format!("{base}/step6")),
        DocumentKind::IdentityProof => (6, format!("{base}/step5"), "/r/me/dependents".into()),
    };
    Ok(image_page(
        me,
        &base,
        &d.person.images,
        ImageStep {
            step,
            subject: format!("{}様の", d.name()),
            kind,
            back,
            next,
        },
    ))
}

pub(super) async fn dep_step5(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    dep_image_step(&me, &dep, DocumentKind::NumberProof).await
}

pub(super) async fn dep_step6(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    dep_image_step(&me, &dep, DocumentKind::IdentityProof).await
}
