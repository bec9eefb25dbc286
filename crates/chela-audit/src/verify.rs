//! `chela audit verify`: walks every segment, checks every hash, link and signature, and names
//! the first damage.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use base64::Engine as _;

use crate::control::{checkpoint_message, parse_control, Control};
use crate::keys;
use crate::record::{hex32, parse_line, sha256_hex, HashHex, RawRecord, SUFFIX_LEN, ZERO_HASH};
use crate::segment::{self, io_err, list_segments};
use crate::sys::LockGuard;
use crate::AuditError;

/// The kind of damage `verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    /// A record's content no longer matches its hash, or a record was replaced.
    Modified,
    /// Records or whole segments are missing from the chain.
    Deleted,
    /// A line that is not part of the chain was inserted.
    Inserted,
    /// Records or segments are out of order.
    Reordered,
    /// The log ends before the latest signed checkpoint (`head.json`).
    Truncated,
    /// A segment belongs to another installation's log.
    ForeignSegment,
    /// A checkpoint signature (or the key the log was created with) does not verify.
    BadSignature,
    /// The final record is incomplete (a crash interrupted a write).
    TornTail,
    /// A line or control record is not in the documented format.
    Malformed,
}

impl DamageKind {
    /// Stable lowercase name (`modified`, `deleted`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DamageKind::Modified => "modified",
            DamageKind::Deleted => "deleted",
            DamageKind::Inserted => "inserted",
            DamageKind::Reordered => "reordered",
            DamageKind::Truncated => "truncated",
            DamageKind::ForeignSegment => "foreign_segment",
            DamageKind::BadSignature => "bad_signature",
            DamageKind::TornTail => "torn_tail",
            DamageKind::Malformed => "malformed",
        }
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first damage found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// What kind.
    pub kind: DamageKind,
    /// Segment file (or `head.json`) where it was found.
    pub file: PathBuf,
    /// 1-based line in that file, when it concerns a line.
    pub line: Option<u64>,
    /// Sequence number of the record concerned, when known.
    pub seq: Option<u64>,
    /// Human-readable explanation.
    pub detail: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.file.display())?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        if let Some(s) = self.seq {
            write!(f, " (seq {s})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Where the verifying key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A key file the auditor supplied (`--pubkey`): an attacker who controls the log
    /// directory cannot substitute it.
    Pinned,
    /// `audit.pub` beside the log: proves integrity against anyone without the private key,
    /// but not against someone who replaced both keys and re-signed everything.
    LogDirectory,
}

/// Result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when no damage was found.
    pub ok: bool,
    /// Records checked (including control records).
    pub records: u64,
    /// Segment files checked.
    pub segments: u64,
    /// Signed checkpoints verified.
    pub checkpoints: u64,
    /// Sequence number of the last good record.
    pub last_seq: Option<u64>,
    /// Hash of the last good record.
    pub last_hash: Option<String>,
    /// Sequence number of the last verified checkpoint.
    pub last_checkpoint_seq: Option<u64>,
    /// Records after the last verified checkpoint: protected by the hash chain only.
    pub unsigned_tail: u64,
    /// Sequence number covered by `head.json` (the latest durable signed checkpoint).
    pub head_seq: Option<u64>,
    /// The log's id (from its genesis record).
    pub log_id: Option<String>,
    /// The key signatures were checked with (`ed25519:<base64>`).
    pub pubkey: String,
    /// Where that key came from.
    pub key_source: KeySource,
    /// `torn_tail` records in the chain (crash leftovers that were set aside and recorded).
    pub torn_recorded: u64,
    /// `.torn` files in the directory (the set-aside bytes, kept for inspection).
    pub torn_files: Vec<PathBuf>,
    /// The first damage, if any.
    pub damage: Option<Damage>,
}

