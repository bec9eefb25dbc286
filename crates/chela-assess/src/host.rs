//! Live evidence about the host: uid, container/VM/bare host, daily-use signs, listening
//! sockets, tunnel programs and kernel hardening settings. Every function reads below a
//! [`Roots`] so tests can point it at a fixture tree.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the host's `/`, `/proc` and `/sys` are (the real ones, or a fixture).
#[derive(Debug, Clone)]
pub struct Roots {
    /// The file system root (for `/.dockerenv`, `/run/.containerenv`, `/etc/chela`).
    pub root: PathBuf,
    /// procfs.
    pub proc: PathBuf,
    /// sysfs.
    pub sys: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            root: PathBuf::from("/"),
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
        }
    }
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: plain getter without arguments.
    unsafe { libc::geteuid() }
}

/// The home directory of `uid` from the password database.
pub fn user_dir(uid: u32) -> Option<PathBuf> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in `user_name`.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out);
        if r == 0 && !out.is_null() && !pw.pw_dir.is_null() {
            let d = std::ffi::CStr::from_ptr(pw.pw_dir).to_str().ok()?;
            return Some(PathBuf::from(d));
        }
    }
    None
}

/// The login name of `uid` from the password database, or the uid as text.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: zeroed passwd is a valid out-parameter; buf outlives the call and its length is
    // passed; the result pointer is only read when the call succeeded.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out);
        if r == 0 && !out.is_null() && !pw.pw_name.is_null() {
            if let Ok(s) = std::ffi::CStr::from_ptr(pw.pw_name).to_str() {
                return s.to_string();
            }
        }
    }
    format!("uid {uid}")
}

