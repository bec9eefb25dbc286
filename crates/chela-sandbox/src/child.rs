//! Code that runs after `clone` in the sandbox helper ("zygote"), the per-run init and the
//! sandboxed program before `execve`.
//!
//! The caller (chela) is multi-threaded, so after `clone` only async-signal-safe operations are
//! allowed: everything here is raw syscalls on memory prepared before the clone (CStrings, BPF
//! program, mount plan). No allocation, no locks, no panics, no `libc::fork` (its atfork
//! handlers take locks): new processes are made with the raw `clone` syscall.

use std::ffi::CStr;
use std::ptr;

use crate::landlock::LandlockPlan;

/// Magic value at the start of every run request.
pub(crate) const RUN_MAGIC: u32 = 0x4348_4c41; // "CHLA"

/// Setup steps, reported with an errno when they fail.
pub(crate) mod step {
    pub const FDS: u32 = 1;
    pub const SETGROUPS: u32 = 2;
    pub const UID_MAP: u32 = 3;
    pub const GID_MAP: u32 = 4;
    pub const MAKE_PRIVATE: u32 = 5;
    pub const ROOT_TMPFS: u32 = 6;
    pub const PIVOT_ROOT: u32 = 7;
    pub const MOUNT_PLAN: u32 = 8;
    pub const DETACH_OLD_ROOT: u32 = 9;
    pub const LOOPBACK: u32 = 10;
    pub const HOSTNAME: u32 = 11;
    pub const SEAL_ROOT: u32 = 12;
    pub const PROXY_LISTENER: u32 = 13;
    pub const PROC: u32 = 20;
    pub const PAYLOAD: u32 = 21;
    pub const FORK: u32 = 22;
    pub const SETSID: u32 = 30;
    pub const STDIO: u32 = 31;
    pub const CHDIR: u32 = 32;
    pub const RLIMIT: u32 = 33;
    pub const NO_NEW_PRIVS: u32 = 34;
    pub const LANDLOCK: u32 = 35;
    pub const CAPS: u32 = 36;
    pub const SECCOMP: u32 = 37;
    pub const EXEC: u32 = 38;

    /// What the step does, for error messages.
    pub fn name(s: u32) -> &'static str {
        match s {
            FDS => "setting up the helper's file descriptors",
            SETGROUPS => "writing /proc/self/setgroups",
            UID_MAP => "writing the user namespace uid_map",
            GID_MAP => "writing the user namespace gid_map",
            MAKE_PRIVATE => "making the mount namespace private",
            ROOT_TMPFS => "mounting the sandbox root tmpfs",
            PIVOT_ROOT => "pivot_root into the sandbox root",
            MOUNT_PLAN => "building the sandbox filesystem view",
            DETACH_OLD_ROOT => "detaching the host filesystem",
            LOOPBACK => "bringing up loopback in the network namespace",
            HOSTNAME => "setting the sandbox hostname",
            SEAL_ROOT => "making the sandbox root read-only",
            PROXY_LISTENER => "opening the egress proxy listener inside the sandbox",
            PROC => "mounting a fresh /proc for the pid namespace",
            PAYLOAD => "mapping the command line",
            FORK => "starting the sandboxed process",
            SETSID => "creating a new session (setsid)",
            STDIO => "connecting standard input/output",
            CHDIR => "changing to the working directory",
            RLIMIT => "setting resource limits",
            NO_NEW_PRIVS => "setting no_new_privs",
            LANDLOCK => "applying the Landlock rule set",
            CAPS => "dropping capabilities",
            SECCOMP => "installing the seccomp filter",
            EXEC => "executing the program",
            _ => "an unknown step",
        }
    }
}

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub(crate) const ATTR_RDONLY: u64 = 0x1;
pub(crate) const ATTR_NOSUID: u64 = 0x2;
pub(crate) const ATTR_NODEV: u64 = 0x4;
pub(crate) const ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: u32 = 0x8000;

/// One step of building the sandbox's filesystem view (paths are inside the new root; bind
/// sources are under `/oldroot`, where the host root sits during setup).
#[derive(Debug)]
pub(crate) enum Op {
    /// `mkdir` (existing is fine).
    Dir { path: std::ffi::CString, mode: u32 },
    /// An empty regular file (bind target for a file).
    File { path: std::ffi::CString },
    /// Recursive bind mount, then `mount_setattr(attrs)` recursively.
    Bind {
        src: std::ffi::CString,
        dst: std::ffi::CString,
        attrs: u64,
        required: bool,
    },
    /// A tmpfs with mount flags and options.
    Tmpfs {
        dst: std::ffi::CString,
        flags: u64,
        data: std::ffi::CString,
    },
    /// A symbolic link.
    Symlink {
        target: std::ffi::CString,
        link: std::ffi::CString,
    },
    /// A file with fixed content.
    Write {
        path: std::ffi::CString,
        content: Vec<u8>,
    },
    /// A devpts instance (optional: skipped when the kernel refuses).
    Devpts { dst: std::ffi::CString },
    /// A fresh procfs for the helper's pid namespace.
    Proc { dst: std::ffi::CString },
    /// Non-recursive `mount_setattr(attrs)` on one mount.
    Seal { path: std::ffi::CString, attrs: u64 },
}

/// Everything the helper needs, prepared before `clone` (never freed in the child).
pub(crate) struct Prepared {
    pub ctrl: i32,
    pub uid_map: Vec<u8>,
    pub gid_map: Vec<u8>,
    pub ops: Vec<Op>,
    pub landlock: Option<LandlockPlan>,
    pub seccomp: Vec<libc::sock_filter>,
    pub cap_last: u32,
    pub proxy_port: u16,
    /// Run exactly one program, with the helper itself as its init (for `chela sandbox run`).
    pub oneshot: Option<OneShot>,
    /// Listening socket of a warm helper (`-1`: none): requests are also accepted there, and
    /// the helper outlives its creator until idle for `idle_ms`.
    pub listener: i32,
    /// Idle time after which a warm helper exits.
    pub idle_ms: u64,
    /// `(address, length)` of every heap buffer above (the helper keeps them mapped).
    pub keep: Vec<(usize, usize)>,
}

