//! Chela's audit log.
//!
//! Every decision and effect is appended here before it runs and its outcome after
//! (DESIGN.md). Records are JSON lines under `$CHELA_HOME/audit/`, files mode 0600. A log that
//! cannot be written is an error the caller must treat as "refuse the effect".

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chela_types::{AuditSink, AuditUnavailable, Event, Scrubber};

/// Errors opening or writing the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log directory or file could not be created or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// An open, append-only audit log.
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<State>,
    scrubber: Option<Arc<dyn Scrubber>>,
}

struct State {
    file: File,
    next_seq: u64,
}

impl AuditLog {
    /// Opens (creating if needed) the log in `dir` (mode 0700 directory, 0600 files).
    pub fn open(dir: &Path) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let path = dir.join("audit.jsonl");
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let next_seq = existing.lines().count() as u64;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| AuditError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(AuditLog {
            path,
            state: Mutex::new(State { file, next_seq }),
            scrubber: None,
        })
    }

    /// Masks secrets in every record with `scrubber` before it is written.
    pub fn with_scrubber(mut self, scrubber: Arc<dyn Scrubber>) -> Self {
        self.scrubber = Some(scrubber);
        self
    }

    /// Appends one event; returns its sequence number.
    pub fn append(&self, event: Event) -> Result<u64, AuditError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let seq = state.next_seq;
        let time = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let mut value = serde_json::to_value(&event).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("seq".into(), seq.into());
            obj.insert("time".into(), time.into());
        }
        let mut line = value.to_string();
        if let Some(s) = &self.scrubber {
            line = s.scrub(&line);
        }
        line.push('\n');
        state
            .file
            .write_all(line.as_bytes())
            .map_err(|source| AuditError::Io {
                path: self.path.clone(),
                source,
            })?;
        state.next_seq += 1;
        Ok(seq)
    }
}

impl AuditSink for AuditLog {
    fn record(&self, event: Event) -> Result<u64, AuditUnavailable> {
        self.append(event)
            .map_err(|e| AuditUnavailable(e.to_string()))
    }
}