impl VerifyReport {
    /// A readable multi-line summary for `chela audit verify`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        match &self.damage {
            None => s.push_str(&format!(
                "audit log OK: {} records in {} segment(s), {} signed checkpoint(s)\n",
                self.records, self.segments, self.checkpoints
            )),
            Some(d) => s.push_str(&format!("audit log DAMAGED: {d}\n")),
        }
        if let Some(id) = &self.log_id {
            s.push_str(&format!("log id: {id}\n"));
        }
        if let (Some(seq), Some(h)) = (self.last_seq, &self.last_hash) {
            s.push_str(&format!("last good record: seq {seq}, hash {h}\n"));
        }
        if let Some(c) = self.last_checkpoint_seq {
            s.push_str(&format!(
                "last signed checkpoint: seq {c}; {} record(s) after it are hash-chained only\n",
                self.unsigned_tail
            ));
        }
        s.push_str(&format!(
            "key: {} ({})\n",
            self.pubkey,
            match self.key_source {
                KeySource::Pinned => "pinned by --pubkey",
                KeySource::LogDirectory =>
                    "from the log directory; pass --pubkey with a copy you hold for full assurance",
            }
        ));
        if self.torn_recorded > 0 || !self.torn_files.is_empty() {
            s.push_str(&format!(
                "torn tails set aside after crashes: {} recorded, files: {}\n",
                self.torn_recorded,
                self.torn_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s
    }
}

/// Verifies the whole log in `dir`. Signatures are checked with the key in `pubkey` (a file
/// holding `chela audit pubkey` output) or, without it, with `audit.pub` in `dir`.
///
/// Damage is reported in [`VerifyReport::damage`] (the first one found); `Err` means the log
/// could not be read at all.
pub fn verify(dir: &Path, pubkey: Option<&Path>) -> Result<VerifyReport, AuditError> {
    let (key, key_source) = match pubkey {
        Some(p) => (keys::read_public_file(p)?, KeySource::Pinned),
        None => (keys::local_public(dir)?, KeySource::LogDirectory),
    };
    // Read the head before the segments: it only ever names records already durable there.
    let head = segment::read_head(dir)?;
    let segs = list_segments(dir)?;
    if segs.is_empty() {
        return Err(AuditError::NoLog {
            dir: dir.to_path_buf(),
        });
    }
    let mut v = Verifier {
        key,
        report: VerifyReport {
            ok: false,
            records: 0,
            segments: 0,
            checkpoints: 0,
            last_seq: None,
            last_hash: None,
            last_checkpoint_seq: None,
            unsigned_tail: 0,
            head_seq: None,
            log_id: None,
            pubkey: keys::encode_public(&key),
            key_source,
            torn_recorded: 0,
            torn_files: segment::list_torn(dir),
            damage: None,
        },
        expected: 0,
        prev: ZERO_HASH,
        prev_prev: None,
        head: None,
        io_error: None,
        head_log_id: None,
    };
    let result = v.run(dir, head, &segs);
    if let Some(e) = v.io_error.take() {
        return Err(e);
    }
    if let Err(d) = result {
        v.report.damage = Some(d);
    }
    v.report.ok = v.report.damage.is_none();
    v.report.unsigned_tail = match (v.report.last_seq, v.report.last_checkpoint_seq) {
        (Some(l), Some(c)) => l - c,
        (Some(l), None) => l + 1,
        _ => 0,
    };
    Ok(v.report)
}

struct Verifier {
    key: VerifyingKey,
    report: VerifyReport,
    expected: u64,
    prev: HashHex,
    prev_prev: Option<HashHex>,
    head: Option<(u64, HashHex)>,
    /// `log_id` named by `head.json`.
    head_log_id: Option<String>,
    /// A segment that could not be read (not damage: an I/O problem to report as `Err`).
    io_error: Option<AuditError>,
}

fn damage(
    kind: DamageKind,
    file: &Path,
    line: Option<u64>,
    seq: Option<u64>,
    detail: String,
) -> Damage {
    Damage {
        kind,
        file: file.to_path_buf(),
        line,
        seq,
        detail,
    }
}

/// A byte range `start..end` in a segment.
type Span = (usize, usize);

/// Byte ranges of the complete lines of `data`, and of trailing bytes without a newline.
fn line_ranges(data: &[u8]) -> (Vec<Span>, Option<Span>) {
    let mut out = Vec::with_capacity(data.len() / 200 + 1);
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        out.push((start, nl));
        start = nl + 1;
    }
    let torn = (start < data.len()).then_some((start, data.len()));
    (out, torn)
}

