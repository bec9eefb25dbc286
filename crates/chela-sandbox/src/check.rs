//! What the kernel offers and what Chela enforces (`chela sandbox check`, `chela assess`), and
//! the fail-closed diagnostics used when the sandbox cannot be built.

use std::fmt;

use serde::Serialize;

use crate::sandbox::SandboxError;

/// Environment variable naming features to pretend are missing (`userns,landlock,seccomp`).
/// Honoured only in debug builds (tests); release builds ignore it.
pub const SIMULATE_ENV: &str = "CHELA_SANDBOX_SIMULATE_MISSING";

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Simulated {
    pub userns: bool,
    pub landlock: bool,
    pub seccomp: bool,
}

pub(crate) fn simulated_missing() -> Simulated {
    let mut s = Simulated::default();
    if !cfg!(debug_assertions) {
        return s;
    }
    if let Ok(v) = std::env::var(SIMULATE_ENV) {
        for item in v.split(',').map(str::trim) {
            match item {
                "userns" => s.userns = true,
                "landlock" => s.landlock = true,
                "seccomp" => s.seccomp = true,
                _ => {}
            }
        }
    }
    s
}

const USERNS_FIX: &str = "enable unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian, older Ubuntu), `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile allowing `userns` for chela (Ubuntu 23.10+), `sysctl -w user.max_user_namespaces=15000` if it is 0; inside Docker/Podman use a seccomp profile that allows clone/unshare with namespace flags (e.g. `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`), or run chela on a VM";

const LANDLOCK_FIX_OFF: &str = "Landlock is built into the kernel but not enabled: add `landlock` to the `lsm=` kernel boot parameter (e.g. `lsm=landlock,lockdown,yama,integrity,apparmor,bpf`) and reboot";
const LANDLOCK_FIX_MISSING: &str = "use a kernel built with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13 or newer; every major distribution ships it)";
const SECCOMP_FIX: &str = "use a kernel built with CONFIG_SECCOMP_FILTER=y on x86_64 (standard in every distribution kernel)";

pub(crate) fn userns_unavailable(detail: &str) -> SandboxError {
    SandboxError::Unavailable {
        missing: "user namespaces".into(),
        detail: detail.to_string(),
        fix: USERNS_FIX.into(),
    }
}

fn landlock_detail(errno: i32) -> (String, &'static str) {
    match errno {
        libc::EOPNOTSUPP => (
            "Landlock is disabled at boot (EOPNOTSUPP)".into(),
            LANDLOCK_FIX_OFF,
        ),
        libc::ENOSYS => (
            "the kernel has no Landlock support (ENOSYS)".into(),
            LANDLOCK_FIX_MISSING,
        ),
        e => (
            format!(
                "landlock_create_ruleset failed: {}",
                std::io::Error::from_raw_os_error(e)
            ),
            LANDLOCK_FIX_MISSING,
        ),
    }
}

pub(crate) fn landlock_unavailable(errno: i32) -> SandboxError {
    let (detail, fix) = landlock_detail(errno);
    let detail = if simulated_missing().landlock {
        "simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)".to_string()
    } else {
        detail
    };
    SandboxError::Unavailable {
        missing: "Landlock".into(),
        detail,
        fix: fix.into(),
    }
}

/// Merges several `Unavailable` errors into one naming every missing feature.
pub(crate) fn combine_unavailable(errs: Vec<SandboxError>) -> SandboxError {
    let (mut missing, mut detail, mut fix) = (Vec::new(), Vec::new(), Vec::new());
    for e in errs {
        if let SandboxError::Unavailable {
            missing: m,
            detail: d,
            fix: f,
        } = e
        {
            detail.push(format!("{m}: {d}"));
            fix.push(format!("{m}: {f}"));
            missing.push(m);
        }
    }
    SandboxError::Unavailable {
        missing: missing.join(" and "),
        detail: detail.join("; "),
        fix: fix.join("; "),
    }
}

pub(crate) fn seccomp_unavailable(detail: String) -> SandboxError {
    SandboxError::Unavailable {
        missing: "seccomp".into(),
        detail,
        fix: SECCOMP_FIX.into(),
    }
}

