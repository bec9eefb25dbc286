//! Wiring for `chela run` and `chela chat`: config, audit, store, sandbox, provider, agent.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use chela_agent::config::Config;
use chela_agent::guard::GuardOutbound;
use chela_agent::kernel::Kernel;
use chela_agent::provider::Provider;
use chela_agent::tools::{ToolContext, ALL_TOOLS};
use chela_agent::{Agent, AgentEvent, AgentParts, Progress};
use chela_audit::AuditLog;
use chela_guard::{Guard, GuardPolicy};
use chela_net::{NetClient, NetConfig};
use chela_policy::{ApprovalMode, ApprovalQueue, CommandContext, NoApprover, Policy};
use chela_sandbox::fs::Workspace;
use chela_sandbox::{Limits, Sandbox, SandboxConfig};
use chela_store::Store;
use chela_types::{exit, Actor, Event, EventKind};
use serde::Deserialize;

use crate::home::Home;

/// An error carrying the exit code it should produce.
#[derive(Debug)]
pub struct Exit {
    /// Exit code.
    pub code: i32,
    /// Message for stderr.
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Wraps a message with an exit code.
pub fn exit_err(code: i32, message: impl Into<String>) -> anyhow::Error {
    anyhow!(Exit {
        code,
        message: message.into()
    })
}

/// Everything opened for a session-running command.
pub struct Opened {
    /// The agent.
    pub agent: Agent,
    /// The audit log (for start/stop records).
    pub audit: Arc<AuditLog>,
}

/// The OS user at the terminal (login name, else `uid:N`).
pub fn owner_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid:{}", crate::uid::effective_uid()))
}

/// Who is at the terminal, for audit records.
pub fn owner_actor() -> Actor {
    Actor::Owner { user: owner_name() }
}

/// A fresh session name like `run-20261121-093000-4242`.
pub fn fresh_session_name(prefix: &str) -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_digit()).collect();
    format!(
        "{prefix}-{}-{}-{}",
        &compact[..8.min(compact.len())],
        &compact[8.min(compact.len())..],
        std::process::id()
    )
}

/// Opens config, audit, store, workspace, sandbox and provider, and builds the agent.
/// The organisation policy file (root-owned; only tightens).
pub const ORG_POLICY: &str = "/etc/chela/policy.toml";

/// Reads the organisation policy if present. Unreadable or not root-owned → refuse (fail closed).
pub fn org_policy_text() -> Result<Option<(String, String)>> {
    // Debug builds let tests point at their own (not root-owned) file; release builds only ever
    // read /etc/chela/policy.toml, and it must be root-owned.
    #[cfg(debug_assertions)]
    let test_path = std::env::var("CHELA_TEST_ORG_POLICY").ok();
    #[cfg(not(debug_assertions))]
    let test_path: Option<String> = None;
    let is_test_file = test_path.is_some();
    let path = test_path.unwrap_or_else(|| ORG_POLICY.to_string());
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(exit_err(
                exit::UNSAFE_ENV,
                format!("organisation policy {path}: {e}; Chela will not run without reading it (it must be readable and owned by root)"),
            ))
        }
    };
    use std::os::unix::fs::MetadataExt;
    let trusted_owner = meta.uid() == 0 || is_test_file;
    if !trusted_owner || meta.mode() & 0o022 != 0 {
        return Err(exit_err(
            exit::UNSAFE_ENV,
            format!(
                "organisation policy {path} must be owned by root and not writable by group or others (found uid {}, mode {:o}); fix with `sudo chown root:root {path} && sudo chmod 644 {path}`",
                meta.uid(),
                meta.mode() & 0o777
            ),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        exit_err(
            exit::UNSAFE_ENV,
            format!("organisation policy {path}: {e}; Chela will not run without reading it"),
        )
    })?;
    Ok(Some((path, text)))
}

/// Loads the effective policy (built-in < config.toml < organisation policy) for a workspace.
pub fn load_policy(
    home: &Home,
    cfg_path: &Path,
    cfg_text: &str,
    workspace: &Path,
) -> Result<Policy> {
    let user_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    let chela_home = std::fs::canonicalize(&home.root).unwrap_or_else(|_| home.root.clone());
    let ctx = CommandContext::new(workspace, user_home, chela_home);
    let org = org_policy_text()?;
    let cfg_name = cfg_path.display().to_string();
    let policy = Policy::load(
        Some((&cfg_name, cfg_text)),
        org.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        ctx,
    )
    .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    for w in &policy.warnings {
        eprintln!("chela: policy: {w}");
    }
    Ok(policy)
}

