//! `check()` tells the truth (including when features are missing, simulated), the sandbox
//! fails closed, and `run_cli` maps outcomes to the documented exit codes.

mod common;

use std::time::Duration;

use chela_sandbox::{check, run_cli, Sandbox, SandboxConfig, SandboxError, SIMULATE_ENV};
use common::*;

#[test]
fn check_reports_enforced_layers() {
    if !unprivileged("check_reports_enforced_layers") {
        return;
    }
    let r = check();
    assert!(r.user_namespaces.available, "{r}");
    assert!(
        r.landlock.available && r.landlock_abi.unwrap_or(0) >= 1,
        "{r}"
    );
    assert!(r.seccomp.available, "{r}");
    assert!(r.ok(), "{r}");
    let level = r.enforced.clone().unwrap();
    assert!(
        level.contains("userns,mnt,pid,net")
            && level.contains("landlock ABI")
            && level.contains("seccomp"),
        "{level}"
    );
    let text = r.to_string();
    assert!(text.contains("enforced for every tool process"), "{text}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["user_namespaces"]["available"], true);
    assert!(json["seccomp_refuses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "io_uring_setup"));
}

#[test]
fn check_as_root_refuses() {
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let r = check();
    assert!(!r.ok());
    assert!(r.refused.iter().any(|x| x.contains("root")), "{r}");
    assert!(r.to_string().contains("REFUSED"));
}

#[test]
fn simulated_missing_userns_and_landlock_fail_closed() {
    if !unprivileged_env(
        "simulated_missing_userns_and_landlock_fail_closed",
        &[(SIMULATE_ENV, "userns,landlock")],
    ) {
        return;
    }
    let ws = workspace();
    let e = Sandbox::new(SandboxConfig::new(ws.path())).unwrap_err();
    match &e {
        SandboxError::Unavailable { missing, fix, .. } => {
            assert!(
                missing.contains("user namespaces") && missing.contains("Landlock"),
                "{missing}"
            );
            assert!(
                fix.contains("unprivileged_userns_clone") && fix.contains("lsm="),
                "{fix}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(e.is_environment());
    let r = check();
    assert!(!r.ok());
    assert!(
        !r.user_namespaces.available && !r.landlock.available && r.seccomp.available,
        "{r}"
    );
    assert!(r.user_namespaces.fix.is_some() && r.landlock.fix.is_some());
    let text = r.to_string();
    assert!(
        text.contains("MISSING") && text.contains("REFUSED"),
        "{text}"
    );
    // run_cli exits 4 when the sandbox cannot be set up
    assert_eq!(
        run_cli(
            ws.path(),
            Duration::from_secs(5),
            vec![],
            vec!["true".into()]
        ),
        4
    );
}

#[test]
fn simulated_missing_seccomp_fails_closed() {
    if !unprivileged_env(
        "simulated_missing_seccomp_fails_closed",
        &[(SIMULATE_ENV, "seccomp")],
    ) {
        return;
    }
    let ws = workspace();
    let e = Sandbox::new(SandboxConfig::new(ws.path())).unwrap_err();
    assert!(e.to_string().contains("seccomp"), "{e}");
    assert!(!check().seccomp.available);
}

#[test]
fn run_cli_exit_codes() {
    if !unprivileged("run_cli_exit_codes") {
        return;
    }
    let ws = workspace();
    let t = Duration::from_secs(10);
    assert_eq!(run_cli(ws.path(), t, vec![], vec!["true".into()]), 0);
    assert_eq!(
        run_cli(
            ws.path(),
            t,
            vec![],
            vec!["sh".into(), "-c".into(), "exit 3".into()]
        ),
        3
    );
    assert_eq!(
        run_cli(
            ws.path(),
            t,
            vec![],
            vec!["sh".into(), "-c".into(), "kill -9 $$".into()]
        ),
        128 + 9
    );
    assert_eq!(
        run_cli(
            ws.path(),
            Duration::from_millis(300),
            vec![],
            vec!["sleep".into(), "10".into()]
        ),
        124
    );
    assert_eq!(
        run_cli(ws.path(), t, vec![], vec!["no-such-cmd-xyz".into()]),
        127
    );
    assert_eq!(run_cli(ws.path(), t, vec![], vec![]), 2);
    assert_eq!(
        run_cli(
            std::path::Path::new("/no/such/dir"),
            t,
            vec![],
            vec!["true".into()]
        ),
        4
    );
    // the workspace is writable through run_cli too
    assert_eq!(
        run_cli(
            ws.path(),
            t,
            vec![],
            vec!["sh".into(), "-c".into(), "echo ok > cli.txt".into()]
        ),
        0
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("cli.txt")).unwrap(),
        "ok\n"
    );
}

#[test]
fn run_cli_as_root_exits_4() {
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let ws = workspace();
    assert_eq!(
        run_cli(
            ws.path(),
            Duration::from_secs(5),
            vec![],
            vec!["true".into()]
        ),
        4
    );
}

#[test]
fn run_cli_reuses_a_warm_helper_and_still_checks() {
    if !unprivileged("run_cli_reuses_a_warm_helper_and_still_checks") {
        return;
    }
    let ws = workspace();
    let t = Duration::from_secs(10);
    let sh = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    assert_eq!(
        run_cli(ws.path(), t, vec![], sh("echo 1 > /tmp/warm-marker")),
        0
    );
    // the second invocation is served by the helper the first one left warm: same /tmp
    assert_eq!(
        run_cli(ws.path(), t, vec![], sh("test -f /tmp/warm-marker")),
        0
    );
    // SAFETY: plain getter.
    let uid = unsafe { libc::geteuid() };
    let dir = std::path::PathBuf::from(format!("/tmp/chela-sandbox-{uid}"));
    let socks = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0)
        + std::env::var_os("XDG_RUNTIME_DIR").map(|_| 1).unwrap_or(0);
    assert!(socks >= 1, "no warm helper socket in {}", dir.display());
    // each run still gets its own pid namespace, and timeouts still kill
    assert_eq!(run_cli(ws.path(), t, vec![], sh("test $$ -le 3")), 0);
    assert_eq!(
        run_cli(
            ws.path(),
            Duration::from_millis(300),
            vec![],
            vec!["sleep".into(), "5".into()]
        ),
        124
    );
    // a missing layer is detected before the warm helper is used
    std::env::set_var(SIMULATE_ENV, "landlock");
    assert_eq!(run_cli(ws.path(), t, vec![], vec!["true".into()]), 4);
    std::env::remove_var(SIMULATE_ENV);
    assert_eq!(run_cli(ws.path(), t, vec![], vec!["true".into()]), 0);
    // a cold run (no helper reuse) gets a fresh /tmp
    std::env::set_var("CHELA_SANDBOX_COLD", "1");
    assert_eq!(
        run_cli(ws.path(), t, vec![], sh("test ! -e /tmp/warm-marker")),
        0
    );
    std::env::remove_var("CHELA_SANDBOX_COLD");
}

#[test]
fn run_cli_with_allowed_domains_goes_through_the_proxy() {
    if !unprivileged("run_cli_with_allowed_domains_goes_through_the_proxy") {
        return;
    }
    let ws = workspace();
    let script = r#"
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://not-allowed.example/", timeout=10)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 403 else 1)
sys.exit(2)
"#;
    let argv = vec!["python3".into(), "-c".into(), script.into()];
    let code = run_cli(
        ws.path(),
        Duration::from_secs(20),
        vec!["allowed.invalid".into()],
        argv,
    );
    assert_eq!(
        code, 0,
        "the proxy did not answer 403 for an unlisted domain"
    );
}
