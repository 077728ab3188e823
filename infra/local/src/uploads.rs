//! `PUT /uploads/<token>`: the local stand-in for S3 pre-signed uploads. The token is the
//! ticket `FileBlobs::presign_upload` signed; the body is stored sealed if the ticket is
//! genuine, unexpired and for this content type. Like a pre-signed URL, it needs no session.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::put;
use axum::Router;
use myna::adapters::embedded::FileBlobs;
use myna::domain::image::MAX_IMAGE_BYTES;

pub fn router(files: Arc<FileBlobs>) -> Router {
    Router::new()
        .route(
            "/uploads/{token}",
            put(
                move |Path(token): Path<String>, headers: HeaderMap, body: Bytes| {
                    let files = files.clone();
                    async move {
                        let ct = headers
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        match files.accept_upload(&token, ct, body.to_vec()).await {
                            Ok(()) => StatusCode::OK,
                            Err(_) => StatusCode::FORBIDDEN,
                        }
                    }
                },
            ),
        )
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES as usize + 1))
}
