//! Vault behaviour on real files: round trip, wrong passphrase, tampering, truncation,
//! concurrent writers, file modes, and the `chela secrets` command. Every failure must leave
//! the file byte-for-byte unchanged.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chela_vault::cli::{run_secrets_cli_with, CliIo, ValueInput};
use chela_vault::{KdfParams, PassphraseSource, Secret, SecretsCmd, Vault, VaultError, VAULT_FILE};

const PW: &str = "correct horse battery staple";

fn quick() -> KdfParams {
    KdfParams {
        m_cost_kib: 8 * 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

fn pw(s: &str) -> PassphraseSource {
    PassphraseSource::Value(Secret::new(s.into()))
}

fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(VAULT_FILE);
    let mut v = Vault::create_with_params(&path, &pw(PW), quick()).unwrap();
    v.set("openai", "sk-test-OPENAI-0123456789").unwrap();
    v.set("anthropic", "sk-ant-test-ABCDEF987654").unwrap();
    (dir, path)
}

fn expect_err_unchanged(
    path: &Path,
    mutate: impl FnOnce(&mut Vec<u8>),
    check: impl FnOnce(VaultError),
) {
    let mut bytes = std::fs::read(path).unwrap();
    mutate(&mut bytes);
    std::fs::write(path, &bytes).unwrap();
    match Vault::open(path, &pw(PW)) {
        Ok(_) => panic!("a damaged vault opened"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains("sk-test") && !msg.contains(PW),
                "error leaks: {msg}"
            );
            check(e);
        }
    }
    assert_eq!(std::fs::read(path).unwrap(), bytes, "the file was changed");
}

#[test]
fn round_trip_rotate_remove() {
    let (_d, path) = fresh();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("sk-test-OPENAI"), "plaintext on disk");
    assert!(
        !text.contains(&hex::encode("sk-test-OPENAI")),
        "hex plaintext on disk"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut v = Vault::open(&path, &pw(PW)).unwrap();
    assert_eq!(
        v.get("openai").unwrap().expose(),
        "sk-test-OPENAI-0123456789"
    );
    let names: Vec<_> = v.list().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["anthropic", "openai"]);
    assert!(v
        .list()
        .iter()
        .find(|e| e.name == "openai")
        .unwrap()
        .last_used
        .is_some());
    assert!(matches!(
        v.set("openai", "x-other-value"),
        Err(VaultError::EntryExists(_))
    ));
    v.rotate("openai", "sk-test-NEWKEY-999999999").unwrap();
    v.remove("anthropic").unwrap();
    assert!(matches!(v.remove("anthropic"), Err(VaultError::NoEntry(_))));
    assert!(matches!(
        v.rotate("nope", "value-1234"),
        Err(VaultError::NoEntry(_))
    ));
    assert!(matches!(
        v.set("bad name", "v"),
        Err(VaultError::Invalid { .. })
    ));
    assert!(matches!(
        v.set("empty", ""),
        Err(VaultError::Invalid { .. })
    ));

    let v = Vault::open(&path, &pw(PW)).unwrap();
    assert_eq!(
        v.peek("openai").unwrap().expose(),
        "sk-test-NEWKEY-999999999"
    );
    let all = v.all_values().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].0.as_str(), all[0].1.expose()),
        ("openai", "sk-test-NEWKEY-999999999")
    );
    let info = v.list();
    assert_eq!(info.len(), 1);
    assert!(info[0].rotated.is_some());
    assert_eq!(info[0].age_days, 0);
    assert!(matches!(v.peek("anthropic"), Err(VaultError::NoEntry(_))));
    assert!(!format!("{v:?}").contains("sk-test"));
}

