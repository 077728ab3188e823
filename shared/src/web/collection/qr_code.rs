//! QRコード生成 (manual ch.8): a confirmation first (a new code voids the previous link), then
//! the printable page.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::audit;
use crate::app::collection::{self as coll};
use crate::app::registrants::{self as regs};
use crate::web::session::{Authed, Chrome};
use crate::web::{render, AppState, WebError};

#[derive(Template)]
#[template(path = "registrant_qr_confirm.html")]
struct QrConfirmView {
    chrome: Chrome,
    id: String,
    name: String,
    has_link: bool,
}

pub(super) async fn qr_confirm(
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let r = regs::get(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let has_link = coll::link_expiry(&authed.scope, &id).await?.is_some();
    Ok(render(&QrConfirmView {
        chrome: Chrome::new(&authed, "/registrants"),
        id: r.id.clone(),
        name: r.name(),
        has_link,
    }))
}

#[derive(Template)]
#[template(path = "registrant_qr.html")]
struct QrView {
    company: String,
    name: String,
    svg: String,
    url: String,
    expires: String,
    passcode_set: bool,
    locked: bool,
}

pub(super) async fn qr_page(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let r = regs::get(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let link = coll::issue_link(&app, &authed.scope, &r.id).await?;
    audit(
        &app,
        &authed,
        "collection.qr",
        Some(&r.id),
        format!("登録者「{}」のQRコード生成", r.name()),
    )
    .await?;
    let jst = link.expires_at.to_offset(time::macros::offset!(+9));
    Ok(render(&QrView {
        company: authed.tenant.company_name.clone(),
        name: r.name(),
        svg: crate::web::qr::svg(&link.url).ok_or(WebError::Internal)?,
        url: link.url,
        expires: format!("{}年{}月{}日", jst.year(), u8::from(jst.month()), jst.day()),
        passcode_set: authed.tenant.passcode_set,
        locked: r.login_lock,
    }))
}