/// Whether seccomp filters can be installed (kernel support and architecture).
pub(crate) fn seccomp_available() -> Result<(), String> {
    if !crate::seccomp::SUPPORTED_ARCH {
        return Err(format!(
            "no seccomp filter is defined for {}",
            std::env::consts::ARCH
        ));
    }
    // SAFETY: simple query.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if r < 0 {
        return Err("the kernel has no seccomp support (PR_GET_SECCOMP: EINVAL)".into());
    }
    // Filter mode (not just strict mode) must exist: asking for it with a null program fails
    // with EFAULT when the kernel supports filters and EINVAL when it does not.
    // SAFETY: the null program pointer is never dereferenced; the call only reports an error.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            std::ptr::null::<libc::sock_fprog>(),
            0,
            0,
        )
    };
    match (r, std::io::Error::last_os_error().raw_os_error()) {
        (-1, Some(libc::EFAULT)) => Ok(()),
        (0, _) => Err("seccomp accepted a null filter; refusing to trust it".into()),
        (_, e) => Err(format!(
            "the kernel has no seccomp filter support (PR_SET_SECCOMP: errno {})",
            e.unwrap_or(0)
        )),
    }
}

/// Advice appended to setup errors.
pub(crate) fn setup_hint(step: u32, errno: i32) -> String {
    use crate::child::step;
    let perm = errno == libc::EPERM || errno == libc::EACCES;
    match step {
        step::SETGROUPS | step::UID_MAP | step::GID_MAP if perm => {
            format!(". Fix: {USERNS_FIX}")
        }
        step::MAKE_PRIVATE | step::ROOT_TMPFS | step::PIVOT_ROOT | step::MOUNT_PLAN | step::PROC
            if perm =>
        {
            ". Mounting inside the user namespace was refused: an AppArmor/SELinux policy or a container seccomp profile blocks mount(2); run chela with a profile that allows it or on a VM".into()
        }
        step::LANDLOCK => format!(". {LANDLOCK_FIX_MISSING}"),
        step::SECCOMP => format!(". Fix: {SECCOMP_FIX}"),
        step::FORK if errno == libc::EAGAIN => {
            ". The process limit was reached (too many processes of this user)".into()
        }
        _ => String::new(),
    }
}

/// One kernel feature as seen by `check`.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// Whether Chela can use it.
    pub available: bool,
    /// What was found.
    pub detail: String,
    /// How to enable it, when unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What the kernel offers and what Chela enforces.
#[derive(Debug, Clone, Serialize)]
pub struct KernelReport {
    /// `uname -r`.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Effective uid of the checking process.
    pub euid: u32,
    /// Unprivileged user namespaces (with mount, pid, net, ipc, uts, cgroup namespaces).
    pub user_namespaces: Feature,
    /// Landlock LSM.
    pub landlock: Feature,
    /// Landlock ABI version, when available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock_abi: Option<u32>,
    /// seccomp-BPF.
    pub seccomp: Feature,
    /// Syscalls and ABIs the seccomp filter refuses.
    pub seccomp_refuses: Vec<String>,
    /// cgroups (not used: limits are rlimits).
    pub cgroups: String,
    /// The layers Chela enforces for every tool process, or `None` when it refuses to run tools.
    pub enforced: Option<String>,
    /// Why tools are refused, when they are.
    pub refused: Vec<String>,
}

impl KernelReport {
    /// True when the sandbox can be built (tools will run).
    pub fn ok(&self) -> bool {
        self.enforced.is_some()
    }
}

impl fmt::Display for KernelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kernel {} ({}), running as uid {}",
            self.kernel, self.arch, self.euid
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, ft: &Feature| -> fmt::Result {
            writeln!(
                f,
                "  {:<16} {:<11} {}",
                name,
                if ft.available { "available" } else { "MISSING" },
                ft.detail
            )?;
            if let Some(fix) = &ft.fix {
                writeln!(f, "  {:<16} {:<11} fix: {}", "", "", fix)?;
            }
            Ok(())
        };
        row(f, "user namespaces", &self.user_namespaces)?;
        row(f, "landlock", &self.landlock)?;
        row(f, "seccomp", &self.seccomp)?;
        writeln!(f, "  {:<16} {:<11} {}", "cgroups", "not used", self.cgroups)?;
        match &self.enforced {
            Some(level) => writeln!(f, "enforced for every tool process: {level}")?,
            None => {
                writeln!(f, "tools are REFUSED (fail closed):")?;
                for r in &self.refused {
                    writeln!(f, "  - {r}")?;
                }
            }
        }
        Ok(())
    }
}