/// Host name from procfs.
pub fn hostname(roots: &Roots) -> String {
    std::fs::read_to_string(roots.proc.join("sys/kernel/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// What kind of machine this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// `container`, `vm`, `bare` or `unknown`.
    pub kind: &'static str,
    /// Each sign found (`/.dockerenv present`, `DMI sys_vendor=QEMU`, …).
    pub signs: Vec<String>,
}

const VM_VENDORS: &[&str] = &[
    "qemu",
    "kvm",
    "vmware",
    "virtualbox",
    "innotek",
    "xen",
    "microsoft corporation",
    "amazon ec2",
    "google",
    "openstack",
    "bochs",
    "parallels",
    "alibaba cloud",
    "tencent cloud",
    "huawei cloud",
    "digitalocean",
    "hetzner",
    "bhyve",
    "cloud hypervisor",
    "firecracker",
];

/// Detects a container (marker files, cgroup names) or a VM (DMI strings, the CPU's
/// `hypervisor` flag); otherwise a bare host when DMI is readable, else unknown.
pub fn detect_environment(roots: &Roots) -> Environment {
    let mut container = Vec::new();
    for marker in [".dockerenv", "run/.containerenv"] {
        if roots.root.join(marker).exists() {
            container.push(format!("/{marker} present"));
        }
    }
    if let Ok(cg) = std::fs::read_to_string(roots.proc.join("1/cgroup")) {
        for word in [
            "docker",
            "kubepods",
            "lxc",
            "containerd",
            "libpod",
            "podman",
        ] {
            if cg.contains(word) {
                container.push(format!("/proc/1/cgroup mentions `{word}`"));
                break;
            }
        }
    }
    if let Ok(env) = std::fs::read(roots.proc.join("1/environ")) {
        for var in env.split(|b| *b == 0) {
            if let Some(v) = var.strip_prefix(b"container=") {
                container.push(format!(
                    "PID 1 environment container={}",
                    String::from_utf8_lossy(v)
                ));
            }
        }
    }
    let mut vm = Vec::new();
    let dmi = roots.sys.join("class/dmi/id");
    let mut dmi_readable = false;
    for field in ["sys_vendor", "product_name", "bios_vendor", "board_vendor"] {
        if let Ok(v) = std::fs::read_to_string(dmi.join(field)) {
            dmi_readable = true;
            let v = v.trim();
            let lower = v.to_ascii_lowercase();
            if VM_VENDORS.iter().any(|x| lower.contains(x)) {
                vm.push(format!("DMI {field}={v}"));
            }
        }
    }
    if let Ok(cpu) = std::fs::read_to_string(roots.proc.join("cpuinfo")) {
        if cpu
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
        {
            vm.push("CPU flag `hypervisor` set (/proc/cpuinfo)".into());
        }
    }
    if !container.is_empty() {
        container.extend(vm);
        Environment {
            kind: "container",
            signs: container,
        }
    } else if !vm.is_empty() {
        Environment {
            kind: "vm",
            signs: vm,
        }
    } else if dmi_readable {
        Environment {
            kind: "bare",
            signs: vec![
                "DMI names a physical vendor; no hypervisor CPU flag; no container markers".into(),
            ],
        }
    } else {
        Environment {
            kind: "unknown",
            signs: vec!["no container markers, no DMI information, no hypervisor CPU flag".into()],
        }
    }
}

/// Paths under `$HOME` that show a daily-use machine: browser profiles and password managers.
pub const DAILY_USE_PATHS: &[(&str, &str)] = &[
    (".mozilla/firefox", "Firefox profile"),
    (
        "snap/firefox/common/.mozilla/firefox",
        "Firefox (snap) profile",
    ),
    (".config/google-chrome", "Chrome profile"),
    (".config/chromium", "Chromium profile"),
    ("snap/chromium/common/chromium", "Chromium (snap) profile"),
    (".config/BraveSoftware", "Brave profile"),
    (".config/microsoft-edge", "Edge profile"),
    (".config/opera", "Opera profile"),
    (".var/app/org.mozilla.firefox", "Firefox (flatpak) profile"),
    (
        "Library/Application Support/Google/Chrome",
        "Chrome profile (macOS)",
    ),
    (
        "Library/Application Support/Firefox",
        "Firefox profile (macOS)",
    ),
    (".password-store", "pass password store"),
    (".config/KeePassXC", "KeePassXC data"),
    (".config/keepassxc", "KeePassXC data"),
    (".config/1Password", "1Password data"),
    (".config/Bitwarden", "Bitwarden data"),
    (".local/share/keyrings", "GNOME keyring"),
    (".local/share/kwalletd", "KDE wallet"),
    (".thunderbird", "Thunderbird mail profile"),
    (".config/Slack", "Slack client data"),
    (".config/WeChat", "WeChat data"),
];

/// Daily-use signs found under `home` (label and path).
pub fn daily_use_signs(home: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (rel, label) in DAILY_USE_PATHS {
        let p = home.join(rel);
        if std::fs::symlink_metadata(&p).is_ok() {
            out.push((label.to_string(), p));
        }
    }
    if let Ok(rd) = std::fs::read_dir(home) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".kdbx") || name.ends_with(".1pux") {
                out.push(("password database file".into(), e.path()));
            }
        }
    }
    out
}

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Local address as text (`0.0.0.0:8080`, `[::]:22`).
    pub addr: String,
    /// Whether the address is loopback only.
    pub loopback: bool,
    /// Owning uid.
    pub uid: u32,
}

fn parse_v4(hex_addr: &str) -> Option<Ipv4Addr> {
    let n = u32::from_str_radix(hex_addr, 16).ok()?;
    // /proc/net/tcp prints the network-order address bytes read as a little-endian u32.
    Some(Ipv4Addr::from(n.to_le_bytes()))
}

