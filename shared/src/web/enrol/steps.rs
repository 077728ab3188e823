//! ステップ1–3: the registrant's own details and the photos of their number card or
//! notification card and identity document, with the image ticket/complete pair shared with
//! dependents.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::{Enrollee, Who};
use crate::app::enrol::{self, OwnForm};
use crate::app::images;
use crate::app::registrants::{today, SaveError};
use crate::app::App;
use crate::domain::image::DocumentKind;
use crate::domain::status::Status;
use crate::web::images::{self as image_web, CompleteForm, TicketForm};
use crate::web::images::{image_rows, ImageRow};
use crate::web::records::{DepParam, KindParam};
use crate::web::{render, render_status, AppState, WebError};

pub(super) fn has(images: &serde_json::Map<String, serde_json::Value>, kind: DocumentKind) -> bool {
    images.contains_key(&images::attr(kind))
}

/// Where a returning registrant continues: the first step not done, else the review.
pub(super) async fn next_step(me: Enrollee) -> Response {
    let r = &me.registrant;
    let to = if r.person.number.is_none() || r.person.sex.is_none() || r.person.birth_date.is_none()
    {
        "/r/me/step1"
    } else if !has(&r.person.images, DocumentKind::NumberProof) {
        "/r/me/step2"
    } else if !has(&r.person.images, DocumentKind::IdentityProof) {
        "/r/me/step3"
    } else {
        "/r/me/review"
    };
    Redirect::to(to).into_response()
}

pub(super) struct DateSelects {
    pub(super) years: Vec<i32>,
    pub(super) year: String,
    pub(super) month: String,
    pub(super) day: String,
}

impl DateSelects {
    pub(super) fn new(year: &str, month: &str, day: &str, this_year: i32) -> DateSelects {
        DateSelects {
            years: (1920..=this_year).rev().collect(),
            year: year.to_string(),
            month: month.to_string(),
            day: day.to_string(),
        }
    }

    pub(super) fn of(date: Option<time::Date>, this_year: i32) -> DateSelects {
        match date {
            Some(d) => DateSelects::new(
                &d.year().to_string(),
                &u8::from(d.month()).to_string(),
                &d.day().to_string(),
                this_year,
            ),
            None => DateSelects::new("", "", "", this_year),
        }
    }

    pub(super) fn is_year(&self, y: &i32) -> bool {
        self.year == y.to_string()
    }

    pub(super) fn is_month(&self, m: &u8) -> bool {
        self.month == m.to_string()
    }

    pub(super) fn is_day(&self, d: &u8) -> bool {
        self.day == d.to_string()
    }
}

#[derive(Template)]
#[template(path = "enrol_step1.html")]
struct Step1View {
    who: Who,
    csrf: String,
    sex: String,
    sexes: Vec<(&'static str, &'static str)>,
    date: DateSelects,
    months: Vec<u8>,
    days: Vec<u8>,
    number: [String; 3],
    stored: Option<String>,
    errors: Vec<(&'static str, String)>,
    sent_back: Option<String>,
}

impl Step1View {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

pub(super) fn this_year(app: &App) -> i32 {
    today(app.now()).year()
}

/// The reason the administrator gave when sending the registration back (差戻し), if any.
pub(super) fn sent_back_reason(me: &Enrollee) -> Option<String> {
    (me.registrant.person.status == Status::SentBack)
        .then(|| me.registrant.person.review.sent_back_reason.clone())
        .flatten()
}

pub(super) async fn step1_form(
    State(app): State<AppState>,
    me: Enrollee,
) -> Result<Response, WebError> {
    let r = &me.registrant;
    Ok(render(&Step1View {
        who: me.who(),
        csrf: me.csrf(),
        sex: r
            .person
            .sex
            .map(|s| s.code().to_string())
            .unwrap_or_default(),
        sexes: crate::web::choices::sexes(),
        date: DateSelects::of(r.person.birth_date, this_year(&app)),
        months: (1..=12).collect(),
        days: (1..=31).collect(),
        number: Default::default(),
        stored: r.person.number.as_ref().map(|n| n.masked()),
        errors: Vec::new(),
        sent_back: sent_back_reason(&me),
    }))
}

pub(super) async fn step1_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Form(form): Form<OwnForm>,
) -> Result<Response, WebError> {
    let r = &me.registrant;
    let refuse = |errors: Vec<(&'static str, String)>| Step1View {
        who: me.who(),
        csrf: me.csrf(),
        sex: form.sex.clone(),
        sexes: crate::web::choices::sexes(),
        date: DateSelects::new(
            &form.birth_year,
            &form.birth_month,
            &form.birth_day,
            this_year(&app),
        ),
        months: (1..=12).collect(),
        days: (1..=31).collect(),
        number: [
            form.number1.clone(),
            form.number2.clone(),
            form.number3.clone(),
        ],
        stored: r.person.number.as_ref().map(|n| n.masked()),
        errors,
        sent_back: None,
    };
    let own = match enrol::validate_own(&form, today(app.now()), r.person.number.is_some()) {
        Ok(own) => own,
        Err(errors) => {
            return Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &refuse(errors),
            ))
        }
    };
    match enrol::save_own(&app, &me.scope, &me.tenant, &me.actor(), r, own).await {
        Ok(_) => Ok(Redirect::to("/r/me/step2").into_response()),
        Err(SaveError::Duplicate(_)) => Ok(render_status(
            StatusCode::CONFLICT,
            &refuse(vec![(
                "number",
                "このマイナンバーはすでに登録されています。番号を確認し、誤りがない場合は所属会社のマイナンバー担当者にお問い合わせください。".into(),
            )]),
        )),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(e) => Ok(render_status(
            StatusCode::CONFLICT,
            &refuse(vec![("form", e.to_string())]),
        )),
    }
}

