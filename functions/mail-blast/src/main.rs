//! Lambda `myna-fn-mail-blast`: every mail, delivered by EventBridge (source `myna`, the job
//! kinds of `Job::MailBlast` as detail-type). Wiring only; the jobs are `app::worker`. A failed
//! job returns an error so EventBridge retries it and finally parks it in the dead-letter queue.

use lambda_runtime::{service_fn, LambdaEvent};
use myna::app::worker::Job;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Job::MailBlast
            .handle_delivery(app, &event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
