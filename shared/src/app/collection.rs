//! Collection (manual ch.6 スマホで収集, ch.7 収集メール, ch.8 QRコード): registration links,
//! the 送信リスト of quickly added registrants, and collection-mail blasts run by the worker.
//!
//! - A registration link is `<base>/r/<tenant>/<token>`: a random single-purpose token whose
//!   SHA-256 is stored (`TOKEN#<hash>`), valid 90 days. Issuing a new link for a registrant
//!   marks the previous token `replaced` (kept until its expiry so its page can say why it no
//!   longer works) and points `LINK#<registrant>` at the new one, in one transaction.
//!   拒否 marks the current token `revoked` and removes `LINK#<registrant>`. A registrant's
//!   phone session records the hash of the link it was opened with and checks it on every
//!   request (`resolve_hash`), so a new link (mail or QR code) or 拒否 ends every session of
//!   the old one.
//! - A blast is a `BLAST#<id>` item with its counters plus one `BLAST#<id>#TO#<registrant>`
//!   item per recipient. The worker claims each recipient (`queued` → `sending`, conditional),
//!   sends, then records `sent` or `failed` with the counters in one transaction. A re-run
//!   (events arrive at least once, a crashed worker is retried) only picks `queued`
//!   recipients, and one stuck in `sending` is reported as uncertain instead of sent again:
//!   nobody gets two mails from one blast.

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::actor::Actor;
use super::keys::{sk, RecordId, TenantId, TenantScope};
use super::person::Names;
use super::registrants::{self as regs, Registrant, SaveError, Valid};
use super::tenants::{self, Tenant};
use super::{App, InfraError};
use crate::crypto;
use crate::domain::identity::Email;
use crate::domain::person::Attribute;
use crate::domain::status::Status;
use crate::domain::text::refuse_my_number;
use crate::ports::audit::AuditEvent;
use crate::ports::events::Event;
use crate::ports::mailer::{Mail, MailError};
use crate::ports::store::{Condition, Item, Query, StoreError, WriteOp};

/// How long a registration link works (manual ch.7: 90日間).
pub const LINK_VALIDITY: Duration = Duration::days(90);
/// Subject of the collection mail (manual ch.7).
pub const SUBJECT: &str = "【マイナンバー管理】マイナンバー登録のお願い";
/// Rows of the 簡易登録 grid.
pub const QUICK_ROWS: usize = 10;
/// Event kind of a blast job (detail: `{tenant, blast}`).
pub const BLAST_JOB: &str = "collection.blast";
/// A recipient left in `sending` this long is taken as a crashed send.
const STALE_SENDING: i64 = 10 * 60;
/// Blast records are kept this long for the result page.
const BLAST_KEPT: Duration = Duration::days(30);

// ---------------------------------------------------------------- registration links

/// The URL a registrant opens on their phone.
pub fn link_url(app: &App, tenant: &TenantId, token: &str) -> String {
    format!(
        "{}/r/{}/{}",
        app.config.base_url.trim_end_matches('/'),
        tenant,
        token
    )
}

/// A freshly issued link (the token exists only here and in the mail or QR code).
#[derive(Clone, Debug)]
pub struct IssuedLink {
    pub url: String,
    pub token_hash: String,
    pub expires_at: OffsetDateTime,
}

/// What a token in a URL turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Valid {
        registrant_id: String,
        token_hash: String,
    },
    Expired,
    /// A newer link was issued for the same person.
    Replaced,
    /// The person was marked 拒否: collection through this link ended.
    Revoked,
    Unknown,
}

fn token_hash(token: &str) -> String {
    crypto::sha256_hex(format!("myna-link\n{token}").as_bytes())
}

