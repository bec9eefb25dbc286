//! Ordinary work must succeed inside the sandbox: shell, python3, git, cc, files in the
//! workspace and /tmp, stdin, exit codes, limits, concurrency.

mod common;

use std::time::{Duration, Instant};

use chela_sandbox::{CommandSpec, ExitStatus, Limits, Sandbox, SandboxConfig};
use common::*;

#[test]
fn shell_and_coreutils_work() {
    if !unprivileged("shell_and_coreutils_work") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        "echo hello; pwd; id -u; ls / | tr '\\n' ' '; printf 'x%.0s' 1 2 3 | wc -c",
    );
    assert_ok(&o);
    let s = out(&o);
    assert!(s.starts_with("hello\n/workspace\n65534\n"), "{s}");
    assert!(
        s.contains("workspace") && s.contains("usr") && s.contains("tmp"),
        "{s}"
    );
    assert!(sb.level().contains("landlock ABI"), "{}", sb.level());
}

#[test]
fn files_in_workspace_and_tmp() {
    if !unprivileged("files_in_workspace_and_tmp") {
        return;
    }
    let ws = workspace();
    std::fs::write(ws.path().join("in.txt"), "from host").unwrap();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        "cat in.txt && mkdir -p d/e && echo made > d/e/out.txt && echo t > /tmp/t && cat /tmp/t && mv d/e/out.txt d/moved.txt && rm -r d/e && ln -s moved.txt d/link && cat d/link",
    );
    assert_ok(&o);
    assert_eq!(out(&o), "from hostt\nmade\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("d/moved.txt")).unwrap(),
        "made\n"
    );
    // /tmp persists across runs of one sandbox (a session) but is not the host's /tmp
    let o = sh(&sb, "cat /tmp/t");
    assert_eq!(out(&o), "t\n");
}

#[test]
fn python3_runs() {
    if !unprivileged("python3_runs") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        "python3 -c 'import json,os,sys,subprocess,tempfile; print(json.dumps({\"pid\": os.getpid() > 0, \"cwd\": os.getcwd()})); open(\"p.txt\",\"w\").write(\"py\"); print(subprocess.run([\"echo\",\"sub\"],capture_output=True,text=True).stdout.strip())'",
    );
    assert_ok(&o);
    assert_eq!(out(&o), "{\"pid\": true, \"cwd\": \"/workspace\"}\nsub\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("p.txt")).unwrap(),
        "py"
    );
}

#[test]
fn git_works() {
    if !unprivileged("git_works") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let o = sh(
        &sb,
        "git init -q repo && cd repo && echo a > a && git add a && git -c user.name=t -c user.email=t@e commit -qm first && git log --oneline | wc -l",
    );
    assert_ok(&o);
    assert_eq!(out(&o).trim(), "1");
    assert!(ws.path().join("repo/.git").is_dir());
}

#[test]
fn cc_compiles_and_runs() {
    if !unprivileged("cc_compiles_and_runs") {
        return;
    }
    let ws = workspace();
    std::fs::write(
        ws.path().join("hello.c"),
        "#include <stdio.h>\nint main(void){puts(\"compiled\");return 3;}\n",
    )
    .unwrap();
    let sb = sandbox(ws.path());
    let o = sh(&sb, "cc -O0 -o /tmp/hello hello.c && /tmp/hello");
    assert_eq!(o.status, ExitStatus::Exited(3), "{}", err(&o));
    assert_eq!(out(&o), "compiled\n");
}

