//! Attestations for items only documents can evidence (`chela assess attest ID --note TEXT`).
//! Each is appended to the audit log (actor: the owner, kind `attestation`) and stored in
//! `$CHELA_HOME/assess/attestations.json` (mode 0600) so later runs show who attested and when.
//! An attestation lasts [`VALID_DAYS`]; then the item is `manual` again.

use std::path::{Path, PathBuf};

use crate::model::Attestation;
use crate::util::{self, AssessError};

/// Items that only documents can evidence (internal rules, incident response and training,
/// host-level intrusion detection run by the operator).
pub const MANUAL_ITEMS: &[&str] = &["CN-B4", "CN-B6", "CN-C2"];

/// How long an attestation counts, in days.
pub const VALID_DAYS: u64 = 365;

/// Where attestations are stored.
pub fn store_path(home: &Path) -> PathBuf {
    home.join("assess").join("attestations.json")
}

/// All stored attestations (latest last).
pub fn load(home: &Path) -> Result<Vec<Attestation>, AssessError> {
    let p = store_path(home);
    match std::fs::read_to_string(&p) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| AssessError::Corrupt {
            path: p,
            reason: format!("not an attestation list: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(util::io_err(&p)(e)),
    }
}

/// The latest attestation for `id` still valid at `now` (Unix seconds).
pub fn current<'a>(all: &'a [Attestation], id: &str, now: u64) -> Option<&'a Attestation> {
    all.iter()
        .filter(|a| a.id == id && now.saturating_sub(a.at_unix) <= VALID_DAYS * 86_400)
        .max_by_key(|a| a.at_unix)
}

/// Records an attestation: audited first (fail closed), then stored.
pub fn attest(home: &Path, id: &str, note: &str) -> Result<Attestation, AssessError> {
    let id = id.trim().to_ascii_uppercase();
    if !MANUAL_ITEMS.contains(&id.as_str()) {
        let known = crate::guidance::items().iter().any(|i| i.id == id);
        return Err(AssessError::Usage(if known {
            format!(
                "{id} is checked automatically from live evidence; attestations apply to the items only documents can evidence: {}",
                MANUAL_ITEMS.join(", ")
            )
        } else {
            format!(
                "unknown item `{id}`; items that take an attestation: {}",
                MANUAL_ITEMS.join(", ")
            )
        }));
    }
    let note = note.trim();
    if note.len() < 10 {
        return Err(AssessError::Usage(
            "the note must say what evidences the item (at least 10 characters), e.g. --note \"IR plan v2 approved 2026-10-02; drill 2026-11-15\"".into(),
        ));
    }
    let mut all = load(home)?;
    let seq = util::audit_append(
        home,
        vec![chela_types::EventKind::Attestation {
            item: id.clone(),
            note: note.to_string(),
        }],
    )?;
    let now = util::now_unix();
    let a = Attestation {
        id,
        note: note.to_string(),
        by: util::owner_label(),
        at: util::rfc3339(now),
        at_unix: now,
        audit_seq: seq.first().copied(),
    };
    all.push(a.clone());
    util::private_dir(&home.join("assess"))?;
    let text = serde_json::to_string_pretty(&all).map_err(|e| AssessError::Corrupt {
        path: store_path(home),
        reason: e.to_string(),
    })?;
    util::write_private(&store_path(home), format!("{text}\n").as_bytes())?;
    Ok(a)
}