impl Prepared {
    /// `(address, length)` of all heap buffers the helper and its children read.
    pub fn addresses(&self) -> Vec<(usize, usize)> {
        fn c(v: &mut Vec<(usize, usize)>, s: &std::ffi::CStr) {
            v.push((s.as_ptr() as usize, s.to_bytes_with_nul().len()));
        }
        let mut v = vec![
            (self.uid_map.as_ptr() as usize, self.uid_map.len()),
            (self.gid_map.as_ptr() as usize, self.gid_map.len()),
            (
                self.ops.as_ptr() as usize,
                std::mem::size_of_val(self.ops.as_slice()),
            ),
            (
                self.seccomp.as_ptr() as usize,
                std::mem::size_of_val(self.seccomp.as_slice()),
            ),
            (
                self as *const Prepared as usize,
                std::mem::size_of::<Prepared>(),
            ),
        ];
        for op in &self.ops {
            match op {
                Op::Dir { path, .. } | Op::File { path } | Op::Seal { path, .. } => c(&mut v, path),
                Op::Bind { src, dst, .. } => {
                    c(&mut v, src);
                    c(&mut v, dst);
                }
                Op::Tmpfs { dst, data, .. } => {
                    c(&mut v, dst);
                    c(&mut v, data);
                }
                Op::Symlink { target, link } => {
                    c(&mut v, target);
                    c(&mut v, link);
                }
                Op::Write { path, content } => {
                    c(&mut v, path);
                    v.push((content.as_ptr() as usize, content.len()));
                }
                Op::Devpts { dst } | Op::Proc { dst } => c(&mut v, dst),
            }
        }
        if let Some(ll) = &self.landlock {
            v.extend(ll.addresses());
        }
        v
    }
}

/// Unmaps the large anonymous memory the helper inherited from chela (other threads' stacks
/// and malloc arenas, big allocations): it is never touched here, and keeping it would make
/// every fork copy its page tables and keep chela's old pages alive (copy-on-write).
/// Kept: the byte ranges in `keep` (every buffer the helper reads), a window around the stack
/// pointer and around the thread's TLS, file-backed and small mappings. Adjacent anonymous
/// mappings may have been merged by the kernel, so only the gaps between kept ranges are
/// unmapped. Raw syscalls and stack buffers only.
///
/// # Safety
/// Must run in the freshly cloned helper, before anything else uses the heap.
pub(crate) unsafe fn trim_memory(keep: &[(usize, usize)]) {
    const PAGE: usize = 4096;
    const WINDOW: usize = 1 << 20;
    let marker = 0u8;
    let sp = &marker as *const u8 as usize;
    let tls = libc::__errno_location() as usize;
    let fd = libc::open(
        c"/proc/self/maps".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        return;
    }
    let mut maps = [(0usize, 0usize); 256];
    let mut nm = 0usize;
    let mut buf = [0u8; 8192];
    let mut line = [0u8; 512];
    let mut ll = 0usize;
    loop {
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        if n <= 0 {
            break;
        }
        for &b in &buf[..n as usize] {
            if b != b'\n' {
                if ll < line.len() {
                    line[ll] = b;
                    ll += 1;
                }
                continue;
            }
            if let Some(m) = candidate(&line[..ll]) {
                if nm < maps.len() {
                    maps[nm] = m;
                    nm += 1;
                }
            }
            ll = 0;
        }
    }
    libc::close(fd);
    for &(start, end) in &maps[..nm] {
        // kept intervals inside this mapping, sorted by start (insertion sort, no allocation)
        let mut kept = [(0usize, 0usize); 512];
        let mut nk = 0usize;
        let mut overflow = false;
        let mut add = |lo: usize, hi: usize| {
            let lo = (lo.max(start) / PAGE) * PAGE;
            let hi = hi.min(end).div_ceil(PAGE) * PAGE;
            if lo >= hi || overflow {
                return;
            }
            if nk == kept.len() {
                overflow = true; // too many pieces to track: keep this mapping whole
                return;
            }
            let mut k = nk;
            while k > 0 && kept[k - 1].0 > lo {
                kept[k] = kept[k - 1];
                k -= 1;
            }
            kept[k] = (lo, hi);
            nk += 1;
        };
        add(sp.saturating_sub(WINDOW), sp.saturating_add(WINDOW));
        add(tls.saturating_sub(WINDOW), tls.saturating_add(WINDOW));
        let kp = keep.as_ptr() as usize;
        add(kp, kp + std::mem::size_of_val(keep));
        for &(a, len) in keep {
            add(a, a.saturating_add(len.max(1)));
        }
        if overflow {
            continue;
        }
        let mut cur = start;
        for &(lo, hi) in &kept[..nk] {
            if lo > cur {
                libc::munmap(cur as *mut libc::c_void, lo - cur);
            }
            cur = cur.max(hi);
        }
        if cur < end {
            libc::munmap(cur as *mut libc::c_void, end - cur);
        }
    }
}

/// A private, writable, anonymous mapping of at least 1 MiB: `(start, end)`.
fn candidate(line: &[u8]) -> Option<(usize, usize)> {
    let mut fields = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
    let range = fields.next()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().unwrap_or(b"");
    if perms != b"rw-p" || inode != b"0" {
        return None;
    }
    if !(path.is_empty() || path == b"[heap]" || path.starts_with(b"[anon:")) {
        return None;
    }
    let dash = range.iter().position(|b| *b == b'-')?;
    let start = hex(&range[..dash])?;
    let end = hex(&range[dash + 1..])?;
    (end > start && end - start >= 1 << 20).then_some((start, end))
}

fn hex(s: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = v.checked_mul(16)?.checked_add(d as usize)?;
    }
    Some(v)
}

