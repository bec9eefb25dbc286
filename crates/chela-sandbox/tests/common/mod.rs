//! Shared helpers: run each test body as an unprivileged user (uid/gid 65534) when the test
//! runner is root (CI), by re-executing the test binary for just that test.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use chela_sandbox::{CommandSpec, ExitStatus, RunOutput, Sandbox, SandboxConfig};

pub const NOBODY: u32 = 65534;

/// Env var a test's parent sets so tests can check it never reaches the sandbox.
pub const HOST_SECRET_VAR: &str = "CHELA_TEST_HOST_SECRET";
pub const HOST_SECRET: &str = "hunter2-host-secret-6f1e";

/// Whether every directory above `p` is searchable and `p` executable by other users.
fn world_executable(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let file_ok = std::fs::metadata(p)
        .map(|m| m.mode() & 0o001 != 0)
        .unwrap_or(false);
    file_ok
        && p.ancestors().skip(1).all(|d| {
            std::fs::metadata(d)
                .map(|m| m.mode() & 0o001 != 0)
                .unwrap_or(false)
        })
}

/// The test binary, or a copy of it that uid 65534 can execute (when the target directory sits
/// under a private directory). The copy's name depends on the binary's path, size and mtime,
/// so repeated runs reuse it instead of filling /tmp.
pub fn exe_copy() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let exe = std::env::current_exe().expect("test binary path");
        if world_executable(&exe) {
            return exe;
        }
        let md = std::fs::metadata(&exe).expect("test binary metadata");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&exe, md.len(), md.mtime(), md.mtime_nsec()).hash(&mut h);
        let dir = std::env::temp_dir().join(format!("chela-sbx-test-{:016x}", h.finish()));
        let dst = dir.join("t");
        if !dst.exists() {
            std::fs::create_dir_all(&dir).expect("temp dir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let tmp = dir.join(format!("t.{}", std::process::id()));
            std::fs::copy(&exe, &tmp).expect("copy test binary");
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::rename(&tmp, &dst).expect("install test binary copy");
        }
        dst
    })
    .clone()
}

/// Returns true when the caller should run the test body now (already unprivileged). As root,
/// re-runs `name` as uid/gid 65534, asserts it passed, and returns false.
pub fn unprivileged(name: &str) -> bool {
    unprivileged_env(name, &[])
}

/// Like [`unprivileged`], with extra environment variables for the re-executed test.
pub fn unprivileged_env(name: &str, envs: &[(&str, &str)]) -> bool {
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        return true;
    }
    let out = Command::new(exe_copy())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs.iter().copied())
        .env(HOST_SECRET_VAR, HOST_SECRET)
        .env("HOME", "/nonexistent")
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("re-run test as uid 65534");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "test {name} failed as uid 65534:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "test {name} did not run as uid 65534:\n{text}"
    );
    false
}

/// A fresh workspace directory readable by the sandbox user.
pub fn workspace() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("chela-ws-")
        .tempdir()
        .expect("temp workspace");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

pub fn sandbox(ws: &Path) -> Sandbox {
    Sandbox::new(SandboxConfig::new(ws)).expect("sandbox should be available on this machine")
}

/// Runs a shell snippet with a timeout.
pub fn sh(sb: &Sandbox, script: &str) -> RunOutput {
    let mut spec = CommandSpec::new(["/bin/sh", "-c", script]);
    spec.timeout = Duration::from_secs(30);
    sb.run(&spec).expect("run")
}

pub fn out(o: &RunOutput) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &RunOutput) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(o: &RunOutput) {
    assert_eq!(
        o.status,
        ExitStatus::Exited(0),
        "stdout:\n{}\nstderr:\n{}",
        out(o),
        err(o)
    );
}
