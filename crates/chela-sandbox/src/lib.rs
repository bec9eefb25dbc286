//! Chela's sandbox: the only code in Chela that starts processes or touches files for a tool.
//!
//! * [`fs`] — workspace-confined, in-process file access for the `read`/`write`/`edit`/`list`
//!   tools (`openat2` with `RESOLVE_BENEATH`).
//! * [`Sandbox`] — process isolation: user, mount, pid, network, ipc, uts and cgroup
//!   namespaces, a minimal read-only filesystem view, Landlock, a seccomp filter, rlimits, no
//!   capabilities, a wall-clock timeout that kills the whole process tree, capped output, and
//!   an allowlisting egress proxy. Fails closed when the kernel cannot provide it.
//! * [`check`] — what the kernel offers and what Chela enforces.
//! * [`run_cli`] — `chela sandbox run`.
//!
//! See `README.md` in this crate for the design, the threat model and what each layer stops.

#![warn(missing_docs)]

mod check;
mod child;
mod cli;
pub mod fs;
mod landlock;
mod plan;
mod proxy;
mod sandbox;
mod seccomp;
mod warm;

pub use check::{check, Feature, KernelReport, SIMULATE_ENV};
pub use cli::{run_cli, run_cli_audited};
pub use proxy::{domain_allowed, is_public};
pub use sandbox::{
    CommandSpec, ExitStatus, Limits, RunOutput, Sandbox, SandboxConfig, SandboxError, PROXY_PORT,
};
