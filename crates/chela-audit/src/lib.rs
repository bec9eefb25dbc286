//! Chela's tamper-evident audit log (CN-B3, CN-B4, CNCERT-M2, NVDB-6).
//!
//! Every decision and effect is appended here before it runs and its outcome after
//! (DESIGN.md). Records are JSON lines in append-only segment files under `$CHELA_HOME/audit/`
//! (directory 0700, files 0600), linked into one SHA-256 chain across segments, with ed25519
//! signed checkpoints every N records or T seconds, at rotation and at clean shutdown. The
//! schema is documented in `docs/audit-schema.md`.
//!
//! - [`AuditLog`] writes: `open`, `append` (thread-safe, fail closed), `close`.
//! - [`init_keys`] / [`public_key`]: the signing key made at `chela init`, and its public half
//!   for auditors.
//! - [`verify`] checks everything and names the first damage ([`DamageKind`]).
//! - [`read_records`] + [`render_table`] for `chela audit show`; [`export`] for SIEMs.
//!
//! A log that cannot be written is an error the caller must treat as "refuse the effect".
//!
//! ```
//! use chela_audit::{verify, AuditLog};
//! use chela_types::{Actor, Event, EventKind};
//!
//! let home = tempfile::tempdir().unwrap();
//! let dir = home.path().join("audit");
//! chela_audit::init_keys(&dir).unwrap(); // at `chela init`
//! let log = AuditLog::open(&dir).unwrap();
//! let seq = log
//!     .append(Event::new(
//!         Some("s1"),
//!         Actor::Agent,
//!         EventKind::ToolStarted { call_id: "c1".into(), tool: "exec".into() },
//!     ))
//!     .unwrap();
//! assert_eq!(seq, 2); // 0 = genesis, 1 = first checkpoint
//! log.close().unwrap(); // also done by Drop: signed shutdown checkpoint
//! let report = verify(&dir, None).unwrap();
//! assert!(report.ok, "{}", report.summary());
//! ```

mod control;
mod export;
mod keys;
mod log;
mod read;
mod record;
mod scrub;
mod segment;
mod sys;
mod verify;

use std::path::PathBuf;

pub use export::{
    export, format_cef, format_syslog, ExportFormat, ExportSink, SYSLOG_FACILITY, SYSLOG_SD_ID,
    UDP_MAX,
};
pub use keys::{init_keys, public_key, KEY_FILE, PUB_FILE};
pub use log::{AuditLog, AuditOptions, OpenReport, TornTail};
pub use read::{
    actor_label, details, for_each_record, read_records, render_table, AuditRecord, RecordFilter,
};
pub use record::SCHEMA_VERSION;
pub use scrub::{LiteralScrubber, MASK};
pub use segment::{HEAD_FILE, LOCK_FILE, TORN_EXT};
pub use verify::{verify, Damage, DamageKind, KeySource, VerifyReport};

/// Errors opening, writing, reading or exporting the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file or directory could not be created, read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// `init_keys` found a key already there.
    #[error("audit signing key {path} already exists; refusing to overwrite it (the existing log is signed with it)")]
    KeyExists {
        /// The existing key file.
        path: PathBuf,
    },
    /// The log exists but its signing key does not.
    #[error("audit signing key {path} is missing but the log exists; restore the key from backup (or move the log aside to start a new one)")]
    KeyMissing {
        /// Where the key was expected.
        path: PathBuf,
    },
    /// The private key is readable by group or others.
    #[error("audit signing key {path} has mode {mode:o}; it must be private: chmod 600 {path}")]
    KeyInsecure {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file could not be parsed.
    #[error("audit key {path}: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file does not match the key the log was created with.
    #[error("audit signing key {path} ({file_key}) is not the key this log was created with ({log_key}); restore the right key or move the log aside")]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// Key named in the log.
        log_key: String,
        /// Key in the file.
        file_key: String,
    },
    /// The log is damaged in a way that stops it from being continued or read.
    #[error("audit log {path} is damaged: {detail}; run `chela audit verify` for details")]
    Damaged {
        /// File concerned.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An earlier write or fsync failed; the log refuses further records until reopened.
    #[error("audit log unusable after an earlier failure ({reason}); fix the cause (disk space, permissions) and restart")]
    Failed {
        /// The earlier failure.
        reason: String,
    },
    /// The log was closed.
    #[error("audit log is closed")]
    Closed,
    /// An event could not be serialized.
    #[error("audit event could not be serialized: {detail}")]
    Serialize {
        /// Serializer message.
        detail: String,
    },
    /// There is no log in the directory.
    #[error("no audit log in {dir} (no seg-*.jsonl files); run `chela init` or check $CHELA_HOME")]
    NoLog {
        /// Directory searched.
        dir: PathBuf,
    },
    /// A bad argument (export format or target).
    #[error("{detail}")]
    Usage {
        /// What is wrong and how to fix it.
        detail: String,
    },
}
