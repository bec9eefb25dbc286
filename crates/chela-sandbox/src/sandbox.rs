//! The process sandbox: a helper prepared once per [`Sandbox`], one fresh pid namespace per run.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chela_types::AuditSink;

use crate::child::{self, step, Prepared, Ready, Reply, RunHeader, StatusRecord};
use crate::landlock::LandlockPlan;
use crate::{check, plan, proxy, seccomp};

/// Port of the egress proxy inside the sandbox's network namespace (`127.0.0.1:3128`).
pub const PROXY_PORT: u16 = 3128;

/// Resource limits applied to every sandboxed process (rlimits are per process; the process
/// count is per sandbox). A value of 0 means "no limit" for the rlimit fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// CPU seconds (`RLIMIT_CPU`).
    pub cpu_secs: u64,
    /// Virtual memory per process (`RLIMIT_AS`).
    pub address_space_bytes: u64,
    /// Processes of the sandbox user (`RLIMIT_NPROC`, counted inside the sandbox's user namespace).
    pub max_processes: u64,
    /// Largest file a process may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Bytes of stdout and of stderr kept each (the rest is counted, then discarded).
    pub output_bytes: usize,
    /// Size of the private `/tmp` (tmpfs).
    pub tmp_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_secs: 300,
            address_space_bytes: 4 << 30,
            max_processes: 256,
            file_size_bytes: 1 << 30,
            open_files: 1024,
            output_bytes: 1 << 20,
            tmp_bytes: 512 << 20,
        }
    }
}

/// How to build a [`Sandbox`].
#[derive(Clone)]
pub struct SandboxConfig {
    /// Host directory shown read-write at `/workspace` inside the sandbox.
    pub workspace: PathBuf,
    /// Resource limits.
    pub limits: Limits,
    /// Domains reachable through the egress proxy (`example.com` exactly, `*.example.com` for
    /// subdomains). Empty: no network at all.
    pub allow_domains: Vec<String>,
    /// Where the egress proxy records connections (required for egress to be audited).
    pub audit: Option<Arc<dyn AuditSink>>,
    /// Session name put on audit events.
    pub session: Option<String>,
}

impl SandboxConfig {
    /// A configuration with default limits and no network.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            workspace: workspace.into(),
            limits: Limits::default(),
            allow_domains: Vec::new(),
            audit: None,
            session: None,
        }
    }
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("workspace", &self.workspace)
            .field("limits", &self.limits)
            .field("allow_domains", &self.allow_domains)
            .field("audit", &self.audit.is_some())
            .field("session", &self.session)
            .finish()
    }
}

/// A program to run in the sandbox.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Program and arguments; the program is looked up in the sandbox's `PATH` unless it
    /// contains a `/`.
    pub argv: Vec<String>,
    /// Working directory relative to the workspace (`None`: the workspace root).
    pub cwd: Option<String>,
    /// Extra environment variables (the environment is otherwise built from scratch).
    pub env: Vec<(String, String)>,
    /// Bytes fed to standard input (`None`: empty input).
    pub stdin: Option<Vec<u8>>,
    /// Wall-clock limit; the whole process tree is killed when it expires.
    pub timeout: Duration,
}

impl CommandSpec {
    /// A spec for `argv` with a 60 s timeout and nothing else.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// How a sandboxed program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ExitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
    /// Killed (with its whole process tree) because the timeout expired.
    TimedOut,
}

impl ExitStatus {
    /// The shell convention: the code, 128 + signal, or 124 for a timeout.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(c) => *c,
            ExitStatus::Signaled(s) => 128 + s,
            ExitStatus::TimedOut => chela_types::exit::TIMEOUT,
        }
    }

    /// True for `Exited(0)`.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

/// The result of a sandboxed run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Standard output, capped at `Limits::output_bytes`.
    pub stdout: Vec<u8>,
    /// Standard error, capped at `Limits::output_bytes`.
    pub stderr: Vec<u8>,
    /// Total bytes written to standard output (before capping).
    pub stdout_total: u64,
    /// Total bytes written to standard error (before capping).
    pub stderr_total: u64,
    /// Wall time of the run.
    pub duration: Duration,
}

