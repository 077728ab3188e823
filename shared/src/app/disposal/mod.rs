//! 廃棄 (manual ch.12): the deletion of a number or a person with a mandatory reason, and the
//! number-free deletion record (削除記録) that stays behind as proof: who deleted whom (name and
//! 社員コード), what, when and why. It backs the 削除記録 list on `/disposal` and the printable
//! 削除証明書.
//!
//! A deletion runs in three steps, so a crash at any point re-runs to the same end:
//! 1. one transaction removes the data (`disposal::deletion`) and writes the record as `pending`,
//!    naming the image objects to delete; the record's id is chosen by the confirmation page,
//!    so a retried submission finds it instead of deleting twice;
//! 2. the image objects are deleted (deleting a missing object succeeds);
//! 3. the audit entry is written unless the log already holds it (it names the record id), and
//!    the record turns `done`, dropping the object names.
//!
//! Not here: what each kind removes (`disposal::deletion`), the reason's rules
//! (`domain::disposal`), retention dates and reminders (`app::retirement`).

use serde_json::Value;

use super::actor::{audit_event, Actor};
mod deletion;
use super::images;
use super::keys::{sk, RecordId, TenantScope};
use super::registrants::SaveError;
use super::tenants::Tenant;
use super::{App, InfraError};
use crate::domain::disposal::{DisposalKind, Reason, ReasonChoice};
use crate::ports::store::{Condition, Item, Query, StoreError, WriteOp};

/// Deletion records per page of the 削除記録 list.
pub const PAGE_SIZE: usize = 50;

/// What is deleted: a registrant's number or the registrant, a dependent's number or the
/// dependent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: DisposalKind,
    pub registrant_id: String,
    pub dependent_id: Option<String>,
}

/// The number-free record of one deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisposalRecord {
    pub id: String,
    pub kind: DisposalKind,
    pub registrant_id: String,
    pub dependent_id: Option<String>,
    /// The registrant as it was: name and 社員コード.
    pub registrant_name: String,
    pub registrant_code: String,
    /// The dependent deleted (or whose number was), with the relationship: 「山田 花子（配偶者）」.
    pub dependent_label: Option<String>,
    /// The dependents deleted with their registrant (登録者削除), labelled likewise.
    pub dependents: Vec<String>,
    /// How many document images were deleted.
    pub images: usize,
    pub reason: Reason,
    pub actor_id: String,
    pub actor_name: String,
    /// When the data was removed, and when the images and the audit entry followed.
    pub at: i64,
    pub done_at: Option<i64>,
    /// Image objects still to delete (only while not done).
    pub objects: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DisposalError {
    #[error("not found")]
    NotFound,
    /// The record changed under us, or the id names another deletion.
    #[error("他の操作で内容が変わりました。画面を開き直してください。")]
    Conflict,
    /// A number-only deletion of a record that holds no number and no image.
    #[error("削除するマイナンバーがありません。")]
    NothingToDelete,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<SaveError> for DisposalError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::NotFound => DisposalError::NotFound,
            SaveError::Infra(e) => DisposalError::Infra(e),
            _ => DisposalError::Conflict,
        }
    }
}

impl From<StoreError> for DisposalError {
    fn from(e: StoreError) -> Self {
        DisposalError::Infra(e.into())
    }
}

impl DisposalRecord {
    /// A record about to be written with the removal (`disposal::deletion` fills in whom).
    pub(super) fn new(id: &str, target: &Target, reason: Reason, actor: &Actor, now: i64) -> Self {
        DisposalRecord {
            id: id.to_string(),
            kind: target.kind,
            registrant_id: target.registrant_id.clone(),
            dependent_id: target.dependent_id.clone(),
            registrant_name: String::new(),
            registrant_code: String::new(),
            dependent_label: None,
            dependents: Vec::new(),
            images: 0,
            reason,
            actor_id: actor.user_id.clone(),
            actor_name: actor.name.clone(),
            at: now,
            done_at: None,
            objects: Vec::new(),
        }
    }

    pub fn target(&self) -> Target {
        Target {
            kind: self.kind,
            registrant_id: self.registrant_id.clone(),
            dependent_id: self.dependent_id.clone(),
        }
    }