fn parse_v6(hex_addr: &str) -> Option<Ipv6Addr> {
    if hex_addr.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for w in 0..4 {
        let word = u32::from_str_radix(&hex_addr[w * 8..w * 8 + 8], 16).ok()?;
        bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

/// Parses the text of `/proc/net/tcp` or `/proc/net/tcp6`: listening sockets (state `0A`).
pub fn parse_proc_net_tcp(text: &str, v6: bool) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[3] != "0A" {
            continue;
        }
        let Some((a, p)) = f[1].split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(p, 16) else {
            continue;
        };
        let Ok(uid) = f[7].parse::<u32>() else {
            continue;
        };
        let (addr, loopback) = if v6 {
            let Some(ip) = parse_v6(a) else { continue };
            let lo = ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v| v.is_loopback());
            (format!("[{ip}]:{port}"), lo)
        } else {
            let Some(ip) = parse_v4(a) else { continue };
            (format!("{ip}:{port}"), ip.is_loopback())
        };
        out.push(Listener {
            addr,
            loopback,
            uid,
        });
    }
    out
}

/// Every listening TCP socket in this network namespace.
pub fn listeners(roots: &Roots) -> Vec<Listener> {
    let mut out = Vec::new();
    for (file, v6) in [("net/tcp", false), ("net/tcp6", true)] {
        if let Ok(t) = std::fs::read_to_string(roots.proc.join(file)) {
            out.extend(parse_proc_net_tcp(&t, v6));
        }
    }
    out
}

/// Programs that expose local ports to the internet (tunnels, port mapping).
pub const TUNNEL_PROGRAMS: &[&str] = &[
    "ngrok",
    "frpc",
    "cloudflared",
    "bore",
    "lt",
    "localtunnel",
    "sish",
    "zrok",
    "pinggy",
    "tunnelto",
    "npc",
    "nps",
    "autossh",
];

/// Running tunnel programs owned by `uid` (name and pid).
pub fn tunnel_processes(roots: &Roots, uid: u32) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&roots.proc) else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        if meta.uid() != uid {
            continue;
        }
        let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim();
        if TUNNEL_PROGRAMS.contains(&comm) {
            out.push((comm.to_string(), pid));
        }
    }
    out.sort();
    out
}

/// Kernel hardening settings checked as part of the host baseline (CN-C1): path, wanted
/// minimum value, what it protects.
pub const HARDENING_SYSCTLS: &[(&str, i64, &str)] = &[
    ("kernel/kptr_restrict", 1, "hides kernel addresses"),
    ("kernel/dmesg_restrict", 1, "kernel log only for root"),
    (
        "kernel/yama/ptrace_scope",
        1,
        "processes cannot trace their siblings",
    ),
    (
        "fs/protected_symlinks",
        1,
        "symlink races in sticky directories",
    ),
    ("fs/protected_hardlinks", 1, "hardlink attacks"),
    (
        "kernel/randomize_va_space",
        2,
        "full address-space randomisation",
    ),
];

