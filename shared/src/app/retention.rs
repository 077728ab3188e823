//! Retention reminders (削除予定日到来, manual ch.12): a daily job (its own Lambda on an
//! EventBridge Scheduler schedule; in process in myna-local) that finds the registrants whose
//! 削除予定日 has come and mails every 最高権限 user of their company once per registrant and
//! date, and the count HOME shows with a link to the list filtered to them.
//!
//! Nothing is deleted here, ever: the manual says a 削除予定日 only reminds ("自動的に削除され
//! ません"); deletion is a person's decision with a reason (`app::disposal::deletion`).
//!
//! Idempotent and resumable: the tenants to look at are the global `RETENTION_TENANTS` list
//! (written before any 削除予定日 is stored); per registrant a `RETENTION#<id>#<date>` item says
//! the mail for that date went out. The mail goes through the worker with an event id derived
//! from what it reports, so a run interrupted between sending and marking mails nobody twice.
//! The mail holds a count and a link, never a name or a number.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::Date;

use super::keys::{retention_tenant, sk, TenantId, TenantScope, RETENTION_TENANTS};
use super::registrants::{self as regs, Registrant};
use super::{users, App, InfraError};
use crate::domain::role::Role;
use crate::ports::audit::AuditEvent;
use crate::ports::events::Event;
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, Item, Query, WriteOp};

/// What one run did (for the job's log line: counts only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub tenants: usize,
    /// Registrants newly reported (mail sent for them this run).
    pub reminded: usize,
    pub mails: usize,
}

/// Runs the job once for every listed tenant.
pub async fn run(app: &App) -> Result<Report, InfraError> {
    let today = regs::today(app.now());
    let mut report = Report::default();
    let mut cursor = None;
    loop {
        let page = app
            .ports
            .store
            .query(&Query::partition(RETENTION_TENANTS).after(cursor.take()))
            .await?;
        for item in &page.items {
            let Some(tenant) = item.key.sk.strip_prefix("T#").and_then(TenantId::parse) else {
                continue;
            };
            report.tenants += 1;
            let (reminded, mails) = run_tenant(app, &tenant, today).await?;
            report.reminded += reminded;
            report.mails += mails;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(
        tenants = report.tenants,
        reminded = report.reminded,
        mails = report.mails,
        "retention reminders done"
    );
    Ok(report)
}

/// One tenant: (registrants newly reported, mails sent).
async fn run_tenant(
    app: &App,
    tenant: &TenantId,
    today: Date,
) -> Result<(usize, usize), InfraError> {
    let scope = TenantScope::new(tenant.clone(), Arc::clone(&app.ports.store));
    if super::tenants::load(&scope).await?.is_none() {
        // Purged (or never finished): nothing to remind; forget it.
        app.ports
            .store
            .delete(&retention_tenant(tenant), Condition::None)
            .await?;
        return Ok((0, 0));
    }
    let (all, _) = regs::load_all(&scope, None).await?;
    let due: Vec<Registrant> = all
        .into_iter()
        .filter(|r| regs::is_due(r, Some(today)))
        .collect();
    let new = not_yet_mailed(&scope, due).await?;
    if new.is_empty() {
        return Ok((0, 0));
    }
    let owners: Vec<users::User> = users::list(&scope)
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Owner)
        .collect();
    let digest = batch_digest(tenant, &new);
    let events: Vec<Event> = owners
        .iter()
        .map(|u| {
            mail_event(
                &format!("retention-{digest}-{}", u.id),
                &mail(app, u, new.len()),
            )
        })
        .collect();
    if !events.is_empty() {
        app.ports
            .events
            .publish(events)
            .await
            .map_err(InfraError::from)?;
    }
    let marks: Vec<WriteOp> = new
        .iter()
        .filter_map(|r| {
            let date = r.delete_on?.to_string();
            Some(WriteOp::put(
                Item::new(scope.key(&sk::retention_mailed(&r.id, &date)))
                    .with("kind", "retention_mailed")
                    .with("at", app.now().unix_timestamp()),
            ))
        })
        .collect();
    for chunk in marks.chunks(25) {
        scope.batch_write(chunk.to_vec()).await?;
    }
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(tenant.to_string()),
            actor_id: None,
            actor_name: Some("システム（削除予定日の通知）".into()),
            action: "retention.reminded".into(),
            target: None,
            detail: format!(
                "削除予定日到来の通知メール: 登録者{}名、最高権限のユーザ{}名へ送信",
                new.len(),
                owners.len()
            ),
            ip: None,
        })
        .await?;
    Ok((new.len(), owners.len()))
}

