//! The configuration hash baseline (CN-D7): SHA-256 of every core configuration and key file,
//! recorded at `chela init` and by `chela assess baseline` in `$CHELA_HOME/baseline.json`
//! (mode 0600), each recording also written to the audit log as `config_changed` events.
//! `chela assess` reports drift per file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::{self, AssessError};

/// File name of the baseline inside `$CHELA_HOME`.
pub const BASELINE_FILE: &str = "baseline.json";

/// Organisation policy path (DESIGN.md "Public surface").
pub const ORG_POLICY: &str = "/etc/chela/policy.toml";

/// One file's recorded hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    /// Path relative to `$CHELA_HOME` for files inside it, absolute otherwise.
    pub path: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits when recorded (octal text, e.g. `600`).
    pub mode: String,
}

/// The recorded baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    /// When recorded, RFC 3339 UTC.
    pub recorded_at: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// Chela version that recorded it.
    pub chela_version: String,
    /// The files.
    pub files: Vec<FileHash>,
}

/// How one file differs from the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The file.
    pub path: String,
    /// `changed`, `missing` or `new`.
    pub kind: &'static str,
    /// Hash in the baseline.
    pub old: Option<String>,
    /// Hash now.
    pub new: Option<String>,
}

/// The files covered by the baseline: config, the audit log's public key (a replaced key pair
/// shows here; the private key itself is never hashed into a record), organisation policy.
pub fn tracked_files(home: &Path, org_policy: &Path) -> Vec<PathBuf> {
    vec![
        home.join("config.toml"),
        home.join("audit").join(chela_audit::PUB_FILE),
        org_policy.to_path_buf(),
    ]
}

/// Hashes every tracked file that exists.
pub fn current(home: &Path, org_policy: &Path) -> Result<Vec<FileHash>, AssessError> {
    let mut out = Vec::new();
    for p in tracked_files(home, org_policy) {
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(util::io_err(&p)(e)),
        };
        let sha256 = util::sha256_file(&p).map_err(util::io_err(&p))?;
        // Files in $CHELA_HOME are named relative to it, so a moved or restored home compares.
        let name = p
            .strip_prefix(home)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        out.push(FileHash {
            path: name,
            sha256,
            size: meta.len(),
            mode: format!("{:o}", util::mode_of(&p).unwrap_or(0)),
        });
    }
    Ok(out)
}

/// Reads the baseline; `Ok(None)` when none was recorded.
pub fn load(home: &Path) -> Result<Option<Baseline>, AssessError> {
    let path = home.join(BASELINE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let mut b: Baseline = serde_json::from_str(&t).map_err(|e| AssessError::Corrupt {
                path,
                reason: format!("not a baseline: {e}"),
            })?;
            // Absolute names of files inside the home (older baselines) compare as relative.
            for f in &mut b.files {
                if let Ok(rel) = Path::new(&f.path).strip_prefix(home) {
                    f.path = rel.to_string_lossy().into_owned();
                }
            }
            Ok(Some(b))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(util::io_err(&path)(e)),
    }
}

/// Compares the baseline with the files now.
pub fn drift(base: &Baseline, now: &[FileHash]) -> Vec<Drift> {
    let mut out = Vec::new();
    for b in &base.files {
        match now.iter().find(|n| n.path == b.path) {
            Some(n) if n.sha256 != b.sha256 => out.push(Drift {
                path: b.path.clone(),
                kind: "changed",
                old: Some(b.sha256.clone()),
                new: Some(n.sha256.clone()),
            }),
            Some(_) => {}
            None => out.push(Drift {
                path: b.path.clone(),
                kind: "missing",
                old: Some(b.sha256.clone()),
                new: None,
            }),
        }
    }
    for n in now {
        if !base.files.iter().any(|b| b.path == n.path) {
            out.push(Drift {
                path: n.path.clone(),
                kind: "new",
                old: None,
                new: Some(n.sha256.clone()),
            });
        }
    }
    out
}

/// Records the baseline for `home` (organisation policy at `org_policy`) and audits each file
/// as a `config_changed` event. The audit log is opened first: if it cannot record, nothing is
/// written.
pub fn record_with(home: &Path, org_policy: &Path) -> Result<Baseline, AssessError> {
    // Opening the log first creates it (and its keys) on a fresh home, so they are covered.
    let log = chela_audit::AuditLog::open(&home.join("audit"))
        .map_err(|e| AssessError::Audit(e.to_string()))?;
    let files = current(home, org_policy)?;
    let now = util::now_unix();
    let base = Baseline {
        version: 1,
        recorded_at: util::rfc3339(now),
        recorded_by: util::owner_label(),
        chela_version: env!("CARGO_PKG_VERSION").to_string(),
        files,
    };
    let text = serde_json::to_string_pretty(&base).map_err(|e| AssessError::Corrupt {
        path: home.join(BASELINE_FILE),
        reason: e.to_string(),
    })?;
    util::write_private(&home.join(BASELINE_FILE), format!("{text}\n").as_bytes())?;
    let user = crate::host::user_name(crate::host::effective_uid());
    for f in &base.files {
        log.append(chela_types::Event::new(
            None,
            chela_types::Actor::Owner { user: user.clone() },
            chela_types::EventKind::ConfigChanged {
                path: home.join(&f.path).to_string_lossy().into_owned(),
                sha256: f.sha256.clone(),
            },
        ))
        .map_err(|e| AssessError::Audit(e.to_string()))?;
    }
    log.close().map_err(|e| AssessError::Audit(e.to_string()))?;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_home_and_absolute_names_compare() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("h");
        std::fs::create_dir_all(home.join("audit")).unwrap();
        std::fs::write(home.join("config.toml"), "[provider]\n").unwrap();
        let org = d.path().join("org.toml");
        let now = current(&home, &org).unwrap();
        assert_eq!(now[0].path, "config.toml");
        // An older baseline naming the file absolutely.
        let mut old = now.clone();
        old[0].path = home.join("config.toml").to_string_lossy().into_owned();
        let b = Baseline {
            version: 1,
            recorded_at: "x".into(),
            recorded_by: "y".into(),
            chela_version: "0".into(),
            files: old,
        };
        std::fs::write(home.join(BASELINE_FILE), serde_json::to_string(&b).unwrap()).unwrap();
        let loaded = load(&home).unwrap().unwrap();
        assert!(drift(&loaded, &now).is_empty());
        std::fs::write(home.join("config.toml"), "[provider]\nx = 1\n").unwrap();
        let d2 = drift(&loaded, &current(&home, &org).unwrap());
        assert_eq!(d2.len(), 1);
        assert_eq!(d2[0].kind, "changed");
    }
}