/// A single run prepared before the helper is cloned: the program's stdio are the caller's
/// fds 0-2, passed straight through.
pub(crate) struct OneShot {
    pub header: RunHeader,
    pub memfd: i32,
    pub status: i32,
}

/// Sent by the helper once setup has finished (or failed).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Ready {
    pub status: i32,
    pub step: u32,
    pub errno: i32,
    pub has_proxy: u32,
}

/// One run request; followed (via SCM_RIGHTS) by memfd, stdin, stdout, stderr, status fds.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct RunHeader {
    pub magic: u32,
    pub n_argv: u32,
    pub n_env: u32,
    pub flags: u32,
    pub payload_len: u64,
    pub timeout_ms: u64,
    pub cwd_off: u64,
    pub path_off: u64,
    /// cpu, as, nproc, fsize, nofile, core
    pub rlimits: [u64; 6],
}

/// The helper's answer to a run request (with the init's pidfd on success).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Reply {
    pub status: i32,
    pub errno: i32,
}

/// Written to the status pipe: how the program ended, or which setup step failed.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct StatusRecord {
    pub kind: u32,
    pub code: i32,
    pub step: u32,
    pub errno: i32,
}

pub(crate) const REC_EXITED: u32 = 1;
pub(crate) const REC_SIGNALED: u32 = 2;
pub(crate) const REC_SETUP_FAILED: u32 = 3;

type Fail = (u32, i32);

fn errno() -> i32 {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

fn check(step: u32, r: libc::c_long) -> Result<libc::c_long, Fail> {
    if r < 0 {
        Err((step, errno()))
    } else {
        Ok(r)
    }
}

/// Raw `clone` behaving like `fork` (child continues on a copy of the stack).
/// With `CLONE_PIDFD` the pidfd is stored at `pidfd`.
///
/// # Safety
/// The child may only use async-signal-safe operations.
pub(crate) unsafe fn raw_clone(flags: u64, pidfd: *mut i32) -> libc::c_long {
    libc::syscall(libc::SYS_clone, flags, 0usize, pidfd, 0usize, 0usize)
}

/// Sends `len` bytes at `data` plus `fds` over a unix socket. Async-signal-safe.
///
/// # Safety
/// `data` must be valid for `len` bytes; at most 8 fds.
pub(crate) unsafe fn send_with_fds(sock: i32, data: *const u8, len: usize, fds: &[i32]) -> isize {
    let mut cbuf = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: data as *mut libc::c_void,
        iov_len: len,
    };
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    let n = fds.len().min(8);
    if n > 0 {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE((n * 4) as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN((n * 4) as u32) as usize;
        ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut i32, n);
    }
    loop {
        let r = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        return r;
    }
}

/// Receives one message and up to 8 fds (close-on-exec). Returns the byte count (0 on EOF);
/// `nfds` is set to the number of fds received. Async-signal-safe.
///
/// # Safety
/// `data` must be valid for `len` bytes.
pub(crate) unsafe fn recv_with_fds(
    sock: i32,
    data: *mut u8,
    len: usize,
    fds: &mut [i32; 8],
    nfds: &mut usize,
) -> isize {
    let mut cbuf = [0u64; 32];
    let mut iov = libc::iovec {
        iov_base: data.cast(),
        iov_len: len,
    };
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    *nfds = 0;
    let r = loop {
        let r = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        break r;
    };
    if r < 0 {
        return r;
    }
    let mut c = libc::CMSG_FIRSTHDR(&msg);
    while !c.is_null() {
        if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
            let count = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / 4;
            let p = libc::CMSG_DATA(c) as *const i32;
            for i in 0..count {
                let fd = ptr::read_unaligned(p.add(i));
                if *nfds < 8 {
                    fds[*nfds] = fd;
                    *nfds += 1;
                } else {
                    libc::close(fd);
                }
            }
        }
        c = libc::CMSG_NXTHDR(&msg, c);
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        for fd in fds.iter().take(*nfds) {
            libc::close(*fd);
        }
        *nfds = 0;
        *libc::__errno_location() = libc::EMSGSIZE;
        return -1;
    }
    r
}

unsafe fn write_all(fd: i32, data: &[u8]) -> Result<(), i32> {
    let mut off = 0;
    while off < data.len() {
        let r = libc::write(fd, data.as_ptr().add(off).cast(), data.len() - off);
        if r < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(errno());
        }
        off += r as usize;
    }
    Ok(())
}

unsafe fn write_file(path: &CStr, data: &[u8], step: u32) -> Result<(), Fail> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return Err((step, errno()));
    }
    let r = write_all(fd, data);
    libc::close(fd);
    r.map_err(|e| (step, e))
}

/// Closes (or marks close-on-exec) every fd >= `from`.
unsafe fn close_from(from: u32, cloexec: bool) {
    let flags: u32 = if cloexec { 4 } else { 0 }; // CLOSE_RANGE_CLOEXEC
    let r = libc::syscall(libc::SYS_close_range, from, u32::MAX, flags);
    if r < 0 {
        for fd in from as i32..65536 {
            if cloexec {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            } else {
                libc::close(fd);
            }
        }
    }
}

unsafe fn setattr(path: &CStr, attrs: u64, recursive: bool) -> libc::c_long {
    let a = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    libc::syscall(
        libc::SYS_mount_setattr,
        libc::AT_FDCWD,
        path.as_ptr(),
        if recursive { AT_RECURSIVE } else { 0 },
        &a as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    )
}

