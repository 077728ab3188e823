//! Lambda `myna-fn-retention-reminders`: the daily retention reminder (削除予定日到来), started
//! by EventBridge Scheduler. Wiring only; the job is `app::retention::run` (mails 最高権限 once
//! per registrant whose 削除予定日 has come; never deletes anything). A failed run returns an
//! error so it shows; the next run picks up where it stopped (the job is idempotent).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = myna::app::retention::run(app).await?;
        Ok::<Value, lambda_runtime::Error>(json!({
            "tenants": report.tenants,
            "reminded": report.reminded,
            "mails": report.mails,
        }))
    }))
    .await
}
