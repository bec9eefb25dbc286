//! The detection engine: one pass of an Aho-Corasick prefilter over literal anchors (confirmed by
//! regex-automata and hand-written validators) plus one table-driven token pass for detectors
//! without literal anchors (digits, hex, base58, word sequences, e-mail, entropy).

use crate::bip39;
use crate::detector::{Confidence, Detector};
use crate::validate;
use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// A raw detection before policy and overlap resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    pub det: Detector,
    pub start: usize,
    pub end: usize,
    pub conf: Confidence,
}

#[derive(Debug, Clone, Copy)]
enum Anchor {
    Sk,
    Stripe,
    StripeWebhook,
    Alibaba,
    Tencent,
    Aws,
    GcpApi,
    AzureAccountKey,
    AzureSharedAccessKey,
    AzureAdSecret,
    Github,
    GithubPat,
    Gitlab,
    Slack,
    SlackWebhook,
    Telegram,
    Sendgrid,
    Npm,
    Pypi,
    Hf,
    Jwt,
    Pem,
    Url,
    Password,
    Secret,
    Bearer,
    BaiduBce,
    BaiduAltak,
}

/// Literal anchors for the Aho-Corasick prefilter. Kept to at most 32 patterns of at least three
/// bytes so the packed (Teddy) searcher runs in its fastest configuration; keyword labels
/// (`password`, `secret`, `token`, `api_key`, `密码` …), Azure `AccountKey=` and `Q~` secrets are
/// found by the token pass instead.
const ANCHORS: &[(&str, Anchor)] = &[
    ("sk-", Anchor::Sk),
    ("k_live_", Anchor::Stripe),
    ("k_test_", Anchor::Stripe),
    ("whsec_", Anchor::StripeWebhook),
    ("LTAI", Anchor::Alibaba),
    ("AKID", Anchor::Tencent),
    ("AKIA", Anchor::Aws),
    ("ASIA", Anchor::Aws),
    ("AIza", Anchor::GcpApi),
    ("ghp_", Anchor::Github),
    ("gho_", Anchor::Github),
    ("ghu_", Anchor::Github),
    ("ghs_", Anchor::Github),
    ("ghr_", Anchor::Github),
    ("github_pat_", Anchor::GithubPat),
    ("glpat-", Anchor::Gitlab),
    ("gldt-", Anchor::Gitlab),
    ("glrt-", Anchor::Gitlab),
    ("xox", Anchor::Slack),
    ("hooks.slack.com/", Anchor::SlackWebhook),
    (":AA", Anchor::Telegram),
    ("SG.", Anchor::Sendgrid),
    ("npm_", Anchor::Npm),
    ("pypi-AgE", Anchor::Pypi),
    ("hf_", Anchor::Hf),
    ("eyJ", Anchor::Jwt),
    ("-----BEGIN ", Anchor::Pem),
    ("://", Anchor::Url),
    ("Bearer ", Anchor::Bearer),
    ("bce-v3/", Anchor::BaiduBce),
    ("ALTAK", Anchor::BaiduAltak),
];

/// Keyword labels looked for (ASCII case-insensitively) in tokens followed by `=` or `:`.
const LABELS: &[(&[u8], Anchor)] = &[
    (b"password", Anchor::Password),
    (b"passwd", Anchor::Password),
    (b"secret", Anchor::Secret),
    (b"token", Anchor::Secret),
    (b"api_key", Anchor::Secret),
    (b"apikey", Anchor::Secret),
    (b"access_key", Anchor::Secret),
    (b"accesskey", Anchor::Secret),
];

/// Chinese labels (UTF-8), checked at CJK lead bytes.
const ZH_LABELS: &[([u8; 6], Anchor)] = &[
    (utf8_6("密码"), Anchor::Password),
    (utf8_6("口令"), Anchor::Password),
    (utf8_6("私钥"), Anchor::Secret),
];

/// The six UTF-8 bytes of a two-character CJK label (compared as one array, not a slice).
const fn utf8_6(s: &str) -> [u8; 6] {
    let b = s.as_bytes();
    assert!(b.len() == 6);
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

// Byte classes for the token pass.
const DIGIT: u8 = 1;
const LHEX: u8 = 2; // a-f
const LOTH: u8 = 4; // g-z
const UHEX: u8 = 8; // A-F
const UOTH: u8 = 16; // G-Z
const SYM: u8 = 32; // _ + / = -
const LOWER: u8 = LHEX | LOTH;
const UPPER: u8 = UHEX | UOTH;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' => LHEX,
            b'g'..=b'z' => LOTH,
            b'A'..=b'F' => UHEX,
            b'G'..=b'Z' => UOTH,
            b'_' | b'+' | b'/' | b'=' | b'-' => SYM,
            _ => 0,
        };
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

/// Token-pass table: the token classes (low six bits) plus `EQ` for `=` and `SPECIAL` for bytes
/// outside tokens that start a check (`@`, `~`, UTF-8 lead bytes of CJK characters).
const TOKEN_BITS: u8 = 63;
const EQ: u8 = 64;
const SPECIAL: u8 = 128;

const fn scan_table() -> [u8; 256] {
    let mut t = class_table();
    t[b'=' as usize] |= EQ;
    t[b'@' as usize] |= SPECIAL;
    t[b'~' as usize] |= SPECIAL;
    let mut i = 0xE0;
    while i < 0xF0 {
        t[i] |= SPECIAL;
        i += 1;
    }
    t
}

static SCAN: [u8; 256] = scan_table();

// Byte lanes of a packed word of eight `SCAN` entries.
const LANES_ONE: u64 = 0x0101_0101_0101_0101;
const LANES_HIGH: u64 = 0x8080_8080_8080_8080;
const LANES_TOKEN: u64 = LANES_ONE * TOKEN_BITS as u64;
const LANES_EQ: u64 = LANES_ONE * EQ as u64;

#[inline]
fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

#[inline]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[inline]
fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// End of the run of bytes satisfying `f` starting at `from` (bounded by `max` bytes).
#[inline]
fn run_end(hay: &[u8], from: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    let lim = hay.len().min(from.saturating_add(max));
    let mut i = from;
    while i < lim && f(hay[i]) {
        i += 1;
    }
    i
}

#[inline]
fn left_ok(hay: &[u8], s: usize, f: impl Fn(u8) -> bool) -> bool {
    s == 0 || !f(hay[s - 1])
}

/// ASCII case-insensitive search of any needle in `hay[from..to]`; needles must be lower-case
/// (non-ASCII bytes compare exactly).
fn window_has(hay: &[u8], from: usize, to: usize, needles: &[&[u8]]) -> bool {
    let w = &hay[from.min(hay.len())..to.min(hay.len())];
    needles.iter().any(|n| {
        !n.is_empty() && w.len() >= n.len() && w.windows(n.len()).any(|x| x.eq_ignore_ascii_case(n))
    })
}

fn context_has(hay: &[u8], s: usize, e: usize, back: usize, fwd: usize, needles: &[&[u8]]) -> bool {
    window_has(hay, s.saturating_sub(back), e.saturating_add(fwd), needles)
}

/// Like [`context_has`] looking back only, but never past the start of the line: a label on
/// another line does not vouch for a value (`/run/secrets/x` above a `sha256sum` line).
fn line_context_has(hay: &[u8], s: usize, back: usize, needles: &[&[u8]]) -> bool {
    let from = s.saturating_sub(back);
    let from = hay[from..s]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(from, |k| from + k + 1);
    window_has(hay, from, s, needles)
}

fn count_classes(t: &[u8]) -> (bool, bool, bool) {
    let mut acc = 0u8;
    for &b in t {
        acc |= CLASS[b as usize];
    }
    (acc & LOWER != 0, acc & UPPER != 0, acc & DIGIT != 0)
}

