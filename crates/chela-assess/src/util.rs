//! Small shared helpers: errors, private atomic writes, hashing, time, the audit log.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Errors from assessment commands; each names the file or item and the fix.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A stored file does not parse.
    #[error("{path}: {reason}; move it aside and run the command again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The audit log cannot record the action (so it is not taken).
    #[error("the audit log cannot record this ({0}); nothing was changed. Fix the audit directory (`chela audit verify`) and retry (NVDB-6)")]
    Audit(String),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
    /// The advisory feed could not be fetched or verified.
    #[error("advisory feed: {0}")]
    Feed(String),
}

/// Maps an I/O error to [`AssessError::Io`] for `path`.
pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AssessError + '_ {
    move |source| AssessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC (seconds) for Unix seconds.
pub fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(unix)).to_string()
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, std::io::Error> {
    let bytes = std::fs::read(path)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Creates `dir` with mode 0700 if missing.
pub fn private_dir(dir: &Path) -> Result<(), AssessError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename) with mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AssessError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    drop(f);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Permission bits of `path` (without following a final symlink), if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// The OS user running this process, as recorded on attestations and fixes.
pub fn owner_label() -> String {
    let uid = crate::host::effective_uid();
    format!("{} (uid {uid})", crate::host::user_name(uid))
}

/// Opens the audit log of `home` and appends `events` (as the owner), returning the sequence
/// numbers. Fails closed: an error means nothing was recorded.
pub fn audit_append(
    home: &Path,
    events: Vec<chela_types::EventKind>,
) -> Result<Vec<u64>, AssessError> {
    let log = chela_audit::AuditLog::open(&home.join("audit"))
        .map_err(|e| AssessError::Audit(e.to_string()))?;
    let user = crate::host::user_name(crate::host::effective_uid());
    let mut seqs = Vec::new();
    for kind in events {
        let ev =
            chela_types::Event::new(None, chela_types::Actor::Owner { user: user.clone() }, kind);
        seqs.push(
            log.append(ev)
                .map_err(|e| AssessError::Audit(e.to_string()))?,
        );
    }
    log.close().map_err(|e| AssessError::Audit(e.to_string()))?;
    Ok(seqs)
}
