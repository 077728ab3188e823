//! `Blobs` on local files, sealed like S3 SSE-KMS seals them: each object gets a fresh data
//! key generated under the tenant's master key (through the `Keys` port); the file holds the
//! wrapped key, then the AES-256-GCM sealed content type and bytes, bound to the tenant and
//! object name. Writes go to a temporary file renamed into place, so a failed write leaves the
//! previous object. Upload tickets write only under `UPLOAD_PREFIX`; `copy` re-seals an
//! object under its new name (the name is bound into the seal). An object's version is the
//! SHA-256 of its file: every write seals under a fresh data key, so it changes with each.
//!
//! File layout: `MYNB1` | u16 wrapped-key length | wrapped key | sealed(u16 type length | type | bytes)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::crypto;
use crate::domain::image::MAX_IMAGE_BYTES;
use crate::ports::blobs::{
    valid_name, BlobError, BlobInfo, BlobPrefix, BlobScope, Blobs, UploadTicket, UPLOAD_PREFIX,
};
use crate::ports::keys::{EncryptionContext, KeyError, Keys, WrappedKey};

const MAGIC: &[u8] = b"MYNB1";

pub struct FileBlobs {
    dir: PathBuf,
    keys: Arc<dyn Keys>,
    /// Origin the local server answers on; upload tickets point at `<origin>/uploads/<token>`.
    upload_origin: String,
    /// Signs upload tickets (kept in the data directory, mode 0600).
    signing_key: [u8; 32],
}

/// What an upload ticket allows, signed into its token.
#[derive(Serialize, Deserialize)]
struct Grant {
    t: String,
    mk: String,
    n: String,
    ct: String,
    exp: i64,
}

impl FileBlobs {
    pub fn open(dir: &Path, keys: Arc<dyn Keys>, upload_origin: &str) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let key_path = dir.join(".upload-signing.key");
        let signing_key = match std::fs::read(&key_path) {
            Ok(bytes) => bytes
                .try_into()
                .map_err(|_| BlobError::Backend("upload key size".into()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = crypto::random_bytes::<32>();
                super::keys::write_private(&key_path, &key).map_err(io)?;
                key
            }
            Err(e) => return Err(io(e)),
        };
        Ok(FileBlobs {
            dir: dir.to_path_buf(),
            keys,
            upload_origin: upload_origin.trim_end_matches('/').to_string(),
            signing_key,
        })
    }

