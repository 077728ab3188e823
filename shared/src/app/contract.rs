//! 契約プラン (manual ch.3 プラン変更, ch.15): the plan change, the payment method, the
//! 口座振替 paperwork, and 本契約 at the end of the 30-day trial. Every change is recorded in
//! the operation log.
//!
//! The contract lives on the tenant's `PROFILE` item (the plan already did, and every request
//! reads that item anyway: the read-only rule after the trial costs no extra read). Each change
//! rewrites only its own attributes, conditioned on the plan it was decided against, so a
//! concurrent change is refused rather than overwritten.
//!
//! No card data is ever stored: a card is taken by the payment provider's own page; this
//! records only which method the company chose.
//!
//! Not here: the rules themselves (`domain::plan`), who may call what (the route table), the
//! refusal of writes while the trial has lapsed (`web::access`), cancellation (`app::cancel`).

use time::{Date, OffsetDateTime};

use super::actor::Actor;
use super::keys::{sk, TenantScope};
use super::registrants::counted_people;
use super::tenants::{self, Tenant};
use super::{App, InfraError};
use crate::domain::plan::{PaymentMethod, Plan, PlanChange, PlanChangeError, Standing};
use crate::ports::store::{Condition, Item, StoreError};

pub use super::tenants::Terms;

/// Today in Japan.
pub fn today(now: OffsetDateTime) -> Date {
    now.to_offset(time::macros::offset!(+9)).date()
}

