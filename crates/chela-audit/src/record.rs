//! The on-disk record format (schema v1, see `docs/audit-schema.md`).
//!
//! One record is one line of JSON:
//!
//! ```text
//! {"v":1,"seq":7,"prev":"<64 hex>","time":"2026-11-21T09:35:25.123456Z",<fields>,"hash":"<64 hex>"}\n
//! ```
//!
//! `hash` is SHA-256 over the line's bytes from the opening `{` up to (not including) the
//! `,"hash":"` suffix. Because `prev` (the previous record's `hash`) is inside those bytes, the
//! records form one chain. The fixed prefix and suffix let the verifier check a record without a
//! JSON parser; only control records (`segment_start`, `checkpoint`, `torn_tail`) are parsed.

use sha2::{Digest, Sha256};

/// The schema version written in every record's `v` field.
pub const SCHEMA_VERSION: u32 = 1;

/// A SHA-256 hash as 64 lowercase hex digits (the form records store and compare).
pub(crate) type HashHex = [u8; 64];

/// `prev` of the very first record of a log.
pub(crate) const ZERO_HASH: HashHex = [b'0'; 64];

const HEAD: &[u8] = b"{\"v\":1,\"seq\":";
const PREV_KEY: &[u8] = b",\"prev\":\"";
const TIME_KEY: &[u8] = b"\",\"time\":\"";
const HASH_KEY: &[u8] = b",\"hash\":\"";
/// Length of `,"hash":"<64 hex>"}`.
pub(crate) const SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;
/// What a control record's fields start with.
pub(crate) const CONTROL_PREFIX: &[u8] = b"\"kind\":\"";

/// Builds one record line (with trailing newline) into `out`, returning its hash.
///
/// `fields` is the inside of a JSON object (no braces), non-empty.
pub(crate) fn build_line(
    seq: u64,
    prev: &HashHex,
    time: &str,
    fields: &[u8],
    out: &mut Vec<u8>,
) -> HashHex {
    out.clear();
    out.reserve(HEAD.len() + 20 + PREV_KEY.len() + 64 + TIME_KEY.len() + 40 + fields.len() + 80);
    out.extend_from_slice(HEAD);
    let mut num = itoa_buf(seq);
    out.extend_from_slice(num.as_bytes_mut());
    out.extend_from_slice(PREV_KEY);
    out.extend_from_slice(prev);
    out.extend_from_slice(TIME_KEY);
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",");
    out.extend_from_slice(fields);
    let hash = sha256_hex(&out[..]);
    out.extend_from_slice(HASH_KEY);
    out.extend_from_slice(&hash);
    out.extend_from_slice(b"\"}\n");
    hash
}

/// SHA-256 of `bytes` as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> HashHex {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// A decimal number formatted without allocation.
struct NumBuf {
    buf: [u8; 20],
    start: usize,
}

impl NumBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(mut n: u64) -> NumBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    NumBuf { buf, start: i }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A record split into its fixed parts (no JSON parsing of the fields).
#[derive(Debug)]
pub(crate) struct RawRecord<'a> {
    /// `seq`.
    pub seq: u64,
    /// `prev` (hex, as stored).
    pub prev: HashHex,
    /// `hash` as claimed by the line (hex, as stored).
    pub hash: HashHex,
    /// `time` (RFC 3339, UTC).
    pub time: &'a str,
    /// The hashed bytes (`{` … last field).
    pub body: &'a [u8],
    /// The fields after `time` (inside of the object, no braces, no hash).
    pub fields: &'a [u8],
}

impl RawRecord<'_> {
    /// True for records written by the log itself (`segment_start`, `checkpoint`, `torn_tail`).
    pub(crate) fn is_control(&self) -> bool {
        self.fields.starts_with(CONTROL_PREFIX)
    }

    /// SHA-256 of the hashed bytes.
    pub(crate) fn computed_hash(&self) -> HashHex {
        sha256_hex(self.body)
    }
}

/// Why a line is not a well-formed record.
pub(crate) type Malformed = &'static str;

