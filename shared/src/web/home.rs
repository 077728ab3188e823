//! HOME (manual ch.3) with its お知らせ (dismissed per user), and the places of capabilities
//! still to come, which answer with a plain 準備中 page instead of a broken link (the menus
//! link them; HOME's own texts point only to screens that exist).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::home::{self, Notice};
use crate::app::tenants::Counters;
use crate::domain::role::Permission;

/// Capabilities linked from the menus and HOME that are not built yet: each answers with a
/// plain 準備中 page (README lists them), behind the access its real screen will need, so a
/// menu link already refuses whom the screen will refuse.
pub const COMING_SOON: &[(&str, &str, Access)] = &[(
    "/disposal",
    "登録者の削除（廃棄）",
    Access::Can(Permission::DisposeNumbers),
)];

/// HOME and its notices.
pub fn routes() -> Routes {
    Routes::new()
        .get("/home", Access::Staff, home_page)
        // 退職者の処理 (HOME's 詳しい操作): the list, whose 退職日・削除予定日 icons open 編集.
        .get(
            "/retirement",
            Access::Can(Permission::EditRegistrants),
            || async { Redirect::to("/registrants") },
        )
        // A notice is closed for the user who closes it only.
        .post("/home/notices/{id}/dismiss", Access::Staff, dismiss_notice)
}

/// Every 準備中 page (`web::functions` hands each to the function that will serve the screen).
pub fn coming_soon_routes() -> Routes {
    let mut routes = Routes::new();
    for &(path, title, access) in COMING_SOON {
        routes = routes.get(path, access, move |authed: Authed| {
            coming_soon(authed, path, title)
        });
    }
    routes
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    passcode_unset: bool,
    notices: Vec<Notice>,
    plan_label: String,
    plan_limit: u32,
    /// Registrants the plan counts (retirees free from プラン60; dependents never).
    plan_counted: u32,
    can_change_plan: bool,
    /// The trial's end, or how the contract stands after it.
    standing: String,
    /// The 本契約 step is open to this user (during or after the trial).
    may_contract: bool,
    /// 口座自動振替 chosen and its paperwork not done (manual ch.3 注意文).
    transfer_pending: bool,
    can_pay: bool,
    counters: Counters,
    /// Registrants whose 削除予定日 has come (削除予定日到来, `app::retention`).
    retention_due: usize,
    can: HomeActions,
}

/// Which of HOME's buttons and links the user's role may follow (the others are not shown).
struct HomeActions {
    edit: bool,
    collect: bool,
    approve: bool,
    export: bool,
    contractor: bool,
}

impl HomeActions {
    fn of(authed: &Authed) -> HomeActions {
        HomeActions {
            edit: authed.allows(Permission::EditRegistrants),
            collect: authed.allows(Permission::SendCollectionMail),
            approve: authed.allows(Permission::Approve),
            export: authed.allows(Permission::ExportCsv),
            contractor: authed.allows(Permission::EditContractor),
        }
    }
}

async fn home_page(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    let data = home::load(&authed.scope, authed.tenant.clone(), authed.user.clone()).await?;
    let today = crate::app::registrants::today(app.now());
    let retention_due = crate::app::retention::due_count(&authed.scope, today).await?;
    Ok(render(&HomePage {
        chrome: Chrome::new(&authed, "/home"),
        passcode_unset: data.passcode_unset,
        notices: data.notices,
        plan_label: data.tenant.plan.label(),
        plan_limit: data.tenant.plan.limit(),
        plan_counted: crate::app::contract::Usage::of(&data.counters).counted(data.tenant.plan),
        can_change_plan: authed.allows(Permission::ChangePlan),
        standing: super::plan::standing_text(authed.standing),
        may_contract: authed.standing.may_contract() && authed.allows(Permission::ChangePlan),
        transfer_pending: data.tenant.terms.transfer_pending(),
        can_pay: authed.allows(Permission::ManagePayment),
        counters: data.counters,
        retention_due,
        can: HomeActions::of(&authed),
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
        .map(|(href, _, _)| *href)
        .find(|href| path.starts_with(href))
        .unwrap_or("");
    render(&ComingSoonPage {
        chrome: Chrome::new(&authed, section),
        title,
    })
}