/// The due registrants whose mail for their current 削除予定日 has not gone out.
async fn not_yet_mailed(
    scope: &TenantScope,
    due: Vec<Registrant>,
) -> Result<Vec<Registrant>, InfraError> {
    let mut out = Vec::new();
    for chunk in due.chunks(100) {
        let keys: Vec<_> = chunk
            .iter()
            .filter_map(|r| {
                let date = r.delete_on?.to_string();
                Some(scope.key(&sk::retention_mailed(&r.id, &date)))
            })
            .collect();
        let mailed: Vec<String> = scope
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(|i| i.key.sk)
            .collect();
        out.extend(
            chunk
                .iter()
                .filter(|r| {
                    let date = r.delete_on.map(|d| d.to_string()).unwrap_or_default();
                    !mailed.contains(&sk::retention_mailed(&r.id, &date))
                })
                .cloned(),
        );
    }
    Ok(out)
}

/// An id naming exactly what a mail reports (tenant, registrants, dates), so re-sending the
/// same report after a crash is recognised by the worker and skipped.
fn batch_digest(tenant: &TenantId, new: &[Registrant]) -> String {
    let mut ids: Vec<String> = new
        .iter()
        .map(|r| format!("{}@{:?}", r.id, r.delete_on))
        .collect();
    ids.sort();
    let mut h = Sha256::new();
    h.update(tenant.to_string());
    for id in ids {
        h.update(id);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mail_event(id: &str, mail: &Mail) -> Event {
    Event {
        kind: super::worker::MAIL_SEND.into(),
        detail: serde_json::json!({ "id": id, "mail": mail }),
    }
}

fn mail(app: &App, to: &users::User, count: usize) -> Mail {
    let link = format!("{}/registrants?due=1", app.config.base_url);
    Mail::new(
        to.email.clone(),
        "【マイナクラウド】マイナンバー削除予定日が到来しました",
        format!(
            "{} 様\n\nマイナンバー削除予定日が到来した登録者が新たに{count}名います。\n\
             マイナンバーは利用目的がなくなり次第、廃棄する必要があります。\n\
             内容をご確認のうえ、「マイナンバー管理」画面から削除（廃棄）してください。\n\
             削除予定日になっても自動的には削除されません。\n\n\
             削除予定日が到来した登録者の一覧（ログインが必要です）:\n{link}\n\n\
             このメールは最高権限のログインユーザにお送りしています。\n",
            to.display_name()
        ),
    )
}

/// HOME's 削除予定日到来: how many registrants' 削除予定日 has come. Reads the job's marks
/// (small: only registrants already reported) and checks each registrant is still due, so a
/// date moved later or a deleted registrant drops out at once; a date that came today shows
/// after the job's next run (daily, and at start-up locally).
pub async fn due_count(scope: &TenantScope, today: Date) -> Result<usize, InfraError> {
    let mut ids: Vec<String> = Vec::new();
    let mut cursor = None;
    loop {
        let page = scope
            .query(
                &Query::partition(scope.pk())
                    .prefix(sk::RETENTION_MAILED)
                    .after(cursor.take()),
            )
            .await?;
        ids.extend(page.items.iter().filter_map(|i| {
            let rest = i.key.sk.strip_prefix(sk::RETENTION_MAILED)?;
            Some(rest.split('#').next()?.to_string())
        }));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ids.sort();
    ids.dedup();
    Ok(regs::get_many(scope, &ids)
        .await?
        .iter()
        .filter(|r| regs::is_due(r, Some(today)))
        .count())
}
