//! 登録を終了: what is still missing before a registrant may finish, and the finish itself
//! (→ 承認待).

use serde_json::Value;

use crate::app::actor::Actor;
use crate::app::dependents::{self as deps, Dependent};
use crate::app::keys::{sk, TenantScope};
use crate::app::registrants::{self as regs, Registrant};
use crate::app::tenants::Counters;
use crate::app::{App, InfraError};
use crate::domain::image::DocumentKind;
use crate::domain::person::DependentKind;
use crate::domain::status::Status;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

fn has_image(images: &serde_json::Map<String, Value>, kind: DocumentKind) -> bool {
    images.contains_key(&crate::app::images::attr(kind))
}

/// What is still missing before 登録を終了 (Japanese, one line each); empty when complete.
pub fn missing(r: &Registrant, dependents: &[Dependent]) -> Vec<String> {
    let mut out = Vec::new();
    if r.person.number.is_none() || r.person.sex.is_none() || r.person.birth_date.is_none() {
        out.push("ご本人のステップ1（性別・生年月日・マイナンバー）が未入力です。".into());
    }
    if !has_image(&r.person.images, DocumentKind::NumberProof) {
        out.push(
            "ご本人の個人番号確認書類の画像（ステップ2）がアップロードされていません。".into(),
        );
    }
    if !has_image(&r.person.images, DocumentKind::IdentityProof) {
        out.push("ご本人の本人確認書類の画像（ステップ3）がアップロードされていません。".into());
    }
    for d in dependents {
        if d.person.number.is_none() {
            out.push(format!(
                "扶養家族「{}」のマイナンバーが未入力です。",
                d.name()
            ));
        }
        if d.kind == DependentKind::NationalPensionCategory3 {
            for kind in DocumentKind::ALL {
                if !has_image(&d.person.images, kind) {
                    out.push(format!(
                        "扶養家族「{}」（国民年金の第3号被保険者）の{}の画像がアップロードされていません。",
                        d.name(),
                        kind.label()
                    ));
                }
            }
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("incomplete")]
    Incomplete(Vec<String>),
    #[error("他の画面で操作が行われました。もう一度お試しください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// 登録を終了: the registrant and every dependent with a number not yet approved go to 承認待,
/// in one transaction with the counters.
pub async fn finish(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    registrant_id: &str,
) -> Result<(), FinishError> {
    let before = regs::get(scope, registrant_id)
        .await?
        .ok_or(FinishError::Conflict)?;
    let dependents = deps::list(scope, registrant_id).await?;
    let missing = missing(&before, &dependents);
    if !missing.is_empty() {
        return Err(FinishError::Incomplete(missing));
    }
    let now = app.now().unix_timestamp();
    let mut ops = Vec::new();
    let mut after_deps = Vec::new();
    for d in dependents {
        if d.person.number.is_some()
            && d.person.status != Status::Completed
            && d.person.status != Status::Pending
        {
            let mut d = d;
            d.person.status = Status::Pending;
            d.person.updated_at = now;
            ops.push(WriteOp::put(d.to_item(scope)));
            after_deps.push(d);
        } else {
            after_deps.push(d);
        }
    }
    let mut after = deps::summarised(&before, &after_deps, now);
    after.person.status = Status::Pending;
    ops.push(WriteOp::Put {
        item: after.to_item(scope),
        condition: Condition::Equals("updated_at".into(), Value::from(before.person.updated_at)),
    });
    if let Some(op) = Counters::delta_op(scope, &regs::counter_delta(Some(&before), Some(&after))) {
        ops.push(op);
    }
    ops.push(WriteOp::put(
        Item::new(scope.key(&sk::enrolment(registrant_id)))
            .with("finished_at", now)
            .with(
                "consented_at",
                scope
                    .get(&scope.key(&sk::enrolment(registrant_id)))
                    .await
                    .map_err(InfraError::from)?
                    .and_then(|i| i.i64("consented_at"))
                    .unwrap_or(now),
            ),
    ));
    match scope.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(FinishError::Conflict),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "enrol.finish".into(),
            target: Some(registrant_id.to_string()),
            detail: format!("登録者「{}」のスマホ登録終了（承認待）", before.name()),
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(())
}
