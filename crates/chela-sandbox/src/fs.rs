//! Workspace-confined file access for the `read`, `write`, `edit` and `list` tools.
//!
//! These tools run in-process (no sandboxed child is needed to read a file), so the confinement
//! is done by the kernel's path resolver: every path is resolved relative to an `O_PATH`
//! descriptor of the workspace root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`.
//! A `..` that climbs above the root, an absolute symlink, a relative symlink that leaves the
//! root, or a `/proc/self/...` magic link all fail with [`FsError::Escapes`] — atomically, with
//! no window between a check and the use. On kernels without `openat2` (before 5.6) a
//! component-by-component walk with `O_NOFOLLOW` is used instead, which refuses every symlink
//! and every `..`.
//!
//! Paths given to the tools may be relative (`src/main.rs`), absolute inside the root
//! (`/home/me/.chela/workspace/src/main.rs`) or absolute in the sandbox's view
//! (`/workspace/src/main.rs`, the path a sandboxed program sees); all three name the same file.

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where the workspace appears inside the sandbox (the path sandboxed programs see).
pub const SANDBOX_WORKSPACE: &str = "/workspace";

/// An error from a workspace file operation; messages name the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path leads outside the workspace (`..`, an absolute path elsewhere, a symlink out).
    #[error("`{path}` is outside the workspace; only files inside the workspace can be used (no `..`, no symlinks leading out)")]
    Escapes {
        /// The path as given.
        path: String,
    },
    /// Nothing exists at the path.
    #[error("`{path}` does not exist in the workspace")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// The path exists but is not a regular file (a directory, device, FIFO or socket).
    #[error("`{path}` is not a regular file")]
    NotAFile {
        /// The path as given.
        path: String,
    },
    /// The path (or one of its parents) exists but is not a directory.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The path as given.
        path: String,
    },
    /// The file is larger than the caller allows.
    #[error("`{path}` is {size} bytes, more than the limit of {limit} bytes; read it in parts or raise the limit")]
    TooLarge {
        /// The path as given.
        path: String,
        /// The file's size.
        size: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// Any other I/O failure.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The contents of a file, possibly truncated to the requested limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    /// The first `min(total_len, max_bytes)` bytes.
    pub bytes: Vec<u8>,
    /// The file's full length.
    pub total_len: u64,
}

impl FileContent {
    /// True when `bytes` holds less than the whole file.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.total_len
    }
}

/// What kind of entry a directory listing row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// One row of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirEntryInfo {
    /// File name (lossily converted to UTF-8).
    pub name: String,
    /// Kind of entry (symlinks are reported as such, never followed).
    pub kind: EntryKind,
    /// Size in bytes (`lstat` size).
    pub size: u64,
}

/// A workspace root, held open as an `O_PATH` descriptor; all access is confined beneath it.
pub struct Workspace {
    root: PathBuf,
    dirfd: OwnedFd,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace")
            .field("root", &self.root)
            .finish()
    }
}

/// Set once `openat2` has returned `ENOSYS` (kernel older than 5.6).
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);
/// Counter making temporary file names unique within this process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

