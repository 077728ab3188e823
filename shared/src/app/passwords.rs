//! Password hashing with argon2id. Hashing runs on the blocking pool: with the recommended
//! parameters one hash takes tens of milliseconds and 19 MiB.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, PasswordHasher, PasswordVerifier, Version};

use super::InfraError;
use crate::domain::identity::{check_password_strength, Email};

/// Checks a new password and its confirmation by the product's one rule set (sign-up, login
/// users, their own change); each problem is added to `errors` under `password` or
/// `password_confirm`.
pub fn check_new(
    errors: &mut Vec<(&'static str, String)>,
    password: &str,
    confirm: &str,
    email: Option<&Email>,
) {
    if let Err(problems) = check_password_strength(password, email.map(Email::as_str)) {
        errors.extend(problems.into_iter().map(|p| ("password", p)));
    } else if password != confirm {
        errors.push((
            "password_confirm",
            "パスワード（確認）が一致しません。".into(),
        ));
    }
}

/// argon2id cost parameters (memory in KiB, iterations, lanes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Params {
    /// OWASP's recommended argon2id setting (m=19 MiB, t=2, p=1), the argon2 crate's default.
    pub const RECOMMENDED: Params = Params {
        memory_kib: 19_456,
        iterations: 2,
        lanes: 1,
    };
    /// Cheap parameters for tests only: same algorithm, trivially fast.
    pub const TESTING: Params = Params {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };

    fn hasher(self) -> Argon2<'static> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.lanes, None)
            .unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

/// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
pub async fn hash(params: Params, password: String) -> Result<String, InfraError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        params
            .hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| InfraError::Task)
    })
    .await
    .map_err(|_| InfraError::Task)?
}

/// Whether `password` matches the stored PHC string (its own parameters are used).
pub async fn verify(stored: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Burns the same time as a real verification (one argon2 run), so an unknown address answers
/// as fast as a known one with a wrong password. The dummy hash is made once per process and
/// kept in `cache`; hashing it on every call would make unknown addresses twice as slow.
pub async fn verify_dummy(cache: &tokio::sync::OnceCell<String>, params: Params, password: String) {
    if let Ok(stored) = cache
        .get_or_try_init(|| hash(params, "dummy-password-for-timing".into()))
        .await
    {
        let _ = verify(stored.clone(), password).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verify_accepts_only_the_hashed_password() {
        let stored = hash(Params::TESTING, "Correct-horse-9".into())
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(stored.clone(), "Correct-horse-9".into()).await);
        assert!(!verify(stored, "correct-horse-9".into()).await);
    }

    #[test]
    fn recommended_params_are_owasp_minimum() {
        let p = Params::RECOMMENDED;
        assert!(p.memory_kib >= 19_456 && p.iterations >= 2);
    }
}