/// The anchor prefilter. With AVX2, fat Teddy (16 buckets of two anchors each): on clean text
/// the slim, 8-bucket variant chosen by default confirms so many fingerprint collisions that it
/// took a fifth of the scan time (fat: 365 -> 420 MiB/s on clean mixed text). Without AVX2, the
/// general automaton (with whatever prefilter it picks).
enum AnchorSearch {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl AnchorSearch {
    fn new() -> Result<AnchorSearch, BuildError> {
        let lits = || ANCHORS.iter().map(|(lit, _)| lit.as_bytes());
        if avx2() {
            if let Some(s) = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .only_teddy(true)
                .only_teddy_fat(Some(true))
                .builder()
                .extend(lits())
                .build()
            {
                return Ok(AnchorSearch::Packed(s));
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(lits())
            .map_err(|e| BuildError(format!("anchor automaton: {e}")))?;
        Ok(AnchorSearch::Automaton(ac))
    }

    /// Calls `f(pattern, start, end)` for every leftmost-first anchor match.
    #[inline]
    fn each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        match self {
            AnchorSearch::Packed(s) => {
                for m in s.find_iter(hay) {
                    f(m.pattern().as_usize(), m.start(), m.end());
                }
            }
            AnchorSearch::Automaton(a) => {
                for m in a.find_iter(hay) {
                    f(m.pattern().as_usize(), m.start(), m.end());
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2() -> bool {
    false
}

/// Compiled detectors. Built once; `Send + Sync`.
pub(crate) struct Engine {
    ac: AnchorSearch,
    kinds: Vec<Anchor>,
    re_jwt: Regex,
    re_pem: Regex,
    re_sendgrid: Regex,
    re_baidu_bce: Regex,
    re_slack_webhook: Regex,
    re_pem_end: Regex,
}

/// The last search for `-----END `: from `from`, the first one found (or none at all).
#[derive(Default)]
struct EndCache {
    valid: bool,
    from: usize,
    found: Option<usize>,
}

/// Error building the engine (a bug in a built-in pattern).
#[derive(Debug)]
pub(crate) struct BuildError(pub String);

fn re(p: &str) -> Result<Regex, BuildError> {
    Regex::new(p).map_err(|e| BuildError(format!("built-in pattern {p:?}: {e}")))
}

impl Engine {
    pub fn new() -> Result<Engine, BuildError> {
        let ac = AnchorSearch::new()?;
        Ok(Engine {
            ac,
            kinds: ANCHORS.iter().map(|(_, k)| *k).collect(),
            re_jwt: re(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")?,
            re_pem: re(
                r"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED |OPENSSH |PGP |ED25519 )?PRIVATE KEY(?: BLOCK)?)-----",
            )?,
            re_sendgrid: re(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}")?,
            re_baidu_bce: re(r"bce-v3/ALTAK-[A-Za-z0-9]{10,}/[A-Za-z0-9]{20,}")?,
            re_pem_end: re(r"-----END ")?,
            re_slack_webhook: re(
                r"hooks\.slack\.com/(?:services|workflows)/T[A-Z0-9]{6,}/[AB][A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
            )?,
        })
    }

    fn anchored(&self, r: &Regex, hay: &[u8], at: usize) -> Option<usize> {
        let input = Input::new(hay).range(at..).anchored(Anchored::Yes);
        r.search(&input).map(|m| m.end())
    }

    /// Runs every built-in detector over `hay`, appending raw detections to `out`.
    pub fn detect(&self, hay: &[u8], out: &mut Vec<Raw>) {
        // PEM blocks: anchors inside an already reported block are skipped and the search for
        // `-----END ` is shared, so repeated headers cannot make the pass quadratic.
        let mut pem_end = 0usize;
        let mut ends = EndCache::default();
        self.ac.each(hay, |pat, start, end| {
            let kind = self.kinds[pat];
            if let Anchor::Pem = kind {
                if start >= pem_end {
                    if let Some(e) = self.pem(hay, start, &mut ends, out) {
                        pem_end = e;
                    }
                }
                return;
            }
            self.confirm(kind, hay, start, end, out);
        });
        self.tokens(hay, out);
    }

    /// Start of the first `-----END ` at or after `at`, reusing the previous search.
    fn next_pem_end(&self, hay: &[u8], at: usize, cache: &mut EndCache) -> Option<usize> {
        if cache.valid && at >= cache.from {
            match cache.found {
                None => return None,
                Some(f) if f >= at => return Some(f),
                Some(_) => {}
            }
        }
        let found = self
            .re_pem_end
            .search(&Input::new(hay).range(at..))
            .map(|m| m.start());
        *cache = EndCache {
            valid: true,
            from: at,
            found,
        };
        found
    }

    fn push(out: &mut Vec<Raw>, det: Detector, start: usize, end: usize, conf: Confidence) {
        out.push(Raw {
            det,
            start,
            end,
            conf,
        });
    }

    #[allow(clippy::too_many_lines)]
    fn confirm(&self, kind: Anchor, hay: &[u8], p: usize, q: usize, out: &mut Vec<Raw>) {
        use Confidence::{High, Medium};
        match kind {
            Anchor::Sk => {
                if !left_ok(hay, p, is_key_char) {
                    return;
                }
                let e = run_end(hay, q, 256, is_key_char);
                let body = &hay[q..e];
                let n = body.len();
                let det = if (body.starts_with(b"ant-api") || body.starts_with(b"ant-admin"))
                    && n >= 40
                {
                    Some((Detector::AnthropicApiKey, High))
                } else if n >= 40
                    && (body.windows(8).any(|w| w == b"T3BlbkFJ")
                        || body.starts_with(b"proj-")
                        || body.starts_with(b"svcacct-")
                        || body.starts_with(b"admin-"))
                {
                    Some((Detector::OpenaiApiKey, High))
                } else if n == 32 && body.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    const CTX: &[&[u8]] = &[
                        b"dashscope",
                        b"qwen",
                        b"aliyun",
                        b"bailian",
                        b"alibaba",
                        "通义".as_bytes(),
                        "百炼".as_bytes(),
                        "阿里".as_bytes(),
                    ];
                    if context_has(hay, p, e, 300, 80, CTX) {
                        Some((Detector::DashscopeApiKey, High))
                    } else {
                        Some((Detector::DeepseekApiKey, High))
                    }
                } else if n == 48 && body.iter().all(|b| b.is_ascii_alphanumeric()) {
                    Some((Detector::MoonshotApiKey, High))
                } else if (20..=200).contains(&n) {
                    let digits = body.iter().filter(|b| b.is_ascii_digit()).count();
                    let (l, u, _) = count_classes(body);
                    if digits >= 2 && (l || u) && n - digits >= 4 {
                        Some((Detector::GenericSkApiKey, Medium))
                    } else {
                        None
                    }
                } else {
                    None
                };
                if let Some((d, c)) = det {
                    Self::push(out, d, p, e, c);
                }
            }
            Anchor::Stripe => {
                // anchored on `k_live_` / `k_test_`: the key starts one byte earlier (`sk_`, `rk_`)
                if p == 0 || !matches!(hay[p - 1], b's' | b'r') {
                    return;
                }
                let p = p - 1;
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 256, is_alnum);
                if e - q >= 20 {
                    let live = hay[p + 3] == b'l';
                    Self::push(
                        out,
                        Detector::StripeKey,
                        p,
                        e,
                        if live { High } else { Medium },
                    );
                }
            }
            Anchor::StripeWebhook => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 256, is_alnum);
                if e - q >= 24 {
                    Self::push(out, Detector::StripeKey, p, e, High);
                }
            }
            Anchor::Alibaba => {
                if !left_ok(hay, p, is_alnum) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                let body = &hay[q..e];
                let (l, u, d) = count_classes(body);
                if (12..=24).contains(&body.len())
                    && d
                    && (l || u)
                    && !(e < hay.len() && is_word(hay[e]))
                {
                    Self::push(out, Detector::AlibabaAccessKeyId, p, e, High);
                }
            }
            Anchor::Tencent => {
                if !left_ok(hay, p, is_alnum) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                let (l, u, d) = count_classes(&hay[q..e]);
                if (32..=36).contains(&(e - q)) && d && l && u {
                    Self::push(out, Detector::TencentSecretId, p, e, High);
                }
            }
            Anchor::Aws => {
                if !left_ok(hay, p, is_alnum) {
                    return;
                }
                let e = run_end(hay, q, 32, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if e - q != 16 || (e < hay.len() && is_alnum(hay[e])) {
                    return;
                }
                Self::push(out, Detector::AwsAccessKeyId, p, e, High);
                // A secret access key nearby (40 base64 characters, mixed classes).
                let lim = hay.len().min(e + 400);
                let mut i = e;
                while i < lim {
                    if is_alnum(hay[i]) || hay[i] == b'/' || hay[i] == b'+' {
                        let s = i;
                        let t = run_end(hay, s, 64, |b| is_alnum(b) || b == b'/' || b == b'+');
                        if t - s == 40 {
                            let (l, u, d) = count_classes(&hay[s..t]);
                            if l && u && d {
                                Self::push(out, Detector::AwsSecretAccessKey, s, t, High);
                                break;
                            }
                        }
                        i = t.max(s + 1);
                    } else {
                        i += 1;
                    }
                }
            }
            Anchor::GcpApi => {
                if !left_ok(hay, p, is_key_char) {
                    return;
                }
                let e = run_end(hay, q, 64, is_key_char);
                if e - q == 35 {
                    Self::push(out, Detector::GcpApiKey, p, e, High);
                }
            }
            Anchor::AzureAccountKey | Anchor::AzureSharedAccessKey => {
                let e = run_end(hay, q, 128, |b| is_alnum(b) || b == b'+' || b == b'/');
                let e2 = run_end(hay, e, 2, |b| b == b'=');
                let (l, u, d) = count_classes(&hay[q..e]);
                if e - q >= 40 && l && u && d {
                    Self::push(out, Detector::AzureKey, q, e2, High);
                }
            }
            Anchor::AzureAdSecret => {
                // [A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}
                if p < 4 || !hay[p - 1].is_ascii_digit() {
                    return;
                }
                let s = p - 4;
                let ok_c = |b: u8| is_word(b) || b == b'~' || b == b'.' || b == b'-';
                if !hay[s..p - 1]
                    .iter()
                    .all(|&b| is_word(b) || b == b'~' || b == b'.')
                    || !left_ok(hay, s, ok_c)
                {
                    return;
                }
                let e = run_end(hay, q, 40, ok_c);
                if (31..=34).contains(&(e - q)) && !(e < hay.len() && ok_c(hay[e])) {
                    Self::push(out, Detector::AzureKey, s, e, High);
                }
            }
            Anchor::Github => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                if e - q == 36 && !(e < hay.len() && is_word(hay[e])) {
                    let conf = if validate::github_token_checksum(&hay[p..e]) {
                        High
                    } else {
                        Medium
                    };
                    Self::push(out, Detector::GithubToken, p, e, conf);
                }
            }
            Anchor::GithubPat => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 128, is_word);
                if (60..=100).contains(&(e - q)) {
                    Self::push(out, Detector::GithubToken, p, e, High);
                }
            }
            Anchor::Gitlab => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 128, |b| is_key_char(b) || b == b'.');
                let e = if e > q && hay[e - 1] == b'.' {
                    e - 1
                } else {
                    e
                };
                if e - q >= 20 {
                    Self::push(out, Detector::GitlabToken, p, e, High);
                }
            }
            Anchor::Slack => {
                if !left_ok(hay, p, is_word) || q + 2 > hay.len() {
                    return;
                }
                if !matches!(hay[q], b'a' | b'b' | b'p' | b'o' | b's' | b'r' | b'e')
                    || hay[q + 1] != b'-'
                {
                    return;
                }
                let e = run_end(hay, q + 2, 256, is_key_char);
                let body = &hay[q + 2..e];
                let digits = body.iter().filter(|b| b.is_ascii_digit()).count();
                if body.len() >= 20 && digits >= 4 {
                    Self::push(out, Detector::SlackToken, p, e, High);
                }
            }
            Anchor::SlackWebhook => {
                if let Some(e) = self.anchored(&self.re_slack_webhook, hay, p) {
                    let s = if p >= 8 && &hay[p - 8..p] == b"https://" {
                        p - 8
                    } else {
                        p
                    };
                    Self::push(out, Detector::SlackToken, s, e, High);
                }
            }
            Anchor::Telegram => {
                let mut s = p;
                while s > 0 && p - s < 11 && hay[s - 1].is_ascii_digit() {
                    s -= 1;
                }
                if !(8..=10).contains(&(p - s)) || !left_ok(hay, s, is_alnum) {
                    return;
                }
                let e = run_end(hay, p + 1, 64, is_key_char);
                if e - (p + 1) == 35 {
                    Self::push(out, Detector::TelegramBotToken, s, e, High);
                }
            }
            Anchor::Sendgrid => {
                if left_ok(hay, p, is_word) {
                    if let Some(e) = self.anchored(&self.re_sendgrid, hay, p) {
                        if !(e < hay.len() && is_key_char(hay[e])) {
                            Self::push(out, Detector::SendgridApiKey, p, e, High);
                        }
                    }
                }
            }
            Anchor::Npm => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                if e - q == 36 && !(e < hay.len() && is_word(hay[e])) {
                    Self::push(out, Detector::NpmToken, p, e, High);
                }
            }
            Anchor::Pypi => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 512, is_key_char);
                if e - p >= 60 {
                    Self::push(out, Detector::PypiToken, p, e, High);
                }
            }
            Anchor::Hf => {
                if !left_ok(hay, p, is_word) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                let (l, u, _) = count_classes(&hay[q..e]);
                if (30..=40).contains(&(e - q)) && l && u && !(e < hay.len() && is_word(hay[e])) {
                    Self::push(out, Detector::HuggingfaceToken, p, e, High);
                }
            }
            Anchor::Jwt => {
                if !left_ok(hay, p, is_key_char) {
                    return;
                }
                if let Some(e) = self.anchored(&self.re_jwt, hay, p) {
                    let dot = hay[p..e]
                        .iter()
                        .position(|&b| b == b'.')
                        .map_or(e, |d| p + d);
                    if validate::jwt_header(&hay[p..dot]) {
                        Self::push(out, Detector::Jwt, p, e, High);
                    }
                }
            }
            Anchor::Pem => {
                self.pem(hay, p, &mut EndCache::default(), out);
            }
            Anchor::Url => self.url_credentials(hay, p, q, out),
            Anchor::Password | Anchor::Secret => self.assignment(hay, p, q, kind, out),
            Anchor::Bearer => {
                let e = run_end(hay, q, 512, |b| {
                    is_key_char(b) || matches!(b, b'.' | b'~' | b'+' | b'/')
                });
                let e = run_end(hay, e, 2, |b| b == b'=');
                let v = &hay[q..e];
                let digits = v.iter().filter(|b| b.is_ascii_digit()).count();
                let (l, u, _) = count_classes(v);
                if v.len() >= 20 && digits >= 2 && (l || u) && !v.starts_with(b"eyJ") {
                    Self::push(out, Detector::SecretAssignment, q, e, Medium);
                }
            }
            Anchor::BaiduBce => {
                if let Some(e) = self.anchored(&self.re_baidu_bce, hay, p) {
                    Self::push(out, Detector::BaiduApiKey, p, e, High);
                }
            }
            Anchor::BaiduAltak => {
                if p >= 7 && &hay[p - 7..p] == b"bce-v3/" {
                    return;
                }
                if !left_ok(hay, p, is_alnum) {
                    return;
                }
                let e = run_end(hay, q, 64, is_alnum);
                let (_, _, d) = count_classes(&hay[q..e]);
                if (15..=40).contains(&(e - q)) && d {
                    Self::push(out, Detector::BaiduApiKey, p, e, High);
                }
            }
        }
    }

    fn pem(&self, hay: &[u8], p: usize, ends: &mut EndCache, out: &mut Vec<Raw>) -> Option<usize> {
        let hdr_end = self.anchored(&self.re_pem, hay, p)?;
        let label = &hay[p + 11..hdr_end - 5];
        let det = if label.starts_with(b"OPENSSH") {
            Detector::OpensshPrivateKey
        } else if label.starts_with(b"PGP") {
            Detector::PgpPrivateKey
        } else if window_has(hay, p.saturating_sub(40), p, &[b"\"private_key\""]) {
            Detector::GcpServiceAccountKey
        } else {
            Detector::PemPrivateKey
        };
        // Find the matching END line within 64 KiB; without it, cover the base64 body.
        let end = match self
            .next_pem_end(hay, hdr_end, ends)
            .filter(|&k| k - hdr_end <= 65536)
        {
            Some(k) => {
                let after = k + 9;
                let lim = hay.len().min(after + 128);
                match find_sub(&hay[after..lim], b"-----") {
                    Some(j) => after + j + 5,
                    None => after,
                }
            }
            None => run_end(hay, hdr_end, 65536, |b| {
                is_alnum(b)
                    || matches!(
                        b,
                        b'+' | b'/' | b'=' | b'\n' | b'\r' | b'\\' | b' ' | b':' | b'-'
                    )
            }),
        };
        Self::push(out, det, p, end, Confidence::High);
        Some(end)
    }

    fn url_credentials(&self, hay: &[u8], p: usize, q: usize, out: &mut Vec<Raw>) {
        // scheme
        let mut s = p;
        while s > 0
            && p - s < 20
            && (is_alnum(hay[s - 1]) || matches!(hay[s - 1], b'+' | b'.' | b'-'))
        {
            s -= 1;
        }
        if p - s < 2 {
            return;
        }
        let scheme = &hay[s..p];
        let stop = |b: u8| {
            matches!(
                b,
                b'/' | b'@' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`'
            ) || b.is_ascii_whitespace()
        };
        let user_end = run_end(hay, q, 128, |b| !stop(b) && b != b':');
        if user_end >= hay.len() || hay[user_end] != b':' {
            return;
        }
        let pw_start = user_end + 1;
        let pw_end = run_end(hay, pw_start, 256, |b| !stop(b));
        if pw_end >= hay.len() || hay[pw_end] != b'@' || pw_end == pw_start {
            return;
        }
        // host must follow
        if !(pw_end + 1 < hay.len() && (is_alnum(hay[pw_end + 1]) || hay[pw_end + 1] == b'[')) {
            return;
        }
        let pw = &hay[pw_start..pw_end];
        if is_placeholder(pw) {
            return;
        }
        let lower: Vec<u8> = scheme.to_ascii_lowercase();
        let db = [
            &b"postgres"[..],
            b"postgresql",
            b"mysql",
            b"mariadb",
            b"mongodb",
            b"mongodb+srv",
            b"redis",
            b"rediss",
            b"amqp",
            b"amqps",
            b"mssql",
            b"sqlserver",
            b"oracle",
            b"clickhouse",
            b"jdbc:mysql",
            b"jdbc:postgresql",
            b"postgresql+psycopg2",
            b"mysql+pymysql",
            b"cockroachdb",
            b"nats",
            b"kafka",
            b"ldap",
            b"ldaps",
            b"smtp",
            b"smtps",
            b"ftp",
            b"sftp",
        ];
        let det = if db.contains(&lower.as_slice())
            || lower.starts_with(b"postgres")
            || lower.starts_with(b"mysql")
            || lower.starts_with(b"mongodb")
        {
            Detector::ConnectionStringPassword
        } else {
            Detector::UrlCredentials
        };
        let conf = if det == Detector::ConnectionStringPassword {
            Confidence::High
        } else {
            Confidence::Medium
        };
        Self::push(out, det, pw_start, pw_end, conf);
    }

    fn assignment(&self, hay: &[u8], p: usize, q: usize, kind: Anchor, out: &mut Vec<Raw>) {
        let ident = |b: u8| is_word(b) || b == b'-' || b == b'.';
        // Full label around the anchor (ASCII identifier characters only).
        let mut ls = p;
        while ls > 0 && p - ls < 48 && ident(hay[ls - 1]) {
            ls -= 1;
        }
        let le = run_end(hay, q, 48, ident);
        // Separator: optional closing quote, spaces, one of `=`, `:`, `:=`, `=>`, `：`.
        let mut i = le;
        if i < hay.len() && (hay[i] == b'"' || hay[i] == b'\'') {
            i += 1;
        }
        i = run_end(hay, i, 3, |b| b == b' ' || b == b'\t');
        let sep_ok = if hay[i..].starts_with("：".as_bytes()) {
            i += 3;
            true
        } else if hay[i..].starts_with(b":=") || hay[i..].starts_with(b"=>") {
            i += 2;
            true
        } else if i < hay.len() && (hay[i] == b'=' || hay[i] == b':') {
            // `==` is a comparison, `::` a path.
            if i + 1 < hay.len() && hay[i + 1] == hay[i] {
                false
            } else {
                i += 1;
                true
            }
        } else {
            false
        };
        if !sep_ok {
            return;
        }
        i = run_end(hay, i, 3, |b| b == b' ' || b == b'\t');
        if i >= hay.len() {
            return;
        }
        let (vs, ve, quoted) = match hay[i] {
            q @ (b'"' | b'\'' | b'`') => {
                let e = run_end(hay, i + 1, 256, |b| b != q && b != b'\n');
                if e >= hay.len() || hay[e] != q {
                    return;
                }
                (i + 1, e, true)
            }
            _ => {
                let e = run_end(hay, i, 256, |b| {
                    !(b.is_ascii_whitespace()
                        || matches!(
                            b,
                            b',' | b';' | b'"' | b'\'' | b'`' | b')' | b'}' | b']' | b'<' | b'>'
                        ))
                });
                (i, e, false)
            }
        };
        let v = &hay[vs..ve];
        let is_pw = matches!(kind, Anchor::Password);
        let min = if is_pw { 6 } else { 8 };
        if v.len() < min || v.len() > 200 {
            return;
        }
        if v.iter().any(|b| b.is_ascii_whitespace()) {
            return;
        }
        if !quoted {
            // Code, not a literal: calls, indexing, member access chains, references, types.
            if v.iter()
                .any(|&b| matches!(b, b'(' | b'[' | b'{' | b'<' | b'&' | b'*' | b'!' | b'|'))
                || is_identifier_chain(v)
            {
                return;
            }
        } else if v.iter().any(|&b| matches!(b, b'{' | b'%' | b'<')) {
            return;
        }
        let (l, u, d) = count_classes(v);
        let sym = v.iter().any(|b| !b.is_ascii_alphanumeric());
        let classes = usize::from(l) + usize::from(u) + usize::from(d) + usize::from(sym);
        // Long all-lower-case words are prose or enum values, not passwords.
        // (The placeholder test comes after the cheaper rejections above.)
        if classes < 2 || is_placeholder(v) {
            return;
        }
        // Labels that name something other than the secret itself (checked last: it is the
        // costliest test).
        let lower: Vec<u8> = hay[ls..le].to_ascii_lowercase();
        const NOT_SECRET: &[&[u8]] = &[
            b"file",
            b"path",
            b"env",
            b"name",
            b"len",
            b"size",
            b"type",
            b"count",
            b"max",
            b"min",
            b"tokeniz",
            b"tokens",
            b"url",
            b"uri",
            b"field",
            b"policy",
            b"prompt",
            b"label",
            b"hint",
            b"placeholder",
            b"required",
            b"reset",
            b"confirm",
            b"hash",
            b"expir",
            b"ttl",
            b"kind",
            b"mode",
            b"format",
            b"header",
            b"limit",
            b"usage",
            b"budget",
            b"length",
            b"_id",
            b"ref",
            b"manager",
            b"store",
            b"provider",
            b"version",
            b"rotation",
            b"created",
            b"updated",
            b"at",
            b"policy",
            b"regex",
            b"pattern",
            b"detector",
            b"masked",
            b"redact",
            b"scope",
        ];
        if NOT_SECRET.iter().any(|n| {
            // match whole-ish components: `_at` only as a suffix.
            if *n == b"at" {
                lower.ends_with(b"_at")
            } else {
                lower.windows(n.len()).any(|w| w == *n)
            }
        }) {
            return;
        }
        let is_aws = lower.windows(17).any(|w| w == b"secret_access_key")
            || lower.windows(15).any(|w| w == b"secretaccesskey");
        let det = if is_aws && v.len() == 40 {
            Detector::AwsSecretAccessKey
        } else if is_pw {
            Detector::PasswordAssignment
        } else {
            Detector::SecretAssignment
        };
        let conf = if v.len() >= 8 && classes >= 2 {
            Confidence::High
        } else {
            Confidence::Medium
        };
        Self::push(out, det, vs, ve, conf);
    }

    // ---------------------------------------------------------------- token pass

    /// A token followed by `=`, `:`, `:=`, `=>` or `：` (after an optional closing quote) may be
    /// a label: `db_password=`, `"client_secret":`, `AccountKey=`.
    fn labels(&self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Raw>) {
        let n = hay.len();
        let mut le = e;
        while le > s && hay[le - 1] == b'=' {
            le -= 1;
        }
        // Labels are short; a long token ending in `=` is base64 padding, not `name=`.
        if le - s > 48 {
            return;
        }
        if le == e {
            let mut j = e;
            if j < n && (hay[j] == b'"' || hay[j] == b'\'') {
                j += 1;
            }
            let j = run_end(hay, j, 3, |b| b == b' ' || b == b'\t');
            if !(j < n
                && (hay[j] == b'=' || hay[j] == b':' || hay[j..].starts_with("：".as_bytes())))
            {
                return;
            }
        } else if le - s >= 10 {
            let label = &hay[s..le];
            if label == b"AccountKey" {
                self.confirm(Anchor::AzureAccountKey, hay, s, e, out);
                return;
            }
            if label.ends_with(b"SharedAccessKey") {
                self.confirm(Anchor::AzureSharedAccessKey, hay, le - 15, e, out);
                return;
            }
        }
        let label = &hay[s..le];
        for k in 0..label.len() {
            // dispatch on the first letter so most positions cost one comparison
            if !matches!(label[k] | 0x20, b'p' | b's' | b't' | b'a') {
                continue;
            }
            let rest = &label[k..];
            for (kw, kind) in LABELS {
                if rest.len() >= kw.len() && rest[..kw.len()].eq_ignore_ascii_case(kw) {
                    self.assignment(hay, s + k, s + k + kw.len(), *kind, out);
                    return;
                }
            }
        }
    }

    fn tokens(&self, hay: &[u8], out: &mut Vec<Raw>) {
        let n = hay.len();
        let mut i = 0usize;
        let mut chain = Chain::default();
        while i < n {
            let b = hay[i];
            let c = SCAN[b as usize];
            if c & TOKEN_BITS == 0 {
                if c == 0 {
                    i += 1;
                    continue;
                }
                if b == b'@' {
                    email_at(hay, i, out);
                } else if b == b'~' {
                    if i > 0 && hay[i - 1] == b'Q' {
                        self.confirm(Anchor::AzureAdSecret, hay, i - 1, i + 1, out);
                    }
                } else if (0xE0..0xF0).contains(&b) {
                    if i + 6 <= n {
                        let w = [
                            hay[i],
                            hay[i + 1],
                            hay[i + 2],
                            hay[i + 3],
                            hay[i + 4],
                            hay[i + 5],
                        ];
                        if let Some((_, kind)) = ZH_LABELS.iter().find(|(l, _)| *l == w) {
                            self.assignment(hay, i, i + 6, *kind, out);
                        }
                    }
                    if i + 4 < n && hay[i + 3] == b' ' {
                        let j = zh_chain(hay, i, out);
                        if j > i {
                            i = j;
                            continue;
                        }
                    }
                }
                i += 1;
                continue;
            }
            let s = i;
            let mut acc = 0u8;
            // Eight bytes at a time without a data-dependent branch: the classes of the next
            // eight bytes packed into a word, the token's end found as the first byte without
            // token bits. Byte by byte only near the end of the text or with a `=` in the way.
            'token: loop {
                if let Some(w) = hay.get(i..i + 8) {
                    let packed = w.iter().enumerate().fold(0u64, |p, (k, &x)| {
                        p | u64::from(SCAN[x as usize]) << (8 * k)
                    });
                    let tok = packed & LANES_TOKEN;
                    let zero = tok.wrapping_sub(LANES_ONE) & !tok & LANES_HIGH;
                    let len = if zero == 0 {
                        8
                    } else {
                        (zero.trailing_zeros() / 8) as usize
                    };
                    let cls = if len == 8 {
                        packed
                    } else {
                        packed & ((1u64 << (8 * len)) - 1)
                    };
                    if cls & LANES_EQ == 0 {
                        let mut r = cls;
                        r |= r >> 32;
                        r |= r >> 16;
                        r |= r >> 8;
                        acc |= r as u8;
                        i += len;
                        if len < 8 {
                            break 'token;
                        }
                        continue 'token;
                    }
                }
                let stop = n.min(i + 8);
                while i < stop {
                    let c = SCAN[hay[i] as usize];
                    if c & TOKEN_BITS == 0 {
                        break 'token;
                    }
                    acc |= c;
                    i += 1;
                    // `name=value`: an interior `=` (not base64 padding) ends the token, so the
                    // value is judged on its own.
                    if c & EQ != 0 && i < n && hay[i] != b'=' && CLASS[hay[i] as usize] != 0 {
                        break 'token;
                    }
                }
                if i >= n {
                    break;
                }
            }
            let acc = acc & TOKEN_BITS;
            let len = i - s;
            if len >= 5 && acc & (LOWER | UPPER) != 0 {
                self.labels(hay, s, i, out);
            }
            if acc & !LOWER == 0 && (3..=8).contains(&len) {
                chain.push(hay, s, i, out);
            } else {
                chain.flush(hay, out);
            }
            if len >= 9 {
                token(hay, s, i, acc, out);
            } else if acc == DIGIT && len >= 3 {
                if let Some(j) = digit_groups(hay, s, i, out) {
                    i = j;
                }
            }
        }
        chain.flush(hay, out);
    }
}

