//! Refusal evidence (拒否の記録): every entry of the operation log about one registrant
//! (collection mails and QR codes, reminders, their own phone steps, edits, approvals,
//! send-backs, refusals), oldest first, for a printable page or a CSV to show that the
//! company asked and the person declined.
//!
//! It reads the whole log of the tenant (entries name the registrant as their target), so it
//! costs one pass over the log; the page is opened rarely and by hand.

use super::log::Row;
use crate::app::keys::TenantScope;
use crate::app::registrants::Registrant;
use crate::app::{App, InfraError};

/// Every entry about `registrant`, oldest first.
pub async fn of(
    app: &App,
    scope: &TenantScope,
    registrant: &Registrant,
) -> Result<Vec<Row>, InfraError> {
    let mut entries = Vec::new();
    app.audit
        .walk_back(scope.tenant(), None, 500, |e| {
            if e.target.as_deref() == Some(registrant.id.as_str()) {
                entries.push(e);
            }
            true
        })
        .await?;
    entries.reverse();
    let subject = super::log::subject_label(registrant);
    Ok(entries
        .into_iter()
        .map(|entry| Row {
            entry,
            subject: subject.clone(),
        })
        .collect())
}
