// Quality-corpus generator for chela-guard, shared by tests/corpus.rs and benches/throughput.rs
// (included with `#[path]`). Deterministic: the same seed gives the same corpus.
//
// * `true_positives(seed, per_detector)` builds items with valid checksums for every detector,
//   each embedded in a line of ordinary context.
// * `clean_text(seed, bytes)` builds clean mixed text: source code in several languages, docs,
//   logs, configs, Chinese prose, UUIDs, hashes, base64 images, certificates.
// * `dense_text(seed, bytes)` builds text dense with near-miss candidates (long digit runs, hex,
//   base64, identifiers, prefixes without bodies) for the throughput floor.
#![allow(dead_code)]

use sha2::{Digest, Sha256};

/// splitmix64
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    pub fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_DIGIT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const LOWER_HEX: &[u8] = b"0123456789abcdef";
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const DIGITS: &[u8] = b"0123456789";
pub const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random string over `alphabet` that contains at least one upper, one lower and one digit
/// when the alphabet has them (real keys do; avoids degenerate draws).
pub fn mixed(r: &mut Rng, alphabet: &[u8], n: usize) -> String {
    loop {
        let s = r.chars(alphabet, n);
        if n < 8 {
            return s;
        }
        let u = s.bytes().any(|b| b.is_ascii_uppercase())
            || !alphabet.iter().any(u8::is_ascii_uppercase);
        let l = s.bytes().any(|b| b.is_ascii_lowercase())
            || !alphabet.iter().any(u8::is_ascii_lowercase);
        let d = s.bytes().filter(u8::is_ascii_digit).count() >= 2
            || !alphabet.iter().any(u8::is_ascii_digit);
        if u && l && d {
            return s;
        }
    }
}