fn find_sub(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Values that are obviously not secrets: placeholders, references, masks.
fn is_placeholder(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    if matches!(v[0], b'$' | b'{' | b'<' | b'%' | b'@' | b':' | b'#') {
        return true;
    }
    if v.iter().all(|&b| b == v[0]) {
        return true;
    }
    // `xxxx`-style masks (a run of four, or mostly x); a random `XXX` inside a key is not one.
    let xs = v.iter().filter(|&&b| b == b'x' || b == b'X').count();
    let mut run = 0;
    let mut best = 0;
    for &b in v {
        run = if b == b'x' || b == b'X' { run + 1 } else { 0 };
        best = best.max(run);
    }
    if best >= 4 || xs * 2 >= v.len() {
        return true;
    }
    const WORDS: &[&[u8]] = &[
        b"***",
        b"...",
        "…".as_bytes(),
        b"your",
        b"example",
        b"changeme",
        b"change_me",
        b"redacted",
        b"placeholder",
        b"dummy",
        b"sample",
        b"<",
        b"${",
        b"{{",
        b"hidden",
        b"password",
        b"secret",
        b"passwd",
        b"none",
        b"null",
        b"undefined",
        b"replace",
        b"todo",
        b"fixme",
        b"masked",
        b"******",
    ];
    // ASCII case-insensitive substring test without allocating: dispatch on the first byte
    // (the words are lower case), then compare the rest.
    const fn first_bytes(words: &[&[u8]]) -> [bool; 256] {
        let mut t = [false; 256];
        let mut i = 0;
        while i < words.len() {
            t[words[i][0] as usize] = true;
            i += 1;
        }
        t
    }
    static FIRST: [bool; 256] = first_bytes(WORDS);
    for k in 0..v.len() {
        let c = v[k].to_ascii_lowercase();
        if !FIRST[c as usize] {
            continue;
        }
        let rest = &v[k..];
        for w in WORDS {
            if w[0] == c && rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w) {
                return true;
            }
        }
    }
    false
}

