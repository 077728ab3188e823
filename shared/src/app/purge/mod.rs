//! The month-end purge (manual ch.15, FAQ「解約した場合…」): for every tenant whose 解約日 has
//! ended, in this order and each step once:
//!
//! 1. destroy the tenant's master key (KMS: scheduled deletion with the minimum window; the
//!    key file locally): from then on every copy of its numbers and images, backups included,
//!    is unreadable (crypto-shredding), whatever the later steps manage;
//! 2. delete every image object;
//! 3. delete every record: registrants, dependents, users, links, notices, staged imports,
//!    the login look-ups, the profile (sessions die with the profile and expire by `ttl`);
//! 4. delete the operation log (only this job may: its role alone can delete audit items);
//! 5. mail the データ破棄証明書 to the contractor address (once: the worker remembers the id);
//! 6. keep only the number-free purge record and note the purge in the system log.
//!
//! Progress lives in the global purge record (`PURGES`), written before anything is deleted and
//! advanced after each step, so a crash at any point re-runs to the same end state. A step
//! itself is idempotent (deleting what is already gone succeeds); what it reports is counted
//! before it deletes (people and images when the purge begins, log entries before the log
//! goes), the certificate is mailed once (the worker claims its fixed event id, and releases
//! it if the send fails) and the system-log entry is written once (`record_once`), so a step
//! that failed after doing its work and runs again changes nothing.
//!
//! Not here: the cancellation request (`app::cancel`), the schedule (the `purge` function,
//! `myna-local`'s timer) and the orphaned keys of failed sign-ups (`sweep`).

mod certificate;
mod erase;
pub mod sweep;

use time::{Date, OffsetDateTime};

use super::cancel::{self, DueEntry};
use super::keys::{self as k, TenantId, TenantScope};
use super::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

pub use certificate::{certificate_mail, CERTIFICATE_SUBJECT};

/// The steps of a purge, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    DestroyKey,
    DeleteImages,
    DeleteRecords,
    DeleteLog,
    MailCertificate,
    Finish,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::DestroyKey,
        Step::DeleteImages,
        Step::DeleteRecords,
        Step::DeleteLog,
        Step::MailCertificate,
        Step::Finish,
    ];

    fn code(self) -> &'static str {
        match self {
            Step::DestroyKey => "key",
            Step::DeleteImages => "images",
            Step::DeleteRecords => "records",
            Step::DeleteLog => "log",
            Step::MailCertificate => "mail",
            Step::Finish => "finish",
        }
    }

    fn from_code(code: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.code() == code)
    }

    fn next(self) -> Option<Step> {
        let at = Step::ALL.iter().position(|s| *s == self)?;
        Step::ALL.get(at + 1).copied()
    }
}

/// A purge's progress and, once done, all that is kept of the tenant: no number, no person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeRecord {
    pub tenant: TenantId,
    pub customer_number: String,
    pub company_name: String,
    pub due: Date,
    pub started_at: OffsetDateTime,
    /// The step to run next; `None` once the purge is done.
    pub next: Option<Step>,
    /// The master key's id (a KMS key ARN, a key file name): which key was destroyed.
    pub master_key: String,
    /// Where the certificate goes; removed once it is mailed.
    pub contractor_email: Option<String>,
    pub people: i64,
    pub dependents: i64,
    /// Image objects, counted when the purge began (before anything was deleted).
    pub images: i64,
    /// Entries of the operation log, counted just before it is deleted.
    pub log_entries: Option<i64>,
    pub key_destroyed_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

fn unix(at: Option<OffsetDateTime>) -> Option<i64> {
    at.map(OffsetDateTime::unix_timestamp)
}

