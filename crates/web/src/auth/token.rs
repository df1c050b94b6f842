//! Random secrets: session cookies, CSRF tokens and API tokens, and the
//! digests stored in their place.

use sha2::{Digest, Sha256};

/// Prefix of API tokens, so a leaked one is recognisable in logs and scanners.
pub const API_TOKEN_PREFIX: &str = "sbt_";

/// 32 random bytes as 64 hex digits.
pub fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// A new API token (`sbt_` + 64 hex digits).
pub fn new_api_token() -> anyhow::Result<String> {
    Ok(format!("{API_TOKEN_PREFIX}{}", random_hex()?))
}

/// The digest stored for a secret: SHA-256, hex. Enough for 256-bit random
/// secrets (no salt or slow hash needed: there is nothing to guess).
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates an API token named `name` for the user `username` and returns
/// it (the only time it is available in clear). Used by the UI and the
/// `switchboard token create` command.
pub async fn create_api_token(
    store: &store::Store,
    username: &str,
    name: &str,
) -> anyhow::Result<String> {
    let Some(user) = store.user_credentials(username).await? else {
        anyhow::bail!("no user '{username}'");
    };
    let token = new_api_token()?;
    store
        .create_api_token(user.user.id, name, &digest(&token))
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = new_api_token().unwrap();
        let b = new_api_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(API_TOKEN_PREFIX) && a.len() == 4 + 64);
        assert_eq!(digest("abc"), digest("abc"));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sane"));
        assert!(!constant_time_eq("same", "same!"));
    }
}
