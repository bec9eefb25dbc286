//! The seccomp-BPF filter installed in every sandboxed process (built once, in the parent).
//!
//! Policy: allow by default, refuse the kernel attack surface and escape primitives a tool never
//! needs. The architecture is checked first: anything but the native ABI (i386 via `int 0x80`,
//! x32 via the `__X32_SYSCALL_BIT`) kills the process, so the deny list cannot be sidestepped
//! through another syscall table.

use libc::sock_filter;

/// `SECCOMP_RET_*` actions.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// classic BPF opcodes
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
const BPF_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
const BPF_JSET_K: u16 = 0x05 | 0x40; // BPF_JMP | BPF_JSET | BPF_K
const BPF_AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

// struct seccomp_data offsets
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Namespace-creating clone flags (`CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET`).
pub const CLONE_NS_FLAGS: u32 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;

/// Syscalls refused with `EPERM`, with the reason they are refused (for `check` and README).
#[cfg(target_arch = "x86_64")]
pub const DENIED: &[(i64, &str)] = &[
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
    (libc::SYS_process_madvise, "process_madvise"),
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_open_tree, "open_tree"),
    (467, "open_tree_attr"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_quotactl_fd, "quotactl_fd"),
    (libc::SYS_syslog, "syslog"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS__sysctl, "_sysctl"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS_vhangup, "vhangup"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_adjtimex, "adjtimex"),
    (libc::SYS_fanotify_init, "fanotify_init"),
    (460, "lsm_set_self_attr"),
];

/// Whether a seccomp filter can be built for this architecture.
pub const SUPPORTED_ARCH: bool = cfg!(target_arch = "x86_64");

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Appends "if nr == `nr` then run `block` (which must end in a return)".
fn on_syscall(prog: &mut Vec<sock_filter>, nr: i64, block: Vec<sock_filter>) {
    let skip = u8::try_from(block.len()).unwrap_or(u8::MAX);
    prog.push(jump(BPF_JEQ_K, nr as u32, 0, skip));
    prog.extend(block);
    // every block ends with a return, so nothing falls through; reload nr for the next test
    prog.push(stmt(BPF_LD_W_ABS, OFF_NR));
}

/// Builds the filter program. Returns `None` on architectures without a filter (fail closed).
pub fn build() -> Option<Vec<sock_filter>> {
    if !SUPPORTED_ARCH {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let eperm = RET_ERRNO | libc::EPERM as u32;
        let mut p = vec![
            stmt(BPF_LD_W_ABS, OFF_ARCH),
            jump(BPF_JEQ_K, AUDIT_ARCH_NATIVE, 1, 0),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
            stmt(BPF_LD_W_ABS, OFF_NR),
            jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
        ];
        for (nr, _) in DENIED {
            on_syscall(&mut p, *nr, vec![stmt(BPF_RET_K, eperm)]);
        }
        // clone3 cannot be filtered on its flags (they are behind a pointer): ENOSYS makes libc
        // fall back to clone, whose flags are checked below.
        on_syscall(
            &mut p,
            libc::SYS_clone3,
            vec![stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32)],
        );
        on_syscall(
            &mut p,
            libc::SYS_clone,
            vec![
                stmt(BPF_LD_W_ABS, off_arg_lo(0)),
                jump(BPF_JSET_K, CLONE_NS_FLAGS, 0, 1),
                stmt(BPF_RET_K, eperm),
                stmt(BPF_RET_K, RET_ALLOW),
            ],
        );
        // socket(domain, type, proto): only unix, inet, inet6 and netlink; no raw/packet inet.
        on_syscall(
            &mut p,
            libc::SYS_socket,
            vec![
                stmt(BPF_LD_W_ABS, off_arg_lo(0)),
                jump(BPF_JEQ_K, libc::AF_UNIX as u32, 0, 1),
                stmt(BPF_RET_K, RET_ALLOW),
                jump(BPF_JEQ_K, libc::AF_NETLINK as u32, 0, 1),
                stmt(BPF_RET_K, RET_ALLOW),
                jump(BPF_JEQ_K, libc::AF_INET as u32, 2, 0),
                jump(BPF_JEQ_K, libc::AF_INET6 as u32, 1, 0),
                stmt(BPF_RET_K, RET_ERRNO | libc::EAFNOSUPPORT as u32),
                stmt(BPF_LD_W_ABS, off_arg_lo(1)),
                stmt(BPF_AND_K, 0xf),
                jump(BPF_JEQ_K, libc::SOCK_RAW as u32, 1, 0),
                jump(BPF_JEQ_K, 10 /* SOCK_PACKET */, 0, 1),
                stmt(BPF_RET_K, eperm),
                stmt(BPF_RET_K, RET_ALLOW),
            ],
        );
        // ioctl(fd, TIOCSTI/TIOCLINUX): no typing into a terminal.
        on_syscall(
            &mut p,
            libc::SYS_ioctl,
            vec![
                stmt(BPF_LD_W_ABS, off_arg_lo(1)),
                jump(BPF_JEQ_K, TIOCSTI, 1, 0),
                jump(BPF_JEQ_K, TIOCLINUX, 0, 1),
                stmt(BPF_RET_K, eperm),
                stmt(BPF_RET_K, RET_ALLOW),
            ],
        );
        p.push(stmt(BPF_RET_K, RET_ALLOW));
        Some(p)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Names of the refused syscalls (for reports).
pub fn denied_names() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut v: Vec<&str> = DENIED.iter().map(|(_, n)| *n).collect();
        v.extend([
            "clone3 (ENOSYS)",
            "clone/unshare/setns with namespace flags",
            "socket: raw, packet and non-unix/inet/netlink families",
            "ioctl TIOCSTI/TIOCLINUX",
            "non-native ABIs (i386, x32): process killed",
        ]);
        v
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_well_formed() {
        let p = build().unwrap();
        assert!(
            p.len() < 4096,
            "BPF programs are limited to 4096 instructions"
        );
        // every jump stays inside the program
        for (i, ins) in p.iter().enumerate() {
            if ins.code & 0x07 == 0x05 {
                assert!(i + 1 + (ins.jt as usize) < p.len());
                assert!(i + 1 + (ins.jf as usize) < p.len());
            }
        }
        assert_eq!(p.last().unwrap().code, BPF_RET_K);
        assert_eq!(p.last().unwrap().k, RET_ALLOW);
    }
}