impl Workspace {
    /// Opens the workspace rooted at `root`, which must exist and be a directory.
    pub fn open(root: &Path) -> Result<Workspace, FsError> {
        let shown = root.display().to_string();
        let canon = std::fs::canonicalize(root).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound {
                path: shown.clone(),
            },
            _ => FsError::Io {
                path: shown.clone(),
                source: e,
            },
        })?;
        let c = cstr(canon.as_os_str().as_bytes()).map_err(|e| FsError::Io {
            path: shown.clone(),
            source: e,
        })?;
        // SAFETY: valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = last_err();
            return Err(match e.raw_os_error() {
                Some(libc::ENOTDIR) => FsError::NotADirectory { path: shown },
                Some(libc::ENOENT) => FsError::NotFound { path: shown },
                _ => FsError::Io {
                    path: shown,
                    source: e,
                },
            });
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let dirfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Workspace { root: canon, dirfd })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A normalized, workspace-relative rendering of `rel` for messages (`.` for the root).
    pub fn display_path(&self, rel: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        let stripped = self.strip_root(rel).unwrap_or_else(|| rel.to_string());
        for comp in Path::new(&stripped).components() {
            match comp {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    if parts.last().is_some_and(|p| p != "..") {
                        parts.pop();
                    } else {
                        parts.push("..".into());
                    }
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        }
    }

    /// Maps `rel` to a path relative to the root, or `None` when it is absolute elsewhere.
    fn strip_root(&self, rel: &str) -> Option<String> {
        let p = Path::new(rel);
        if !p.is_absolute() {
            return Some(rel.to_string());
        }
        for base in [self.root.as_path(), Path::new(SANDBOX_WORKSPACE)] {
            if let Ok(rest) = p.strip_prefix(base) {
                return Some(rest.to_string_lossy().into_owned());
            }
        }
        None
    }

    /// The root-relative path to resolve (`.` for the root itself), or `Escapes`.
    fn relative(&self, rel: &str) -> Result<CString, FsError> {
        let stripped = self.strip_root(rel).ok_or_else(|| FsError::Escapes {
            path: rel.to_string(),
        })?;
        let trimmed = stripped.trim_start_matches('/');
        let s = if trimmed.is_empty() { "." } else { trimmed };
        cstr(s.as_bytes()).map_err(|e| FsError::Io {
            path: rel.to_string(),
            source: e,
        })
    }

    /// Opens `rel` beneath the root with `flags`, mapping errors to `FsError`.
    fn open_beneath(&self, rel: &str, flags: i32) -> Result<OwnedFd, FsError> {
        let path = self.relative(rel)?;
        open_beneath_fd(self.dirfd.as_raw_fd(), &path, flags).map_err(|e| map_err(rel, e))
    }

    /// Reads at most `max_bytes` of the regular file `rel`; `total_len` tells the full size.
    pub fn read(&self, rel: &str, max_bytes: u64) -> Result<FileContent, FsError> {
        let fd = self.open_beneath(rel, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)?;
        let st = fstat(fd.as_raw_fd()).map_err(|e| map_err(rel, e))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(FsError::NotAFile {
                path: rel.to_string(),
            });
        }
        let total_len = st.st_size as u64;
        let want = total_len.min(max_bytes) as usize;
        let mut bytes = vec![0u8; want];
        let mut got = 0usize;
        while got < want {
            // SAFETY: the buffer has `want - got` writable bytes at `got`.
            let n =
                unsafe { libc::read(fd.as_raw_fd(), bytes[got..].as_mut_ptr().cast(), want - got) };
            if n < 0 {
                let e = last_err();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(map_err(rel, e));
            }
            if n == 0 {
                break;
            }
            got += n as usize;
        }
        bytes.truncate(got);
        Ok(FileContent { bytes, total_len })
    }

    /// Reads the whole regular file `rel`, refusing with `TooLarge` when it exceeds `limit`
    /// (for `edit`, which must never write back a truncated file).
    pub fn read_all(&self, rel: &str, limit: u64) -> Result<Vec<u8>, FsError> {
        let c = self.read(rel, limit)?;
        if c.truncated() {
            return Err(FsError::TooLarge {
                path: rel.to_string(),
                size: c.total_len,
                limit,
            });
        }
        Ok(c.bytes)
    }

    /// Writes `data` to `rel`, creating missing parent directories inside the root. The file is
    /// replaced atomically (temporary file + `renameat`); a symlink at `rel` is replaced by the
    /// new file, never followed; an existing file keeps its permission bits.
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<(), FsError> {
        let stripped = self.strip_root(rel).ok_or_else(|| FsError::Escapes {
            path: rel.to_string(),
        })?;
        let p = Path::new(stripped.trim_start_matches('/'));
        let name = match p.components().next_back() {
            Some(Component::Normal(n)) => n.to_os_string(),
            Some(Component::ParentDir) => {
                return Err(FsError::Escapes {
                    path: rel.to_string(),
                })
            }
            _ => {
                return Err(FsError::NotAFile {
                    path: rel.to_string(),
                })
            }
        };
        let parent = p.parent().unwrap_or(Path::new(""));
        let dir = self.make_dirs(rel, parent)?;
        let name_c = cstr(name.as_bytes()).map_err(|e| map_err(rel, e))?;

        // Existing entry: keep permissions of a regular file, refuse to replace a directory.
        let mut mode: libc::mode_t = 0o644;
        match fstatat_nofollow(dir.as_raw_fd(), &name_c) {
            Ok(st) => {
                let fmt = st.st_mode & libc::S_IFMT;
                if fmt == libc::S_IFDIR {
                    return Err(FsError::NotAFile {
                        path: rel.to_string(),
                    });
                }
                if fmt == libc::S_IFREG {
                    mode = st.st_mode & 0o7777 & !0o6000;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(map_err(rel, e)),
        }

        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = format!(
            ".{}.chela-tmp-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            n
        );
        let tmp_c = cstr(tmp.as_bytes()).map_err(|e| map_err(rel, e))?;
        // SAFETY: valid dirfd and NUL-terminated name; O_EXCL|O_CREAT never follows symlinks.
        let tfd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                tmp_c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                mode as libc::c_uint,
            )
        };
        if tfd < 0 {
            return Err(map_err(rel, last_err()));
        }
        // SAFETY: fresh descriptor we own.
        let tfd = unsafe { OwnedFd::from_raw_fd(tfd) };
        let result = (|| -> io::Result<()> {
            write_all(tfd.as_raw_fd(), data)?;
            // SAFETY: valid descriptor.
            if unsafe { libc::fchmod(tfd.as_raw_fd(), mode) } < 0 {
                return Err(last_err());
            }
            // SAFETY: valid descriptor.
            if unsafe { libc::fsync(tfd.as_raw_fd()) } < 0 {
                return Err(last_err());
            }
            // SAFETY: valid dirfd and names.
            if unsafe {
                libc::renameat(
                    dir.as_raw_fd(),
                    tmp_c.as_ptr(),
                    dir.as_raw_fd(),
                    name_c.as_ptr(),
                )
            } < 0
            {
                return Err(last_err());
            }
            Ok(())
        })();
        if let Err(e) = result {
            // SAFETY: valid dirfd and name; best effort cleanup of our own temp file.
            unsafe { libc::unlinkat(dir.as_raw_fd(), tmp_c.as_ptr(), 0) };
            return Err(map_err(rel, e));
        }
        Ok(())
    }

    /// Creates (as needed) and opens each directory of `parent`, one component at a time, every
    /// step resolved beneath the previous directory descriptor.
    fn make_dirs(&self, rel: &str, parent: &Path) -> Result<OwnedFd, FsError> {
        let dot = cstr(b".").map_err(|e| map_err(rel, e))?;
        let mut cur = open_beneath_fd(
            self.dirfd.as_raw_fd(),
            &dot,
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .map_err(|e| map_err(rel, e))?;
        for comp in parent.components() {
            let name: &OsStr = match comp {
                Component::Normal(n) => n,
                Component::CurDir => continue,
                _ => {
                    return Err(FsError::Escapes {
                        path: rel.to_string(),
                    })
                }
            };
            let c = cstr(name.as_bytes()).map_err(|e| map_err(rel, e))?;
            // SAFETY: valid dirfd and name. mkdirat never follows a final symlink (EEXIST).
            let r = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) };
            if r < 0 {
                let e = last_err();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(map_err(rel, e));
                }
            }
            cur = open_beneath_fd(cur.as_raw_fd(), &c, libc::O_PATH | libc::O_DIRECTORY)
                .map_err(|e| map_err(rel, e))?;
            // A symlink to a directory inside the workspace is followed by openat2, which may
            // land anywhere beneath `cur` — still inside the root because every later step is
            // resolved beneath the new descriptor, and `cur` itself was resolved beneath root.
        }
        Ok(cur)
    }

    /// Lists the directory `rel`, sorted by name; symlinks are reported, never followed.
    pub fn list(&self, rel: &str) -> Result<Vec<DirEntryInfo>, FsError> {
        let fd = self.open_beneath(rel, libc::O_RDONLY | libc::O_DIRECTORY)?;
        // fdopendir takes ownership of the descriptor.
        let raw = fd.as_raw_fd();
        // SAFETY: `raw` is a valid directory descriptor; ownership moves to the DIR stream.
        let dirp = unsafe { libc::fdopendir(raw) };
        if dirp.is_null() {
            return Err(map_err(rel, last_err()));
        }
        std::mem::forget(fd);
        let mut out = Vec::new();
        let mut err = None;
        loop {
            // SAFETY: errno reset so a NULL return can be told apart from the end of the stream.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: valid DIR stream.
            let ent = unsafe { libc::readdir64(dirp) };
            if ent.is_null() {
                let e = last_err();
                if e.raw_os_error().unwrap_or(0) != 0 {
                    err = Some(e);
                }
                break;
            }
            // SAFETY: readdir returned a valid entry with a NUL-terminated name.
            let name_c = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) };
            let bytes = name_c.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            // SAFETY: valid DIR stream.
            let dfd = unsafe { libc::dirfd(dirp) };
            let (kind, size) = match fstatat_nofollow(dfd, name_c) {
                Ok(st) => (kind_of(st.st_mode), st.st_size as u64),
                // The entry vanished between readdir and stat: skip it.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            };
            out.push(DirEntryInfo {
                name: String::from_utf8_lossy(bytes).into_owned(),
                kind,
                size,
            });
        }
        // SAFETY: closes the stream and its descriptor exactly once.
        unsafe { libc::closedir(dirp) };
        if let Some(e) = err {
            return Err(map_err(rel, e));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn kind_of(mode: libc::mode_t) -> EntryKind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => EntryKind::File,
        libc::S_IFDIR => EntryKind::Dir,
        libc::S_IFLNK => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

fn map_err(path: &str, e: io::Error) -> FsError {
    let path = path.to_string();
    match e.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => FsError::Escapes { path },
        Some(libc::ENOENT) => FsError::NotFound { path },
        Some(libc::ENOTDIR) => FsError::NotADirectory { path },
        Some(libc::EISDIR) => FsError::NotAFile { path },
        _ => FsError::Io { path, source: e },
    }
}

fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and out-pointer.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(last_err());
    }
    Ok(st)
}

fn fstatat_nofollow(dir: RawFd, name: &std::ffi::CStr) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, NUL-terminated name and out-pointer.
    if unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } < 0 {
        return Err(last_err());
    }
    Ok(st)
}

fn write_all(fd: RawFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: valid descriptor and buffer.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Opens `path` beneath `dirfd`: `openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS)`, or the
/// no-symlink component walk on kernels without `openat2`.
fn open_beneath_fd(dirfd: RawFd, path: &std::ffi::CStr, flags: i32) -> io::Result<OwnedFd> {
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: valid dirfd, path and `open_how` of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: fresh descriptor we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = last_err();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
        NO_OPENAT2.store(true, Ordering::Relaxed);
    }
    open_walk(dirfd, path.to_bytes(), flags)
}

/// The fallback resolver: every component opened with `O_NOFOLLOW`; symlinks and `..` refused.
fn open_walk(dirfd: RawFd, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    let comps: Vec<&[u8]> = path
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if comps.iter().any(|c| *c == b"..") {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    // SAFETY: duplicating a valid descriptor.
    let dup = unsafe { libc::fcntl(dirfd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(last_err());
    }
    // SAFETY: fresh descriptor we own.
    let mut cur = unsafe { OwnedFd::from_raw_fd(dup) };
    if comps.is_empty() {
        let c = cstr(b".")?;
        return reopen(cur.as_raw_fd(), &c, flags);
    }
    for (i, comp) in comps.iter().enumerate() {
        let c = cstr(comp)?;
        let last = i + 1 == comps.len();
        let f = if last {
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC
        } else {
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC
        };
        // SAFETY: valid dirfd and name.
        let fd = unsafe { libc::openat(cur.as_raw_fd(), c.as_ptr(), f) };
        if fd < 0 {
            return Err(last_err());
        }
        // SAFETY: fresh descriptor we own.
        let next = unsafe { OwnedFd::from_raw_fd(fd) };
        if flags & libc::O_PATH != 0 || !last {
            // O_PATH|O_NOFOLLOW opens a symlink itself; refuse it explicitly.
            let st = fstat(next.as_raw_fd())?;
            let fmt = st.st_mode & libc::S_IFMT;
            if fmt == libc::S_IFLNK {
                return Err(io::Error::from_raw_os_error(libc::EXDEV));
            }
            if !last && fmt != libc::S_IFDIR {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
        }
        cur = next;
    }
    Ok(cur)
}

fn reopen(dirfd: RawFd, dot: &std::ffi::CStr, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: valid dirfd and name.
    let fd = unsafe { libc::openat(dirfd, dot.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(last_err());
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Workspace) {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), b"top secret").unwrap();
        std::fs::write(ws.path().join("hello.txt"), b"hello world").unwrap();
        std::fs::create_dir(ws.path().join("sub")).unwrap();
        std::fs::write(ws.path().join("sub/inner.txt"), b"inner").unwrap();
        let w = Workspace::open(ws.path()).unwrap();
        (ws, outside, w)
    }

    fn assert_escapes<T: fmt::Debug>(r: Result<T, FsError>) {
        match r {
            Err(FsError::Escapes { .. }) => {}
            other => panic!("expected Escapes, got {other:?}"),
        }
    }

    #[test]
    fn reads_relative_absolute_and_sandbox_paths() {
        let (ws, _o, w) = setup();
        assert_eq!(w.read("hello.txt", 100).unwrap().bytes, b"hello world");
        let abs = ws.path().join("sub/inner.txt");
        assert_eq!(w.read(abs.to_str().unwrap(), 100).unwrap().bytes, b"inner");
        assert_eq!(
            w.read("/workspace/sub/inner.txt", 100).unwrap().bytes,
            b"inner"
        );
        assert_eq!(
            w.read("./sub/../hello.txt", 100).unwrap().bytes,
            b"hello world"
        );
    }

    #[test]
    fn read_truncates_and_reports_total() {
        let (_ws, _o, w) = setup();
        let c = w.read("hello.txt", 5).unwrap();
        assert_eq!(c.bytes, b"hello");
        assert_eq!(c.total_len, 11);
        assert!(c.truncated());
        assert!(matches!(
            w.read_all("hello.txt", 5),
            Err(FsError::TooLarge {
                size: 11,
                limit: 5,
                ..
            })
        ));
        assert_eq!(w.read_all("hello.txt", 11).unwrap(), b"hello world");
    }

    #[test]
    fn dotdot_escapes_are_refused() {
        let (_ws, outside, w) = setup();
        let name = outside.path().file_name().unwrap().to_str().unwrap();
        assert_escapes(w.read(&format!("../{name}/secret.txt"), 100));
        assert_escapes(w.read("sub/../../etc/passwd", 100));
        assert_escapes(w.write("../evil.txt", b"x"));
        assert_escapes(w.write("sub/../../evil.txt", b"x"));
        assert_escapes(w.list(".."));
    }

    #[test]
    fn absolute_paths_outside_are_refused() {
        let (_ws, outside, w) = setup();
        assert_escapes(w.read("/etc/passwd", 100));
        let s = outside.path().join("secret.txt");
        assert_escapes(w.read(s.to_str().unwrap(), 100));
        assert_escapes(w.write(outside.path().join("new.txt").to_str().unwrap(), b"x"));
        assert!(!outside.path().join("new.txt").exists());
        assert_escapes(w.list("/etc"));
    }

    #[test]
    fn symlink_to_outside_is_refused() {
        let (ws, outside, w) = setup();
        symlink(outside.path().join("secret.txt"), ws.path().join("link")).unwrap();
        symlink("/etc/passwd", ws.path().join("abs")).unwrap();
        symlink("../../../../../../etc/passwd", ws.path().join("rel")).unwrap();
        symlink("/proc/self/root/etc/passwd", ws.path().join("magic")).unwrap();
        for l in ["link", "abs", "rel", "magic"] {
            assert_escapes(w.read(l, 100));
        }
        // Writing through a final symlink replaces the link, never the target.
        w.write("link", b"replaced").unwrap();
        assert_eq!(
            std::fs::read(outside.path().join("secret.txt")).unwrap(),
            b"top secret"
        );
        assert_eq!(std::fs::read(ws.path().join("link")).unwrap(), b"replaced");
    }

    #[test]
    fn symlinked_parent_dir_to_outside_is_refused() {
        let (ws, outside, w) = setup();
        symlink(outside.path(), ws.path().join("out")).unwrap();
        assert_escapes(w.read("out/secret.txt", 100));
        assert_escapes(w.write("out/new.txt", b"x"));
        assert_escapes(w.write("out/deep/new.txt", b"x"));
        assert_escapes(w.list("out"));
        assert!(!outside.path().join("new.txt").exists());
        assert!(!outside.path().join("deep").exists());
    }

    #[test]
    fn symlink_inside_workspace_is_followed() {
        let (ws, _o, w) = setup();
        symlink("sub/inner.txt", ws.path().join("ok")).unwrap();
        symlink("sub", ws.path().join("subl")).unwrap();
        assert_eq!(w.read("ok", 100).unwrap().bytes, b"inner");
        w.write("subl/made.txt", b"m").unwrap();
        assert_eq!(std::fs::read(ws.path().join("sub/made.txt")).unwrap(), b"m");
    }

    #[test]
    fn write_creates_parents_atomically_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let (ws, _o, w) = setup();
        w.write("a/b/c.txt", b"deep").unwrap();
        assert_eq!(std::fs::read(ws.path().join("a/b/c.txt")).unwrap(), b"deep");
        std::fs::set_permissions(
            ws.path().join("hello.txt"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        w.write("hello.txt", b"new").unwrap();
        let md = std::fs::metadata(ws.path().join("hello.txt")).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o755);
        assert_eq!(std::fs::read(ws.path().join("hello.txt")).unwrap(), b"new");
        // no temp files left behind
        let names: Vec<_> = w.list(".").unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.iter().all(|n| !n.contains("chela-tmp")), "{names:?}");
        assert!(matches!(
            w.write("sub", b"x"),
            Err(FsError::NotAFile { .. })
        ));
    }

    #[test]
    fn list_is_sorted_and_reports_kinds() {
        let (ws, _o, w) = setup();
        symlink("/etc", ws.path().join("zlink")).unwrap();
        let l = w.list(".").unwrap();
        let names: Vec<_> = l.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hello.txt", "sub", "zlink"]);
        assert_eq!(l[0].kind, EntryKind::File);
        assert_eq!(l[0].size, 11);
        assert_eq!(l[1].kind, EntryKind::Dir);
        assert_eq!(l[2].kind, EntryKind::Symlink);
        assert!(matches!(
            w.list("hello.txt"),
            Err(FsError::NotADirectory { .. })
        ));
    }

    #[test]
    fn errors_are_specific() {
        let (_ws, _o, w) = setup();
        assert!(matches!(w.read("nope", 1), Err(FsError::NotFound { .. })));
        assert!(matches!(w.read("sub", 1), Err(FsError::NotAFile { .. })));
        assert!(matches!(
            w.read("hello.txt/x", 1),
            Err(FsError::NotADirectory { .. })
        ));
        let msg = w.read("/etc/passwd", 1).unwrap_err().to_string();
        assert!(msg.contains("outside the workspace"), "{msg}");
        assert!(matches!(
            Workspace::open(Path::new("/definitely/not/here")),
            Err(FsError::NotFound { .. })
        ));
    }

    #[test]
    fn fifo_is_not_a_file_and_does_not_block() {
        let (ws, _o, w) = setup();
        let p = cstr(ws.path().join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
        assert!(matches!(w.read("fifo", 10), Err(FsError::NotAFile { .. })));
    }

    #[test]
    fn display_path_normalizes() {
        let (ws, _o, w) = setup();
        assert_eq!(w.display_path("./a/./b/../c"), "a/c");
        assert_eq!(w.display_path(""), ".");
        assert_eq!(
            w.display_path(ws.path().join("x/y").to_str().unwrap()),
            "x/y"
        );
        assert_eq!(w.display_path("/workspace/q"), "q");
    }

    #[test]
    fn fallback_walk_refuses_symlinks_and_dotdot() {
        let (ws, outside, w) = setup();
        symlink(outside.path(), ws.path().join("out")).unwrap();
        let fd = w.dirfd.as_raw_fd();
        let e = open_walk(fd, b"out/secret.txt", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
        let e = open_walk(fd, b"out", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        assert!(open_walk(fd, b"../x", libc::O_RDONLY).is_err());
        assert!(open_walk(fd, b"sub/inner.txt", libc::O_RDONLY).is_ok());
        assert!(open_walk(fd, b"sub", libc::O_PATH | libc::O_DIRECTORY).is_ok());
    }
}
