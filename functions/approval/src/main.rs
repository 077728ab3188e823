//! Lambda `myna-fn-approval`: 承認 (approval, send-back, the document-image viewer)
//! (`Function::Approval`). Wiring only: configuration from the environment, adapters built once
//! outside the handler.

use myna::web::functions::{function_router, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(function_router(app, Function::Approval)).await
}
