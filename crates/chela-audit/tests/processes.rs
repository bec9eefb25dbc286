//! Tests that need other processes: fail closed on a full file system (RLIMIT_FSIZE) and on an
//! unwritable directory (as uid 65534 when run as root), and several processes appending to
//! one log. The child is this test binary re-executed with `CHELA_AUDIT_PROC_CHILD` set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chela_audit::{read_records, verify, AuditLog, AuditOptions, RecordFilter};
use common::*;

const CHILD_ENV: &str = "CHELA_AUDIT_PROC_CHILD";

/// Runs in the child: `MODE:DIR`.
fn child_main(spec: &str) -> ! {
    let (mode, dir) = spec.split_once(':').expect("MODE:DIR");
    let dir = Path::new(dir);
    let mut out = std::io::stdout().lock();
    writeln!(out).expect("stdout");
    match mode {
        // Append until the log refuses; report how many made it and the error.
        "fill" => {
            let log = AuditLog::open_with(dir, quiet()).expect("open");
            let mut ok = 0u64;
            let err = loop {
                match log.append(ev("fill", ok)) {
                    Ok(_) => ok += 1,
                    Err(e) => break e,
                }
                assert!(ok < 1_000_000, "the size limit never hit");
            };
            writeln!(out, "APPENDED {ok}").expect("stdout");
            writeln!(out, "ERR {err}").expect("stdout");
            match log.append(ev("fill", ok)) {
                Ok(seq) => writeln!(out, "AGAIN_OK {seq}").expect("stdout"),
                Err(e) => writeln!(out, "AGAIN_ERR {e}").expect("stdout"),
            }
        }
        // Try to open; report the outcome.
        "open" => match AuditLog::open(dir) {
            Ok(log) => {
                let r = log.append(ev("ro", 0));
                writeln!(out, "OPENED {r:?}").expect("stdout");
            }
            Err(e) => writeln!(out, "OPEN_ERR {e}").expect("stdout"),
        },
        // Open, wait for the parent to revoke write access to the directory, then append
        // until rotation needs a new segment file.
        "rotate" => {
            let log = AuditLog::open_with(
                dir,
                AuditOptions {
                    max_segment_bytes: 4096,
                    ..quiet()
                },
            )
            .expect("open");
            writeln!(out, "READY").expect("stdout");
            out.flush().expect("stdout");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).expect("stdin");
            let mut ok = 0u64;
            let err = loop {
                match log.append(ev("rot", ok)) {
                    Ok(_) => ok += 1,
                    Err(e) => break e,
                }
                assert!(ok < 10_000, "rotation never failed");
            };
            writeln!(out, "APPENDED {ok}").expect("stdout");
            writeln!(out, "ERR {err}").expect("stdout");
        }
        // Append N records alongside other processes.
        "share" => {
            let log = AuditLog::open_with(
                dir,
                AuditOptions {
                    checkpoint_every: 100,
                    max_segment_bytes: 64 * 1024,
                    ..quiet()
                },
            )
            .expect("open");
            let me = std::process::id();
            for i in 0..1500 {
                let seq = log.append(ev(&format!("p{me}"), i)).expect("append");
                writeln!(out, "ACK {seq} p{me}").expect("stdout");
            }
        }
        other => panic!("unknown child mode {other}"),
    }
    out.flush().expect("stdout");
    drop(out);
    std::process::exit(0);
}

fn dispatch(test: &str) {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let _ = test;
        child_main(&spec);
    }
}

fn child_cmd(exe: &Path, test: &str, spec: &str) -> Command {
    let mut c = Command::new(exe);
    c.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(|r| r.trim_start()))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A temp dir 65534 can enter, with a copy of this test binary it can execute.
fn shared_tmp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = d.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = bin.join("processes-test");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (d, exe)
}

fn chown_r(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_r(&e.unwrap().path(), uid);
        }
    }
}

fn as_nobody(c: &mut Command) {
    if is_root() {
        c.uid(65534).gid(65534);
    }
}

