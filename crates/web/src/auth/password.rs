//! Password hashing: argon2id with the crate's default cost (19 MiB, two
//! passes), stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`).
//!
//! Hashing is deliberately slow; callers on the async runtime use
//! [`hash_async`] and [`verify_async`], which run it on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest password accepted when a user chooses one.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 256;

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Whether `password` matches the stored `hash`. A malformed hash matches
/// nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// [`hash`] on the blocking pool.
pub async fn hash_async(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task: {e}"))?
}

/// [`verify`] on the blocking pool. `hash` `None` (unknown user) still
/// spends the time of a verification, so response times do not reveal
/// which usernames exist.
pub async fn verify_async(password: String, hash: Option<String>) -> bool {
    let task = tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify(&password, &h),
        None => {
            let _ = verify(&password, dummy_hash());
            false
        }
    });
    task.await.unwrap_or(false)
}

/// A valid hash of nothing anyone knows, to verify against for unknown users.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a password: unknown user").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!verify("correct horse", ""));
        // Two hashes of one password differ (random salt).
        assert_ne!(h, hash("correct horse").unwrap());
    }

    #[test]
    fn the_seeded_admin_hash_is_123456() {
        let sql = include_str!("../../../store/migrations/0008_web_auth.sql");
        let start = sql
            .find("'$argon2id$")
            .expect("admin hash in the migration")
            + 1;
        let end = start + sql[start..].find('\'').expect("end of the hash");
        assert!(verify("123456", &sql[start..end]));
    }
}