    /// Whom the deletion was about: 「山田 太郎（社員コード E001）」 or
    /// 「山田 花子（配偶者）／山田 太郎（社員コード E001）の扶養家族」.
    pub fn subject(&self) -> String {
        let registrant = if self.registrant_code.is_empty() {
            self.registrant_name.clone()
        } else {
            format!(
                "{}（社員コード {}）",
                self.registrant_name, self.registrant_code
            )
        };
        match &self.dependent_label {
            Some(d) => format!("{d}／{registrant}の扶養家族"),
            None => registrant,
        }
    }

    pub(super) fn to_item(&self, scope: &TenantScope) -> Item {
        let mut item = Item::new(scope.key(&sk::disposal(&self.id)))
            .with("kind", "disposal")
            .with("disposal_kind", self.kind.code())
            .with("registrant_id", self.registrant_id.as_str())
            .with("registrant_name", self.registrant_name.as_str())
            .with("registrant_code", self.registrant_code.as_str())
            .with("dependents", Value::from(self.dependents.clone()))
            .with("images", self.images as i64)
            .with("reason", self.reason.choice.code())
            .with("reason_text", self.reason.text.as_str())
            .with("actor_id", self.actor_id.as_str())
            .with("actor_name", self.actor_name.as_str())
            .with("at", self.at)
            .with(
                "state",
                if self.done_at.is_some() {
                    "done"
                } else {
                    "pending"
                },
            );
        if let Some(d) = &self.dependent_id {
            item = item.with("dependent_id", d.as_str());
        }
        if let Some(d) = &self.dependent_label {
            item = item.with("dependent_label", d.as_str());
        }
        match self.done_at {
            Some(t) => item.with("done_at", t),
            None => item.with("objects", Value::from(self.objects.clone())),
        }
    }