unsafe fn run_op(op: &Op) -> Result<(), i32> {
    let null = ptr::null::<libc::c_char>();
    let r: libc::c_long = match op {
        Op::Dir { path, mode } => {
            let r = libc::mkdir(path.as_ptr(), *mode);
            if r < 0 && errno() == libc::EEXIST {
                0
            } else {
                r as libc::c_long
            }
        }
        Op::File { path } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
                0o644,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            fd as libc::c_long
        }
        Op::Bind {
            src,
            dst,
            attrs,
            required,
        } => {
            let r = libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                null,
                libc::MS_BIND | libc::MS_REC,
                ptr::null(),
            );
            if r < 0 {
                if !*required && errno() == libc::ENOENT {
                    return Ok(());
                }
                return Err(errno());
            }
            setattr(dst, *attrs, true)
        }
        Op::Tmpfs { dst, flags, data } => libc::mount(
            c"tmpfs".as_ptr(),
            dst.as_ptr(),
            c"tmpfs".as_ptr(),
            *flags,
            data.as_ptr().cast(),
        ) as libc::c_long,
        Op::Symlink { target, link } => {
            let r = libc::symlink(target.as_ptr(), link.as_ptr());
            if r < 0 && errno() == libc::EEXIST {
                0
            } else {
                r as libc::c_long
            }
        }
        Op::Write { path, content } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return Err(errno());
            }
            let r = write_all(fd, content);
            libc::close(fd);
            return r;
        }
        Op::Devpts { dst } => {
            libc::mount(
                c"devpts".as_ptr(),
                dst.as_ptr(),
                c"devpts".as_ptr(),
                libc::MS_NOSUID | libc::MS_NOEXEC,
                c"newinstance,ptmxmode=0666,mode=620".as_ptr().cast(),
            );
            0
        }
        Op::Proc { dst } => libc::mount(
            c"proc".as_ptr(),
            dst.as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            ptr::null(),
        ) as libc::c_long,
        Op::Seal { path, attrs } => setattr(path, *attrs, false),
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

unsafe fn loopback_up() -> Result<(), i32> {
    let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if s < 0 {
        return Err(errno());
    }
    let mut ifr: libc::ifreq = std::mem::zeroed();
    ifr.ifr_name[0] = b'l' as libc::c_char;
    ifr.ifr_name[1] = b'o' as libc::c_char;
    if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
        let e = errno();
        libc::close(s);
        return Err(e);
    }
    ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    let r = libc::ioctl(s, libc::SIOCSIFFLAGS, &mut ifr);
    let e = errno();
    libc::close(s);
    if r < 0 {
        Err(e)
    } else {
        Ok(())
    }
}

unsafe fn proxy_listener(port: u16) -> Result<i32, i32> {
    let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
    if s < 0 {
        return Err(errno());
    }
    let mut a: libc::sockaddr_in = std::mem::zeroed();
    a.sin_family = libc::AF_INET as libc::sa_family_t;
    a.sin_port = port.to_be();
    a.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    if libc::bind(
        s,
        &a as *const libc::sockaddr_in as *const libc::sockaddr,
        std::mem::size_of::<libc::sockaddr_in>() as u32,
    ) < 0
        || libc::listen(s, 128) < 0
    {
        let e = errno();
        libc::close(s);
        return Err(e);
    }
    Ok(s)
}

/// Builds the sandbox (user, mount, pid, net, ipc, uts, cgroup namespaces already entered by
/// the clone that created us). Returns the proxy listener fd (or -1).
unsafe fn setup(p: &Prepared) -> Result<i32, Fail> {
    write_file(c"/proc/self/setgroups", b"deny", step::SETGROUPS)?;
    write_file(c"/proc/self/uid_map", &p.uid_map, step::UID_MAP)?;
    write_file(c"/proc/self/gid_map", &p.gid_map, step::GID_MAP)?;
    let null = ptr::null::<libc::c_char>();
    check(
        step::MAKE_PRIVATE,
        libc::mount(
            null,
            c"/".as_ptr(),
            null,
            libc::MS_REC | libc::MS_PRIVATE,
            ptr::null(),
        ) as libc::c_long,
    )?;
    check(
        step::ROOT_TMPFS,
        libc::mount(
            c"tmpfs".as_ptr(),
            c"/tmp".as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"mode=0755,size=16m".as_ptr().cast(),
        ) as libc::c_long,
    )?;
    check(
        step::ROOT_TMPFS,
        libc::mkdir(c"/tmp/oldroot".as_ptr(), 0o700) as libc::c_long,
    )?;
    check(
        step::PIVOT_ROOT,
        libc::syscall(
            libc::SYS_pivot_root,
            c"/tmp".as_ptr(),
            c"/tmp/oldroot".as_ptr(),
        ),
    )?;
    check(step::PIVOT_ROOT, libc::chdir(c"/".as_ptr()) as libc::c_long)?;
    for op in &p.ops {
        run_op(op).map_err(|e| (step::MOUNT_PLAN, e))?;
    }
    check(
        step::DETACH_OLD_ROOT,
        libc::umount2(c"/oldroot".as_ptr(), libc::MNT_DETACH) as libc::c_long,
    )?;
    check(
        step::DETACH_OLD_ROOT,
        libc::rmdir(c"/oldroot".as_ptr()) as libc::c_long,
    )?;
    loopback_up().map_err(|e| (step::LOOPBACK, e))?;
    let host = b"chela-sandbox";
    check(
        step::HOSTNAME,
        libc::sethostname(host.as_ptr().cast(), host.len()) as libc::c_long,
    )?;
    check(
        step::SEAL_ROOT,
        setattr(c"/", ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false),
    )?;
    if p.proxy_port != 0 {
        proxy_listener(p.proxy_port).map_err(|e| (step::PROXY_LISTENER, e))
    } else {
        Ok(-1)
    }
}

