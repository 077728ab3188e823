//! マイナンバー編集 / 扶養家族マイナンバー編集 (manual ch.9 拒否, ch.10 編集): the number in three
//! boxes with 入力確認 → 登録 (check digit, the add/edit flows' duplicate warning), the document
//! images (the detail page's upload flow) and マイナンバー登録拒否 with its reason. Served by the
//! registrants function under `/registrants/{id}/number` and
//! `/registrants/{id}/dependents/{dep}/number`.
//!
//! A changed number goes back to 承認待 whatever the status was, 完了 included: what was approved
//! was the old number (manual: 承認 is 本人確認 of the number and its documents).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::access::{Access, Routes};
use super::approval::{take, DecisionForm};
use super::confirm::{self, ConfirmFlow};
use super::images::{image_rows, ImageRow};
use super::person::person_rows;
use super::records::path_of;
use super::session::{Authed, Chrome};
use super::{render_status, AppState, WebError};
use crate::app::approval::{self, Subject};
use crate::app::person::FieldErrors;
use crate::app::record::RecordRef;
use crate::app::registrants::{self as regs, Duplicate, SaveError};
use crate::app::App;
use crate::domain::approval::Decision;
use crate::domain::my_number::MyNumber;
use crate::domain::role::Permission;
use crate::domain::status::Status;

/// マイナンバー編集 is an edit; 拒否 from it is an approval decision.
pub(super) fn routes() -> Routes {
    let edit = Access::Can(Permission::EditRegistrants);
    let approve = Access::Can(Permission::Approve);
    Routes::new()
        .get("/registrants/{id}/number", edit, form)
        .post("/registrants/{id}/number", edit, submit)
        .post("/registrants/{id}/number/refuse", approve, refuse)
        .get("/registrants/{id}/dependents/{dep}/number", edit, form)
        .post("/registrants/{id}/dependents/{dep}/number", edit, submit)
        .post(
            "/registrants/{id}/dependents/{dep}/number/refuse",
            approve,
            refuse,
        )
}

#[derive(Template)]
#[template(path = "approval_number.html")]
struct NumberView {
    chrome: Chrome,
    heading: &'static str,
    action: String,
    back_href: String,
    rows: Vec<(&'static str, String)>,
    current_number: Option<String>,
    number1: String,
    number2: String,
    number3: String,
    number_error: Option<String>,
    images: Vec<ImageRow>,
    /// Always: the page itself needs `EditRegistrants` (the shared upload slot asks).
    can_edit: bool,
    can_refuse: bool,
    refusable: bool,
    refused_reason: Option<String>,
    version: i64,
    reason: String,
    refuse_error: Option<String>,
    flash: Option<&'static str>,
}

/// The number as typed in the three boxes.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Boxes {
    number1: String,
    number2: String,
    number3: String,
}

/// The boxes as posted, with the 入力確認 step's fields.
type Posted = confirm::Posted<Boxes>;

fn heading(s: &Subject) -> &'static str {
    if s.dependent.is_some() {
        "扶養家族マイナンバー編集"
    } else {
        "マイナンバー編集"
    }
}

/// What the page shows besides the record: the boxes, and the refuse form as posted.
#[derive(Default)]
struct Kept {
    boxes: [String; 3],
    number_error: Option<String>,
    reason: String,
    refuse_error: Option<String>,
    flash: Option<&'static str>,
}

