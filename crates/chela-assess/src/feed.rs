//! The signed advisory feed (`chela update check --feed URL|FILE [--pubkey FILE]`; CN-A6,
//! CN-B5, CNCERT-M4, NVDB-1).
//!
//! A feed is a JSON envelope `{"payload": "<JSON text>", "signature": "<base64>"}` where the
//! signature is ed25519 over the UTF-8 bytes of `payload`. The payload lists vulnerable version
//! ranges (format in `docs/assess-schema.md`). The verifying key comes from `--pubkey` (and is
//! then pinned in `$CHELA_HOME/update/feed.pub`) or from the pin. A successful check is stored
//! in `$CHELA_HOME/update/last-check.json`; `chela assess` reports its age and findings.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::util::{self, AssessError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Directory for update state inside `$CHELA_HOME`.
pub const UPDATE_DIR: &str = "update";
/// The pinned feed key.
pub const PINNED_KEY: &str = "feed.pub";
/// The last successful check.
pub const LAST_CHECK: &str = "last-check.json";
/// The last failed attempt.
pub const LAST_ERROR: &str = "last-error.json";

/// The version of this build.
pub const CURRENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A semantic version (`1.2.3`, `1.2.3-rc.1`; a pre-release sorts before its release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    pub nums: [u64; 3],
    /// Pre-release tag, if any.
    pub pre: Option<String>,
}

impl Version {
    /// Parses `1.2.3` (missing minor/patch count as 0) with an optional `-pre` suffix.
    pub fn parse(s: &str) -> Result<Version, String> {
        let s = s.trim().trim_start_matches('v');
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (s, None),
        };
        let core = core.split('+').next().unwrap_or(core);
        let mut nums = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(format!("`{s}` is not a version like 1.2.3"));
        }
        for (i, p) in parts.iter().enumerate() {
            nums[i] = p
                .parse()
                .map_err(|_| format!("`{s}` is not a version like 1.2.3"))?;
        }
        Ok(Version { nums, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        self.nums
            .cmp(&o.nums)
            .then_with(|| match (&self.pre, &o.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Whether `v` lies in `range`: comma-separated comparators (`>=0.1.0, <0.1.3`; `=0.2.0`; a
/// bare version means `=`), all of which must hold.
pub fn in_range(v: &Version, range: &str) -> Result<bool, String> {
    let mut any = false;
    for part in range.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        any = true;
        let (op, ver) = [">=", "<=", "==", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|rest| (*op, rest)))
            .unwrap_or(("=", part));
        let other = Version::parse(ver)?;
        let ok = match op {
            ">=" => v >= &other,
            "<=" => v <= &other,
            ">" => v > &other,
            "<" => v < &other,
            _ => v == &other,
        };
        if !ok {
            return Ok(false);
        }
    }
    if !any {
        return Err(format!("empty version range `{range}`"));
    }
    Ok(true)
}

/// One advisory in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    /// Advisory ID (`CHELA-2026-0001`, a CVE).
    pub id: String,
    /// Affected versions (`>=0.1.0, <0.1.3`).
    pub affected: String,
    /// First fixed version.
    #[serde(default)]
    pub fixed: Option<String>,
    /// `low`, `medium`, `high`, `critical`.
    #[serde(default)]
    pub severity: String,
    /// One line.
    #[serde(default)]
    pub summary: String,
}

/// The signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPayload {
    /// Format version (1).
    pub schema: u32,
    /// Must be `chela`.
    pub product: String,
    /// When the feed was issued, RFC 3339.
    pub issued: String,
    /// The latest official release.
    pub latest: String,
    /// Known vulnerabilities.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    payload: String,
    signature: String,
}

/// A successful check, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// When, RFC 3339 UTC.
    pub checked_at: String,
    /// Unix seconds.
    pub checked_at_unix: u64,
    /// Feed URL or file.
    pub feed: String,
    /// The key that verified it.
    pub key: String,
    /// Feed issue time.
    pub issued: String,
    /// Latest official release per the feed.
    pub latest: String,
    /// This build's version.
    pub current: String,
    /// Advisories affecting this version.
    pub affecting: Vec<Advisory>,
}

/// A failed attempt, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Feed URL or file.
    pub feed: String,
    /// What went wrong.
    pub error: String,
}

/// Parses an ed25519 public key: `ed25519:<base64>`, bare base64, or 64 hex digits.
pub fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let t = text.trim();
    let t = t.strip_prefix("ed25519:").unwrap_or(t);
    let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| e.to_string())?
    } else {
        B64.decode(t).map_err(|e| format!("not base64: {e}"))?
    };
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an ed25519 public key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not a valid ed25519 key: {e}"))
}