#[test]
fn create_refuses_existing_and_short_passphrase() {
    let (d, path) = fresh();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        Vault::create_with_params(&path, &pw(PW), quick()),
        Err(VaultError::Exists(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let p2 = d.path().join("short.vault");
    assert!(matches!(
        Vault::create_with_params(&p2, &pw("short"), quick()),
        Err(VaultError::Passphrase(_))
    ));
    assert!(!p2.exists());
    assert!(matches!(
        Vault::open(&d.path().join("missing.vault"), &pw(PW)),
        Err(VaultError::NotFound(_))
    ));
}

#[test]
fn wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let (_d, path) = fresh();
    let before = std::fs::read(&path).unwrap();
    match Vault::open(&path, &pw("not the passphrase")) {
        Err(e @ VaultError::WrongPassphrase(_)) => {
            assert!(e.to_string().contains("wrong passphrase"))
        }
        other => panic!("expected WrongPassphrase, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

fn replace_once(bytes: &mut Vec<u8>, from: &str, to: &str) {
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(from), "fixture lacks {from:?}");
    *bytes = text.replacen(from, to, 1).into_bytes();
}

fn field<'a>(text: &'a str, key: &str, nth: usize) -> &'a str {
    let pat = format!("\"{key}\": ");
    let start = text.match_indices(&pat).nth(nth).unwrap().0 + pat.len();
    let rest = &text[start..];
    let end = rest.find([',', '\n']).unwrap();
    &rest[..end]
}

#[test]
fn flipped_bytes_are_detected() {
    let (_d, path) = fresh();
    let text = std::fs::read_to_string(&path).unwrap();
    // A flipped bit in a ciphertext.
    let ct = field(&text, "ct", 1).trim_matches('"').to_string();
    let mut flipped = ct.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    expect_err_unchanged(
        &path,
        |b| replace_once(b, &ct, &flipped),
        |e| assert!(matches!(e, VaultError::Tampered { .. }), "{e}"),
    );
    std::fs::write(&path, &text).unwrap();
    // An edited timestamp (metadata is covered by the file tag).
    let created = field(&text, "created", 0).to_string();
    let older = (created.parse::<u64>().unwrap() - 400 * 86_400).to_string();
    expect_err_unchanged(
        &path,
        |b| {
            replace_once(
                b,
                &format!("\"created\": {created}"),
                &format!("\"created\": {older}"),
            )
        },
        |e| assert!(matches!(e, VaultError::Tampered { .. }), "{e}"),
    );
    std::fs::write(&path, &text).unwrap();
    // Every single byte position flipped in turn (sampled) fails, never opens.
    let bytes = text.as_bytes().to_vec();
    for i in (0..bytes.len()).step_by(97) {
        expect_err_unchanged(&path, |b| b[i] ^= 0x01, |_| {});
        std::fs::write(&path, &bytes).unwrap();
    }
    // An entry removed from the file.
    let start = text.find("    {\n      \"name\": \"anthropic\"").unwrap();
    let end = start + text[start..].find("},\n").unwrap() + 3;
    expect_err_unchanged(&path, |b| b.drain(start..end).for_each(drop), |_| {});
}

#[test]
fn swapped_entries_are_detected() {
    let (_d, path) = fresh();
    let text = std::fs::read_to_string(&path).unwrap();
    let (ct0, ct1) = (
        field(&text, "ct", 1).to_string(),
        field(&text, "ct", 2).to_string(),
    );
    let (n0, n1) = (
        field(&text, "nonce", 1).to_string(),
        field(&text, "nonce", 2).to_string(),
    );
    let swapped = text
        .replacen(&ct0, "@CT0@", 1)
        .replacen(&ct1, &ct0, 1)
        .replacen("@CT0@", &ct1, 1)
        .replacen(&n0, "@N0@", 1)
        .replacen(&n1, &n0, 1)
        .replacen("@N0@", &n1, 1);
    assert_ne!(swapped, text);
    expect_err_unchanged(
        &path,
        |b| *b = swapped.into_bytes(),
        |e| assert!(matches!(e, VaultError::Tampered { .. }), "{e}"),
    );
}

#[test]
fn truncated_file_is_a_clear_error() {
    let (_d, path) = fresh();
    let full = std::fs::read(&path).unwrap();
    for keep in [0, 5, full.len() / 2, full.len() - 40, full.len() - 1] {
        std::fs::write(&path, &full[..keep]).unwrap();
        match Vault::open(&path, &pw(PW)) {
            Err(VaultError::Corrupt { .. }) | Err(VaultError::Tampered { .. }) => {}
            other => panic!("truncated to {keep}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), &full[..keep]);
    }
}

#[test]
fn concurrent_writer_is_not_overwritten() {
    let (_d, path) = fresh();
    let mut a = Vault::open(&path, &pw(PW)).unwrap();
    let mut b = Vault::open(&path, &pw(PW)).unwrap();
    a.set("from-a", "value-from-a").unwrap();
    let after_a = std::fs::read(&path).unwrap();
    assert!(matches!(
        b.set("from-b", "value-from-b"),
        Err(VaultError::Conflict(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), after_a);
    // b's in-memory state did not take the failed change either.
    assert!(b.list().iter().all(|e| e.name != "from-b"));
    let v = Vault::open(&path, &pw(PW)).unwrap();
    assert_eq!(v.peek("from-a").unwrap().expose(), "value-from-a");
}

#[test]
fn loose_file_mode_is_refused() {
    let (_d, path) = fresh();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match Vault::open(&path, &pw(PW)) {
        Err(e @ VaultError::Insecure { .. }) => assert!(e.to_string().contains("chmod 600")),
        other => panic!("expected Insecure, got {other:?}"),
    }
}

fn cli(home: &Path, cmd: SecretsCmd, stdin: &str, pass: &str) -> (i32, String, String) {
    let mut input = stdin.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_secrets_cli_with(
        home,
        cmd,
        CliIo {
            passphrase: pw(pass),
            value: ValueInput::Reader(&mut input),
            new_passphrase: pw("the new passphrase 42"),
            out: &mut out,
            err: &mut err,
        },
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn secrets_command() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, out, _) = cli(h, SecretsCmd::List { json: false }, "", PW);
    assert_eq!(code, 0);
    assert!(out.contains("no secrets"));

    // First `set` creates the vault (default Argon2id cost).
    let (code, out, err) = cli(
        h,
        SecretsCmd::Set {
            name: "openai".into(),
        },
        "sk-test-CLI-000111222\n",
        PW,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stored secret openai") && !out.contains("sk-test"));
    let (code, _, err) = cli(
        h,
        SecretsCmd::Set {
            name: "openai".into(),
        },
        "x-again-value",
        PW,
    );
    assert_eq!(code, 2);
    assert!(err.contains("rotate"));

    let (code, out, _) = cli(h, SecretsCmd::List { json: false }, "", PW);
    assert_eq!(code, 0);
    assert!(out.contains("openai") && out.contains("NAME") && !out.contains("sk-test"));
    let (code, out, _) = cli(h, SecretsCmd::List { json: true }, "", PW);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "openai");

    let (code, _, err) = cli(h, SecretsCmd::List { json: false }, "", "wrong passphrase!");
    assert_eq!(code, 1);
    assert!(err.contains("wrong passphrase"));

    let (code, out, _) = cli(
        h,
        SecretsCmd::Rotate {
            name: "openai".into(),
        },
        "sk-test-CLI-ROTATED-1\n",
        PW,
    );
    assert_eq!(code, 0);
    assert!(out.contains("rotated"));
    let v = Vault::open(&Vault::default_path(h), &pw(PW)).unwrap();
    assert_eq!(v.peek("openai").unwrap().expose(), "sk-test-CLI-ROTATED-1");

    let (code, _, err) = cli(
        h,
        SecretsCmd::Rm {
            name: "nope".into(),
        },
        "",
        PW,
    );
    assert_eq!(code, 2);
    assert!(err.contains("nope"));
    let (code, _, _) = cli(
        h,
        SecretsCmd::Rm {
            name: "openai".into(),
        },
        "",
        PW,
    );
    assert_eq!(code, 0);
    let (code, _, _) = cli(
        h,
        SecretsCmd::Set {
            name: "../evil".into(),
        },
        "v",
        PW,
    );
    assert_eq!(code, 2);

    // Nothing under the home holds a stored value in clear.
    for entry in std::fs::read_dir(h).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("sk-test-CLI"));
    }
}

#[test]
fn cli_values_come_only_from_input_not_arguments() {
    use clap::Parser;
    #[derive(Parser)]
    struct Top {
        #[command(subcommand)]
        cmd: SecretsCmd,
    }
    assert!(Top::try_parse_from(["chela", "set", "openai"]).is_ok());
    assert!(Top::try_parse_from(["chela", "set", "openai", "sk-live-x"]).is_err());
    assert!(Top::try_parse_from(["chela", "rotate", "openai", "--value", "x"]).is_err());
}

#[test]
fn passphrase_change_reencrypts_everything() {
    let (_d, path) = fresh();
    let mut v = Vault::open(&path, &pw(PW)).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    assert!(matches!(
        v.change_passphrase(&pw("short")),
        Err(VaultError::Passphrase(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    v.change_passphrase(&pw("a brand new passphrase")).unwrap();
    // The open handle keeps working under the new key.
    v.set("after", "value-after-change").unwrap();
    assert!(matches!(
        Vault::open(&path, &pw(PW)),
        Err(VaultError::WrongPassphrase(_))
    ));
    let v = Vault::open(&path, &pw("a brand new passphrase")).unwrap();
    assert_eq!(
        v.peek("openai").unwrap().expose(),
        "sk-test-OPENAI-0123456789"
    );
    assert_eq!(v.peek("after").unwrap().expose(), "value-after-change");
    let after = std::fs::read_to_string(&path).unwrap();
    let id = |t: &str| {
        t.lines()
            .find(|l| l.contains("vault_id"))
            .unwrap()
            .to_string()
    };
    assert_eq!(id(&before), id(&after));
    // No ciphertext survives the change.
    for line in before.lines().filter(|l| l.contains("\"ct\"")) {
        assert!(!after.contains(line.trim()), "old ciphertext kept: {line}");
    }
}

#[test]
fn secrets_passwd_command() {
    let home = tempfile::tempdir().unwrap();
    let path = Vault::default_path(home.path());
    let mut v = Vault::create_with_params(&path, &pw(PW), quick()).unwrap();
    v.set("k", "value-1234").unwrap();
    let (code, out, err) = cli(home.path(), SecretsCmd::Passwd, "", PW);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("passphrase changed"));
    let v = Vault::open(&path, &pw("the new passphrase 42")).unwrap();
    assert_eq!(v.peek("k").unwrap().expose(), "value-1234");
}
