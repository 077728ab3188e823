//! Small secrets that are not My Numbers — a login user's TOTP secret, the company passcode —
//! each sealed (AES-256-GCM) under a data key of its own, made under the tenant's master key with
//! the encryption context `{tenant, purpose, subject}` and stored wrapped beside the secret.
//!
//! Why not the tenant's data key, which seals the numbers: a function that must read one of
//! these (the login function checks TOTP codes; the account function shows the passcode) is
//! allowed by IAM to unwrap keys of its purposes only (`kms:EncryptionContext:purpose`), so it
//! can never unwrap the key that opens the numbers. Destroying the tenant's master key still
//! shreds these too.
//!
//! Limits: no caching (each open unwraps once); callers store the two strings of
//! [`SealedSecret`] where they like and decide who may open them.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::app::vault::TenantKeys;
use crate::app::{App, InfraError};
use crate::crypto;
use crate::ports::keys::{EncryptionContext, WrappedKey};

/// What a secret is for: the `purpose` of its key's encryption context, which IAM conditions
/// name (template.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A login user's authenticator-app secret (subject: the user id).
    SecondFactor,
    /// The company passcode registrants type on their phones (subject: the tenant).
    Passcode,
}

impl Purpose {
    pub fn code(self) -> &'static str {
        match self {
            Purpose::SecondFactor => "second-factor",
            Purpose::Passcode => "passcode",
        }
    }
}

/// A sealed secret and its wrapped key, as stored (base64 text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSecret {
    pub secret: String,
    pub key: String,
}

fn context(keys: &TenantKeys, purpose: Purpose, subject: &str) -> EncryptionContext {
    let mut ctx = EncryptionContext::tenant(keys.tenant.as_str());
    ctx.0.insert("purpose".into(), purpose.code().into());
    ctx.0.insert("subject".into(), subject.into());
    ctx
}

/// Binds the ciphertext to its tenant, purpose and subject: a sealed secret copied to another
/// item does not open there.
fn aad(keys: &TenantKeys, purpose: Purpose, subject: &str) -> Vec<u8> {
    format!(
        "myna-secret-v1\n{}\n{}\n{subject}",
        keys.tenant,
        purpose.code()
    )
    .into_bytes()
}

/// Seals `plain` under a new data key of `purpose`.
pub async fn seal(
    app: &App,
    keys: &TenantKeys,
    purpose: Purpose,
    subject: &str,
    plain: &[u8],
) -> Result<SealedSecret, InfraError> {
    let (key, wrapped) = app
        .ports
        .keys
        .generate_data_key(&keys.master_key, &context(keys, purpose, subject))
        .await?;
    Ok(SealedSecret {
        secret: STANDARD.encode(crypto::seal(&key.0, plain, &aad(keys, purpose, subject))),
        key: STANDARD.encode(&wrapped.0),
    })
}

/// Opens a secret sealed by [`seal`] with the same purpose and subject.
pub async fn open(
    app: &App,
    keys: &TenantKeys,
    purpose: Purpose,
    subject: &str,
    sealed: &SealedSecret,
) -> Result<Vec<u8>, InfraError> {
    let corrupt = || InfraError::Corrupt("sealed secret");
    let wrapped = WrappedKey(STANDARD.decode(&sealed.key).map_err(|_| corrupt())?);
    let key = app
        .ports
        .keys
        .decrypt_data_key(&keys.master_key, &wrapped, &context(keys, purpose, subject))
        .await?;
    let bytes = STANDARD.decode(&sealed.secret).map_err(|_| corrupt())?;
    crypto::open(&key.0, &bytes, &aad(keys, purpose, subject)).map_err(|_| corrupt())
}
