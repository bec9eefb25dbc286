//! Chela's encrypted credential store (CN-C3, CN-B5, CNCERT-M2).
//!
//! Each secret is sealed with XChaCha20-Poly1305 under a 32-byte master key derived from a
//! passphrase with Argon2id (salt and cost in the file header). The key is never stored; the
//! passphrase comes from the terminal, an inherited descriptor or a systemd credential
//! ([`PassphraseSource`]), never from argv or an environment variable's value.
//!
//! Every entry has its own random nonce, and its associated data binds the format version, the
//! vault's random id and the entry name, so ciphertexts cannot be moved between entries or
//! vaults. A key-check blob tells a wrong passphrase from damage, and a tag over the whole file
//! (keyed by the master key) detects any other change: edited timestamps, removed or re-ordered
//! entries, truncation. Writes are atomic (temporary file, fsync, rename, directory fsync) with
//! mode 0600 under an exclusive lock, and refuse to overwrite a file that changed on disk since
//! it was read. Any failure leaves the file as it was. See `README.md` for the threat model.

pub mod cli;
pub mod crypto;
pub mod passphrase;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use cli::{run_secrets_cli, SecretsCmd};
pub use crypto::KdfParams;
pub use passphrase::PassphraseSource;

use crypto::{KEY_LEN, NONCE_LEN, SALT_LEN};

/// Format version written in the header and bound into every entry.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the vault inside `$CHELA_HOME`.
pub const VAULT_FILE: &str = "secrets.vault";
const MAGIC: &str = "CHELA-VAULT/1";
const MAX_FILE: u64 = 16 * 1024 * 1024;
const MAX_VALUE: usize = 64 * 1024;
const CHECK_PLAIN: &[u8] = b"chela-vault key check";

