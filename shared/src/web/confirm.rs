//! 入力確認 (manual ch.10, 11): the step between a form and 登録 that the registrant, dependent and
//! number forms share. The page shows what will be saved and warns about a number another record
//! already holds; the secrets typed on the form (the number, the login password) travel through it
//! sealed under the tenant's data key and bound to this session, never in clear.
//!
//! Not here: the forms themselves and what 登録 saves (each capability's module).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{Authed, Chrome};
use super::{render, WebError};
use crate::app::person::FieldErrors;
use crate::app::registrants::{self as regs, Duplicate, SaveError};
use crate::app::App;
use crate::domain::my_number::MyNumber;

/// The 入力確認 page: the rows to check, the form carried back in hidden fields, and the records
/// already holding the number.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct ConfirmView {
    pub(super) chrome: Chrome,
    pub(super) heading: &'static str,
    pub(super) action: String,
    pub(super) rows: Vec<(&'static str, String)>,
    pub(super) hidden: Vec<(&'static str, String)>,
    pub(super) duplicates: Vec<Duplicate>,
}

/// Associated data binding a draft secret (`what`: the number, the login password) to this
/// user's session: a token copied into another session, account or field does not open.
fn draft_record(authed: &Authed, what: &str) -> String {
    match what {
        // The number's record as it always was (tokens on pages open across an upgrade).
        "number" => format!("draft:{}:{}", authed.user.id, authed.session.csrf),
        other => format!("draft:{other}:{}:{}", authed.user.id, authed.session.csrf),
    }
}

/// A secret typed on a form, sealed under the tenant's data key, so that the 入力確認 page
/// carries it back without holding it: the number and the login password alike.
pub(super) async fn seal_secret(
    app: &App,
    authed: &Authed,
    what: &str,
    text: &str,
) -> Result<String, WebError> {
    if text.is_empty() {
        return Ok(String::new());
    }
    let cipher = app.vault.cipher(&authed.tenant.keys).await?;
    Ok(cipher.seal_text(&draft_record(authed, what), text))
}

/// Opens a secret sealed by [`seal_secret`]: empty for an empty token, `None` for a token
/// that does not open here (another session, user or field; the session was renewed).
pub(super) async fn open_secret(
    app: &App,
    authed: &Authed,
    what: &str,
    token: &str,
) -> Result<Option<String>, WebError> {
    if token.is_empty() {
        return Ok(Some(String::new()));
    }
    let cipher = app.vault.cipher(&authed.tenant.keys).await?;
    Ok(cipher.open_text(&draft_record(authed, what), token).ok())
}

/// The number typed on the form, sealed for the 入力確認 page (see [`seal_secret`]).
async fn seal_draft(
    app: &App,
    authed: &Authed,
    number: Option<&MyNumber>,
) -> Result<String, WebError> {
    seal_secret(app, authed, "number", number.map_or("", |n| n.expose())).await
}

/// The other records of the tenant (not `except`) holding `number`, for the 入力確認 page's
/// warning; none without a number.
pub(super) async fn draft_duplicates(
    app: &App,
    authed: &Authed,
    number: Option<&MyNumber>,
    except: Option<&str>,
) -> Result<Vec<Duplicate>, WebError> {
    let Some(n) = number else {
        return Ok(Vec::new());
    };
    let fp = app.vault.fingerprint(&authed.tenant.keys, n).await?;
    Ok(regs::duplicates(&authed.scope, &fp, except).await?)
}

/// Puts a sealed draft number back into the form's three boxes (in memory only).
async fn open_draft(
    app: &App,
    authed: &Authed,
    token: &str,
    boxes: [&mut String; 3],
) -> Result<(), String> {
    let expired =
        || "入力内容の有効期限が切れました。マイナンバーをもう一度入力してください。".to_string();
    let digits = open_secret(app, authed, "number", token)
        .await
        .ok()
        .flatten()
        .ok_or_else(expired)?;
    if digits.is_empty() {
        return Ok(());
    }
    let n = MyNumber::parse(&digits).map_err(|_| expired())?;
    let digits = n.expose();
    let [a, b, c] = boxes;
    *a = digits[..4].to_string();
    *b = digits[4..8].to_string();
    *c = digits[8..].to_string();
    Ok(())
}

// ---------------------------------------------------------------- the flow

/// A form's fields as posted, with the 入力確認 step's own.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Posted<F> {
    #[serde(flatten)]
    pub(crate) form: F,
    /// Set by the confirm page's 登録 button (absent on the first submit).
    pub(super) confirmed: String,
    /// Set by the confirm page's 戻る button.
    pub(super) back: String,
    pub(super) allow_duplicate: String,
    /// The number typed on the form, sealed for the confirm page (see [`seal_draft`]).
    pub(super) number_token: String,
    /// The login password typed on the form, sealed the same way (see [`seal_secret`]); only
    /// the registrant form has one.
    pub(super) password_token: String,
}

/// One form with an 入力確認 step: what [`submit`] needs to know about it. The flow itself
/// (open the sealed draft, 戻る, check, confirm page with duplicates, save) is [`submit`]'s.
pub(super) trait ConfirmFlow {
    /// The form as typed.
    type Form;
    /// What [`ConfirmFlow::check`] makes of it, ready to save.
    type Valid;

    /// The heading of the form and its 入力確認 page.
    fn heading(&self) -> &'static str;
    /// The main menu entry the form and its 入力確認 page belong to (marked current).
    fn nav(&self) -> &'static str;
    /// Where the form and its 入力確認 page post.
    fn action(&self) -> String;
    /// The form's three number boxes, which a sealed draft number goes back into.
    fn boxes(form: &mut Self::Form) -> [&mut String; 3];
    /// The number to seal and to look for in other records.
    fn number(valid: &Self::Valid) -> Option<&MyNumber>;

