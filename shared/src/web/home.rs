//! HOME (manual ch.3) with its お知らせ (dismissed per user), and the places of capabilities
//! still to come, which answer with a plain 準備中 page instead of a broken link (the menus
//! link them; HOME's own texts point only to screens that exist).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::home::{self, Notice};
use crate::app::tenants::Counters;

/// Capabilities linked from the menus and HOME that are not built yet: each answers with a
/// plain 準備中 page (README lists them).
pub const COMING_SOON: &[(&str, &str)] = &[
    ("/retirement", "退職者の処理"),
    ("/disposal", "登録者の削除（廃棄）"),
    ("/users", "ログインユーザ"),
    ("/contractor", "契約者情報"),
    ("/contractor/edit", "契約者情報編集"),
    ("/security", "セキュリティ"),
    ("/plan", "契約プラン"),
    ("/plan/change", "プラン変更"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/home", get(home_page))
        .route("/home/notices/{id}/dismiss", post(dismiss_notice))
        .merge(super::guide::router())
        .merge(coming_soon_routes(|p| !p.starts_with("/registrants/")))
}

/// The 準備中 pages whose paths `owns` accepts (each group serves those under its paths).
pub fn coming_soon_routes(owns: impl Fn(&str) -> bool) -> Router<AppState> {
    let mut router = Router::new();
    for (path, title) in COMING_SOON.iter().filter(|(p, _)| owns(p)) {
        let title: &'static str = title;
        let path: &'static str = path;
        router = router.route(
            path,
            get(move |authed: Authed| coming_soon(authed, path, title)),
        );
    }
    router
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    passcode_unset: bool,
    notices: Vec<Notice>,
    plan_label: String,
    plan_limit: u32,
    trial_ends: String,
    counters: Counters,
}

async fn home_page(authed: Authed) -> Result<Response, WebError> {
    let data = home::load(&authed.scope, authed.tenant.clone(), authed.user.clone()).await?;
    Ok(render(&HomePage {
        chrome: Chrome::new(&authed, "/home"),
        passcode_unset: data.passcode_unset,
        notices: data.notices,
        plan_label: data.tenant.plan.label(),
        plan_limit: data.tenant.plan.limit(),
        trial_ends: crate::domain::date::format_slash(data.tenant.trial_ends),
        counters: data.counters,
    }))
}

/// 閉じる on a notice: hidden for this user from now on.
async fn dismiss_notice(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    home::dismiss(&authed.scope, &authed.user, &id, app.now()).await?;
    Ok(Redirect::to("/home").into_response())
}

#[derive(Template)]
#[template(path = "coming_soon.html")]
struct ComingSoonPage {
    chrome: Chrome,
    title: &'static str,
}

async fn coming_soon(authed: Authed, path: &'static str, title: &'static str) -> Response {
    let section = super::session::MAIN_MENU
        .iter()
        .map(|(href, _)| *href)
        .find(|href| path.starts_with(href))
        .unwrap_or("");
    render(&ComingSoonPage {
        chrome: Chrome::new(&authed, section),
        title,
    })
}
