//! Lambda `myna-fn-home`: HOME and the places of capabilities still to come (`web::home`).
//! Wiring only: configuration from the environment, adapters built once outside the handler.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(myna::web::group(app, myna::web::home::router())).await
}