#[test]
fn stdin_env_cwd_and_exit_codes() {
    if !unprivileged("stdin_env_cwd_and_exit_codes") {
        return;
    }
    let ws = workspace();
    std::fs::create_dir(ws.path().join("sub")).unwrap();
    let sb = sandbox(ws.path());
    let mut spec = CommandSpec::new(["sh", "-c", "cat; echo \"$FOO\"; pwd; exit 7"]);
    spec.stdin = Some(b"piped\n".to_vec());
    spec.env = vec![("FOO".into(), "bar baz".into())];
    spec.cwd = Some("sub".into());
    let o = sb.run(&spec).unwrap();
    assert_eq!(o.status, ExitStatus::Exited(7));
    assert_eq!(out(&o), "piped\nbar baz\n/workspace/sub\n");
    // large stdin is streamed without deadlock
    let big = vec![b'z'; 3 << 20];
    let mut spec = CommandSpec::new(["wc", "-c"]);
    spec.stdin = Some(big);
    let o = sb.run(&spec).unwrap();
    assert_eq!(out(&o).trim(), (3 << 20).to_string());
    // signals are reported
    let o = sh(&sb, "kill -TERM $$");
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGTERM));
    // not found -> 127 with a message
    let o = sb.run(&CommandSpec::new(["no-such-program-xyz"])).unwrap();
    assert_eq!(o.status, ExitStatus::Exited(127));
    assert!(err(&o).contains("cannot execute"), "{}", err(&o));
    // cwd outside the workspace is refused before anything runs
    let mut spec = CommandSpec::new(["true"]);
    spec.cwd = Some("../..".into());
    assert!(sb.run(&spec).is_err());
    spec.cwd = Some("/etc".into());
    assert!(sb.run(&spec).is_err());
}

#[test]
fn output_is_capped_and_counted() {
    if !unprivileged("output_is_capped_and_counted") {
        return;
    }
    let ws = workspace();
    let mut cfg = SandboxConfig::new(ws.path());
    cfg.limits = Limits {
        output_bytes: 1000,
        ..Limits::default()
    };
    let sb = Sandbox::new(cfg).unwrap();
    let o = sh(&sb, "head -c 5000000 /dev/zero; head -c 3000 /dev/zero >&2");
    assert_ok(&o);
    assert_eq!(o.stdout.len(), 1000);
    assert_eq!(o.stdout_total, 5_000_000);
    assert_eq!(o.stderr.len(), 1000);
    assert_eq!(o.stderr_total, 3000);
}

#[test]
fn timeout_kills_and_sandbox_stays_usable() {
    if !unprivileged("timeout_kills_and_sandbox_stays_usable") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    let mut spec = CommandSpec::new(["sleep", "30"]);
    spec.timeout = Duration::from_millis(300);
    let t = Instant::now();
    let o = sb.run(&spec).unwrap();
    assert_eq!(o.status, ExitStatus::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_ok(&sh(&sb, "true"));
}

#[test]
fn concurrent_runs() {
    if !unprivileged("concurrent_runs") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let sb = &sb;
                s.spawn(move || {
                    let o = sh(sb, &format!("echo {i} > f{i}; cat f{i}"));
                    assert_ok(&o);
                    assert_eq!(out(&o), format!("{i}\n"));
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn refuses_root_and_reports_missing_features() {
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } == 0 {
        let ws = workspace();
        let e = Sandbox::new(SandboxConfig::new(ws.path())).unwrap_err();
        assert!(e.to_string().contains("root"), "{e}");
        assert!(e.is_environment());
    }
}

#[test]
fn a_killed_helper_is_replaced() {
    if !unprivileged("a_killed_helper_is_replaced") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    assert_ok(&sh(&sb, "echo one > /tmp/x"));
    let old = sb.helper_pid().unwrap();
    // SAFETY: killing the helper, our own child.
    assert_eq!(unsafe { libc::kill(old, libc::SIGKILL) }, 0);
    std::thread::sleep(Duration::from_millis(100));
    let o = sh(&sb, "echo two; test -e /tmp/x || echo fresh-tmp");
    assert_ok(&o);
    assert_eq!(out(&o), "two\nfresh-tmp\n");
    assert_ne!(sb.helper_pid().unwrap(), old);
    assert_ok(&sh(&sb, "true"));
}
