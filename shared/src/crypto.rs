//! Cryptographic primitives shared by the use cases and the embedded adapters: AES-256-GCM
//! sealing with a random 96-bit nonce, random tokens, SHA-256 / HMAC-SHA-256 digests and
//! constant-time comparison. Nothing here knows about tenants or numbers.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("sealed data does not open (wrong key, wrong context or altered data)")]
pub struct OpenError;

/// `nonce || ciphertext+tag` of `plain` under `key`, binding `aad`.
pub fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        // Encryption only fails for inputs beyond 64 GiB.
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Opens what [`seal`] produced with the same key and `aad`.
pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(OpenError);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| OpenError)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// A URL-safe random token of 256 bits (session ids, link tokens, CSRF tokens).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A uniformly random decimal code of `digits` digits (OTP codes), leading zeros kept.
pub fn random_digits(digits: u32) -> String {
    use rand::Rng;
    let bound = 10u64.pow(digits);
    let n = rand::rngs::OsRng.gen_range(0..bound);
    format!("{n:0width$}", width = digits as usize)
}

/// Hex SHA-256, for storing tokens by digest so a database leak does not leak them.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_fails_when_aad_or_key_differs() {
        let key = random_bytes::<32>();
        let sealed = seal(&key, b"secret", b"ctx-a");
        assert_eq!(open(&key, &sealed, b"ctx-a").unwrap(), b"secret");
        assert!(open(&key, &sealed, b"ctx-b").is_err());
        assert!(open(&random_bytes::<32>(), &sealed, b"ctx-a").is_err());
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(open(&key, &altered, b"ctx-a").is_err());
    }

    #[test]
    fn random_digits_keep_width() {
        for _ in 0..50 {
            let code = random_digits(6);
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
