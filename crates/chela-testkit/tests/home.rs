//! Self-tests of TestHome and chela_command, using system binaries in place of `chela`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use chela_testkit::{chela_command, run_as_unprivileged, TestHome, CHILD_PATH, UNPRIVILEGED_ID};

fn expected_id() -> u32 {
    if run_as_unprivileged() {
        UNPRIVILEGED_ID
    } else {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() }
    }
}

fn output(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn home_layout_and_ownership() {
    let home = TestHome::new();
    let root = home.path().to_path_buf();
    assert_eq!(home.home(), root.join("home"));
    assert_eq!(home.chela_home(), root.join("home/.chela"));
    assert!(
        !home.chela_home().exists(),
        ".chela is left for `chela init` to create"
    );
    for p in [home.path(), home.home()] {
        let m = fs::metadata(p).expect("exists");
        assert!(m.is_dir());
        assert_eq!(m.permissions().mode() & 0o777, 0o700, "{}", p.display());
        assert_eq!(m.uid(), expected_id());
        assert_eq!(
            m.gid(),
            if run_as_unprivileged() {
                UNPRIVILEGED_ID
            } else {
                m.gid()
            }
        );
    }
    let ws = home.create_dir("work/space");
    assert!(ws.is_dir());
    assert_eq!(fs::metadata(&ws).expect("ws").uid(), expected_id());
    assert_eq!(
        fs::metadata(root.join("work")).expect("work").uid(),
        expected_id()
    );
    let f = home.write_file("work/space/in.txt", "hello");
    assert_eq!(fs::metadata(&f).expect("file").uid(), expected_id());
    drop(home);
    assert!(!root.exists(), "removed on drop");
}

#[test]
fn command_runs_with_clean_env_in_home() {
    let home = TestHome::new();
    assert!(
        std::env::vars().count() > 4,
        "the test process has a richer env"
    );
    let env = output(&mut chela_command(Path::new("/usr/bin/env"), &home));
    let mut lines: Vec<&str> = env.lines().collect();
    lines.sort_unstable();
    let want_home = format!("HOME={}", home.home().display());
    let want_chela = format!("CHELA_HOME={}", home.chela_home().display());
    let want_path = format!("PATH={CHILD_PATH}");
    let mut want = vec![
        want_chela.as_str(),
        want_home.as_str(),
        "LANG=C.UTF-8",
        want_path.as_str(),
    ];
    want.sort_unstable();
    assert_eq!(lines, want, "nothing inherited, no secrets");
    let pwd = output(&mut chela_command(Path::new("/bin/pwd"), &home));
    assert_eq!(pwd.trim(), home.home().to_string_lossy());
}

#[test]
fn command_drops_to_65534_when_root() {
    let home = TestHome::new();
    let ids = output(chela_command(Path::new("/usr/bin/id"), &home).arg("-u"));
    assert_eq!(ids.trim(), expected_id().to_string());
    let gid = output(chela_command(Path::new("/usr/bin/id"), &home).arg("-g"));
    assert_eq!(gid.trim(), expected_id().to_string());
    let groups = output(chela_command(Path::new("/usr/bin/id"), &home).arg("-G"));
    if run_as_unprivileged() {
        assert_eq!(
            groups.trim(),
            UNPRIVILEGED_ID.to_string(),
            "no supplementary groups"
        );
    }
    // The child can use its home and the files the kit wrote for it.
    let f = home.write_file("home/note.txt", "for the child");
    let read = output(chela_command(Path::new("/bin/cat"), &home).arg(&f));
    assert_eq!(read, "for the child");
    let made = home.home().join("made-by-child");
    output(chela_command(Path::new("/usr/bin/touch"), &home).arg(&made));
    assert_eq!(fs::metadata(&made).expect("created").uid(), expected_id());
}

#[test]
fn binary_under_a_private_dir_is_still_runnable() {
    // Simulates a target dir under a 0700 directory (e.g. /root/…): the kit copies the binary.
    let private = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
    let bin = private.path().join("id-copy");
    // Copy in a child process so no write descriptor to it lives in this multi-threaded
    // process (a concurrent fork could otherwise make exec fail with ETXTBSY).
    let copied = std::process::Command::new("cp")
        .arg("/usr/bin/id")
        .arg(&bin)
        .status()
        .expect("run cp");
    assert!(copied.success());
    let home = TestHome::new();
    let out = output(chela_command(&bin, &home).arg("-u"));
    assert_eq!(out.trim(), expected_id().to_string());
    // The same binary is copied once per process: a second command reuses the copy.
    let a = chela_command(&bin, &home);
    let b = chela_command(&bin, &home);
    assert_eq!(a.get_program(), b.get_program());
    if run_as_unprivileged() {
        assert_ne!(Path::new(a.get_program()), bin.as_path());
        let dir = Path::new(a.get_program()).parent().expect("dir");
        assert_eq!(
            fs::metadata(dir).expect("dir").permissions().mode() & 0o777,
            0o755
        );
    }
}
