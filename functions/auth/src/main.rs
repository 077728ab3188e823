//! Lambda `myna-fn-auth`: sign-up, login with the second factor, logout, リマインダー, the stylesheet and
//! the 404 page (`web::auth`). Wiring only: configuration from the environment, adapters built
//! once outside the handler, the group's router handed to `lambda_http::run`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    // リマインダー (ログインできない場合) is declared with its access in `web::reminders`.
    let reminders = myna::web::reminders::routes().into_router(&app);
    lambda_http::run(myna::web::group(
        app,
        myna::web::auth::router().merge(reminders),
    ))
    .await
}