/// `ed25519:<base64>` for a key.
pub fn encode_key(k: &VerifyingKey) -> String {
    format!("ed25519:{}", B64.encode(k.as_bytes()))
}

/// Verifies a feed's bytes with `key` and parses the payload.
pub fn verify_feed(bytes: &[u8], key: &VerifyingKey) -> Result<FeedPayload, String> {
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a signed feed envelope {{payload, signature}}: {e}"))?;
    let sig = B64
        .decode(env.signature.trim())
        .map_err(|e| format!("signature is not base64: {e}"))?;
    let sig = Signature::from_slice(&sig).map_err(|e| format!("malformed signature: {e}"))?;
    key.verify(env.payload.as_bytes(), &sig).map_err(|_| {
        format!(
            "signature does not verify with {}; the feed was altered or signed with another key",
            encode_key(key)
        )
    })?;
    let p: FeedPayload = serde_json::from_str(&env.payload)
        .map_err(|e| format!("signed payload does not parse: {e}"))?;
    if p.schema != 1 {
        return Err(format!(
            "feed schema {} is not supported (expected 1)",
            p.schema
        ));
    }
    if p.product != "chela" {
        return Err(format!("feed is for `{}`, not chela", p.product));
    }
    humantime::parse_rfc3339_weak(&p.issued)
        .map_err(|e| format!("issued `{}` is not RFC 3339: {e}", p.issued))?;
    Version::parse(&p.latest)?;
    for a in &p.advisories {
        in_range(&Version::parse(CURRENT_VERSION)?, &a.affected)
            .map_err(|e| format!("advisory {}: {e}", a.id))?;
    }
    Ok(p)
}

/// The advisories in `p` affecting `version`.
pub fn affecting(p: &FeedPayload, version: &str) -> Result<Vec<Advisory>, String> {
    let v = Version::parse(version)?;
    let mut out = Vec::new();
    for a in &p.advisories {
        if in_range(&v, &a.affected)? {
            out.push(a.clone());
        }
    }
    Ok(out)
}

fn update_dir(home: &Path) -> PathBuf {
    home.join(UPDATE_DIR)
}

/// The stored last successful check, if any.
pub fn last_check(home: &Path) -> Option<CheckRecord> {
    let t = std::fs::read_to_string(update_dir(home).join(LAST_CHECK)).ok()?;
    serde_json::from_str(&t).ok()
}

/// The stored last failed attempt, if any.
pub fn last_error(home: &Path) -> Option<ErrorRecord> {
    let t = std::fs::read_to_string(update_dir(home).join(LAST_ERROR)).ok()?;
    serde_json::from_str(&t).ok()
}

