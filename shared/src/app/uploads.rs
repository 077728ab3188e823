//! Browser uploads of document images: hand out a signed upload ticket for a name in the
//! upload area (`UPLOAD_PREFIX`), then copy what arrived out of it and verify the copy (size
//! <= 4 MB, JPEG/PNG/GIF by magic bytes), deleting what fails, so storage never keeps an
//! unchecked file. A ticket can be used again until it expires; since no ticket can write the
//! copy, a replayed upload never reaches a verified image. Written once on the `Blobs` port
//! for S3 and local files.

use time::Duration;

use crate::domain::image::{self, ImageError, ImageKind, SNIFF_BYTES};
use crate::ports::blobs::{BlobError, BlobScope, Blobs, UploadTicket, UPLOAD_PREFIX};

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

/// Takes the upload `upload` (a name under `UPLOAD_PREFIX`) as the object `verified`: copies it
/// there, removes the upload and checks the copy (deleting it if it is not an acceptable
/// image). Checking the copy, not the upload, is what makes a write through the ticket racing
/// this call harmless: only what was copied is checked and kept. An upload is accepted once:
/// if `verified` exists already, whatever now sits at `upload` came through a replayed
/// ticket, and it is deleted unread.
pub async fn accept(
    blobs: &dyn Blobs,
    scope: &BlobScope,
    upload: &str,
    verified: &str,
) -> Result<ImageKind, UploadError> {
    if !upload.starts_with(UPLOAD_PREFIX) || verified.starts_with(UPLOAD_PREFIX) {
        return Err(BlobError::InvalidName.into());
    }
    if blobs.head(scope, verified).await?.is_some() {
        blobs.delete(scope, upload).await?;
        return Err(ImageError::Missing.into());
    }
    if !blobs.copy(scope, upload, verified).await? {
        return Err(ImageError::Missing.into());
    }
    blobs.delete(scope, upload).await?;
    verify(blobs, scope, verified).await
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
