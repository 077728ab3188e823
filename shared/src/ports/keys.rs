//! The `Keys` port: one master key per tenant, and data keys wrapped under it.
//!
//! Envelope encryption: a tenant's data key is generated under its master key with an
//! encryption context naming the tenant; only the wrapped form is stored. Unwrapping needs the
//! same master key and the same context, so a wrapped key copied to another tenant is useless.
//! Destroying the master key makes every wrapped key of the tenant (and so every sealed number
//! and image, backups included) unreadable: crypto-shredding. Caching plain data keys is the
//! caller's job (`app::vault`), so that one request touching thousands of numbers unwraps once.

use std::collections::BTreeMap;

use async_trait::async_trait;

/// Key/value pairs bound to a data key (KMS's encryption context; AAD in embedded mode).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext(pub BTreeMap<String, String>);

impl EncryptionContext {
    /// The context every tenant data key carries.
    pub fn tenant(tenant_id: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("tenant".to_string(), tenant_id.to_string());
        EncryptionContext(map)
    }

    /// Canonical bytes (sorted `k=v` lines), used as associated data by embedded adapters.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

/// A plain 256-bit data key. Never logged (Debug is redacted); zeroed on drop.
#[derive(Clone)]
pub struct DataKey(pub [u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

// The one `unsafe` of the product: a volatile write, so wiping the key is not optimised away.
#[allow(unsafe_code)]
impl Drop for DataKey {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: plain write to our own initialised bytes; volatile so it is not elided.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// A data key encrypted under a master key (KMS `CiphertextBlob`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key does not exist or was destroyed.
    #[error("master key not found or destroyed")]
    NotFound,
    /// The wrapped key does not open under this master key and context.
    #[error("data key does not unwrap under this key and context")]
    Unwrap,
    #[error("key backend error: {0}")]
    Backend(String),
}

/// A live master key as the key store lists it (for the sweep of failed sign-ups' keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterKeyInfo {
    /// The id [`Keys::create_master_key`] returned for it (or one the other methods accept).
    pub id: String,
    /// The tenant it was created for.
    pub tenant_id: String,
    pub created_at: time::OffsetDateTime,
}

#[async_trait]
pub trait Keys: Send + Sync {
    /// Creates the tenant's master key and returns its id (a KMS key ARN, a file name).
    async fn create_master_key(&self, tenant_id: &str) -> Result<String, KeyError>;

    /// A fresh data key: the plain key and its wrapped form under `master_key` and `context`.
    async fn generate_data_key(
        &self,
        master_key: &str,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError>;

    /// Unwraps a data key; fails unless `master_key` and `context` are those it was made with.
    async fn decrypt_data_key(
        &self,
        master_key: &str,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    /// Destroys the master key (KMS: schedules deletion). Afterwards nothing wrapped under it
    /// unwraps. Destroying an already destroyed key succeeds.
    async fn destroy_master_key(&self, master_key: &str) -> Result<(), KeyError>;

    /// Every master key of this installation not yet destroyed (nor pending deletion), with
    /// the tenant it was made for. Only the purge job's sweep lists keys.
    async fn list_master_keys(&self) -> Result<Vec<MasterKeyInfo>, KeyError>;
}