/// The helper process: builds the sandbox once, then forks one init per run request.
///
/// # Safety
/// Must be the child of a raw `clone` with the namespace flags; never returns.
pub(crate) unsafe fn zygote_main(p: &Prepared) -> ! {
    trim_memory(&p.keep);
    // Control socket to fd 3; in one-shot mode the status pipe to 4 and the payload to 5
    // (stdio stays the caller's); otherwise /dev/null on 0-2. Nothing else is inherited.
    let c = libc::fcntl(p.ctrl, libc::F_DUPFD_CLOEXEC, 100);
    let (st, mf) = match &p.oneshot {
        Some(o) => (
            libc::fcntl(o.status, libc::F_DUPFD_CLOEXEC, 100),
            libc::fcntl(o.memfd, libc::F_DUPFD_CLOEXEC, 100),
        ),
        None if p.listener >= 0 => (libc::fcntl(p.listener, libc::F_DUPFD_CLOEXEC, 100), 0),
        None => (0, 0),
    };
    if c < 0 || st < 0 || mf < 0 || libc::dup3(c, 3, libc::O_CLOEXEC) < 0 {
        libc::_exit(101);
    }
    let ctrl = 3;
    if p.oneshot.is_some() {
        if libc::dup3(st, 4, libc::O_CLOEXEC) < 0 || libc::dup3(mf, 5, libc::O_CLOEXEC) < 0 {
            libc::_exit(101);
        }
        close_from(6, false);
    } else if p.listener >= 0 {
        if libc::dup3(st, LISTENER_FD, libc::O_CLOEXEC) < 0 {
            libc::_exit(101);
        }
        close_from(5, false);
    } else {
        close_from(4, false);
    }
    // Default dispositions and an empty mask once, here, so every run inherits them.
    reset_signals();
    if p.oneshot.is_none() {
        let nul = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if nul < 0 {
            fail_ready(ctrl, (step::FDS, errno()));
        }
        for fd in 0..3 {
            if fd != nul {
                libc::dup2(nul, fd);
            }
        }
        if nul > 2 {
            libc::close(nul);
        }
    }
    let proxy = match setup(p) {
        Ok(fd) => fd,
        Err(f) => fail_ready(ctrl, f),
    };
    // The Landlock rule set is built once, on the final filesystem view, and kept open
    // (close-on-exec); each program only calls landlock_restrict_self on it.
    let ll_fd = match &p.landlock {
        Some(ll) => match ll.create() {
            Ok(fd) => fd,
            Err(e) => fail_ready(ctrl, (step::LANDLOCK, e)),
        },
        None => -1,
    };
    // Capabilities gained at execve are bounded by this set: empty it once here. The helper
    // keeps its effective capabilities (it still mounts /proc and clones namespaces).
    for cap in 0..=p.cap_last {
        if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno() != libc::EINVAL {
            fail_ready(ctrl, (step::CAPS, errno()));
        }
    }
    libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL,
        0,
        0,
        0,
    );
    if let Some(o) = &p.oneshot {
        // The helper is already pid 1 of a fresh pid namespace with its own /proc: it is the
        // program's init. Success is reported only through the status pipe.
        run_program(p, &o.header, 5, [0, 1, 2], 4, ll_fd, 0);
    }
    let ready = Ready {
        status: 0,
        step: 0,
        errno: 0,
        has_proxy: (proxy >= 0) as u32,
    };
    let fds = [proxy];
    let nfds = if proxy >= 0 { 1 } else { 0 };
    if send_with_fds(
        ctrl,
        (&ready as *const Ready).cast(),
        std::mem::size_of::<Ready>(),
        &fds[..nfds],
    ) < 0
    {
        libc::_exit(102);
    }
    if proxy >= 0 {
        libc::close(proxy);
    }
    // Run inits are reaped automatically; their status travels through the status pipe.
    let mut sa: libc::sigaction = std::mem::zeroed();
    sa.sa_sigaction = libc::SIG_IGN;
    libc::sigaction(libc::SIGCHLD, &sa, ptr::null_mut());
    serve(p, ctrl, ll_fd)
}

/// Default dispositions for every signal and an empty mask (dispositions set to SIG_IGN by
/// the caller, such as Rust's SIGPIPE, would otherwise survive `execve`).
unsafe fn reset_signals() {
    let mut sa: libc::sigaction = std::mem::zeroed();
    sa.sa_sigaction = libc::SIG_DFL;
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::sigaction(sig, &sa, ptr::null_mut());
        }
    }
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
}

unsafe fn fail_ready(ctrl: i32, f: Fail) -> ! {
    let ready = Ready {
        status: -1,
        step: f.0,
        errno: f.1,
        has_proxy: 0,
    };
    send_with_fds(
        ctrl,
        (&ready as *const Ready).cast(),
        std::mem::size_of::<Ready>(),
        &[],
    );
    libc::_exit(1)
}

/// Fd of the warm helper's listening socket (daemon mode).
const LISTENER_FD: i32 = 4;

/// The helper's request loop: spare inits for an in-process `Sandbox`; for a warm helper,
/// requests from the control socket and from clients of its listening socket, until idle.
unsafe fn serve(p: &Prepared, ctrl: i32, ll_fd: i32) -> ! {
    if p.listener < 0 {
        serve_with_spares(ctrl, p, ll_fd);
    }
    // Warm helper: a spare waits in accept() on the listening socket; the helper serves its
    // creator's control socket itself and replaces spares as they are taken.
    let mut ctrl_open = true;
    let mut notify = -1;
    loop {
        if notify < 0 {
            notify = spawn_spare(p, ll_fd);
        }
        let mut pfds = [
            libc::pollfd {
                fd: if ctrl_open { ctrl } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: notify,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = if notify < 0 {
            100
        } else {
            p.idle_ms.min(i32::MAX as u64) as i32
        };
        let r = libc::poll(pfds.as_mut_ptr(), 2, timeout);
        if r < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            libc::_exit(105);
        }
        if r == 0 {
            // idle: leave once no run is active (only this helper and its spare are left)
            if notify >= 0 && processes_in_namespace() <= 2 {
                libc::_exit(0);
            }
            continue;
        }
        if ctrl_open && pfds[0].revents != 0 && !handle_request(p, ctrl, ll_fd) {
            // the creating process went away; keep serving the listener
            libc::close(ctrl);
            ctrl_open = false;
        }
        if notify >= 0 && pfds[1].revents != 0 {
            let mut b = [0u8; 1];
            libc::read(notify, b.as_mut_ptr().cast(), 1);
            libc::close(notify);
            notify = -1;
        }
    }
}

/// Number of processes in the helper's pid namespace (its own /proc), nested ones included.
unsafe fn processes_in_namespace() -> usize {
    let fd = libc::open(
        c"/proc".as_ptr(),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
    );
    if fd < 0 {
        return usize::MAX;
    }
    let mut n = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        let got = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len());
        if got <= 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 < got as usize {
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..(off + reclen).min(got as usize)];
            let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
            if end > 0 && name[..end].iter().all(|b| b.is_ascii_digit()) {
                n += 1;
            }
            off += reclen;
        }
    }
    libc::close(fd);
    n
}

