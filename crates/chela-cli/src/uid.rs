//! The root check (CN-A3): Chela refuses to run as the superuser.

/// The effective uid of this process (what the kernel checks permissions against).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
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
