//! Lambda `myna-fn-registrants`: マイナンバー管理, registrants and groups (`web::registrants`).
//! Wiring only: configuration from the environment, adapters built once outside the handler.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(myna::web::group(app, myna::web::registrants::router())).await
}
