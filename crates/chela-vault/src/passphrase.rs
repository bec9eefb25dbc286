//! Where the vault passphrase comes from: the terminal (no echo), an inherited file descriptor
//! (`CHELA_VAULT_PASSPHRASE_FD`), or a systemd credential (`$CREDENTIALS_DIRECTORY/chela-vault`).
//! Never from the command line and never from the *value* of an environment variable
//! (CNCERT-M2): the environment carries at most a descriptor number or a directory.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};
use std::path::PathBuf;

use crate::{Secret, VaultError};

/// Environment variable naming a readable file descriptor that carries the passphrase.
pub const PASSPHRASE_FD_ENV: &str = "CHELA_VAULT_PASSPHRASE_FD";
/// Name of the systemd credential (`LoadCredential=chela-vault:…`).
pub const SYSTEMD_CREDENTIAL: &str = "chela-vault";
/// Longest passphrase accepted, bytes.
const MAX_PASSPHRASE: usize = 4096;
/// Shortest passphrase accepted for a new vault, characters.
pub const MIN_NEW_PASSPHRASE: usize = 8;

/// A source of the vault passphrase.
#[derive(Debug)]
pub enum PassphraseSource {
    /// Ask on the controlling terminal (`/dev/tty`) with echo off.
    Terminal,
    /// Read up to end of file (one trailing newline removed) from this inherited descriptor.
    /// The descriptor is consumed (closed) by the read.
    Fd(RawFd),
    /// Read a file: a systemd credential (`$CREDENTIALS_DIRECTORY/chela-vault`), which lives on
    /// an unswappable tmpfs readable only by the service.
    File(PathBuf),
    /// A passphrase the caller already holds (tests, or an embedding program that prompted
    /// itself). Never build one from argv or an environment variable's value.
    Value(Secret),
}

impl PassphraseSource {
    /// Chooses the source from the environment: `CHELA_VAULT_PASSPHRASE_FD` first, then a
    /// systemd credential named `chela-vault`, else the terminal.
    pub fn from_env() -> Result<PassphraseSource, VaultError> {
        from_vars(
            std::env::var(PASSPHRASE_FD_ENV).ok(),
            std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        )
    }

    /// Reads the passphrase. `confirm` asks twice on a terminal (for a new vault).
    pub fn read(&self, confirm: bool) -> Result<Secret, VaultError> {
        let raw = match self {
            PassphraseSource::Terminal => {
                let first = prompt("Vault passphrase: ")?;
                if confirm {
                    let again = prompt("Repeat the passphrase: ")?;
                    if first.expose() != again.expose() {
                        return Err(VaultError::Passphrase(
                            "the two passphrases differ; nothing was written".into(),
                        ));
                    }
                }
                first
            }
            PassphraseSource::Fd(fd) => {
                if *fd < 0 {
                    return Err(VaultError::Passphrase(format!(
                        "{PASSPHRASE_FD_ENV}={fd} is not a file descriptor"
                    )));
                }
                // Check that the number names an open descriptor before taking ownership.
                // SAFETY: F_GETFD only queries descriptor flags; no memory is involved.
                if unsafe { libc::fcntl(*fd, libc::F_GETFD) } < 0 {
                    return Err(VaultError::Passphrase(format!(
                        "{PASSPHRASE_FD_ENV}={fd}: descriptor {fd} is not open; start chela with \
                         e.g. `{PASSPHRASE_FD_ENV}=3 chela … 3<passphrase-file`"
                    )));
                }
                // SAFETY: the descriptor is open (checked above) and handed to us by the
                // parent for this purpose; we take ownership and close it after reading.
                let file = unsafe { File::from_raw_fd(*fd) };
                read_bounded(file, &format!("descriptor {fd}"))?
            }
            PassphraseSource::File(path) => {
                let file = File::open(path).map_err(|e| {
                    VaultError::Passphrase(format!("cannot read {}: {e}", path.display()))
                })?;
                read_bounded(file, &path.display().to_string())?
            }
            PassphraseSource::Value(s) => Secret::new(s.expose().to_string()),
        };
        if raw.expose().is_empty() {
            return Err(VaultError::Passphrase("the passphrase is empty".into()));
        }
        Ok(raw)
    }
}

