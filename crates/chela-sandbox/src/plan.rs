//! The sandbox's filesystem view and Landlock rules, computed in the parent before `clone`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::child::{Op, ATTR_NODEV, ATTR_NOEXEC, ATTR_NOSUID, ATTR_RDONLY};
use crate::landlock::{self, RO, RX};

/// Top-level host directories that hold programs and libraries (bound read-only, or recreated
/// as symlinks on merged-/usr systems).
const SYSTEM_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `/etc` entries programs need (bound read-only when present). Nothing with credentials,
/// host identity or system-wide secrets (`shadow`, `machine-id`, `environment`, `gitconfig`…).
const ETC_ALLOW: &[&str] = &[
    "alternatives",
    "bash.bashrc",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "debian_version",
    "gai.conf",
    "host.conf",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "locale.conf",
    "localtime",
    "lsb-release",
    "magic",
    "magic.mime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "perl",
    "pki",
    "profile",
    "protocols",
    "services",
    "ssl",
    "terminfo",
    "timezone",
];

/// `/etc` name prefixes bound when present (interpreter configuration such as `python3.11`).
const ETC_PREFIXES: &[&str] = &["python3"];

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

fn c(s: &str) -> CString {
    // Only called with literals and paths checked for NUL bytes by the caller.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn cb(b: &[u8]) -> Option<CString> {
    CString::new(b).ok()
}

/// Adds the host path `host` (absolute) at `dst` inside the sandbox, read-only: recreated as a
/// symlink when it is one, otherwise bound.
fn add_host_entry(ops: &mut Vec<Op>, host: &Path, dst: &str) -> Option<()> {
    let md = std::fs::symlink_metadata(host).ok()?;
    let src = cb(&[b"/oldroot", host.as_os_str().as_bytes()].concat())?;
    if md.file_type().is_symlink() {
        let target = std::fs::read_link(host).ok()?;
        ops.push(Op::Symlink {
            target: cb(target.as_os_str().as_bytes())?,
            link: c(dst),
        });
    } else if md.is_dir() {
        ops.push(Op::Dir {
            path: c(dst),
            mode: 0o755,
        });
        ops.push(Op::Bind {
            src,
            dst: c(dst),
            attrs: ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV,
            required: false,
        });
    } else if md.is_file() {
        ops.push(Op::File { path: c(dst) });
        ops.push(Op::Bind {
            src,
            dst: c(dst),
            attrs: ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV,
            required: false,
        });
    }
    Some(())
}