/// Why the sandbox could not be set up or a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Chela refuses to run tools as root.
    #[error("refusing to run the sandbox as root (uid 0); run chela as an ordinary user (CN-A3)")]
    Root,
    /// A kernel feature the sandbox requires is missing: tools are refused (fail closed).
    #[error("the sandbox cannot be set up: {missing} is unavailable ({detail}); tools are refused until it is. Fix: {fix}")]
    Unavailable {
        /// The missing feature (`user namespaces`, `Landlock`, `seccomp`).
        missing: String,
        /// What the kernel said.
        detail: String,
        /// How to enable it.
        fix: String,
    },
    /// A setup step failed.
    #[error("sandbox setup failed while {step}: {source}{hint}")]
    Setup {
        /// The step that failed.
        step: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
        /// Extra advice (may be empty).
        hint: String,
    },
    /// The workspace cannot be used.
    #[error("workspace `{path}` cannot be used: {source}")]
    Workspace {
        /// The workspace path.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The command is malformed (empty argv, NUL bytes, working directory outside the workspace).
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// The sandbox helper process is gone.
    #[error("the sandbox helper process exited unexpectedly ({0}); create a new sandbox")]
    HelperGone(String),
    /// Any other I/O failure in the parent.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl SandboxError {
    /// True when the error means the environment cannot host the sandbox (exit code 4).
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            SandboxError::Root
                | SandboxError::Unavailable { .. }
                | SandboxError::Setup { .. }
                | SandboxError::HelperGone(_)
        )
    }
}

fn io_err(what: &str) -> impl FnOnce(io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Io {
        what: what.to_string(),
        source,
    }
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass fresh descriptors they own.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut p = [0i32; 2];
    // SAFETY: valid out-array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(last_err());
    }
    Ok((owned(p[0]), owned(p[1])))
}

