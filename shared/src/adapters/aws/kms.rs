//! `Keys` on KMS: one customer-managed symmetric key per tenant, created at sign-up with the
//! tags `myna:stage` and `myna:tenant` (IAM grants use them) and an alias
//! `<prefix><tenant>`. Data keys are `GenerateDataKey` AES-256 with the tenant's encryption
//! context; `Decrypt` names the key and context, so a wrapped key from another tenant fails.
//! Destroying schedules deletion (7 days, the minimum): from then on nothing decrypts.
//! Plain data keys are cached by `app::vault`, not here; [`KmsKeys::calls`] counts requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyState, KeyUsageType, Tag};
use aws_sdk_kms::Client;

use super::{describe, Settings};
use crate::ports::keys::{DataKey, EncryptionContext, KeyError, Keys, MasterKeyInfo, WrappedKey};

pub struct KmsKeys {
    client: Client,
    stage: String,
    alias_prefix: String,
    calls: AtomicU64,
}

impl KmsKeys {
    pub fn new(client: Client, settings: &Settings) -> Self {
        KmsKeys {
            client,
            stage: settings.stage.clone(),
            alias_prefix: settings.kms_alias_prefix.clone(),
            calls: AtomicU64::new(0),
        }
    }

    /// KMS requests made so far by this adapter.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

fn context(ctx: &EncryptionContext) -> HashMap<String, String> {
    ctx.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn tag(key: &str, value: &str) -> Result<Tag, KeyError> {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .map_err(|e| KeyError::Backend(e.to_string()))
}

fn plain_key(bytes: Option<&Blob>) -> Result<DataKey, KeyError> {
    let raw = bytes.ok_or(KeyError::Unwrap)?.as_ref();
    let key: [u8; 32] = raw.try_into().map_err(|_| KeyError::Unwrap)?;
    Ok(DataKey(key))
}

#[async_trait]
impl Keys for KmsKeys {
    async fn create_master_key(&self, tenant_id: &str) -> Result<String, KeyError> {
        self.count();
        let created = self
            .client
            .create_key()
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .description(format!("myna {} tenant {tenant_id}", self.stage))
            .tags(tag("myna:stage", &self.stage)?)
            .tags(tag("myna:tenant", tenant_id)?)
            .send()
            .await
            .map_err(|e| KeyError::Backend(describe(&e)))?;
        let meta = created
            .key_metadata()
            .ok_or_else(|| KeyError::Backend("no key metadata".into()))?;
        let arn = meta.arn().unwrap_or(meta.key_id()).to_string();
        self.count();
        self.client
            .create_alias()
            .alias_name(format!("{}{tenant_id}", self.alias_prefix))
            .target_key_id(meta.key_id())
            .send()
            .await
            .map_err(|e| KeyError::Backend(describe(&e)))?;
        Ok(arn)
    }

    async fn generate_data_key(
        &self,
        master_key: &str,
        ctx: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        self.count();
        let out = self
            .client
            .generate_data_key()
            .key_id(master_key)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context(ctx)))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s)
                    if s.is_not_found_exception()
                        || s.is_kms_invalid_state_exception()
                        || s.is_disabled_exception() =>
                {
                    KeyError::NotFound
                }
                _ => KeyError::Backend(describe(&e)),
            })?;
        let wrapped = out
            .ciphertext_blob()
            .ok_or(KeyError::Unwrap)?
            .as_ref()
            .to_vec();
        Ok((plain_key(out.plaintext())?, WrappedKey(wrapped)))
    }

    async fn decrypt_data_key(
        &self,
        master_key: &str,
        wrapped: &WrappedKey,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.count();
        let out = self
            .client
            .decrypt()
            .key_id(master_key)
            .ciphertext_blob(Blob::new(wrapped.0.clone()))
            .set_encryption_context(Some(context(ctx)))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s)
                    if s.is_not_found_exception()
                        || s.is_kms_invalid_state_exception()
                        || s.is_disabled_exception() =>
                {
                    KeyError::NotFound
                }
                Some(s)
                    if s.is_invalid_ciphertext_exception() || s.is_incorrect_key_exception() =>
                {
                    KeyError::Unwrap
                }
                _ => KeyError::Backend(describe(&e)),
            })?;
        plain_key(out.plaintext())
    }

    /// Keys found through their aliases (`<prefix><tenant>`), each described for its state and
    /// creation time; keys pending deletion are left out.
    async fn list_master_keys(&self) -> Result<Vec<MasterKeyInfo>, KeyError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.count();
            let page = self
                .client
                .list_aliases()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| KeyError::Backend(describe(&e)))?;
            for alias in page.aliases() {
                let (Some(name), Some(target)) = (alias.alias_name(), alias.target_key_id()) else {
                    continue;
                };
                let Some(tenant) = name.strip_prefix(&self.alias_prefix) else {
                    continue;
                };
                self.count();
                let described = self
                    .client
                    .describe_key()
                    .key_id(target)
                    .send()
                    .await
                    .map_err(|e| KeyError::Backend(describe(&e)))?;
                let Some(meta) = described.key_metadata() else {
                    continue;
                };
                if matches!(
                    meta.key_state(),
                    Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
                ) {
                    continue;
                }
                let created = meta
                    .creation_date()
                    .map_or(0, aws_sdk_kms::primitives::DateTime::secs);
                out.push(MasterKeyInfo {
                    id: meta.arn().unwrap_or(meta.key_id()).to_string(),
                    tenant_id: tenant.to_string(),
                    created_at: time::OffsetDateTime::from_unix_timestamp(created)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                });
            }
            match (page.truncated(), page.next_marker()) {
                (true, Some(next)) => marker = Some(next.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn destroy_master_key(&self, master_key: &str) -> Result<(), KeyError> {
        self.count();
        // KMS accepts a key ARN or id here; the bare id also works on emulators.
        let key_id = master_key
            .rsplit_once("key/")
            .map_or(master_key, |(_, id)| id);
        match self
            .client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(7)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already pending deletion (or gone): destroyed is destroyed.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_kms_invalid_state_exception() || s.is_not_found_exception()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(KeyError::Backend(describe(&e))),
        }
    }
}