impl Verifier {
    fn run(
        &mut self,
        dir: &Path,
        head: Option<Vec<u8>>,
        segs: &[(u64, PathBuf)],
    ) -> Result<(), Damage> {
        if let Some(line) = head {
            self.check_head(dir, &line)?;
        }
        let mut prev_index = 0u64;
        let mut buf = Vec::new();
        for (n, (index, path)) in segs.iter().enumerate() {
            let is_last = n + 1 == segs.len();
            if *index != prev_index + 1 {
                let missing = if *index == prev_index + 2 {
                    segment::segment_name(prev_index + 1)
                } else {
                    format!(
                        "{} … {}",
                        segment::segment_name(prev_index + 1),
                        segment::segment_name(index - 1)
                    )
                };
                return Err(damage(
                    DamageKind::Deleted,
                    path,
                    None,
                    None,
                    format!("segment file(s) {missing} missing before this one"),
                ));
            }
            prev_index = *index;
            self.report.segments += 1;
            if let Err(e) = read_segment(dir, path, is_last, &mut buf) {
                self.io_error = Some(e);
                return Ok(());
            }
            self.segment(*index, path, &buf, is_last)?;
        }
        if let Some((hseq, _)) = self.head {
            if hseq >= self.expected {
                return Err(damage(
                    DamageKind::Truncated,
                    &segs[segs.len() - 1].1,
                    None,
                    Some(self.expected),
                    format!(
                        "the log ends at seq {} but the signed checkpoint in {} covers seq {hseq}: records were cut off",
                        self.expected.saturating_sub(1),
                        segment::HEAD_FILE
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_head(&mut self, dir: &Path, line: &[u8]) -> Result<(), Damage> {
        let path = dir.join(segment::HEAD_FILE);
        let bad = |detail: String| damage(DamageKind::BadSignature, &path, None, None, detail);
        let rec = parse_line(line).map_err(|m| bad(format!("not a checkpoint record ({m})")))?;
        if rec.computed_hash() != rec.hash {
            return Err(bad("does not match its own hash".into()));
        }
        match parse_control(line) {
            Some(Control::Checkpoint {
                log_id,
                segment,
                reason,
                sig,
            }) => {
                if !self.signature_ok(&rec, &log_id, segment, &reason, &sig) {
                    return Err(bad(format!(
                        "the head checkpoint (seq {}) signature does not verify with {}",
                        rec.seq, self.report.pubkey
                    )));
                }
                self.report.head_seq = Some(rec.seq);
                self.head = Some((rec.seq, rec.hash));
                self.head_log_id = Some(log_id);
                Ok(())
            }
            _ => Err(bad("not a checkpoint record".into())),
        }
    }

    fn signature_ok(
        &self,
        rec: &RawRecord<'_>,
        log_id: &str,
        segment: u64,
        reason: &str,
        sig: &str,
    ) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        let msg = checkpoint_message(
            log_id,
            rec.seq,
            &hex32(&rec.prev),
            rec.time,
            segment,
            reason,
        );
        self.key.verify_strict(&msg, &sig).is_ok()
    }

    /// Does `line` continue the chain exactly where it currently stands?
    fn links_here(&self, line: &[u8]) -> bool {
        match parse_line(line) {
            Ok(r) => r.seq == self.expected && r.prev == self.prev && r.computed_hash() == r.hash,
            Err(_) => false,
        }
    }

    fn segment(
        &mut self,
        index: u64,
        path: &Path,
        data: &[u8],
        is_last: bool,
    ) -> Result<(), Damage> {
        let (lines, torn) = line_ranges(data);
        // Hashes are independent of each other: check them on all cores first, then walk the
        // chain; lines before `hashes_ok` need no second hash.
        let hashes_ok = first_bad_hash(data, &lines);
        if lines.is_empty() && torn.is_none() {
            return Err(if is_last {
                damage(
                    DamageKind::TornTail,
                    path,
                    None,
                    Some(self.expected),
                    "the last segment is empty (a crash while rotating); the next open removes it"
                        .into(),
                )
            } else {
                damage(
                    DamageKind::Deleted,
                    path,
                    None,
                    Some(self.expected),
                    "the segment is empty: its records were deleted".into(),
                )
            });
        }
        for (i, &(s, e)) in lines.iter().enumerate() {
            let line = &data[s..e];
            let lno = Some(i as u64 + 1);
            let next = lines.get(i + 1).map(|&(s, e)| &data[s..e]);
            let rec = match parse_line(line) {
                Ok(r) => r,
                Err(m) => {
                    let kind = if next.is_some_and(|n| self.links_here(n)) {
                        DamageKind::Inserted
                    } else {
                        DamageKind::Modified
                    };
                    return Err(damage(
                        kind,
                        path,
                        lno,
                        Some(self.expected),
                        format!("line is not a valid record ({m})"),
                    ));
                }
            };
            if i >= hashes_ok && rec.computed_hash() != rec.hash {
                if next.is_some_and(|n| self.links_here(n)) {
                    return Err(damage(
                        DamageKind::Inserted,
                        path,
                        lno,
                        Some(rec.seq),
                        "a line that is not part of the chain was inserted (its hash is wrong and the chain continues after it)".into(),
                    ));
                }
                let claims = if rec.seq == self.expected {
                    String::new()
                } else {
                    format!(" (the line now claims seq {})", rec.seq)
                };
                return Err(damage(
                    DamageKind::Modified,
                    path,
                    lno,
                    Some(self.expected),
                    format!(
                        "record seq {} does not match its hash: its content was changed{claims}",
                        self.expected
                    ),
                ));
            }
            if i == 0 {
                self.segment_start(index, path, line, &rec)?;
            }
            if rec.seq != self.expected || rec.prev != self.prev {
                return Err(self.classify_link(path, i, &rec, &lines, data));
            }
            if rec.is_control() && i > 0 {
                self.control(path, lno, line, &rec)?;
            }
            if let Some((hseq, hhash)) = self.head {
                if hseq == rec.seq && hhash != rec.hash {
                    return Err(damage(
                        DamageKind::Modified,
                        path,
                        lno,
                        Some(rec.seq),
                        format!(
                            "record seq {} differs from the signed checkpoint in {}: the chain was rewritten",
                            rec.seq,
                            segment::HEAD_FILE
                        ),
                    ));
                }
            }
            self.prev_prev = Some(self.prev);
            self.prev = rec.hash;
            self.expected = rec.seq + 1;
            self.report.records += 1;
            self.report.last_seq = Some(rec.seq);
        }
        self.report.last_hash = self.report.last_seq.map(|_| hex32(&self.prev));
        if let Some((s, e)) = torn {
            let detail = if is_last {
                format!(
                    "{} byte(s) after the last complete record: a crash interrupted a write; opening the log (any chela command) moves them to a .torn file and records that",
                    e - s
                )
            } else {
                format!("segment ends in the middle of a record ({} byte(s))", e - s)
            };
            return Err(damage(
                DamageKind::TornTail,
                path,
                Some(lines.len() as u64 + 1),
                Some(self.expected),
                detail,
            ));
        }
        Ok(())
    }

    fn segment_start(
        &mut self,
        index: u64,
        path: &Path,
        line: &[u8],
        rec: &RawRecord<'_>,
    ) -> Result<(), Damage> {
        let Some(Control::SegmentStart {
            log_id,
            segment,
            pubkey,
            ..
        }) = parse_control(line)
        else {
            return Err(damage(
                DamageKind::Deleted,
                path,
                Some(1),
                Some(rec.seq),
                "the segment does not begin with its segment_start record (deleted?)".into(),
            ));
        };
        match &self.report.log_id {
            Some(ours) if *ours != log_id => {
                return Err(damage(
                    DamageKind::ForeignSegment,
                    path,
                    Some(1),
                    Some(rec.seq),
                    format!("segment belongs to another installation's log (log id {log_id}, this log is {ours})"),
                ));
            }
            Some(_) => {}
            None => {
                if rec.seq != 0 || rec.prev != ZERO_HASH || segment != 1 {
                    return Err(damage(
                        DamageKind::Deleted,
                        path,
                        Some(1),
                        Some(rec.seq),
                        "the log does not begin with its genesis record (seq 0): earlier records or segments are missing".into(),
                    ));
                }
                if pubkey != self.report.pubkey {
                    return Err(damage(
                        DamageKind::BadSignature,
                        path,
                        Some(1),
                        Some(0),
                        format!(
                            "the log was created with key {pubkey}, not {}",
                            self.report.pubkey
                        ),
                    ));
                }
                if let Some(h) = self.head_log_id.as_ref().filter(|h| **h != log_id) {
                    return Err(damage(
                        DamageKind::ForeignSegment,
                        &path.with_file_name(segment::HEAD_FILE),
                        None,
                        None,
                        format!("{} belongs to another log (log id {h}, this log is {log_id}): the log may have been replaced", segment::HEAD_FILE),
                    ));
                }
                self.report.log_id = Some(log_id);
            }
        }
        if segment != index {
            return Err(damage(
                DamageKind::Reordered,
                path,
                Some(1),
                Some(rec.seq),
                format!(
                    "segment_start says segment {segment} but the file is {}",
                    segment::segment_name(index)
                ),
            ));
        }
        Ok(())
    }

    fn control(
        &mut self,
        path: &Path,
        lno: Option<u64>,
        line: &[u8],
        rec: &RawRecord<'_>,
    ) -> Result<(), Damage> {
        match parse_control(line) {
            Some(Control::Checkpoint {
                log_id,
                segment,
                reason,
                sig,
            }) => {
                if Some(&log_id) != self.report.log_id.as_ref() {
                    return Err(damage(
                        DamageKind::ForeignSegment,
                        path,
                        lno,
                        Some(rec.seq),
                        format!("checkpoint belongs to another log (log id {log_id})"),
                    ));
                }
                if !self.signature_ok(rec, &log_id, segment, &reason, &sig) {
                    return Err(damage(
                        DamageKind::BadSignature,
                        path,
                        lno,
                        Some(rec.seq),
                        format!(
                            "checkpoint signature does not verify with {}",
                            self.report.pubkey
                        ),
                    ));
                }
                self.report.checkpoints += 1;
                self.report.last_checkpoint_seq = Some(rec.seq);
                Ok(())
            }
            Some(Control::TornTail { .. }) => {
                self.report.torn_recorded += 1;
                Ok(())
            }
            Some(Control::SegmentStart { .. }) => Err(damage(
                DamageKind::Inserted,
                path,
                lno,
                Some(rec.seq),
                "a segment_start record in the middle of a segment".into(),
            )),
            None => Err(damage(
                DamageKind::Malformed,
                path,
                lno,
                Some(rec.seq),
                "control record in an unknown format".into(),
            )),
        }
    }

    /// Names a broken link: the record at line `i` does not continue the chain.
    fn classify_link(
        &self,
        path: &Path,
        i: usize,
        rec: &RawRecord<'_>,
        lines: &[(usize, usize)],
        data: &[u8],
    ) -> Damage {
        let lno = Some(i as u64 + 1);
        let e = self.expected;
        let s = rec.seq;
        let next = lines
            .get(i + 1)
            .and_then(|&(a, b)| parse_line(&data[a..b]).ok())
            .filter(|n| n.computed_hash() == n.hash);
        if let Some(n) = next.filter(|n| n.seq == e && n.prev == self.prev) {
            // The chain continues right after this line.
            if rec.prev == n.hash && s == n.seq + 1 {
                return damage(
                    DamageKind::Reordered,
                    path,
                    lno,
                    Some(s),
                    format!("records seq {s} and {} are swapped", n.seq),
                );
            }
            return damage(
                DamageKind::Inserted,
                path,
                lno,
                Some(s),
                format!(
                    "a record claiming seq {s} was inserted; the chain continues after it with seq {e}"
                ),
            );
        }
        if s == e {
            return damage(
                DamageKind::Modified,
                path,
                if i > 0 { Some(i as u64) } else { None },
                Some(e.saturating_sub(1)),
                format!("record seq {} was replaced or changed (its successor links to a different hash)", e.saturating_sub(1)),
            );
        }
        if s < e {
            if s + 1 == e && Some(rec.prev) == self.prev_prev {
                return damage(
                    DamageKind::Inserted,
                    path,
                    if i > 0 { Some(i as u64) } else { None },
                    Some(s),
                    format!("a record claiming seq {s} was inserted before the genuine one (line {}), which the chain continues from", i + 1),
                );
            }
            return damage(
                DamageKind::Reordered,
                path,
                lno,
                Some(s),
                format!("record seq {s} appears after seq {}", e.saturating_sub(1)),
            );
        }
        // s > e: either records are missing or the expected one comes later.
        let later = lines
            .iter()
            .skip(i + 1)
            .filter_map(|&(a, b)| parse_line(&data[a..b]).ok())
            .any(|r| r.seq == e);
        if later {
            return damage(
                DamageKind::Reordered,
                path,
                lno,
                Some(s),
                format!("record seq {s} appears before seq {e}: records are out of order"),
            );
        }
        let what = if s == e + 1 {
            format!("record seq {e} is missing")
        } else {
            format!("records seq {e}..{} are missing", s - 1)
        };
        damage(
            DamageKind::Deleted,
            path,
            lno,
            Some(s),
            format!(
                "{what} (the chain jumps from seq {} to {s})",
                e.saturating_sub(1)
            ),
        )
    }
}

/// Whether a line's bytes match its `hash` suffix (no other parsing: the sequential walk
/// parses every line anyway).
fn hash_ok(line: &[u8]) -> bool {
    let n = line.len();
    if n < SUFFIX_LEN {
        return false;
    }
    sha256_hex(&line[..n - SUFFIX_LEN])[..] == line[n - 66..n - 2]
}

/// Index of the first line whose hash does not verify (`lines.len()` if none), computed on up
/// to 8 threads for large segments.
fn first_bad_hash(data: &[u8], lines: &[Span]) -> usize {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || lines.len() < 8192 {
        return lines
            .iter()
            .position(|&(a, b)| !hash_ok(&data[a..b]))
            .unwrap_or(lines.len());
    }
    let chunk = lines.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .enumerate()
            .map(|(ci, part)| {
                (
                    ci * chunk,
                    s.spawn(move || part.iter().position(|&(a, b)| !hash_ok(&data[a..b]))),
                )
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(start, h)| match h.join() {
                Ok(found) => found.map(|p| start + p),
                // A failed worker proves nothing: check its whole chunk again sequentially.
                Err(_) => Some(start),
            })
            .min()
            .unwrap_or(lines.len())
    })
}

/// Reads a segment; for the last one, an incomplete final line is re-read under the writers'
/// lock so a write in progress is not mistaken for a torn record.
fn read_segment(
    dir: &Path,
    path: &Path,
    is_last: bool,
    buf: &mut Vec<u8>,
) -> Result<(), AuditError> {
    let read = |buf: &mut Vec<u8>| -> Result<(), AuditError> {
        buf.clear();
        fs::File::open(path)
            .and_then(|mut f| f.read_to_end(buf))
            .map(|_| ())
            .map_err(io_err(path))
    };
    read(buf)?;
    if !is_last || buf.is_empty() || buf.ends_with(b"\n") {
        return Ok(());
    }
    let lock_path = dir.join(segment::LOCK_FILE);
    match fs::File::open(&lock_path) {
        Ok(lock) => {
            let _g = LockGuard::new(&lock, false).map_err(io_err(&lock_path))?;
            read(buf)
        }
        Err(_) => Ok(()),
    }
}
