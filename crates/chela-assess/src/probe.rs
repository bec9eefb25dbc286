//! A real isolation probe through `chela-sandbox`: inside the sandbox, a program tries to write
//! a file outside the workspace (in `$CHELA_HOME` on the host), to write into the read-only
//! system view (`/usr`), and to connect to a TCP listener this process opens on the host's
//! loopback. All three must fail, and the host side confirms it (no file appeared, no
//! connection arrived). A write inside the workspace is the positive control: it must succeed,
//! or the probe proves nothing.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chela_sandbox::{CommandSpec, KernelReport, Sandbox, SandboxConfig, SandboxError};

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The sandbox could not be built (tools are refused: fail closed).
    Unavailable {
        /// The error, with the fix.
        reason: String,
    },
    /// The sandbox refuses to run as root; the probe needs the Chela user.
    Root,
    /// The probe was not requested (`--no-probe`); only the kernel report was taken.
    Skipped,
    /// The probe ran.
    Ran(ProbeRun),
}

/// The observations of a probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRun {
    /// Layers the sandbox reported enforcing.
    pub level: String,
    /// The positive control (write inside the workspace) succeeded.
    pub control_ok: bool,
    /// The write outside the workspace was refused inside and no file appeared on the host.
    pub write_outside_blocked: bool,
    /// The write into `/usr` was refused.
    pub write_system_blocked: bool,
    /// The connection to the host loopback listener failed and the listener received nothing.
    pub loopback_blocked: bool,
    /// Whether a client capable of TCP (bash `/dev/tcp`) was present to try the connection.
    pub connect_attempted: bool,
    /// Host path the write targeted.
    pub outside_target: PathBuf,
    /// Host loopback port the connection targeted.
    pub port: u16,
    /// What the sandboxed program printed (for the report).
    pub transcript: String,
    /// Wall time of the run, milliseconds.
    pub duration_ms: u64,
}

impl ProbeRun {
    /// True when the sandbox held on every attempt and the control worked.
    pub fn contained(&self) -> bool {
        self.control_ok
            && self.write_outside_blocked
            && self.write_system_blocked
            && self.loopback_blocked
            && self.connect_attempted
    }
}

/// The kernel report and the probe outcome.
#[derive(Debug, Clone)]
pub struct SandboxEvidence {
    /// What the kernel offers and what Chela enforces.
    pub kernel: KernelReport,
    /// The probe.
    pub outcome: ProbeOutcome,
}

const SCRIPT: &str = r#"out="$1"; port="$2"; ctl="/workspace/$3"
if ( : > "$ctl" ) 2>/dev/null; then echo CONTROL=ok; rm -f "$ctl"; else echo CONTROL=failed; fi
if ( : > "$out" ) 2>/dev/null; then echo WRITE_OUTSIDE=allowed; else echo WRITE_OUTSIDE=denied; fi
if ( : > /usr/.chela-assess-probe ) 2>/dev/null; then echo WRITE_SYSTEM=allowed; else echo WRITE_SYSTEM=denied; fi
if ( echo chela-assess-probe > "/dev/tcp/127.0.0.1/$port" ) 2>/dev/null; then echo LOOPBACK=connected; else echo LOOPBACK=refused; fi
"#;

fn bash_path() -> Option<&'static str> {
    ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The kernel report without running the probe.
pub fn kernel_only() -> SandboxEvidence {
    SandboxEvidence {
        kernel: chela_sandbox::check(),
        outcome: ProbeOutcome::Skipped,
    }
}

/// Runs the probe with `workspace` as the sandbox workspace and a marker file in `outside_dir`
/// (a host directory outside the workspace that this user can write).
pub fn run_probe(workspace: &Path, outside_dir: &Path) -> SandboxEvidence {
    let kernel = chela_sandbox::check();
    let outcome = probe(workspace, outside_dir);
    SandboxEvidence { kernel, outcome }
}

fn probe(workspace: &Path, outside_dir: &Path) -> ProbeOutcome {
    if !workspace.is_dir() {
        return ProbeOutcome::Unavailable {
            reason: format!(
                "workspace {} does not exist; run `chela init` (or `mkdir -m 700 {}`)",
                workspace.display(),
                workspace.display()
            ),
        };
    }
    let sb = match Sandbox::new(SandboxConfig::new(workspace)) {
        Ok(s) => s,
        Err(SandboxError::Root) => return ProbeOutcome::Root,
        Err(e) => {
            return ProbeOutcome::Unavailable {
                reason: e.to_string(),
            }
        }
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tag = format!(".chela-assess-probe-{}-{nanos}", std::process::id());
    let outside_target = outside_dir.join(&tag);
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            return ProbeOutcome::Unavailable {
                reason: format!("cannot open the host loopback listener for the probe: {e}"),
            }
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    if listener.set_nonblocking(true).is_err() {
        return ProbeOutcome::Unavailable {
            reason: "cannot make the probe listener non-blocking".into(),
        };
    }
    let Some(bash) = bash_path() else {
        return ProbeOutcome::Unavailable {
            reason: "no /bin/bash to run the isolation probe with; install bash".into(),
        };
    };
    let mut spec = CommandSpec::new([
        bash.to_string(),
        "-c".into(),
        SCRIPT.into(),
        "probe".into(),
        outside_target.to_string_lossy().into_owned(),
        port.to_string(),
        tag.clone(),
    ]);
    spec.timeout = Duration::from_secs(20);
    let started = Instant::now();
    let result = sb.run(&spec);
    let duration_ms = started.elapsed().as_millis() as u64;
    let level = sb.level();
    drop(sb);
    let appeared = std::fs::symlink_metadata(&outside_target).is_ok();
    if appeared {
        let _ = std::fs::remove_file(&outside_target);
    }
    let _ = std::fs::remove_file(workspace.join(&tag));
    let received = match listener.accept() {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    let out = match result {
        Ok(o) => o,
        Err(e) => {
            return ProbeOutcome::Unavailable {
                reason: format!("the probe could not run in the sandbox: {e}"),
            }
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let has = |l: &str| text.lines().any(|x| x.trim() == l);
    ProbeOutcome::Ran(ProbeRun {
        level,
        control_ok: has("CONTROL=ok"),
        write_outside_blocked: has("WRITE_OUTSIDE=denied") && !appeared,
        write_system_blocked: has("WRITE_SYSTEM=denied"),
        loopback_blocked: has("LOOPBACK=refused") && !received,
        connect_attempted: has("LOOPBACK=refused") || has("LOOPBACK=connected"),
        outside_target,
        port,
        transcript: text.trim().replace('\n', "; "),
        duration_ms,
    })
}
