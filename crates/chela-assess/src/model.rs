//! The report model: what `--json` prints (schema in `docs/assess-schema.md`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::guidance::Audience;

/// Version of the JSON report schema. Bumped only on incompatible changes; fields may be added
/// within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The item is met; the evidence shows how.
    Pass,
    /// Only documents can evidence the item; no (current) attestation.
    Manual,
    /// The item is met only partly, or cannot be confirmed; see the remediation.
    Warn,
    /// The item is not met.
    Fail,
}

impl Status {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Manual => "manual",
        }
    }

    /// Upper-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Manual => "MANUAL",
        }
    }

    /// The worse of two statuses (fail > warn > manual > pass).
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }
}

/// One observation backing a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was observed (`effective uid`, `listening sockets`, …).
    pub label: String,
    /// The observed value.
    pub value: String,
}

impl Evidence {
    /// A new observation.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Evidence {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// A human attestation of a manual item (`chela assess attest ID --note TEXT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// Guidance ID.
    pub id: String,
    /// The note (what document or exercise evidences the item).
    pub note: String,
    /// Who attested (OS user name and uid).
    pub by: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Unix seconds of `at`.
    pub at_unix: u64,
    /// Sequence number of the `attestation` record in the audit log.
    pub audit_seq: Option<u64>,
}

/// A safe fix `--fix` may apply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Set a file or directory's permission bits.
    Chmod {
        /// The path.
        path: PathBuf,
        /// The new mode (e.g. 0o600).
        mode: u32,
    },
    /// Create the audit log directory (mode 0700) and open the log so it records again.
    EnableAuditLog {
        /// The audit directory.
        dir: PathBuf,
    },
    /// Record a fresh configuration hash baseline.
    RecordBaseline,
    /// Replace a weak `[gateway]` token in config.toml with a random 256-bit token.
    RegenerateGatewayToken {
        /// The configuration file.
        config: PathBuf,
    },
}

impl Fix {
    /// What the fix does, as a command-like line.
    pub fn describe(&self) -> String {
        match self {
            Fix::Chmod { path, mode } => format!("chmod {:o} {}", mode, path.display()),
            Fix::EnableAuditLog { dir } => format!(
                "mkdir -m 700 {} and open the audit log (re-enables recording)",
                dir.display()
            ),
            Fix::RecordBaseline => {
                "chela assess baseline (record the configuration hash baseline)".into()
            }
            Fix::RegenerateGatewayToken { config } => format!(
                "replace the weak [gateway] token in {} with a random 256-bit token",
                config.display()
            ),
        }
    }
}

/// The result of one guidance item's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Guidance ID.
    pub id: String,
    /// Audience group.
    pub audience: Audience,
    /// The requirement text from GUIDANCE.md.
    pub requirement: String,
    /// pass, warn, fail or manual.
    pub status: Status,
    /// One-line finding.
    pub summary: String,
    /// What was observed.
    pub evidence: Vec<Evidence>,
    /// Exact commands or config lines that fix or evidence the item (empty when passing).
    pub remediation: Vec<String>,
    /// OWASP LLM Top 10 2025 / Agentic Top 10 2026 IDs from the cross-map.
    pub owasp: Vec<String>,
    /// Whether the item can only be evidenced by documents (attestation).
    pub manual: bool,
    /// The current attestation, if any.
    pub attestation: Option<Attestation>,
    /// Safe fixes `--fix` would apply for this item.
    pub fixes: Vec<Fix>,
}

/// Facts about the assessed host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// Kernel release.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Effective uid of the assessing process.
    pub euid: u32,
    /// User name of the assessing process.
    pub user: String,
    /// `container`, `vm`, `bare` or `unknown`.
    pub environment: String,
}

/// The audit log's head at the time of the assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Sequence number of the last good record.
    pub seq: Option<u64>,
    /// Its hash (chains every earlier record).
    pub hash: Option<String>,
    /// The log's signing public key.
    pub pubkey: Option<String>,
    /// Whether `verify` passed.
    pub verified: bool,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Items passing.
    pub pass: u32,
    /// Items with warnings.
    pub warn: u32,
    /// Items failing.
    pub fail: u32,
    /// Items awaiting attestation.
    pub manual: u32,
}

/// A full assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `chela assess`.
    pub tool: String,
    /// Chela version.
    pub chela_version: String,
    /// Whether this is a release build (debug builds are not official releases).
    pub release_build: bool,
    /// When the assessment ran, RFC 3339 UTC.
    pub generated_at: String,
    /// `$CHELA_HOME` assessed.
    pub chela_home: String,
    /// The host.
    pub host: HostInfo,
    /// The audit log head (null when there is no readable log).
    pub audit_head: Option<AuditHead>,
    /// Counts per status.
    pub summary: Summary,
    /// 0 when nothing fails, 5 when something fails.
    pub exit_code: i32,
    /// One result per guidance item, in GUIDANCE.md order.
    pub items: Vec<ItemResult>,
}

impl Report {
    /// Recomputes `summary` and `exit_code` from the items.
    pub fn finish(&mut self) {
        let mut s = Summary::default();
        for i in &self.items {
            match i.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Manual => s.manual += 1,
            }
        }
        self.summary = s;
        self.exit_code = if s.fail > 0 {
            chela_types::exit::ASSESS_FAIL
        } else {
            chela_types::exit::OK
        };
    }

    /// The result for `id`.
    pub fn item(&self, id: &str) -> Option<&ItemResult> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Every safe fix proposed, without duplicates, with the items asking for it.
    pub fn fixes(&self) -> Vec<(Fix, Vec<String>)> {
        let mut out: Vec<(Fix, Vec<String>)> = Vec::new();
        for i in &self.items {
            for f in &i.fixes {
                match out.iter_mut().find(|(g, _)| g == f) {
                    Some((_, ids)) => ids.push(i.id.clone()),
                    None => out.push((f.clone(), vec![i.id.clone()])),
                }
            }
        }
        out
    }
}