fn set_nonblock(fd: RawFd) {
    // SAFETY: flag manipulation on a valid descriptor.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// An isolated environment for running programs: a helper process prepared once (user, mount,
/// network, ipc, uts and cgroup namespaces, the filesystem view, loopback), from which each
/// [`Sandbox::run`] forks a fresh pid namespace whose program gets Landlock, seccomp, rlimits
/// and no capabilities. `Send + Sync`; runs may proceed concurrently.
pub struct Sandbox {
    state: Mutex<Option<Helper>>,
    /// Set for sandboxes made by `new`: a helper that died is replaced (once per request).
    restart: Option<SandboxConfig>,
    level: String,
    limits: Limits,
    workspace: PathBuf,
    egress: bool,
}

/// The helper process, its control socket and the proxy serving it.
struct Helper {
    ctrl: OwnedFd,
    pid: libc::pid_t,
    proxy: Option<proxy::ProxyHandle>,
    /// Do not wait for the helper to finish tearing down (the caller is about to exit).
    detached: bool,
    /// Kill it first (it stopped answering).
    kill: bool,
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some(p) = self.proxy.take() {
            p.stop();
        }
        // Closing the control socket makes the helper exit; its pid namespace (and every run
        // still alive in it) dies with it.
        // SAFETY: shutting down a descriptor we own; signalling our own unreaped child.
        unsafe {
            libc::shutdown(self.ctrl.as_raw_fd(), libc::SHUT_RDWR);
            if self.kill {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        if !self.detached {
            let mut st = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(self.pid, &mut st, 0) };
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("workspace", &self.workspace)
            .field("level", &self.level)
            .finish()
    }
}

const NS_FLAGS: i32 = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

impl Sandbox {
    /// Prepares a sandbox for `cfg.workspace`. Fails closed: refuses as root, and when user
    /// namespaces, Landlock or seccomp are unavailable, naming what is missing and how to fix it.
    pub fn new(cfg: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Self::start(&cfg, None, None)
    }

    /// Builds the sandbox and runs exactly one program with this process's stdin, stdout and
    /// stderr passed through, the helper itself acting as the program's init (one process
    /// fewer than [`Sandbox::run_inherit`]; the cold path of `chela sandbox run`). Returns
    /// when the program has ended; the namespaces are torn down in the background.
    pub fn run_once_inherit(
        cfg: SandboxConfig,
        spec: &CommandSpec,
    ) -> Result<ExitStatus, SandboxError> {
        if !cfg.allow_domains.is_empty() {
            // egress needs the proxy thread in this process: use the regular path
            let sb = Sandbox::new(cfg)?;
            let r = sb.run_inherit(spec);
            sb.close_detached();
            return r;
        }
        let started = Instant::now();
        let (st_r, st_w) = pipe().map_err(io_err("creating the status pipe"))?;
        let sb = Self::start(&cfg, Some((spec, st_w.as_raw_fd())), None)?;
        drop(st_w);
        // SAFETY: pidfd_open on our own (possibly already exited, unreaped) child.
        let helper = sb.helper_pid().unwrap_or(-1);
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, helper, 0) };
        if pidfd < 0 {
            let e = last_err();
            // SAFETY: killing our own child, which has not been reaped (no pid reuse).
            unsafe { libc::kill(helper, libc::SIGKILL) };
            return Err(io_err("opening a pidfd for the sandbox helper")(e));
        }
        let pidfd = owned(pidfd as RawFd);
        let ctrl = {
            let guard = sb
                .state
                .lock()
                .map_err(|_| SandboxError::HelperGone("lock poisoned".into()))?;
            let raw = guard.as_ref().map(|h| h.ctrl.as_raw_fd()).unwrap_or(-1);
            // SAFETY: duplicating a descriptor we own.
            let fd = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 3) };
            if fd < 0 {
                return Err(io_err("duplicating the control socket")(last_err()));
            }
            owned(fd)
        };
        set_nonblock(st_r.as_raw_fd());
        set_nonblock(ctrl.as_raw_fd());
        let mut outs = [Stream::new(st_r, 64), Stream::new(ctrl, 64)];
        let timed_out = pump(&mut outs, &mut None, &pidfd, started + spec.timeout);
        let [st, ctl] = outs;
        let result = if timed_out || st.buf.len() >= std::mem::size_of::<StatusRecord>() {
            finish(st.buf, timed_out, spec).map(|(status, extra)| {
                if !extra.is_empty() {
                    eprint!("{extra}");
                }
                status
            })
        } else if ctl.buf.len() >= std::mem::size_of::<Ready>() {
            // SAFETY: Ready is plain old data and the buffer holds one.
            let ready: Ready = unsafe { std::ptr::read_unaligned(ctl.buf.as_ptr().cast()) };
            Err(SandboxError::Setup {
                step: step::name(ready.step).to_string(),
                hint: check::setup_hint(ready.step, ready.errno),
                source: io::Error::from_raw_os_error(ready.errno),
            })
        } else {
            Err(SandboxError::HelperGone(
                "the sandbox helper died without reporting a status".into(),
            ))
        };
        sb.close_detached();
        result
    }

    /// Prepares everything, clones the helper and (unless one-shot) waits until it is ready.
    fn start(
        cfg: &SandboxConfig,
        oneshot: Option<(&CommandSpec, RawFd)>,
        listener: Option<RawFd>,
    ) -> Result<Sandbox, SandboxError> {
        let (euid, egid, abi, seccomp) = preflight()?;

        let ws_shown = cfg.workspace.display().to_string();
        let workspace =
            std::fs::canonicalize(&cfg.workspace).map_err(|source| SandboxError::Workspace {
                path: ws_shown.clone(),
                source,
            })?;
        if !workspace.is_dir() {
            return Err(SandboxError::Workspace {
                path: ws_shown,
                source: io::Error::from_raw_os_error(libc::ENOTDIR),
            });
        }
        let egress = !cfg.allow_domains.is_empty();
        let proxy_port = if egress { Some(PROXY_PORT) } else { None };
        let ll = LandlockPlan::new(abi, &plan::landlock_rules(), proxy_port)
            .ok_or_else(|| SandboxError::InvalidCommand("internal: landlock rule paths".into()))?;
        let ops = plan::mount_plan(&workspace, euid, egid, cfg.limits.tmp_bytes.max(1 << 20))
            .ok_or_else(|| SandboxError::Workspace {
                path: ws_shown.clone(),
                source: io::Error::from_raw_os_error(libc::EINVAL),
            })?;
        let cap_last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63);
        let level = format!(
            "userns,mnt,pid,net,ipc,uts,cgroup; {}; seccomp ({} syscalls refused, foreign ABIs killed); rlimits; no_new_privs; no capabilities{}",
            ll.describe(),
            seccomp::DENIED.len() + 4,
            match (egress, cfg.audit.is_some()) {
                (false, _) => "; no network",
                (true, true) => "; egress via allowlist proxy (audited)",
                (true, false) => "; egress via allowlist proxy (NOT audited: no audit sink)",
            }
        );

        let mut sv = [0i32; 2];
        // SAFETY: valid out-array.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        } < 0
        {
            return Err(io_err("creating the sandbox control socket")(last_err()));
        }
        let (ours, theirs) = (owned(sv[0]), owned(sv[1]));
        let prepared = Prepared {
            ctrl: theirs.as_raw_fd(),
            uid_map: format!("{euid} {euid} 1\n").into_bytes(),
            gid_map: format!("{egid} {egid} 1\n").into_bytes(),
            ops,
            landlock: Some(ll),
            seccomp,
            cap_last,
            proxy_port: proxy_port.unwrap_or(0),
            oneshot: None,
            listener: listener.unwrap_or(-1),
            idle_ms: crate::warm::IDLE_MS,
            keep: Vec::new(),
        };
        let mut _payload_fd = None;
        let mut prepared = prepared;
        if let Some((spec, status)) = oneshot {
            let (header, memfd) = build_payload(&cfg.limits, egress, spec)?;
            prepared.oneshot = Some(child::OneShot {
                header,
                memfd: memfd.as_raw_fd(),
                status,
            });
            _payload_fd = Some(memfd);
        }
        // Addresses of everything the helper reads, so it can unmap the rest of this
        // process's memory it inherits (see child::trim_memory).
        prepared.keep = prepared.addresses();
        // SAFETY: the child runs only async-signal-safe code on memory prepared above and
        // never returns (zygote_main ends in _exit).
        let pid =
            unsafe { child::raw_clone((NS_FLAGS | libc::SIGCHLD) as u64, std::ptr::null_mut()) };
        if pid == 0 {
            // SAFETY: we are the freshly cloned helper.
            unsafe { child::zygote_main(&prepared) }
        }
        if pid < 0 {
            let e = last_err();
            return Err(check::userns_unavailable(&format!(
                "clone with new namespaces failed: {e}"
            )));
        }
        let helper = pid as libc::pid_t;
        drop(theirs);
        drop(prepared);
        drop(_payload_fd);

        let mut h = Helper {
            ctrl: ours,
            pid: helper,
            proxy: None,
            detached: false,
            kill: false,
        };
        let restart = (oneshot.is_none() && listener.is_none()).then(|| cfg.clone());
        if oneshot.is_some() {
            return Ok(Sandbox {
                state: Mutex::new(Some(h)),
                restart,
                level,
                limits: cfg.limits.clone(),
                workspace,
                egress,
            });
        }
        let (ready, fds) =
            recv_msg::<Ready>(h.ctrl.as_raw_fd(), Duration::from_secs(20)).map_err(|e| {
                h.kill = true;
                SandboxError::HelperGone(format!("no answer during setup: {e}"))
            })?;
        if ready.status != 0 {
            let source = io::Error::from_raw_os_error(ready.errno);
            return Err(SandboxError::Setup {
                step: step::name(ready.step).to_string(),
                hint: check::setup_hint(ready.step, ready.errno),
                source,
            });
        }
        let mut fds = fds.into_iter();
        if ready.has_proxy != 0 {
            let listener = fds
                .next()
                .ok_or_else(|| SandboxError::HelperGone("proxy listener missing".into()))?;
            h.proxy = Some(proxy::start(
                listener,
                proxy::ProxyConfig {
                    allow: cfg.allow_domains.clone(),
                    audit: cfg.audit.clone(),
                    session: cfg.session.clone(),
                    policy: proxy::AddressPolicy::PublicOnly,
                },
            )?);
        }
        Ok(Sandbox {
            state: Mutex::new(Some(h)),
            restart,
            level,
            limits: cfg.limits.clone(),
            workspace,
            egress,
        })
    }

    /// Process id of the helper (for diagnostics), or `None` once it is gone.
    pub fn helper_pid(&self) -> Option<i32> {
        self.state.lock().ok()?.as_ref().map(|h| h.pid)
    }

    /// One line naming the enforced layers.
    pub fn level(&self) -> String {
        self.level.clone()
    }

    /// The canonical host path of the workspace.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs `spec` and collects its output (blocking; call from `spawn_blocking` in async code).
    pub fn run(&self, spec: &CommandSpec) -> Result<RunOutput, SandboxError> {
        let started = Instant::now();
        let (in_r, in_w) = pipe().map_err(io_err("creating the stdin pipe"))?;
        let (out_r, out_w) = pipe().map_err(io_err("creating the stdout pipe"))?;
        let (err_r, err_w) = pipe().map_err(io_err("creating the stderr pipe"))?;
        let (st_r, st_w) = pipe().map_err(io_err("creating the status pipe"))?;
        let pidfd = self.submit(
            spec,
            [
                in_r.as_raw_fd(),
                out_w.as_raw_fd(),
                err_w.as_raw_fd(),
                st_w.as_raw_fd(),
            ],
        )?;
        drop((in_r, out_w, err_w, st_w));

        let stdin_data = spec.stdin.clone().unwrap_or_default();
        let mut stdin = if stdin_data.is_empty() {
            drop(in_w);
            None
        } else {
            set_nonblock(in_w.as_raw_fd());
            Some((in_w, stdin_data, 0usize))
        };
        let cap = self.limits.output_bytes;
        let mut outs = [
            Stream::new(out_r, cap),
            Stream::new(err_r, cap),
            Stream::new(st_r, 64),
        ];
        for s in &outs {
            set_nonblock(s.fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1));
        }
        let timed_out = pump(&mut outs, &mut stdin, &pidfd, started + spec.timeout);
        let [out, err, st] = outs;
        let (status, extra) = finish(st.buf, timed_out, spec)?;
        let mut stderr = err.buf;
        stderr.extend_from_slice(extra.as_bytes());
        Ok(RunOutput {
            status,
            stdout: out.buf,
            stderr,
            stdout_total: out.total,
            stderr_total: err.total + extra.len() as u64,
            duration: started.elapsed(),
        })
    }

    /// Runs `spec` with this process's stdin/stdout/stderr passed straight through (for
    /// `chela sandbox run`); `spec.stdin` is ignored. Returns how the program ended.
    pub fn run_inherit(&self, spec: &CommandSpec) -> Result<ExitStatus, SandboxError> {
        let started = Instant::now();
        let (st_r, st_w) = pipe().map_err(io_err("creating the status pipe"))?;
        let pidfd = self.submit(spec, [0, 1, 2, st_w.as_raw_fd()])?;
        drop(st_w);
        wait_inherit(pidfd, st_r, spec, started)
    }

    /// What `chela sandbox run` uses: runs `spec` with this process's stdio passed through,
    /// through the warm helper for this workspace when one is alive (started by an earlier
    /// invocation, idle for at most 30 s), otherwise by starting one that stays warm. Falls
    /// back to [`Sandbox::run_once_inherit`] when egress is requested or no private socket
    /// directory is available. `/tmp` persists between invocations served by one helper.
    pub fn run_warm_inherit(
        cfg: SandboxConfig,
        spec: &CommandSpec,
    ) -> Result<ExitStatus, SandboxError> {
        let started = Instant::now();
        if !cfg.allow_domains.is_empty() || std::env::var_os("CHELA_SANDBOX_COLD").is_some() {
            return Self::run_once_inherit(cfg, spec);
        }
        // Same checks as a fresh sandbox, every time (root, missing layers).
        preflight()?;
        let ws_shown = cfg.workspace.display().to_string();
        let workspace =
            std::fs::canonicalize(&cfg.workspace).map_err(|source| SandboxError::Workspace {
                path: ws_shown,
                source,
            })?;
        let tmp = cfg.limits.tmp_bytes.max(1 << 20);
        let Some(path) = crate::warm::socket_path(&workspace, tmp) else {
            return Self::run_once_inherit(cfg, spec);
        };
        if let Ok(sock) = crate::warm::connect(&path) {
            let (st_r, st_w) = pipe().map_err(io_err("creating the status pipe"))?;
            let sent = submit_on(
                sock.as_raw_fd(),
                &cfg.limits,
                false,
                spec,
                [0, 1, 2, st_w.as_raw_fd()],
            );
            drop(sock);
            drop(st_w);
            match sent {
                Ok(pidfd) => return wait_inherit(pidfd, st_r, spec, started),
                Err(SandboxError::HelperGone(_)) => {} // it idled out meanwhile: start anew
                Err(e) => return Err(e),
            }
        }
        let Ok(listener) = crate::warm::listen(&path) else {
            return Self::run_once_inherit(cfg, spec);
        };
        let sb = Self::start(&cfg, None, Some(listener.as_raw_fd()))?;
        drop(listener);
        let r = sb.run_inherit(spec);
        sb.close_detached();
        r
    }

    /// Sends a run request to the helper; returns the pidfd of the run's init process.
    /// A helper that died (killed, out of memory) is replaced by a fresh one and the request
    /// is sent again; a request is only ever accepted by one helper.
    fn submit(&self, spec: &CommandSpec, stdio: [RawFd; 4]) -> Result<OwnedFd, SandboxError> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| SandboxError::HelperGone("control lock poisoned".into()))?;
        let first = match guard.as_ref() {
            Some(h) => submit_on(h.ctrl.as_raw_fd(), &self.limits, self.egress, spec, stdio),
            None => Err(SandboxError::HelperGone("no helper".into())),
        };
        let (Err(SandboxError::HelperGone(_)), Some(cfg)) = (&first, &self.restart) else {
            return first;
        };
        if let Some(mut old) = guard.take() {
            old.kill = true; // dead or unresponsive: make sure, then reap
        }
        let mut fresh = Sandbox::start(cfg, None, None)?;
        let h = fresh
            .state
            .get_mut()
            .map_err(|_| SandboxError::HelperGone("control lock poisoned".into()))?
            .take();
        *guard = h;
        match guard.as_ref() {
            Some(h) => submit_on(h.ctrl.as_raw_fd(), &self.limits, self.egress, spec, stdio),
            None => first,
        }
    }
}

