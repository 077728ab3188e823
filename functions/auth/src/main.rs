//! Lambda `myna-fn-auth`: sign-up, login with the second factor, logout, the stylesheet and
//! the 404 page (`web::auth`). Wiring only: configuration from the environment, adapters built
//! once outside the handler, the group's router handed to `lambda_http::run`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(myna::web::group(app, myna::web::auth::router())).await
}
