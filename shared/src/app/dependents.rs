//! Dependents (扶養家族, manual ch.9, 11): a registrant's family members whose numbers the
//! company also keeps. Stored under the registrant (`REG#<id>#DEP#<dep>`); each has its own
//! status, and the registrant item carries the summary the list and HOME show (count, how many
//! 未登録 / 承認待, the aggregate status where the lowest wins). Every change rewrites the
//! dependent, that summary and the counters in one transaction. The fields a dependent shares
//! with a registrant are its `person` ([`PersonCore`], read and written once in `app::person`).

use serde_json::Value;
use time::Date;

use super::actor::{audit_event, Actor};
use super::download::fits_cp932;
use super::keys::{sk, RecordId, TenantScope};
use super::person::{self, Names, NamesForm, PersonCore};
use super::registrants::{self as regs, FieldErrors, Registrant, SaveError};
use super::tenants::{Counters, Tenant};
use super::{App, InfraError};
use crate::domain::date::format_slash;
use crate::domain::my_number::MyNumber;
use crate::domain::person::{DependentKind, Relationship, Sex};
use crate::domain::status::{aggregate, Status};
use crate::ports::store::{Condition, Item, Query, StoreError, WriteOp};

/// Most dependents per registrant (one transaction must hold them all on delete).
pub const MAX_DEPENDENTS: usize = 40;

#[derive(Clone, Debug, PartialEq)]
pub struct Dependent {
    pub id: String,
    pub registrant_id: String,
    /// Names, sex, birth date, number, status, images, reasons and times, as a registrant has.
    pub person: PersonCore,
    pub relationship: Relationship,
    pub kind: DependentKind,
}

impl Dependent {
    pub fn name(&self) -> String {
        self.person.name()
    }

    /// Whether CP932 holds every text cell of this dependent's CSV row: its names and kana
    /// (the 社員コード is its registrant's; the rest are digits, dates and fixed labels).
    pub fn text_fits_cp932(&self) -> bool {
        let p = &self.person;
        [&p.family_name, &p.given_name, &p.family_kana, &p.given_kana]
            .into_iter()
            .all(|t| fits_cp932(t))
    }

    pub fn to_item(&self, scope: &TenantScope) -> Item {
        let mut item = Item::new(scope.key(&sk::dependent(&self.registrant_id, &self.id)))
            .with("kind", "dependent")
            .with("relationship", self.relationship.code())
            .with("dependent_kind", self.kind.code());
        self.person.write(&mut item);
        item
    }

    pub fn from_item(item: &Item) -> Option<Dependent> {
        let (reg, dep) = item.key.sk.strip_prefix("REG#")?.split_once("#DEP#")?;
        Some(Dependent {
            id: dep.to_string(),
            registrant_id: reg.to_string(),
            person: PersonCore::read(item)?,
            relationship: Relationship::from_code(item.str("relationship")?)?,
            kind: DependentKind::from_code(item.str("dependent_kind")?)?,
        })
    }
}

#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DependentForm {
    #[serde(flatten)]
    pub names: NamesForm,
    pub relationship: String,
    pub kind: String,
    pub sex: String,
    pub birth_date: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

impl DependentForm {
    pub fn from_dependent(d: &Dependent) -> DependentForm {
        DependentForm {
            names: NamesForm::of(&d.person),
            relationship: d.relationship.code().into(),
            kind: d.kind.code().into(),
            sex: d
                .person
                .sex
                .map(|s| s.code().to_string())
                .unwrap_or_default(),
            birth_date: d.person.birth_date.map(format_slash).unwrap_or_default(),
            ..DependentForm::default()
        }
    }
}

#[derive(Clone, Debug)]
pub struct ValidDependent {
    pub names: Names,
    pub relationship: Relationship,
    pub kind: DependentKind,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub number: Option<MyNumber>,
}

pub fn validate(form: &DependentForm, today: Date) -> Result<ValidDependent, FieldErrors> {
    let mut e = FieldErrors::new();
    let names = form.names.check(&mut e, true);
    let relationship = Relationship::from_code(form.relationship.trim());
    if relationship.is_none() {
        e.push(("relationship", "続柄を選択してください。".into()));
    }
    let kind = DependentKind::from_code(form.kind.trim());
    if kind.is_none() {
        e.push((
            "kind",
            "属性（扶養者／国民年金の第3号被保険者）を選択してください。".into(),
        ));
    }
    let sex = person::sex(&mut e, &form.sex);
    let birth_date = person::birth_date(&mut e, &form.birth_date, today);
    let raw = format!(
        "{}{}{}",
        form.number1.trim(),
        form.number2.trim(),
        form.number3.trim()
    );
    let number = person::number(&mut e, &raw);
    match (relationship, kind) {
        (Some(relationship), Some(kind)) if e.is_empty() => Ok(ValidDependent {
            names,
            relationship,
            kind,
            sex,
            birth_date,
            number,
        }),
        _ => Err(e),
    }
}