/// `foo`, `foo_bar`, `self.password`, `config.db.pass`: identifiers or member chains (code).
fn is_identifier_chain(v: &[u8]) -> bool {
    let mut start = true;
    for &b in v {
        if start {
            if !(b.is_ascii_alphabetic() || b == b'_') {
                return false;
            }
            start = false;
        } else if b == b'.' {
            start = true;
        } else if !(is_word(b)) {
            return false;
        }
    }
    !start && (v.contains(&b'.') || !v.iter().any(u8::is_ascii_digit))
}

fn digit_boundary_ok(hay: &[u8], s: usize, e: usize) -> bool {
    let before_ok =
        !(s >= 2 && (hay[s - 1] == b'.' || hay[s - 1] == b',') && hay[s - 2].is_ascii_digit());
    let after_ok =
        !(e + 1 < hay.len() && (hay[e] == b'.' || hay[e] == b',') && hay[e + 1].is_ascii_digit());
    before_ok && after_ok
}

const PHONE_CTX: &[&[u8]] = &[
    b"phone",
    b"mobile",
    b"tel",
    b"cell",
    b"contact",
    b"whatsapp",
    b"wechat",
    b"sms",
    "电话".as_bytes(),
    "手机".as_bytes(),
    "联系".as_bytes(),
    "号码".as_bytes(),
    "微信".as_bytes(),
];
const CARD_CTX: &[&[u8]] = &[
    b"card",
    b"visa",
    b"master",
    b"unionpay",
    b"amex",
    b"credit",
    b"debit",
    // "pan" only as a word of its own (not `span_id`, `company`)
    b" pan ",
    b"pan:",
    b"pan=",
    b"pan\"",
    b"payment",
    "卡".as_bytes(),
    "银联".as_bytes(),
    "银行".as_bytes(),
    "信用".as_bytes(),
];
const KEY_CTX: &[&[u8]] = &[
    b"private",
    b"priv",
    b"secret",
    b"wallet",
    b"signing",
    b"seed",
    b"eth_key",
    b"sk=",
    b"sk:",
    "私钥".as_bytes(),
    "钱包".as_bytes(),
    "密钥".as_bytes(),
];