fn uname() -> (String, String) {
    // SAFETY: zeroed utsname is a valid out-parameter.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    if unsafe { libc::uname(&mut u) } < 0 {
        return ("unknown".into(), std::env::consts::ARCH.into());
    }
    let s = |a: &[libc::c_char]| {
        let b: Vec<u8> = a
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    (s(&u.release), s(&u.machine))
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Probes namespace creation in a throwaway child (works for any uid).
fn probe_userns() -> Result<(), String> {
    if simulated_missing().userns {
        return Err("simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)".into());
    }
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP;
    // SAFETY: the child only calls _exit.
    let pid =
        unsafe { crate::child::raw_clone((flags | libc::SIGCHLD) as u64, std::ptr::null_mut()) };
    if pid == 0 {
        // SAFETY: terminate the probe child immediately.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        let mut why = format!("creating user+mount+pid+net+ipc+uts+cgroup namespaces failed: {e}");
        if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
            why.push_str("; kernel.unprivileged_userns_clone = 0");
        }
        if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref()
            == Some("1")
        {
            why.push_str("; kernel.apparmor_restrict_unprivileged_userns = 1");
        }
        if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
            why.push_str("; user.max_user_namespaces = 0");
        }
        return Err(why);
    }
    let mut st = 0;
    // SAFETY: reaping our probe child.
    unsafe { libc::waitpid(pid as i32, &mut st, 0) };
    Ok(())
}

/// Reports what the kernel offers and what Chela will enforce. Builds a real sandbox in a
/// temporary workspace to prove it (unless running as root, which Chela refuses).
pub fn check() -> KernelReport {
    let (kernel, arch) = uname();
    // SAFETY: plain getter.
    let euid = unsafe { libc::geteuid() };
    let sim = simulated_missing();
    let mut refused = Vec::new();

    let user_namespaces = match probe_userns() {
        Ok(()) => Feature {
            available: true,
            detail: "user, mount, pid, network, ipc, uts and cgroup namespaces can be created unprivileged".into(),
            fix: None,
        },
        Err(d) => {
            refused.push(format!("user namespaces: {d}"));
            Feature {
                available: false,
                detail: d,
                fix: Some(USERNS_FIX.into()),
            }
        }
    };
    let abi = if sim.landlock {
        Err(libc::EOPNOTSUPP)
    } else {
        crate::landlock::abi_version()
    };
    let (landlock, landlock_abi) = match abi {
        Ok(v) => (
            Feature {
                available: true,
                detail: format!(
                    "ABI {v}: filesystem{}{}",
                    if v >= 4 { ", TCP bind/connect" } else { "" },
                    if v >= 6 {
                        ", abstract unix socket and signal scoping"
                    } else {
                        ""
                    }
                ),
                fix: None,
            },
            Some(v),
        ),
        Err(e) => {
            let (mut detail, fix) = landlock_detail(e);
            if sim.landlock {
                detail = "simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)".into();
            }
            refused.push(format!("Landlock: {detail}"));
            (
                Feature {
                    available: false,
                    detail,
                    fix: Some(fix.into()),
                },
                None,
            )
        }
    };
    let sc = if sim.seccomp {
        Err("simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)".to_string())
    } else {
        seccomp_available()
    };
    let seccomp = match sc {
        Ok(()) => Feature {
            available: true,
            detail: "seccomp-BPF filters".into(),
            fix: None,
        },
        Err(d) => {
            refused.push(format!("seccomp: {d}"));
            Feature {
                available: false,
                detail: d,
                fix: Some(SECCOMP_FIX.into()),
            }
        }
    };
    if euid == 0 {
        refused.push("running as root: Chela refuses to run tools as uid 0 (CN-A3); run it as an ordinary user".into());
    }
    let mut enforced = None;
    if refused.is_empty() {
        match tempfile_dir() {
            Ok(dir) => {
                let r = crate::sandbox::Sandbox::new(crate::sandbox::SandboxConfig::new(&dir));
                match r {
                    Ok(sb) => match sb.run(&crate::sandbox::CommandSpec::new(["/bin/true"])) {
                        Ok(o) if o.status.success() => enforced = Some(sb.level()),
                        Ok(o) => refused.push(format!(
                            "a test program in the sandbox failed: {:?} {}",
                            o.status,
                            String::from_utf8_lossy(&o.stderr)
                        )),
                        Err(e) => refused.push(format!("a test run failed: {e}")),
                    },
                    Err(e) => refused.push(e.to_string()),
                }
                let _ = std::fs::remove_dir(&dir);
            }
            Err(e) => refused.push(format!(
                "cannot create a temporary workspace for the test: {e}"
            )),
        }
    }
    KernelReport {
        kernel,
        arch,
        euid,
        user_namespaces,
        landlock,
        landlock_abi,
        seccomp,
        seccomp_refuses: crate::seccomp::denied_names().into_iter().map(String::from).collect(),
        cgroups: "limits are enforced with rlimits (CPU, memory, processes, file size, open files) and a wall-clock timeout".into(),
        enforced,
        refused,
    }
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..100u32 {
        let p = base.join(format!("chela-check-{}-{}", std::process::id(), i));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary directory name"))
}
