//! The worker's side of a blast: each queued recipient claimed, mailed and recorded once, and
//! the blast completed when none is left.

use serde_json::Value;
use time::OffsetDateTime;

use super::blast::{load_blast, recipient_item, Blast, MailOptions, Recipient, RecipientState};
use super::links::{activate, discard, prepare_link};
use super::{BLAST_JOB, BLAST_KEPT, LINK_VALIDITY, STALE_SENDING, SUBJECT};
use crate::app::keys::{sk, TenantId, TenantScope};
use crate::app::registrants::{self as regs};
use crate::app::tenants::{self, Tenant};
use crate::app::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::mailer::{Mail, MailError};
use crate::ports::store::{Condition, StoreError, WriteOp};

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
            audit_recipient(app, scope, blast, &registrant, "送信").await?;
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
            audit_recipient(app, scope, blast, &registrant, "送信失敗").await?;
            Ok(true)
        }
    }
}

/// One recipient's mail in the log, under the registrant, so their 対応記録 shows each
/// request. Named after whoever started the blast; the server's reason is left out (it may
/// quote the address).
async fn audit_recipient(
    app: &App,
    scope: &TenantScope,
    blast: &Blast,
    registrant: &regs::Registrant,
    outcome: &str,
) -> Result<(), InfraError> {
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: None,
            actor_name: Some(blast.created_by.clone()),
            action: "collection.mail_one".into(),
            target: Some(registrant.id.clone()),
            detail: format!(
                "登録者「{}」へのマイナンバー収集メールの{outcome}",
                registrant.name()
            ),
            ip: None,
        })
        .await?;
    Ok(())
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
