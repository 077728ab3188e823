//! Lambda `myna-fn-purge`: the month-end cancellation purge, started daily by EventBridge
//! Scheduler. Wiring only; the job is `app::purge::run` (finishes interrupted purges, purges
//! every tenant whose 解約日 has ended, sweeps orphaned master keys). Its role alone may delete
//! from the audit table and schedule key deletion. A run with a failed tenant returns an error
//! so the failure is visible; the next day's run resumes it.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = myna::app::purge::run(app).await?;
        if !report.failed.is_empty() {
            return Err(lambda_runtime::Error::from(format!(
                "{} purge(s) failed; the next run resumes them",
                report.failed.len()
            )));
        }
        Ok::<Value, lambda_runtime::Error>(json!({
            "purged": report.purged.len(),
            "orphan_keys": report.orphan_keys,
        }))
    }))
    .await
}
