//! The worker's side of a blast: each queued recipient claimed with the link it is about to
//! mail, mailed and recorded once, and the blast completed when none is left. Why a re-run
//! after a failure at any point neither loses nor repeats a mail: the module docs of
//! `collection`.

use serde_json::Value;
use time::OffsetDateTime;

use super::blast::{
    blast_event, load_blast, recipient_item, Blast, MailOptions, Recipient, RecipientState,
};
use super::links::{activate, discard, prepare_link, IssuedLink};
use super::{BLAST_JOB, BLAST_KEPT, LINK_VALIDITY, STALE_SENDING, SUBJECT};
use crate::app::keys::{sk, TenantId, TenantScope};
use crate::app::registrants::{self as regs};
use crate::app::tenants::{self, Tenant};
use crate::app::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::mailer::{Mail, MailError};
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

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

/// Passing mail-server errors one recipient may meet before the blast records them failed.
const MAX_ATTEMPTS: i64 = 3;

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
            RecipientState::Sending if now - r.changed_at < STALE_SENDING => left = true,
            RecipientState::Sending => match r.link.clone() {
                // No run holds the claim any more, and a run whose send failed hands its
                // recipient back before it ends: this mail went out. Finish its bookkeeping.
                Some(link) => delivered(app, &scope, &blast, &r, link, ttl).await?,
                None => {
                    let reason = "送信処理が中断されたため、送信されたか確認できません。届いていない場合は再送信してください。";
                    let from = RecipientState::Sending;
                    finish_one(
                        &scope,
                        &blast,
                        &r,
                        from,
                        RecipientState::Failed,
                        reason,
                        ttl,
                    )
                    .await?;
                }
            },
            RecipientState::Sent | RecipientState::Failed => {}
        }
    }
    if left {
        return Ok(());
    }
    complete(app, &scope, &tenant, &blast).await
}

/// Whether a blast that is not done has stood still: a recipient claimed by a run that can no
/// longer hold it, or one left queued as long (its run failed and the event's retries were
/// spent), or nobody left to send to (its completion failed).
fn stalled(list: &[Recipient], now: i64) -> bool {
    let mut waiting = list
        .iter()
        .filter(|r| matches!(r.state, RecipientState::Queued | RecipientState::Sending))
        .peekable();
    waiting.peek().is_none() || waiting.any(|r| now - r.changed_at >= STALE_SENDING)
}

/// Hands a stalled blast (see [`stalled`]) to the worker again by publishing its event, at
/// most once per [`STALE_SENDING`] however often its result page reloads; returns whether it
/// did. The result page calls this, so a blast whose worker failed after its retries were
/// spent is finished by the owner looking at it; the page itself never sends mail.
pub async fn continue_stalled(
    app: &App,
    scope: &TenantScope,
    blast: &Blast,
    list: &[Recipient],
) -> Result<bool, InfraError> {
    let now = app.now().unix_timestamp();
    if blast.done || !stalled(list, now) {
        return Ok(false);
    }
    let key = scope.key(&format!("{}#NUDGE", sk::blast(&blast.id)));
    let last = scope.get(&key).await?.and_then(|i| i.i64("at"));
    if last.is_some_and(|t| now - t < STALE_SENDING) {
        return Ok(false);
    }
    let condition = match last {
        Some(t) => Condition::Equals("at".into(), Value::from(t)),
        None => Condition::NotExists,
    };
    let ttl = now + BLAST_KEPT.whole_seconds();
    let nudge = Item::new(key).with("at", now).with("ttl", ttl);
    match scope.put(nudge, condition).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    app.ports
        .events
        .publish(vec![blast_event(scope.tenant(), &blast.id)])
        .await?;
    tracing::info!(job = BLAST_JOB, "stalled blast handed to the worker again");
    Ok(true)
}

/// Sends to one queued recipient; `false` when another run claimed it first. Until the mail
/// is sent, a failure leaves the recipient queued (or hands it back), so the re-delivered
/// event sends it; after, every failure leaves it `sending` with its link recorded, so the
/// re-run finishes it without sending again.
async fn send_one(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    blast: &Blast,
    r: Recipient,
    ttl: i64,
) -> Result<bool, InfraError> {
    let Some(registrant) = regs::get(scope, &r.registrant_id).await? else {
        let (from, to) = (RecipientState::Queued, RecipientState::Failed);
        let reason = "登録者が削除されています。";
        finish_one(scope, blast, &r, from, to, reason, ttl).await?;
        return Ok(true);
    };
    let (_, link) = prepare_link(app, scope, &registrant.id).await?;
    // The claim records the link it is about to mail.
    let claimed = Recipient {
        state: RecipientState::Sending,
        link: Some((link.token_hash.clone(), link.expires_at.unix_timestamp())),
        ..r.clone()
    };
    let claim = scope
        .put(
            recipient_item(scope, &blast.id, &claimed, ttl, app.now().unix_timestamp()),
            Condition::Equals("state".into(), Value::from("queued")),
        )
        .await;
    if let Err(e) = claim {
        discard(scope, &link).await?;
        return match e {
            StoreError::ConditionFailed => Ok(false),
            e => Err(e.into()),
        };
    }
    let mut mail = Mail::new(
        r.email.clone(),
        SUBJECT,
        compose(tenant, &r.name, &blast.options, &link.url, link.expires_at),
    );
    mail.reply_to = blast.options.reply_to.clone();
    let Err(e) = app.ports.mailer.send(&mail).await else {
        let recorded = (link.token_hash.clone(), link.expires_at.unix_timestamp());
        delivered(app, scope, blast, &claimed, recorded, ttl).await?;
        return Ok(true);
    };
    if matches!(e, MailError::Backend(_)) && r.attempts + 1 < MAX_ATTEMPTS {
        // A passing error: hand the recipient back for the re-delivered event.
        let back = Recipient {
            attempts: r.attempts + 1,
            ..r.clone()
        };
        let item = recipient_item(scope, &blast.id, &back, ttl, app.now().unix_timestamp());
        settle(
            scope
                .put(
                    item,
                    Condition::Equals("state".into(), Value::from("sending")),
                )
                .await,
        )?;
        discard(scope, &link).await?;
        // The server's error may quote the address: not passed on.
        return Err(MailError::Backend("collection mail not sent; handed back".into()).into());
    }
    let reason = match e {
        MailError::Rejected(why) => format!("宛先に送信できませんでした（{why}）。"),
        MailError::Backend(_) => {
            "メールサーバの一時的なエラーで送信できませんでした。再送信してください。".to_string()
        }
    };
    audit_recipient(app, scope, blast, &r, "送信失敗").await?;
    let (from, to) = (RecipientState::Sending, RecipientState::Failed);
    finish_one(scope, blast, &claimed, from, to, &reason, ttl).await?;
    discard(scope, &link).await?;
    Ok(true)
}

