//! The registrant's phone pages (manual ch.8 スマホでマイナンバー登録), under `/r/`: the link's
//! login page, ステップ1–6, 扶養家族, 登録情報一覧, 登録を終了. One column, no administrator
//! chrome, their own session cookie (`myna_rsid`); every page acts only on the registrant the
//! session names.

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::images::{self as image_web, CompleteForm, TicketForm};
use super::records::{DepParam, KindParam};
use super::registrants::{image_rows, ImageRow};
use super::session::{clear_cookie, set_cookie, Ctx, RequestContext, REGISTRANT_COOKIE};
use super::{render, render_status, AppState, WebError};
use crate::app::dependents::{self as deps, Dependent, DependentForm};
use crate::app::enrol::{self, Entry, FinishError, LoginError, LoginForm, Opened, OwnForm};
use crate::app::images;
use crate::app::keys::TenantScope;
use crate::app::record::RecordRef;
use crate::app::registrants::{self as regs, today, Registrant, SaveError};
use crate::app::sessions::{self, Session, Stage};
use crate::app::tenants::{self, Tenant};
use crate::app::App;
use crate::domain::identity::password_forbidden_part;
use crate::domain::image::DocumentKind;
use crate::domain::person::{DependentKind, Sex};
use crate::domain::purpose::Purpose;
use crate::domain::status::Status;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/r/me", get(next_step))
        .route("/r/me/step1", get(step1_form).post(step1_submit))
        .route("/r/me/step2", get(step2))
        .route("/r/me/step3", get(step3))
        .route("/r/me/images/{kind}/ticket", post(ticket))
        .route("/r/me/images/{kind}/complete", post(complete))
        .route("/r/me/family", get(family))
        .route("/r/me/dependents", get(dependents))
        .route("/r/me/dependents/new", get(dep_new).post(dep_new_submit))
        .route("/r/me/dependents/{dep}", get(dep_detail))
        .route(
            "/r/me/dependents/{dep}/edit",
            get(dep_edit).post(dep_edit_submit),
        )
        .route(
            "/r/me/dependents/{dep}/delete",
            get(dep_delete).post(dep_delete_submit),
        )
        .route("/r/me/dependents/{dep}/step5", get(dep_step5))
        .route("/r/me/dependents/{dep}/step6", get(dep_step6))
        .route("/r/me/dependents/{dep}/images/{kind}/ticket", post(ticket))
        .route(
            "/r/me/dependents/{dep}/images/{kind}/complete",
            post(complete),
        )
        .route("/r/me/review", get(review))
        .route("/r/me/finish", post(finish))
        .route("/r/me/done", get(done))
        .route("/r/me/logout", post(logout))
        .route("/r/logged-out", get(logged_out))
        .route("/r/{tenant}/{token}", get(entry).post(entry_submit))
}

/// Header of every phone page: who is registering, for which company, and (behind the
/// registrant's session) the ログアウト form with the session's CSRF token.
struct Who {
    company: String,
    name: String,
    email: String,
    logout: Option<String>,
}

impl Who {
    /// The header of the link's login page: nobody is logged in yet.
    fn of(tenant: &Tenant, r: &Registrant) -> Who {
        Who {
            company: tenant.company_name.clone(),
            name: r.name(),
            email: r.email.clone().unwrap_or_default(),
            logout: None,
        }
    }
}

#[derive(Template)]
#[template(path = "enrol_message.html")]
struct MessageView<'a> {
    title: &'a str,
    message: &'a str,
    detail: Option<&'a str>,
}

fn message(status: StatusCode, title: &str, message: &str, detail: Option<&str>) -> Response {
    render_status(
        status,
        &MessageView {
            title,
            message,
            detail,
        },
    )
}

const LOCK_TITLE: &str = "ログインロックが有効になっています";
const LOCK_TEXT: &str = "マイナンバー情報が管理担当者に承認され、登録ステータスが「完了」になったため、情報改ざん防止の為にログインロックがかかっています。";
const LOCK_DETAIL: &str = "登録内容を変更する必要がある場合は、所属会社のマイナンバー管理担当者に、「登録者編集」画面からログインロックを解除するよう依頼してから、もう一度ログインしてください。";

fn locked_page() -> Response {
    message(
        StatusCode::FORBIDDEN,
        LOCK_TITLE,
        LOCK_TEXT,
        Some(LOCK_DETAIL),
    )
}