async fn page(
    authed: &Authed,
    record: &RecordRef,
    status: StatusCode,
    kept: Kept,
) -> Result<Response, WebError> {
    let s = approval::load(&authed.scope, record)
        .await?
        .ok_or(WebError::NotFound)?;
    let base = path_of("/registrants", record);
    let [number1, number2, number3] = kept.boxes;
    Ok(render_status(
        status,
        &NumberView {
            chrome: Chrome::new(authed, "/registrants"),
            heading: heading(&s),
            action: format!("{base}/number"),
            back_href: match record.dependent_id {
                Some(_) => format!("/registrants/{}#dependents", record.registrant_id),
                None => base.clone(),
            },
            rows: person_rows(&s),
            current_number: s.number().map(|n| n.masked()),
            number1,
            number2,
            number3,
            number_error: kept.number_error,
            images: image_rows(&base, s.images()),
            can_edit: true,
            can_refuse: authed.user.role.allows(Permission::Approve),
            refusable: !matches!(s.status(), Status::Completed | Status::Refused),
            refused_reason: s
                .review()
                .refused_reason
                .clone()
                .filter(|_| s.status() == Status::Refused),
            version: s.version(),
            reason: kept.reason,
            refuse_error: kept.refuse_error,
            flash: kept.flash,
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

async fn form(
    authed: Authed,
    record: RecordRef,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let flash = match q.done.as_str() {
        "updated" => Some("マイナンバーを登録しました。"),
        "refused" => Some("ステータスを「拒否」にしました。"),
        _ => None,
    };
    page(
        &authed,
        &record,
        StatusCode::OK,
        Kept {
            flash,
            ..Kept::default()
        },
    )
    .await
}

async fn submit(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(posted): Form<Posted>,
) -> Result<Response, WebError> {
    let subject = approval::load(&authed.scope, &record)
        .await?
        .ok_or(WebError::NotFound)?;
    confirm::submit(&app, &authed, &NumberEdit { record, subject }, posted).await
}

/// マイナンバー編集 of one record, as an 入力確認 flow.
struct NumberEdit {
    record: RecordRef,
    /// The record as it is now.
    subject: Subject,
}

/// The number typed, parsed, with its fingerprint.
struct Checked {
    number: MyNumber,
    fingerprint: String,
}

impl ConfirmFlow for NumberEdit {
    type Form = Boxes;
    type Valid = Checked;

    fn heading(&self) -> &'static str {
        heading(&self.subject)
    }

    fn nav(&self) -> &'static str {
        "/registrants"
    }

    fn action(&self) -> String {
        format!("{}/number", path_of("/registrants", &self.subject.record()))
    }

    fn boxes(form: &mut Boxes) -> [&mut String; 3] {
        [&mut form.number1, &mut form.number2, &mut form.number3]
    }

    fn number(checked: &Checked) -> Option<&MyNumber> {
        Some(&checked.number)
    }

    async fn form_page(
        &self,
        authed: &Authed,
        form: Boxes,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response, WebError> {
        let kept = Kept {
            boxes: [form.number1, form.number2, form.number3],
            number_error: errors.into_iter().next().map(|(_, e)| e),
            ..Kept::default()
        };
        page(authed, &self.record, status, kept).await
    }

    async fn check(
        &self,
        app: &App,
        authed: &Authed,
        form: &Boxes,
        _first: bool,
    ) -> Result<Checked, SaveError> {
        let typed = [&form.number1, &form.number2, &form.number3];
        let number = MyNumber::parse(&typed.iter().map(|b| b.trim()).collect::<String>())
            .map_err(|e| SaveError::Invalid(vec![("number", e.to_string())]))?;
        let fingerprint = app.vault.fingerprint(&authed.tenant.keys, &number).await?;
        Ok(Checked {
            number,
            fingerprint,
        })
    }

    /// The number masked, and what happens to the status.
    fn rows(&self, checked: &Checked) -> Vec<(&'static str, String)> {
        let s = &self.subject;
        let changed = s.number().map(|n| n.fingerprint.as_str()) != Some(&checked.fingerprint);
        let status = match (changed, s.status()) {
            (false, now) => format!("{}（変更なし）", now.label()),
            (true, Status::Pending) => Status::Pending.label().to_string(),
            (true, now) => format!(
                "{} → 承認待（番号を変更すると、もう一度承認が必要になります）",
                now.label()
            ),
        };
        vec![
            ("氏名", s.whose()),
            ("マイナンバー", checked.number.masked()),
            ("ステータス", status),
        ]
    }

    async fn hidden(
        &self,
        _app: &App,
        _authed: &Authed,
        _form: &Boxes,
        number_token: String,
    ) -> Result<Vec<(&'static str, String)>, WebError> {
        Ok(vec![
            ("number_token", number_token),
            ("confirmed", "1".into()),
        ])
    }

    async fn duplicates(
        &self,
        _app: &App,
        authed: &Authed,
        checked: &Checked,
    ) -> Result<Vec<Duplicate>, WebError> {
        let except = Some(self.subject.record_id());
        Ok(regs::duplicates(&authed.scope, &checked.fingerprint, except).await?)
    }

    async fn save(
        &self,
        app: &App,
        authed: &Authed,
        checked: Checked,
        allow_duplicate: bool,
    ) -> Result<String, SaveError> {
        approval::change_number(
            app,
            &authed.scope,
            &authed.tenant,
            &authed.actor(),
            &self.record,
            &checked.number,
            allow_duplicate,
        )
        .await?;
        Ok(format!(
            "{}/number?done=updated",
            path_of("/registrants", &self.record)
        ))
    }

    /// A number that does not parse asks again; anything else refused (a conflict) keeps the
    /// boxes with the reason.
    async fn refused(
        &self,
        authed: &Authed,
        form: Boxes,
        e: SaveError,
    ) -> Result<Response, WebError> {
        match e {
            SaveError::Invalid(errors) => {
                self.form_page(authed, form, errors, StatusCode::UNPROCESSABLE_ENTITY)
                    .await
            }
            SaveError::NotFound => Err(WebError::NotFound),
            SaveError::Infra(e) => Err(e.into()),
            e => {
                let errors = vec![("number", e.to_string())];
                self.form_page(authed, form, errors, StatusCode::CONFLICT)
                    .await
            }
        }
    }
}

/// マイナンバー登録拒否: the reason is required; the status becomes 拒否.
async fn refuse(
    State(app): State<AppState>,
    authed: Authed,
    record: RecordRef,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    match take(&app, &authed, &record, Decision::Refuse, &form).await? {
        None => Ok(Redirect::to(&format!(
            "{}/number?done=refused",
            path_of("/registrants", &record)
        ))
        .into_response()),
        Some((status, message)) => {
            page(
                &authed,
                &record,
                status,
                Kept {
                    reason: form.reason,
                    refuse_error: Some(message),
                    ..Kept::default()
                },
            )
            .await
        }
    }
}
