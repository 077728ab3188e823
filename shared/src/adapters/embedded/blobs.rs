//! `Blobs` on local files, sealed like S3 SSE-KMS seals them: each object gets a fresh data
//! key generated under the tenant's master key (through the `Keys` port); the file holds the
//! wrapped key, then the AES-256-GCM sealed content type and bytes, bound to the tenant and
//! object name. Writes go to a temporary file renamed into place, so a failed write leaves the
//! previous object.
//!
//! File layout: `MYNB1` | u16 wrapped-key length | wrapped key | sealed(u16 type length | type | bytes)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::crypto;
use crate::ports::blobs::{valid_name, BlobError, BlobScope, Blobs};
use crate::ports::keys::{EncryptionContext, KeyError, Keys, WrappedKey};

const MAGIC: &[u8] = b"MYNB1";

pub struct FileBlobs {
    dir: PathBuf,
    keys: Arc<dyn Keys>,
}

impl FileBlobs {
    pub fn open(dir: &Path, keys: Arc<dyn Keys>) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        Ok(FileBlobs {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    fn path(&self, scope: &BlobScope, name: &str) -> Result<PathBuf, BlobError> {
        if !valid_name(name) || !valid_name(&scope.tenant_id) || scope.tenant_id.contains('/') {
            return Err(BlobError::InvalidName);
        }
        Ok(self.dir.join(&scope.tenant_id).join(name))
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
        let path = self.path(scope, name)?;
        let file = match std::fs::read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
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
        Ok(Some((body[2 + type_len..].to_vec(), content_type)))
    }

    async fn delete(&self, scope: &BlobScope, name: &str) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(scope, name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}
