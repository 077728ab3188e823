//! The write path: [`SaveError`], number sealing and duplicates, the one-transaction commit
//! (registrant, 社員コード claim, fingerprint, HOME counters) and the create / update use cases
//! with the plan limit. Who acts is `app::actor`; deleting a registrant with everything under
//! it is `app::disposal::deletion`.

use serde_json::Value;

use super::validate::Valid;
use super::{get, Registrant};
use crate::app::actor::{audit_event, Actor};
use crate::app::keys::{sk, TenantScope};
use crate::app::person::{FieldErrors, SealedNumber};
use crate::app::tenants::{Counters, Tenant};
use crate::app::{passwords, App, InfraError};
use crate::domain::approval::after_number_change;
use crate::domain::my_number::MyNumber;
use crate::domain::plan::PlanLimitError;
use crate::domain::status::Status;
use crate::ports::store::{Condition, Item, Query, StoreError, WriteOp};

/// Another record of the tenant holding the same number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub record_id: String,
    pub label: String,
    /// The 登録者詳細 page that shows the record (a dependent's is its registrant's); `None`
    /// for a dependent's look-up written before look-ups named their registrant.
    pub href: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    PlanLimit(#[from] PlanLimitError),
    #[error("duplicate number")]
    Duplicate(Vec<Duplicate>),
    #[error("この社員コードはすでに使われています。")]
    CodeTaken,
    #[error("not found")]
    NotFound,
    #[error("他の操作で内容が変わりました。画面を開き直してください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Records of this tenant (other than `except`) whose number has this fingerprint.
pub async fn duplicates(
    scope: &TenantScope,
    fingerprint: &str,
    except: Option<&str>,
) -> Result<Vec<Duplicate>, InfraError> {
    let page = scope
        .query(
            &Query::partition(scope.pk())
                .prefix(sk::fingerprint_prefix(fingerprint))
                .limit(20),
        )
        .await?;
    let mut out = Vec::new();
    for item in page.items {
        let id = item
            .key
            .sk
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .to_string();
        if Some(id.as_str()) == except {
            continue;
        }
        out.push(Duplicate {
            label: item.str("label").unwrap_or("登録者").to_string(),
            // A dependent's look-up names its registrant; a registrant's is the record itself.
            href: item
                .str("registrant_id")
                .map(|r| format!("/registrants/{r}")),
            record_id: id,
        });
    }
    // Look-ups without a registrant: a registrant's own, or a dependent's from before they
    // named one (no page of its own to link to). Only a warning page pays this read.
    let unnamed: Vec<_> = out
        .iter()
        .filter(|d| d.href.is_none())
        .map(|d| scope.key(&sk::registrant(&d.record_id)))
        .collect();
    if !unnamed.is_empty() {
        let found = scope.batch_get(&unnamed).await?;
        for d in out.iter_mut().filter(|d| d.href.is_none()) {
            if found
                .iter()
                .any(|i| i.key.sk == sk::registrant(&d.record_id))
            {
                d.href = Some(format!("/registrants/{}", d.record_id));
            }
        }
    }
    Ok(out)
}

pub(in crate::app) fn counted_people(counters: &Counters) -> (u32, u32) {
    let retired = u32::try_from(counters.retired.max(0)).unwrap_or(0);
    let active = u32::try_from((counters.registrants - counters.retired).max(0)).unwrap_or(0);
    (active, retired)
}

/// What a save would write besides the registrant: claims and fingerprint changes.
pub(in crate::app) fn claim_ops(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let code = |r: Option<&Registrant>| r.map(|r| r.code.clone()).filter(|c| !c.is_empty());
    let fp = |r: Option<&Registrant>| {
        r.and_then(|r| r.person.number.as_ref().map(|n| n.fingerprint.clone()))
    };
    let (old_code, new_code) = (code(before), code(after));
    if old_code != new_code {
        if let Some(c) = old_code {
            ops.push(WriteOp::Delete {
                key: scope.key(&sk::code(&c)),
                condition: Condition::None,
            });
        }
        if let (Some(c), Some(r)) = (new_code, after) {
            ops.push(WriteOp::put_new(
                Item::new(scope.key(&sk::code(&c))).with("registrant", r.id.as_str()),
            ));
        }
    }
    let (old_fp, new_fp) = (fp(before), fp(after));
    let id = before.or(after).map(|r| r.id.clone()).unwrap_or_default();
    if old_fp != new_fp {
        if let Some(f) = old_fp {
            ops.push(WriteOp::Delete {
                key: scope.key(&sk::fingerprint(&f, &id)),
                condition: Condition::None,
            });
        }
    }
    if let (Some(f), Some(r)) = (new_fp, after) {
        // Re-written on every save so its label follows renames.
        let label = if r.code.is_empty() {
            r.name()
        } else {
            format!("{}（社員コード {}）", r.name(), r.code)
        };
        ops.push(WriteOp::put(
            Item::new(scope.key(&sk::fingerprint(&f, &id))).with("label", label),
        ));
    }
    ops
}

pub(in crate::app) fn counter_delta(
    before: Option<&Registrant>,
    after: Option<&Registrant>,
) -> Counters {
    let a = after.map(Registrant::counts).unwrap_or_default();
    let b = before.map(Registrant::counts).unwrap_or_default();
    Counters {
        registrants: a.registrants - b.registrants,
        unregistered: a.unregistered - b.unregistered,
        pending: a.pending - b.pending,
        retired: a.retired - b.retired,
        dependents: a.dependents - b.dependents,
        dependents_unregistered: a.dependents_unregistered - b.dependents_unregistered,
        dependents_pending: a.dependents_pending - b.dependents_pending,
        dependents_retired: a.dependents_retired - b.dependents_retired,
    }
}

/// Writes `after` (replacing `before`) with its claims and counters in one transaction,
/// conditional on `before` being what is stored (its `updated_at`).
pub(in crate::app) async fn commit(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
) -> Result<(), SaveError> {
    commit_with(scope, before, after, Vec::new()).await
}

/// [`commit`] plus `extra` writes in the same transaction.
pub(in crate::app) async fn commit_with(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
    extra: Vec<WriteOp>,
) -> Result<(), SaveError> {
    // A new 削除予定日: the retention job must look at this tenant (listed before the write,
    // so a date is never stored without it).
    if let Some(d) = after.and_then(|r| r.delete_on) {
        if before.and_then(|b| b.delete_on) != Some(d) {
            scope
                .enlist_for_retention()
                .await
                .map_err(InfraError::from)?;
        }
    }
    let mut ops = extra;
    match (before, after) {
        (None, Some(r)) => ops.push(WriteOp::put_new(r.to_item(scope))),
        (Some(b), Some(r)) => ops.push(WriteOp::Put {
            item: r.to_item(scope),
            condition: Condition::Equals("updated_at".into(), Value::from(b.person.updated_at)),
        }),
        (Some(b), None) => ops.push(WriteOp::Delete {
            key: scope.key(&sk::registrant(&b.id)),
            condition: Condition::Equals("updated_at".into(), Value::from(b.person.updated_at)),
        }),
        (None, None) => return Ok(()),
    }
    let claims = claim_ops(scope, before, after);
    let claims_code = claims.iter().any(|op| {
        matches!(
            op,
            WriteOp::Put {
                condition: Condition::NotExists,
                ..
            }
        )
    });
    ops.extend(claims);
    if let Some(op) = Counters::delta_op(scope, &counter_delta(before, after)) {
        ops.push(op);
    }
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            // Either the code is taken or someone else saved first; tell which.
            if claims_code {
                if let Some(code) = after.map(|r| r.code.as_str()).filter(|c| !c.is_empty()) {
                    if scope
                        .get(&scope.key(&sk::code(code)))
                        .await
                        .map_err(InfraError::from)?
                        .is_some()
                    {
                        return Err(SaveError::CodeTaken);
                    }
                }
            }
            Err(if before.is_some() {
                SaveError::Conflict
            } else {
                SaveError::CodeTaken
            })
        }
        Err(e) => Err(InfraError::from(e).into()),
    }
}