#[derive(Template)]
#[template(path = "enrol_image.html")]
struct ImageView {
    who: Who,
    csrf: String,
    step: u8,
    heading: String,
    intro: &'static str,
    example: DocumentKind,
    slot: ImageRow,
    back: String,
    next: String,
}

impl ImageView {
    fn is_number_proof(&self) -> bool {
        self.example == DocumentKind::NumberProof
    }
}

/// The wording of each document step; the documents themselves are listed below it from
/// `domain::documents` (the one place they are kept).
fn image_intro(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::NumberProof => "次の書類の中からいずれか1つお選びください。個人番号の記載されている面の画像を選んでください。",
        DocumentKind::IdentityProof => "次の書類で、あなたご本人であることを確認します。顔写真のない書類の場合は、2点を並べて1枚の写真に撮影してください。",
    }
}

/// One document step: its number, whose document, which, and where its buttons lead.
pub(super) struct ImageStep {
    pub(super) step: u8,
    pub(super) subject: String,
    pub(super) kind: DocumentKind,
    pub(super) back: String,
    pub(super) next: String,
}

pub(super) fn image_page(
    me: &Enrollee,
    base: &str,
    images: &serde_json::Map<String, serde_json::Value>,
    s: ImageStep,
) -> Response {
    let kind = s.kind;
    let slot = image_rows(base, images)
        .into_iter()
        .find(|row| row.label == kind.label());
    let Some(slot) = slot else {
        return WebError::Internal.into_response();
    };
    let what = match kind {
        DocumentKind::NumberProof => "個人番号確認書類のアップロード",
        DocumentKind::IdentityProof => "本人確認書類のアップロード",
    };
    render(&ImageView {
        who: me.who(),
        csrf: me.csrf(),
        step: s.step,
        heading: format!("{}{what}", s.subject),
        intro: image_intro(kind),
        example: kind,
        slot,
        back: s.back,
        next: s.next,
    })
}

pub(super) async fn step2(me: Enrollee) -> Response {
    image_page(
        &me,
        "/r/me",
        &me.registrant.person.images,
        ImageStep {
            step: 2,
            subject: String::new(),
            kind: DocumentKind::NumberProof,
            back: "/r/me/step1".into(),
            next: "/r/me/step3".into(),
        },
    )
}

pub(super) async fn step3(me: Enrollee) -> Response {
    image_page(
        &me,
        "/r/me",
        &me.registrant.person.images,
        ImageStep {
            step: 3,
            subject: String::new(),
            kind: DocumentKind::IdentityProof,
            back: "/r/me/step2".into(),
            next: "/r/me/family".into(),
        },
    )
}

/// A ticket for an image of the registrant's own record, or (`{dep}`) of a dependent's.
pub(super) async fn ticket(
    State(app): State<AppState>,
    me: Enrollee,
    DepParam(dep): DepParam,
    KindParam(kind): KindParam,
    Form(f): Form<TicketForm>,
) -> Response {
    let record = me.record(dep);
    image_web::start(&app, &me.scope, &me.tenant, &record, &kind, f).await
}

/// Verifies and keeps an upload [`ticket`] handed out.
pub(super) async fn complete(
    State(app): State<AppState>,
    me: Enrollee,
    DepParam(dep): DepParam,
    KindParam(kind): KindParam,
    Form(f): Form<CompleteForm>,
) -> Response {
    let record = me.record(dep);
    let actor = me.actor();
    image_web::finish(&app, &me.scope, &me.tenant, &actor, &record, &kind, f).await
}
