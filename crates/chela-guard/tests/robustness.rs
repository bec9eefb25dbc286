//! The guard sees untrusted text: it must never panic, and every finding must lie on character
//! boundaries, whatever the input (truncated candidates at the end of the text, mixed scripts,
//! separators next to anchors, invalid encodings decoded lossily).

#[path = "../corpus/gen.rs"]
mod gen;

use chela_guard::{screen_untrusted, wrap_untrusted, Guard, InspectAction, Redactor};

const FRAGMENTS: &[&str] = &[
    "sk-",
    "sk_live_",
    "k_test_",
    "ghp_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "hooks.slack.com/",
    ":AA",
    "SG.",
    "npm_",
    "pypi-AgE",
    "hf_",
    "eyJ",
    "-----BEGIN ",
    "-----END ",
    "PRIVATE KEY-----",
    "://",
    "user:",
    "@",
    "password",
    "密码",
    "口令",
    "私钥",
    "：",
    "=",
    "==",
    ":",
    "\"",
    "'",
    "`",
    "Bearer ",
    "bce-v3/",
    "ALTAK",
    "LTAI",
    "AKID",
    "AKIA",
    "AIza",
    "AccountKey=",
    "Q~",
    "+86",
    "-",
    " ",
    "\n",
    "\t",
    "0x",
    "6222",
    "11010519491231002X",
    "13812345678",
    "abandon ",
    "的 ",
    "zoo ",
    "E1234567",
    "91350100",
    "5Hue",
    "a",
    "Z",
    "9",
    "/",
    "+",
    "_",
    "é",
    "中",
    "😀",
    "\u{200B}",
    "<!--",
    "-->",
    "<|im_start|>",
    "![x](http://e/?d=",
    ")",
];

#[test]
fn random_fragment_soup_never_panics_and_stays_on_char_boundaries() {
    let guard = Guard::new().expect("guard");
    guard
        .add_known_secret("k", gen::KNOWN_SECRET)
        .expect("known secret");
    let mut r = gen::Rng::new(0xf022);
    let mut session = Redactor::new();
    let rounds = std::env::var("CHELA_GUARD_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3000);
    for round in 0..rounds {
        let n = 1 + r.below(40) as usize;
        let mut s = String::new();
        for _ in 0..n {
            match r.below(4) {
                0 => {
                    let k = 1 + r.below(70) as usize;
                    s.push_str(&r.chars(gen::ALNUM, k));
                }
                1 => {
                    let k = 1 + r.below(20) as usize;
                    s.push_str(&r.chars(gen::DIGITS, k));
                }
                _ => s.push_str(FRAGMENTS[r.below(FRAGMENTS.len() as u64) as usize]),
            }
        }
        // every prefix too: candidates cut off at the end of the text
        let cut = (r.below(s.len() as u64 + 1)) as usize;
        let cut = (0..=cut)
            .rev()
            .find(|&c| s.is_char_boundary(c))
            .unwrap_or(0);
        for text in [&s[..], &s[..cut]] {
            for f in guard.find(text) {
                assert!(
                    text.is_char_boundary(f.range.start) && text.is_char_boundary(f.range.end),
                    "round {round}: {f:?} in {text:?}"
                );
                assert!(f.range.start < f.range.end && f.range.end <= text.len());
            }
            let i = guard.inspect_with(text, "fuzz", &mut session);
            if let InspectAction::Redacted(out) = &i.action {
                assert!(out.contains("[REDACTED:"), "{out}");
            }
            let rep = screen_untrusted(text);
            let _ = wrap_untrusted("fuzz", text, &rep);
        }
    }
}

#[test]
fn lossy_binary_input_is_handled() {
    let guard = Guard::new().expect("guard");
    let mut r = gen::Rng::new(0xb1);
    for _ in 0..200 {
        let n = 1 + r.below(4096) as usize;
        let bytes = r.bytes(n);
        let text = String::from_utf8_lossy(&bytes);
        let _ = guard.inspect(&text, "fuzz");
    }
}
