//! End-to-end (issue 6): the agent reads files full of secrets and personal data; the recorded
//! provider requests show that none of the values reached the model, and `chela scan` finds
//! them all.

mod common;

use chela_testkit::{Protocol, Reply};
use common::{stderr, stdout, Setup};

/// A PRC resident ID with a valid region, birth date and ISO 7064 MOD 11-2 check character.
fn resident_id(body17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body17}{check}")
}

/// A card number with a valid Luhn check digit.
fn luhn(prefix: &str) -> String {
    let digits: Vec<u32> = prefix.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = *d;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

struct Planted {
    values: Vec<(&'static str, String)>,
}

fn plant(s: &Setup) -> Planted {
    let id = resident_id("11010519900307123");
    let card = luhn("622202020011234567");
    let openai = "sk-proj-Q7mZ3kT9vR2xW8pL4nB6yH1cJ5dF0gS7aE3uK9iO2qX4zV8m".to_string();
    let github = "ghp_R8kd92HfQ0mZpL3xW7cV5bN1tY6uJ4sA2eG9".to_string();
    let mobile = "13912345678".to_string();
    let email = "zhangwei1990@163.com".to_string();
    let pii = format!(
        "Customer record\nname: Zhang Wei\nid card: {id}\nbank card: {card}\nphone: {mobile}\nmail: {email}\nOPENAI_API_KEY={openai}\ngithub token {github}\n"
    );
    // A BIP-39 test vector with a valid checksum (the all-"abandon" vector is deliberately ignored).
    let mnemonic =
        "scheme spot photo card baby mountain device kick cradle pact join borrow".to_string();
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBqZGVtb2tleWZvcnRlc3Rpbmdvbmx5MDEyMzQ1Njc4OWFiAAAAkKz0Qq2s\n-----END OPENSSH PRIVATE KEY-----".to_string();
    let keys =
        format!("wallet seed: {mnemonic}\n\n{pem}\nprovider key: sk-test-fake-key-0123456789\n");
    s.home
        .write_file("home/.chela/workspace/customers.txt", pii);
    s.home.write_file("home/.chela/workspace/keys.txt", keys);
    Planted {
        values: vec![
            ("cn_resident_id", id),
            ("bank_card", card),
            ("openai_api_key", openai),
            ("github_token", github),
            ("cn_mobile", mobile),
            ("email", email),
            ("bip39_mnemonic", mnemonic),
            (
                "openssh_private_key",
                "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ".to_string(),
            ),
            ("known_secret", "sk-test-fake-key-0123456789".to_string()),
        ],
    }
}

#[test]
fn no_secret_or_personal_data_reaches_the_model() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("read", r#"{"path":"customers.txt"}"#),
            Reply::tool_call("read", r#"{"path":"keys.txt"}"#),
            Reply::tool_call("exec", r#"{"command":"cat customers.txt keys.txt"}"#),
            Reply::text("summary done"),
        ],
    );
    let planted = plant(&s);
    let out = s.run(&[
        "run",
        "--session",
        "g1",
        "summarise the files in the workspace",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let requests = s.server.model_requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        for (what, value) in &planted.values {
            assert!(
                !r.raw_body.contains(value.as_str()),
                "{what} reached the model: {value}"
            );
        }
    }
    // The model can still refer to redacted items by stable placeholders.
    let results = s.tool_results(1);
    assert!(
        results[0].contains("[REDACTED:cn_resident_id#"),
        "{}",
        results[0]
    );
    assert!(
        results[0].contains("[REDACTED:bank_card#"),
        "{}",
        results[0]
    );
    let results = s.tool_results(2);
    assert!(
        results[1].contains("withheld by Chela's guard"),
        "blocked items withhold the output: {}",
        results[1]
    );

    // Nothing of it in the transcript or the audit log either.
    let transcript = stdout(&s.run(&["sessions", "show", "g1"]));
    let audit = stdout(&s.run(&["audit", "show", "--json"]));
    for (what, value) in &planted.values {
        assert!(
            !transcript.contains(value.as_str()),
            "{what} in the transcript"
        );
        assert!(!audit.contains(value.as_str()), "{what} in the audit log");
    }
    assert!(
        audit.contains("\"guard_hit\"") && audit.contains("cn_resident_id"),
        "hits are audited: {audit}"
    );
}

#[test]
fn scan_finds_every_planted_item() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let planted = plant(&s);
    let ws = s.workspace();
    let out = s.run(&["scan", ws.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    for (what, value) in &planted.values {
        // `chela scan` does not know the installation's secrets: the provider key is found by
        // its shape instead.
        let what = if *what == "known_secret" {
            &"generic_sk_api_key"
        } else {
            what
        };
        assert!(text.contains(what), "scan missed {what}: {text}");
        assert!(
            !text.contains(value.as_str()),
            "scan printed the value of {what}"
        );
    }
    assert!(text.contains("customers.txt:3:"), "file:line:col: {text}");
    let clean = s.home.create_dir("home/clean");
    s.home.write_file(
        "home/clean/readme.md",
        "# Notes\nNothing secret here; uuid 123e4567-e89b-12d3-a456-426614174000.\n",
    );
    let out = s.run(&["scan", clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_task_carrying_a_private_key_is_refused_before_any_request() {
    let s = Setup::new(Protocol::OpenAi, vec![Reply::text("never")]);
    let out = s.run(&[
        "run",
        "store this key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("openssh_private_key"),
        "{}",
        stderr(&out)
    );
    assert!(
        s.server.model_requests().is_empty(),
        "a blocked task must not reach the provider"
    );
}