/// Interprets the status records.
fn finish(
    recs: Vec<u8>,
    timed_out: bool,
    spec: &CommandSpec,
) -> Result<(ExitStatus, String), SandboxError> {
    if timed_out {
        return Ok((ExitStatus::TimedOut, String::new()));
    }
    let sz = std::mem::size_of::<StatusRecord>();
    if recs.len() < sz {
        return Err(SandboxError::HelperGone(
            "the sandbox init process died without reporting a status".into(),
        ));
    }
    // SAFETY: StatusRecord is plain old data and `recs` holds at least one record.
    let rec: StatusRecord = unsafe { std::ptr::read_unaligned(recs.as_ptr().cast()) };
    match rec.kind {
        child::REC_EXITED => Ok((ExitStatus::Exited(rec.code), String::new())),
        child::REC_SIGNALED => Ok((ExitStatus::Signaled(rec.code), String::new())),
        _ => {
            let e = io::Error::from_raw_os_error(rec.errno);
            let prog = spec.argv.first().cloned().unwrap_or_default();
            match rec.step {
                step::EXEC => {
                    let code = if rec.errno == libc::ENOENT { 127 } else { 126 };
                    Ok((
                        ExitStatus::Exited(code),
                        format!("chela-sandbox: cannot execute `{prog}`: {e}\n"),
                    ))
                }
                step::CHDIR => Err(SandboxError::InvalidCommand(format!(
                    "working directory `{}` cannot be entered: {e}",
                    spec.cwd.clone().unwrap_or_default()
                ))),
                s => Err(SandboxError::Setup {
                    step: step::name(s).to_string(),
                    hint: check::setup_hint(s, rec.errno),
                    source: e,
                }),
            }
        }
    }
}