/// Reads the peer's credentials: only the same user may use a warm helper (its socket's
/// directory is 0700 too).
unsafe fn same_user(conn: i32) -> bool {
    let mut cred: libc::ucred = std::mem::zeroed();
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    libc::getsockopt(
        conn,
        libc::SOL_SOCKET,
        libc::SO_PEERCRED,
        (&mut cred as *mut libc::ucred).cast(),
        &mut len,
    ) == 0
        && cred.uid == libc::getuid()
}

/// Keeps one pre-forked run init ("spare") waiting on the control socket, so a request is
/// received directly by a process that already has its pid namespace and /proc: the helper
/// itself is off the critical path and only replaces a spare once it has been taken.
unsafe fn serve_with_spares(ctrl: i32, p: &Prepared, ll_fd: i32) -> ! {
    let mut notify = -1;
    loop {
        if notify < 0 {
            notify = spawn_spare(p, ll_fd);
        }
        let mut pfds = [
            libc::pollfd {
                fd: ctrl,
                events: 0, // only hang-up: requests are for the spare
                revents: 0,
            },
            libc::pollfd {
                fd: notify,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let r = libc::poll(pfds.as_mut_ptr(), 2, if notify < 0 { 100 } else { -1 });
        if r < 0 && errno() != libc::EINTR {
            libc::_exit(105);
        }
        if pfds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            libc::_exit(0); // the Sandbox was dropped (or chela exited)
        }
        if notify >= 0 && pfds[1].revents != 0 {
            // the spare took a request (one byte) or died (EOF): make a new one
            let mut b = [0u8; 1];
            libc::read(notify, b.as_mut_ptr().cast(), 1);
            libc::close(notify);
            notify = -1;
        }
    }
}

/// Clones a spare run init; returns the read end of its notification pipe (or -1).
unsafe fn spawn_spare(p: &Prepared, ll_fd: i32) -> i32 {
    let mut pfd = [0i32; 2];
    if libc::pipe2(pfd.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
        return -1;
    }
    let pid = raw_clone(
        (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::SIGCHLD) as u64,
        ptr::null_mut(),
    );
    if pid == 0 {
        libc::close(pfd[0]);
        spare_main(p, ll_fd, pfd[1]);
    }
    libc::close(pfd[1]);
    if pid < 0 {
        libc::close(pfd[0]);
        return -1;
    }
    pfd[0]
}

/// A spare: becomes an init, waits for one request on the control socket, tells the helper
/// it was taken, answers with its own pidfd and runs the program.
unsafe fn spare_main(p: &Prepared, ll_fd: i32, notify: i32) -> ! {
    let init_err = become_init();
    let daemon = p.listener >= 0;
    loop {
        // in a warm helper, requests come on connections to the listening socket
        let sock = if daemon {
            let conn = libc::accept4(
                LISTENER_FD,
                ptr::null_mut(),
                ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            );
            if conn < 0 {
                continue;
            }
            if !same_user(conn) {
                libc::close(conn);
                continue;
            }
            conn
        } else {
            3
        };
        let done = |sock: i32| {
            if daemon {
                libc::close(sock);
            }
        };
        let (h, fds) = match recv_request(sock) {
            Received::Run(h, fds) => (h, fds),
            Received::Closed if !daemon => libc::_exit(0),
            Received::Failed if !daemon => libc::_exit(103),
            Received::Closed | Received::Failed | Received::Rejected => {
                done(sock);
                continue;
            }
        };
        libc::write(notify, b"r".as_ptr().cast(), 1);
        libc::close(notify);
        let pidfd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) as i32;
        if pidfd < 0 {
            reply(sock, -1, errno(), -1);
            libc::_exit(1);
        }
        reply(sock, 0, 0, pidfd);
        libc::close(pidfd);
        done(sock);
        if daemon {
            libc::close(LISTENER_FD);
        }
        run_program(
            p,
            &h,
            fds[0],
            [fds[1], fds[2], fds[3]],
            fds[4],
            ll_fd,
            init_err,
        );
    }
}

/// What reading one run request from a control connection gave.
enum Received {
    /// A well-formed request: its header and its five descriptors (payload memfd, stdin,
    /// stdout, stderr, status pipe).
    Run(RunHeader, [i32; 5]),
    /// The peer closed the connection.
    Closed,
    /// Reading failed.
    Failed,
    /// A malformed or oversized request: already answered with an error, its descriptors closed.
    Rejected,
}

/// Reads and checks one run request (async-signal-safe: no allocation).
unsafe fn recv_request(sock: i32) -> Received {
    let mut h = RunHeader::default();
    let mut fds = [-1i32; 8];
    let mut nfds = 0usize;
    let n = recv_with_fds(
        sock,
        (&mut h as *mut RunHeader).cast(),
        std::mem::size_of::<RunHeader>(),
        &mut fds,
        &mut nfds,
    );
    if n == 0 {
        return Received::Closed;
    }
    if n < 0 {
        if errno() == libc::EMSGSIZE {
            reply(sock, -1, libc::EMSGSIZE, -1);
            return Received::Rejected;
        }
        return Received::Failed;
    }
    if n as usize != std::mem::size_of::<RunHeader>() || h.magic != RUN_MAGIC || nfds != 5 {
        for fd in fds.iter().take(nfds) {
            libc::close(*fd);
        }
        reply(sock, -1, libc::EINVAL, -1);
        return Received::Rejected;
    }
    Received::Run(h, [fds[0], fds[1], fds[2], fds[3], fds[4]])
}

