//! 契約プラン (manual ch.15) and プラン変更 (ch.3): the contract page every login user sees,
//! the plan change with 入力確認 → 変更 (最高権限), the payment method with the printable
//! 口座振替依頼書 (最高権限), and 本契約 at the end of the free trial (最高権限).
//!
//! Not here: the rules and storage (`app::contract`, `domain::plan`), the read-only rule after
//! a lapsed trial (`web::access`), cancellation (`web::cancel`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::contract::{self, ContractError, Usage};
use crate::app::contractor::{self, Contractor};
use crate::domain::date::format_slash;
use crate::domain::plan::{billing_from, PaymentMethod, Plan, PlanChange, Standing};
use crate::domain::role::Permission;

pub fn routes() -> Routes {
    let change = Access::Can(Permission::ChangePlan);
    let pay = Access::Can(Permission::ManagePayment);
    Routes::new()
        // Every login user sees the plan and how it is paid; changing either is the owner's.
        .get("/plan", Access::Staff, view)
        .get("/plan/change", change, change_form)
        .post("/plan/change", change, change_submit)
        .get("/plan/payment", pay, payment_form)
        .post("/plan/payment", pay, payment_submit)
        .get("/plan/payment/transfer-form", pay, transfer_form)
        .post("/plan/payment/transfer-done", pay, transfer_done)
        .get("/plan/contract", change, contract_form)
        .post("/plan/contract", change, contract_submit)
}