// ---------------------------------------------------------------- the registrant's session

/// A registrant logged in on their phone.
pub struct Enrollee {
    pub ctx: RequestContext,
    pub session: Session,
    pub scope: TenantScope,
    pub tenant: Tenant,
    pub registrant: Registrant,
}

impl Enrollee {
    fn who(&self) -> Who {
        Who {
            logout: Some(self.csrf()),
            ..Who::of(&self.tenant, &self.registrant)
        }
    }

    fn actor(&self) -> regs::Actor {
        enrol::actor(&self.registrant, &self.ctx.ip)
    }

    /// The registrant's own record, or (`dependent`) one of its dependents'.
    fn record(&self, dependent: Option<String>) -> RecordRef {
        RecordRef {
            registrant_id: self.registrant.id.clone(),
            dependent_id: dependent,
        }
    }

    fn csrf(&self) -> String {
        self.session.csrf.clone()
    }
}

impl FromRequestParts<AppState> for Enrollee {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let Ctx(ctx) = Ctx::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let gone = || {
            message(
                StatusCode::UNAUTHORIZED,
                "ログインしてください",
                "ログインの有効期限が切れたか、ログインしていません。メールに記載されたURL（またはQRコード）を開いて、もう一度ログインしてください。",
                None,
            )
        };
        let Some(session) = ctx.session.clone().filter(|s| s.stage == Stage::Registrant) else {
            return Err(gone());
        };
        let scope = TenantScope::new(session.tenant.clone(), app.ports.store.clone());
        let fail = |e: crate::app::InfraError| WebError::from(e).into_response();
        let (tenant, registrant) = (
            tenants::load(&scope).await.map_err(fail)?,
            regs::get(&scope, &session.user_id).await.map_err(fail)?,
        );
        let (Some(tenant), Some(registrant)) = (tenant, registrant) else {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(gone());
        };
        if registrant.login_lock {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(locked_page());
        }
        let ended = enrol::link_ended(app, &scope, &registrant.id, session.link.as_deref())
            .await
            .map_err(fail)?;
        if let Some(ended) = ended {
            sessions::end(app, &session).await.map_err(fail)?;
            return Err(link_problem(&ended).unwrap_or_else(gone));
        }
        Ok(Enrollee {
            ctx,
            session,
            scope,
            tenant,
            registrant,
        })
    }
}

// ---------------------------------------------------------------- the link's login page

#[derive(Template)]
#[template(path = "enrol_login.html")]
struct LoginView {
    who: Who,
    action: String,
    csrf: String,
    first_visit: bool,
    passcode: bool,
    error: Option<String>,
    purposes: Vec<&'static str>,
    qr: String,
    /// What a new password must not contain (the mail address's local part), said up front.
    forbidden_part: Option<String>,
}

fn link_page(app: &App, entry: &Entry, tenant: &str, token: &str, csrf: &str) -> LoginView {
    let url = crate::app::collection::link_url(app, entry.scope.tenant(), token);
    LoginView {
        who: Who::of(&entry.tenant, &entry.registrant),
        action: format!("/r/{tenant}/{token}"),
        csrf: csrf.to_string(),
        first_visit: entry.first_visit(),
        passcode: entry.tenant.passcode_hash.is_some(),
        error: None,
        purposes: Purpose::ALL.iter().map(|p| p.label()).collect(),
        qr: super::collection::qr_svg(&url).unwrap_or_default(),
        forbidden_part: entry
            .registrant
            .email
            .as_deref()
            .and_then(password_forbidden_part),
    }
}

fn link_problem(opened: &Opened) -> Option<Response> {
    let ask =
        "お手数ですが、所属会社のマイナンバー担当者に、収集メールの再送信を依頼してください。";
    match opened {
        Opened::Ready(_) => None,
        Opened::Expired => Some(message(
            StatusCode::GONE,
            "URLの有効期限が切れています",
            "このマイナンバー登録用URLの有効期限（90日間）が切れています。",
            Some(ask),
        )),
        Opened::Replaced => Some(message(
            StatusCode::GONE,
            "このURLは使えません",
            "このURLの後に新しい登録用URLが発行されたため、このURLは使えなくなりました。最新のメール（またはQRコード）のURLを開いてください。",
            Some(ask),
        )),
        Opened::Revoked => Some(message(
            StatusCode::GONE,
            "このURLは使えません",
            "所属会社のマイナンバー担当者により、このURLでのマイナンバー登録の受付が終了しました。",
            Some("ご不明な点は、所属会社のマイナンバー担当者にお問い合わせください。"),
        )),
        Opened::Unknown => Some(message(
            StatusCode::NOT_FOUND,
            "このURLは無効です",
            "URLが正しくないか、登録が取り消されています。メールに記載されたURLをそのまま開いてください。",
            Some(ask),
        )),
    }
}

