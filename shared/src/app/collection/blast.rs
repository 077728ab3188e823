//! 収集メール一括送信: the blast and its recipients, run by the worker so that nobody gets two
//! mails from one blast.

use serde_json::json;

use super::{BLAST_JOB, BLAST_KEPT};
use crate::app::actor::Actor;
use crate::app::keys::{sk, RecordId, TenantId, TenantScope};
use crate::app::registrants::Registrant;
use crate::app::{App, InfraError};
use crate::domain::identity::Email;
use crate::domain::text::refuse_my_number;
use crate::ports::audit::AuditEvent;
use crate::ports::events::Event;
use crate::ports::store::{Condition, Item, Query, WriteOp};

/// The mail form (manual ch.7): message, reply-to, copy to the logged-in user.
#[derive(Clone, Debug, Default)]
pub struct MailOptions {
    pub message: String,
    pub reply_to: Option<String>,
    /// The logged-in user's address when they asked for a copy.
    pub copy_to: Option<String>,
}

/// Checks the mail form's free fields.
pub fn validate_mail_options(
    message: &str,
    reply_to: &str,
    copy_to: Option<&str>,
) -> Result<MailOptions, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let message = message.trim().replace("\r\n", "\n");
    if message.chars().count() > 1000 {
        errors.push((
            "message",
            "ご担当者からのメッセージは1000文字以内で入力してください。".to_string(),
        ));
    }
    if let Err(e) = refuse_my_number("ご担当者からのメッセージ", &message) {
        errors.push(("message", e.to_string()));
    }
    let reply_to = match reply_to.trim() {
        "" => None,
        raw => match Email::parse(raw) {
            Ok(e) => Some(e.as_str().to_string()),
            Err(_) => {
                errors.push((
                    "reply_to",
                    "返信先メールアドレスの形式が正しくありません。".to_string(),
                ));
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(MailOptions {
            message,
            reply_to,
            copy_to: copy_to.map(str::to_string),
        })
    } else {
        Err(errors)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientState {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl RecipientState {
    pub(super) fn code(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::Sending => "sending",
            RecipientState::Sent => "sent",
            RecipientState::Failed => "failed",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "queued" => RecipientState::Queued,
            "sending" => RecipientState::Sending,
            "sent" => RecipientState::Sent,
            "failed" => RecipientState::Failed,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            RecipientState::Queued => "送信待ち",
            RecipientState::Sending => "送信中",
            RecipientState::Sent => "送信済み",
            RecipientState::Failed => "送信失敗",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recipient {
    pub registrant_id: String,
    pub name: String,
    pub email: String,
    pub state: RecipientState,
    pub reason: String,
    /// Sends that failed for a passing reason (the mail server's error) and were handed back.
    pub attempts: i64,
    /// While `sending`: the link being mailed (its token's hash and expiry), recorded by the
    /// claim, so a re-run can finish what a send that went out began (`send`).
    pub link: Option<(String, i64)>,
    /// When the state last changed (unix seconds).
    pub changed_at: i64,
}

#[derive(Clone, Debug)]
pub struct Blast {
    pub id: String,
    pub done: bool,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub created_at: i64,
    pub created_by: String,
    pub options: MailOptions,
}

impl Blast {
    fn from_item(item: &Item) -> Option<Blast> {
        Some(Blast {
            id: item.key.sk.strip_prefix("BLAST#")?.to_string(),
            done: item.str("state") == Some("done"),
            total: item.i64("total").unwrap_or(0),
            sent: item.i64("sent").unwrap_or(0),
            failed: item.i64("failed").unwrap_or(0),
            created_at: item.i64("created_at").unwrap_or(0),
            created_by: item.str("created_by").unwrap_or_default().to_string(),
            options: MailOptions {
                message: item.str("message").unwrap_or_default().to_string(),
                reply_to: item.str("reply_to").map(str::to_string),
                copy_to: item.str("copy_to").map(str::to_string),
            },
        })
    }

    /// Recipients handled so far (sent or failed).
    pub fn handled(&self) -> i64 {
        self.sent + self.failed
    }

    pub fn percent(&self) -> i64 {
        if self.total == 0 {
            100
        } else {
            self.handled() * 100 / self.total
        }
    }
}

impl Recipient {
    fn from_item(item: &Item) -> Option<Recipient> {
        Some(Recipient {
            registrant_id: item.key.sk.rsplit('#').next()?.to_string(),
            name: item.str("name").unwrap_or_default().to_string(),
            email: item.str("email").unwrap_or_default().to_string(),
            state: RecipientState::from_code(item.str("state")?)?,
            reason: item.str("reason").unwrap_or_default().to_string(),
            attempts: item.i64("attempts").unwrap_or(0),
            link: item
                .str("token_hash")
                .map(|h| (h.to_string(), item.i64("link_expires_at").unwrap_or(0))),
            changed_at: item.i64("changed_at").unwrap_or(0),
        })
    }
}

pub(super) fn recipient_item(
    scope: &TenantScope,
    blast_id: &str,
    r: &Recipient,
    ttl: i64,
    now: i64,
) -> Item {
    let mut item = Item::new(scope.key(&sk::blast_recipient(blast_id, &r.registrant_id)))
        .with("name", r.name.as_str())
        .with("email", r.email.as_str())
        .with("state", r.state.code())
        .with("reason", r.reason.as_str())
        .with("changed_at", now)
        .with("ttl", ttl);
    if r.attempts > 0 {
        item = item.with("attempts", r.attempts);
    }
    if let Some((hash, expires_at)) = &r.link {
        item = item
            .with("token_hash", hash.as_str())
            .with("link_expires_at", *expires_at);
    }
    item
}

/// Records a blast to `registrants` and hands it to the worker. Registrants without an
/// address are recorded as failed at once. Returns the blast id.
pub async fn start_blast(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    options: MailOptions,
    registrants: &[Registrant],
) -> Result<String, InfraError> {
    let id = ulid::Ulid::new().to_string();
    let now = app.now();
    let ttl = (now + BLAST_KEPT).unix_timestamp();
    let recipients: Vec<Recipient> = registrants
        .iter()
        .map(|r| {
            let email = r.email.clone().unwrap_or_default();
            let (state, reason) = if r.is_retired() {
                // 退職者 get no collection mail (manual ch.7), however they were chosen.
                (
                    RecipientState::Failed,
                    "退職者のため送信しませんでした（退職日が設定されています）。".to_string(),
                )
            } else if email.is_empty() {
                (
                    RecipientState::Failed,
                    "メールアドレスが登録されていません。".to_string(),
                )
            } else {
                (RecipientState::Queued, String::new())
            };
            Recipient {
                registrant_id: r.id.clone(),
                name: r.name(),
                email,
                state,
                reason,
                attempts: 0,
                link: None,
                changed_at: now.unix_timestamp(),
            }
        })
        .collect();
    let failed_now = recipients
        .iter()
        .filter(|r| r.state == RecipientState::Failed)
        .count() as i64;
    let items: Vec<WriteOp> = recipients
        .iter()
        .map(|r| WriteOp::put(recipient_item(scope, &id, r, ttl, now.unix_timestamp())))
        .collect();
    for chunk in items.chunks(25) {
        scope.batch_write(chunk.to_vec()).await?;
    }
    let mut blast = Item::new(scope.key(&sk::blast(&id)))
        .with("state", "running")
        .with("total", recipients.len() as i64)
        .with("sent", 0)
        .with("failed", failed_now)
        .with("created_at", now.unix_timestamp())
        .with("created_by", actor.name.as_str())
        .with("message", options.message.as_str())
        .with("ttl", ttl);
    if let Some(r) = &options.reply_to {
        blast = blast.with("reply_to", r.as_str());
    }
    if let Some(c) = &options.copy_to {
        blast = blast.with("copy_to", c.as_str());
    }
    // The blast item last: a blast page only ever shows complete recipient lists.
    scope.put(blast, Condition::NotExists).await?;
    app.ports
        .events
        .publish(vec![blast_event(scope.tenant(), &id)])
        .await?;
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "collection.mail".into(),
            target: Some(id.clone()),
            detail: format!("マイナンバー収集メールの送信（{}名）", recipients.len()),
            ip: Some(actor.ip.clone()),
        })
        .await?;
    Ok(id)
}

/// The event that makes the worker run a blast.
pub fn blast_event(tenant: &TenantId, blast_id: &str) -> Event {
    Event {
        kind: BLAST_JOB.into(),
        detail: json!({ "tenant": tenant.as_str(), "blast": blast_id }),
    }
}

/// A blast and its recipients (the result page).
pub async fn load_blast(
    scope: &TenantScope,
    id: &str,
) -> Result<Option<(Blast, Vec<Recipient>)>, InfraError> {
    let Some(id) = RecordId::parse(id) else {
        return Ok(None);
    };
    let Some(blast) = scope
        .get(&scope.key(&sk::blast(id.as_str())))
        .await?
        .as_ref()
        .and_then(Blast::from_item)
    else {
        return Ok(None);
    };
    let recipients = recipients(scope, id.as_str()).await?;
    Ok(Some((blast, recipients)))
}

async fn recipients(scope: &TenantScope, blast_id: &str) -> Result<Vec<Recipient>, InfraError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(sk::blast_recipients_prefix(blast_id))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        out.extend(page.items.iter().filter_map(Recipient::from_item));
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}
