//! Warm helpers for `chela sandbox run`: the first invocation for a workspace leaves its
//! prepared helper listening on a Unix socket in a private (0700) directory for a short idle
//! period, so the next invocations only pay for a fork of the prepared helper.

use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How long an unused warm helper lives.
pub(crate) const IDLE_MS: u64 = 30_000;

/// Bump when the request protocol changes.
const PROTOCOL: u32 = 2;

/// A private directory for helper sockets: `$XDG_RUNTIME_DIR/chela-sandbox` or
/// `/tmp/chela-sandbox-<uid>`, which must be a real directory owned by us with mode 0700 (a
/// directory squatted by another user is refused).
fn socket_dir() -> Option<PathBuf> {
    // SAFETY: plain getter.
    let uid = unsafe { libc::geteuid() };
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| {
            std::fs::symlink_metadata(p)
                .map(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
                .unwrap_or(false)
        })
        .map(|p| p.join("chela-sandbox"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/chela-sandbox-{uid}")));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&base);
    let m = std::fs::symlink_metadata(&base).ok()?;
    if !m.is_dir() || m.uid() != uid || m.mode() & 0o077 != 0 {
        return None;
    }
    Some(base)
}

/// The socket path for a helper serving `workspace` (canonical) with this configuration and
/// this build of chela.
pub(crate) fn socket_path(workspace: &Path, tmp_bytes: u64) -> Option<PathBuf> {
    let ws = std::fs::metadata(workspace).ok()?;
    let exe = std::env::current_exe().ok()?;
    let em = std::fs::metadata(&exe).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        PROTOCOL,
        env!("CARGO_PKG_VERSION"),
        exe.as_os_str().as_bytes(),
        em.mtime(),
        em.mtime_nsec(),
        em.size(),
        em.ino(),
    )
        .hash(&mut h);
    (
        workspace.as_os_str().as_bytes(),
        ws.dev(),
        ws.ino(),
        tmp_bytes,
    )
        .hash(&mut h);
    let p = socket_dir()?.join(format!("ws-{:016x}.sock", h.finish()));
    (p.as_os_str().len() < 100).then_some(p)
}

fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: zeroed sockaddr_un is valid.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let b = path.as_os_str().as_bytes();
    if b.len() >= a.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, s) in a.sun_path.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + b.len() + 1;
    Ok((a, len as libc::socklen_t))
}

fn seqpacket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Connects to a warm helper.
pub(crate) fn connect(path: &Path) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let s = seqpacket()?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: valid socket and address.
    let r = unsafe { libc::connect(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(s)
}

/// Creates the listening socket for a new warm helper, first removing the sockets of helpers
/// that have exited (connection refused).
pub(crate) fn listen(path: &Path) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let stale = p.extension().is_some_and(|x| x == "sock")
                && matches!(connect(&p), Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED));
            if stale || p == path {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    let s = seqpacket()?;
    let (a, len) = sockaddr(path)?;
    // SAFETY: valid socket and address.
    let r = unsafe { libc::bind(s.as_raw_fd(), (&a as *const libc::sockaddr_un).cast(), len) };
    // SAFETY: valid socket.
    if r < 0 || unsafe { libc::listen(s.as_raw_fd(), 64) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_depends_on_workspace_and_is_private() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let pa = socket_path(a.path(), 1 << 20).unwrap();
        let pb = socket_path(b.path(), 1 << 20).unwrap();
        assert_ne!(pa, pb);
        assert_ne!(pa, socket_path(a.path(), 2 << 20).unwrap());
        assert_eq!(pa, socket_path(a.path(), 1 << 20).unwrap());
        let dir = std::fs::metadata(pa.parent().unwrap()).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700);
    }
}
