//! End-to-end (issue 7): the provider key lives only in the encrypted vault; the fake provider
//! receives it in the Authorization header, while the sandbox's environment, the transcript, the
//! audit log and every file under $CHELA_HOME hold nothing but ciphertext.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use chela_testkit::{chela_command, Protocol, Reply};
use common::{bin, stderr, stdout, Setup};

const KEY: &str = "sk-vaulted-provider-key-7Hq2Zp9Lm4Xc8Vb1";

fn grep_tree(dir: &Path, needle: &[u8], hits: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            grep_tree(&p, needle, hits);
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
}

#[test]
fn provider_key_from_the_vault_never_leaves_the_boundary() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("exec", r#"{"command":"env"}"#),
            Reply::text("done"),
        ],
    );
    // A systemd-style credential directory holds the vault passphrase (never argv, never env).
    let creds = s.home.create_dir("creds");
    s.home
        .write_file("creds/chela-vault", "correct horse battery staple");
    let with_creds = |mut c: std::process::Command| {
        c.env("CREDENTIALS_DIRECTORY", &creds);
        c
    };

    let mut set = with_creds(chela_command(bin(), &s.home))
        .args(["secrets", "set", "provider"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let out = set.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "secrets set: {}", stderr(&out));

    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "api_key_env = \"FAKE_API_KEY\"",
        "api_key_vault = \"provider\"",
    );
    std::fs::write(&cfg, text).unwrap();

    let out = with_creds(chela_command(bin(), &s.home))
        .args(["run", "--session", "v1", "show the environment"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let reqs = s.server.model_requests();
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let env_output = &s.tool_results(1)[0];
    assert!(env_output.contains("PATH="), "the exec ran: {env_output}");
    assert!(
        !env_output.contains(KEY),
        "the key entered the sandbox environment"
    );
    for r in &reqs {
        assert!(!r.raw_body.contains(KEY), "the key reached the model");
    }
    assert!(!stdout(&s.run(&["sessions", "show", "v1"])).contains(KEY));

    let mut hits = Vec::new();
    grep_tree(&s.home.chela_home(), KEY.as_bytes(), &mut hits);
    assert!(
        hits.is_empty(),
        "the key is stored in plain text in {hits:?}"
    );
    let list = with_creds(chela_command(bin(), &s.home))
        .args(["secrets", "list"])
        .output()
        .unwrap();
    assert!(
        stdout(&list).contains("provider") && !stdout(&list).contains(KEY),
        "{}",
        stdout(&list)
    );
}

#[test]
fn wrong_vault_passphrase_is_a_clear_error() {
    let s = Setup::new(Protocol::OpenAi, vec![Reply::text("never")]);
    let creds = s.home.create_dir("creds");
    s.home
        .write_file("creds/chela-vault", "the right passphrase");
    let mut set = chela_command(bin(), &s.home)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args(["secrets", "set", "provider"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    assert!(set.wait().unwrap().success());
    s.home.write_file("creds/chela-vault", "a wrong passphrase");
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "api_key_env = \"FAKE_API_KEY\"",
        "api_key_vault = \"provider\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let vault = std::fs::read(s.home.chela_home().join("secrets.vault")).unwrap();
    let out = chela_command(bin(), &s.home)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args(["run", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("passphrase"),
        "{}",
        stderr(&out)
    );
    assert!(s.server.model_requests().is_empty());
    assert_eq!(
        std::fs::read(s.home.chela_home().join("secrets.vault")).unwrap(),
        vault,
        "nothing overwritten"
    );
}

#[test]
fn every_vault_value_is_a_known_secret() {
    const DB: &str = "db-password-Zq81mVx0Lk3Tn6Wp";
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("read", r#"{"path":"notes.txt"}"#),
            Reply::text("done"),
        ],
    );
    let creds = s.home.create_dir("creds");
    s.home
        .write_file("creds/chela-vault", "correct horse battery staple");
    for (name, value) in [("provider", KEY), ("database", DB)] {
        let mut set = chela_command(bin(), &s.home)
            .env("CREDENTIALS_DIRECTORY", &creds)
            .args(["secrets", "set", name])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        set.stdin
            .take()
            .unwrap()
            .write_all(format!("{value}\n").as_bytes())
            .unwrap();
        assert!(set.wait().unwrap().success());
    }
    s.home.write_file(
        "home/.chela/workspace/notes.txt",
        format!("the database password is {DB}\n"),
    );
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "api_key_env = \"FAKE_API_KEY\"",
        "api_key_vault = \"provider\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let out = chela_command(bin(), &s.home)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args(["run", "read my notes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for r in s.server.model_requests() {
        assert!(!r.raw_body.contains(DB), "a vault value reached the model");
    }
    assert!(
        s.tool_results(1)[0].contains("withheld"),
        "{:?}",
        s.tool_results(1)
    );
}