/// [`PassphraseSource::from_env`] on explicit values (testable without touching the process
/// environment).
pub fn from_vars(
    fd: Option<String>,
    credentials_dir: Option<PathBuf>,
) -> Result<PassphraseSource, VaultError> {
    if let Some(fd) = fd {
        let n: RawFd = fd.trim().parse().map_err(|_| {
            VaultError::Passphrase(format!(
                "{PASSPHRASE_FD_ENV} must hold a file descriptor number, not {} characters of \
                 something else (never put the passphrase itself in the environment)",
                fd.len()
            ))
        })?;
        if n < 3 {
            return Err(VaultError::Passphrase(format!(
                "{PASSPHRASE_FD_ENV}={n}: use a descriptor of 3 or more (0-2 are the terminal streams)"
            )));
        }
        return Ok(PassphraseSource::Fd(n));
    }
    if let Some(dir) = credentials_dir {
        let p = dir.join(SYSTEMD_CREDENTIAL);
        if p.is_file() {
            return Ok(PassphraseSource::File(p));
        }
    }
    Ok(PassphraseSource::Terminal)
}

fn prompt(text: &str) -> Result<Secret, VaultError> {
    rpassword::prompt_password(text)
        .map(Secret::new)
        .map_err(|e| {
            VaultError::Passphrase(format!(
                "cannot ask for the passphrase on a terminal ({e}); pass it on a descriptor \
             (`{PASSPHRASE_FD_ENV}=3 chela … 3<file`) or as the systemd credential \
             `{SYSTEMD_CREDENTIAL}`"
            ))
        })
}

fn read_bounded(file: File, what: &str) -> Result<Secret, VaultError> {
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_PASSPHRASE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            VaultError::Passphrase(format!("cannot read the passphrase from {what}: {e}"))
        })?;
    if buf.len() > MAX_PASSPHRASE {
        return Err(VaultError::Passphrase(format!(
            "the passphrase from {what} is longer than {MAX_PASSPHRASE} bytes"
        )));
    }
    let mut end = buf.len();
    if buf[..end].ends_with(b"\n") {
        end -= 1;
        if buf[..end].ends_with(b"\r") {
            end -= 1;
        }
    }
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| VaultError::Passphrase(format!("the passphrase from {what} is not UTF-8")))?;
    Ok(Secret::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::IntoRawFd;

    #[test]
    fn env_selection() {
        assert!(matches!(
            from_vars(Some("7".into()), None),
            Ok(PassphraseSource::Fd(7))
        ));
        let e = from_vars(Some("hunter2-secret".into()), None).unwrap_err();
        assert!(
            !e.to_string().contains("hunter2"),
            "the value must not be echoed"
        );
        assert!(from_vars(Some("1".into()), None).is_err());
        assert!(matches!(
            from_vars(None, None),
            Ok(PassphraseSource::Terminal)
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            from_vars(None, Some(dir.path().into())),
            Ok(PassphraseSource::Terminal)
        ));
        std::fs::write(dir.path().join(SYSTEMD_CREDENTIAL), "pw\n").unwrap();
        match from_vars(None, Some(dir.path().into())).unwrap() {
            PassphraseSource::File(p) => {
                let s = PassphraseSource::File(p).read(false).unwrap();
                assert_eq!(s.expose(), "pw");
            }
            other => panic!("expected a credential file, got {other:?}"),
        }
    }

    #[test]
    fn reads_from_a_pipe_descriptor() {
        let (r, mut w) = std::io::pipe().unwrap();
        w.write_all(b"correct horse battery\r\n").unwrap();
        drop(w);
        let fd = r.into_raw_fd();
        let s = PassphraseSource::Fd(fd).read(false).unwrap();
        assert_eq!(s.expose(), "correct horse battery");
    }

    #[test]
    fn empty_is_refused() {
        let src = PassphraseSource::Value(Secret::new(String::new()));
        assert!(src.read(false).is_err());
    }
}
