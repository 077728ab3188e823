//! The postal table for address autofill (郵便番号から住所自動入力): shards of Japan Post's data
//! (`<first 3 digits>.json` → `{"1500036": [["東京都", "渋谷区", "南平台町"]], …}`), made at build
//! time by `infra/postal.sh` and read from `Config::postal_dir` (a directory on the local
//! machine, a Lambda layer in AWS), never compiled into a binary. The edit page's script asks
//! for one shard per postal code typed; a missing table only means typing the address by hand.
//!
//! Not here: the conversion itself (`infra/postal.py`) and the form that uses it.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, WebError};

/// `GET /postal/{shard}`: one shard of the table, `shard` being exactly three ASCII digits.
pub(super) async fn shard(
    State(app): State<AppState>,
    Path(shard): Path<String>,
) -> Result<Response, WebError> {
    // Only the 1,000 names the converter writes: nothing else of the directory is reachable.
    if shard.len() != 3 || !shard.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    let Some(dir) = app.config.postal_dir.clone() else {
        return Err(WebError::NotFound);
    };
    let path = dir.join(format!("{shard}.json"));
    let read = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|_| WebError::Internal)?;
    match read {
        Ok(bytes) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json; charset=utf-8"),
                // Public data, the same for every tenant; it changes with a deployment only.
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response()),
        // A code no shard covers (or no table installed): the script leaves the fields alone.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(WebError::NotFound),
        Err(_) => Err(WebError::Internal),
    }
}

/// The edit page's script (autofill on seven digits or the button).
pub(super) async fn script() -> Response {
    super::script(include_str!("../../../templates/static/contractor.js"))
}