fn check_card(
    hay: &[u8],
    digits: &[u8],
    s: usize,
    e: usize,
    formatted: bool,
    out: &mut Vec<Raw>,
) -> bool {
    if validate::card_issuer_plausible(digits) && validate::luhn(digits) {
        let conf = if formatted || context_has(hay, s, e, 64, 16, CARD_CTX) {
            Confidence::High
        } else if id_labelled(hay, s) {
            // `span_id=5144962140716082`, `"order_id": 4111…`: an identifier that happens to
            // pass Luhn (one in ten does), not a card with nothing saying so.
            return false;
        } else {
            Confidence::Medium
        };
        out.push(Raw {
            det: Detector::BankCard,
            start: s,
            end: e,
            conf,
        });
        return true;
    }
    false
}

/// Whether the value at `s` is labelled as an identifier (`…id=`, `…_id: `, `"id": `).
fn id_labelled(hay: &[u8], s: usize) -> bool {
    let mut k = s;
    while k > 0 && matches!(hay[k - 1], b' ' | b'"' | b'\'') && s - k < 3 {
        k -= 1;
    }
    if k == 0 || !matches!(hay[k - 1], b'=' | b':') {
        return false;
    }
    let mut j = k - 1;
    while j > 0 && matches!(hay[j - 1], b' ' | b'"' | b'\'') && k - j < 4 {
        j -= 1;
    }
    j >= 2 && hay[j - 2..j].eq_ignore_ascii_case(b"id")
}

