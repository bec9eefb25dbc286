//! End-to-end (issue 3): `chela sandbox run|check` through the real binary.

mod common;

use chela_testkit::{Protocol, Reply};
use common::{stderr, stdout, Setup};

#[test]
fn sandbox_run_passes_the_exit_status_and_times_out_with_124() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let ws = s.workspace();
    let ws = ws.to_str().unwrap();
    let out = s.run(&[
        "sandbox",
        "run",
        "--workspace",
        ws,
        "--",
        "sh",
        "-c",
        "echo inside; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stdout(&out).contains("inside"));
    let out = s.run(&[
        "sandbox",
        "run",
        "--workspace",
        ws,
        "--timeout",
        "1",
        "--",
        "sh",
        "-c",
        "sleep 30",
    ]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    // The host's HOME and Chela's state are not visible inside.
    let home = s.home.home().display().to_string();
    let out = s.run(&[
        "sandbox",
        "run",
        "--workspace",
        ws,
        "--",
        "sh",
        "-c",
        &format!("ls {home}/.chela/config.toml || echo hidden"),
    ]);
    assert!(stdout(&out).contains("hidden"), "{}", stdout(&out));
    let out = s.run(&["sandbox", "run", "--workspace", ws, "--", "id", "-u"]);
    assert_ne!(stdout(&out).trim(), "0", "never uid 0 inside");
}

/// chela starts without the Rust runtime's start-up (`start.rs`). A caller that closed chela's
/// stdout must still get /dev/null there, never a descriptor chela opened itself (its helper
/// socket, its request memfd), which the program would otherwise inherit as its stdout.
#[test]
fn closed_stdout_is_reopened_on_dev_null() {
    use std::os::unix::process::CommandExt;
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let ws = s.workspace();
    let mut cmd = s.cmd();
    // `cp -P` copies the /proc magic link itself: no shell redirection touches fd 1.
    cmd.args(["sandbox", "run", "--workspace"]).arg(&ws).args([
        "--",
        "cp",
        "-P",
        "/proc/self/fd/1",
        "stdout-link",
    ]);
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = cmd.output().expect("run chela");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let target = std::fs::read_link(ws.join("stdout-link")).expect("cp made the link");
    assert_eq!(target, std::path::Path::new("/dev/null"));
}

#[test]
fn sandbox_check_tells_the_truth_when_features_are_missing() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let ok = s.run(&["sandbox", "check"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(
        stdout(&ok).to_lowercase().contains("landlock"),
        "{}",
        stdout(&ok)
    );
    for missing in ["userns", "landlock", "seccomp"] {
        let out = s
            .cmd()
            .env("CHELA_SANDBOX_SIMULATE_MISSING", missing)
            .args(["sandbox", "check"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{missing}: {}", stdout(&out));
        let text = stdout(&out) + &stderr(&out);
        assert!(
            text.to_lowercase().contains(missing),
            "{missing} not named: {text}"
        );
    }
}

#[test]
fn exec_is_refused_not_run_unsandboxed_when_the_sandbox_is_missing() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("exec", r#"{"command":"touch ran-on-host"}"#),
            Reply::text("could not"),
        ],
    );
    let out = s
        .cmd()
        .env("CHELA_SANDBOX_SIMULATE_MISSING", "userns")
        .args(["run", "try"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("sandbox is unavailable"), "{err}");
    assert_eq!(
        out.status.code(),
        Some(4),
        "no sandbox is an unsafe environment: {err}"
    );
    assert!(
        !s.workspace().join("ran-on-host").exists(),
        "fell back to the host"
    );
    assert!(
        s.tool_results(1)[0].contains("exec is unavailable"),
        "{:?}",
        s.tool_results(1)
    );
}
