//! Browser uploads of document images: hand out a signed upload ticket, then verify what
//! arrived (size <= 4 MB, JPEG/PNG/GIF by magic bytes) and delete it if it fails, so storage
//! never keeps an unchecked file. Written once on the `Blobs` port for S3 and local files.

use time::Duration;

use crate::domain::image::{self, ImageError, ImageKind, SNIFF_BYTES};
use crate::ports::blobs::{BlobError, BlobScope, Blobs, UploadTicket};

/// How long an upload ticket is valid.
pub const TICKET_LIFETIME: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Rejected(#[from] ImageError),
    #[error(transparent)]
    Storage(#[from] BlobError),
}

/// A ticket to upload `name` as `content_type` (which must be an accepted image type).
pub async fn ticket(
    blobs: &dyn Blobs,
    scope: &BlobScope,
    name: &str,
    content_type: &str,
) -> Result<UploadTicket, UploadError> {
    ImageKind::from_content_type(content_type).ok_or(ImageError::NotAnImage)?;
    Ok(blobs
        .presign_upload(scope, name, content_type, TICKET_LIFETIME)
        .await?)
}

/// Checks an uploaded object; deletes it and says why if it is not an acceptable image.
pub async fn verify(
    blobs: &dyn Blobs,
    scope: &BlobScope,
    name: &str,
) -> Result<ImageKind, UploadError> {
    let Some(info) = blobs.head(scope, name).await? else {
        return Err(ImageError::Missing.into());
    };
    let head = if info.size > image::MAX_IMAGE_BYTES {
        Vec::new()
    } else {
        blobs
            .read_prefix(scope, name, SNIFF_BYTES)
            .await?
            .unwrap_or_default()
    };
    match image::check(info.size, &head) {
        Ok(kind) => Ok(kind),
        Err(reason) => {
            blobs.delete(scope, name).await?;
            Err(reason.into())
        }
    }
}