/// Serves one run request from `sock`. Returns false when the peer closed the socket.
unsafe fn handle_request(p: &Prepared, sock: i32, ll_fd: i32) -> bool {
    let (h, fds) = match recv_request(sock) {
        Received::Run(h, fds) => (h, fds),
        Received::Rejected => return true,
        Received::Closed | Received::Failed => return false,
    };
    let mut pidfd: i32 = -1;
    let pid = raw_clone(
        (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_PIDFD | libc::SIGCHLD) as u64,
        &mut pidfd,
    );
    if pid == 0 {
        if sock != 3 {
            libc::close(sock);
        }
        if p.listener >= 0 {
            libc::close(LISTENER_FD);
        }
        let init_err = become_init();
        run_program(
            p,
            &h,
            fds[0],
            [fds[1], fds[2], fds[3]],
            fds[4],
            ll_fd,
            init_err,
        );
    }
    if pid < 0 {
        reply(sock, -1, errno(), -1);
    } else {
        reply(sock, 0, 0, pidfd);
        libc::close(pidfd);
    }
    for fd in fds {
        libc::close(fd);
    }
    true
}

unsafe fn reply(ctrl: i32, status: i32, err: i32, pidfd: i32) {
    let r = Reply { status, errno: err };
    let fds = [pidfd];
    let n = if pidfd >= 0 { 1 } else { 0 };
    // A failed send means the requester is gone; the run's init notices and cleans up.
    send_with_fds(
        ctrl,
        (&r as *const Reply).cast(),
        std::mem::size_of::<Reply>(),
        &fds[..n],
    );
}

/// CLOCK_MONOTONIC in milliseconds (async-signal-safe).
unsafe fn now_ms() -> u64 {
    let mut ts: libc::timespec = std::mem::zeroed();
    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

unsafe fn report(fd: i32, rec: StatusRecord) {
    let bytes = std::slice::from_raw_parts(
        (&rec as *const StatusRecord).cast::<u8>(),
        std::mem::size_of::<StatusRecord>(),
    );
    let _ = write_all(fd, bytes);
}

unsafe fn setup_failed(fd: i32, f: Fail) -> ! {
    report(
        fd,
        StatusRecord {
            kind: REC_SETUP_FAILED,
            code: 0,
            step: f.0,
            errno: f.1,
        },
    );
    libc::close(fd);
    libc::_exit(127)
}

/// Makes the calling process — pid 1 of a fresh pid namespace, in a fresh mount namespace —
/// ready to be a run's init: default SIGCHLD, dies with the helper, its own /proc. Returns 0
/// or the errno of the /proc mount (reported when a request arrives).
unsafe fn become_init() -> i32 {
    let mut sa: libc::sigaction = std::mem::zeroed();
    sa.sa_sigaction = libc::SIG_DFL;
    libc::sigaction(libc::SIGCHLD, &sa, ptr::null_mut());
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    if libc::mount(
        c"proc".as_ptr(),
        c"/proc".as_ptr(),
        c"proc".as_ptr(),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        ptr::null(),
    ) < 0
    {
        return errno();
    }
    0
}

/// A run's init (pid 1 of its pid namespace): starts the program, reaps, reports its status,
/// then kills everything left in the namespace.
unsafe fn run_program(
    p: &Prepared,
    h: &RunHeader,
    memfd: i32,
    [fin, fout, ferr]: [i32; 3],
    fstatus: i32,
    ll_fd: i32,
    init_err: i32,
) -> ! {
    libc::close(3); // the control socket: the caller never waits for our exit
    if init_err != 0 {
        setup_failed(fstatus, (step::PROC, init_err));
    }
    let len = h.payload_len as usize;
    let mut mst: libc::stat = std::mem::zeroed();
    if libc::fstat(memfd, &mut mst) < 0 || (mst.st_size as u64) < h.payload_len {
        setup_failed(fstatus, (step::PAYLOAD, libc::EINVAL));
    }
    let base = libc::mmap(
        ptr::null_mut(),
        len.max(1),
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE,
        memfd,
        0,
    );
    if base == libc::MAP_FAILED {
        setup_failed(fstatus, (step::PAYLOAD, errno()));
    }
    let base = base as *mut u8;
    // offsets -> pointers, bounds-checked
    let table = base as *mut u64;
    let n_total = h.n_argv as usize + 1 + h.n_env as usize + 1;
    // every string must end inside the mapping: the payload always ends with a NUL
    if n_total * 8 > len
        || h.cwd_off as usize >= len
        || h.path_off as usize >= len
        || *base.add(len - 1) != 0
    {
        setup_failed(fstatus, (step::PAYLOAD, libc::EINVAL));
    }
    for i in 0..n_total {
        let off = *table.add(i);
        if off == 0 {
            continue; // terminators
        }
        if off as usize >= len {
            setup_failed(fstatus, (step::PAYLOAD, libc::EINVAL));
        }
        *table.add(i) = base as u64 + off;
    }
    let argv = table as *const *const libc::c_char;
    let envp = table.add(h.n_argv as usize + 1) as *const *const libc::c_char;
    let cwd = base.add(h.cwd_off as usize) as *const libc::c_char;
    let path = base.add(h.path_off as usize) as *const libc::c_char;

    // SIGCHLD is taken through a signalfd so that this init can also watch its deadline and
    // the status pipe (the caller vanishing) while reaping every orphan.
    let mut chld: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut chld);
    libc::sigaddset(&mut chld, libc::SIGCHLD);
    libc::sigprocmask(libc::SIG_BLOCK, &chld, ptr::null_mut());
    let sfd = libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
    if sfd < 0 {
        setup_failed(fstatus, (step::FORK, errno()));
    }
    let pid = raw_clone(libc::SIGCHLD as u64, ptr::null_mut());
    if pid == 0 {
        let f = exec_child(p, h, argv, envp, cwd, path, [fin, fout, ferr], ll_fd);
        setup_failed(fstatus, f);
    }
    if pid < 0 {
        setup_failed(fstatus, (step::FORK, errno()));
    }
    libc::close(fin);
    libc::close(fout);
    libc::close(ferr);
    libc::close(memfd);
    // Backstop deadline: the caller enforces the timeout precisely; this one (2 s later)
    // covers a caller that died or hung.
    let deadline = now_ms().saturating_add(h.timeout_ms).saturating_add(2000);
    let st = 'wait: loop {
        loop {
            let mut s2 = 0;
            let w = libc::waitpid(-1, &mut s2, libc::WNOHANG);
            if w == pid as i32 {
                break 'wait s2;
            }
            if w <= 0 {
                break;
            }
        }
        let left = deadline.saturating_sub(now_ms());
        if left == 0 {
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(1);
        }
        let mut pfds = [
            libc::pollfd {
                fd: sfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: fstatus,
                events: 0,
                revents: 0,
            },
        ];
        let r = libc::poll(pfds.as_mut_ptr(), 2, left.min(60_000) as i32);
        if r > 0 && pfds[1].revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            // nobody is waiting for this run any more
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(1);
        }
        if r > 0 && pfds[0].revents != 0 {
            let mut buf = [0u8; 128];
            while libc::read(sfd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        }
    };
    // Nothing outlives the program: kill every other process in this pid namespace.
    libc::kill(-1, libc::SIGKILL);
    let rec = if libc::WIFSIGNALED(st) {
        StatusRecord {
            kind: REC_SIGNALED,
            code: libc::WTERMSIG(st),
            step: 0,
            errno: 0,
        }
    } else {
        StatusRecord {
            kind: REC_EXITED,
            code: libc::WEXITSTATUS(st),
            step: 0,
            errno: 0,
        }
    };
    report(fstatus, rec);
    // An explicit close delivers EOF now: the implicit close at exit is deferred until after
    // the namespaces are torn down, which would put the teardown on the caller's clock.
    libc::close(fstatus);
    libc::_exit(0)
}