pub fn b64(data: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(alphabet[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn base62(mut v: u32, width: usize) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for i in (0..width).rev() {
        out[i] = A[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn base58check(payload: &[u8]) -> String {
    const A: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let h = Sha256::digest(Sha256::digest(payload));
    let mut data = payload.to_vec();
    data.extend_from_slice(&h[..4]);
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut digits: Vec<u8> = Vec::new(); // little-endian base58 digits
    for &b in &data {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = String::new();
    for _ in 0..zeros {
        s.push('1');
    }
    for d in digits.iter().rev() {
        s.push(A[*d as usize] as char);
    }
    s
}

fn luhn_complete(prefix: &str) -> String {
    // append the check digit
    let mut sum = 0u32;
    for (i, c) in prefix.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

fn resident_id(r: &mut Rng) -> String {
    const REGIONS: &[&str] = &[
        "110105", "310101", "440305", "510107", "330106", "420102", "610113", "370202", "320583",
        "500103", "650102", "210202",
    ];
    let y = r.range(1940, 2010);
    let m = r.range(1, 12);
    let dmax = match m {
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let d = r.range(1, dmax);
    let body = format!("{}{y:04}{m:02}{d:02}{:03}", r.pick(REGIONS), r.below(1000));
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let c = b"10X98765432"[(s % 11) as usize] as char;
    format!("{body}{c}")
}

fn uscc(r: &mut Rng) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const REGIONS: &[&str] = &["110108", "310115", "440300", "330100", "510100", "320500"];
    let mut s = format!(
        "{}{}",
        *r.pick(&["91", "92", "11", "12", "51", "52"]),
        r.pick(REGIONS)
    );
    for _ in 0..9 {
        s.push(*r.pick(A) as char);
    }
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: u32 = s
        .bytes()
        .zip(W)
        .map(|(b, w)| A.iter().position(|&c| c == b).unwrap_or(0) as u32 * w)
        .sum();
    s.push(A[((31 - sum % 31) % 31) as usize] as char);
    s
}

fn mobile(r: &mut Rng) -> String {
    let p = *r.pick(&[
        "138", "139", "150", "151", "186", "188", "177", "199", "135", "166", "147", "181",
    ]);
    format!("{p}{:08}", r.below(100_000_000))
}

fn card(r: &mut Rng) -> String {
    let (pre, len) = *r.pick(&[
        ("62", 16usize),
        ("62", 19),
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("6228", 19),
        ("3528", 16),
        ("37", 15),
    ]);
    let mut s = pre.to_string();
    while s.len() < len - 1 {
        s.push((b'0' + r.below(10) as u8) as char);
    }
    luhn_complete(&s)
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    for &g in sizes {
        if i >= s.len() {
            break;
        }
        let e = (i + g).min(s.len());
        out.push(&s[i..e]);
        i = e;
    }
    if i < s.len() {
        out.push(&s[i..]);
    }
    out.join(sep)
}

fn bip39_words(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

pub const EN_LIST: &str = include_str!("../data/bip39_english.txt");
pub const ZH_LIST: &str = include_str!("../data/bip39_chinese_simplified.txt");

fn mnemonic(r: &mut Rng, list: &str) -> String {
    let words = bip39_words(list);
    let ent_len = *r.pick(&[16usize, 20, 24, 28, 32]);
    let ent = r.bytes(ent_len);
    let h = Sha256::digest(&ent);
    let mut bits: Vec<u8> = Vec::new();
    for b in &ent {
        for k in (0..8).rev() {
            bits.push((b >> k) & 1);
        }
    }
    for k in 0..ent_len / 4 {
        bits.push((h[0] >> (7 - k)) & 1);
    }
    bits.chunks(11)
        .map(|c| words[c.iter().fold(0usize, |a, &b| (a << 1) | usize::from(b))])
        .collect::<Vec<_>>()
        .join(" ")
}

fn pem_body(r: &mut Rng, lines: usize) -> String {
    let mut s = String::new();
    for _ in 0..lines {
        s.push_str(&b64(&r.bytes(48), B64, true));
        s.push('\n');
    }
    s
}

/// One true positive: the detector ID, the full line, and the byte range of the value in it.
pub struct Tp {
    pub detector: &'static str,
    pub text: String,
    pub value: std::ops::Range<usize>,
}

fn tp(detector: &'static str, before: &str, value: &str, after: &str) -> Tp {
    Tp {
        detector,
        text: format!("{before}{value}{after}"),
        value: before.len()..before.len() + value.len(),
    }
}

/// The known secret registered by the corpus tests.
pub const KNOWN_SECRET: &str = "corp-Vault$Entry/7f3Kq9Zt";

/// True positives for every detector (`per` items each).
pub fn true_positives(seed: u64, per: usize) -> Vec<Tp> {
    let mut r = Rng::new(seed);
    let mut v = Vec::new();
    for i in 0..per {
        let r = &mut r;
        v.push(tp(
            "openai_api_key",
            "export OPENAI_API_KEY=",
            &format!("sk-proj-{}", mixed(r, B64URL, 56 + (i % 60))),
            "\n",
        ));
        v.push(tp(
            "openai_api_key",
            "key: ",
            &format!("sk-{}T3BlbkFJ{}", mixed(r, ALNUM, 20), mixed(r, ALNUM, 20)),
            " (legacy)",
        ));
        v.push(tp(
            "anthropic_api_key",
            "ANTHROPIC_API_KEY=\"",
            &format!("sk-ant-api03-{}AA", mixed(r, B64URL, 93)),
            "\"",
        ));
        v.push(tp(
            "deepseek_api_key",
            "使用 DeepSeek：api_base=https://api.deepseek.com key ",
            &format!("sk-{}", r.chars(LOWER_HEX, 32)),
            " 完成",
        ));
        v.push(tp(
            "dashscope_api_key",
            "DASHSCOPE_API_KEY=",
            &format!("sk-{}", r.chars(LOWER_HEX, 32)),
            "\n",
        ));
        v.push(tp(
            "generic_sk_api_key",
            "LLM_KEY=",
            &format!("sk-{}", mixed(r, ALNUM, 40)),
            "\n",
        ));
        v.push(tp(
            "moonshot_api_key",
            "kimi: ",
            &format!("sk-{}", mixed(r, ALNUM, 48)),
            "",
        ));
        v.push(tp(
            "zhipu_api_key",
            "ZHIPUAI_API_KEY=",
            &format!("{}.{}", r.chars(LOWER_HEX, 32), mixed(r, ALNUM, 16)),
            "\n",
        ));
        v.push(tp(
            "alibaba_access_key_id",
            "AccessKeyId: ",
            &format!("LTAI5t{}", mixed(r, ALNUM, 18)),
            "",
        ));
        v.push(tp(
            "baidu_api_key",
            "QIANFAN_API_KEY=",
            &format!(
                "bce-v3/ALTAK-{}/{}",
                mixed(r, ALNUM, 21),
                r.chars(LOWER_HEX, 40)
            ),
            "",
        ));
        v.push(tp(
            "tencent_secret_id",
            "SecretId=",
            &format!("AKID{}", mixed(r, ALNUM, 32)),
            ";",
        ));
        v.push(tp(
            "aws_access_key_id",
            "aws_access_key_id = ",
            &format!("AKIA{}", r.chars(UPPER_DIGIT, 16)),
            "\n",
        ));
        v.push(tp(
            "aws_secret_access_key",
            "aws_secret_access_key = ",
            &mixed(r, B64, 40),
            "\n",
        ));
        v.push(tp(
            "gcp_service_account_key",
            "{\"type\": \"service_account\", \"private_key_id\": \"abc\", \"private_key\": \"",
            &format!(
                "-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n",
                b64(&r.bytes(600), B64, true)
            ),
            "\", \"client_email\": \"svc@proj.iam.gserviceaccount.com\"}",
        ));
        v.push(tp(
            "gcp_api_key",
            "const MAPS_KEY = '",
            &format!("AIza{}", mixed(r, B64URL, 35)),
            "';",
        ));
        v.push(tp(
            "azure_key",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
            &format!("{}==", mixed(r, B64, 86)),
            ";EndpointSuffix=core.windows.net",
        ));
        v.push(tp(
            "azure_key",
            "AZURE_CLIENT_SECRET=",
            &format!(
                "{}{}Q~{}",
                mixed(r, ALNUM, 3),
                r.below(10),
                mixed(r, ALNUM, 34)
            ),
            "",
        ));
        let gh = mixed(r, ALNUM, 30);
        let ghv = format!("ghp_{gh}{}", base62(crc32(gh.as_bytes()), 6));
        v.push(tp(
            "github_token",
            "git clone https://x-access-token:",
            &ghv,
            "@github.com/org/repo.git",
        ));
        v.push(tp(
            "github_token",
            "GH_TOKEN=",
            &format!("github_pat_{}_{}", mixed(r, ALNUM, 22), mixed(r, ALNUM, 59)),
            "",
        ));
        v.push(tp(
            "gitlab_token",
            "PRIVATE-TOKEN: ",
            &format!("glpat-{}", mixed(r, B64URL, 20)),
            "",
        ));
        v.push(tp(
            "slack_token",
            "SLACK_BOT_TOKEN=",
            &format!(
                "xoxb-{}-{}-{}",
                r.range(100_000_000_000, 999_999_999_999),
                r.range(1_000_000_000_000, 9_999_999_999_999),
                mixed(r, ALNUM, 24)
            ),
            "",
        ));
        v.push(tp(
            "slack_token",
            "webhook ",
            &format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                r.chars(UPPER_DIGIT, 8),
                r.chars(UPPER_DIGIT, 10),
                mixed(r, ALNUM, 24)
            ),
            "",
        ));
        v.push(tp(
            "telegram_bot_token",
            "bot = Bot(\"",
            &format!(
                "{}:AA{}",
                r.range(100_000_000, 9_999_999_999),
                mixed(r, B64URL, 33)
            ),
            "\")",
        ));
        v.push(tp(
            "stripe_key",
            "Stripe.api_key = \"",
            &format!("sk_live_{}", mixed(r, ALNUM, 24 + (i % 75))),
            "\"",
        ));
        v.push(tp(
            "twilio_api_key",
            "twilio api key sid ",
            &format!("SK{}", r.chars(LOWER_HEX, 32)),
            "",
        ));
        v.push(tp(
            "sendgrid_api_key",
            "SENDGRID_API_KEY=",
            &format!("SG.{}.{}", mixed(r, B64URL, 22), mixed(r, B64URL, 43)),
            "",
        ));
        v.push(tp(
            "npm_token",
            "//registry.npmjs.org/:_authToken=",
            &format!("npm_{}", mixed(r, ALNUM, 36)),
            "\n",
        ));
        v.push(tp(
            "pypi_token",
            "password = ",
            &format!("pypi-AgEIcHlwaS5vcmc{}", mixed(r, B64URL, 70 + (i % 100))),
            "\n",
        ));
        v.push(tp(
            "huggingface_token",
            "HF_TOKEN=",
            &format!("hf_{}", mixed(r, LETTERS, 34)),
            "",
        ));
        let hdr = b64(br#"{"alg":"HS256","typ":"JWT"}"#, B64URL, false);
        let payload = b64(
            format!(
                "{{\"sub\":\"{}\",\"iat\":{}}}",
                r.range(1000, 99999),
                r.range(1_600_000_000, 1_800_000_000)
            )
            .as_bytes(),
            B64URL,
            false,
        );
        v.push(tp(
            "jwt",
            "Authorization: Bearer ",
            &format!("{hdr}.{payload}.{}", r.chars(B64URL, 43)),
            "\r\n",
        ));
        let label = *r.pick(&[
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ]);
        v.push(tp(
            "pem_private_key",
            "key.pem:\n",
            &format!(
                "-----BEGIN {label}-----\n{}-----END {label}-----",
                pem_body(r, 6)
            ),
            "\n",
        ));
        v.push(tp("openssh_private_key", "", &format!("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n{}-----END OPENSSH PRIVATE KEY-----", pem_body(r, 4)), "\n"));
        v.push(tp("pgp_private_key", "", &format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}={}\n-----END PGP PRIVATE KEY BLOCK-----", pem_body(r, 5), r.chars(B64, 4)), ""));
        let scheme = *r.pick(&[
            "postgres",
            "postgresql",
            "mysql",
            "mongodb+srv",
            "redis",
            "amqp",
        ]);
        let pw = mixed(r, ALNUM, 14);
        let before = format!("DATABASE_URL={scheme}://app_user:");
        v.push(tp(
            "connection_string_password",
            &before,
            &pw,
            "@db.internal:5432/app?sslmode=require",
        ));
        v.push(tp(
            "url_credentials",
            "proxy: https://deploy:",
            &mixed(r, ALNUM, 16),
            "@proxy.corp.internal:3128/",
        ));
        v.push(tp(
            "password_assignment",
            "db_password = \"",
            &format!("{}!{}", mixed(r, ALNUM, 8), r.below(100)),
            "\"",
        ));
        v.push(tp(
            "password_assignment",
            "数据库密码：",
            &format!("Zx{}#{}", r.below(100000), mixed(r, ALNUM, 4)),
            "，请妥善保管",
        ));
        v.push(tp(
            "secret_assignment",
            "  client_secret: ",
            &mixed(r, B64URL, 32),
            "\n",
        ));
        v.push(tp("cn_resident_id", "身份证号：", &resident_id(r), "，"));
        v.push(tp("cn_resident_id", "id_number=", &resident_id(r), ""));
        let m = mobile(r);
        v.push(tp("cn_mobile", "联系电话 ", &m, "。"));
        v.push(tp(
            "cn_mobile",
            "call +86 ",
            &group(&m, &[3, 4, 4], " "),
            " today",
        ));
        v.push(tp(
            "cn_mobile",
            "tel: ",
            &group(&mobile(r), &[3, 4, 4], "-"),
            "",
        ));
        let c = card(r);
        v.push(tp("bank_card", "卡号 ", &c, " 有效期 12/28"));
        v.push(tp(
            "bank_card",
            "card: ",
            &group(&card(r), &[4, 4, 4, 4], " "),
            "\n",
        ));
        v.push(tp(
            "cn_passport",
            "护照号码：",
            &format!("E{:08}", r.range(10_000_000, 99_999_999)),
            "",
        ));
        v.push(tp(
            "cn_passport",
            "passport no. ",
            &format!(
                "E{}{:07}",
                *r.pick(&["A", "B", "C", "D"]),
                r.below(10_000_000)
            ),
            "",
        ));
        v.push(tp("cn_uscc", "统一社会信用代码：", &uscc(r), ""));
        let first = *r.pick(&[
            "wang.wei",
            "li.na",
            "zhang.min",
            "john.smith",
            "maria",
            "chen.jie",
        ]);
        v.push(tp(
            "email",
            "请联系 ",
            &format!(
                "{first}{}@{}",
                r.below(1000),
                r.pick(&["qq.com", "163.com", "corp-mail.cn", "gmail.com", "acme.io"])
            ),
            " 获取",
        ));
        v.push(tp(
            "bip39_mnemonic",
            "seed phrase: ",
            &mnemonic(r, EN_LIST),
            "\n",
        ));
        v.push(tp(
            "bip39_mnemonic",
            "助记词：",
            &mnemonic(r, ZH_LIST),
            "\n",
        ));
        v.push(tp(
            "hex_private_key",
            "PRIVATE_KEY=",
            &r.chars(LOWER_HEX, 64),
            "\n",
        ));
        v.push(tp(
            "hex_private_key",
            "wallet private key: ",
            &format!("0x{}", r.chars(LOWER_HEX, 64)),
            "",
        ));
        let mut payload = vec![0x80u8];
        payload.extend(r.bytes(32));
        if r.below(2) == 0 {
            payload.push(1);
        }
        v.push(tp("wif_private_key", "wif ", &base58check(&payload), "\n"));
        v.push(tp(
            "high_entropy_string",
            "X-Session: ",
            &mixed(r, ALNUM, 40),
            "\n",
        ));
        let known_form = match i % 6 {
            0 => KNOWN_SECRET.to_string(),
            1 => b64(KNOWN_SECRET.as_bytes(), B64, true),
            2 => KNOWN_SECRET.bytes().map(|b| format!("{b:02x}")).collect(),
            // encodeURIComponent-style (RFC 3986 unreserved characters stay)
            3 => KNOWN_SECRET.replace('$', "%24").replace('/', "%2F"),
            // strict encoders escape every non-alphanumeric byte
            4 => KNOWN_SECRET
                .replace('$', "%24")
                .replace('/', "%2f")
                .replace('-', "%2d"),
            // inside HTTP basic auth
            _ => b64(format!("svc:{KNOWN_SECRET}").as_bytes(), B64, true),
        };
        v.push(tp("known_secret", "leaked: ", &known_form, " end"));
    }
    v
}

// ------------------------------------------------------------------ clean text

const WORDS: &[&str] = &[
    "the",
    "request",
    "handler",
    "returns",
    "a",
    "value",
    "when",
    "config",
    "is",
    "loaded",
    "from",
    "disk",
    "and",
    "server",
    "starts",
    "listening",
    "on",
    "port",
    "with",
    "timeout",
    "retry",
    "policy",
    "for",
    "each",
    "client",
    "connection",
    "pool",
    "size",
    "must",
    "be",
    "greater",
    "than",
    "zero",
    "otherwise",
    "error",
    "message",
    "explains",
    "which",
    "field",
    "was",
    "invalid",
    "user",
    "session",
    "cache",
    "entries",
    "expire",
    "after",
    "minutes",
    "build",
    "pipeline",
    "runs",
    "tests",
    "in",
    "parallel",
    "across",
    "two",
    "cores",
    "this",
    "document",
    "describes",
    "how",
    "to",
    "install",
    "upgrade",
    "migrate",
    "database",
    "schema",
    "safely",
];

const ZH: &[&str] = &[
    "今天",
    "我们",
    "讨论",
    "系统",
    "架构",
    "的",
    "设计",
    "原则",
    "，",
    "首先",
    "需要",
    "明确",
    "业务",
    "目标",
    "。",
    "然后",
    "根据",
    "用户",
    "反馈",
    "调整",
    "功能",
    "优先级",
    "数据",
    "安全",
    "是",
    "重中之重",
    "团队",
    "成员",
    "应当",
    "遵守",
    "规范",
    "代码",
    "审查",
    "流程",
    "保证",
    "质量",
    "部署",
    "到",
    "生产",
    "环境",
    "之前",
    "必须",
    "完成",
    "测试",
    "春天",
    "来了",
    "公园",
    "里",
    "花开",
    "得",
    "很",
    "美",
    "孩子们",
    "在",
    "草地",
    "上",
    "奔跑",
    "老人",
    "下棋",
    "聊天",
    "城市",
    "发展",
    "迅速",
    "交通",
    "更加",
    "便利",
    "经济",
    "增长",
    "稳定",
];

fn words(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| *r.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn zh(r: &mut Rng, n: usize) -> String {
    (0..n).map(|_| *r.pick(ZH)).collect::<String>()
}

fn ident(r: &mut Rng) -> String {
    format!("{}_{}", r.pick(WORDS), r.pick(WORDS))
}

fn camel(r: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..r.range(2, 4) {
        let w = *r.pick(WORDS);
        let mut c = w.chars();
        if let Some(f) = c.next() {
            s.push(f.to_ascii_uppercase());
            s.push_str(c.as_str());
        }
    }
    s
}

fn uuid(r: &mut Rng) -> String {
    let h = r.chars(LOWER_HEX, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..]
    )
}

fn ts(r: &mut Rng) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        r.range(1, 12),
        r.range(1, 28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    )
}

fn block(r: &mut Rng) -> String {
    match r.below(16) {
        0 => format!(
            "pub fn {}(&self, {}: &str) -> Result<{}, Error> {{\n    let {} = self.{}.get({}).ok_or(Error::Missing)?;\n    tracing::debug!(\"{} {{}}\", {});\n    Ok({}::new({}, {}))\n}}\n\n",
            ident(r), ident(r), camel(r), ident(r), ident(r), r.below(100), words(r, 4), ident(r), camel(r), ident(r), r.below(65536)
        ),
        1 => format!(
            "def {}(self, {}, {}=None):\n    \"\"\"{}.\"\"\"\n    if {} is None:\n        {} = {}\n    return self.{}[{}:{}]\n\n",
            ident(r), ident(r), ident(r), words(r, 8), ident(r), ident(r), r.below(1000), ident(r), r.below(10), r.below(100)
        ),
        2 => format!(
            "func ({} *{}) {}(ctx context.Context, id string) (*{}, error) {{\n\tif err := {}.db.QueryRowContext(ctx, \"SELECT id, name FROM {} WHERE id = $1\", id).Scan(&v); err != nil {{\n\t\treturn nil, fmt.Errorf(\"{}: %w\", err)\n\t}}\n\treturn &v, nil\n}}\n\n",
            "s", camel(r), camel(r), camel(r), "s", ident(r), words(r, 3)
        ),
        3 => format!(
            "export async function {}({}: {}): Promise<{}> {{\n  const res = await fetch(`/api/v1/{}/${{{}}}`, {{ method: 'GET' }});\n  if (!res.ok) throw new Error('{}');\n  return (await res.json()) as {};\n}}\n\n",
            camel(r), ident(r), camel(r), camel(r), ident(r), ident(r), words(r, 5), camel(r)
        ),
        4 => format!(
            "public class {} implements {} {{\n    private static final int {} = {};\n    private final Map<String, {}> cache = new HashMap<>();\n    @Override\n    public {} {}(String key) {{ return cache.get(key); }}\n}}\n\n",
            camel(r), camel(r), ident(r).to_uppercase(), r.below(10000), camel(r), camel(r), camel(r)
        ),
        5 => format!(
            "{} INFO  [{}] request_id={} method=GET path=/api/{}/{} status={} duration_ms={} bytes={}\n",
            ts(r), ident(r), uuid(r), ident(r), r.below(100000), r.pick(&[200, 201, 204, 301, 404, 500]), r.below(5000), r.below(10_000_000)
        ),
        6 => format!(
            "{} WARN  trace_id={} span_id={} {} (attempt {}/{}) ts_ns={}{:09}\n",
            ts(r), r.chars(LOWER_HEX, 32), r.chars(LOWER_HEX, 16), words(r, 6), r.range(1, 5), 5, 1_763_000_000 + r.below(10_000_000), r.below(1_000_000_000)
        ),
        7 => format!(
            "{}  {}\n{}  target/release/{}\ncommit {}\nAuthor: CI Bot <ci@example.com>\n\n    {}\n\n",
            r.chars(LOWER_HEX, 64), ident(r), r.chars(LOWER_HEX, 64), ident(r), r.chars(LOWER_HEX, 40), words(r, 7)
        ),
        8 => format!("{}{}{}\n\n", zh(r, 20), zh(r, 25), "。"),
        9 => format!(
            "## {}\n\n{}. See [{}](https://docs.{}.org/{}/{}) for details.\n\n```toml\n[{}]\n{} = {}\n{}_file = \"/run/secrets/{}\"\n```\n\n",
            camel(r), words(r, 25), words(r, 2), ident(r), ident(r), r.below(10), ident(r), ident(r), r.below(100), ident(r), ident(r)
        ),
        10 => {
            let n = 600 + r.below(1200) as usize;
            format!(
                "<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n",
                words(r, 2),
                b64(&r.bytes(n), B64, true)
            )
        }
        11 => format!(
            "-----BEGIN CERTIFICATE-----\n{}-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\n{}-----END PUBLIC KEY-----\n",
            pem_body(r, 8), pem_body(r, 3)
        ),
        12 => format!(
            "\"{}\": {{\n  \"version\": \"{}.{}.{}\",\n  \"resolved\": \"https://registry.npmjs.org/{}/-/{}-1.0.{}.tgz\",\n  \"integrity\": \"sha512-{}\"\n}},\n",
            ident(r), r.below(10), r.below(30), r.below(100), ident(r), ident(r), r.below(50), b64(&r.bytes(64), B64, true)
        ),
        13 => format!(
            "{},{},{},{:.2},{},{}\n",
            r.below(1_000_000), uuid(r), ts(r), r.below(100000) as f64 / 7.0, r.pick(&["CN", "US", "DE", "JP"]), r.below(1000)
        ),
        14 => format!(
            "{}年{}月{}日，{}，{}共计{}元，同比增长{}.{}%。{}\n",
            r.range(2000, 2026), r.range(1, 12), r.range(1, 28), zh(r, 12), zh(r, 6), r.below(100_000_000), r.below(100), r.below(10), zh(r, 15)
        ),
        _ => format!(
            "    max_tokens: {}\n    token_limit = {}\n    password_min_length: {}\n    secret_name: {}\n    api_key_env: {}\n    timeout: {}s\n    image: registry.local/{}:{}\n",
            r.below(8192), r.below(100000), r.range(8, 16), ident(r), ident(r).to_uppercase(), r.below(120), ident(r), r.chars(LOWER_HEX, 12)
        ),
    }
}

/// At least `bytes` bytes of clean mixed text.
pub fn clean_text(seed: u64, bytes: usize) -> String {
    let mut r = Rng::new(seed);
    let mut s = String::with_capacity(bytes + 4096);
    while s.len() < bytes {
        s.push_str(&block(&mut r));
    }
    s
}

/// Text dense with near-miss candidates: long digit runs, hex, base64, keyword labels without
/// values, token prefixes without bodies, word lists.
pub fn dense_text(seed: u64, bytes: usize) -> String {
    let mut r = Rng::new(seed);
    let mut s = String::with_capacity(bytes + 4096);
    while s.len() < bytes {
        let line = match r.below(10) {
            0 => format!(
                "{} {} {}\n",
                r.chars(DIGITS, 18),
                r.chars(DIGITS, 16),
                r.chars(DIGITS, 11)
            ),
            1 => format!(
                "hash={} id={}\n",
                r.chars(LOWER_HEX, 64),
                r.chars(LOWER_HEX, 32)
            ),
            2 => format!("password: {} token: {}\n", ident(&mut r), r.below(100)),
            3 => format!(
                "sk-{} ghp_{} AKIA{} eyJ{}\n",
                r.below(1000),
                r.below(100),
                r.below(10),
                r.chars(ALNUM, 5)
            ),
            4 => format!("{}\n", b64(&r.bytes(45), B64, true)),
            5 => format!(
                "abandon ability able about above absent absorb abstract {}\n",
                words(&mut r, 6)
            ),
            6 => format!(
                "user@{} {}://{}/{}\n",
                ident(&mut r),
                r.pick(&["https", "postgres"]),
                ident(&mut r),
                ident(&mut r)
            ),
            7 => format!(
                "{} {} {}\n",
                r.chars(UPPER_DIGIT, 18),
                r.chars(ALNUM, 52),
                r.chars(UPPER_DIGIT, 9)
            ),
            8 => format!(
                "{}-{}-{}-{} {} {}\n",
                r.chars(DIGITS, 4),
                r.chars(DIGITS, 4),
                r.chars(DIGITS, 4),
                r.chars(DIGITS, 4),
                r.chars(DIGITS, 3),
                r.chars(DIGITS, 4)
            ),
            _ => format!("{} {}\n", mixed(&mut r, ALNUM, 40), mixed(&mut r, B64, 32)),
        };
        s.push_str(&line);
    }
    s
}