/// A form page's status: 422 when it comes back with an error.
fn form_status(has_error: bool) -> StatusCode {
    if has_error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// 「2026年8月分」: the first bill a change made today affects.
fn billing_label(app: &AppState) -> String {
    let (year, month) = billing_from(contract::today(app.now()));
    format!("{year}年{}月分", u8::from(month))
}

/// The contract's standing in words (契約プラン and HOME).
pub fn standing_text(standing: Standing) -> String {
    match standing {
        Standing::Trial { ends } => format!("無料お試し期間中（{} まで）", format_slash(ends)),
        Standing::Contracted => "本契約".to_string(),
        Standing::Lapsed { ended } => format!(
            "無料お試し期間終了（{} 終了）: 本契約まで閲覧のみ",
            format_slash(ended)
        ),
    }
}

// ---------------------------------------------------------------- 契約プラン

#[derive(Template)]
#[template(path = "plan_view.html")]
struct ViewPage {
    chrome: Chrome,
    flash: Option<&'static str>,
    plan: Plan,
    usage: Usage,
    standing: String,
    may_contract: bool,
    payment: Option<PaymentMethod>,
    transfer_pending: bool,
    can_change: bool,
    can_pay: bool,
    can_cancel: bool,
}

impl ViewPage {
    /// Registrants counted against the current plan.
    fn counted(&self) -> u32 {
        self.usage.counted(self.plan)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: Option<String>,
}

async fn view(authed: Authed, Query(q): Query<DoneQuery>) -> Result<Response, WebError> {
    let usage = contract::usage(&authed.scope).await?;
    let flash = match q.done.as_deref() {
        Some("plan") => Some("プランを変更しました。"),
        Some("payment") => Some("支払方法を変更しました。"),
        Some("transfer") => Some("口座振替の手続き完了を登録しました。"),
        Some("contract") => Some("本契約のお手続きが完了しました。引き続きご利用いただけます。"),
        _ => None,
    };
    let t = &authed.tenant;
    Ok(render(&ViewPage {
        chrome: Chrome::new(&authed, ""),
        flash,
        plan: t.plan,
        usage,
        standing: standing_text(authed.standing),
        may_contract: authed.standing.may_contract() && authed.allows(Permission::ChangePlan),
        payment: t.terms.payment,
        transfer_pending: t.terms.transfer_pending(),
        can_change: authed.allows(Permission::ChangePlan),
        can_pay: authed.allows(Permission::ManagePayment),
        can_cancel: authed.allows(Permission::CancelContract),
    }))
}

// ---------------------------------------------------------------- プラン変更

#[derive(Template)]
#[template(path = "plan_change.html")]
struct ChangePage {
    chrome: Chrome,
    current: Plan,
    usage: Usage,
    plans: Vec<Plan>,
    selected: u16,
    error: Option<String>,
}

impl ChangePage {
    fn is_selected(&self, p: &Plan) -> bool {
        p.size() == self.selected
    }
}

#[derive(Template)]
#[template(path = "plan_change_confirm.html")]
struct ChangeConfirmPage {
    chrome: Chrome,
    current: Plan,
    to: Plan,
    upgrade: bool,
    counted: u32,
    billing: String,
}

fn change_page(authed: &Authed, usage: Usage, selected: u16, error: Option<String>) -> Response {
    render_status(
        form_status(error.is_some()),
        &ChangePage {
            chrome: Chrome::new(authed, ""),
            current: authed.tenant.plan,
            usage,
            plans: Plan::ALL.to_vec(),
            selected,
            error,
        },
    )
}

async fn change_form(authed: Authed) -> Result<Response, WebError> {
    let usage = contract::usage(&authed.scope).await?;
    Ok(change_page(&authed, usage, authed.tenant.plan.size(), None))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangeForm {
    plan: String,
    /// Set by the 入力確認 page's 変更 button.
    confirmed: Option<String>,
    /// The 入力確認 page's 戻る.
    back: Option<String>,
}

async fn change_submit(
    State(app): State<AppState>,
    authed: Authed,
    axum::Form(form): axum::Form<ChangeForm>,
) -> Result<Response, WebError> {
    let usage = contract::usage(&authed.scope).await?;
    let Some(to) = form.plan.trim().parse::<u16>().ok().and_then(Plan::new) else {
        return Ok(change_page(
            &authed,
            usage,
            authed.tenant.plan.size(),
            Some("変更後のプランを選択してください。".into()),
        ));
    };
    if form.back.is_some() {
        return Ok(change_page(&authed, usage, to.size(), None));
    }
    let outcome = if form.confirmed.is_some() {
        contract::change_plan(&app, &authed.scope, &authed.actor(), &authed.tenant, to).await
    } else {
        contract::check_change(&authed.scope, &authed.tenant, to).await
    };
    match (outcome, form.confirmed.is_some()) {
        (Ok(_), true) => Ok(Redirect::to("/plan?done=plan").into_response()),
        (Ok(change), false) => Ok(render(&ChangeConfirmPage {
            chrome: Chrome::new(&authed, ""),
            current: authed.tenant.plan,
            to,
            upgrade: change == PlanChange::Upgrade,
            counted: usage.counted(to),
            billing: billing_label(&app),
        })),
        (Err(ContractError::Infra(e)), _) => Err(e.into()),
        (Err(e), _) => Ok(change_page(&authed, usage, to.size(), Some(e.to_string()))),
    }
}

// ---------------------------------------------------------------- 支払方法

#[derive(Template)]
#[template(path = "plan_payment.html")]
struct PaymentPage {
    chrome: Chrome,
    current: Option<PaymentMethod>,
    methods: [PaymentMethod; 2],
    transfer_pending: bool,
    error: Option<&'static str>,
}

impl PaymentPage {
    fn is_current(&self, m: &PaymentMethod) -> bool {
        self.current == Some(*m)
    }

    fn bank_transfer(&self) -> bool {
        self.current == Some(PaymentMethod::BankTransfer)
    }
}

fn payment_page(authed: &Authed, error: Option<&'static str>) -> Response {
    render_status(
        form_status(error.is_some()),
        &PaymentPage {
            chrome: Chrome::new(authed, ""),
            current: authed.tenant.terms.payment,
            methods: PaymentMethod::ALL,
            transfer_pending: authed.tenant.terms.transfer_pending(),
            error,
        },
    )
}

async fn payment_form(authed: Authed) -> Response {
    payment_page(&authed, None)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PaymentForm {
    method: String,
}

/// A contract write's refusal as a message on `page`, or the failure it is.
fn refused(e: ContractError) -> Result<String, WebError> {
    match e {
        ContractError::Infra(e) => Err(e.into()),
        other => Ok(other.to_string()),
    }
}

async fn payment_submit(
    State(app): State<AppState>,
    authed: Authed,
    axum::Form(form): axum::Form<PaymentForm>,
) -> Result<Response, WebError> {
    let Some(method) = PaymentMethod::from_code(form.method.trim()) else {
        return Ok(payment_page(&authed, Some("支払方法を選択してください。")));
    };
    match contract::set_payment(&app, &authed.scope, &authed.actor(), &authed.tenant, method).await
    {
        Ok(()) => Ok(Redirect::to("/plan?done=payment").into_response()),
        Err(e) => Ok(message(&authed, &refused(e)?)),
    }
}

async fn transfer_done(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    match contract::set_transfer_done(&app, &authed.scope, &authed.actor(), &authed.tenant).await {
        Ok(()) => Ok(Redirect::to("/plan?done=transfer").into_response()),
        Err(e) => Ok(message(&authed, &refused(e)?)),
    }
}

#[derive(Template)]
#[template(path = "plan_message.html")]
struct MessagePage<'a> {
    chrome: Chrome,
    message: &'a str,
}

/// A refused contract change (a concurrent change, a missing payment method): why, and back.
fn message(authed: &Authed, message: &str) -> Response {
    render_status(
        StatusCode::CONFLICT,
        &MessagePage {
            chrome: Chrome::new(authed, ""),
            message,
        },
    )
}

/// 口座振替依頼書: the company's details filled in from 契約者情報, the bank's left blank, to
/// print, sign, seal and post.
#[derive(Template)]
#[template(path = "plan_transfer_form.html")]
struct TransferFormPage {
    customer_number: String,
    contractor: Contractor,
    plan: Plan,
    today: String,
}

async fn transfer_form(State(app): State<AppState>, authed: Authed) -> Result<Response, WebError> {
    let contractor = contractor::load(&authed.scope, &authed.tenant).await?;
    Ok(render(&TransferFormPage {
        customer_number: authed.tenant.customer_number.clone(),
        contractor,
        plan: authed.tenant.plan,
        today: format_slash(contract::today(app.now())),
    }))
}

// ---------------------------------------------------------------- 本契約

#[derive(Template)]
#[template(path = "plan_contract.html")]
struct ContractPage {
    chrome: Chrome,
    plan: Plan,
    payment: Option<PaymentMethod>,
    standing: String,
    contracted: bool,
}

async fn contract_form(authed: Authed) -> Response {
    render(&ContractPage {
        chrome: Chrome::new(&authed, ""),
        plan: authed.tenant.plan,
        payment: authed.tenant.terms.payment,
        standing: standing_text(authed.standing),
        contracted: !authed.standing.may_contract(),
    })
}

async fn contract_submit(
    State(app): State<AppState>,
    authed: Authed,
) -> Result<Response, WebError> {
    match contract::contract(&app, &authed.scope, &authed.actor(), &authed.tenant).await {
        Ok(()) => Ok(Redirect::to("/plan?done=contract").into_response()),
        Err(e) => Ok(message(&authed, &refused(e)?)),
    }
}