#[allow(clippy::too_many_arguments)]
unsafe fn exec_child(
    p: &Prepared,
    h: &RunHeader,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    path: *const libc::c_char,
    [fin, fout, ferr]: [i32; 3],
    ll_fd: i32,
) -> Fail {
    if libc::setsid() < 0 {
        return (step::SETSID, errno());
    }
    // Signal dispositions were reset in the helper and SIGCHLD restored to default by the
    // init; the init blocked SIGCHLD (for its signalfd), so clear the mask.
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
    if libc::dup2(fin, 0) < 0 || libc::dup2(fout, 1) < 0 || libc::dup2(ferr, 2) < 0 {
        return (step::STDIO, errno());
    }
    // dup2 onto the same number keeps FD_CLOEXEC (passed-through stdio): clear it explicitly
    for fd in 0..3 {
        libc::fcntl(fd, libc::F_SETFD, 0);
    }
    close_from(3, true);
    if libc::chdir(cwd) < 0 {
        return (step::CHDIR, errno());
    }
    let res = [
        libc::RLIMIT_CPU,
        libc::RLIMIT_AS,
        libc::RLIMIT_NPROC,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_NOFILE,
        libc::RLIMIT_CORE,
    ];
    for (i, r) in res.iter().enumerate() {
        let v = h.rlimits[i];
        let lim = libc::rlimit {
            rlim_cur: v,
            rlim_max: v,
        };
        if libc::setrlimit(*r, &lim) < 0 {
            return (step::RLIMIT, errno());
        }
    }
    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
        return (step::NO_NEW_PRIVS, errno());
    }
    if p.landlock.is_some() && libc::syscall(libc::SYS_landlock_restrict_self, ll_fd, 0u32) < 0 {
        return (step::LANDLOCK, errno());
    }
    // capabilities: the bounding and ambient sets were emptied in the helper; now
    // effective/permitted/inheritable
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let hdr = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [
        CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
        CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    if libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) < 0 {
        return (step::CAPS, errno());
    }
    if !p.seccomp.is_empty() {
        let prog = libc::sock_fprog {
            len: p.seccomp.len() as u16,
            filter: p.seccomp.as_ptr() as *mut libc::sock_filter,
        };
        if libc::syscall(
            libc::SYS_seccomp,
            1u32, // SECCOMP_SET_MODE_FILTER
            0u32,
            &prog as *const libc::sock_fprog,
        ) < 0
        {
            return (step::SECCOMP, errno());
        }
    }
    exec_search(argv, envp, path)
}

/// `execvpe` without allocation: PATH search with a stack buffer.
unsafe fn exec_search(
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    path: *const libc::c_char,
) -> Fail {
    let prog = CStr::from_ptr(*argv).to_bytes();
    if prog.is_empty() {
        return (step::EXEC, libc::ENOENT);
    }
    if prog.contains(&b'/') {
        libc::execve(*argv, argv, envp);
        return (step::EXEC, errno());
    }
    let dirs = CStr::from_ptr(path).to_bytes();
    let mut buf = [0u8; 4096];
    let mut saw_eacces = false;
    for dir in dirs.split(|b| *b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let total = dir.len() + 1 + prog.len() + 1;
        if total > buf.len() {
            continue;
        }
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + 1..dir.len() + 1 + prog.len()].copy_from_slice(prog);
        buf[total - 1] = 0;
        libc::execve(buf.as_ptr().cast(), argv, envp);
        match errno() {
            libc::EACCES => saw_eacces = true,
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            e => return (step::EXEC, e),
        }
    }
    (
        step::EXEC,
        if saw_eacces {
            libc::EACCES
        } else {
            libc::ENOENT
        },
    )
}
