//! HOME (manual ch.3) with its お知らせ (dismissed per user), the 削除予定日到来, 解約 and
//! 口座振替 warnings, and the buttons each role may follow; 退職者の処理 leads to the list.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::home::{self, Notice};
use crate::app::tenants::Counters;
use crate::domain::role::Permission;

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
    /// A pending 解約申請 (its 解約日), shown to every user.
    cancellation: Option<crate::app::cancel::Cancellation>,
    can_cancel: bool,
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
        cancellation: crate::app::cancel::pending(&authed.scope).await?,
        can_cancel: authed.allows(Permission::CancelContract),
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
