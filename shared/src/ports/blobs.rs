//! The `Blobs` port: document images (番号確認・身元確認) and other files, per tenant.
//!
//! Every object is stored encrypted under the tenant's own master key (S3 SSE-KMS with the
//! tenant's KMS key; sealed files in embedded mode), so destroying that key voids every copy.
//! Object names are relative to the tenant; the adapter prefixes the tenant id itself, so no
//! caller can reach another tenant's objects.
//!
//! Browser uploads write only names under [`UPLOAD_PREFIX`]; a record only ever points at a
//! name outside it, copied there after verification (`app::uploads::accept`). A ticket stays
//! valid for its whole lifetime, so this split is what keeps a replayed ticket from reaching
//! a verified image. Accepting an upload reads only the upload area ([`Blobs::read_prefix`] on
//! it, then a [`Blobs::copy`] bound to the version read): the functions that accept uploads
//! may read incoming objects only, never a verified image.

use async_trait::async_trait;
use time::Duration;

/// Whose objects, and the master key that protects them.
#[derive(Clone, Debug)]
pub struct BlobScope {
    pub tenant_id: String,
    pub master_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid object name")]
    InvalidName,
    #[error("object cannot be decrypted (key destroyed or data altered)")]
    Unreadable,
    #[error("blob backend error: {0}")]
    Backend(String),
}

/// Size and type of a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub size: u64,
    pub content_type: String,
}

/// The first bytes of an object, with its whole size and the version they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobPrefix {
    pub bytes: Vec<u8>,
    pub size: u64,
    /// Opaque; changes whenever the object is written again (the S3 ETag).
    pub version: String,
}

/// A short-lived permission for a browser to upload one object straight to storage: send
/// `method` to `url` with exactly `headers` (they are bound into the signature) and the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadTicket {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
}

/// The only names an upload ticket can be issued for.
pub const UPLOAD_PREFIX: &str = "incoming/";

/// Object names: ASCII letters, digits, `-`, `_`, `.` and `/`, no `..`, no leading `/`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && !name.starts_with('/')
        && !name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

#[async_trait]
pub trait Blobs: Send + Sync {
    /// Stores `bytes` under `name`, replacing any previous object only once fully written.
    async fn put(
        &self,
        scope: &BlobScope,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError>;

    /// The object's bytes and content type, or `None` if absent.
    async fn get(
        &self,
        scope: &BlobScope,
        name: &str,
    ) -> Result<Option<(Vec<u8>, String)>, BlobError>;

    /// Copies the object `from` to `to` inside the scope (server-side, sealed under the scope's
    /// master key), replacing `to` only once fully written. What is copied is exactly the
    /// `version` of `from` a [`Blobs::read_prefix`] saw (a versioned store copies that
    /// version), or nothing: `Ok(false)` if `from` is absent or that version is no longer to
    /// be had. A write to `from` after it was read never reaches `to`. Reads only `from`.
    async fn copy(
        &self,
        scope: &BlobScope,
        from: &str,
        to: &str,
        version: &str,
    ) -> Result<bool, BlobError>;

    /// Deletes the object and any earlier version a versioned store keeps of it (no copy of a
    /// deleted image stays behind); deleting a missing object succeeds.
    async fn delete(&self, scope: &BlobScope, name: &str) -> Result<(), BlobError>;

    /// Deletes every object of the tenant (the month-end purge only) and returns how many
    /// there were. Re-running after a failure deletes what is left and counts only that.
    async fn delete_tenant(&self, tenant_id: &str) -> Result<u64, BlobError>;

    /// How many objects the tenant has (earlier versions not counted), without changing
    /// anything: the purge counts before it deletes, so the count it certifies survives a
    /// failure in between.
    async fn count_tenant(&self, tenant_id: &str) -> Result<u64, BlobError>;

    /// Size and content type of the object, or `None` if absent.
    async fn head(&self, scope: &BlobScope, name: &str) -> Result<Option<BlobInfo>, BlobError>;

    /// The first `len` bytes of the object (fewer if it is shorter), its size and version, or
    /// `None` if absent. One read of one version (a ranged GET on S3).
    async fn read_prefix(
        &self,
        scope: &BlobScope,
        name: &str,
        len: usize,
    ) -> Result<Option<BlobPrefix>, BlobError>;

    /// A ticket letting a browser PUT the object directly, encrypted under the scope's master
    /// key, with `content_type`, for `expires_in`. Only for names under [`UPLOAD_PREFIX`]
    /// (`InvalidName` otherwise). Nothing is checked at upload time, and the ticket can be used
    /// again until it expires: callers verify the upload and copy that very version out of the
    /// upload area (`app::uploads::accept`).
    async fn presign_upload(
        &self,
        scope: &BlobScope,
        name: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<UploadTicket, BlobError>;
}
