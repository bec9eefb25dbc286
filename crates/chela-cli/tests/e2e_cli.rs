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
        // parsed on its own fast path (main.rs `parse_args`): still refused
        vec!["sandbox", "run", "--", "/bin/true"],
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

/// `chela sandbox run` is parsed apart from the rest of the command tree (start-up speed); its
/// help and errors must be what the full parser gives.
#[test]
fn sandbox_run_help_and_errors_match_the_full_parser() {
    let run = |args: &[&str]| {
        std::process::Command::new(bin())
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["sandbox", "run", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for want in [
        "Run any program in the same sandbox",
        "Usage: chela sandbox run [OPTIONS] <CMD>...",
        "--workspace <WORKSPACE>",
        "--timeout <TIMEOUT>",
        "--allow-domain <DOMAIN>",
    ] {
        assert!(
            text.contains(want),
            "`sandbox run --help` lacks {want:?}: {text}"
        );
    }
    // The same text reached through the full tree (`help` subcommand form).
    let full = run(&["sandbox", "help", "run"]);
    assert!(
        stdout(&full).contains("Run any program in the same sandbox"),
        "{}",
        stdout(&full)
    );
    let listed = run(&["sandbox", "--help"]);
    assert!(stdout(&listed).contains("run"), "{}", stdout(&listed));
    // A missing program is a usage error (exit 2) naming what is missing.
    let missing = run(&["sandbox", "run"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("<CMD>"), "{}", stderr(&missing));
    let bad = run(&["sandbox", "run", "--timeout", "soon", "--", "/bin/true"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--timeout"), "{}", stderr(&bad));
}

/// chela starts without the Rust runtime's start-up (`start.rs`) and must still ignore SIGPIPE:
/// writing to a reader that has gone away is an error chela handles, not a silent death.
#[test]
fn start_up_ignores_sigpipe() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) returns.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end); // nobody will ever read: the first write fails with EPIPE
    let status = std::process::Command::new(bin())
        .arg("--help")
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_ne!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
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
