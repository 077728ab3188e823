//! Background work (EventBridge events in AWS, the in-process queue locally): one dispatcher,
//! one function per job kind, and [`Job`], the deployed job functions and the kinds each is
//! sent (its EventBridge rule matches exactly these detail-types). Delivery is at least once, so
//! every job is idempotent: a mail job claims its event id in the sessions table before acting
//! and skips ids already done; a blast and an import commit are conditional on their recorded
//! progress, so a second delivery continues or finds nothing left to do.

use serde_json::json;

use super::{App, InfraError};
use crate::ports::events::Event;
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, Item, Key, StoreError};

/// Send one mail (kind `mail.send`; detail: `{id, mail}`).
pub const MAIL_SEND: &str = "mail.send";

/// How long a handled event id is remembered (longer than EventBridge retries).
const DONE_FOR_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job kind {0}")]
    UnknownKind(String),
    #[error("malformed job detail for {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// An event asking the worker to send `mail`.
pub fn mail_event(mail: &Mail) -> Event {
    mail_event_once(&ulid::Ulid::new().to_string(), mail)
}

/// An event asking the worker to send `mail` under `id`: publishing it again with the same id
/// (a re-run job) sends nothing more while the worker remembers the id.
pub fn mail_event_once(id: &str, mail: &Mail) -> Event {
    Event {
        kind: MAIL_SEND.into(),
        detail: json!({ "id": id, "mail": mail }),
    }
}

/// A deployed function running jobs from the event bus (scheduled jobs such as the purge have
/// functions of their own and no events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Every mail: single mails (sign-up, login users, the データ破棄証明書) and collection
    /// blasts. The only job function that may send mail.
    MailBlast,
    /// CSVアップロード commits (`app::staging::run_job`): the only job function writing
    /// registrants, and it seals nothing (numbers were sealed when the file was staged).
    ImportCommit,
}

impl Job {
    /// Every job function.
    pub const ALL: [Job; 2] = [Job::MailBlast, Job::ImportCommit];

    /// The function's logical id in `template.yaml`.
    pub fn resource(self) -> &'static str {
        match self {
            Job::MailBlast => "MailBlastFunction",
            Job::ImportCommit => "ImportCommitFunction",
        }
    }

    /// The event kinds (EventBridge detail-types) sent to this function.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Job::MailBlast => &[MAIL_SEND, super::collection::BLAST_JOB],
            Job::ImportCommit => &[super::staging::COMMIT_JOB],
        }
    }

    /// Runs an EventBridge delivery (`detail-type` is the kind, `detail` the detail), as the
    /// job's Lambda receives it.
    pub async fn handle_delivery(
        self,
        app: &App,
        delivery: &serde_json::Value,
    ) -> Result<(), JobError> {
        let event = Event {
            kind: delivery["detail-type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            detail: delivery["detail"].clone(),
        };
        self.handle(app, &event).await
    }

    /// Runs `event` if it is one of this function's kinds; an unknown kind is an error (its
    /// rule sent it by mistake), so it lands in the dead-letter queue rather than vanishing.
    pub async fn handle(self, app: &App, event: &Event) -> Result<(), JobError> {
        if !self.kinds().contains(&event.kind.as_str()) {
            return Err(JobError::UnknownKind(event.kind.clone()));
        }
        handle(app, event).await
    }
}

/// Runs the job an event asks for.
pub async fn handle(app: &App, event: &Event) -> Result<(), JobError> {
    match event.kind.as_str() {
        MAIL_SEND => send_mail(app, event).await,
        super::collection::BLAST_JOB => run_blast(app, event).await,
        super::staging::COMMIT_JOB => run_import(app, event).await,
        other => Err(JobError::UnknownKind(other.to_string())),
    }
}

fn claim_key(id: &str) -> Key {
    Key::new(format!("JOB#{id}"), "JOB")
}

/// Marks `id` as being handled; `false` if it already was.
async fn claim(app: &App, id: &str) -> Result<bool, InfraError> {
    let expires = app.now().unix_timestamp() + DONE_FOR_SECONDS;
    let item = Item::new(claim_key(id)).with("ttl", expires);
    match app.ports.sessions.put(item, Condition::NotExists).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn release(app: &App, id: &str) -> Result<(), InfraError> {
    Ok(app
        .ports
        .sessions
        .delete(&claim_key(id), Condition::None)
        .await?)
}

async fn send_mail(app: &App, event: &Event) -> Result<(), JobError> {
    let id = event
        .detail
        .get("id")
        .and_then(|v| v.as_str())
        .ok_or(JobError::Malformed(MAIL_SEND))?;
    let mail: Mail = event
        .detail
        .get("mail")
        .cloned()
        .and_then(|m| serde_json::from_value(m).ok())
        .ok_or(JobError::Malformed(MAIL_SEND))?;
    if !claim(app, id).await? {
        tracing::info!(job = MAIL_SEND, "already handled; skipped");
        return Ok(());
    }
    if let Err(e) = app.ports.mailer.send(&mail).await {
        // Let a retry try again.
        release(app, id).await?;
        return Err(InfraError::from(e).into());
    }
    Ok(())
}

/// The tenant and the named record id of a tenant job's detail (`{tenant, <name>}`).
fn tenant_job<'e>(
    event: &'e Event,
    name: &str,
    kind: &'static str,
) -> Result<(super::keys::TenantId, &'e str), JobError> {
    let field = |name: &str| event.detail.get(name).and_then(|v| v.as_str());
    match (
        field("tenant").and_then(super::keys::TenantId::parse),
        field(name),
    ) {
        (Some(tenant), Some(id)) => Ok((tenant, id)),
        _ => Err(JobError::Malformed(kind)),
    }
}

async fn run_blast(app: &App, event: &Event) -> Result<(), JobError> {
    let (tenant, blast) = tenant_job(event, "blast", super::collection::BLAST_JOB)?;
    Ok(super::collection::run_blast(app, &tenant, blast).await?)
}

async fn run_import(app: &App, event: &Event) -> Result<(), JobError> {
    let (tenant, import) = tenant_job(event, "import", super::staging::COMMIT_JOB)?;
    Ok(super::staging::run_job(app, &tenant, import).await?)
}
