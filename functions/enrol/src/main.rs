//! Lambda `myna-fn-enrol`: the registrant's own phone pages under `/r/` (`web::enrol`).
//! Wiring only: configuration from the environment, adapters built once outside the handler.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(myna::web::group(app, myna::web::enrol::router())).await
}
