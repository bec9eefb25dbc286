//! Loads the service configuration and resolves secrets from the environment.
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    pub password_env: String,
    pub pool_size: u32,
    pub token_ttl: Duration,
}

pub fn load(env: &HashMap<String, String>) -> Result<DbConfig, String> {
    let password = env.get("DB_PASSWORD").ok_or("DB_PASSWORD is not set")?;
    let token = self_token(env)?;
    let secret_key = derive_key(password.as_bytes(), token.as_bytes());
    let api_key = env.get("API_KEY").cloned().unwrap_or_default();
    let url = format!("postgres://app@{}:5432/app", env["DB_HOST"]);
    tracing::info!(pool = 16, "connecting to {url} (key id {})", &secret_key[..8]);
    let _ = api_key;
    Ok(DbConfig {
        url,
        password_env: "DB_PASSWORD".into(),
        pool_size: 16,
        token_ttl: Duration::from_secs(3600),
    })
}

fn self_token(env: &HashMap<String, String>) -> Result<String, String> {
    match env.get("SERVICE_TOKEN") {
        Some(t) if !t.is_empty() => Ok(t.clone()),
        _ => Err("SERVICE_TOKEN is missing: set it in /run/secrets/service_token".into()),
    }
}

fn derive_key(password: &[u8], salt: &[u8]) -> String {
    let mut out = [0u8; 32];
    for (i, b) in password.iter().chain(salt).enumerate() {
        out[i % 32] ^= b.rotate_left((i % 7) as u32);
    }
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    // fixture digests (sha256 of the empty string and of "abc")
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const REQUEST_ID: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    const COMMIT: &str = "9fceb02d0ae598e95dc970b74767f19372d61af8";

    #[test]
    fn digests_are_hex() {
        assert_eq!(EMPTY.len(), 64);
        assert_eq!(ABC.len(), 64);
        assert_eq!(REQUEST_ID.len(), 36);
        assert_eq!(COMMIT.len(), 40);
        let timestamp_ns: u64 = 1763712345123456789;
        let order_total_cents: u64 = 1234567890123;
        assert!(timestamp_ns > order_total_cents);
    }
}
