//! Password hashing: argon2id with the crate's default cost (19 MiB, two
//! passes), stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`).
//!
//! Hashing is deliberately slow; callers on the async runtime use
//! [`hash_async`] and [`verify_async`], which run it on the blocking pool.
//!
//! [`weakness`] is the policy for a password someone chooses: not one of
//! the 10,000 most common passwords (`common-passwords.txt`, see its
//! header for the source), not the username or the username with a
//! little added.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Shortest password accepted when a user chooses one.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 256;

/// The shipped list of common passwords (one a line, lower case, `#` comments).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The common passwords, parsed once.
fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `password` (compared without case) is on the common list.
pub fn is_common(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// Why `password` is too weak for `username`, as a message key, or None.
/// Length is checked by the caller ([`MIN_LENGTH`]).
///
/// - `password.common`: one of the 10,000 most common passwords, compared
///   without case (attackers try these first, in this order);
/// - `password.like_username`: the username or the username reversed, or
///   a password that contains one of them and is weak without it: the
///   username is public, so what remains once it is taken out must still
///   be [`MIN_LENGTH`] characters and not a common password (`admin2024`
///   is refused, `correct-admin-horse` is not). Usernames shorter than 3
///   characters are only refused as the whole password.
pub fn weakness(password: &str, username: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    if common_passwords().contains(lower.as_str()) {
        return Some("password.common");
    }
    let user = username.trim().to_lowercase();
    if user.is_empty() {
        return None;
    }
    let reversed: String = user.chars().rev().collect();
    if lower == user || lower == reversed {
        return Some("password.like_username");
    }
    if user.chars().count() >= 3 && (lower.contains(&user) || lower.contains(&reversed)) {
        let rest = lower.replace(&user, "").replace(&reversed, "");
        if rest.chars().count() < MIN_LENGTH || common_passwords().contains(rest.as_str()) {
            return Some("password.like_username");
        }
    }
    None
}

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
    static DUMMY: OnceLock<String> = OnceLock::new();
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
    fn the_common_list_has_ten_thousand_passwords() {
        assert_eq!(common_passwords().len(), 10_000);
        for p in ["12345678", "password", "qwertyuiop", "iloveyou", "1qaz2wsx"] {
            assert!(is_common(p), "{p}");
        }
        // Compared without case.
        assert!(is_common("PassWord"));
        assert!(!is_common("correct horse battery staple"));
    }

    #[test]
    fn common_and_username_like_passwords_are_weak() {
        assert_eq!(weakness("12345678", "bob"), Some("password.common"));
        assert_eq!(weakness("Password", "bob"), Some("password.common"));
        assert_eq!(weakness("11111111", "bob"), Some("password.common"));
        assert_eq!(weakness("operator", "operator"), Some("password.common"));
        assert_eq!(
            weakness("carolyn-smith", "carolyn-smith"),
            Some("password.like_username")
        );
        assert_eq!(
            weakness("htims-nylorac", "Carolyn-Smith"),
            Some("password.like_username")
        );
        // The username with a little around it.
        assert_eq!(
            weakness("carolyn-smith1", "carolyn-smith"),
            Some("password.like_username")
        );
        assert_eq!(
            weakness("Admin2024!", "admin"),
            Some("password.like_username")
        );
        assert_eq!(
            weakness("nimda-nimda-1", "admin"),
            Some("password.like_username")
        );
        // ...or with a common password around it.
        assert_eq!(
            weakness("adminpassword", "admin"),
            Some("password.like_username")
        );
        // Enough besides the username.
        assert_eq!(weakness("correct-admin-horse", "admin"), None);
        assert_eq!(weakness("e2e-admin-pass", "admin"), None);
        assert_eq!(weakness("alice-own-pass", "alice"), None);
        // A very short username only counts as the whole password.
        assert_eq!(weakness("xy-horse-battery", "xy"), None);
        assert_eq!(weakness("tz-staple-9", "tz"), None);
        assert_eq!(weakness("purple-tangerine-42", "bob"), None);
        assert_eq!(weakness("purple-tangerine-42", ""), None);
    }

    #[test]
    fn the_seeded_admin_hash_is_123456() {
        for sql in [
            include_str!("../../../store/migrations/sqlite/0008_web_auth.sql"),
            include_str!("../../../store/migrations/postgres/0008_web_auth.sql"),
        ] {
            let start = sql
                .find("'$argon2id$")
                .expect("admin hash in the migration")
                + 1;
            let end = start + sql[start..].find('\'').expect("end of the hash");
            assert!(verify("123456", &sql[start..end]));
        }
    }
}