/// Opens everything a session needs. `approver` is `None` when no human can be asked: then
/// anything needing approval is refused (approval mode forced to `deny`).
pub fn open(
    home: &Home,
    workspace: Option<PathBuf>,
    session: &str,
    command: &str,
    approver: Option<Arc<dyn ApprovalQueue>>,
) -> Result<Opened> {
    home.require_initialised()
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    let cfg = Config::load(&home.config()).map_err(|e| exit_err(exit::USAGE, e.to_string()))?;

    let guard = build_guard(&cfg)?;
    let audit = AuditLog::open(&home.audit()).map(|log| log.with_scrubber(guard.clone())).map_err(|e| {
        exit_err(
            exit::UNSAFE_ENV,
            format!("{e}\nChela refuses to act without a writable audit log (NVDB-6, CN-B3). Fix the permissions of {} or free disk space.", home.audit().display()),
        )
    })?;
    let audit = Arc::new(audit);
    for torn in &audit.open_report().torn_tails {
        eprintln!(
            "chela: audit: an incomplete record ({} bytes at offset {} of {}) left by a crash was set aside in {} and recorded in the chain (record {}); `chela audit verify` still checks everything before it",
            torn.bytes,
            torn.offset,
            torn.segment.display(),
            torn.moved_to.display(),
            torn.record_seq
        );
    }

    let ws_path = workspace.unwrap_or_else(|| home.workspace());
    let ws_path = std::fs::canonicalize(&ws_path)
        .map_err(|e| exit_err(exit::USAGE, format!("workspace {}: {e}", ws_path.display())))?;
    refuse_dangerous_workspace(home, &ws_path)?;
    let workspace = Workspace::open(&ws_path)
        .map_err(|e| exit_err(exit::USAGE, format!("workspace {}: {e}", ws_path.display())))?;

    let sandbox = Sandbox::new(SandboxConfig {
        workspace: ws_path.clone(),
        limits: Limits::default(),
        allow_domains: cfg.sandbox.allow_domains.clone(),
        audit: Some(audit.clone() as Arc<dyn chela_types::AuditSink>),
        session: Some(session.to_string()),
    })
    .map(Arc::new)
    .map_err(|e| e.to_string());
    let level = match &sandbox {
        Ok(s) => s.level(),
        Err(e) => {
            eprintln!("chela: warning: the sandbox is unavailable, so `exec` is refused: {e}");
            "unavailable".to_string()
        }
    };
    audit
        .append(Event::new(
            Some(session),
            Actor::System,
            EventKind::ChelaStarted {
                version: env!("CARGO_PKG_VERSION").into(),
                uid: crate::uid::effective_uid(),
                command: command.into(),
                sandbox: level,
            },
        ))
        .map_err(|e| exit_err(exit::UNSAFE_ENV, format!("{e}; refusing to run (NVDB-6)")))?;

    let api_key = resolve_api_key(&cfg, &home.root, &guard)?;
    if let Some(key) = &api_key {
        // The provider key is a known secret: it never reaches the model, a tool, a transcript
        // or the audit log, and only ever travels to the provider's host (CN-D6, CNCERT-M2).
        guard
            .add_known_secret("provider_api_key", key)
            .map_err(|e| exit_err(exit::USAGE, format!("provider API key: {e}")))?;
    }
    let provider_net = NetConfig::for_endpoint(&cfg.provider.base_url).map_err(|e| {
        exit_err(
            exit::USAGE,
            format!("provider.base_url in {}: {e}", cfg.path.display()),
        )
    })?;
    let net = net_client(provider_net, &guard, &audit, session).map_err(|e| {
        exit_err(
            exit::USAGE,
            format!("provider.base_url in {}: {e}", cfg.path.display()),
        )
    })?;
    let provider = Provider::new(&cfg.provider, api_key, Arc::new(net))
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;

    let store = Store::open(&home.state_db()).map_err(|e| anyhow!("{e}"))?;
    let mut policy = load_policy(home, &cfg.path, &cfg.text, &ws_path)?;
    let approver: Arc<dyn ApprovalQueue> = match approver {
        Some(a) => a,
        None => {
            policy = policy.with_approval_mode(
                ApprovalMode::Deny,
                "no terminal is attached to approve actions",
            );
            Arc::new(NoApprover)
        }
    };
    let tool_names = policy.filter_tools(ALL_TOOLS);
    let tools = ToolContext {
        workspace: Arc::new(workspace),
        sandbox,
        exec_timeout: Duration::from_secs(cfg.sandbox.exec_timeout_s),
        max_exec_timeout: Duration::from_secs(cfg.sandbox.max_exec_timeout_s),
        output_chars: cfg.agent.tool_output_chars,
        web: Some(Arc::new(web_client(&cfg, &audit, &guard, session)?)),
    };
    let agent = Agent::new(AgentParts {
        provider_cfg: cfg.provider.clone(),
        provider,
        agent_cfg: cfg.agent.clone(),
        tools,
        tool_names,
        audit: audit.clone(),
        store,
        session: session.to_string(),
        actor: owner_actor(),
        record_prompts: cfg.audit.record_prompts,
        kernel: Kernel {
            policy: Arc::new(policy),
            approver,
            state: Default::default(),
        },
        guard,
    })
    .map_err(|e| anyhow!("{e}"))?;
    Ok(Opened { agent, audit })
}

