//! The root check (CN-A3): Chela refuses to run as the superuser.

/// The effective uid, from `/proc/self/status` (no libc needed). `None` when it cannot be read.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The message shown when Chela is started as root.
pub const ROOT_REFUSAL: &str = "\
chela: refusing to run as root (uid 0).
An AI agent must never run with administrator rights: guidance CN-A3 (CNCERT/CSAC 2026) and NVDB-3.
A compromised or confused agent running as root can change the whole machine.

Create an unprivileged account and use it instead:
    sudo useradd --create-home --shell /bin/bash chela
    sudo -iu chela
    chela init
No flag or environment variable overrides this check.";

/// The message shown when the uid cannot be determined (fail closed).
pub const UID_UNKNOWN: &str = "\
chela: cannot determine the effective user id (is /proc mounted?); refusing to run (CN-A3).
Mount procfs (`mount -t proc proc /proc`) and run chela as an unprivileged user.";
