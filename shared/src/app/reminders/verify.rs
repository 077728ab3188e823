//! Checking a reminder's mailed code: limited per client address and per ticket; a right
//! code opens the ticket for a new password or shows the お客様番号 once.
//! Not here: setting the password (`reset`).

use super::{
    code_digest, live_ticket, ticket_users, Kind, Opened, ReminderError, ATTEMPTS_PER_CODE,
    REMINDER_CODE_IP,
};
use crate::app::auth::audit_each;
use crate::app::keys::TenantScope;
use crate::app::{rate_limit, tenants, App, InfraError};
use crate::crypto;
use crate::ports::store::{Condition, StoreError};

/// Checks the mailed code. A right code for a password opens the ticket for one new password;
/// for お客様番号 it returns the numbers and the ticket is used up.
pub async fn verify_code(
    app: &App,
    token: &str,
    code: &str,
    ip: &str,
) -> Result<Opened, ReminderError> {
    let now = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    if rate_limit::is_blocked(store, &REMINDER_CODE_IP, ip, now)
        .await
        .map_err(InfraError::from)?
    {
        return Err(ReminderError::Locked);
    }
    let item = live_ticket(app, token)
        .await?
        .ok_or(ReminderError::Expired)?;
    let Some(expected) = item.str("code_hash").map(str::to_string) else {
        // Already opened: the code was used.
        return Err(ReminderError::Expired);
    };
    let kind = item
        .str("kind")
        .and_then(Kind::from_code)
        .ok_or(InfraError::Corrupt("reminder"))?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let given = code_digest(&item.key, &code);
    let listed = ticket_users(app, &item).await?;
    if !crypto::ct_eq(given.as_bytes(), expected.as_bytes()) {
        let locked = rate_limit::hit(store, &REMINDER_CODE_IP, ip, now)
            .await
            .map_err(InfraError::from)?;
        let attempts = store
            .add(&item.key, "attempts", 1, None)
            .await
            .map_err(InfraError::from)?;
        audit_each(
            app,
            &listed,
            "reminder.code_failed",
            "リマインダー: セキュリティコード誤り",
            ip,
        )
        .await?;
        if attempts >= ATTEMPTS_PER_CODE {
            store
                .delete(&item.key, Condition::None)
                .await
                .map_err(InfraError::from)?;
            return Err(ReminderError::TooManyAttempts);
        }
        return Err(if locked {
            ReminderError::Locked
        } else {
            ReminderError::Wrong
        });
    }
    match kind {
        Kind::CustomerNumber => {
            // Used up at once, and only once (a second request with the code finds nothing).
            match store
                .delete(
                    &item.key,
                    Condition::Equals("code_hash".into(), expected.into()),
                )
                .await
            {
                Ok(()) => {}
                Err(StoreError::ConditionFailed) => return Err(ReminderError::Expired),
                Err(e) => return Err(InfraError::from(e).into()),
            }
            let mut numbers = Vec::new();
            for u in &listed {
                let scope = TenantScope::new(u.tenant.clone(), app.ports.store.clone());
                if let Some(t) = tenants::load(&scope).await? {
                    numbers.push((t.company_name, t.customer_number));
                }
            }
            audit_each(
                app,
                &listed,
                "reminder.customer_number_shown",
                "リマインダー: お客様番号の表示",
                ip,
            )
            .await?;
            Ok(Opened::CustomerNumbers(numbers))
        }
        Kind::Password => {
            let mut opened = item.clone().with("opened", true);
            opened.attrs.remove("code_hash");
            match store
                .put(
                    opened,
                    Condition::Equals("code_hash".into(), expected.into()),
                )
                .await
            {
                Ok(()) => Ok(Opened::Password),
                Err(StoreError::ConditionFailed) => Err(ReminderError::Expired),
                Err(e) => Err(InfraError::from(e).into()),
            }
        }
    }
}