fn check_mobile(
    hay: &[u8],
    digits: &[u8],
    s: usize,
    e: usize,
    formatted: bool,
    out: &mut Vec<Raw>,
) -> bool {
    if validate::cn_mobile(digits) {
        let conf = if formatted || context_has(hay, s, e, 48, 8, PHONE_CTX) {
            Confidence::High
        } else {
            Confidence::Medium
        };
        out.push(Raw {
            det: Detector::CnMobile,
            start: s,
            end: e,
            conf,
        });
        return true;
    }
    false
}

/// Space-separated digit groups (`6222 0212 3456 7890`, `138 1234 5678`). Returns the end of the
/// consumed groups when something was found.
fn digit_groups(hay: &[u8], s: usize, e: usize, out: &mut Vec<Raw>) -> Option<usize> {
    let n = hay.len();
    if e >= n || hay[e] != b' ' || e + 1 >= n || !hay[e + 1].is_ascii_digit() {
        return None;
    }
    if !(s == 0 || !(hay[s - 1].is_ascii_digit() || hay[s - 1] == b'.')) {
        return None;
    }
    let mut digits = [0u8; 24];
    let mut nd = 0usize;
    let mut groups = [0usize; 6];
    let mut ng = 0usize;
    let mut gs = s;
    let mut end = s;
    loop {
        let ge = run_end(hay, gs, 9, |b| b.is_ascii_digit());
        let gl = ge - gs;
        if gl == 0 || nd + gl > 19 || ng == 6 || (ge < n && CLASS[hay[ge] as usize] != 0) {
            break;
        }
        digits[nd..nd + gl].copy_from_slice(&hay[gs..ge]);
        nd += gl;
        groups[ng] = gl;
        ng += 1;
        end = ge;
        if ge + 1 < n && hay[ge] == b' ' && hay[ge + 1].is_ascii_digit() {
            gs = ge + 1;
        } else {
            break;
        }
    }
    if ng < 2 || !digit_boundary_ok(hay, s, end) {
        return None;
    }
    let g = &groups[..ng];
    let d = &digits[..nd];
    if nd == 11 && g == [3, 4, 4] && check_mobile(hay, d, s, end, true, out) {
        return Some(end);
    }
    let card_shape = (g[..ng - 1].iter().all(|&x| x == 4) && g[ng - 1] <= 4 && g[ng - 1] >= 3)
        || g == [4, 6, 5]
        || g == [4, 6, 4]
        || g == [6, 13];
    if (13..=19).contains(&nd) && card_shape && check_card(hay, d, s, end, true, out) {
        return Some(end);
    }
    None
}

/// Dispatch for one token of at least 9 bytes of class [A-Za-z0-9_+/=-]. Tokens with
/// separators (`/users/42010219900307123X/`, `order_6222021234567890123`) are also checked run
/// by run of alphanumerics for the fixed-shape detectors (numbers, codes, hex keys).
fn token(hay: &[u8], s: usize, e: usize, acc: u8, out: &mut Vec<Raw>) {
    token_at(hay, s, e, acc, false, out);
    // Longer tokens are base64 blobs (images, key bodies): their alphanumeric runs are random.
    // Every run-level detector needs digits.
    if acc & SYM == 0 || acc & DIGIT == 0 || e - s > 256 {
        return;
    }
    long_runs(hay, s, e, |a, k, run_acc| {
        if (a, k) != (s, e) && run_acc & DIGIT != 0 {
            token_at(hay, a, k, run_acc, true, out);
        }
    });
}

/// Calls `f(start, end, classes)` for each maximal alphanumeric run of at least nine bytes in
/// the token `hay[s..e]` (runs are separated by `_ + / = -`). Skips ahead: if the ninth byte
/// window from a run start holds a separator, no long run starts before the last one, so most
/// bytes of tokens made of short runs (UUIDs, kebab-case, paths) are never looked at.
#[inline]
fn long_runs(hay: &[u8], s: usize, e: usize, mut f: impl FnMut(usize, usize, u8)) {
    let mut a = s;
    'runs: while a + 9 <= e {
        let mut p = a + 9;
        while p > a {
            p -= 1;
            if CLASS[hay[p] as usize] & SYM != 0 {
                a = p + 1;
                continue 'runs;
            }
        }
        let mut k = a;
        let mut run_acc = 0u8;
        while k < e {
            let c = CLASS[hay[k] as usize];
            if c & SYM != 0 {
                break;
            }
            run_acc |= c;
            k += 1;
        }
        f(a, k, run_acc);
        a = k + 1;
    }
}

