//! 入力確認 (manual ch.10, 11): the step between a form and 登録 that the registrant, dependent and
//! number forms share. The page shows what will be saved and warns about a number another record
//! already holds; the secrets typed on the form (the number, the login password) travel through it
//! sealed under the tenant's data key and bound to this session, never in clear.
//!
//! Not here: the forms themselves and what 登録 saves (each capability's module).

use askama::Template;

use super::session::{Authed, Chrome};
use super::WebError;
use crate::app::registrants::{self as regs, Duplicate};
use crate::app::App;
use crate::domain::my_number::MyNumber;

/// The 入力確認 page: the rows to check, the form carried back in hidden fields, and the records
/// already holding the number.
#[derive(Template)]
#[template(path = "registrant_confirm.html")]
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
pub(super) async fn seal_draft(
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
pub(super) async fn open_draft(
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