/// Waits for a run whose stdio is passed through; prints exec failures on stderr.
fn wait_inherit(
    pidfd: OwnedFd,
    st_r: OwnedFd,
    spec: &CommandSpec,
    started: Instant,
) -> Result<ExitStatus, SandboxError> {
    set_nonblock(st_r.as_raw_fd());
    let mut outs = [Stream::new(st_r, 64)];
    let timed_out = pump(&mut outs, &mut None, &pidfd, started + spec.timeout);
    let [st] = outs;
    let (status, extra) = finish(st.buf, timed_out, spec)?;
    if !extra.is_empty() {
        eprint!("{extra}");
    }
    Ok(status)
}

/// Sends a run request on `sock` (the control socket or a warm helper connection); returns
/// the pidfd of the run's init.
fn submit_on(
    sock: RawFd,
    limits: &Limits,
    egress: bool,
    spec: &CommandSpec,
    stdio: [RawFd; 4],
) -> Result<OwnedFd, SandboxError> {
    let (header, memfd) = build_payload(limits, egress, spec)?;
    let fds = [memfd.as_raw_fd(), stdio[0], stdio[1], stdio[2], stdio[3]];
    // SAFETY: header is plain old data; fds are valid for the duration of the call.
    let r = unsafe {
        child::send_with_fds(
            sock,
            (&header as *const RunHeader).cast(),
            std::mem::size_of::<RunHeader>(),
            &fds,
        )
    };
    if r < 0 {
        return Err(SandboxError::HelperGone(format!(
            "sending the request: {}",
            last_err()
        )));
    }
    let (reply, fds) = recv_msg::<Reply>(sock, Duration::from_secs(20))
        .map_err(|e| SandboxError::HelperGone(format!("waiting for the helper: {e}")))?;
    if reply.status != 0 {
        return Err(SandboxError::Setup {
            step: step::name(step::FORK).to_string(),
            source: io::Error::from_raw_os_error(reply.errno),
            hint: check::setup_hint(step::FORK, reply.errno),
        });
    }
    fds.into_iter()
        .next()
        .ok_or_else(|| SandboxError::HelperGone("no pidfd in the helper's reply".into()))
}