async fn entry(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Path((tenant, token)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let opened = enrol::open(&app, &tenant, &token).await?;
    if let Some(problem) = link_problem(&opened) {
        return Ok(problem);
    }
    let Opened::Ready(entry) = opened else {
        return Err(WebError::Internal);
    };
    if entry.registrant.login_lock {
        return Ok(locked_page());
    }
    Ok(render(&link_page(
        &app,
        &entry,
        &tenant,
        &token,
        ctx.csrf(),
    )))
}

async fn entry_submit(
    State(app): State<AppState>,
    Ctx(ctx): Ctx,
    Path((tenant, token)): Path<(String, String)>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let opened = enrol::open(&app, &tenant, &token).await?;
    if let Some(problem) = link_problem(&opened) {
        return Ok(problem);
    }
    let Opened::Ready(entry) = opened else {
        return Err(WebError::Internal);
    };
    match enrol::login(&app, &entry, &ctx.ip, &form).await {
        Ok(session_token) => {
            if let Some(old) = ctx.session.as_ref() {
                sessions::end(&app, old).await?;
            }
            let mut res = Redirect::to("/r/me").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, REGISTRANT_COOKIE, &session_token, None),
            );
            Ok(res)
        }
        Err(LoginError::Locked) => Ok(locked_page()),
        Err(LoginError::Infra(e)) => Err(e.into()),
        Err(e) => {
            let (status, retry_after) = match e {
                LoginError::Blocked { seconds } => (StatusCode::TOO_MANY_REQUESTS, Some(seconds)),
                LoginError::WrongPassword | LoginError::WrongPasscode => {
                    (StatusCode::UNAUTHORIZED, None)
                }
                _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
            };
            let mut view = link_page(&app, &entry, &tenant, &token, ctx.csrf());
            view.error = Some(e.to_string());
            let mut res = render_status(status, &view);
            super::auth::with_retry_after(&mut res, retry_after);
            Ok(res)
        }
    }
}

// ---------------------------------------------------------------- steps

fn has(images: &serde_json::Map<String, serde_json::Value>, kind: DocumentKind) -> bool {
    images.contains_key(&images::attr(kind))
}

/// Where a returning registrant continues: the first step not done, else the review.
async fn next_step(me: Enrollee) -> Response {
    let r = &me.registrant;
    let to = if r.number.is_none() || r.sex.is_none() || r.birth_date.is_none() {
        "/r/me/step1"
    } else if !has(&r.images, DocumentKind::NumberProof) {
        "/r/me/step2"
    } else if !has(&r.images, DocumentKind::IdentityProof) {
        "/r/me/step3"
    } else {
        "/r/me/review"
    };
    Redirect::to(to).into_response()
}

struct DateSelects {
    years: Vec<i32>,
    year: String,
    month: String,
    day: String,
}

impl DateSelects {
    fn new(year: &str, month: &str, day: &str, this_year: i32) -> DateSelects {
        DateSelects {
            years: (1920..=this_year).rev().collect(),
            year: year.to_string(),
            month: month.to_string(),
            day: day.to_string(),
        }
    }

