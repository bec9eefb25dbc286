//! `run_secrets_cli` as a real process: passphrase on descriptor 3 via
//! `CHELA_VAULT_PASSPHRASE_FD`, value on piped standard input, nothing secret in argv.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use chela_vault::{run_secrets_cli, PassphraseSource, Secret, SecretsCmd, Vault};

const PW: &str = "fd passphrase 0123";

/// Runs inside the child process only.
#[test]
fn child_entry() {
    let Ok(home) = std::env::var("CHELA_VAULT_CHILD_HOME") else {
        return;
    };
    let cmd = match std::env::var("CHELA_VAULT_CHILD_CMD").as_deref() {
        Ok("set") => SecretsCmd::Set { name: "svc".into() },
        Ok("rotate") => SecretsCmd::Rotate { name: "svc".into() },
        _ => SecretsCmd::List { json: true },
    };
    std::process::exit(run_secrets_cli(Path::new(&home), cmd));
}

fn child(
    home: &Path,
    cmd: &str,
    fd_env: &str,
    pass: Option<&str>,
    stdin: &str,
) -> (i32, String, String) {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe);
    c.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("CHELA_VAULT_CHILD_HOME", home)
        .env("CHELA_VAULT_CHILD_CMD", cmd)
        .env("CHELA_VAULT_PASSPHRASE_FD", fd_env)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let reader = pass.map(|p| {
        let (r, mut w) = std::io::pipe().unwrap();
        w.write_all(p.as_bytes()).unwrap();
        r
    });
    if let Some(r) = &reader {
        let fd = r.as_raw_fd();
        // SAFETY: dup2/fcntl in the forked child before exec; both are async-signal-safe.
        unsafe {
            c.pre_exec(move || {
                // dup2 onto itself keeps close-on-exec, so clear the flag in that case.
                let rc = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut proc = c.spawn().unwrap();
    drop(reader);
    proc.stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = proc.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn passphrase_on_a_descriptor_value_on_stdin() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = child(
        home.path(),
        "set",
        "3",
        Some(PW),
        "sk-test-PROC-4455667788\n",
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(!out.contains("sk-test-PROC") && !err.contains("sk-test-PROC"));
    let v = Vault::open(
        &Vault::default_path(home.path()),
        &PassphraseSource::Value(Secret::new(PW.into())),
    )
    .unwrap();
    assert_eq!(v.peek("svc").unwrap().expose(), "sk-test-PROC-4455667788");

    let (code, out, _) = child(home.path(), "list", "3", Some(PW), "");
    assert_eq!(code, 0);
    assert!(out.contains("\"name\": \"svc\""), "{out}");

    let (code, _, err) = child(home.path(), "list", "3", Some("not it at all"), "");
    assert_eq!(code, 1);
    assert!(err.contains("wrong passphrase"), "{err}");
}

#[test]
fn passphrase_value_in_the_environment_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = child(home.path(), "list", "hunter2-passphrase", None, "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("descriptor number") && !err.contains("hunter2"),
        "{err}"
    );
}

/// Child side of `failed_write_changes_nothing`: runs as an unprivileged user against a
/// directory it cannot write, so the atomic write fails part-way.
#[test]
fn readonly_child_entry() {
    let Ok(path) = std::env::var("CHELA_VAULT_RO_PATH") else {
        return;
    };
    let code = match readonly_scenario(Path::new(&path)) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    };
    std::process::exit(code);
}

fn readonly_scenario(path: &Path) -> Result<(), String> {
    let before = std::fs::read(path).map_err(|e| format!("read: {e}"))?;
    let mut v = Vault::open(path, &PassphraseSource::Value(Secret::new(PW.into())))
        .map_err(|e| format!("open: {e}"))?;
    let names_before: Vec<_> = v.list().into_iter().map(|e| e.name).collect();
    match v.set("new-entry", "value-that-cannot-be-written") {
        Err(chela_vault::VaultError::Io { .. }) => {}
        other => return Err(format!("expected an I/O error, got {other:?}")),
    }
    match v.rotate("svc", "rotated-value-not-written") {
        Err(chela_vault::VaultError::Io { .. }) => {}
        other => return Err(format!("expected an I/O error, got {other:?}")),
    }
    let names_after: Vec<_> = v.list().into_iter().map(|e| e.name).collect();
    if names_after != names_before {
        return Err("in-memory state changed after a failed write".into());
    }
    if v.peek("svc").map_err(|e| e.to_string())?.expose() != "original-value" {
        return Err("in-memory value changed after a failed rotate".into());
    }
    if std::fs::read(path).map_err(|e| format!("reread: {e}"))? != before {
        return Err("the file changed after a failed write".into());
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().ok_or("no parent")?)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".secrets.vault.")
        })
        .collect();
    if !leftovers.is_empty() {
        return Err("a temporary file was left behind".into());
    }
    Ok(())
}

#[test]
fn failed_write_changes_nothing() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let vdir = dir.path().join("home");
    std::fs::create_dir(&vdir).unwrap();
    let path = vdir.join(chela_vault::VAULT_FILE);
    let quick = chela_vault::KdfParams {
        m_cost_kib: 8 * 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let src = PassphraseSource::Value(Secret::new(PW.into()));
    let mut v = Vault::create_with_params(&path, &src, quick).unwrap();
    v.set("svc", "original-value").unwrap();
    drop(v);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        for p in [&vdir, &path, &vdir.join("secrets.vault.lock")] {
            chown(p, Some(65534), Some(65534)).unwrap();
        }
    }
    std::fs::set_permissions(&vdir, std::fs::Permissions::from_mode(0o500)).unwrap();
    if !root {
        let r = readonly_scenario(&path);
        std::fs::set_permissions(&vdir, std::fs::Permissions::from_mode(0o700)).unwrap();
        r.unwrap();
        return;
    }
    // Root ignores directory modes: run the scenario as uid/gid 65534 (std also drops the
    // supplementary groups when it changes the uid) from a copy of this test
    // binary in a world-readable place.
    let exe = std::env::current_exe().unwrap();
    let bin = dir.path().join("vault-test-bin");
    std::fs::copy(&exe, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&bin)
        .args([
            "readonly_child_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHELA_VAULT_RO_PATH", &path)
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    std::fs::set_permissions(&vdir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