/// A registrant's dependents, in the order they were added.
pub async fn list(scope: &TenantScope, registrant_id: &str) -> Result<Vec<Dependent>, InfraError> {
    let page = scope
        .query(
            &Query::partition(scope.pk())
                .prefix(sk::dependents_prefix(registrant_id))
                .limit(MAX_DEPENDENTS + 1),
        )
        .await?;
    Ok(page.items.iter().filter_map(Dependent::from_item).collect())
}

pub async fn get(
    scope: &TenantScope,
    registrant_id: &str,
    id: &str,
) -> Result<Option<Dependent>, InfraError> {
    let (Some(registrant_id), Some(id)) = (RecordId::parse(registrant_id), RecordId::parse(id))
    else {
        return Ok(None);
    };
    Ok(scope
        .get(&scope.key(&sk::dependent(registrant_id.as_str(), id.as_str())))
        .await?
        .as_ref()
        .and_then(Dependent::from_item))
}

/// The registrant with its dependents' summary recomputed from `deps`.
pub(super) fn summarised(r: &Registrant, deps: &[Dependent], now: i64) -> Registrant {
    let mut after = r.clone();
    after.dependents = deps.len() as i64;
    after.dependents_unregistered = deps
        .iter()
        .filter(|d| d.person.status == Status::Unregistered)
        .count() as i64;
    after.dependents_pending = deps
        .iter()
        .filter(|d| d.person.status == Status::Pending)
        .count() as i64;
    after.dependents_status = aggregate(deps.iter().map(|d| d.person.status));
    after.dependents_text_cp932 = Some(deps.iter().all(Dependent::text_fits_cp932));
    after.person.updated_at = now.max(r.person.updated_at + 1);
    after
}

pub(super) fn fingerprint_label(d: &Dependent, r: &Registrant) -> String {
    format!("{}（{}の{}）", d.name(), r.name(), d.relationship.label())
}

/// Writes the dependent change, the registrant summary, fingerprints and counters at once,
/// conditional on the registrant and the changed dependent being as read (`updated_at`).
pub(super) async fn commit(
    scope: &TenantScope,
    registrant: &Registrant,
    before: Option<&Dependent>,
    after: Option<&Dependent>,
    all_after: &[Dependent],
    now: i64,
) -> Result<Registrant, SaveError> {
    commit_with(scope, registrant, before, after, all_after, now, Vec::new()).await
}

/// [`commit`] plus `extra` writes in the same transaction (the deletion record of 廃棄).
pub(super) async fn commit_with(
    scope: &TenantScope,
    registrant: &Registrant,
    before: Option<&Dependent>,
    after: Option<&Dependent>,
    all_after: &[Dependent],
    now: i64,
    extra: Vec<WriteOp>,
) -> Result<Registrant, SaveError> {
    let summary = summarised(registrant, all_after, now);
    let mut ops = extra;
    ops.push(WriteOp::Put {
        item: summary.to_item(scope),
        condition: Condition::Equals(
            "updated_at".into(),
            Value::from(registrant.person.updated_at),
        ),
    });
    let as_read = |b: Option<&Dependent>| {
        b.map_or(Condition::None, |b| {
            Condition::Equals("updated_at".into(), Value::from(b.person.updated_at))
        })
    };
    match (before, after) {
        (_, Some(d)) => ops.push(WriteOp::Put {
            item: d.to_item(scope),
            condition: as_read(before),
        }),
        (Some(d), None) => ops.push(WriteOp::Delete {
            key: scope.key(&sk::dependent(&d.registrant_id, &d.id)),
            condition: as_read(before),
        }),
        (None, None) => {}
    }
    let fp = |d: Option<&Dependent>| {
        d.and_then(|d| d.person.number.as_ref().map(|n| n.fingerprint.clone()))
    };
    if let Some(old) = fp(before).filter(|o| Some(o) != fp(after).as_ref()) {
        let id = before.map(|d| d.id.clone()).unwrap_or_default();
        ops.push(WriteOp::Delete {
            key: scope.key(&sk::fingerprint(&old, &id)),
            condition: Condition::None,
        });
    }
    if let (Some(new), Some(d)) = (fp(after), after) {
        ops.push(WriteOp::put(
            Item::new(scope.key(&sk::fingerprint(&new, &d.id)))
                .with("label", fingerprint_label(d, registrant))
                .with("registrant_id", registrant.id.clone()),
        ));
    }
    if let Some(op) = Counters::delta_op(
        scope,
        &regs::counter_delta(Some(registrant), Some(&summary)),
    ) {
        ops.push(op);
    }
    match scope.transact(ops).await {
        Ok(()) => Ok(summary),
        Err(StoreError::ConditionFailed) => Err(SaveError::Conflict),
        Err(e) => Err(InfraError::from(e).into()),
    }
}

