//! The `import.commit` job: after the 登録 POST starts an import, the `import-commit` function
//! runs it to the end (commit, flip, tidy, or the roll-back of a failed or stopped one). Not the
//! steps themselves (`run`), nor the status page, which only shows progress and continues an
//! import itself only when it has [`stalled`] (a lost event).
//!
//! Re-delivery is harmless without an event-id claim: every step is conditional on the
//! import's recorded progress, so a second event continues where the first stopped, or finds
//! the import settled and does nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use super::run::settled;
use super::{load, run, Budget, Import};
use crate::app::keys::{TenantId, TenantScope};
use crate::app::tenants;
use crate::app::{App, InfraError};
use crate::ports::events::Event;

/// The event kind (EventBridge detail-type); detail: `{tenant, import}`.
pub const COMMIT_JOB: &str = "import.commit";

/// How long one job invocation keeps going before handing the rest to a fresh event (well
/// inside the function's timeout in `template.yaml`).
const JOB_BUDGET: Duration = Duration::from_secs(600);

/// How long an unsettled import may stand still before the status page continues it itself.
const STALL_SECONDS: i64 = 20;

/// The event that makes the job function run import `id`.
pub fn commit_event(tenant: &TenantId, id: &str) -> Event {
    Event {
        kind: COMMIT_JOB.into(),
        detail: json!({ "tenant": tenant.as_str(), "import": id }),
    }
}

/// Whether `import` still has work to do but has not moved for [`STALL_SECONDS`] at `now`.
pub fn stalled(import: &Import, now: i64) -> bool {
    !settled(import) && now - import.changed_at >= STALL_SECONDS
}

/// Runs import `id` of `tenant` as far as [`JOB_BUDGET`] allows; if that was not enough,
/// publishes the event again so a fresh invocation carries on.
pub async fn run_job(app: &App, tenant_id: &TenantId, id: &str) -> Result<(), InfraError> {
    let scope = TenantScope::new(tenant_id.clone(), app.ports.store.clone());
    let Some(tenant) = tenants::load(&scope).await? else {
        tracing::warn!(job = COMMIT_JOB, "tenant not found; skipped");
        return Ok(());
    };
    if load(&scope, id).await?.is_none() {
        tracing::warn!(job = COMMIT_JOB, "import not found; skipped");
        return Ok(());
    }
    let budget = Budget {
        steps: None,
        until: Some(Instant::now() + JOB_BUDGET),
    };
    let import = run(app, &scope, &tenant, id, budget).await?;
    if !settled(&import) {
        app.ports
            .events
            .publish(vec![commit_event(tenant_id, id)])
            .await?;
    }
    Ok(())
}
