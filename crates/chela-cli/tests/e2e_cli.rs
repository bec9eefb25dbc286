//! End-to-end: init, config check, root refusal.

mod common;

use std::os::unix::fs::PermissionsExt;

use chela_testkit::{chela_command, run_as_unprivileged, Protocol, TestHome};
use common::{bin, stderr, stdout, Setup};

#[test]
fn init_creates_private_home_and_refuses_to_overwrite() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let home = s.home.chela_home();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("config.toml")), 0o600);
    assert!(home.join("workspace").is_dir());
    let text = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        text.contains("api_key_env = \"FAKE_API_KEY\"") && text.contains("# "),
        "{text}"
    );

    let again = s.run(&[
        "init",
        "--non-interactive",
        "--provider",
        "openai",
        "--base-url",
        "http://127.0.0.1:1/v1",
        "--model",
        "m",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let forced = s.run(&[
        "init",
        "--non-interactive",
        "--force",
        "--provider",
        "openai",
        "--base-url",
        "http://127.0.0.1:1/v1",
        "--model",
        "m2",
    ]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(std::fs::read_to_string(home.join("config.toml"))
        .unwrap()
        .contains("\"m2\""));
}

#[test]
fn non_interactive_init_without_a_tty_needs_flags() {
    let home = TestHome::new();
    let out = chela_command(bin(), &home)
        .args(["init", "--non-interactive", "--provider", "openai"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--base-url") && stderr(&out).contains("--model"),
        "{}",
        stderr(&out)
    );
    let out = chela_command(bin(), &home)
        .arg("init")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--non-interactive"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_check_names_file_line_and_key() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let ok = s.run(&["config", "check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("OK"));
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("max_steps = 40", "max_steps = \"forty\"");
    std::fs::write(&cfg, &text).unwrap();
    let line = text.lines().position(|l| l.contains("forty")).unwrap() + 1;
    let bad = s.run(&["config", "check"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(err.contains(&format!("config.toml:{line}:")), "{err}");
    assert!(err.contains("agent.max_steps"), "{err}");
}

#[test]
fn not_initialised_is_explained() {
    let home = TestHome::new();
    let out = chela_command(bin(), &home)
        .args(["run", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chela init"), "{}", stderr(&out));
}

#[test]
fn root_is_refused_with_cn_a3() {
    if !run_as_unprivileged() {
        eprintln!("not running as root: the refusal path is exercised in CI, which runs as root");
        return;
    }
    let home = TestHome::new();
    for args in [
        vec!["run", "hi"],
        vec!["init", "--non-interactive"],
        vec!["sessions", "list"],
        vec!["config", "check"],
    ] {
        let out = std::process::Command::new(bin())
            .args(&args)
            .env("CHELA_HOME", home.chela_home())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert!(
            stderr(&out).contains("CN-A3") && stderr(&out).contains("useradd"),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        !home.chela_home().exists(),
        "root refusal must happen before touching anything"
    );
    // --help and --version still answer.
    let v = std::process::Command::new(bin())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0));
    assert!(stdout(&v).starts_with("chela "));
}

#[test]
fn help_is_for_newcomers() {
    let out = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .unwrap();
    let text = stdout(&out);
    for word in ["init", "run", "chat", "sessions", "Getting started"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
}

#[test]
fn interactive_init_on_a_terminal() {
    let home = TestHome::new();
    // provider, base URL (default), model, key variable
    let answers = ["anthropic", "", "claude-test-model", "MY_ANTHROPIC_KEY"];
    let out = common::on_pty(chela_command(bin(), &home), "init", &answers);
    let screen = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{screen}{}", stderr(&out));
    assert!(screen.contains("Provider protocol"), "{screen}");
    let cfg = std::fs::read_to_string(home.chela_home().join("config.toml")).unwrap();
    assert!(
        cfg.contains("kind = \"anthropic\"") && cfg.contains("https://api.anthropic.com"),
        "{cfg}"
    );
    assert!(
        cfg.contains("model = \"claude-test-model\"")
            && cfg.contains("api_key_env = \"MY_ANTHROPIC_KEY\""),
        "{cfg}"
    );
}
