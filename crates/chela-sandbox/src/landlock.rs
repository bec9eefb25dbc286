//! Landlock, the second filesystem/network layer, at the best ABI the kernel offers.
//!
//! The rule set is planned in the parent (allocation allowed) and applied in the sandboxed
//! child right before `execve` with raw syscalls only (no allocation after `fork`).

use std::ffi::CString;

// filesystem access rights (bits 4-12: remove dir/file, make char/dir/reg/sock/fifo/block/sym)
pub const FS_EXECUTE: u64 = 1 << 0;
pub const FS_WRITE_FILE: u64 = 1 << 1;
pub const FS_READ_FILE: u64 = 1 << 2;
pub const FS_READ_DIR: u64 = 1 << 3;
pub const FS_REFER: u64 = 1 << 13;
pub const FS_TRUNCATE: u64 = 1 << 14;
pub const FS_IOCTL_DEV: u64 = 1 << 15;
// network access rights (ABI >= 4)
pub const NET_BIND_TCP: u64 = 1 << 0;
pub const NET_CONNECT_TCP: u64 = 1 << 1;
// scopes (ABI >= 6)
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

const CREATE_RULESET_VERSION: u32 = 1 << 0;
const RULE_PATH_BENEATH: u32 = 1;
const RULE_NET_PORT: u32 = 2;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

/// The Landlock ABI version the kernel offers, or the errno explaining why there is none
/// (`ENOSYS`: not built in; `EOPNOTSUPP`: built but not enabled at boot).
pub fn abi_version() -> Result<u32, i32> {
    // SAFETY: the documented version query: NULL attr, size 0, VERSION flag.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOSYS))
    } else {
        Ok(r as u32)
    }
}

/// All filesystem rights handled at `abi`.
pub fn fs_rights(abi: u32) -> u64 {
    let mut r = (1 << 13) - 1;
    if abi >= 2 {
        r |= FS_REFER;
    }
    if abi >= 3 {
        r |= FS_TRUNCATE;
    }
    if abi >= 5 {
        r |= FS_IOCTL_DEV;
    }
    r
}

/// Read-only rights on a directory tree (read, list, execute).
pub const RX: u64 = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
/// Read-only without execute.
pub const RO: u64 = FS_READ_FILE | FS_READ_DIR;

/// The rule set applied to every sandboxed process.
#[derive(Debug)]
pub struct LandlockPlan {
    /// ABI in use.
    pub abi: u32,
    handled_fs: u64,
    handled_net: u64,
    scoped: u64,
    rules: Vec<(CString, u64)>,
    ports: Vec<u64>,
}

impl LandlockPlan {
    /// Plans the rules for ABI `abi`: `rules` are (path inside the sandbox, rights) pairs;
    /// `all` marks full rights. TCP connect/bind are allowed only to `proxy_port` when set.
    pub fn new(abi: u32, rules: &[(&str, u64)], proxy_port: Option<u16>) -> Option<Self> {
        let handled_fs = fs_rights(abi);
        let mut out = Vec::new();
        for (p, rights) in rules {
            out.push((CString::new(*p).ok()?, rights & handled_fs));
        }
        let (handled_net, ports) = if abi >= 4 {
            (
                NET_BIND_TCP | NET_CONNECT_TCP,
                proxy_port.map(|p| vec![p as u64]).unwrap_or_default(),
            )
        } else {
            (0, Vec::new())
        };
        let scoped = if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        };
        Some(LandlockPlan {
            abi,
            handled_fs,
            handled_net,
            scoped,
            rules: out,
            ports,
        })
    }

    /// `(address, length)` of the heap buffers this plan reads (for the helper's memory
    /// trimming).
    pub fn addresses(&self) -> Vec<(usize, usize)> {
        let mut v = vec![
            (
                self.rules.as_ptr() as usize,
                std::mem::size_of_val(self.rules.as_slice()),
            ),
            (
                self.ports.as_ptr() as usize,
                std::mem::size_of_val(self.ports.as_slice()),
            ),
        ];
        v.extend(
            self.rules
                .iter()
                .map(|(c, _)| (c.as_ptr() as usize, c.to_bytes_with_nul().len())),
        );
        v
    }

    /// Human description of what this plan enforces.
    pub fn describe(&self) -> String {
        let mut parts = vec!["fs"];
        if self.handled_net != 0 {
            parts.push("tcp");
        }
        if self.scoped != 0 {
            parts.push("abstract-unix+signal scoping");
        }
        format!("landlock ABI {} ({})", self.abi, parts.join(", "))
    }

    /// Creates the ruleset (paths resolved in the caller's current filesystem view) and returns
    /// its fd; `landlock_restrict_self(fd)` applies it. Raw syscalls only: safe to call between
    /// `fork` and `execve`. Returns the errno on failure.
    ///
    /// # Safety
    /// Must be called in a single-threaded child process.
    pub unsafe fn create(&self) -> Result<i32, i32> {
        let attr = RulesetAttr {
            handled_access_fs: self.handled_fs,
            handled_access_net: self.handled_net,
            scoped: self.scoped,
        };
        let size = if self.abi >= 6 {
            24usize
        } else if self.abi >= 4 {
            16
        } else {
            8
        };
        let rs = libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        );
        if rs < 0 {
            return Err(errno());
        }
        let rs = rs as i32;
        for (path, rights) in &self.rules {
            let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd < 0 {
                let e = errno();
                if e == libc::ENOENT {
                    continue;
                }
                libc::close(rs);
                return Err(e);
            }
            let mut rights = *rights;
            if !is_dir(fd) {
                rights &= FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
            }
            let pb = PathBeneathAttr {
                allowed_access: rights,
                parent_fd: fd,
            };
            let r = libc::syscall(
                libc::SYS_landlock_add_rule,
                rs,
                RULE_PATH_BENEATH,
                &pb as *const PathBeneathAttr,
                0u32,
            );
            let e = errno();
            libc::close(fd);
            if r < 0 {
                libc::close(rs);
                return Err(e);
            }
        }
        for port in &self.ports {
            let np = NetPortAttr {
                allowed_access: NET_CONNECT_TCP,
                port: *port,
            };
            let r = libc::syscall(
                libc::SYS_landlock_add_rule,
                rs,
                RULE_NET_PORT,
                &np as *const NetPortAttr,
                0u32,
            );
            if r < 0 {
                let e = errno();
                libc::close(rs);
                return Err(e);
            }
        }
        Ok(rs)
    }
}

unsafe fn is_dir(fd: i32) -> bool {
    let mut st: libc::stat = std::mem::zeroed();
    libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFDIR
}

fn errno() -> i32 {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_abi() {
        assert_eq!(fs_rights(1), (1 << 13) - 1);
        assert!(fs_rights(2) & FS_REFER != 0);
        assert!(fs_rights(3) & FS_TRUNCATE != 0);
        assert!(fs_rights(4) & FS_IOCTL_DEV == 0);
        assert!(fs_rights(5) & FS_IOCTL_DEV != 0);
    }

    #[test]
    fn plan_masks_rights_to_abi() {
        let p = LandlockPlan::new(1, &[("/tmp", u64::MAX)], Some(3128)).unwrap();
        assert_eq!(p.rules[0].1, fs_rights(1));
        assert_eq!(p.handled_net, 0);
        assert!(p.ports.is_empty());
        let p = LandlockPlan::new(6, &[("/tmp", u64::MAX)], Some(3128)).unwrap();
        assert_eq!(p.ports, vec![3128]);
        assert_ne!(p.scoped, 0);
        assert!(p.describe().contains("ABI 6"));
    }
}
