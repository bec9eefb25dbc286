//! Records the log writes about itself: segment starts, signed checkpoints, set-aside torn tails.

use serde::{Deserialize, Serialize};

/// A control record's fields (serialized with `kind` first, which is how the verifier tells
/// control records from events without parsing JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Control {
    /// First record of every segment; in segment 1 it is the log's genesis (`seq` 0).
    SegmentStart {
        /// Random 128-bit id of this installation's log (hex).
        log_id: String,
        /// Segment number (1, 2, …), equal to the number in the file name.
        segment: u64,
        /// The checkpoint signing key (`ed25519:<base64>`).
        pubkey: String,
        /// Schema version.
        schema: u32,
    },
    /// An ed25519 signature over the chain head (`prev` of this record = hash of the record
    /// before it).
    Checkpoint {
        /// The log's id.
        log_id: String,
        /// Segment the checkpoint is in.
        segment: u64,
        /// `interval`, `count`, `open`, `rotate` or `shutdown`.
        reason: String,
        /// Base64 ed25519 signature over [`checkpoint_message`].
        sig: String,
    },
    /// A torn final record was found after a crash and moved to a `.torn` file.
    TornTail {
        /// Segment the torn bytes were cut from.
        segment: u64,
        /// Byte offset where they started.
        offset: u64,
        /// How many bytes were set aside.
        bytes: u64,
        /// SHA-256 of the set-aside bytes.
        sha256: String,
        /// File name (in the audit directory) they were moved to.
        file: String,
    },
}

/// The exact bytes a checkpoint signature covers.
pub(crate) fn checkpoint_message(
    log_id: &str,
    seq: u64,
    prev_hex: &str,
    time: &str,
    segment: u64,
    reason: &str,
) -> Vec<u8> {
    format!(
        "chela-audit checkpoint v1\nlog_id={log_id}\nseq={seq}\nprev={prev_hex}\ntime={time}\nsegment={segment}\nreason={reason}\n"
    )
    .into_bytes()
}

/// Serializes a control record's fields (inside of the object, no braces).
pub(crate) fn control_fields(c: &Control) -> Vec<u8> {
    // Serializing a plain enum of strings and integers to JSON cannot fail.
    let json = serde_json::to_vec(c).unwrap_or_default();
    match crate::record::object_inside(&json) {
        Some(inside) => inside.to_vec(),
        None => Vec::new(),
    }
}

/// Parses a full record line as a control record.
pub(crate) fn parse_control(line: &[u8]) -> Option<Control> {
    serde_json::from_slice(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_fields_start_with_kind() {
        let f = control_fields(&Control::Checkpoint {
            log_id: "ab".into(),
            segment: 1,
            reason: "open".into(),
            sig: "x".into(),
        });
        assert!(f.starts_with(crate::record::CONTROL_PREFIX));
    }
}