/// Writes a new token for `registrant_id` without touching the current one (see [`activate`]).
async fn prepare_link(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<(String, IssuedLink), InfraError> {
    let token = crypto::random_token();
    let hash = token_hash(&token);
    let now = app.now();
    let expires_at = now + LINK_VALIDITY;
    scope
        .put(
            Item::new(scope.key(&sk::link_token(&hash)))
                .with("registrant_id", registrant_id)
                .with("state", "new")
                .with("expires_at", expires_at.unix_timestamp())
                .with("ttl", (expires_at + Duration::days(30)).unix_timestamp()),
            Condition::NotExists,
        )
        .await?;
    Ok((
        token.clone(),
        IssuedLink {
            url: link_url(app, scope.tenant(), &token),
            token_hash: hash,
            expires_at,
        },
    ))
}

/// Makes a prepared token the registrant's link and voids the previous one, at once.
async fn activate(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
    link: &IssuedLink,
) -> Result<(), InfraError> {
    let previous = scope
        .get(&scope.key(&sk::link(registrant_id)))
        .await?
        .and_then(|i| i.str("token_hash").map(str::to_string));
    let ttl = (link.expires_at + Duration::days(30)).unix_timestamp();
    let mut ops = vec![
        WriteOp::put(
            Item::new(scope.key(&sk::link_token(&link.token_hash)))
                .with("registrant_id", registrant_id)
                .with("state", "current")
                .with("expires_at", link.expires_at.unix_timestamp())
                .with("ttl", ttl),
        ),
        WriteOp::put(
            Item::new(scope.key(&sk::link(registrant_id)))
                .with("token_hash", link.token_hash.as_str())
                .with("issued_at", app.now().unix_timestamp())
                .with("expires_at", link.expires_at.unix_timestamp()),
        ),
    ];
    if let Some(old) = previous.filter(|h| *h != link.token_hash) {
        ops.push(WriteOp::put(
            Item::new(scope.key(&sk::link_token(&old)))
                .with("registrant_id", registrant_id)
                .with("state", "replaced")
                .with("ttl", ttl),
        ));
    }
    scope.transact(ops).await?;
    Ok(())
}

/// Removes a prepared token that was never handed out (its mail failed).
async fn discard(scope: &TenantScope, link: &IssuedLink) -> Result<(), InfraError> {
    scope
        .delete(
            &scope.key(&sk::link_token(&link.token_hash)),
            Condition::Equals("state".into(), Value::from("new")),
        )
        .await
        .or_else(|e| match e {
            StoreError::ConditionFailed => Ok(()),
            e => Err(e),
        })?;
    Ok(())
}

/// Issues a new link for a registrant (QR code page), voiding the previous one.
pub async fn issue_link(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<IssuedLink, InfraError> {
    let (_, link) = prepare_link(app, scope, registrant_id).await?;
    activate(app, scope, registrant_id, &link).await?;
    Ok(link)
}

/// Looks a token up. Never distinguishes more than the states the page explains.
pub async fn resolve(app: &App, scope: &TenantScope, token: &str) -> Result<LinkState, InfraError> {
    if token.len() < 20 || token.len() > 100 {
        return Ok(LinkState::Unknown);
    }
    resolve_hash(app, scope, &token_hash(token)).await
}

/// The state of the link whose token hashes to `hash`: what a registrant's session checks on
/// every request, so a session lasts only while the link it was opened with is current.
pub async fn resolve_hash(
    app: &App,
    scope: &TenantScope,
    hash: &str,
) -> Result<LinkState, InfraError> {
    let Some(item) = scope.get(&scope.key(&sk::link_token(hash))).await? else {
        return Ok(LinkState::Unknown);
    };
    let Some(registrant_id) = item.str("registrant_id").map(str::to_string) else {
        return Ok(LinkState::Unknown);
    };
    Ok(match item.str("state") {
        Some("replaced") => LinkState::Replaced,
        Some("revoked") => LinkState::Revoked,
        Some("current") if item.i64("expires_at").unwrap_or(0) <= app.now().unix_timestamp() => {
            LinkState::Expired
        }
        Some("current") => LinkState::Valid {
            registrant_id,
            token_hash: hash.to_string(),
        },
        _ => LinkState::Unknown,
    })
}

/// Ends collection through the registrant's current link (拒否): the link stops working, and
/// with it every session opened through it. A new link (mail or QR code) re-opens collection.
pub async fn revoke_link(scope: &TenantScope, registrant_id: &str) -> Result<(), InfraError> {
    let Some(current) = scope.get(&scope.key(&sk::link(registrant_id))).await? else {
        return Ok(());
    };
    let mut ops = vec![WriteOp::Delete {
        key: scope.key(&sk::link(registrant_id)),
        condition: Condition::None,
    }];
    if let Some(hash) = current.str("token_hash") {
        let mut token = Item::new(scope.key(&sk::link_token(hash)))
            .with("registrant_id", registrant_id)
            .with("state", "revoked");
        if let Some(ttl) = current
            .i64("expires_at")
            .map(|e| e + Duration::days(30).whole_seconds())
        {
            token = token.with("ttl", ttl);
        }
        ops.push(WriteOp::put(token));
    }
    scope.transact(ops).await?;
    Ok(())
}

/// When the registrant's current link stops working, if they have one.
pub async fn link_expiry(
    scope: &TenantScope,
    registrant_id: &str,
) -> Result<Option<OffsetDateTime>, InfraError> {
    Ok(scope
        .get(&scope.key(&sk::link(registrant_id)))
        .await?
        .and_then(|i| i.i64("expires_at"))
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()))
}

/// Writes that forget a registrant's collection state (with the registrant's deletion).
pub fn forget_ops(scope: &TenantScope, registrant_id: &str) -> Vec<WriteOp> {
    [
        sk::link(registrant_id),
        sk::send_list(registrant_id),
        sk::enrolment(registrant_id),
    ]
    .into_iter()
    .map(|k| WriteOp::Delete {
        key: scope.key(&k),
        condition: Condition::None,
    })
    .collect()
}

// ---------------------------------------------------------------- 簡易登録 and 送信リスト

/// One row of the 簡易登録 grid, as typed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct QuickRow {
    pub attribute: String,
    pub family_name: String,
    pub given_name: String,
    pub email: String,
}