/// The pinned key, if any.
pub fn pinned_key(home: &Path) -> Result<Option<VerifyingKey>, AssessError> {
    let p = update_dir(home).join(PINNED_KEY);
    match std::fs::read_to_string(&p) {
        Ok(t) => parse_key(&t)
            .map(Some)
            .map_err(|reason| AssessError::Corrupt { path: p, reason }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(util::io_err(&p)(e)),
    }
}

fn is_url(feed: &str) -> bool {
    feed.starts_with("https://") || feed.starts_with("http://")
}

/// Reads the feed from a file or fetches it through `chela-net` (audited egress).
pub fn fetch(home: &Path, feed: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    if !is_url(feed) {
        return std::fs::read(feed).map_err(|e| format!("cannot read {feed}: {e}"));
    }
    let log = chela_audit::AuditLog::open(&home.join("audit"))
        .map_err(|e| format!("the audit log cannot record the request ({e}); not fetching"))?;
    let log = Arc::new(log);
    let mut cfg = chela_net::NetConfig::for_endpoint(feed).map_err(|e| e.to_string())?;
    cfg.max_body = 4 * 1024 * 1024;
    cfg.connect_timeout = timeout;
    let client = chela_net::NetClient::new(cfg, log.clone() as Arc<dyn chela_types::AuditSink>)
        .map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
    let res = rt.block_on(async {
        let resp = client
            .send(chela_net::Request::get(feed, timeout))
            .await
            .map_err(|e| e.to_string())?;
        if resp.status != 200 {
            return Err(format!("{feed} answered HTTP {}", resp.status));
        }
        resp.bytes(timeout).await.map_err(|e| e.to_string())
    });
    drop(client);
    let _ = log.close();
    res
}

/// Runs a check: fetch, verify with `key` (or the pinned key), store the result. With `key`
/// given and the check successful, the key is pinned for later checks.
pub fn check(
    home: &Path,
    feed: &str,
    key: Option<&Path>,
    timeout: Duration,
) -> Result<CheckRecord, AssessError> {
    let result = check_inner(home, feed, key, timeout);
    let dir = update_dir(home);
    util::private_dir(&dir)?;
    match &result {
        Ok(rec) => {
            let text = serde_json::to_string_pretty(rec).unwrap_or_default();
            util::write_private(&dir.join(LAST_CHECK), format!("{text}\n").as_bytes())?;
            let _ = std::fs::remove_file(dir.join(LAST_ERROR));
        }
        Err(e) => {
            let rec = ErrorRecord {
                at: util::rfc3339(util::now_unix()),
                feed: feed.to_string(),
                error: e.to_string(),
            };
            let text = serde_json::to_string_pretty(&rec).unwrap_or_default();
            util::write_private(&dir.join(LAST_ERROR), format!("{text}\n").as_bytes())?;
        }
    }
    result
}

fn check_inner(
    home: &Path,
    feed: &str,
    key_file: Option<&Path>,
    timeout: Duration,
) -> Result<CheckRecord, AssessError> {
    let key = match key_file {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(util::io_err(p))?;
            parse_key(&t).map_err(|reason| AssessError::Corrupt {
                path: p.to_path_buf(),
                reason,
            })?
        }
        None => pinned_key(home)?.ok_or_else(|| {
            AssessError::Usage(format!(
                "no trusted feed key: pass `--pubkey FILE` (the release key published with Chela; it is then pinned in {})",
                update_dir(home).join(PINNED_KEY).display()
            ))
        })?,
    };
    let bytes = fetch(home, feed, timeout).map_err(AssessError::Feed)?;
    let payload = verify_feed(&bytes, &key).map_err(AssessError::Feed)?;
    if let Some(prev) = last_check(home) {
        let (a, b) = (
            humantime::parse_rfc3339_weak(&payload.issued),
            humantime::parse_rfc3339_weak(&prev.issued),
        );
        if let (Ok(a), Ok(b)) = (a, b) {
            if a < b {
                return Err(AssessError::Feed(format!(
                    "the feed was issued {} but a feed issued {} was already seen; refusing an older feed (rollback?)",
                    payload.issued, prev.issued
                )));
            }
        }
    }
    let affecting = affecting(&payload, CURRENT_VERSION).map_err(AssessError::Feed)?;
    if key_file.is_some() {
        let dir = update_dir(home);
        util::private_dir(&dir)?;
        util::write_private(
            &dir.join(PINNED_KEY),
            format!("{}\n", encode_key(&key)).as_bytes(),
        )?;
    }
    let now = util::now_unix();
    Ok(CheckRecord {
        checked_at: util::rfc3339(now),
        checked_at_unix: now,
        feed: feed.to_string(),
        key: encode_key(&key),
        issued: payload.issued,
        latest: payload.latest,
        current: CURRENT_VERSION.to_string(),
        affecting,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    pub(crate) fn signing() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    pub(crate) fn signed_feed(key: &SigningKey, payload: &str) -> String {
        let sig = key.sign(payload.as_bytes());
        serde_json::json!({"payload": payload, "signature": B64.encode(sig.to_bytes())}).to_string()
    }

    #[test]
    fn versions_order_and_ranges() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("0.1.0") < v("0.1.1"));
        assert!(v("0.1.0-rc1") < v("0.1.0"));
        assert!(v("1.0") == v("1.0.0"));
        assert!(in_range(&v("0.1.2"), ">=0.1.0, <0.1.3").unwrap());
        assert!(!in_range(&v("0.1.3"), ">=0.1.0, <0.1.3").unwrap());
        assert!(in_range(&v("0.2.0"), "0.2.0").unwrap());
        assert!(in_range(&v("0.2.0"), "").is_err());
        assert!(Version::parse("x.y").is_err());
    }

    #[test]
    fn verifies_and_rejects() {
        let k = signing();
        let payload = r#"{"schema":1,"product":"chela","issued":"2026-11-01T00:00:00Z","latest":"0.1.0","advisories":[{"id":"CHELA-1","affected":"<0.0.9"}]}"#;
        let feed = signed_feed(&k, payload);
        let p = verify_feed(feed.as_bytes(), &k.verifying_key()).unwrap();
        assert_eq!(p.latest, "0.1.0");
        assert!(affecting(&p, "0.1.0").unwrap().is_empty());
        assert_eq!(affecting(&p, "0.0.5").unwrap().len(), 1);
        let tampered = feed.replace("<0.0.9", "<0.0.8");
        let e = verify_feed(tampered.as_bytes(), &k.verifying_key()).unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let other = SigningKey::from_bytes(&[9u8; 32]);
        assert!(verify_feed(feed.as_bytes(), &other.verifying_key()).is_err());
        let key_text = encode_key(&k.verifying_key());
        assert_eq!(parse_key(&key_text).unwrap(), k.verifying_key());
        assert!(parse_key("ed25519:AAAA").is_err());
    }
}
