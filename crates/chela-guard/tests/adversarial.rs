//! Adversarial inputs must not make the guard super-linear (a page of repeated anchors is a
//! cheap denial of service otherwise). Each 256 KiB input must be inspected within a generous
//! budget even in debug builds on a loaded machine (a 64 KiB look-ahead per repeated anchor, as
//! PEM headers once had, blows it by far).

use chela_guard::Guard;
use std::time::{Duration, Instant};

fn repeat(unit: &str) -> String {
    unit.repeat((256 << 10) / unit.len())
}

#[test]
fn repeated_anchors_stay_linear() {
    let guard = Guard::new().expect("guard");
    let cases = [
        repeat("-----BEGIN RSA PRIVATE KEY-----\n"),
        repeat("-----BEGIN "),
        repeat("a@"),
        repeat("x@y."),
        repeat("sk-"),
        repeat("sk-abcdefghij0123456789abcdefghij "),
        repeat("abandon "),
        repeat("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about "),
        repeat("-----BEGIN PRIVATE KEY-----!"),
        repeat("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END "),
        repeat("的 "),
        repeat("1234 "),
        repeat("password=Secr3t!x "),
        repeat("password="),
        repeat("密码："),
        repeat("9Q~"),
        repeat("postgres://u:p@"),
        repeat("://"),
        repeat("eyJ"),
        repeat("eyJhbGciOiJIUzI1NiJ9."),
        repeat(":AA"),
        repeat("hooks.slack.com/"),
        repeat("AKIAABCDEFGHIJKLMNOP "),
        repeat("0123456789"),
        repeat("A1b2C3d4+/"),
        repeat("token: \""),
        repeat("\"\""),
    ];
    let budget = Duration::from_secs(2);
    for text in &cases {
        let t = Instant::now();
        let _ = guard.inspect(text, "adversarial");
        let spent = t.elapsed();
        println!(
            "{:>8.1} ms  {:?}…",
            spent.as_secs_f64() * 1e3,
            &text[..text.len().min(24)]
        );
        assert!(
            spent < budget,
            "{:?}… took {spent:?}",
            &text[..24.min(text.len())]
        );
    }
}