/// Builds the mount plan. `workspace` must be canonical (no symlinks) and contain no NUL.
pub(crate) fn mount_plan(workspace: &Path, uid: u32, gid: u32, tmp_bytes: u64) -> Option<Vec<Op>> {
    let mut ops = Vec::new();
    let ro = ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV;
    // /usr and friends
    ops.push(Op::Dir {
        path: c("/usr"),
        mode: 0o755,
    });
    ops.push(Op::Bind {
        src: c("/oldroot/usr"),
        dst: c("/usr"),
        attrs: ro,
        required: true,
    });
    for d in SYSTEM_DIRS {
        add_host_entry(&mut ops, &Path::new("/").join(d), &format!("/{d}"));
    }
    // /etc: selected host files plus synthetic identity files
    ops.push(Op::Dir {
        path: c("/etc"),
        mode: 0o755,
    });
    let mut etc_names: Vec<String> = ETC_ALLOW.iter().map(|s| s.to_string()).collect();
    if let Ok(rd) = std::fs::read_dir("/etc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if ETC_PREFIXES.iter().any(|p| name.starts_with(p)) {
                etc_names.push(name);
            }
        }
    }
    for name in etc_names {
        add_host_entry(
            &mut ops,
            &Path::new("/etc").join(&name),
            &format!("/etc/{name}"),
        );
    }
    let passwd = format!(
        "sandbox:x:{uid}:{gid}:Chela sandbox:/workspace:/bin/sh\n\
         root:x:0:0:root:/root:/usr/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = format!("sandbox:x:{gid}:\nroot:x:0:\nnogroup:x:65534:\n");
    for (name, content) in [
        ("passwd", passwd),
        ("group", group),
        (
            "hosts",
            "127.0.0.1\tlocalhost chela-sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                .to_string(),
        ),
        ("hostname", "chela-sandbox\n".to_string()),
    ] {
        ops.push(Op::Write {
            path: c(&format!("/etc/{name}")),
            content: content.into_bytes(),
        });
    }
    // /dev: tmpfs with a few host device nodes, ptys, shm
    ops.push(Op::Dir {
        path: c("/dev"),
        mode: 0o755,
    });
    ops.push(Op::Tmpfs {
        dst: c("/dev"),
        flags: libc::MS_NOSUID | libc::MS_NOEXEC,
        data: c("mode=0755,size=64k"),
    });
    for d in DEVICES {
        let p = format!("/dev/{d}");
        ops.push(Op::File { path: c(&p) });
        ops.push(Op::Bind {
            src: c(&format!("/oldroot/dev/{d}")),
            dst: c(&p),
            attrs: ATTR_NOSUID | ATTR_NOEXEC,
            required: false,
        });
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ] {
        ops.push(Op::Symlink {
            target: c(target),
            link: c(link),
        });
    }
    ops.push(Op::Dir {
        path: c("/dev/pts"),
        mode: 0o755,
    });
    ops.push(Op::Devpts { dst: c("/dev/pts") });
    ops.push(Op::Dir {
        path: c("/dev/shm"),
        mode: 0o1777,
    });
    ops.push(Op::Tmpfs {
        dst: c("/dev/shm"),
        flags: libc::MS_NOSUID | libc::MS_NODEV,
        data: c("mode=1777,size=64m"),
    });
    ops.push(Op::Seal {
        path: c("/dev"),
        attrs: ATTR_RDONLY,
    });
    // private /tmp
    ops.push(Op::Dir {
        path: c("/tmp"),
        mode: 0o1777,
    });
    ops.push(Op::Tmpfs {
        dst: c("/tmp"),
        flags: libc::MS_NOSUID | libc::MS_NODEV,
        data: c(&format!("mode=1777,size={tmp_bytes}")),
    });
    ops.push(Op::Dir {
        path: c("/var"),
        mode: 0o755,
    });
    ops.push(Op::Symlink {
        target: c("../tmp"),
        link: c("/var/tmp"),
    });
    // the workspace, read-write
    ops.push(Op::Dir {
        path: c("/workspace"),
        mode: 0o755,
    });
    ops.push(Op::Bind {
        src: cb(&[b"/oldroot", workspace.as_os_str().as_bytes()].concat())?,
        dst: c("/workspace"),
        attrs: ATTR_NOSUID | ATTR_NODEV,
        required: true,
    });
    // the helper's own /proc (each run mounts a fresh one over it)
    ops.push(Op::Dir {
        path: c("/proc"),
        mode: 0o555,
    });
    ops.push(Op::Proc { dst: c("/proc") });
    Some(ops)
}

/// Landlock rules: read everywhere in the sandbox view, execute only from system directories,
/// the workspace and /tmp, write to device nodes, full rights on the workspace, /tmp and
/// /dev/shm.
pub(crate) fn landlock_rules() -> Vec<(&'static str, u64)> {
    let all = u64::MAX;
    let mut v: Vec<(&'static str, u64)> = vec![
        // Read anything in the sandbox's own view (which holds only what plan() put there,
        // including each run's fresh /proc); no execute, no write.
        ("/", RO),
        ("/usr", RX),
        (
            "/dev",
            RO | landlock::FS_WRITE_FILE | landlock::FS_IOCTL_DEV,
        ),
        ("/dev/shm", all),
        ("/tmp", all),
        ("/workspace", all),
    ];
    for d in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        v.push((d, RX));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_binds_workspace_and_never_home_or_run() {
        let ops = mount_plan(Path::new("/srv/ws"), 1000, 1000, 1 << 20).unwrap();
        let srcs: Vec<String> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Bind { src, .. } => Some(src.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        assert!(srcs.contains(&"/oldroot/srv/ws".to_string()));
        assert!(srcs.contains(&"/oldroot/usr".to_string()));
        for s in &srcs {
            assert!(
                !s.starts_with("/oldroot/home")
                    && !s.starts_with("/oldroot/root")
                    && !s.starts_with("/oldroot/run")
                    && !s.starts_with("/oldroot/sys")
                    && !s.contains("shadow"),
                "{s}"
            );
        }
    }
}
