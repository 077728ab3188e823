//! Browser uploads of document images: hand out a signed upload ticket for a name in the
//! upload area (`UPLOAD_PREFIX`), then check what arrived (size <= 4 MB, JPEG/PNG/GIF by magic
//! bytes) and copy that very version out of it, deleting the upload either way, so storage
//! never keeps an unchecked file outside the upload area. A ticket can be used again until it
//! expires; since no ticket can write the copy, a replayed upload never reaches a verified
//! image. Written once on the `Blobs` port for S3 and local files; reads only the upload area.

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

/// Takes the upload `upload` (a name under `UPLOAD_PREFIX`) as the object `verified`: reads
/// the upload's first bytes, checks them (size <= 4 MB, JPEG/PNG/GIF), then copies exactly the
/// version checked (a write through the ticket in between makes the copy fail, and the upload
/// is refused as missing) and removes the upload. A refused upload is deleted. Only the upload
/// area is read, so the caller needs no right to read verified images. Whether `verified` was
/// accepted before is the caller's to know (the record pointing at it), not storage's.
pub async fn accept(
    blobs: &dyn Blobs,
    scope: &BlobScope,
    upload: &str,
    verified: &str,
) -> Result<ImageKind, UploadError> {
    if !upload.starts_with(UPLOAD_PREFIX) || verified.starts_with(UPLOAD_PREFIX) {
        return Err(BlobError::InvalidName.into());
    }
    let Some(prefix) = blobs.read_prefix(scope, upload, SNIFF_BYTES).await? else {
        return Err(ImageError::Missing.into());
    };
    let checked = image::check(prefix.size, &prefix.bytes);
    let copied = match checked {
        Ok(_) => blobs.copy(scope, upload, verified, &prefix.version).await?,
        Err(_) => false,
    };
    blobs.delete(scope, upload).await?;
    match checked {
        Ok(_) if !copied => Err(ImageError::Missing.into()),
        other => Ok(other?),
    }
}