/// Where the tenant's contract stands now.
pub fn standing(tenant: &Tenant, now: OffsetDateTime) -> Standing {
    Standing::on(
        today(now),
        tenant.trial_ends,
        tenant.terms.contracted_on.is_some(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error(transparent)]
    Change(#[from] PlanChangeError),
    /// 本契約 needs a payment method first.
    #[error("支払方法が未登録です。先に支払方法を選択してください。")]
    NoPayment,
    #[error("すでに本契約済みです。")]
    AlreadyContracted,
    /// Someone else changed the contract meanwhile.
    #[error("他の操作で契約内容が変更されました。画面を開き直してもう一度操作してください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The registrants the plan counts, as 契約プラン shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Registrants not retired.
    pub active: u32,
    pub retired: u32,
    /// Dependents (never counted).
    pub dependents: u32,
}

impl Usage {
    /// The counts of HOME's counters item.
    pub fn of(counters: &tenants::Counters) -> Usage {
        let (active, retired) = counted_people(counters);
        Usage {
            active,
            retired,
            dependents: u32::try_from(counters.dependents.max(0)).unwrap_or(0),
        }
    }

    /// Registrants counted against `plan` (retirees free from プラン60).
    pub fn counted(&self, plan: Plan) -> u32 {
        plan.counted(self.active, self.retired)
    }
}

/// The registrant counts the plan rules need (one read of the counters item).
pub async fn usage(scope: &TenantScope) -> Result<Usage, InfraError> {
    Ok(Usage::of(&tenants::counters(scope).await?))
}

/// Checks a change to `to` against the registrants stored now (the 入力確認 step).
pub async fn check_change(
    scope: &TenantScope,
    tenant: &Tenant,
    to: Plan,
) -> Result<PlanChange, ContractError> {
    let u = usage(scope).await?;
    Ok(tenant.plan.change_to(to, u.active, u.retired)?)
}

/// Reads `PROFILE`, lets `change` rewrite it, and stores it only if the plan is still `plan`.
async fn rewrite(
    scope: &TenantScope,
    plan: Plan,
    change: impl FnOnce(Item) -> Item,
) -> Result<(), ContractError> {
    let item = scope
        .get(&scope.key(sk::PROFILE))
        .await
        .map_err(InfraError::from)?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let guard = Condition::Equals("plan".into(), plan.size().into());
    match scope.put(change(item), guard).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(ContractError::Conflict),
        Err(e) => Err(InfraError::from(e).into()),
    }
}

/// Stores `terms` and records the change (`action`, `detail`) in the operation log.
async fn store_terms(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    tenant: &Tenant,
    terms: Terms,
    action: &str,
    detail: String,
) -> Result<(), ContractError> {
    rewrite(scope, tenant.plan, |item| terms.write(item)).await?;
    super::audit::record_by(app, scope, actor, action, None, detail).await?;
    Ok(())
}

/// プラン変更 (変更): an upgrade applies at once; a downgrade only while the registrants fit.
/// The registrant limit everywhere follows at once (it is read from the tenant's plan).
pub async fn change_plan(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    tenant: &Tenant,
    to: Plan,
) -> Result<PlanChange, ContractError> {
    let change = check_change(scope, tenant, to).await?;
    rewrite(scope, tenant.plan, |item| item.with("plan", to.size())).await?;
    let (year, month) = crate::domain::plan::billing_from(today(app.now()));
    super::audit::record_by(
        app,
        scope,
        actor,
        "plan.change",
        None,
        format!(
            "プラン変更: {}→{}（{}、ご請求は{year}年{}月分から）",
            tenant.plan.label(),
            to.label(),
            match change {
                PlanChange::Upgrade => "アップグレード",
                PlanChange::Downgrade => "ダウングレード",
            },
            u8::from(month)
        ),
    )
    .await?;
    Ok(change)
}

/// 支払方法の変更: records the method. Choosing 口座自動振替 (again) opens its paperwork.
pub async fn set_payment(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    tenant: &Tenant,
    method: PaymentMethod,
) -> Result<(), ContractError> {
    let before = tenant.terms;
    if before.payment == Some(method) {
        return Ok(());
    }
    let terms = Terms {
        payment: Some(method),
        transfer_done: false,
        ..before
    };
    let detail = format!(
        "支払方法の変更: {}→{}",
        before.payment.map_or("未登録", PaymentMethod::label),
        method.label()
    );
    store_terms(app, scope, actor, tenant, terms, "payment.method", detail).await
}

/// 口座振替の手続き完了: the operator has confirmed the 口座振替依頼書; HOME stops warning.
pub async fn set_transfer_done(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    tenant: &Tenant,
) -> Result<(), ContractError> {
    if !tenant.terms.transfer_pending() {
        return Ok(());
    }
    let terms = Terms {
        transfer_done: true,
        ..tenant.terms
    };
    let detail = "口座振替依頼書の手続き完了を登録".to_string();
    store_terms(
        app,
        scope,
        actor,
        tenant,
        terms,
        "payment.transfer_done",
        detail,
    )
    .await
}

/// 本契約: the plan and the payment method confirmed; the trial's limits end for good.
pub async fn contract(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    tenant: &Tenant,
) -> Result<(), ContractError> {
    if tenant.terms.contracted_on.is_some() {
        return Err(ContractError::AlreadyContracted);
    }
    let Some(method) = tenant.terms.payment else {
        return Err(ContractError::NoPayment);
    };
    let terms = Terms {
        contracted_on: Some(today(app.now())),
        ..tenant.terms
    };
    let detail = format!("本契約: {}、{}", tenant.plan.label(), method.label());
    store_terms(app, scope, actor, tenant, terms, "contract.start", detail).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Key;
    use time::macros::date;

    #[test]
    fn terms_round_trip_through_the_profile_item_when_written_and_read() {
        let cases = [
            Terms::default(),
            Terms {
                payment: Some(PaymentMethod::BankTransfer),
                transfer_done: false,
                contracted_on: None,
            },
            Terms {
                payment: Some(PaymentMethod::Card),
                transfer_done: true,
                contracted_on: Some(date!(2026 - 08 - 01)),
            },
        ];
        for terms in cases {
            let item = terms.write(Item::new(Key::new("T#x", "PROFILE")));
            assert_eq!(Terms::read(&item), terms);
            // Writing other terms over them leaves none of the old behind.
            assert_eq!(Terms::read(&Terms::default().write(item)), Terms::default());
        }
    }

    #[test]
    fn transfer_pending_only_when_bank_transfer_is_not_yet_done() {
        let t = |payment, transfer_done| Terms {
            payment,
            transfer_done,
            contracted_on: None,
        };
        assert!(t(Some(PaymentMethod::BankTransfer), false).transfer_pending());
        assert!(!t(Some(PaymentMethod::BankTransfer), true).transfer_pending());
        assert!(!t(Some(PaymentMethod::Card), false).transfer_pending());
        assert!(!t(None, false).transfer_pending());
    }
}