impl QuickRow {
    pub fn is_blank(&self) -> bool {
        self.family_name.trim().is_empty()
            && self.given_name.trim().is_empty()
            && self.email.trim().is_empty()
    }
}

/// A problem on one cell of the grid (row index from 0, field name).
pub type CellError = (usize, &'static str, String);

/// Checks the non-blank rows; `bulk_attribute` fills rows left without 属性 (一括選択).
pub fn validate_quick(
    rows: &[QuickRow],
    bulk_attribute: &str,
) -> Result<Vec<(usize, Valid)>, Vec<CellError>> {
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let attribute = if row.attribute.trim().is_empty() {
            bulk_attribute
        } else {
            row.attribute.trim()
        };
        let attribute = Attribute::from_code(attribute);
        if attribute.is_none() {
            errors.push((i, "attribute", "属性を選択してください。".into()));
        }
        let family = row.family_name.trim();
        if family.is_empty() {
            errors.push((
                i,
                "family_name",
                "登録者名（苗字）を入力してください。".into(),
            ));
        } else if family.chars().count() > 50 {
            errors.push((i, "family_name", "50文字以内で入力してください。".into()));
        } else if let Err(e) = refuse_my_number("登録者名（苗字）", family) {
            errors.push((i, "family_name", e.to_string()));
        }
        let given = row.given_name.trim();
        if given.chars().count() > 50 {
            errors.push((i, "given_name", "50文字以内で入力してください。".into()));
        } else if let Err(e) = refuse_my_number("登録者名（名前）", given) {
            errors.push((i, "given_name", e.to_string()));
        }
        let email = match Email::parse(row.email.trim()) {
            Ok(e) => Some(e.as_str().to_string()),
            Err(_) if row.email.trim().is_empty() => {
                errors.push((i, "email", "メールアドレスを入力してください。".into()));
                None
            }
            Err(_) => {
                errors.push((
                    i,
                    "email",
                    "メールアドレスの形式が正しくありません。".into(),
                ));
                None
            }
        };
        if let (Some(attribute), Some(email)) = (attribute, email) {
            valid.push((
                i,
                Valid {
                    group_id: None,
                    code: String::new(),
                    names: Names {
                        family_name: family.to_string(),
                        given_name: given.to_string(),
                        ..Names::default()
                    },
                    attribute,
                    email: Some(email),
                    password: None,
                    login_lock: false,
                    sex: None,
                    birth_date: None,
                    hire_date: None,
                    note: String::new(),
                    number: None,
                },
            ));
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(errors)
    }
}

/// Saves checked 簡易登録 rows (the whole page fits the plan or nothing is saved) and puts
/// them on the 送信リスト. Returns how many were added.
pub async fn save_quick(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    rows: Vec<Valid>,
) -> Result<usize, SaveError> {
    regs::check_plan(scope, tenant, rows.len() as u32).await?;
    let mut added = 0;
    for valid in rows {
        let r = regs::create(app, scope, tenant, actor, valid, false).await?;
        scope
            .put(
                Item::new(scope.key(&sk::send_list(&r.id))).with("added_at", r.person.created_at),
                Condition::None,
            )
            .await
            .map_err(InfraError::from)?;
        added += 1;
    }
    Ok(added)
}

/// Registrants on the 送信リスト, oldest first.
pub async fn send_list(scope: &TenantScope) -> Result<Vec<Registrant>, InfraError> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(sk::SEND_LIST_PREFIX)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if let Some(id) = item.key.sk.strip_prefix(sk::SEND_LIST_PREFIX) {
                ids.push((item.i64("added_at").unwrap_or(0), id.to_string()));
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    ids.sort();
    let ids: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    regs::get_many(scope, &ids).await
}

/// Registrants 収集メール一括送信 lists: everyone not retired (manual ch.7: 退職者 are not
/// shown). Whom the page ticks at first is [`ticked_for_blast`]'s rule.
pub async fn blast_candidates(scope: &TenantScope) -> Result<Vec<Registrant>, InfraError> {
    let (all, _) = regs::load_all(scope, None).await?;
    Ok(all.into_iter().filter(|r| !r.is_retired()).collect())
}

/// Whether 収集メール一括送信 ticks `r` before the user changes anything: those who still have
/// to enter (未登録) or fix (差戻し) their number. The others stay listed so that a mail can be
/// sent to them deliberately (a 拒否 re-opened, a 完了 asked again).
pub fn ticked_for_blast(r: &Registrant) -> bool {
    matches!(r.person.status, Status::Unregistered | Status::SentBack)
}

// ---------------------------------------------------------------- blasts

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
    fn code(self) -> &'static str {
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
        })
    }
}

