//! Lambda `myna-fn-login`: sign-up, password login, reminders, logout, the top page, static
//! files and the 404 page (`Function::Login`). Wiring only: configuration from the environment,
//! adapters built once outside the handler, the function's routes handed to `lambda_http::run`.

use myna::web::functions::{function_router, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = myna::adapters::aws::bootstrap().await?;
    lambda_http::run(function_router(app, Function::Login)).await
}
