//! `Keys` on local files: one 256-bit master key per tenant in `<data>/keys/<id>.key`
//! (mode 0600). Data keys are wrapped with AES-256-GCM under the master key, the encryption
//! context as associated data. Destroying a key overwrites and removes its file.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::crypto;
use crate::ports::keys::{DataKey, EncryptionContext, KeyError, Keys, MasterKeyInfo, WrappedKey};

const WRAP_AAD: &[u8] = b"myna-data-key-v1\n";

pub struct FileKeys {
    dir: PathBuf,
}

impl FileKeys {
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        restrict_dir(dir)?;
        Ok(FileKeys {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, id: &str) -> Result<PathBuf, KeyError> {
        let ok = !id.is_empty()
            && id.len() <= 100
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(KeyError::NotFound);
        }
        Ok(self.dir.join(format!("{id}.key")))
    }

    fn load(&self, id: &str) -> Result<[u8; 32], KeyError> {
        let bytes = std::fs::read(self.path(id)?).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => KeyError::NotFound,
            _ => io(e),
        })?;
        bytes
            .try_into()
            .map_err(|_| KeyError::Backend("master key file has a wrong size".into()))
    }

    fn aad(context: &EncryptionContext) -> Vec<u8> {
        let mut aad = WRAP_AAD.to_vec();
        aad.extend_from_slice(&context.canonical());
        aad
    }
}

fn io(e: std::io::Error) -> KeyError {
    KeyError::Backend(e.to_string())
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

#[cfg(not(unix))]
fn restrict_dir(_: &Path) -> Result<(), KeyError> {
    Ok(())
}

pub(super) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[async_trait]
impl Keys for FileKeys {
    async fn create_master_key(&self, tenant_id: &str) -> Result<String, KeyError> {
        let safe: String = tenant_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(40)
            .collect();
        let id = format!("{safe}-{}", crypto::hex(&crypto::random_bytes::<8>()));
        let key = crypto::random_bytes::<32>();
        write_private(&self.path(&id)?, &key).map_err(io)?;
        Ok(id)
    }

    async fn generate_data_key(
        &self,
        master_key: &str,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let master = self.load(master_key)?;
        let plain = DataKey(crypto::random_bytes::<32>());
        let wrapped = crypto::seal(&master, &plain.0, &Self::aad(context));
        Ok((plain, WrappedKey(wrapped)))
    }

    async fn decrypt_data_key(
        &self,
        master_key: &str,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let master = self.load(master_key)?;
        let plain =
            crypto::open(&master, &wrapped.0, &Self::aad(context)).map_err(|_| KeyError::Unwrap)?;
        let bytes: [u8; 32] = plain.try_into().map_err(|_| KeyError::Unwrap)?;
        Ok(DataKey(bytes))
    }

    async fn list_master_keys(&self) -> Result<Vec<MasterKeyInfo>, KeyError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // `<tenant>-<random hex>.key` (see `create_master_key`).
            let Some(id) = name.strip_suffix(".key") else {
                continue;
            };
            let Some((tenant, _)) = id.rsplit_once('-') else {
                continue;
            };
            let modified = entry.metadata().and_then(|m| m.modified()).map_err(io)?;
            out.push(MasterKeyInfo {
                id: id.to_string(),
                tenant_id: tenant.to_string(),
                created_at: time::OffsetDateTime::from(modified),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn destroy_master_key(&self, master_key: &str) -> Result<(), KeyError> {
        let path = self.path(master_key)?;
        if !path.exists() {
            return Ok(());
        }
        // Overwrite before unlinking so the key bytes do not linger in the file's blocks.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.write_all(&[0u8; 32]).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::remove_file(&path).map_err(io)
    }
}