/// The guard with `[guard]` actions from config.toml.
fn build_guard(cfg: &Config) -> Result<Arc<Guard>> {
    let policy = match &cfg.guard {
        None => GuardPolicy::default(),
        Some(v) => GuardPolicy::deserialize(v.clone()).map_err(|e| {
            exit_err(
                exit::USAGE,
                chela_agent::config::ConfigError::at_key(
                    &cfg.path,
                    &cfg.text,
                    "guard",
                    e.to_string(),
                )
                .to_string(),
            )
        })?,
    };
    let guard = Guard::with_policy(&policy)
        .map_err(|e| exit_err(exit::USAGE, format!("{}: [guard]: {e}", cfg.path.display())))?;
    Ok(Arc::new(guard))
}

/// The client `web_fetch` uses: `[net]` allowlist, SSRF guard, the guard's outbound check.
fn web_client(
    cfg: &Config,
    audit: &Arc<AuditLog>,
    guard: &Arc<Guard>,
    session: &str,
) -> Result<NetClient> {
    let net_cfg = NetConfig {
        allow_hosts: cfg.net.allow_hosts.clone(),
        allow_addrs: cfg.net.allow_addrs.clone(),
        ..NetConfig::default()
    };
    net_client(net_cfg, guard, audit, session)
        .map_err(|e| exit_err(exit::USAGE, format!("{}: [net]: {e}", cfg.path.display())))
}

/// An audited client for `session` whose every hop passes the guard's leak check.
fn net_client(
    mut net_cfg: NetConfig,
    guard: &Arc<Guard>,
    audit: &Arc<AuditLog>,
    session: &str,
) -> Result<NetClient, chela_net::NetError> {
    net_cfg.outbound_check = Some(Arc::new(GuardOutbound(guard.clone())));
    let mut client = NetClient::new(net_cfg, audit.clone())?;
    client.set_session(Some(session.to_string()));
    Ok(client)
}

/// Refuses workspaces that would expose Chela's own state or the whole home directory.
fn refuse_dangerous_workspace(home: &Home, ws: &Path) -> Result<()> {
    let chela_home = std::fs::canonicalize(&home.root).unwrap_or_else(|_| home.root.clone());
    let inside_home_state = ws == chela_home
        || (ws.starts_with(&chela_home) && !ws.starts_with(chela_home.join("workspace")));
    if inside_home_state || chela_home.starts_with(ws) {
        return Err(exit_err(
            exit::USAGE,
            format!(
                "workspace {} would expose Chela's own state ({}) to the agent (CN-D6); choose a project directory instead",
                ws.display(),
                chela_home.display()
            ),
        ));
    }
    if ws == Path::new("/") {
        return Err(exit_err(
            exit::USAGE,
            "the workspace cannot be / (CN-A3: limit the agent to the directories it needs)",
        ));
    }
    Ok(())
}