/// Serializes argv/env/cwd into a memfd (offset tables + strings) and fills the header.
fn build_payload(
    limits: &Limits,
    egress: bool,
    spec: &CommandSpec,
) -> Result<(RunHeader, OwnedFd), SandboxError> {
    if spec.argv.is_empty() || spec.argv[0].is_empty() {
        return Err(SandboxError::InvalidCommand("no program given".into()));
    }
    let cwd = sandbox_cwd(spec.cwd.as_deref())?;
    let env = environment(egress, spec, &cwd)?;
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let n_argv = spec.argv.len();
    let n_env = env.len();
    let table_len = (n_argv + 1 + n_env + 1) * 8;
    let mut strings: Vec<u8> = Vec::new();
    let mut table: Vec<u64> = Vec::with_capacity(n_argv + n_env + 2);
    let push = |s: &[u8], strings: &mut Vec<u8>| -> Result<u64, SandboxError> {
        if s.contains(&0) {
            return Err(SandboxError::InvalidCommand(
                "arguments and environment must not contain NUL bytes".into(),
            ));
        }
        let off = (table_len + strings.len()) as u64;
        strings.extend_from_slice(s);
        strings.push(0);
        Ok(off)
    };
    for a in &spec.argv {
        table.push(push(a.as_bytes(), &mut strings)?);
    }
    table.push(0);
    for (k, v) in &env {
        table.push(push(format!("{k}={v}").as_bytes(), &mut strings)?);
    }
    table.push(0);
    let cwd_off = push(cwd.as_bytes(), &mut strings)?;
    let path_off = push(path.as_bytes(), &mut strings)?;
    let mut payload = Vec::with_capacity(table_len + strings.len());
    for t in &table {
        payload.extend_from_slice(&t.to_ne_bytes());
    }
    payload.extend_from_slice(&strings);
    if payload.len() > 64 << 20 {
        return Err(SandboxError::InvalidCommand(
            "command line and environment exceed 64 MiB".into(),
        ));
    }
    // SAFETY: valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"chela-run".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io_err("creating the command memfd")(last_err()));
    }
    let memfd = owned(fd);
    let mut off = 0;
    while off < payload.len() {
        // SAFETY: valid descriptor and buffer.
        let n = unsafe {
            libc::write(
                memfd.as_raw_fd(),
                payload[off..].as_ptr().cast(),
                payload.len() - off,
            )
        };
        if n < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io_err("writing the command memfd")(e));
        }
        off += n as usize;
    }
    let l = limits;
    let lim = |v: u64| if v == 0 { libc::RLIM_INFINITY } else { v };
    let header = RunHeader {
        magic: child::RUN_MAGIC,
        n_argv: n_argv as u32,
        n_env: n_env as u32,
        flags: 0,
        payload_len: payload.len() as u64,
        timeout_ms: spec.timeout.as_millis().min(u64::MAX as u128) as u64,
        cwd_off,
        path_off,
        rlimits: [
            lim(l.cpu_secs),
            lim(l.address_space_bytes),
            lim(l.max_processes),
            lim(l.file_size_bytes),
            lim(l.open_files),
            0,
        ],
    };
    Ok((header, memfd))
}