/// Adds (`id` None) or edits a dependent. A new number sets 承認待.
#[allow(clippy::too_many_arguments)]
pub async fn save(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    registrant_id: &str,
    id: Option<&str>,
    valid: ValidDependent,
    allow_duplicate: bool,
) -> Result<Dependent, SaveError> {
    let registrant = regs::get(scope, registrant_id)
        .await?
        .ok_or(SaveError::NotFound)?;
    let mut all = list(scope, registrant_id).await?;
    let now = app.now().unix_timestamp();
    let before = match id {
        Some(id) => Some(
            all.iter()
                .find(|d| d.id == id)
                .cloned()
                .ok_or(SaveError::NotFound)?,
        ),
        None => {
            if all.len() >= MAX_DEPENDENTS {
                return Err(SaveError::Invalid(vec![(
                    "form",
                    format!("扶養家族は{MAX_DEPENDENTS}人まで登録できます。"),
                )]));
            }
            None
        }
    };
    let dep_id = before
        .as_ref()
        .map_or_else(|| ulid::Ulid::new().to_string(), |d| d.id.clone());
    let number = regs::seal_unique(
        app,
        scope,
        tenant,
        &dep_id,
        valid.number.as_ref(),
        allow_duplicate,
    )
    .await?;
    let mut d = before.clone().unwrap_or(Dependent {
        id: dep_id.clone(),
        registrant_id: registrant_id.to_string(),
        person: PersonCore::new(Names::default(), None, None, now),
        relationship: valid.relationship,
        kind: valid.kind,
    });
    if let Some(n) = number {
        regs::set_number(&mut d.person.number, &mut d.person.status, n);
    }
    d.person.set_names(valid.names);
    d.relationship = valid.relationship;
    d.kind = valid.kind;
    d.person.sex = valid.sex;
    d.person.birth_date = valid.birth_date;
    d.person.updated_at = before
        .as_ref()
        .map_or(now, |b| now.max(b.person.updated_at + 1));
    all.retain(|x| x.id != d.id);
    all.push(d.clone());
    commit(scope, &registrant, before.as_ref(), Some(&d), &all, now).await?;
    let (action, what) = if before.is_some() {
        ("dependent.update", "編集")
    } else {
        ("dependent.create", "追加")
    };
    app.audit()
        .record(audit_event(
            scope,
            actor,
            action,
            &registrant.id,
            format!("扶養家族「{}」（{}）の{what}", d.name(), registrant.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(d)
}

pub async fn delete(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    registrant_id: &str,
    id: &str,
) -> Result<(), SaveError> {
    let registrant = regs::get(scope, registrant_id)
        .await?
        .ok_or(SaveError::NotFound)?;
    let mut all = list(scope, registrant_id).await?;
    let before = all
        .iter()
        .find(|d| d.id == id)
        .cloned()
        .ok_or(SaveError::NotFound)?;
    all.retain(|d| d.id != id);
    commit(
        scope,
        &registrant,
        Some(&before),
        None,
        &all,
        app.now().unix_timestamp(),
    )
    .await?;
    super::images::remove_objects(app, scope, tenant, &before.person.images).await;
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "dependent.delete",
            &registrant.id,
            format!(
                "扶養家族「{}」（{}）の削除",
                before.name(),
                registrant.name()
            ),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(())
}

/// Deletes of every dependent of a registrant and their fingerprints (for deleting the
/// registrant in the same transaction).
pub async fn delete_ops(
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<Vec<WriteOp>, InfraError> {
    let mut ops = Vec::new();
    for d in list(scope, registrant_id).await? {
        ops.push(WriteOp::Delete {
            key: scope.key(&sk::dependent(registrant_id, &d.id)),
            condition: Condition::None,
        });
        if let Some(n) = &d.person.number {
            ops.push(WriteOp::Delete {
                key: scope.key(&sk::fingerprint(&n.fingerprint, &d.id)),
                condition: Condition::None,
            });
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::app::person::fixtures::{common, item, merged, scope};

    #[test]
    fn dependent_item_comes_back_attribute_for_attribute_when_read_and_written() {
        // given a stored dependent, with and without a birth date (then it has no attribute)
        let scope = scope();
        for birth_date in [None, Some(json!("2015-10-10"))] {
            let mut attrs = merged(
                common(Value::Null),
                json!({"kind": "dependent", "relationship": "spouse", "dependent_kind": "dependent"}),
            );
            match &birth_date {
                Some(d) => attrs["birth_date"] = d.clone(),
                None => {
                    attrs.as_object_mut().map(|a| a.remove("birth_date"));
                }
            }
            let stored = item(scope.key(&sk::dependent("01J0REG", "01J0DEP")), attrs);
            // when it is read and written again
            let d = Dependent::from_item(&stored).expect("a dependent");
            let written = d.to_item(&scope);
            // then nothing is added or changed: no null birth date appears
            assert_eq!(d.person.review.sent_back_reason.as_deref(), Some("暗い"));
            assert_eq!(written.attrs, stored.attrs);
        }
    }
}
