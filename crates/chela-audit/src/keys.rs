//! The checkpoint signing key: created once at `chela init`, private key mode 0600.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{sys, AuditError};

/// File name of the private signing key inside the audit directory.
pub const KEY_FILE: &str = "audit.key";
/// File name of the public key inside the audit directory.
pub const PUB_FILE: &str = "audit.pub";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (mode 0700) if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), AuditError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Creates the audit signing key pair in `dir`: `audit.key` (ed25519 seed, mode 0600) and
/// `audit.pub` (`ed25519:<base64>`, mode 0644). Refuses to overwrite an existing key.
pub fn init_keys(dir: &Path) -> Result<(), AuditError> {
    ensure_dir(dir)?;
    let key_path = dir.join(KEY_FILE);
    let mut seed = [0u8; 32];
    sys::random_bytes(&mut seed).map_err(io_err(&key_path))?;
    let signing = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let mut f = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&key_path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(AuditError::KeyExists { path: key_path })
        }
        Err(e) => return Err(io_err(&key_path)(e)),
    };
    let mut text = B64.encode(signing.to_bytes());
    text.push('\n');
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err(&key_path))?;
    write_public(dir, &signing.verifying_key())?;
    sys::fsync_dir(dir).map_err(io_err(dir))
}

fn write_public(dir: &Path, key: &VerifyingKey) -> Result<(), AuditError> {
    let pub_path = dir.join(PUB_FILE);
    let tmp = dir.join(format!("{PUB_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(format!("{}\n", encode_public(key)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, &pub_path).map_err(io_err(&pub_path))
}

/// `ed25519:<base64>`, the textual form of a public key.
pub(crate) fn encode_public(key: &VerifyingKey) -> String {
    format!("ed25519:{}", B64.encode(key.to_bytes()))
}

/// Parses `ed25519:<base64>`, bare base64 or 64 hex digits.
pub(crate) fn parse_public(text: &str) -> Result<VerifyingKey, String> {
    let t = text.trim();
    let t = t.strip_prefix("ed25519:").unwrap_or(t).trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| e.to_string())?
    } else {
        B64.decode(t).map_err(|e| format!("not base64: {e}"))?
    };
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("expected 32 key bytes, found {}", bytes.len()))?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not an ed25519 public key: {e}"))
}

/// Reads a public key file (`chela audit pubkey` output).
pub(crate) fn read_public_file(path: &Path) -> Result<VerifyingKey, AuditError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    parse_public(&text).map_err(|reason| AuditError::BadKey {
        path: path.to_path_buf(),
        reason,
    })
}

/// Loads the private signing key, refusing one readable by group or others.
pub(crate) fn load_signing_key(dir: &Path) -> Result<SigningKey, AuditError> {
    let path = dir.join(KEY_FILE);
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuditError::KeyMissing { path })
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    check_private_mode(&f, &path)?;
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(io_err(&path))?;
    let bytes = B64.decode(text.trim()).map_err(|e| AuditError::BadKey {
        path: path.clone(),
        reason: format!("not base64: {e}"),
    })?;
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| AuditError::BadKey {
            path: path.clone(),
            reason: format!(
                "expected a 32-byte ed25519 seed, found {} bytes",
                bytes.len()
            ),
        })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn check_private_mode(f: &File, path: &Path) -> Result<(), AuditError> {
    let meta = f.metadata().map_err(io_err(path))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuditError::KeyInsecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The log's public key as `ed25519:<base64>` (for `chela audit pubkey`; give it to auditors so
/// they can run `chela audit verify --pubkey FILE` against a key they hold themselves).
pub fn public_key(dir: &Path) -> Result<String, AuditError> {
    let pub_path = dir.join(PUB_FILE);
    match fs::read_to_string(&pub_path) {
        Ok(text) => parse_public(&text)
            .map(|k| encode_public(&k))
            .map_err(|reason| AuditError::BadKey {
                path: pub_path,
                reason,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(encode_public(&load_signing_key(dir)?.verifying_key()))
        }
        Err(e) => Err(io_err(&pub_path)(e)),
    }
}

/// Loads the public key kept beside the log (`audit.pub`, or derived from `audit.key`).
pub(crate) fn local_public(dir: &Path) -> Result<VerifyingKey, AuditError> {
    let text = public_key(dir)?;
    parse_public(&text).map_err(|reason| AuditError::BadKey {
        path: dir.join(PUB_FILE),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn init_creates_private_key_and_refuses_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("audit");
        init_keys(&dir).unwrap();
        let mode = fs::metadata(dir.join(KEY_FILE)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let pk = public_key(&dir).unwrap();
        assert!(pk.starts_with("ed25519:"));
        let before = fs::read(dir.join(KEY_FILE)).unwrap();
        assert!(matches!(init_keys(&dir), Err(AuditError::KeyExists { .. })));
        assert_eq!(fs::read(dir.join(KEY_FILE)).unwrap(), before);
        let sk = load_signing_key(&dir).unwrap();
        assert_eq!(encode_public(&sk.verifying_key()), pk);
    }

    #[test]
    fn group_readable_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        init_keys(d.path()).unwrap();
        fs::set_permissions(d.path().join(KEY_FILE), fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_signing_key(d.path()).unwrap_err();
        assert!(
            matches!(err, AuditError::KeyInsecure { mode: 0o640, .. }),
            "{err}"
        );
    }

    #[test]
    fn public_key_forms_parse() {
        let sk = SigningKey::from_bytes(&[3u8; 32]);
        let vk = sk.verifying_key();
        assert_eq!(parse_public(&encode_public(&vk)).unwrap(), vk);
        assert_eq!(parse_public(&hex::encode(vk.to_bytes())).unwrap(), vk);
        assert!(parse_public("ed25519:AAAA").is_err());
    }
}