/// The environment: built from scratch, never inherited from the host.
fn environment(
    egress: bool,
    spec: &CommandSpec,
    cwd: &str,
) -> Result<Vec<(String, String)>, SandboxError> {
    let term = std::env::var("TERM")
        .ok()
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        })
        .unwrap_or_else(|| "dumb".into());
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/workspace".into()),
        ("USER".into(), "sandbox".into()),
        ("LOGNAME".into(), "sandbox".into()),
        ("SHELL".into(), "/bin/sh".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TERM".into(), term),
        ("TMPDIR".into(), "/tmp".into()),
        ("PWD".into(), cwd.to_string()),
    ];
    if egress {
        let url = format!("http://127.0.0.1:{PROXY_PORT}");
        for k in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            env.push((k.into(), url.clone()));
        }
    }
    for (k, v) in &spec.env {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(SandboxError::InvalidCommand(format!(
                "invalid environment variable name `{k}`"
            )));
        }
        if let Some(slot) = env.iter_mut().find(|(ek, _)| ek == k) {
            slot.1 = v.clone();
        } else {
            env.push((k.clone(), v.clone()));
        }
    }
    Ok(env)
}

impl Sandbox {
    /// Closes the sandbox without waiting for the helper to finish tearing down its
    /// namespaces (for a process that is about to exit, e.g. `chela sandbox run`).
    pub fn close_detached(self) {
        if let Ok(mut g) = self.state.lock() {
            if let Some(h) = g.as_mut() {
                h.detached = true;
            }
        }
    }
}

/// The up-front checks every way of running shares: not root, and every required layer
/// present (all missing ones named together). Returns euid, egid, Landlock ABI, BPF program.
fn preflight() -> Result<(u32, u32, u32, Vec<libc::sock_filter>), SandboxError> {
    // SAFETY: plain getters.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        return Err(SandboxError::Root);
    }
    // Every required layer is checked up front; all missing ones are named together.
    let sim = check::simulated_missing();
    let mut missing: Vec<SandboxError> = Vec::new();
    if sim.userns {
        missing.push(check::userns_unavailable(
            "simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)",
        ));
    }
    let abi = if sim.landlock {
        Err(libc::EOPNOTSUPP)
    } else {
        crate::landlock::abi_version()
    };
    let abi = abi
        .map_err(|e| missing.push(check::landlock_unavailable(e)))
        .ok();
    let seccomp = if sim.seccomp {
        Err("simulated absence (CHELA_SANDBOX_SIMULATE_MISSING)".to_string())
    } else {
        check::seccomp_available().and_then(|_| {
            seccomp::build().ok_or_else(|| "no filter for this CPU architecture".to_string())
        })
    };
    let seccomp = seccomp
        .map_err(|d| missing.push(check::seccomp_unavailable(d)))
        .ok();
    let (Some(abi), Some(seccomp), true) = (abi, seccomp, missing.is_empty()) else {
        return Err(check::combine_unavailable(missing));
    };
    Ok((euid, egid, abi, seccomp))
}