    /// The form again, showing `errors`.
    async fn form_page(
        &self,
        authed: &Authed,
        form: Self::Form,
        errors: FieldErrors,
        status: StatusCode,
    ) -> Result<Response, WebError>;
    /// Opens the secrets besides the number that the confirm page carried sealed; the field
    /// errors if one no longer opens.
    async fn open_secrets(
        &self,
        _app: &App,
        _authed: &Authed,
        _posted: &mut Posted<Self::Form>,
    ) -> Result<Result<(), FieldErrors>, WebError> {
        Ok(Ok(()))
    }
    /// Validates the form (`first`: the submit that leads to 入力確認, not 登録).
    async fn check(
        &self,
        app: &App,
        authed: &Authed,
        form: &Self::Form,
        first: bool,
    ) -> Result<Self::Valid, SaveError>;
    /// The 入力確認 page's rows.
    fn rows(&self, valid: &Self::Valid) -> Vec<(&'static str, String)>;
    /// The fields the 入力確認 page posts back, `number_token` among them.
    async fn hidden(
        &self,
        app: &App,
        authed: &Authed,
        form: &Self::Form,
        number_token: String,
    ) -> Result<Vec<(&'static str, String)>, WebError>;
    /// The other records holding the number, for the 入力確認 page's warning.
    async fn duplicates(
        &self,
        app: &App,
        authed: &Authed,
        valid: &Self::Valid,
    ) -> Result<Vec<Duplicate>, WebError>;
    /// Saves; the page to go to after.
    async fn save(
        &self,
        app: &App,
        authed: &Authed,
        valid: Self::Valid,
        allow_duplicate: bool,
    ) -> Result<String, SaveError>;
    /// The answer to a refused check or save ([`SaveError::Duplicate`] never comes here: it
    /// is the confirm page's business): by default the form again with [`refusal`]'s errors.
    async fn refused(
        &self,
        authed: &Authed,
        form: Self::Form,
        e: SaveError,
    ) -> Result<Response, WebError> {
        let (errors, status) = refusal(e)?;
        self.form_page(authed, form, errors, status).await
    }
}

/// A refused person form's errors on their fields and its status; a missing record or a
/// failure is the error page's.
pub(super) fn refusal(e: SaveError) -> Result<(FieldErrors, StatusCode), WebError> {
    Ok(match e {
        SaveError::Invalid(errors) => (errors, UNPROCESSABLE),
        SaveError::PlanLimit(e) => (vec![("plan", e.to_string())], UNPROCESSABLE),
        SaveError::CodeTaken => (vec![("code", e.to_string())], UNPROCESSABLE),
        SaveError::Conflict => (vec![("form", e.to_string())], StatusCode::CONFLICT),
        e => return Err(e.into()),
    })
}

/// A form view that marks its fields in error (`self.has_error("number")` in a template).
pub(super) trait FieldErrorsView {
    fn errors(&self) -> &FieldErrors;

    fn has_error(&self, field: &str) -> bool {
        self.errors().iter().any(|(f, _)| *f == field)
    }
}

/// A posted form with an 入力確認 step: the sealed draft number goes back into the boxes (an
/// expired one asks for the number again), 戻る shows the form as typed, a valid form shows the
/// 入力確認 page with any records already holding the number, and 登録 saves, showing the
/// 入力確認 page again if a duplicate appeared meanwhile.
pub(super) async fn submit<F: ConfirmFlow>(
    app: &App,
    authed: &Authed,
    flow: &F,
    posted: Posted<F::Form>,
) -> Result<Response, WebError> {
    let mut posted = posted;
    let [a, b, c] = F::boxes(&mut posted.form);
    if let Err(e) = open_draft(app, authed, &posted.number_token, [a, b, c]).await {
        let errors = vec![("number", e)];
        return flow
            .form_page(authed, posted.form, errors, UNPROCESSABLE)
            .await;
    }
    if let Err(errors) = flow.open_secrets(app, authed, &mut posted).await? {
        return flow
            .form_page(authed, posted.form, errors, UNPROCESSABLE)
            .await;
    }
    if !posted.back.is_empty() {
        return flow
            .form_page(authed, posted.form, Vec::new(), StatusCode::OK)
            .await;
    }
    let first = posted.confirmed.is_empty();
    let valid = match flow.check(app, authed, &posted.form, first).await {
        Ok(v) => v,
        Err(e) => return flow.refused(authed, posted.form, e).await,
    };
    let token = seal_draft(app, authed, F::number(&valid)).await?;
    let confirm = ConfirmView {
        chrome: Chrome::new(authed, flow.nav()),
        heading: flow.heading(),
        action: flow.action(),
        rows: flow.rows(&valid),
        hidden: flow.hidden(app, authed, &posted.form, token).await?,
        duplicates: Vec::new(),
    };
    if first {
        let duplicates = flow.duplicates(app, authed, &valid).await?;
        return Ok(render(&ConfirmView {
            duplicates,
            ..confirm
        }));
    }
    match flow
        .save(app, authed, valid, !posted.allow_duplicate.is_empty())
        .await
    {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(SaveError::Duplicate(duplicates)) => Ok(render(&ConfirmView {
            duplicates,
            ..confirm
        })),
        Err(e) => flow.refused(authed, posted.form, e).await,
    }
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The confirmation page before a deletion (削除の確認): what goes, and that it cannot be undone.
#[derive(Template)]
#[template(path = "confirm_delete.html")]
pub(super) struct DeleteView {
    pub(super) chrome: Chrome,
    pub(super) heading: &'static str,
    pub(super) lines: Vec<String>,
    pub(super) action: String,
    pub(super) cancel_href: String,
}