/// Adds a registrant. Refuses over the plan limit; refuses a number already held by another
/// record of the tenant unless `allow_duplicate` (the administrator saw the warning).
pub async fn create(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    valid: Valid,
    allow_duplicate: bool,
) -> Result<Registrant, SaveError> {
    let (active, retired) = counted_people(&crate::app::tenants::counters(scope).await?);
    tenant.plan.check_add(active, retired, 1)?;
    let now = app.now().unix_timestamp();
    let id = ulid::Ulid::new().to_string();
    let number = seal_unique(
        app,
        scope,
        tenant,
        &id,
        valid.number.as_ref(),
        allow_duplicate,
    )
    .await?;
    let password_hash = match valid.password.clone() {
        Some(pw) => Some(passwords::hash(app.config.password_params, pw).await?),
        None => None,
    };
    let status = if number.is_some() {
        Status::Pending
    } else {
        Status::Unregistered
    };
    let r = Registrant::new(id, valid, number, password_hash, status, now);
    commit(scope, None, Some(&r)).await?;
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.create",
            &r.id,
            format!("登録者「{}」の追加", r.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

async fn seal(
    app: &App,
    tenant: &Tenant,
    record_id: &str,
    number: Option<&MyNumber>,
) -> Result<Option<SealedNumber>, InfraError> {
    let Some(n) = number else { return Ok(None) };
    Ok(Some(SealedNumber {
        sealed: app.vault.seal_number(&tenant.keys, record_id, n).await?,
        fingerprint: app.vault.fingerprint(&tenant.keys, n).await?,
        last4: n.last4().to_string(),
    }))
}

/// [`seal`], refusing a number another record of the tenant already holds unless
/// `allow_duplicate` (the administrator saw the warning). The one duplicate rule of every flow
/// that stores a number (add, edit, dependents, マイナンバー編集).
pub(in crate::app) async fn seal_unique(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    record_id: &str,
    number: Option<&MyNumber>,
    allow_duplicate: bool,
) -> Result<Option<SealedNumber>, SaveError> {
    let sealed = seal(app, tenant, record_id, number).await?;
    if let (Some(n), false) = (&sealed, allow_duplicate) {
        let dups = duplicates(scope, &n.fingerprint, Some(record_id)).await?;
        if !dups.is_empty() {
            return Err(SaveError::Duplicate(dups));
        }
    }
    Ok(sealed)
}

/// Stores a new sealed number on a record; a changed number goes back to 承認待
/// (`domain::approval::after_number_change`). Returns whether it changed.
pub(in crate::app) fn set_number(
    number: &mut Option<SealedNumber>,
    status: &mut Status,
    new: SealedNumber,
) -> bool {
    let changed = number.as_ref().map(|o| &o.fingerprint) != Some(&new.fingerprint);
    *status = after_number_change(*status, changed);
    *number = Some(new);
    changed
}

/// Edits a registrant. An empty number keeps the stored one; a new number goes back to 承認待.
pub async fn update(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    id: &str,
    valid: Valid,
    allow_duplicate: bool,
) -> Result<Registrant, SaveError> {
    let before = get(scope, id).await?.ok_or(SaveError::NotFound)?;
    check_return(scope, tenant, &before, valid.retention.retired_on).await?;
    let mut r = before.clone();
    let new_number = seal_unique(
        app,
        scope,
        tenant,
        id,
        valid.number.as_ref(),
        allow_duplicate,
    )
    .await?;
    if let Some(n) = &new_number {
        set_number(&mut r.person.number, &mut r.person.status, n.clone());
    }
    if let Some(pw) = valid.password {
        r.password_hash = Some(passwords::hash(app.config.password_params, pw).await?);
    }
    r.group_id = valid.group_id;
    r.code = valid.code;
    r.person.set_names(valid.names);
    r.attribute = valid.attribute;
    r.email = valid.email;
    r.login_lock = valid.login_lock;
    r.person.sex = valid.sex;
    r.person.birth_date = valid.birth_date;
    r.hire_date = valid.hire_date;
    r.retired_on = valid.retention.retired_on;
    r.delete_on = valid.retention.delete_on;
    r.last_declaration_year = valid.retention.last_declaration_year;
    r.note = valid.note;
    r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
    commit(scope, Some(&before), Some(&r)).await?;
    let what = if new_number.is_some() {
        "の編集（マイナンバー変更あり）"
    } else {
        "の編集"
    };
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.update",
            &r.id,
            format!("登録者「{}」{what}", r.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

/// Refuses adding `n` people when the plan cannot take them (before writing anything).
pub async fn check_plan(scope: &TenantScope, tenant: &Tenant, n: u32) -> Result<(), SaveError> {
    let (active, retired) = counted_people(&crate::app::tenants::counters(scope).await?);
    tenant.plan.check_add(active, retired, n)?;
    Ok(())
}

/// Refuses clearing the 退職日 of a retiree when the plan cannot take one more active
/// registrant: on plans that leave retirees out of the count (プラン60 and up), a retiree
/// back at work counts again. Plans that count retirees count them either way.
pub async fn check_return(
    scope: &TenantScope,
    tenant: &Tenant,
    before: &Registrant,
    retired_on: Option<time::Date>,
) -> Result<(), SaveError> {
    if before.retired_on.is_some() && retired_on.is_none() && !tenant.plan.counts_retirees() {
        check_plan(scope, tenant, 1).await?;
    }
    Ok(())
}

/// How many more registrants the plan takes (登録可能人数).
pub async fn room_left(scope: &TenantScope, tenant: &Tenant) -> Result<u32, InfraError> {
    let (active, retired) = counted_people(&crate::app::tenants::counters(scope).await?);
    Ok(tenant.plan.remaining(active, retired))
}