#[test]
fn full_file_system_fails_closed_without_a_torn_record() {
    const TEST: &str = "full_file_system_fails_closed_without_a_torn_record";
    dispatch(TEST);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 3, quiet());
    let mut cmd = child_cmd(
        &std::env::current_exe().unwrap(),
        TEST,
        &format!("fill:{}", dir.display()),
    );
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let appended: u64 = field(&t, "APPENDED").unwrap().parse().unwrap();
    let err = field(&t, "ERR").unwrap();
    assert!(
        err.contains("File too large") || err.contains("too large"),
        "{t}"
    );
    assert!(
        field(&t, "AGAIN_ERR").is_some(),
        "a failed log must keep refusing: {t}"
    );
    assert!(appended > 10, "{t}");
    // The refused record left no torn bytes; everything acknowledged is there.
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    let recs = read_records(
        &dir,
        &RecordFilter {
            session: Some("fill".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(recs.len() as u64, appended);
    // With space again, the log continues the same chain.
    write_log(&dir, 2, quiet());
    assert!(verify(&dir, None).unwrap().ok);
}

#[test]
fn unwritable_directory_fails_closed() {
    const TEST: &str = "unwritable_directory_fails_closed";
    dispatch(TEST);
    let (d, exe) = shared_tmp();

    // 1. A directory the process may not write: no log can be created.
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut c = child_cmd(&exe, TEST, &format!("open:{}", ro.join("audit").display()));
    as_nobody(&mut c);
    let t = text(&c.output().unwrap());
    let err = field(&t, "OPEN_ERR").unwrap_or_else(|| panic!("open must fail: {t}"));
    assert!(err.contains("Permission denied"), "{t}");

    // 2. An existing log whose segment is read-only: open refuses.
    let dir = d.path().join("audit");
    write_log(&dir, 2, quiet());
    if is_root() {
        chown_r(&dir, 65534);
    }
    for seg in segments(&dir) {
        std::fs::set_permissions(&seg, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let mut c = child_cmd(&exe, TEST, &format!("open:{}", dir.display()));
    as_nobody(&mut c);
    let t = text(&c.output().unwrap());
    let err = field(&t, "OPEN_ERR").unwrap_or_else(|| panic!("open must fail: {t}"));
    assert!(
        err.contains("Permission denied") && err.contains("seg-"),
        "{t}"
    );
    for seg in segments(&dir) {
        std::fs::set_permissions(&seg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // 3. Write access revoked while open: appends fail once a new segment is needed.
    let mut c = child_cmd(&exe, TEST, &format!("rotate:{}", dir.display()));
    as_nobody(&mut c);
    let mut child = c.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child exited early"
        );
        if line.trim() == "READY" {
            break;
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(status.success(), "{rest}");
    let err = field(&rest, "ERR").unwrap_or_else(|| panic!("append must fail: {rest}"));
    assert!(err.contains("Permission denied"), "{rest}");
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
}

#[test]
fn processes_share_one_chain() {
    const TEST: &str = "processes_share_one_chain";
    dispatch(TEST);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 1, quiet());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            child_cmd(&exe, TEST, &format!("share:{}", dir.display()))
                .spawn()
                .unwrap()
        })
        .collect();
    let mut acked = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        for l in t.lines().filter_map(|l| l.strip_prefix("ACK ")) {
            let (seq, who) = l.split_once(' ').unwrap();
            acked.push((seq.parse::<u64>().unwrap(), who.to_string()));
        }
    }
    assert_eq!(acked.len(), 4500);
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert!(r.segments > 1);
    let recs = read_records(&dir, &RecordFilter::default()).unwrap();
    let by_seq: std::collections::HashMap<u64, Option<String>> =
        recs.into_iter().map(|r| (r.seq, r.session)).collect();
    for (seq, who) in acked {
        assert_eq!(by_seq.get(&seq), Some(&Some(who.clone())), "seq {seq}");
    }
}