/// Finishes a recipient whose mail went out: the mailed link becomes theirs (voiding the
/// previous one), they leave the 送信リスト, the log says so (once), and last the recipient is
/// recorded sent and counted. Each step can run again after a failure.
async fn delivered(
    app: &App,
    scope: &TenantScope,
    blast: &Blast,
    r: &Recipient,
    (token_hash, expires_at): (String, i64),
    ttl: i64,
) -> Result<(), InfraError> {
    let link = IssuedLink {
        url: String::new(),
        token_hash,
        expires_at: OffsetDateTime::from_unix_timestamp(expires_at)
            .map_err(|_| InfraError::Corrupt("blast recipient"))?,
    };
    activate(app, scope, &r.registrant_id, &link).await?;
    scope
        .delete(
            &scope.key(&sk::send_list(&r.registrant_id)),
            Condition::None,
        )
        .await?;
    audit_recipient(app, scope, blast, r, "送信").await?;
    let (from, to) = (RecipientState::Sending, RecipientState::Sent);
    finish_one(scope, blast, r, from, to, "", ttl).await
}

/// One recipient's mail in the log, under the registrant, so their 対応記録 shows each
/// request; written once per blast and registrant however often a re-run gets here. Named
/// after whoever started the blast; the server's reason is left out (it may quote the
/// address).
async fn audit_recipient(
    app: &App,
    scope: &TenantScope,
    blast: &Blast,
    r: &Recipient,
    outcome: &str,
) -> Result<(), InfraError> {
    app.audit
        .record_once(
            AuditEvent {
                tenant_id: Some(scope.tenant().to_string()),
                actor_id: None,
                actor_name: Some(blast.created_by.clone()),
                action: "collection.mail_one".into(),
                target: Some(r.registrant_id.clone()),
                detail: format!("登録者「{}」へのマイナンバー収集メールの{outcome}", r.name),
                ip: None,
            },
            &format!("blast#{}#{}", blast.id, r.registrant_id),
        )
        .await?;
    Ok(())
}

/// A lost race (another run moved the recipient first) is not an error.
fn settle(result: Result<(), StoreError>) -> Result<(), InfraError> {
    match result {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Records a recipient's outcome (if it is still `from`) and counts it, in one transaction.
async fn finish_one(
    scope: &TenantScope,
    blast: &Blast,
    r: &Recipient,
    from: RecipientState,
    state: RecipientState,
    reason: &str,
    ttl: i64,
) -> Result<(), InfraError> {
    let done = Recipient {
        state,
        reason: reason.to_string(),
        link: None,
        // Passing errors before a send that went out are of no further interest.
        attempts: if state == RecipientState::Sent {
            0
        } else {
            r.attempts
        },
        ..r.clone()
    };
    let counter = if state == RecipientState::Sent {
        "sent"
    } else {
        "failed"
    };
    let ops = vec![
        WriteOp::Put {
            item: recipient_item(scope, &blast.id, &done, ttl, 0),
            condition: Condition::Equals("state".into(), Value::from(from.code())),
        },
        WriteOp::Add {
            key: scope.key(&sk::blast(&blast.id)),
            deltas: vec![(counter.to_string(), 1)],
            expires_at: Some(ttl),
        },
    ];
    settle(scope.transact(ops).await)
}

/// Marks the blast done (the caller saw nobody left to send to) and sends the copy, once:
/// only the run that marked it done sends the copy, and if that send fails the blast is
/// handed back (`running`) so the re-delivered event sends it.
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
            item.clone(),
            Condition::Equals("state".into(), Value::from("running")),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let Some(copy_to) = &blast.options.copy_to else {
        return Ok(());
    };
    let body = compose(
        tenant,
        "（対象者名）",
        &blast.options,
        "（登録用URLは対象者ごとに異なるため、控えには記載していません）",
        app.now() + LINK_VALIDITY,
    );
    let mail = Mail::new(copy_to.clone(), format!("[控え] {SUBJECT}"), body);
    if app.ports.mailer.send(&mail).await.is_err() {
        item.attrs.insert("state".into(), Value::from("running"));
        settle(
            scope
                .put(item, Condition::Equals("state".into(), Value::from("done")))
                .await,
        )?;
        // The error may name the address: not passed on.
        return Err(
            MailError::Backend("copy of a collection mail not sent; handed back".into()).into(),
        );
    }
    Ok(())
}