/// Each hardening sysctl: (name, value or None when unreadable, wanted minimum).
pub fn hardening(roots: &Roots) -> Vec<(String, Option<i64>, i64)> {
    HARDENING_SYSCTLS
        .iter()
        .map(|(p, want, _)| {
            let v = std::fs::read_to_string(roots.proc.join("sys").join(p))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok());
            (p.replace('/', "."), v, *want)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:8AB2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 100 0 0 10 0
   3: 0A00020F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 6 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 7 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn parses_listening_v4_sockets() {
        let l = parse_proc_net_tcp(TCP, false);
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[0].addr, "127.0.0.1:8080");
        assert!(l[0].loopback);
        assert_eq!(l[1].addr, "0.0.0.0:22");
        assert!(!l[1].loopback);
        assert_eq!(l[1].uid, 0);
        assert_eq!(l[2].addr, "15.2.0.10:8081");
        assert!(!l[2].loopback);
    }

    #[test]
    fn parses_listening_v6_sockets() {
        let l = parse_proc_net_tcp(TCP6, true);
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[0].addr, "[::1]:631");
        assert!(l[0].loopback);
        assert_eq!(l[1].addr, "[::]:8080");
        assert!(!l[1].loopback);
        assert!(l[2].loopback, "{:?}", l[2]);
    }

    #[test]
    fn reads_real_proc_listeners() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = listeners(&Roots::default());
        assert!(
            found.iter().any(|x| x.addr == format!("127.0.0.1:{port}")
                && x.loopback
                && x.uid == effective_uid()),
            "{found:?}"
        );
    }

    fn fixture() -> (tempfile::TempDir, Roots) {
        let d = tempfile::tempdir().unwrap();
        let roots = Roots {
            root: d.path().join("root"),
            proc: d.path().join("proc"),
            sys: d.path().join("sys"),
        };
        std::fs::create_dir_all(&roots.root).unwrap();
        std::fs::create_dir_all(roots.proc.join("1")).unwrap();
        std::fs::create_dir_all(roots.sys.join("class/dmi/id")).unwrap();
        (d, roots)
    }

    #[test]
    fn detects_container_vm_and_bare() {
        let (_d, r) = fixture();
        std::fs::write(r.sys.join("class/dmi/id/sys_vendor"), "Dell Inc.\n").unwrap();
        std::fs::write(r.proc.join("cpuinfo"), "flags : fpu sse2\n").unwrap();
        assert_eq!(detect_environment(&r).kind, "bare");
        std::fs::write(r.proc.join("cpuinfo"), "flags : fpu hypervisor sse2\n").unwrap();
        assert_eq!(detect_environment(&r).kind, "vm");
        std::fs::write(r.proc.join("cpuinfo"), "flags : fpu\n").unwrap();
        std::fs::write(r.sys.join("class/dmi/id/product_name"), "KVM\n").unwrap();
        let e = detect_environment(&r);
        assert_eq!(e.kind, "vm");
        assert!(e.signs[0].contains("KVM"), "{e:?}");
        std::fs::write(r.proc.join("1/cgroup"), "0::/kubepods/besteffort/pod1\n").unwrap();
        assert_eq!(detect_environment(&r).kind, "container");
        std::fs::remove_file(r.proc.join("1/cgroup")).unwrap();
        std::fs::write(r.root.join(".dockerenv"), "").unwrap();
        assert_eq!(detect_environment(&r).kind, "container");
    }

    #[test]
    fn unknown_without_any_information() {
        let (_d, r) = fixture();
        assert_eq!(detect_environment(&r).kind, "unknown");
    }

    #[test]
    fn finds_daily_use_signs() {
        let d = tempfile::tempdir().unwrap();
        assert!(daily_use_signs(d.path()).is_empty());
        std::fs::create_dir_all(d.path().join(".mozilla/firefox/abc.default")).unwrap();
        std::fs::write(d.path().join("Passwords.kdbx"), "x").unwrap();
        let s = daily_use_signs(d.path());
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s.iter().any(|(l, _)| l == "Firefox profile"));
    }

    #[test]
    fn reads_hardening_values() {
        let (_d, r) = fixture();
        std::fs::create_dir_all(r.proc.join("sys/kernel")).unwrap();
        std::fs::write(r.proc.join("sys/kernel/kptr_restrict"), "0\n").unwrap();
        let h = hardening(&r);
        assert_eq!(h[0], ("kernel.kptr_restrict".to_string(), Some(0), 1));
        assert_eq!(h[1].1, None);
    }

    #[test]
    fn tunnel_processes_in_fixture() {
        let (_d, r) = fixture();
        std::fs::create_dir_all(r.proc.join("4242")).unwrap();
        std::fs::write(r.proc.join("4242/comm"), "ngrok\n").unwrap();
        std::fs::create_dir_all(r.proc.join("4243")).unwrap();
        std::fs::write(r.proc.join("4243/comm"), "bash\n").unwrap();
        let uid = effective_uid();
        assert_eq!(tunnel_processes(&r, uid), vec![("ngrok".to_string(), 4242)]);
        assert!(tunnel_processes(&r, uid.wrapping_add(1)).is_empty());
    }
}
