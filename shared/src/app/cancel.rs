//! 解約申請 (manual ch.15, FAQ): a 最高権限 user asks to end the contract. The 解約日 is the
//! last day of the month of the request (Japan time); the company keeps working until then and
//! may withdraw the request (解約の取り消し) until that day ends. From the next day the
//! month-end purge (`app::purge`) deletes everything.
//!
//! The request is two items written together: `CANCELLATION` in the tenant's partition (what
//! HOME and the page show) and a global `CANCELLATIONS` entry keyed by the due date (the purge
//! job's work list, read without touching any tenant's data). The purge claims a tenant by
//! deleting that entry, so a withdrawal racing the purge either wins or finds nothing to undo.
//!
//! Not here: the export before cancelling (the ordinary CSV download, `app::csv_io`) and the
//! purge itself.

use time::{Date, OffsetDateTime};

use super::actor::Actor;
use super::audit::record_by;
use super::keys::{self as k, sk, TenantScope};
use super::{App, InfraError};
use crate::domain::date::format_slash;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

/// A pending cancellation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    /// 解約日: the last day the company may use the service (Japan time).
    pub due: Date,
    pub requested_at: OffsetDateTime,
    /// The 最高権限 user who asked (display name).
    pub requested_by: String,
}

impl Cancellation {
    pub fn due_label(&self) -> String {
        format_slash(self.due)
    }

    pub fn requested_label(&self) -> String {
        format_slash(japan_date(self.requested_at))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("すでに解約申請を受け付けています。")]
    AlreadyRequested,
    #[error("解約申請はありません。")]
    NotRequested,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The date in Japan at `at`.
pub fn japan_date(at: OffsetDateTime) -> Date {
    at.to_offset(time::macros::offset!(+9)).date()
}

/// The 解約日 of a request made at `at`: the last day of that month in Japan.
pub fn due_date(at: OffsetDateTime) -> Date {
    let today = japan_date(at);
    let last = today.month().length(today.year());
    today.replace_day(last).unwrap_or(today)
}

/// Whether a cancellation due on `due` is to be purged at `now` (its day has ended in Japan).
pub fn is_due(due: Date, now: OffsetDateTime) -> bool {
    japan_date(now) > due
}

fn to_item(scope: &TenantScope, c: &Cancellation) -> Item {
    Item::new(scope.key(sk::CANCELLATION))
        .with("due", c.due.to_string())
        .with("requested_at", c.requested_at.unix_timestamp())
        .with("requested_by", c.requested_by.as_str())
}

fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

fn from_item(item: &Item) -> Option<Cancellation> {
    Some(Cancellation {
        due: parse_date(item.str("due")?)?,
        requested_at: OffsetDateTime::from_unix_timestamp(item.i64("requested_at")?).ok()?,
        requested_by: item.str("requested_by")?.to_string(),
    })
}

/// The tenant's pending cancellation, if any.
pub async fn pending(scope: &TenantScope) -> Result<Option<Cancellation>, InfraError> {
    match scope.get(&scope.key(sk::CANCELLATION)).await? {
        None => Ok(None),
        Some(item) => from_item(&item)
            .map(Some)
            .ok_or(InfraError::Corrupt("cancellation")),
    }
}

/// 解約申請: records the request due at the end of this month and audits it.
pub async fn request(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
) -> Result<Cancellation, CancelError> {
    let now = app.now();
    let cancellation = Cancellation {
        due: due_date(now),
        requested_at: now,
        requested_by: actor.name.clone(),
    };
    let own = vec![WriteOp::put_new(to_item(scope, &cancellation))];
    scope.check_ops(&own).map_err(InfraError::from)?;
    let mut ops = own;
    ops.push(WriteOp::put_new(
        Item::new(k::cancellation_due(
            &cancellation.due.to_string(),
            scope.tenant(),
        ))
        .with("tenant", scope.tenant().as_str()),
    ));
    match app.ports.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(CancelError::AlreadyRequested),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    record_by(
        app,
        scope,
        actor,
        "contract.cancel",
        None,
        format!("解約申請（解約日 {}）", cancellation.due_label()),
    )
    .await?;
    tracing::info!(tenant = %scope.tenant(), due = %cancellation.due, "cancellation requested");
    Ok(cancellation)
}

/// 解約の取り消し: removes the pending request (until its 解約日 has ended) and audits it.
pub async fn withdraw(app: &App, scope: &TenantScope, actor: &Actor) -> Result<(), CancelError> {
    let Some(cancellation) = pending(scope).await? else {
        return Err(CancelError::NotRequested);
    };
    if is_due(cancellation.due, app.now()) {
        // The purge has (or is about to have) started: nothing can be undone any more.
        return Err(CancelError::NotRequested);
    }
    let own = vec![WriteOp::Delete {
        key: scope.key(sk::CANCELLATION),
        condition: Condition::Exists,
    }];
    scope.check_ops(&own).map_err(InfraError::from)?;
    let mut ops = own;
    // The purge claims a tenant by deleting this entry: if it is gone, the purge won.
    ops.push(WriteOp::Delete {
        key: k::cancellation_due(&cancellation.due.to_string(), scope.tenant()),
        condition: Condition::Exists,
    });
    match app.ports.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(CancelError::NotRequested),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    record_by(
        app,
        scope,
        actor,
        "contract.cancel_withdraw",
        None,
        format!("解約の取り消し（解約日 {}）", cancellation.due_label()),
    )
    .await?;
    tracing::info!(tenant = %scope.tenant(), "cancellation withdrawn");
    Ok(())
}

/// A tenant on the purge job's work list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueEntry {
    pub tenant: k::TenantId,
    pub due: Date,
}

/// Tenants whose 解約日 has ended at `now`, oldest first.
pub async fn due_tenants(app: &App, now: OffsetDateTime) -> Result<Vec<DueEntry>, InfraError> {
    let items = crate::ports::store::read_all(app.ports.store.as_ref(), k::CANCELLATIONS).await?;
    let mut out = Vec::new();
    // Sorted by date: the first entry not yet due ends the list.
    for item in &items {
        let Some((due, tenant)) = item.key.sk.split_once('#') else {
            continue;
        };
        let (Some(due), Some(tenant)) = (parse_date(due), k::TenantId::parse(tenant)) else {
            continue;
        };
        if !is_due(due, now) {
            break;
        }
        out.push(DueEntry { tenant, due });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn due_date_is_the_last_day_of_the_month_in_japan() {
        let cases = [
            (datetime!(2026-11-15 03:00 UTC), "2026-11-30"),
            // 2026-11-30 20:00 UTC is already 12/1 in Japan.
            (datetime!(2026-11-30 20:00 UTC), "2026-12-31"),
            (datetime!(2028-02-03 00:00 UTC), "2028-02-29"),
            (datetime!(2027-02-28 14:59 UTC), "2027-02-28"),
            (datetime!(2026-12-31 15:00 UTC), "2027-01-31"),
        ];
        for (at, want) in cases {
            assert_eq!(due_date(at).to_string(), want, "{at}");
        }
    }

    #[test]
    fn is_due_only_once_the_due_day_has_ended_in_japan() {
        let due = time::macros::date!(2026 - 11 - 30);
        assert!(!is_due(due, datetime!(2026-11-30 14:59 UTC)));
        assert!(is_due(due, datetime!(2026-11-30 15:00 UTC)));
        assert!(!is_due(due, datetime!(2026-11-01 00:00 UTC)));
    }
}