    fn of(date: Option<time::Date>, this_year: i32) -> DateSelects {
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

    fn is_year(&self, y: &i32) -> bool {
        self.year == y.to_string()
    }

    fn is_month(&self, m: &u8) -> bool {
        self.month == m.to_string()
    }

    fn is_day(&self, d: &u8) -> bool {
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

fn this_year(app: &App) -> i32 {
    today(app.now()).year()
}

/// The reason the administrator gave when sending the registration back (差戻し), if any.
fn sent_back_reason(me: &Enrollee) -> Option<String> {
    (me.registrant.status == Status::SentBack)
        .then(|| me.registrant.review.sent_back_reason.clone())
        .flatten()
}

async fn step1_form(State(app): State<AppState>, me: Enrollee) -> Result<Response, WebError> {
    let r = &me.registrant;
    Ok(render(&Step1View {
        who: me.who(),
        csrf: me.csrf(),
        sex: r.sex.map(|s| s.code().to_string()).unwrap_or_default(),
        sexes: super::choices::sexes(),
        date: DateSelects::of(r.birth_date, this_year(&app)),
        months: (1..=12).collect(),
        days: (1..=31).collect(),
        number: Default::default(),
        stored: r.number.as_ref().map(|n| n.masked()),
        errors: Vec::new(),
        sent_back: sent_back_reason(&me),
    }))
}

async fn step1_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Form(form): Form<OwnForm>,
) -> Result<Response, WebError> {
    let r = &me.registrant;
    let refuse = |errors: Vec<(&'static str, String)>| Step1View {
        who: me.who(),
        csrf: me.csrf(),
        sex: form.sex.clone(),
        sexes: super::choices::sexes(),
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
        stored: r.number.as_ref().map(|n| n.masked()),
        errors,
        sent_back: None,
    };
    let own = match enrol::validate_own(&form, today(app.now()), r.number.is_some()) {
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
struct ImageStep {
    step: u8,
    subject: String,
    kind: DocumentKind,
    back: String,
    next: String,
}

fn image_page(
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

async fn step2(me: Enrollee) -> Response {
    image_page(
        &me,
        "/r/me",
        &me.registrant.images,
        ImageStep {
            step: 2,
            subject: String::new(),
            kind: DocumentKind::NumberProof,
            back: "/r/me/step1".into(),
            next: "/r/me/step3".into(),
        },
    )
}

async fn step3(me: Enrollee) -> Response {
    image_page(
        &me,
        "/r/me",
        &me.registrant.images,
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
async fn ticket(
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
async fn complete(
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

// ---------------------------------------------------------------- dependents

#[derive(Template)]
#[template(path = "enrol_family.html")]
struct FamilyView {
    who: Who,
}

async fn family(me: Enrollee) -> Response {
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

async fn dependents(me: Enrollee) -> Result<Response, WebError> {
    let list = deps::list(&me.scope, &me.registrant.id).await?;
    Ok(render(&DependentsView {
        who: me.who(),
        rows: list
            .iter()
            .map(|d| DepRow {
                id: d.id.clone(),
                name: d.name(),
                sex: d.sex.map_or("", |s| s.label()),
                kind: d.kind.label(),
                needs_images: d.kind == DependentKind::NationalPensionCategory3,
                images_done: DocumentKind::ALL.iter().all(|k| has(&d.images, *k)),
            })
            .collect(),
    }))
}

/// The dependent form on the phone (all fields required, birth date from selects).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct DepForm {
    family_name: String,
    given_name: String,
    sex: String,
    birth_year: String,
    birth_month: String,
    birth_day: String,
    relationship: String,
    kind: String,
    number1: String,
    number2: String,
    number3: String,
}

#[derive(Template)]
#[template(path = "enrol_dependent_form.html")]
struct DepFormView {
    who: Who,
    csrf: String,
    action: String,
    form: DepForm,
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
    form: DepForm,
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
        sexes: super::choices::sexes(),
        relationships: super::choices::relationships(),
        kinds: super::choices::dependent_kinds(),
        stored,
        errors,
    }
}

async fn own_dependent(me: &Enrollee, dep: &str) -> Result<Dependent, WebError> {
    deps::get(&me.scope, &me.registrant.id, dep)
        .await?
        .ok_or(WebError::NotFound)
}

async fn dep_new(State(app): State<AppState>, me: Enrollee) -> Response {
    let view = dep_view(
        &me,
        &app,
        "/r/me/dependents/new".into(),
        DepForm {
            relationship: "spouse".into(),
            kind: "dependent".into(),
            ..DepForm::default()
        },
        None,
        Vec::new(),
    );
    render(&view)
}

async fn dep_edit(
    State(app): State<AppState>,
    me: Enrollee,
    Path(dep): Path<String>,
) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    let date = |f: fn(time::Date) -> String| d.birth_date.map(f).unwrap_or_default();
    let form = DepForm {
        family_name: d.family_name.clone(),
        given_name: d.given_name.clone(),
        sex: d.sex.map(|s| s.code().to_string()).unwrap_or_default(),
        birth_year: date(|d| d.year().to_string()),
        birth_month: date(|d| u8::from(d.month()).to_string()),
        birth_day: date(|d| d.day().to_string()),
        relationship: d.relationship.code().into(),
        kind: d.kind.code().into(),
        ..DepForm::default()
    };
    let view = dep_view(
        &me,
        &app,
        format!("/r/me/dependents/{}/edit", d.id),
        form,
        d.number.as_ref().map(|n| n.masked()),
        Vec::new(),
    );
    Ok(render(&view))
}

async fn dep_save(
    app: &App,
    me: &Enrollee,
    existing: Option<Dependent>,
    form: DepForm,
) -> Result<Response, WebError> {
    let action = existing.as_ref().map_or_else(
        || "/r/me/dependents/new".to_string(),
        |d| format!("/r/me/dependents/{}/edit", d.id),
    );
    let stored = existing
        .as_ref()
        .and_then(|d| d.number.as_ref().map(|n| n.masked()));
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    if Sex::from_code(form.sex.trim()).is_none() {
        errors.push(("sex", "性別を選択してください。".into()));
    }
    let birth = match enrol::birth_date(
        &form.birth_year,
        &form.birth_month,
        &form.birth_day,
        today(app.now()),
    ) {
        Ok(d) => crate::domain::date::format_slash(d),
        Err(m) => {
            errors.push(("birth_date", m));
            String::new()
        }
    };
    let typed_number = format!("{}{}{}", form.number1, form.number2, form.number3);
    if typed_number.trim().is_empty() && stored.is_none() {
        errors.push(("number", "マイナンバーを入力してください。".into()));
    }
    let dep_form = DependentForm {
        family_name: form.family_name.clone(),
        given_name: form.given_name.clone(),
        relationship: form.relationship.clone(),
        kind: form.kind.clone(),
        sex: form.sex.clone(),
        birth_date: birth,
        number1: form.number1.clone(),
        number2: form.number2.clone(),
        number3: form.number3.clone(),
        ..DependentForm::default()
    };
    let valid = match deps::validate(&dep_form, today(app.now())) {
        Ok(v) if errors.is_empty() => v,
        Ok(_) => {
            let view = dep_view(me, app, action, form, stored, errors);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view));
        }
        Err(more) => {
            errors.extend(more.into_iter().filter(|(f, _)| *f != "birth_date"));
            let view = dep_view(me, app, action, form, stored, errors);
            return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view));
        }
    };
    let refuse = |m: String| {
        let view = dep_view(
            me,
            app,
            action.clone(),
            form.clone(),
            stored.clone(),
            vec![("number", m)],
        );
        render_status(StatusCode::CONFLICT, &view)
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
        Err(SaveError::Duplicate(_)) => Ok(refuse(
            "このマイナンバーはすでに登録されています。番号を確認してください。".into(),
        )),
        Err(SaveError::Invalid(errors)) => {
            let view = dep_view(
                me,
                app,
                action.clone(),
                form.clone(),
                stored.clone(),
                errors,
            );
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(e) => Ok(refuse(e.to_string())),
    }
}

async fn dep_new_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Form(form): Form<DepForm>,
) -> Result<Response, WebError> {
    dep_save(&app, &me, None, form).await
}

async fn dep_edit_submit(
    State(app): State<AppState>,
    me: Enrollee,
    Path(dep): Path<String>,
    Form(form): Form<DepForm>,
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

fn dep_rows(d: &Dependent) -> Vec<(&'static str, String)> {
    vec![
        ("氏名", d.name()),
        ("性別", d.sex.map_or("", |s| s.label()).to_string()),
        (
            "生年月日",
            d.birth_date
                .map(crate::domain::date::format_slash)
                .unwrap_or_default(),
        ),
        ("続柄", d.relationship.label().to_string()),
        ("属性", d.kind.label().to_string()),
        (
            "マイナンバー",
            d.number
                .as_ref()
                .map_or("未入力".to_string(), |n| n.masked()),
        ),
    ]
}

async fn dep_detail(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    Ok(render(&DepDetailView {
        who: me.who(),
        id: d.id.clone(),
        rows: dep_rows(&d),
        needs_images: d.kind == DependentKind::NationalPensionCategory3,
        images: image_rows(&format!("/r/me/dependents/{}", d.id), &d.images),
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

async fn dep_delete(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    let d = own_dependent(&me, &dep).await?;
    Ok(render(&DepDeleteView {
        who: me.who(),
        csrf: me.csrf(),
        id: d.id.clone(),
        rows: dep_rows(&d),
    }))
}

async fn dep_delete_submit(
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
        &d.images,
        ImageStep {
            step,
            subject: format!("{}様の", d.name()),
            kind,
            back,
            next,
        },
    ))
}

async fn dep_step5(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    dep_image_step(&me, &dep, DocumentKind::NumberProof).await
}

async fn dep_step6(me: Enrollee, Path(dep): Path<String>) -> Result<Response, WebError> {
    dep_image_step(&me, &dep, DocumentKind::IdentityProof).await
}

// ---------------------------------------------------------------- review and finish

#[derive(Template)]
#[template(path = "enrol_review.html")]
struct ReviewView {
    who: Who,
    csrf: String,
    rows: Vec<(&'static str, String)>,
    dependents: Vec<Vec<(&'static str, String)>>,
    missing: Vec<String>,
    status: &'static str,
    sent_back: Option<String>,
}

fn done_or_not(images: &serde_json::Map<String, serde_json::Value>, kind: DocumentKind) -> String {
    if has(images, kind) {
        "アップロード済み".into()
    } else {
        "未アップロード".into()
    }
}

async fn review_page(me: &Enrollee, missing: Option<Vec<String>>) -> Result<Response, WebError> {
    let r = &me.registrant;
    let list = deps::list(&me.scope, &r.id).await?;
    let missing = missing.unwrap_or_default();
    let status = if missing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        &ReviewView {
            who: me.who(),
            csrf: me.csrf(),
            rows: vec![
                ("氏名", r.name()),
                ("メールアドレス", r.email.clone().unwrap_or_default()),
                ("性別", r.sex.map_or("", |s| s.label()).to_string()),
                (
                    "生年月日",
                    r.birth_date
                        .map(crate::domain::date::format_slash)
                        .unwrap_or_default(),
                ),
                (
                    "マイナンバー",
                    r.number
                        .as_ref()
                        .map_or("未入力".to_string(), |n| n.masked()),
                ),
                (
                    "個人番号確認書類",
                    done_or_not(&r.images, DocumentKind::NumberProof),
                ),
                (
                    "本人確認書類",
                    done_or_not(&r.images, DocumentKind::IdentityProof),
                ),
            ],
            dependents: list.iter().map(dep_rows).collect(),
            missing,
            status: r.status.label(),
            sent_back: sent_back_reason(me),
        },
    ))
}

async fn review(me: Enrollee) -> Result<Response, WebError> {
    review_page(&me, None).await
}

async fn finish(State(app): State<AppState>, me: Enrollee) -> Result<Response, WebError> {
    match enrol::finish(&app, &me.scope, &me.actor(), &me.registrant.id).await {
        Ok(()) => {
            sessions::end(&app, &me.session).await?;
            Ok(Redirect::to("/r/me/done").into_response())
        }
        Err(FinishError::Incomplete(missing)) => review_page(&me, Some(missing)).await,
        Err(FinishError::Conflict) => {
            review_page(&me, Some(vec![FinishError::Conflict.to_string()])).await
        }
        Err(FinishError::Infra(e)) => Err(e.into()),
    }
}

/// ログアウト: ends the registrant's session on the server (a copied cookie is worthless
/// afterwards) and on the phone. The link stays valid: it is how they come back.
async fn logout(State(app): State<AppState>, me: Enrollee) -> Result<Response, WebError> {
    sessions::end(&app, &me.session).await?;
    let mut res = Redirect::to("/r/logged-out").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, REGISTRANT_COOKIE));
    Ok(res)
}

async fn logged_out() -> Response {
    message(
        StatusCode::OK,
        "ログアウトしました",
        "マイナンバー登録画面からログアウトしました。ここまでに「決定」した内容は保存されています。",
        Some("続きを登録するときは、メールに記載されたURL（またはQRコード）をもう一度開き、設定したパスワードでログインしてください。"),
    )
}

async fn done() -> Response {
    message(
        StatusCode::OK,
        "登録完了",
        "マイナンバーの登録作業は正常に完了いたしました。",
        Some("ご協力ありがとうございました。担当者が内容を確認（承認）します。承認されるまでは、同じURLからログインして登録内容を修正できます。"),
    )
}