/// A secret value: zeroed when dropped, never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The value itself. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Errors from the vault. Messages name the file or entry and the way out; none ever contains
/// a secret value or the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// There is no vault file yet.
    #[error("no vault at {0}; store a first secret with `chela secrets set NAME`")]
    NotFound(PathBuf),
    /// `create` found an existing vault.
    #[error("a vault already exists at {0}; open it instead of creating a new one")]
    Exists(PathBuf),
    /// The passphrase does not open this vault.
    #[error("wrong passphrase for {0} (or its header is damaged); nothing was changed")]
    WrongPassphrase(PathBuf),
    /// The file failed authentication: modified, re-ordered or corrupted after it was written.
    #[error("vault {path} failed its integrity check ({detail}); it was modified or corrupted after it was written. Nothing was changed; restore it from a backup")]
    Tampered {
        /// The vault file.
        path: PathBuf,
        /// Which part failed.
        detail: String,
    },
    /// The file is not a readable vault (truncated, not a vault, unsupported version).
    #[error("{path} is not a readable chela vault ({detail}); nothing was changed")]
    Corrupt {
        /// The vault file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Group or others may access the vault file.
    #[error("vault {path} has mode {mode:o}, readable or writable by other users; run `chmod 600 {path}`", path = .path.display())]
    Insecure {
        /// The vault file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The vault changed on disk after it was opened (another `chela` process wrote it).
    #[error("vault {0} was changed by another process since it was opened; nothing was written, run the command again")]
    Conflict(PathBuf),
    /// No entry of that name.
    #[error("no secret named {0:?} in the vault; see `chela secrets list`")]
    NoEntry(String),
    /// An entry of that name exists already.
    #[error("a secret named {0:?} exists already; replace it with `chela secrets rotate {0}`")]
    EntryExists(String),
    /// Invalid entry name or value.
    #[error("invalid secret {what}: {reason}")]
    Invalid {
        /// `name` or `value`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The passphrase could not be obtained or is unacceptable.
    #[error("vault passphrase: {0}")]
    Passphrase(String),
    /// Key derivation, randomness or encryption failed.
    #[error("vault cryptography failed: {0}")]
    Crypto(String),
    /// A file operation failed.
    #[error("{op} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |source| VaultError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What `list` shows about an entry (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    /// Entry name.
    pub name: String,
    /// When it was stored, Unix seconds.
    pub created: u64,
    /// When it was last read through [`Vault::get`] (day resolution), Unix seconds.
    pub last_used: Option<u64>,
    /// When its value was last replaced by [`Vault::rotate`], Unix seconds.
    pub rotated: Option<u64>,
    /// Days since the value was set (created or last rotated): the credential's age (CN-B5).
    pub age_days: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    nonce: String,
    ct: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfHeader {
    alg: String,
    salt: String,
    #[serde(flatten)]
    params: KdfParams,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEntry {
    name: String,
    created: u64,
    last_used: Option<u64>,
    rotated: Option<u64>,
    nonce: String,
    ct: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    version: u32,
    vault_id: String,
    kdf: KdfHeader,
    check: Sealed,
    entries: Vec<StoredEntry>,
}

/// An open vault: the derived key and the decoded file, ready to read and change entries.
pub struct Vault {
    path: PathBuf,
    key: Zeroizing<[u8; KEY_LEN]>,
    body: Body,
    /// SHA-256 of the file as last read or written (to detect concurrent writers).
    digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("entries", &self.body.entries.len())
            .finish()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unhex<const N: usize>(s: &str, what: &str, path: &Path) -> Result<[u8; N], VaultError> {
    let v = hex::decode(s).map_err(|_| corrupt(path, format!("{what} is not hex")))?;
    v.try_into()
        .map_err(|_| corrupt(path, format!("{what} has the wrong length")))
}

fn corrupt(path: &Path, detail: String) -> VaultError {
    VaultError::Corrupt {
        path: path.to_path_buf(),
        detail,
    }
}

fn crypto_err(e: String) -> VaultError {
    VaultError::Crypto(e)
}

fn entry_aad(vault_id: &str, name: &str) -> Vec<u8> {
    format!("chela-vault/entry/v{FORMAT_VERSION}\0{vault_id}\0{name}").into_bytes()
}

fn check_aad(body: &Body) -> Vec<u8> {
    format!(
        "chela-vault/check/v{FORMAT_VERSION}\0{}\0{}\0{}\0{}\0{}\0{}",
        body.vault_id,
        body.kdf.alg,
        body.kdf.salt,
        body.kdf.params.m_cost_kib,
        body.kdf.params.t_cost,
        body.kdf.params.p_cost
    )
    .into_bytes()
}

fn file_aad(signed: &[u8]) -> Vec<u8> {
    let mut aad = format!("chela-vault/file/v{FORMAT_VERSION}\0").into_bytes();
    aad.extend_from_slice(signed);
    aad
}

/// Checks an entry name: 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), VaultError> {
    let bad = |reason: &str| VaultError::Invalid {
        what: "name",
        reason: format!("{name:?}: {reason}"),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(bad("use 1 to 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("start with a letter or digit"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(bad("use only letters, digits, '_', '.' and '-'"));
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), VaultError> {
    if value.is_empty() {
        return Err(VaultError::Invalid {
            what: "value",
            reason: "it is empty".into(),
        });
    }
    if value.len() > MAX_VALUE {
        return Err(VaultError::Invalid {
            what: "value",
            reason: format!("it is longer than {MAX_VALUE} bytes"),
        });
    }
    Ok(())
}

fn seal_check(key: &[u8; KEY_LEN], body: &Body) -> Result<Sealed, VaultError> {
    let n = crypto::nonce().map_err(crypto_err)?;
    let ct = crypto::seal(key, &n, CHECK_PLAIN, &check_aad(body)).map_err(crypto_err)?;
    Ok(Sealed {
        nonce: hex::encode(n),
        ct: hex::encode(ct),
    })
}

fn read_new_passphrase(source: &PassphraseSource) -> Result<Secret, VaultError> {
    let passphrase = source.read(true)?;
    if passphrase.expose().chars().count() < passphrase::MIN_NEW_PASSPHRASE {
        return Err(VaultError::Passphrase(format!(
            "use at least {} characters for a vault passphrase",
            passphrase::MIN_NEW_PASSPHRASE
        )));
    }
    Ok(passphrase)
}

/// Holds an exclusive `flock` on `<vault>.lock` while a write is in progress.
struct WriteLock {
    _file: File,
}

impl WriteLock {
    fn take(vault: &Path) -> Result<WriteLock, VaultError> {
        let mut name = vault.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io("cannot open the lock file", &lock_path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; released when the file is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(VaultError::Io {
                op: "cannot lock",
                path: lock_path,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(WriteLock { _file: f })
    }
}

impl Vault {
    /// The vault's path inside `$CHELA_HOME`.
    pub fn default_path(home: &Path) -> PathBuf {
        home.join(VAULT_FILE)
    }

    /// Creates a new, empty vault at `path` with the default Argon2id cost. Asks for the
    /// passphrase twice on a terminal; it must be at least 8 characters.
    pub fn create(path: &Path, source: &PassphraseSource) -> Result<Vault, VaultError> {
        Vault::create_with_params(path, source, KdfParams::default())
    }

    /// [`Vault::create`] with explicit Argon2id cost (at least 8 MiB).
    pub fn create_with_params(
        path: &Path,
        source: &PassphraseSource,
        params: KdfParams,
    ) -> Result<Vault, VaultError> {
        params.validate(true).map_err(VaultError::Crypto)?;
        Vault::create_unchecked(path, source, params)
    }

    fn create_unchecked(
        path: &Path,
        source: &PassphraseSource,
        params: KdfParams,
    ) -> Result<Vault, VaultError> {
        if path.exists() {
            return Err(VaultError::Exists(path.to_path_buf()));
        }
        let passphrase = read_new_passphrase(source)?;
        let mut salt = [0u8; SALT_LEN];
        crypto::random(&mut salt).map_err(crypto_err)?;
        let mut id = [0u8; 16];
        crypto::random(&mut id).map_err(crypto_err)?;
        let key = crypto::derive_key(passphrase.expose().as_bytes(), &salt, &params)
            .map_err(crypto_err)?;
        let mut body = Body {
            version: FORMAT_VERSION,
            vault_id: hex::encode(id),
            kdf: KdfHeader {
                alg: "argon2id".into(),
                salt: hex::encode(salt),
                params,
            },
            check: Sealed {
                nonce: String::new(),
                ct: String::new(),
            },
            entries: Vec::new(),
        };
        body.check = seal_check(&key, &body)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(io("cannot create the directory", dir))?;
            }
        }
        let mut v = Vault {
            path: path.to_path_buf(),
            key,
            body,
            digest: None,
        };
        v.persist()?;
        Ok(v)
    }

    /// Opens an existing vault, verifying the passphrase and the integrity of every byte.
    pub fn open(path: &Path, source: &PassphraseSource) -> Result<Vault, VaultError> {
        let bytes = read_vault_file(path)?;
        let (body, signed_len, mac_nonce, mac_tag) = parse(path, &bytes)?;
        let salt: [u8; SALT_LEN] = unhex(&body.kdf.salt, "salt", path)?;
        let passphrase = source.read(false)?;
        let key = crypto::derive_key(passphrase.expose().as_bytes(), &salt, &body.kdf.params)
            .map_err(crypto_err)?;
        drop(passphrase);
        let cn: [u8; NONCE_LEN] = unhex(&body.check.nonce, "check nonce", path)?;
        let cct =
            hex::decode(&body.check.ct).map_err(|_| corrupt(path, "check is not hex".into()))?;
        match crypto::open(&key, &cn, &cct, &check_aad(&body)) {
            Some(p) if p.as_slice() == CHECK_PLAIN => {}
            _ => return Err(VaultError::WrongPassphrase(path.to_path_buf())),
        }
        if crypto::open(&key, &mac_nonce, &mac_tag, &file_aad(&bytes[..signed_len])).is_none() {
            return Err(VaultError::Tampered {
                path: path.to_path_buf(),
                detail: "the file tag does not match its contents".into(),
            });
        }
        let v = Vault {
            path: path.to_path_buf(),
            key,
            body,
            digest: Some(Sha256::digest(&bytes).into()),
        };
        // Authenticate every entry now, so damage is reported at open, not at first use.
        let mut seen = std::collections::HashSet::new();
        for e in &v.body.entries {
            validate_name(&e.name)
                .map_err(|_| corrupt(path, "an entry has an invalid name".into()))?;
            if !seen.insert(e.name.as_str()) {
                return Err(corrupt(path, format!("entry {:?} appears twice", e.name)));
            }
            v.decrypt(e)?;
        }
        Ok(v)
    }

    /// Opens the vault at `path`, or creates it when it does not exist yet.
    pub fn open_or_create(path: &Path, source: &PassphraseSource) -> Result<Vault, VaultError> {
        if path.exists() {
            Vault::open(path, source)
        } else {
            Vault::create(path, source)
        }
    }

    /// Opens `$CHELA_HOME/secrets.vault` with the passphrase from the environment's source
    /// ([`PassphraseSource::from_env`]: descriptor, systemd credential, or terminal).
    pub fn open_default(home: &Path) -> Result<Vault, VaultError> {
        Vault::open(&Vault::default_path(home), &PassphraseSource::from_env()?)
    }

    /// Every entry's name and value, e.g. to register each value with the guard's exact-value
    /// scrubber so it is masked wherever it shows up (transcripts, audit, tool output).
    pub fn all_values(&self) -> Result<Vec<(String, Secret)>, VaultError> {
        self.body
            .entries
            .iter()
            .map(|e| Ok((e.name.clone(), self.decrypt(e)?)))
            .collect()
    }

    /// The file this vault lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn decrypt(&self, e: &StoredEntry) -> Result<Secret, VaultError> {
        let tampered = || VaultError::Tampered {
            path: self.path.clone(),
            detail: format!("entry {:?} does not authenticate", e.name),
        };
        let n: [u8; NONCE_LEN] = unhex(&e.nonce, "entry nonce", &self.path)?;
        let ct = hex::decode(&e.ct).map_err(|_| tampered())?;
        let plain = crypto::open(&self.key, &n, &ct, &entry_aad(&self.body.vault_id, &e.name))
            .ok_or_else(tampered)?;
        let text = std::str::from_utf8(&plain).map_err(|_| tampered())?;
        Ok(Secret::new(text.to_string()))
    }

    fn seal_value(&self, name: &str, value: &str) -> Result<(String, String), VaultError> {
        let n = crypto::nonce().map_err(crypto_err)?;
        let ct = crypto::seal(
            &self.key,
            &n,
            value.as_bytes(),
            &entry_aad(&self.body.vault_id, name),
        )
        .map_err(crypto_err)?;
        Ok((hex::encode(n), hex::encode(ct)))
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.body.entries.iter().position(|e| e.name == name)
    }

    /// Stores a new secret. Fails if the name exists (use [`Vault::rotate`] to replace).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), VaultError> {
        validate_name(name)?;
        validate_value(value)?;
        if self.index(name).is_some() {
            return Err(VaultError::EntryExists(name.to_string()));
        }
        let (nonce, ct) = self.seal_value(name, value)?;
        let mut next = self.body.clone();
        next.entries.push(StoredEntry {
            name: name.to_string(),
            created: now(),
            last_used: None,
            rotated: None,
            nonce,
            ct,
        });
        next.entries.sort_by(|a, b| a.name.cmp(&b.name));
        self.commit(next)
    }

    /// Reads a secret and records the day it was used.
    pub fn get(&mut self, name: &str) -> Result<Secret, VaultError> {
        let i = self
            .index(name)
            .ok_or_else(|| VaultError::NoEntry(name.to_string()))?;
        let secret = self.decrypt(&self.body.entries[i])?;
        let t = now();
        let same_day = self.body.entries[i]
            .last_used
            .is_some_and(|u| u / 86_400 == t / 86_400);
        if !same_day {
            let mut next = self.body.clone();
            next.entries[i].last_used = Some(t);
            self.commit(next)?;
        }
        Ok(secret)
    }

    /// Reads a secret without recording use (for read-only deployments).
    pub fn peek(&self, name: &str) -> Result<Secret, VaultError> {
        let i = self
            .index(name)
            .ok_or_else(|| VaultError::NoEntry(name.to_string()))?;
        self.decrypt(&self.body.entries[i])
    }

    /// Names and ages of all entries, sorted by name.
    pub fn list(&self) -> Vec<EntryInfo> {
        let t = now();
        self.body
            .entries
            .iter()
            .map(|e| EntryInfo {
                name: e.name.clone(),
                created: e.created,
                last_used: e.last_used,
                rotated: e.rotated,
                age_days: t.saturating_sub(e.rotated.unwrap_or(e.created)) / 86_400,
            })
            .collect()
    }

    /// Deletes an entry.
    pub fn remove(&mut self, name: &str) -> Result<(), VaultError> {
        let i = self
            .index(name)
            .ok_or_else(|| VaultError::NoEntry(name.to_string()))?;
        let mut next = self.body.clone();
        next.entries.remove(i);
        self.commit(next)
    }

    /// Replaces an entry's value (fresh nonce) and records the rotation (CN-B5).
    pub fn rotate(&mut self, name: &str, new_value: &str) -> Result<(), VaultError> {
        validate_value(new_value)?;
        let i = self
            .index(name)
            .ok_or_else(|| VaultError::NoEntry(name.to_string()))?;
        let (nonce, ct) = self.seal_value(name, new_value)?;
        let mut next = self.body.clone();
        next.entries[i].nonce = nonce;
        next.entries[i].ct = ct;
        next.entries[i].rotated = Some(now());
        self.commit(next)
    }

    /// Re-encrypts every entry under a key derived from a new passphrase (fresh salt and
    /// nonces, same vault id and cost) in one atomic write. On failure the file and the open
    /// vault keep the old passphrase.
    pub fn change_passphrase(&mut self, new_source: &PassphraseSource) -> Result<(), VaultError> {
        let passphrase = read_new_passphrase(new_source)?;
        let mut salt = [0u8; SALT_LEN];
        crypto::random(&mut salt).map_err(crypto_err)?;
        let key = crypto::derive_key(passphrase.expose().as_bytes(), &salt, &self.body.kdf.params)
            .map_err(crypto_err)?;
        drop(passphrase);
        let mut next = self.body.clone();
        next.kdf.salt = hex::encode(salt);
        next.check = seal_check(&key, &next)?;
        for e in next.entries.iter_mut() {
            let value = self.decrypt(e)?;
            let n = crypto::nonce().map_err(crypto_err)?;
            let ct = crypto::seal(
                &key,
                &n,
                value.expose().as_bytes(),
                &entry_aad(&next.vault_id, &e.name),
            )
            .map_err(crypto_err)?;
            e.nonce = hex::encode(n);
            e.ct = hex::encode(ct);
        }
        let old_key = std::mem::replace(&mut self.key, key);
        let old_body = std::mem::replace(&mut self.body, next);
        if let Err(e) = self.persist() {
            self.key = old_key;
            self.body = old_body;
            return Err(e);
        }
        Ok(())
    }

    /// Writes `next`; only on success does it become the in-memory state.
    fn commit(&mut self, next: Body) -> Result<(), VaultError> {
        let prev = std::mem::replace(&mut self.body, next);
        if let Err(e) = self.persist() {
            self.body = prev;
            return Err(e);
        }
        Ok(())
    }

    /// Atomically replaces the file with the current state.
    fn persist(&mut self) -> Result<(), VaultError> {
        let _lock = WriteLock::take(&self.path)?;
        // Refuse to overwrite changes made by someone else since we read the file.
        let on_disk = match std::fs::read(&self.path) {
            Ok(b) => Some(<[u8; 32]>::from(Sha256::digest(&b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("cannot read", &self.path)(e)),
        };
        if on_disk != self.digest {
            return Err(VaultError::Conflict(self.path.clone()));
        }
        let mut out = format!("{MAGIC}\n").into_bytes();
        let json = serde_json::to_string_pretty(&self.body)
            .map_err(|e| VaultError::Crypto(format!("cannot serialize the vault: {e}")))?;
        out.extend_from_slice(json.as_bytes());
        out.push(b'\n');
        let mac_nonce = crypto::nonce().map_err(crypto_err)?;
        let tag = crypto::seal(&self.key, &mac_nonce, b"", &file_aad(&out)).map_err(crypto_err)?;
        out.extend_from_slice(
            format!("MAC {} {}\n", hex::encode(mac_nonce), hex::encode(tag)).as_bytes(),
        );

        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".secrets.vault.")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(&dir)
            .map_err(io("cannot create a temporary file in", &dir))?;
        tmp.write_all(&out)
            .map_err(io("cannot write", tmp.path()))?;
        tmp.as_file()
            .sync_all()
            .map_err(io("cannot sync", &self.path))?;
        tmp.persist(&self.path)
            .map_err(|e| io("cannot replace", &self.path)(e.error))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot sync the directory", &dir))?;
        self.digest = Some(Sha256::digest(&out).into());
        Ok(())
    }
}

fn read_vault_file(path: &Path) -> Result<Vec<u8>, VaultError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VaultError::NotFound(path.to_path_buf()))
        }
        Err(e) => return Err(io("cannot open", path)(e)),
    };
    let meta = f.metadata().map_err(io("cannot stat", path))?;
    if !meta.is_file() {
        return Err(corrupt(path, "not a regular file".into()));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(VaultError::Insecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io("cannot read", path))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(corrupt(path, format!("larger than {MAX_FILE} bytes")));
    }
    Ok(bytes)
}

/// Splits the file into the decoded body, the length of the signed prefix and the MAC.
fn parse(path: &Path, bytes: &[u8]) -> Result<(Body, usize, [u8; NONCE_LEN], Vec<u8>), VaultError> {
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt(path, "not UTF-8 text".into()))?;
    let rest = text
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix('\n'))
        .ok_or_else(|| corrupt(path, format!("it does not start with {MAGIC}")))?;
    let body_text = rest
        .strip_suffix('\n')
        .ok_or_else(|| corrupt(path, "the file is truncated (no final line)".into()))?;
    let (json, mac_line) = body_text
        .rsplit_once('\n')
        .ok_or_else(|| corrupt(path, "the file is truncated (no integrity line)".into()))?;
    let mac = mac_line
        .strip_prefix("MAC ")
        .ok_or_else(|| corrupt(path, "the file is truncated (no integrity line)".into()))?;
    let (n, t) = mac
        .split_once(' ')
        .ok_or_else(|| corrupt(path, "the integrity line is malformed".into()))?;
    let mac_nonce: [u8; NONCE_LEN] = unhex(n, "integrity nonce", path)?;
    let mac_tag = hex::decode(t).map_err(|_| corrupt(path, "integrity tag is not hex".into()))?;
    let body: Body = serde_json::from_str(json)
        .map_err(|e| corrupt(path, format!("the body does not parse: {e}")))?;
    if body.version != FORMAT_VERSION {
        return Err(corrupt(
            path,
            format!(
                "format version {} is not supported (expected {FORMAT_VERSION}); use a newer chela",
                body.version
            ),
        ));
    }
    if body.kdf.alg != "argon2id" {
        return Err(corrupt(
            path,
            format!("unknown key derivation {:?}", body.kdf.alg),
        ));
    }
    body.kdf
        .params
        .validate(false)
        .map_err(|e| corrupt(path, e))?;
    let signed_len = MAGIC.len() + 1 + json.len() + 1;
    Ok((body, signed_len, mac_nonce, mac_tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["openai", "OPENAI_API_KEY", "a.b-c_1", "9x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    fn quick() -> KdfParams {
        KdfParams {
            m_cost_kib: 8 * 1024,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn pw(s: &str) -> PassphraseSource {
        PassphraseSource::Value(Secret::new(s.into()))
    }

    #[test]
    fn swapped_entries_fail_even_with_a_valid_file_tag() {
        // Someone holding the key re-signs the file after swapping two ciphertexts: the
        // per-entry associated data (name + vault id + version) still catches it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(VAULT_FILE);
        let mut v = Vault::create_with_params(&path, &pw("passphrase-1"), quick()).unwrap();
        v.set("alpha", "value-a").unwrap();
        v.set("beta", "value-b").unwrap();
        let (a, b) = (v.body.entries[0].clone(), v.body.entries[1].clone());
        v.body.entries[0].nonce = b.nonce;
        v.body.entries[0].ct = b.ct;
        v.body.entries[1].nonce = a.nonce;
        v.body.entries[1].ct = a.ct;
        v.persist().unwrap();
        match Vault::open(&path, &pw("passphrase-1")) {
            Err(VaultError::Tampered { detail, .. }) => assert!(detail.contains("alpha")),
            other => panic!("expected Tampered, got {other:?}"),
        }
    }

    #[test]
    fn moved_between_vaults_fails() {
        let dir = tempfile::tempdir().unwrap();
        let p1 = dir.path().join("one.vault");
        let p2 = dir.path().join("two.vault");
        let mut v1 = Vault::create_with_params(&p1, &pw("passphrase-1"), quick()).unwrap();
        v1.set("k", "from-one").unwrap();
        let mut v2 = Vault::create_with_params(&p2, &pw("passphrase-1"), quick()).unwrap();
        v2.set("k", "from-two").unwrap();
        // Same passphrase, but different salt and vault id: v1's entry is useless in v2 even
        // under v2's key.
        v2.body.entries[0].nonce = v1.body.entries[0].nonce.clone();
        v2.body.entries[0].ct = v1.body.entries[0].ct.clone();
        v2.persist().unwrap();
        assert!(matches!(
            Vault::open(&p2, &pw("passphrase-1")),
            Err(VaultError::Tampered { .. })
        ));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("sk-live-abc".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