fn recipient_item(scope: &TenantScope, blast_id: &str, r: &Recipient, ttl: i64, now: i64) -> Item {
    Item::new(scope.key(&sk::blast_recipient(blast_id, &r.registrant_id)))
        .with("name", r.name.as_str())
        .with("email", r.email.as_str())
        .with("state", r.state.code())
        .with("reason", r.reason.as_str())
        .with("changed_at", now)
        .with("ttl", ttl)
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
            let (state, reason) = if email.is_empty() {
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

/// The collection mail for one registrant.
fn compose(
    tenant: &Tenant,
    name: &str,
    options: &MailOptions,
    url: &str,
    expires_at: OffsetDateTime,
) -> String {
    let jst = expires_at.to_offset(time::macros::offset!(+9));
    let mut body = format!(
        "{name} 様\n\n{company}のマイナンバー担当者より、マイナンバー（個人番号）のご登録をお願いいたします。\n",
        company = tenant.company_name
    );
    if !options.message.is_empty() {
        body.push_str(&format!(
            "\n【ご担当者からのメッセージ】\n{}\n",
            options.message
        ));
    }
    body.push_str(&format!(
        "\n下記のURLをスマートフォンで開き、画面の案内に沿ってご登録ください。\n{url}\n\n\
         ※このURLの有効期限は{}年{}月{}日です（90日間）。\n\
         ※パソコンで受け取った場合は、URLを開くと表示されるQRコードをスマートフォンで読み取ってください。\n",
        jst.year(),
        u8::from(jst.month()),
        jst.day()
    ));
    if tenant.passcode_set {
        body.push_str(
            "※ログインには、会社からお知らせする企業パスコードが必要です。ご不明な場合は担当者にお問い合わせください。\n",
        );
    }
    body.push_str(
        "※このURLはあなた専用です。他の人に転送しないでください。\n\
         ※お心当たりのない場合は、このメールを破棄してください。\n\n\
         マイナクラウド（マイナンバー管理）\n",
    );
    body
}

/// Runs a blast (the worker's job). Safe to run again and concurrently: see the module docs.
pub async fn run_blast(app: &App, tenant_id: &TenantId, blast_id: &str) -> Result<(), InfraError> {
    let scope = TenantScope::new(tenant_id.clone(), app.ports.store.clone());
    let Some(tenant) = tenants::load(&scope).await? else {
        return Ok(());
    };
    let Some((blast, list)) = load_blast(&scope, blast_id).await? else {
        tracing::warn!(job = BLAST_JOB, "blast not found; skipped");
        return Ok(());
    };
    if blast.done {
        return Ok(());
    }
    let now = app.now().unix_timestamp();
    let ttl = now + BLAST_KEPT.whole_seconds();
    // Whether a recipient is still in another run's hands (then that run finishes the blast).
    let mut left = false;
    for r in list {
        match r.state {
            RecipientState::Queued => {
                left |= !send_one(app, &scope, &tenant, &blast, r, ttl).await?;
            }
            RecipientState::Sending => {
                let key = scope.key(&sk::blast_recipient(blast_id, &r.registrant_id));
                let changed = scope
                    .get(&key)
                    .await?
                    .and_then(|i| i.i64("changed_at"))
                    .unwrap_or(0);
                if now - changed >= STALE_SENDING {
                    let reason = "送信処理が中断されたため、送信されたか確認できません。届いていない場合は再送信してください。";
                    finish_one(&scope, &blast, &r, RecipientState::Failed, reason, ttl).await?;
                } else {
                    left = true;
                }
            }
            RecipientState::Sent | RecipientState::Failed => {}
        }
    }
    if left {
        return Ok(());
    }
    complete(app, &scope, &tenant, &blast).await
}

/// Sends to one queued recipient; `false` when another run claimed it first.
async fn send_one(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    blast: &Blast,
    mut r: Recipient,
    ttl: i64,
) -> Result<bool, InfraError> {
    let now = app.now().unix_timestamp();
    r.state = RecipientState::Sending;
    let claimed = scope
        .put(
            recipient_item(scope, &blast.id, &r, ttl, now),
            Condition::Equals("state".into(), Value::from("queued")),
        )
        .await;
    match claimed {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let Some(registrant) = regs::get(scope, &r.registrant_id).await? else {
        return finish_one(
            scope,
            blast,
            &r,
            RecipientState::Failed,
            "登録者が削除されています。",
            ttl,
        )
        .await
        .map(|()| true);
    };
    let (_, link) = prepare_link(app, scope, &registrant.id).await?;
    let mut mail = Mail::new(
        r.email.clone(),
        SUBJECT,
        compose(tenant, &r.name, &blast.options, &link.url, link.expires_at),
    );
    mail.reply_to = blast.options.reply_to.clone();
    match app.ports.mailer.send(&mail).await {
        Ok(()) => {
            activate(app, scope, &registrant.id, &link).await?;
            scope
                .delete(&scope.key(&sk::send_list(&registrant.id)), Condition::None)
                .await?;
            finish_one(scope, blast, &r, RecipientState::Sent, "", ttl).await?;
            Ok(true)
        }
        Err(e) => {
            discard(scope, &link).await?;
            let reason = match e {
                MailError::Rejected(why) => format!("宛先に送信できませんでした（{why}）。"),
                MailError::Backend(_) => {
                    "メールサーバの一時的なエラーで送信できませんでした。再送信してください。"
                        .to_string()
                }
            };
            finish_one(scope, blast, &r, RecipientState::Failed, &reason, ttl).await?;
            Ok(true)
        }
    }
}

/// Records a recipient's outcome and counts it, in one transaction.
async fn finish_one(
    scope: &TenantScope,
    blast: &Blast,
    r: &Recipient,
    state: RecipientState,
    reason: &str,
    ttl: i64,
) -> Result<(), InfraError> {
    let mut done = r.clone();
    done.state = state;
    done.reason = reason.to_string();
    let counter = if state == RecipientState::Sent {
        "sent"
    } else {
        "failed"
    };
    let ops = vec![
        WriteOp::Put {
            item: recipient_item(scope, &blast.id, &done, ttl, 0),
            condition: Condition::Equals("state".into(), Value::from("sending")),
        },
        WriteOp::Add {
            key: scope.key(&sk::blast(&blast.id)),
            deltas: vec![(counter.to_string(), 1)],
            expires_at: Some(ttl),
        },
    ];
    match scope.transact(ops).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Marks the blast done (the caller saw nobody left to send to) and sends the copy, once.
async fn complete(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    blast: &Blast,
) -> Result<(), InfraError> {
    let Some(mut item) = scope.get(&scope.key(&sk::blast(&blast.id))).await? else {
        return Ok(());
    };
    item.attrs.insert("state".into(), Value::from("done"));
    match scope
        .put(
            item,
            Condition::Equals("state".into(), Value::from("running")),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    if let Some(copy_to) = &blast.options.copy_to {
        let body = compose(
            tenant,
            "（対象者名）",
            &blast.options,
            "（登録用URLは対象者ごとに異なるため、控えには記載していません）",
            app.now() + LINK_VALIDITY,
        );
        let mail = Mail::new(copy_to.clone(), format!("[控え] {SUBJECT}"), body);
        // The error may name the address: not logged.
        if app.ports.mailer.send(&mail).await.is_err() {
            tracing::warn!(job = BLAST_JOB, "copy of a collection mail not sent");
        }
    }
    Ok(())
}
