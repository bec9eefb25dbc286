//! The cryptography, in one place: Argon2id key derivation, XChaCha20-Poly1305 sealing, and
//! randomness from the operating system. Nothing else in the workspace may use AEAD/KDF crates.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Length of the master key, bytes.
pub const KEY_LEN: usize = 32;
/// Length of an XChaCha20 nonce, bytes.
pub const NONCE_LEN: usize = 24;
/// Length of an Argon2 salt, bytes.
pub const SALT_LEN: usize = 16;

/// Argon2id cost parameters, stored in the vault header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory cost, KiB.
    pub m_cost_kib: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106 second recommendation's memory and passes; about
    /// half a second on a small VM).
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Checks bounds: at least 8 MiB and 1 pass for new vaults when `strict`; never more than
    /// 4 GiB, 64 passes or 16 lanes (a doctored header must not exhaust the machine).
    pub fn validate(&self, strict: bool) -> Result<(), String> {
        if self.m_cost_kib > 4 * 1024 * 1024 || self.t_cost > 64 || self.p_cost > 16 {
            return Err(format!(
                "Argon2id parameters out of range (m={} KiB, t={}, p={})",
                self.m_cost_kib, self.t_cost, self.p_cost
            ));
        }
        if self.t_cost == 0 || self.p_cost == 0 || self.m_cost_kib < 8 * self.p_cost {
            return Err("Argon2id parameters below the algorithm's minimum".into());
        }
        if strict && self.m_cost_kib < 8 * 1024 {
            return Err(format!(
                "Argon2id memory cost {} KiB is below the 8 MiB floor for new vaults",
                self.m_cost_kib
            ));
        }
        Ok(())
    }
}

/// Derives the 32-byte master key from `passphrase` and `salt` with Argon2id.
pub fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    p: &KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, String> {
    let params = Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(KEY_LEN))
        .map_err(|e| format!("invalid Argon2id parameters: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| format!("Argon2id failed: {e}"))?;
    Ok(key)
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn random(buf: &mut [u8]) -> Result<(), String> {
    getrandom::fill(buf).map_err(|e| format!("the OS random number generator failed: {e}"))
}

/// A fresh random nonce.
pub fn nonce() -> Result<[u8; NONCE_LEN], String> {
    let mut n = [0u8; NONCE_LEN];
    random(&mut n)?;
    Ok(n)
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&(*key).into())
}

/// Encrypts `plain` under `key` with `nonce`, authenticating `aad` too.
pub fn seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    plain: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let n = XNonce::from(*nonce);
    cipher(key)
        .encrypt(&n, Payload { msg: plain, aad })
        .map_err(|_| "encryption failed".to_string())
}

/// Decrypts; `None` when the ciphertext, nonce, AAD or key do not match.
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let n = XNonce::from(*nonce);
    cipher(key)
        .decrypt(&n, Payload { msg: sealed, aad })
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = [7u8; KEY_LEN];
        let n = nonce().unwrap();
        let ct = seal(&key, &n, b"hello", b"aad-1").unwrap();
        assert_eq!(open(&key, &n, &ct, b"aad-1").unwrap().as_slice(), b"hello");
        assert!(open(&key, &n, &ct, b"aad-2").is_none());
        assert!(open(&[8u8; KEY_LEN], &n, &ct, b"aad-1").is_none());
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(open(&key, &n, &bad, b"aad-1").is_none());
    }

    #[test]
    fn kdf_is_deterministic_and_salted() {
        let p = KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let a = derive_key(b"pw", &[1; SALT_LEN], &p).unwrap();
        let b = derive_key(b"pw", &[1; SALT_LEN], &p).unwrap();
        let c = derive_key(b"pw", &[2; SALT_LEN], &p).unwrap();
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
    }

    #[test]
    fn param_bounds() {
        assert!(KdfParams::default().validate(true).is_ok());
        let weak = KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(weak.validate(false).is_ok());
        assert!(weak.validate(true).is_err());
        let huge = KdfParams {
            m_cost_kib: u32::MAX,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(huge.validate(false).is_err());
    }
}