/// Validates the working directory and returns its path inside the sandbox.
fn sandbox_cwd(cwd: Option<&str>) -> Result<String, SandboxError> {
    let raw = cwd.unwrap_or("");
    let rel = raw
        .strip_prefix(crate::fs::SANDBOX_WORKSPACE)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .unwrap_or(raw);
    let p = Path::new(rel.trim_start_matches('/'));
    if Path::new(rel).is_absolute() && !raw.starts_with(crate::fs::SANDBOX_WORKSPACE) {
        return Err(SandboxError::InvalidCommand(format!(
            "working directory `{raw}` must be relative to the workspace"
        )));
    }
    let mut out = String::from(crate::fs::SANDBOX_WORKSPACE);
    for c in p.components() {
        match c {
            Component::Normal(n) => {
                out.push('/');
                out.push_str(&n.to_string_lossy());
            }
            Component::CurDir => {}
            _ => {
                return Err(SandboxError::InvalidCommand(format!(
                    "working directory `{raw}` leaves the workspace"
                )))
            }
        }
    }
    Ok(out)
}

struct Stream {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    total: u64,
    cap: usize,
}

impl Stream {
    fn new(fd: OwnedFd, cap: usize) -> Self {
        Stream {
            fd: Some(fd),
            buf: Vec::new(),
            total: 0,
            cap,
        }
    }
}

/// Moves data until every stream hits EOF or the deadline passes (then kills the run's pid
/// namespace and drains for a short grace period). Returns whether the deadline passed.
fn pump(
    outs: &mut [Stream],
    stdin: &mut Option<(OwnedFd, Vec<u8>, usize)>,
    pidfd: &OwnedFd,
    deadline: Instant,
) -> bool {
    let mut timed_out = false;
    let mut hard_stop = None;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(outs.len() + 1);
        let mut map: Vec<usize> = Vec::new();
        for (i, s) in outs.iter().enumerate() {
            if let Some(fd) = &s.fd {
                pfds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                map.push(i);
            }
        }
        if pfds.is_empty() {
            break;
        }
        let stdin_idx = stdin.as_ref().map(|(fd, _, _)| {
            pfds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
            pfds.len() - 1
        });
        let now = Instant::now();
        let limit = hard_stop.unwrap_or(deadline);
        if now >= limit {
            if hard_stop.is_some() {
                break; // killed, still not drained after the grace period: give up
            }
            timed_out = true;
            // SAFETY: signalling the run's init via its pidfd; killing pid 1 of the pid
            // namespace kills every process in it.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<u8>(),
                    0,
                )
            };
            *stdin = None;
            hard_stop = Some(now + Duration::from_secs(5));
            continue;
        }
        let ms = (limit - now).as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: valid pollfd array.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms.max(1)) };
        if r < 0 {
            if last_err().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if let Some(si) = stdin_idx {
            if pfds[si].revents != 0 {
                let mut done = true;
                if let Some((fd, data, off)) = stdin.as_mut() {
                    // SAFETY: valid descriptor and buffer.
                    let n = unsafe {
                        libc::write(
                            fd.as_raw_fd(),
                            data[*off..].as_ptr().cast(),
                            data.len() - *off,
                        )
                    };
                    if n > 0 {
                        *off += n as usize;
                    }
                    done = n < 0 && last_err().kind() != io::ErrorKind::WouldBlock
                        || *off >= data.len();
                }
                if done {
                    *stdin = None;
                }
            }
        }
        for (pi, &si) in map.iter().enumerate() {
            if pfds[pi].revents == 0 {
                continue;
            }
            let s = &mut outs[si];
            let Some(fd) = &s.fd else { continue };
            // SAFETY: valid descriptor and buffer.
            let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                let n = n as usize;
                s.total += n as u64;
                let room = s.cap.saturating_sub(s.buf.len());
                s.buf.extend_from_slice(&chunk[..n.min(room)]);
            } else if n == 0 || last_err().kind() != io::ErrorKind::WouldBlock {
                s.fd = None;
            }
        }
    }
    timed_out
}

/// Receives one fixed-size message plus fds, waiting at most `timeout`.
fn recv_msg<T: Default + Copy>(sock: RawFd, timeout: Duration) -> io::Result<(T, Vec<OwnedFd>)> {
    let mut pfd = libc::pollfd {
        fd: sock,
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = Instant::now() + timeout;
    loop {
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 && last_err().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if r < 0 {
            return Err(last_err());
        }
        if r == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the sandbox helper did not answer",
            ));
        }
        break;
    }
    let mut v = T::default();
    let mut fds = [-1i32; 8];
    let mut n = 0usize;
    // SAFETY: `v` is plain old data of the given size.
    let r = unsafe {
        child::recv_with_fds(
            sock,
            (&mut v as *mut T).cast(),
            std::mem::size_of::<T>(),
            &mut fds,
            &mut n,
        )
    };
    let owned_fds: Vec<OwnedFd> = fds.iter().take(n).map(|fd| owned(*fd)).collect();
    if r < 0 {
        return Err(last_err());
    }
    if r as usize != std::mem::size_of::<T>() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the sandbox helper exited",
        ));
    }
    Ok((v, owned_fds))
}
