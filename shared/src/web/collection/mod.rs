//! マイナンバー収集ツール (manual ch.6 スマホで収集, ch.7 収集メール, ch.8 QRコード生成): the
//! 簡易登録 grid, the 送信リスト, 収集メール一括送信, the mail to one registrant, the blast's
//! progress and result, the printable QR page and the company passcode. Served by the
//! registrants function.
//!
//! This file: the routes and what the pages share; `quick`, `mail` (送信リスト, 一括送信, one
//! registrant, progress and result), `qr_code` and `passcode`.

use super::access::{Access, Routes};
use super::session::Authed;
use super::{AppState, WebError};
use crate::domain::role::Permission;

mod mail;
mod passcode;
mod qr_code;
mod quick;

use mail::{
    blast_form, blast_result, blast_submit, mail_form, mail_submit, send_list, send_list_submit,
};
pub(super) use passcode::check_passcode;
use passcode::{passcode_form, passcode_submit};
use qr_code::{qr_confirm, qr_page};
use quick::{quick_form, quick_submit};

/// 簡易登録 adds registrants (an edit); the send list, the mails, their results and the QR code
/// all hand out registration links (mail). The passcode is the company's (契約者情報).
pub(super) fn routes() -> Routes {
    let edit = Access::Can(Permission::EditRegistrants);
    let mail = Access::Can(Permission::SendCollectionMail);
    let contractor = Access::Can(Permission::EditContractor);
    Routes::new()
        .get("/collection/quick", edit, quick_form)
        .post("/collection/quick", edit, quick_submit)
        .get("/collection/send-list", mail, send_list)
        .post("/collection/send-list", mail, send_list_submit)
        .get("/collection/blast", mail, blast_form)
        .post("/collection/blast", mail, blast_submit)
        .get("/collection/mail", mail, mail_form)
        .post("/collection/mail", mail, mail_submit)
        .get("/collection/blasts/{id}", mail, blast_result)
        .get("/collection/passcode", contractor, passcode_form)
        .post("/collection/passcode", contractor, passcode_submit)
        .get("/registrants/{id}/qr", mail, qr_confirm)
        .post("/registrants/{id}/qr", mail, qr_page)
}

/// Pairs from a urlencoded body (repeated names kept).
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// One audit entry for an administrator's action on this page group.
async fn audit(
    app: &AppState,
    authed: &Authed,
    action: &str,
    target: Option<&str>,
    detail: String,
) -> Result<(), WebError> {
    let a = authed.actor();
    app.audit()
        .record(crate::ports::audit::AuditEvent {
            tenant_id: Some(authed.scope.tenant().to_string()),
            actor_id: Some(a.user_id),
            actor_name: Some(a.name),
            action: action.into(),
            target: target.map(str::to_string),
            detail,
            ip: Some(a.ip),
        })
        .await
        .map_err(crate::app::InfraError::from)?;
    Ok(())
}
