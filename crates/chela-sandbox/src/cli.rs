//! `chela sandbox run`: run one program in the sandbox with the terminal passed through.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chela_types::{exit, AuditSink};

use crate::sandbox::{CommandSpec, ExitStatus, Sandbox, SandboxConfig};

/// Does exactly what `chela sandbox run [--workspace DIR] [--timeout S] [--allow-domain D]… --
/// CMD ARGS…` does: builds the sandbox, runs `argv` with stdin/stdout/stderr passed through and
/// returns the exit code to exit with — the program's own code, 128 + signal when it was killed
/// by a signal, 124 on timeout, 127/126 when the program cannot be found/executed, 4 when the
/// sandbox cannot be set up (the reason is printed on stderr), 2 for a malformed command.
pub fn run_cli(
    workspace: &Path,
    timeout: Duration,
    allow_domains: Vec<String>,
    argv: Vec<String>,
) -> i32 {
    run_cli_audited(workspace, timeout, allow_domains, argv, None, None)
}

/// [`run_cli`] with an audit sink (and session name) for the egress proxy's records; with
/// `--allow-domain` every proxied connection is then recorded, and refused if it cannot be.
pub fn run_cli_audited(
    workspace: &Path,
    timeout: Duration,
    allow_domains: Vec<String>,
    argv: Vec<String>,
    audit: Option<Arc<dyn AuditSink>>,
    session: Option<String>,
) -> i32 {
    if argv.is_empty() {
        eprintln!("chela sandbox run: no command given (usage: chela sandbox run [OPTIONS] -- CMD [ARGS…])");
        return exit::USAGE;
    }
    let mut cfg = SandboxConfig::new(workspace);
    cfg.allow_domains = allow_domains;
    cfg.audit = audit;
    cfg.session = session;
    let mut spec = CommandSpec::new(argv);
    spec.timeout = timeout;
    match Sandbox::run_warm_inherit(cfg, &spec) {
        Ok(ExitStatus::TimedOut) => {
            eprintln!(
                "chela sandbox run: timed out after {}s; the whole process tree was killed",
                timeout.as_secs_f64()
            );
            exit::TIMEOUT
        }
        Ok(st) => st.code(),
        Err(e) if e.is_environment() || matches!(e, crate::SandboxError::Workspace { .. }) => {
            eprintln!("chela sandbox run: {e}");
            exit::UNSAFE_ENV
        }
        Err(crate::SandboxError::InvalidCommand(m)) => {
            eprintln!("chela sandbox run: {m}");
            exit::USAGE
        }
        Err(e) => {
            eprintln!("chela sandbox run: {e}");
            exit::FAILURE
        }
    }
}