fn resolve_api_key(cfg: &Config, home_root: &Path, guard: &Guard) -> Result<Option<String>> {
    if let Some(var) = &cfg.provider.api_key_env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
            _ => Err(exit_err(
                exit::USAGE,
                format!(
                    "the environment variable {var} (provider.api_key_env in {}) is not set; export it, e.g. `export {var}=...`",
                    cfg.path.display()
                ),
            )),
        };
    }
    if let Some(name) = &cfg.provider.api_key_vault {
        let path = chela_vault::Vault::default_path(home_root);
        let source = chela_vault::PassphraseSource::from_env()
            .map_err(|e| exit_err(exit::USAGE, format!("vault: {e}")))?;
        let mut vault = chela_vault::Vault::open(&path, &source).map_err(|e| {
            exit_err(
                exit::USAGE,
                format!(
                    "provider.api_key_vault = {name:?}: cannot open the vault {}: {e}",
                    path.display()
                ),
            )
        })?;
        let secret = vault.get(name).map_err(|e| {
            exit_err(
                exit::USAGE,
                format!("provider.api_key_vault = {name:?}: {e}; store it with `chela secrets set {name}`"),
            )
        })?;
        // Every value in the vault is a known secret: mask it wherever it shows up.
        if let Ok(all) = vault.all_values() {
            for (entry, value) in all {
                if let Err(e) = guard.add_known_secret(&format!("vault:{entry}"), value.expose()) {
                    eprintln!("chela: warning: vault entry {entry}: {e}");
                }
            }
        }
        return Ok(Some(secret.expose().to_string()));
    }
    Ok(None)
}

/// Prints progress for `chela run`: tool activity on stderr; the answer is printed by the caller.
pub struct RunPrinter {
    pending: String,
}

impl RunPrinter {
    /// A printer with nothing buffered.
    pub fn new() -> Self {
        RunPrinter {
            pending: String::new(),
        }
    }
    fn flush_text(&mut self) {
        let t = self.pending.trim();
        if !t.is_empty() {
            eprintln!("· {}", t.replace('\n', "\n  "));
        }
        self.pending.clear();
    }
}

impl Progress for RunPrinter {
    fn event(&mut self, ev: AgentEvent) {
        match ev {
            AgentEvent::TextDelta(t) => self.pending.push_str(&t),
            AgentEvent::TextDone => {}
            AgentEvent::ToolStart { name, summary } => {
                self.flush_text();
                eprintln!("→ {name} {summary}");
            }
            AgentEvent::ToolEnd {
                name,
                summary,
                is_error,
            } => {
                self.flush_text();
                eprintln!("  {} {name}: {summary}", if is_error { "✗" } else { "✓" });
            }
            AgentEvent::Refused { name, reason } => {
                self.flush_text();
                eprintln!("  ⛔ {name} refused: {reason}");
            }
            AgentEvent::Notice(n) => eprintln!("  … {n}"),
        }
    }
}

/// Prints progress for `chela chat`: streamed text on stdout, tool activity on stderr.
pub struct ChatPrinter {
    at_line_start: bool,
}

impl ChatPrinter {
    /// A printer at the start of a line.
    pub fn new() -> Self {
        ChatPrinter {
            at_line_start: true,
        }
    }
    fn newline(&mut self) {
        if !self.at_line_start {
            println!();
            self.at_line_start = true;
        }
    }
}

impl Progress for ChatPrinter {
    fn event(&mut self, ev: AgentEvent) {
        match ev {
            AgentEvent::TextDelta(t) => {
                print!("{t}");
                std::io::stdout().flush().ok();
                self.at_line_start = t.ends_with('\n');
            }
            AgentEvent::TextDone => self.newline(),
            AgentEvent::ToolStart { name, summary } => {
                self.newline();
                eprintln!("→ {name} {summary}");
            }
            AgentEvent::ToolEnd {
                name,
                summary,
                is_error,
            } => {
                eprintln!("  {} {name}: {summary}", if is_error { "✗" } else { "✓" })
            }
            AgentEvent::Refused { name, reason } => eprintln!("  ⛔ {name} refused: {reason}"),
            AgentEvent::Notice(n) => {
                self.newline();
                eprintln!("  … {n}");
            }
        }
    }
}