    fn from_item(item: &Item) -> Option<DisposalRecord> {
        let s = |k: &str| item.str(k).map(str::to_string);
        let list = |k: &str| -> Vec<String> {
            item.attrs
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(DisposalRecord {
            id: item.key.sk.strip_prefix(sk::DISPOSALS)?.to_string(),
            kind: DisposalKind::from_code(item.str("disposal_kind")?)?,
            registrant_id: s("registrant_id")?,
            dependent_id: s("dependent_id"),
            registrant_name: s("registrant_name").unwrap_or_default(),
            registrant_code: s("registrant_code").unwrap_or_default(),
            dependent_label: s("dependent_label"),
            dependents: list("dependents"),
            images: usize::try_from(item.i64("images").unwrap_or(0)).unwrap_or(0),
            reason: Reason {
                choice: ReasonChoice::from_code(item.str("reason")?)?,
                text: s("reason_text").unwrap_or_default(),
            },
            actor_id: s("actor_id").unwrap_or_default(),
            actor_name: s("actor_name").unwrap_or_default(),
            at: item.i64("at")?,
            done_at: item.i64("done_at"),
            objects: list("objects"),
        })
    }

    /// The write that stores this record for the first time (in the removal's transaction).
    pub(super) fn create_op(&self, scope: &TenantScope) -> WriteOp {
        WriteOp::put_new(self.to_item(scope))
    }
}

/// A fresh id for a deletion: the confirmation page carries it, so a retried submission
/// finishes the same deletion instead of starting another.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Deletes `target` with `reason` as deletion `record_id` (from the confirmation page) and
/// returns its record. Re-running with the same id finishes what a crash left and records
/// nothing twice.
pub async fn dispose(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    target: &Target,
    reason: Reason,
    record_id: &str,
) -> Result<DisposalRecord, DisposalError> {
    let id = RecordId::parse(record_id).ok_or(DisposalError::NotFound)?;
    if let Some(found) = get(scope, id.as_str()).await? {
        return resume(app, scope, tenant, actor, found, target).await;
    }
    let mut record = DisposalRecord::new(
        id.as_str(),
        target,
        reason,
        actor,
        app.now().unix_timestamp(),
    );
    match deletion::remove(app, scope, &mut record).await {
        Ok(()) => finish(app, scope, tenant, actor, record, false).await,
        // The same deletion submitted twice at once: the other one wrote the record.
        Err(DisposalError::Conflict) => match get(scope, id.as_str()).await? {
            Some(found) => resume(app, scope, tenant, actor, found, target).await,
            None => Err(DisposalError::Conflict),
        },
        Err(e) => Err(e),
    }
}

async fn resume(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    found: DisposalRecord,
    target: &Target,
) -> Result<DisposalRecord, DisposalError> {
    if found.target() != *target {
        return Err(DisposalError::Conflict);
    }
    finish(app, scope, tenant, actor, found, true).await
}

/// Steps 2 and 3: the image objects, the audit entry (once), the record marked done.
async fn finish(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    mut record: DisposalRecord,
    resumed: bool,
) -> Result<DisposalRecord, DisposalError> {
    if record.done_at.is_some() {
        return Ok(record);
    }
    let bs = images::blob_scope(tenant, scope);
    for name in &record.objects {
        app.ports
            .blobs
            .delete(&bs, name)
            .await
            .map_err(InfraError::from)?;
    }
    if !(resumed && audited(app, scope, &record).await?) {
        app.audit()
            .record(audit_event(
                scope,
                actor,
                action(record.kind),
                &record.registrant_id,
                format!(
                    "{}：{}（理由：{}、削除記録 {}）",
                    record.kind.label(),
                    record.subject(),
                    record.reason.label(),
                    record.id
                ),
            ))
            .await
            .map_err(InfraError::from)?;
    }
    record.done_at = Some(app.now().unix_timestamp());
    record.objects.clear();
    match scope
        .put(
            record.to_item(scope),
            Condition::Equals("state".into(), Value::from("pending")),
        )
        .await
    {
        Ok(()) => Ok(record),
        // Finished by a concurrent retry meanwhile.
        Err(StoreError::ConditionFailed) => {
            get(scope, &record.id).await?.ok_or(DisposalError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// The audit action of each kind (whole deletions keep the codes 取扱状況 counts).
pub fn action(kind: DisposalKind) -> &'static str {
    match kind {
        DisposalKind::Number => "registrant.number_delete",
        DisposalKind::Registrant => "registrant.delete",
        DisposalKind::DependentNumber => "dependent.number_delete",
        DisposalKind::Dependent => "dependent.delete",
    }
}

/// Whether the log already holds this deletion's entry: read back from the newest entry to the
/// deletion's time, so a crash between the entry and the record's `done` writes it once.
async fn audited(
    app: &App,
    scope: &TenantScope,
    record: &DisposalRecord,
) -> Result<bool, InfraError> {
    let mark = format!("削除記録 {}）", record.id);
    let since = time::OffsetDateTime::from_unix_timestamp(record.at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        - time::Duration::minutes(1);
    let mut found = false;
    app.audit
        .walk_back(scope.tenant(), None, 200, |e| {
            if e.action == action(record.kind) && e.detail.ends_with(&mark) {
                found = true;
                return false;
            }
            super::audit::log::japan_time(&e.at).is_none_or(|t| t >= since)
        })
        .await?;
    Ok(found)
}

/// One deletion record, done or not.
pub async fn get(scope: &TenantScope, id: &str) -> Result<Option<DisposalRecord>, InfraError> {
    let Some(id) = RecordId::parse(id) else {
        return Ok(None);
    };
    Ok(scope
        .get(&scope.key(&sk::disposal(id.as_str())))
        .await?
        .as_ref()
        .and_then(DisposalRecord::from_item))
}

/// One page of the 削除記録 list, newest first, and the cursor of the next page.
pub async fn list(
    scope: &TenantScope,
    cursor: Option<String>,
) -> Result<(Vec<DisposalRecord>, Option<String>), InfraError> {
    let page = scope
        .query(
            &Query::partition(scope.pk())
                .prefix(sk::DISPOSALS)
                .backwards()
                .limit(PAGE_SIZE)
                .after(cursor),
        )
        .await?;
    Ok((
        page.items
            .iter()
            .filter_map(DisposalRecord::from_item)
            .collect(),
        page.next,
    ))
}