/// Splits one line (without its newline) into its fixed parts.
pub(crate) fn parse_line(line: &[u8]) -> Result<RawRecord<'_>, Malformed> {
    let n = line.len();
    if n < HEAD.len() + PREV_KEY.len() + 64 + TIME_KEY.len() + SUFFIX_LEN + 4 {
        return Err("line too short to be a record");
    }
    if !line.ends_with(b"\"}") || &line[n - SUFFIX_LEN..n - SUFFIX_LEN + HASH_KEY.len()] != HASH_KEY
    {
        return Err("line does not end with the \"hash\" field");
    }
    let hash = hex64(&line[n - 66..n - 2]).ok_or("\"hash\" is not 64 lowercase hex digits")?;
    let body = &line[..n - SUFFIX_LEN];
    if !body.starts_with(HEAD) {
        return Err("line does not start with {\"v\":1,\"seq\": (unknown schema version?)");
    }
    let mut pos = HEAD.len();
    let digits_start = pos;
    let mut seq: u64 = 0;
    while pos < body.len() && body[pos].is_ascii_digit() {
        seq = seq
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(body[pos] - b'0')))
            .ok_or("\"seq\" overflows")?;
        pos += 1;
    }
    if pos == digits_start || pos - digits_start > 20 {
        return Err("\"seq\" is not a number");
    }
    if !body[pos..].starts_with(PREV_KEY) {
        return Err("\"prev\" field missing after \"seq\"");
    }
    pos += PREV_KEY.len();
    if body.len() < pos + 64 {
        return Err("\"prev\" truncated");
    }
    let prev = hex64(&body[pos..pos + 64]).ok_or("\"prev\" is not 64 lowercase hex digits")?;
    pos += 64;
    if !body[pos..].starts_with(TIME_KEY) {
        return Err("\"time\" field missing after \"prev\"");
    }
    pos += TIME_KEY.len();
    let time_len = memchr::memchr(b'"', &body[pos..]).ok_or("\"time\" not terminated")?;
    let time = std::str::from_utf8(&body[pos..pos + time_len]).map_err(|_| "\"time\" not UTF-8")?;
    pos += time_len;
    if !body[pos..].starts_with(b"\",") {
        return Err("no fields after \"time\"");
    }
    pos += 2;
    let fields = &body[pos..];
    if fields.is_empty() {
        return Err("no fields after \"time\"");
    }
    Ok(RawRecord {
        seq,
        prev,
        hash,
        time,
        body,
        fields,
    })
}

/// Copies 64 stored hex digits, checking they are lowercase hex.
fn hex64(s: &[u8]) -> Option<HashHex> {
    let mut out = [0u8; 64];
    out.copy_from_slice(s.get(..64)?);
    let bad = out.iter().fold(false, |bad, &c| {
        bad | !matches!(c, b'0'..=b'9' | b'a'..=b'f')
    });
    (!bad).then_some(out)
}

/// A stored hash as a string.
pub(crate) fn hex32(h: &HashHex) -> String {
    String::from_utf8_lossy(h).into_owned()
}

/// Turns a serialized JSON object into its inside (no braces) for [`build_line`].
pub(crate) fn object_inside(json: &[u8]) -> Option<&[u8]> {
    if json.len() > 2 && json[0] == b'{' && json[json.len() - 1] == b'}' {
        Some(&json[1..json.len() - 1])
    } else {
        None
    }
}

/// Current time as RFC 3339 UTC with microseconds (fixed width, so strings sort by time).
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse_round_trips() {
        let mut out = Vec::new();
        let prev = [b'7'; 64];
        let h = build_line(
            42,
            &prev,
            "2026-11-21T09:35:25.123456Z",
            b"\"actor\":{\"type\":\"agent\"},\"kind\":\"tool_started\"",
            &mut out,
        );
        assert_eq!(*out.last().unwrap(), b'\n');
        let line = &out[..out.len() - 1];
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["seq"], 42);
        assert_eq!(v["hash"], hex32(&h));
        let r = parse_line(line).unwrap();
        assert_eq!(r.seq, 42);
        assert_eq!(r.prev, prev);
        assert_eq!(r.hash, h);
        assert_eq!(r.computed_hash(), h);
        assert_eq!(r.time, "2026-11-21T09:35:25.123456Z");
        assert!(!r.is_control());
    }

    #[test]
    fn zero_seq_formats() {
        let mut out = Vec::new();
        build_line(0, &ZERO_HASH, "t", b"\"kind\":\"x\"", &mut out);
        assert!(out.starts_with(b"{\"v\":1,\"seq\":0,\"prev\":\"0000"));
        let r = parse_line(&out[..out.len() - 1]).unwrap();
        assert!(r.is_control());
        assert_eq!(r.seq, 0);
    }

    #[test]
    fn malformed_lines_are_rejected() {
        assert!(parse_line(b"").is_err());
        assert!(parse_line(b"{\"v\":2}").is_err());
        let mut out = Vec::new();
        build_line(1, &ZERO_HASH, "t", b"\"kind\":\"x\"", &mut out);
        let line = &out[..out.len() - 1];
        assert!(parse_line(&line[..line.len() - 1]).is_err());
        let mut upper = line.to_vec();
        let n = upper.len();
        upper[n - 3] = b'G';
        assert!(parse_line(&upper).is_err());
    }
}
