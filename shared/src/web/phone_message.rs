//! The plain message page of the registrant's phone pages (their layout, not the admin's),
//! and the two answers the route table gives before any phone handler runs: no registrant
//! session, and a company that takes no registrations while its trial has lapsed. A leaf, so
//! `web::access` and `web::enrol` both use it without importing each other.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::render_status;

#[derive(Template)]
#[template(path = "enrol_message.html")]
pub(crate) struct MessageView<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    pub(crate) detail: Option<&'a str>,
}

pub(crate) fn message(
    status: StatusCode,
    title: &str,
    message: &str,
    detail: Option<&str>,
) -> Response {
    render_status(
        status,
        &MessageView {
            title,
            message,
            detail,
        },
    )
}

/// The phone page answering a request that needs a registrant session and has none (401):
/// the route's access check (`web::access`) and `web::enrol::Enrollee` both answer with it.
pub(crate) fn login_required() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "ログインしてください",
        "ログインの有効期限が切れたか、ログインしていません。メールに記載されたURL（またはQRコード）を開いて、もう一度ログインしてください。",
        None,
    )
}

/// The phone page answering a registrant's save while the company's trial has lapsed without
/// 本契約 (`web::access`): nothing is taken, and the registrant is told whom to ask.
pub(crate) fn company_read_only() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "現在、登録を受け付けていません",
        "所属会社のマイナクラウドのご契約手続きが済んでいないため、現在マイナンバーの登録・変更を受け付けていません。",
        Some("所属会社のマイナンバー管理担当者にお問い合わせください。手続きが済みしだい、同じURLから登録できます。"),
    )
}
