//! Envelope encryption of My Numbers for one tenant.
//!
//! Each tenant has one data key, generated under its master key with the encryption context
//! `{tenant: <id>}` and stored wrapped in the tenant profile. Plain data keys are cached in
//! memory for [`CACHE_TTL`], so a request touching thousands of numbers unwraps once. Numbers
//! are sealed with AES-256-GCM, the record id as associated data (a sealed value moved to
//! another record does not open). A keyed hash (HMAC-SHA-256 under a key derived from the data
//! key) finds duplicates within the tenant without decrypting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::{engine::general_purpose::STANDARD, Engine};
use hkdf::Hkdf;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use super::keys::TenantId;
use super::InfraError;
use crate::crypto;
use crate::domain::my_number::MyNumber;
use crate::ports::{Clock, DataKey, EncryptionContext, Keys, WrappedKey};

/// How long a plain data key stays in memory after it was unwrapped.
pub const CACHE_TTL: Duration = Duration::minutes(5);

/// Where a tenant's data key lives: its master key id and the wrapped data key.
#[derive(Clone, Debug)]
pub struct TenantKeys {
    pub tenant: TenantId,
    pub master_key: String,
    pub wrapped: WrappedKey,
}

impl TenantKeys {
    pub fn wrapped_b64(&self) -> String {
        STANDARD.encode(&self.wrapped.0)
    }

    pub fn from_b64(tenant: TenantId, master_key: String, wrapped: &str) -> Option<Self> {
        let wrapped = WrappedKey(STANDARD.decode(wrapped).ok()?);
        Some(TenantKeys {
            tenant,
            master_key,
            wrapped,
        })
    }
}

pub struct Vault {
    keys: Arc<dyn Keys>,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<String, (DataKey, OffsetDateTime)>>,
    unwraps: AtomicU64,
}

impl Vault {
    pub fn new(keys: Arc<dyn Keys>, clock: Arc<dyn Clock>) -> Self {
        Vault {
            keys,
            clock,
            cache: Mutex::new(HashMap::new()),
            unwraps: AtomicU64::new(0),
        }
    }

    /// Creates a tenant's master key and its data key (sign-up).
    pub async fn create_tenant_keys(&self, tenant: &TenantId) -> Result<TenantKeys, InfraError> {
        let master_key = self.keys.create_master_key(tenant.as_str()).await?;
        let (_, wrapped) = self
            .keys
            .generate_data_key(&master_key, &EncryptionContext::tenant(tenant.as_str()))
            .await?;
        Ok(TenantKeys {
            tenant: tenant.clone(),
            master_key,
            wrapped,
        })
    }

    /// Drops the tenant's cached data key (its master key was just destroyed: this process
    /// must not go on sealing or opening with it).
    pub fn forget(&self, tenant: &TenantId) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant.as_str());
    }

    /// Number of data-key unwraps so far (a figure for benchmarks and tests).
    pub fn unwrap_count(&self) -> u64 {
        self.unwraps.load(Ordering::Relaxed)
    }

    async fn data_key(&self, tk: &TenantKeys) -> Result<DataKey, InfraError> {
        let now = self.clock.now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((key, until)) = cache.get(tk.tenant.as_str()) {
                if *until > now {
                    return Ok(key.clone());
                }
            }
        }
        let key = self
            .keys
            .decrypt_data_key(
                &tk.master_key,
                &tk.wrapped,
                &EncryptionContext::tenant(tk.tenant.as_str()),
            )
            .await?;
        self.unwraps.fetch_add(1, Ordering::Relaxed);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tk.tenant.to_string(), (key.clone(), now + CACHE_TTL));
        Ok(key)
    }

    /// The tenant's cipher, holding its plain data key: for work over many numbers (CSV
    /// import and export) so that one request unwraps at most once, however long it runs.
    pub async fn cipher(&self, tk: &TenantKeys) -> Result<TenantCipher, InfraError> {
        Ok(TenantCipher {
            tenant: tk.tenant.clone(),
            key: self.data_key(tk).await?,
        })
    }

    /// Seals a number for one record; base64 text for storage.
    pub async fn seal_number(
        &self,
        tk: &TenantKeys,
        record_id: &str,
        number: &MyNumber,
    ) -> Result<String, InfraError> {
        Ok(self.cipher(tk).await?.seal(record_id, number))
    }

    /// Opens a number sealed by [`Vault::seal_number`] for the same record.
    pub async fn open_number(
        &self,
        tk: &TenantKeys,
        record_id: &str,
        sealed: &str,
    ) -> Result<MyNumber, InfraError> {
        self.cipher(tk).await?.open(record_id, sealed)
    }

    /// Keyed hash of a number, equal for equal numbers within the tenant only.
    pub async fn fingerprint(
        &self,
        tk: &TenantKeys,
        number: &MyNumber,
    ) -> Result<String, InfraError> {
        self.cipher(tk).await?.fingerprint(number)
    }
}

/// One tenant's plain data key in hand (see [`Vault::cipher`]). Never stored, never logged.
pub struct TenantCipher {
    tenant: TenantId,
    key: DataKey,
}

impl TenantCipher {
    fn aad(&self, record_id: &str) -> Vec<u8> {
        format!("myna-number-v1\n{}\n{record_id}", self.tenant).into_bytes()
    }

    /// Seals a number for one record; base64 text for storage.
    pub fn seal(&self, record_id: &str, number: &MyNumber) -> String {
        self.seal_text(record_id, number.expose())
    }

    /// Opens a number sealed for the same record.
    pub fn open(&self, record_id: &str, sealed: &str) -> Result<MyNumber, InfraError> {
        let text = self.open_text(record_id, sealed)?;
        MyNumber::parse(&text).map_err(|_| InfraError::Corrupt("sealed number"))
    }

    /// Seals any short secret for one record (a number, or a password carried by a confirm
    /// page); base64 text. The record id is bound in, so the text opens for that record only.
    pub fn seal_text(&self, record_id: &str, text: &str) -> String {
        STANDARD.encode(crypto::seal(
            &self.key.0,
            text.as_bytes(),
            &self.aad(record_id),
        ))
    }

    /// Opens a text sealed by [`TenantCipher::seal_text`] for the same record.
    pub fn open_text(&self, record_id: &str, sealed: &str) -> Result<String, InfraError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| InfraError::Corrupt("sealed number"))?;
        let plain = crypto::open(&self.key.0, &bytes, &self.aad(record_id))
            .map_err(|_| InfraError::Corrupt("sealed number"))?;
        String::from_utf8(plain).map_err(|_| InfraError::Corrupt("sealed number"))
    }

    /// The key of [`TenantCipher::fingerprint`], derived once for many numbers.
    pub fn fingerprint_key(&self) -> Result<[u8; 32], InfraError> {
        let mut mac_key = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.key.0)
            .expand(b"myna-number-fingerprint-v1", &mut mac_key)
            .map_err(|_| InfraError::Task)?;
        Ok(mac_key)
    }

    /// Keyed hash of a number, equal for equal numbers within the tenant only.
    pub fn fingerprint(&self, number: &MyNumber) -> Result<String, InfraError> {
        Ok(fingerprint_with(&self.fingerprint_key()?, number))
    }
}

/// [`TenantCipher::fingerprint`] with a key from [`TenantCipher::fingerprint_key`].
pub fn fingerprint_with(mac_key: &[u8; 32], number: &MyNumber) -> String {
    crypto::hex(&crypto::hmac_sha256(mac_key, number.expose().as_bytes()))
}