    /// Stores the body of a browser upload made with a ticket from `presign_upload`, if the
    /// token is genuine and unexpired, the content type is the one signed, and the body is
    /// within 4 MB (what S3 enforces through the signature and the bucket policy).
    pub async fn accept_upload(
        &self,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), BlobError> {
        let (payload, mac) = token.split_once('.').ok_or(BlobError::InvalidName)?;
        let expected = crypto::hex(&crypto::hmac_sha256(&self.signing_key, payload.as_bytes()));
        if !crypto::ct_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err(BlobError::InvalidName);
        }
        let grant: Grant = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(BlobError::InvalidName)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if now > grant.exp
            || grant.ct != content_type
            || body.len() as u64 > MAX_IMAGE_BYTES
            || !grant.n.starts_with(UPLOAD_PREFIX)
        {
            return Err(BlobError::InvalidName);
        }
        let scope = BlobScope {
            tenant_id: grant.t,
            master_key: grant.mk,
        };
        self.put(&scope, &grant.n, body, &grant.ct).await
    }

    fn path(&self, scope: &BlobScope, name: &str) -> Result<PathBuf, BlobError> {
        if !valid_name(name) || !valid_name(&scope.tenant_id) || scope.tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        Ok(self.dir.join(&scope.tenant_id).join(name))
    }

    /// The object's bytes, content type and version (from one read of its file).
    async fn read_versioned(
        &self,
        scope: &BlobScope,
        name: &str,
    ) -> Result<Option<(Vec<u8>, String, String)>, BlobError> {
        let path = self.path(scope, name)?;
        let file = match std::fs::read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let version = crypto::sha256_hex(&file);
        let rest = file.strip_prefix(MAGIC).ok_or(BlobError::Unreadable)?;
        if rest.len() < 2 {
            return Err(BlobError::Unreadable);
        }
        let wrapped_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let rest = &rest[2..];
        if rest.len() < wrapped_len {
            return Err(BlobError::Unreadable);
        }
        let (wrapped, sealed) = rest.split_at(wrapped_len);
        let ctx = Self::context(scope, name);
        let plain_key = self
            .keys
            .decrypt_data_key(&scope.master_key, &WrappedKey(wrapped.to_vec()), &ctx)
            .await
            .map_err(key_error)?;
        let body = crypto::open(&plain_key.0, sealed, &ctx.canonical())
            .map_err(|_| BlobError::Unreadable)?;
        if body.len() < 2 {
            return Err(BlobError::Unreadable);
        }
        let type_len = u16::from_be_bytes([body[0], body[1]]) as usize;
        if body.len() < 2 + type_len {
            return Err(BlobError::Unreadable);
        }
        let content_type =
            String::from_utf8(body[2..2 + type_len].to_vec()).map_err(|_| BlobError::Unreadable)?;
        Ok(Some((body[2 + type_len..].to_vec(), content_type, version)))
    }

    fn context(scope: &BlobScope, name: &str) -> EncryptionContext {
        let mut ctx = EncryptionContext::tenant(&scope.tenant_id);
        ctx.0.insert("object".into(), name.into());
        ctx
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

fn key_error(e: KeyError) -> BlobError {
    match e {
        KeyError::NotFound | KeyError::Unwrap => BlobError::Unreadable,
        KeyError::Backend(m) => BlobError::Backend(m),
    }
}

impl FileBlobs {
    /// The directory of one tenant's objects.
    fn tenant_root(&self, tenant_id: &str) -> Result<std::path::PathBuf, BlobError> {
        if !valid_name(tenant_id) || tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        Ok(self.dir.join(tenant_id))
    }
}

/// Every file below `root` (none if it does not exist).
fn files_under(root: &std::path::Path) -> Result<Vec<std::path::PathBuf>, BlobError> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io)?;
            if entry.file_type().map_err(io)?.is_dir() {
                dirs.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

#[async_trait]
impl Blobs for FileBlobs {
    async fn put(
        &self,
        scope: &BlobScope,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        let path = self.path(scope, name)?;
        let ctx = Self::context(scope, name);
        let (plain_key, wrapped) = self
            .keys
            .generate_data_key(&scope.master_key, &ctx)
            .await
            .map_err(key_error)?;
        let type_len = u16::try_from(content_type.len()).map_err(|_| BlobError::InvalidName)?;
        let mut body = Vec::with_capacity(2 + content_type.len() + bytes.len());
        body.extend_from_slice(&type_len.to_be_bytes());
        body.extend_from_slice(content_type.as_bytes());
        body.extend_from_slice(&bytes);
        let sealed = crypto::seal(&plain_key.0, &body, &ctx.canonical());

        let wrapped_len =
            u16::try_from(wrapped.0.len()).map_err(|_| BlobError::Backend("key".into()))?;
        let mut file = Vec::with_capacity(MAGIC.len() + 2 + wrapped.0.len() + sealed.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&wrapped_len.to_be_bytes());
        file.extend_from_slice(&wrapped.0);
        file.extend_from_slice(&sealed);

        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", crypto::hex(&crypto::random_bytes::<6>())));
        std::fs::write(&tmp, &file).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    async fn get(
        &self,
        scope: &BlobScope,
        name: &str,
    ) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        Ok(self
            .read_versioned(scope, name)
            .await?
            .map(|(b, t, _)| (b, t)))
    }
    async fn head(&self, scope: &BlobScope, name: &str) -> Result<Option<BlobInfo>, BlobError> {
        Ok(self
            .get(scope, name)
            .await?
            .map(|(bytes, content_type)| BlobInfo {
                size: bytes.len() as u64,
                content_type,
            }))
    }

    async fn read_prefix(
        &self,
        scope: &BlobScope,
        name: &str,
        len: usize,
    ) -> Result<Option<BlobPrefix>, BlobError> {
        Ok(self
            .read_versioned(scope, name)
            .await?
            .map(|(mut bytes, _, version)| {
                let size = bytes.len() as u64;
                bytes.truncate(len);
                BlobPrefix {
                    bytes,
                    size,
                    version,
                }
            }))
    }

    async fn presign_upload(
        &self,
        scope: &BlobScope,
        name: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<UploadTicket, BlobError> {
        self.path(scope, name)?;
        if !name.starts_with(UPLOAD_PREFIX) {
            return Err(BlobError::InvalidName);
        }
        let grant = Grant {
            t: scope.tenant_id.clone(),
            mk: scope.master_key.clone(),
            n: name.to_string(),
            ct: content_type.to_string(),
            exp: (time::OffsetDateTime::now_utc() + expires_in).unix_timestamp(),
        };
        let payload = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&grant).map_err(|e| BlobError::Backend(e.to_string()))?);
        let mac = crypto::hex(&crypto::hmac_sha256(&self.signing_key, payload.as_bytes()));
        Ok(UploadTicket {
            url: format!("{}/uploads/{payload}.{mac}", self.upload_origin),
            method: "PUT".into(),
            headers: vec![("content-type".into(), content_type.to_string())],
        })
    }

    async fn copy(
        &self,
        scope: &BlobScope,
        from: &str,
        to: &str,
        version: &str,
    ) -> Result<bool, BlobError> {
        self.path(scope, to)?;
        // One read of the source file, checked against the version the caller saw: an upload
        // renamed over it since is not copied.
        let Some((bytes, content_type, _)) = self
            .read_versioned(scope, from)
            .await?
            .filter(|(_, _, v)| v == version)
        else {
            return Ok(false);
        };
        self.put(scope, to, bytes, &content_type).await?;
        Ok(true)
    }

    async fn delete_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        let root = self.tenant_root(tenant_id)?;
        let files = files_under(&root)?;
        for file in &files {
            std::fs::remove_file(file).map_err(io)?;
        }
        match std::fs::remove_dir_all(&root) {
            Ok(()) => Ok(files.len() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(files.len() as u64),
            Err(e) => Err(io(e)),
        }
    }

    async fn count_tenant(&self, tenant_id: &str) -> Result<u64, BlobError> {
        Ok(files_under(&self.tenant_root(tenant_id)?)?.len() as u64)
    }

    async fn delete(&self, scope: &BlobScope, name: &str) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(scope, name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}