/// Detectors for one token; `sub` marks an alphanumeric run inside a larger token (only the
/// fixed-shape, checksum-backed detectors run there).
fn token_at(hay: &[u8], s: usize, e: usize, acc: u8, sub: bool, out: &mut Vec<Raw>) {
    let t = &hay[s..e];
    let len = t.len();
    if acc == DIGIT {
        if !digit_boundary_ok(hay, s, e) {
            return;
        }
        match len {
            11 => {
                check_mobile(hay, t, s, e, false, out);
            }
            18 => {
                if validate::cn_resident_id(t) {
                    out.push(Raw {
                        det: Detector::CnResidentId,
                        start: s,
                        end: e,
                        conf: Confidence::High,
                    });
                } else {
                    check_card(hay, t, s, e, false, out);
                }
            }
            13..=19 => {
                check_card(hay, t, s, e, false, out);
            }
            _ => {}
        }
        return;
    }
    if acc & SYM != 0 && acc & !(SYM | DIGIT) == 0 {
        // digits with '-' separators, or a +86 prefix
        if len > 24 {
            return;
        }
        let mut d = [0u8; 24];
        let mut nd = 0;
        let mut groups = [0usize; 8];
        let mut ng = 0;
        let mut cur = 0;
        let mut body = t;
        let mut intl = false;
        if body.starts_with(b"+86") {
            body = &body[3..];
            intl = true;
            if body.first() == Some(&b'-') {
                body = &body[1..];
            }
        }
        for &b in body {
            if b.is_ascii_digit() {
                d[nd] = b;
                nd += 1;
                cur += 1;
            } else if b == b'-' && cur > 0 && ng < 7 {
                groups[ng] = cur;
                ng += 1;
                cur = 0;
            } else {
                return;
            }
        }
        if cur == 0 {
            return;
        }
        groups[ng] = cur;
        ng += 1;
        let g = &groups[..ng];
        let dd = &d[..nd];
        if nd == 11 && (g == [3, 4, 4] || g == [11]) && (intl || ng > 1) {
            check_mobile(hay, dd, s, e, true, out);
        } else if !intl && (13..=19).contains(&nd) && ng >= 3 && g[..ng - 1].iter().all(|&x| x == 4)
        {
            check_card(hay, dd, s, e, true, out);
        }
        return;
    }
    if acc & (SYM | LOWER) == 0 || acc & (SYM | UPPER) == 0 {
        // [0-9A-Z]+ or [0-9a-z]+
        let upper_only = acc & (SYM | LOWER) == 0;
        if len == 18 && t[17].eq_ignore_ascii_case(&b'X') && t[..17].iter().all(u8::is_ascii_digit)
        {
            if validate::cn_resident_id(t) {
                out.push(Raw {
                    det: Detector::CnResidentId,
                    start: s,
                    end: e,
                    conf: Confidence::High,
                });
            }
            return;
        }
        if upper_only && len == 18 && validate::cn_uscc(t) {
            out.push(Raw {
                det: Detector::CnUscc,
                start: s,
                end: e,
                conf: Confidence::High,
            });
            return;
        }
        if upper_only && len == 9 && !sub && passport(t) {
            const CTX: &[&[u8]] = &[b"passport", "护照".as_bytes(), b"travel doc"];
            let conf = if context_has(hay, s, e, 64, 8, CTX) {
                Confidence::High
            } else {
                Confidence::Medium
            };
            out.push(Raw {
                det: Detector::CnPassport,
                start: s,
                end: e,
                conf,
            });
            return;
        }
    }
    let hex = acc & !(DIGIT | LHEX | UHEX) == 0;
    if hex {
        if len == 64 {
            let conf = if line_context_has(hay, s, 48, KEY_CTX) {
                Confidence::High
            } else {
                Confidence::Low
            };
            out.push(Raw {
                det: Detector::HexPrivateKey,
                start: s,
                end: e,
                conf,
            });
            return;
        }
        if len == 32 && e + 17 <= hay.len() && hay[e] == b'.' && acc & UHEX == 0 {
            let k = run_end(hay, e + 1, 32, is_alnum);
            if k - (e + 1) == 16 && !(k < hay.len() && is_word(hay[k])) {
                const CTX: &[&[u8]] = &[b"zhipu", b"bigmodel", b"glm", "智谱".as_bytes()];
                let conf = if context_has(hay, s, k, 200, 40, CTX) {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                out.push(Raw {
                    det: Detector::ZhipuApiKey,
                    start: s,
                    end: k,
                    conf,
                });
            }
            return;
        }
    }
    if len == 66 && t.starts_with(b"0x") && t[2..].iter().all(u8::is_ascii_hexdigit) {
        let conf = if line_context_has(hay, s, 48, KEY_CTX) {
            Confidence::High
        } else {
            Confidence::Low
        };
        out.push(Raw {
            det: Detector::HexPrivateKey,
            start: s,
            end: e,
            conf,
        });
        return;
    }
    if len == 34
        && t.starts_with(b"SK")
        && t[2..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        let conf = if context_has(hay, s, e, 200, 40, &[b"twilio"]) {
            Confidence::High
        } else {
            Confidence::Medium
        };
        out.push(Raw {
            det: Detector::TwilioApiKey,
            start: s,
            end: e,
            conf,
        });
        return;
    }
    if (len == 51 || len == 52)
        && acc & SYM == 0
        && matches!(t[0], b'5' | b'K' | b'L' | b'9' | b'c')
        && validate::wif(t)
    {
        out.push(Raw {
            det: Detector::WifPrivateKey,
            start: s,
            end: e,
            conf: Confidence::High,
        });
        return;
    }
    if !sub && (24..=128).contains(&len) && acc & LOWER != 0 && acc & UPPER != 0 && acc & DIGIT != 0
    {
        high_entropy(hay, s, e, out);
    }
}

fn passport(t: &[u8]) -> bool {
    match t[0] {
        b'E' | b'G' | b'D' | b'S' | b'P' => {
            if t[1..].iter().all(u8::is_ascii_digit) {
                // 8 digits: reject runs such as 00000000 / 12345678 that are codes, not passports
                return !t[1..].iter().all(|&b| b == t[1]);
            }
            t[0] == b'E'
                && t[1].is_ascii_uppercase()
                && !matches!(t[1], b'I' | b'O')
                && t[2..].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

fn high_entropy(hay: &[u8], s: usize, e: usize, out: &mut Vec<Raw>) {
    let t = &hay[s..e];
    const HASH_PREFIX: &[&[u8]] = &[b"sha1-", b"sha256-", b"sha384-", b"sha512-"];
    if HASH_PREFIX.iter().any(|p| t.starts_with(p)) {
        return;
    }
    // Part of a wrapped base64 blob (PEM bodies, MIME, embedded images): neighbours on the
    // previous/next line are long base64 runs too.
    let long_b64_at = |k: usize| run_end(hay, k, 64, |b| CLASS[b as usize] != 0) - k >= 40;
    if e < hay.len() && (hay[e] == b'\n' || hay[e] == b'\r') {
        let mut k = e;
        while k < hay.len() && (hay[k] == b'\n' || hay[k] == b'\r') {
            k += 1;
        }
        if long_b64_at(k) {
            return;
        }
    }
    if s >= 2 && hay[s - 1] == b'\n' {
        let mut k = s - 1;
        while k > 0 && (hay[k - 1] == b'\r' || hay[k - 1] == b'\n') {
            k -= 1;
        }
        let mut b = k;
        while b > 0 && CLASS[hay[b - 1] as usize] != 0 && k - b < 64 {
            b -= 1;
        }
        if k - b >= 40 {
            return;
        }
    }
    // base64 data URIs
    if window_has(hay, s.saturating_sub(40), s, &[b";base64,"]) {
        return;
    }
    let digits = t.iter().filter(|b| b.is_ascii_digit()).count();
    if digits < 2 {
        return;
    }
    let h = validate::shannon_entropy(t);
    let thr = ((t.len() as f64).log2() * 0.85).min(4.5);
    if h >= thr {
        out.push(Raw {
            det: Detector::HighEntropy,
            start: s,
            end: e,
            conf: Confidence::Low,
        });
    }
}

fn email_at(hay: &[u8], at: usize, out: &mut Vec<Raw>) {
    let local_c = |b: u8| is_alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-');
    let mut s = at;
    while s > 0 && at - s < 64 && local_c(hay[s - 1]) {
        s -= 1;
    }
    if s == at || hay[s] == b'.' || hay[at - 1] == b'.' {
        return;
    }
    if s > 0 && matches!(hay[s - 1], b':' | b'/' | b'@') {
        return; // userinfo in a URL, or not an address
    }
    let mut e = run_end(hay, at + 1, 253, |b| is_alnum(b) || b == b'.' || b == b'-');
    while e > at + 1 && (hay[e - 1] == b'.' || hay[e - 1] == b'-') {
        e -= 1;
    }
    let domain = &hay[at + 1..e];
    let Some(dot) = domain.iter().rposition(|&b| b == b'.') else {
        return;
    };
    let tld = &domain[dot + 1..];
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || dot == 0 {
        return;
    }
    let local = &hay[s..at];
    let dl = domain.to_ascii_lowercase();
    const FILE_EXT: &[&[u8]] = &[
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"js", b"ts", b"css", b"py", b"rs",
        b"go", b"md", b"json", b"html", b"txt", b"ico", b"mjs", b"tsx", b"jsx", b"map", b"wasm",
    ];
    let tl = tld.to_ascii_lowercase();
    if FILE_EXT.contains(&tl.as_slice()) {
        return;
    }
    const SKIP_DOMAINS: &[&[u8]] = &[b"example.com", b"example.org", b"example.net", b"localhost"];
    if SKIP_DOMAINS
        .iter()
        .any(|d| dl.as_slice() == *d || dl.ends_with(&[b".", *d].concat()))
        || [
            &b".example"[..],
            b".invalid",
            b".test",
            b".local",
            b".localhost",
        ]
        .iter()
        .any(|x| dl.ends_with(x))
    {
        return;
    }
    if local == b"git"
        || local.eq_ignore_ascii_case(b"noreply")
        || local.eq_ignore_ascii_case(b"no-reply")
    {
        return;
    }
    out.push(Raw {
        det: Detector::Email,
        start: s,
        end: e,
        conf: Confidence::Medium,
    });
}

/// English mnemonic candidate chain: consecutive lower-case words of 3–8 letters separated by
/// whitespace (or commas).
#[derive(Default)]
struct Chain {
    start: usize,
    last_end: usize,
    count: usize,
}

impl Chain {
    #[inline]
    fn push(&mut self, hay: &[u8], s: usize, e: usize, out: &mut Vec<Raw>) {
        if self.count > 0 {
            let gap = &hay[self.last_end..s];
            if gap.len() <= 4
                && gap
                    .iter()
                    .all(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b','))
            {
                self.count += 1;
                self.last_end = e;
                return;
            }
            self.flush(hay, out);
        }
        self.start = s;
        self.last_end = e;
        self.count = 1;
    }

    #[inline]
    fn flush(&mut self, hay: &[u8], out: &mut Vec<Raw>) {
        if self.count >= 12 {
            // First pass without allocating: is there a run of 12 word-list words at all?
            // The chain's words are exactly its lower-case runs, so the pass stops as soon as
            // twelve in a row are found or the words left cannot make twelve.
            let (mut run, mut best, mut left) = (0usize, 0usize, self.count);
            let mut i = self.start;
            while i < self.last_end && best < 12 && run + left >= 12 {
                if hay[i].is_ascii_lowercase() {
                    let e = run_end(hay, i, 16, |b| b.is_ascii_lowercase());
                    left -= 1;
                    run = if bip39::english_index(&hay[i..e]).is_some() {
                        run + 1
                    } else {
                        0
                    };
                    best = best.max(run);
                    i = e;
                } else {
                    i += 1;
                }
            }
            if best >= 12 {
                let mut words: Vec<(usize, usize, Option<u16>)> = Vec::with_capacity(self.count);
                let mut i = self.start;
                while i < self.last_end {
                    if hay[i].is_ascii_lowercase() {
                        let e = run_end(hay, i, 16, |b| b.is_ascii_lowercase());
                        words.push((i, e, bip39::english_index(&hay[i..e])));
                        i = e;
                    } else {
                        i += 1;
                    }
                }
                mnemonic_windows(&words, out);
            }
        }
        self.count = 0;
    }
}

/// Chinese mnemonic chain starting at a 3-byte UTF-8 character followed by a space. Returns the
/// position after the chain (or `start` if there was none).
fn zh_chain(hay: &[u8], start: usize, out: &mut Vec<Raw>) -> usize {
    let n = hay.len();
    let mut words: Vec<(usize, usize, Option<u16>)> = Vec::new();
    let mut i = start;
    loop {
        if i + 3 > n || !(0xE0..0xF0).contains(&hay[i]) {
            break;
        }
        let Ok(s) = std::str::from_utf8(&hay[i..i + 3]) else {
            break;
        };
        let Some(c) = s.chars().next() else { break };
        // the word must be a single character: next byte is whitespace or end
        if i + 3 < n && !hay[i + 3].is_ascii_whitespace() {
            if i + 3 < n && (0xE0..0xF0).contains(&hay[i + 3]) {
                break;
            }
            words.push((i, i + 3, bip39::chinese_index(c)));
            break;
        }
        words.push((i, i + 3, bip39::chinese_index(c)));
        let sep_end = run_end(hay, i + 3, 4, |b| {
            b == b' ' || b == b'\t' || b == b'\n' || b == b'\r'
        });
        i = sep_end;
        if sep_end == n {
            break;
        }
    }
    if words.len() >= 12 {
        mnemonic_windows(&words, out);
    }
    if words.len() >= 2 {
        words.last().map_or(start, |w| w.1)
    } else {
        start
    }
}

/// Whether a word window repeats words far more than random entropy would: four or more equal
/// pairs (a random 24-word mnemonic has about 0.13 on average; P(≥ 4) ≈ 1e-5).
fn repetitive(w: &[u16]) -> bool {
    let mut dup = 0;
    for (i, a) in w.iter().enumerate() {
        for b in &w[i + 1..] {
            if a == b {
                dup += 1;
                if dup >= 4 {
                    return true;
                }
            }
        }
    }
    false
}

/// Finds checksum-valid windows (12–24 words) among runs of word-list words and reports the union
/// of overlapping valid windows.
fn mnemonic_windows(words: &[(usize, usize, Option<u16>)], out: &mut Vec<Raw>) {
    let mut i = 0;
    while i < words.len() {
        if words[i].2.is_none() {
            i += 1;
            continue;
        }
        let rs = i;
        while i < words.len() && words[i].2.is_some() {
            i += 1;
        }
        let run: Vec<u16> = words[rs..i].iter().filter_map(|w| w.2).collect();
        if run.len() < 12 {
            continue;
        }
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut mark = vec![false; run.len()];
        for len in [24usize, 21, 18, 15, 12] {
            if run.len() < len {
                continue;
            }
            for st in 0..=run.len() - len {
                let w = &run[st..st + len];
                // the word list itself (sorted) is not a mnemonic; nor are degenerate phrases
                // such as the public test vector "abandon ×11 about" (and repeating them must
                // not cost a SHA-256 per window)
                if w.windows(2).all(|p| p[0] < p[1]) || repetitive(w) {
                    continue;
                }
                // already inside a found window: nothing new to learn (per-word marks keep this
                // linear on long runs of word-list words)
                if mark[st..st + len].iter().all(|&m| m) {
                    continue;
                }
                if bip39::checksum_valid(w) {
                    covered.push((st, st + len));
                    mark[st..st + len].fill(true);
                }
            }
        }
        covered.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (a, b) in covered {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        for (a, b) in merged {
            out.push(Raw {
                det: Detector::Bip39Mnemonic,
                start: words[rs + a].0,
                end: words[rs + b - 1].1,
                conf: Confidence::High,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(s: &AnchorSearch, hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut v = Vec::new();
        s.each(hay, |p, a, b| v.push((p, a, b)));
        v
    }

    /// The straightforward version of `long_runs`: every byte, every run.
    fn long_runs_reference(hay: &[u8], s: usize, e: usize) -> Vec<(usize, usize, u8)> {
        let mut v = Vec::new();
        let mut a = s;
        let mut run_acc = 0u8;
        for k in s..=e {
            let c = if k < e { CLASS[hay[k] as usize] } else { SYM };
            if c & SYM == 0 {
                run_acc |= c;
                continue;
            }
            if k - a >= 9 {
                v.push((a, k, run_acc));
            }
            a = k + 1;
            run_acc = 0;
        }
        v
    }

    #[test]
    fn long_runs_skipping_matches_the_byte_by_byte_runs() {
        let alphabet = b"0123456789abcdefXYZ_-+/=";
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 80) as usize;
            // bias towards long runs in half of the rounds
            let seps = if round % 2 == 0 { 24 } else { 19 };
            let tok: Vec<u8> = (0..len)
                .map(|k| {
                    let r = x.rotate_left(k as u32 * 7) ^ (k as u64).wrapping_mul(0x9e37_79b9);
                    let r = (r >> 11) as usize;
                    let idx = if r % 10 < 8 { r % 16 } else { r % seps };
                    alphabet[idx.min(alphabet.len() - 1)]
                })
                .collect();
            let mut got = Vec::new();
            long_runs(&tok, 0, tok.len(), |a, k, c| got.push((a, k, c)));
            assert_eq!(
                got,
                long_runs_reference(&tok, 0, tok.len()),
                "{:?}",
                String::from_utf8_lossy(&tok)
            );
        }
    }

    #[test]
    fn packed_and_automaton_anchor_searches_agree() {
        let auto = AnchorSearch::Automaton(
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .build(ANCHORS.iter().map(|(lit, _)| lit.as_bytes()))
                .unwrap(),
        );
        let Ok(chosen) = AnchorSearch::new() else {
            panic!("anchor search does not build")
        };
        let mut hay = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for k in 0..20_000 {
            let (lit, _) = ANCHORS[k % ANCHORS.len()];
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 => hay.extend_from_slice(lit.as_bytes()),
                1 => hay.extend_from_slice(&lit.as_bytes()[..lit.len() - 1]),
                2 => hay.extend_from_slice("task- desk-top https://x AKIAxx eyJ 密码 ".as_bytes()),
                _ => hay.push((x >> 8) as u8),
            }
        }
        assert_eq!(matches(&chosen, &hay), matches(&auto, &hay));
        assert!(!matches(&auto, &hay).is_empty());
    }
}