fn from_unix(v: Option<i64>) -> Option<OffsetDateTime> {
    v.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

impl PurgeRecord {
    fn to_item(&self) -> Item {
        let mut item = Item::new(k::purge_record(&self.tenant))
            .with("tenant", self.tenant.as_str())
            .with("customer_number", self.customer_number.as_str())
            .with("company_name", self.company_name.as_str())
            .with("due", self.due.to_string())
            .with("started_at", self.started_at.unix_timestamp())
            .with("next", self.next.map_or("done", Step::code))
            .with("master_key", self.master_key.as_str())
            .with("people", self.people)
            .with("dependents", self.dependents)
            .with("images", self.images);
        if let Some(email) = &self.contractor_email {
            item = item.with("contractor_email", email.as_str());
        }
        if let Some(n) = self.log_entries {
            item = item.with("log_entries", n);
        }
        if let Some(t) = unix(self.key_destroyed_at) {
            item = item.with("key_destroyed_at", t);
        }
        if let Some(t) = unix(self.finished_at) {
            item = item.with("finished_at", t);
        }
        item
    }

    fn from_item(item: &Item) -> Option<PurgeRecord> {
        let next = match item.str("next")? {
            "done" => None,
            code => Some(Step::from_code(code)?),
        };
        Some(PurgeRecord {
            tenant: TenantId::parse(item.str("tenant")?)?,
            customer_number: item.str("customer_number")?.to_string(),
            company_name: item.str("company_name")?.to_string(),
            due: Date::parse(
                item.str("due")?,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()?,
            started_at: OffsetDateTime::from_unix_timestamp(item.i64("started_at")?).ok()?,
            next,
            master_key: item.str("master_key")?.to_string(),
            contractor_email: item.str("contractor_email").map(str::to_string),
            people: item.i64("people")?,
            dependents: item.i64("dependents")?,
            images: item.i64("images")?,
            log_entries: item.i64("log_entries"),
            key_destroyed_at: from_unix(item.i64("key_destroyed_at")),
            finished_at: from_unix(item.i64("finished_at")),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Infra(#[from] InfraError),
    #[error("purge step {0:?} failed: {1}")]
    Step(Step, String),
}

impl From<StoreError> for PurgeError {
    fn from(e: StoreError) -> Self {
        PurgeError::Infra(e.into())
    }
}

/// The purge record of `tenant`, if a purge started.
pub async fn record(app: &App, tenant: &TenantId) -> Result<Option<PurgeRecord>, InfraError> {
    match app.ports.store.get(&k::purge_record(tenant)).await? {
        None => Ok(None),
        Some(item) => PurgeRecord::from_item(&item)
            .map(Some)
            .ok_or(InfraError::Corrupt("purge record")),
    }
}

async fn save(app: &App, record: &PurgeRecord) -> Result<(), InfraError> {
    app.ports
        .store
        .put(record.to_item(), Condition::Exists)
        .await?;
    Ok(())
}

/// Claims a due tenant: writes its purge record (with what the certificate will need) and
/// takes it off the work list in one transaction. `None` if the cancellation was withdrawn
/// meanwhile. A tenant already claimed returns its record (a re-run resumes).
pub async fn begin(app: &App, entry: &DueEntry) -> Result<Option<PurgeRecord>, InfraError> {
    if let Some(existing) = record(app, &entry.tenant).await? {
        return Ok(Some(existing));
    }
    let scope = TenantScope::new(entry.tenant.clone(), app.ports.store.clone());
    let due_key = k::cancellation_due(&entry.due.to_string(), &entry.tenant);
    let Some(tenant) = super::tenants::load(&scope).await? else {
        // A work-list entry without a tenant (a hand-deleted tenant): nothing to purge.
        app.ports.store.delete(&due_key, Condition::None).await?;
        return Ok(None);
    };
    let counters = super::tenants::counters(&scope).await?;
    // Counted before anything is deleted, like the people: a deletion that fails half-way
    // and is re-run cannot lose the count the certificate states.
    let images = app.ports.blobs.count_tenant(entry.tenant.as_str()).await?;
    let contractor = super::contractor::load(&scope, &tenant).await?;
    let record = PurgeRecord {
        tenant: entry.tenant.clone(),
        customer_number: tenant.customer_number.clone(),
        company_name: tenant.company_name.clone(),
        due: entry.due,
        started_at: app.now(),
        next: Some(Step::DestroyKey),
        master_key: tenant.keys.master_key.clone(),
        contractor_email: (!contractor.email.is_empty()).then_some(contractor.email),
        people: counters.registrants,
        dependents: counters.dependents,
        images: i64::try_from(images).unwrap_or(i64::MAX),
        log_entries: None,
        key_destroyed_at: None,
        finished_at: None,
    };
    let ops = vec![
        WriteOp::put_new(record.to_item()),
        WriteOp::Delete {
            key: due_key,
            condition: Condition::Exists,
        },
    ];
    match app.ports.store.transact(ops).await {
        Ok(()) => {
            tracing::info!(tenant = %entry.tenant, "purge started");
            Ok(Some(record))
        }
        // Withdrawn, or another run claimed it first.
        Err(StoreError::ConditionFailed) => self::record(app, &entry.tenant).await,
        Err(e) => Err(e.into()),
    }
}

/// Runs the next step of the purge of `record` and saves the progress; returns the step run,
/// or `None` if the purge was already done.
pub async fn advance(app: &App, record: &mut PurgeRecord) -> Result<Option<Step>, PurgeError> {
    let Some(step) = record.next else {
        return Ok(None);
    };
    let fail = |e: String| PurgeError::Step(step, e);
    match step {
        Step::DestroyKey => {
            // First of all: whatever happens later, every copy is unreadable from here on.
            app.ports
                .keys
                .destroy_master_key(&record.master_key)
                .await
                .map_err(|e| fail(e.to_string()))?;
            app.vault.forget(&record.tenant);
            record.key_destroyed_at = Some(app.now());
        }
        Step::DeleteImages => {
            app.ports
                .blobs
                .delete_tenant(record.tenant.as_str())
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
        Step::DeleteRecords => erase::records(app, record).await?,
        Step::DeleteLog => {
            if record.log_entries.is_none() {
                // Counted and saved before deleting, so a re-run still knows the count.
                let n = app.audit.entry_count(&record.tenant).await?;
                record.log_entries = Some(n);
                save(app, record).await?;
            }
            app.audit.erase_tenant(&record.tenant).await?;
        }
        Step::MailCertificate => {
            if let Some(to) = &record.contractor_email {
                let mail = certificate_mail(app, record, to);
                let id = format!("purge-certificate-{}", record.tenant);
                app.ports
                    .events
                    .publish(vec![super::worker::mail_event_once(&id, &mail)])
                    .await
                    .map_err(InfraError::from)?;
            } else {
                tracing::warn!(tenant = %record.tenant, "no contractor address; certificate not mailed");
            }
        }
        Step::Finish => {
            // Once, though the step runs again if saving the progress below fails.
            let event = AuditEvent {
                tenant_id: None,
                actor_id: None,
                actor_name: Some("月末解約処理".into()),
                action: "tenant.purge".into(),
                target: Some(record.tenant.to_string()),
                detail: certificate::summary(record),
                ip: None,
            };
            app.audit
                .record_once(event, &format!("purge#{}", record.tenant))
                .await
                .map_err(InfraError::from)?;
            record.contractor_email = None;
            record.finished_at = Some(app.now());
        }
    }
    record.next = step.next();
    save(app, record).await?;
    tracing::info!(tenant = %record.tenant, step = step.code(), "purge step done");
    Ok(Some(step))
}

/// Runs a purge to its end.
pub async fn finish(app: &App, record: &mut PurgeRecord) -> Result<(), PurgeError> {
    while advance(app, record).await?.is_some() {}
    Ok(())
}

/// Purges left unfinished by an earlier run (a crash), from the purge records.
async fn unfinished(app: &App) -> Result<Vec<PurgeRecord>, InfraError> {
    let items = crate::ports::store::read_all(app.ports.store.as_ref(), k::PURGES).await?;
    Ok(items
        .iter()
        .filter_map(PurgeRecord::from_item)
        .filter(|r| r.next.is_some())
        .collect())
}

/// What one run of the job did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Tenants purged to the end in this run.
    pub purged: Vec<TenantId>,
    /// Tenants whose purge failed (retried by the next run).
    pub failed: Vec<TenantId>,
    /// Master keys of failed sign-ups destroyed.
    pub orphan_keys: usize,
}

/// The scheduled job: finishes interrupted purges, purges every tenant whose 解約日 has ended,
/// then sweeps orphaned master keys. One tenant's failure does not stop the others.
pub async fn run(app: &App) -> Result<RunReport, InfraError> {
    let mut report = RunReport::default();
    let mut records = unfinished(app).await?;
    for entry in cancel::due_tenants(app, app.now()).await? {
        if let Some(r) = begin(app, &entry).await? {
            if r.next.is_some() && !records.iter().any(|x| x.tenant == r.tenant) {
                records.push(r);
            }
        }
    }
    for mut r in records {
        match finish(app, &mut r).await {
            Ok(()) => report.purged.push(r.tenant),
            Err(e) => {
                tracing::error!(tenant = %r.tenant, error = %e, "purge failed; the next run resumes it");
                report.failed.push(r.tenant);
            }
        }
    }
    report.orphan_keys = sweep::orphan_keys(app).await?;
    Ok(report)
}
