//! Subcommands that mount other crates' features: `sandbox`, `audit`, `policy`, `scan`, `secrets`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use chela_types::exit;
use clap::{Args, Subcommand};

use crate::home::Home;
use crate::session::exit_err;

/// `chela sandbox …`
#[derive(Subcommand)]
pub enum SandboxCmd {
    #[command(about = SANDBOX_RUN_ABOUT)]
    Run(SandboxRunArgs),
    /// Show what the kernel offers and what Chela will enforce.
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `chela sandbox run` does, for its help (shared by both parsers, see `main.rs`).
pub const SANDBOX_RUN_ABOUT: &str = "Run any program in the same sandbox the `exec` tool uses. \
Exits with the program's status, 124 on timeout, 4 when the sandbox cannot be set up.";

/// Arguments of `chela sandbox run`.
#[derive(Args)]
pub struct SandboxRunArgs {
    /// Directory mounted read-write as the workspace (default: the current directory).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Wall-clock timeout in seconds; the whole process tree is killed after it.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Let the program reach this domain through Chela's egress proxy (repeatable; `*.d` allowed).
    #[arg(long = "allow-domain", value_name = "DOMAIN")]
    allow_domain: Vec<String>,
    /// The program and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    cmd: Vec<String>,
}

/// `chela audit …`
#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the hash chain and checkpoint signatures; names the first damaged record.
    Verify {
        /// Verify against this public key file (default: the installation's own key).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Show records as a table.
    Show {
        /// Only this session.
        #[arg(long)]
        session: Option<String>,
        /// Only this kind (e.g. policy_decision, tool_started).
        #[arg(long)]
        kind: Option<String>,
        /// Only records since this time (RFC 3339, e.g. 2026-11-21T09:00:00Z) or ago (e.g. 2h).
        #[arg(long)]
        since: Option<String>,
        /// Only the last N records.
        #[arg(long)]
        last: Option<usize>,
        /// Print the stored JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Export records for a SIEM.
    Export {
        /// jsonl, syslog (RFC 5424) or cef.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// FILE, tcp://HOST:PORT, udp://HOST:PORT or - (stdout).
        #[arg(long, default_value = "-")]
        to: String,
        /// Only this session.
        #[arg(long)]
        session: Option<String>,
        /// Only records since this time (RFC 3339) or ago (e.g. 24h).
        #[arg(long)]
        since: Option<String>,
    },
    /// Print the public key auditors use with `verify --pubkey`.
    Pubkey,
}

/// `chela policy …`
#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Print the effective policy with each rule's source (built-in, config.toml, organisation).
    Show {
        /// Workspace to evaluate paths against (default: $CHELA_HOME/workspace).
        #[arg(long)]
        workspace: Option<PathBuf>,
    },
    /// Explain the decision for a command (`chela policy explain -- 'rm -rf build'`) or a tool
    /// call as JSON (`{"tool":"write","arguments":{"path":"x","content":""}}`).
    Explain {
        /// Workspace to evaluate paths against (default: $CHELA_HOME/workspace).
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// The command line or JSON tool call.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        input: Vec<String>,
    },
}

fn parse_since(s: &str) -> Result<std::time::SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    let ago = humantime::parse_duration(s).map_err(|_| {
        exit_err(
            exit::USAGE,
            format!("--since {s:?}: use RFC 3339 (2026-11-21T09:00:00Z) or a duration like 2h"),
        )
    })?;
    Ok(std::time::SystemTime::now() - ago)
}

/// `chela sandbox …`
pub fn sandbox(home: &Home, cmd: SandboxCmd) -> Result<i32> {
    match cmd {
        SandboxCmd::Check { json } => {
            let report = chela_sandbox::check();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(if report.ok() {
                exit::OK
            } else {
                exit::UNSAFE_ENV
            })
        }
        SandboxCmd::Run(a) => {
            let ws = match a.workspace {
                Some(w) => w,
                None => std::env::current_dir()
                    .map_err(|e| exit_err(exit::USAGE, format!("current directory: {e}")))?,
            };
            let timeout = Duration::from_secs(a.timeout.max(1));
            if a.allow_domain.is_empty() {
                // No egress possible: nothing to record but the run itself; keep start-up light.
                return Ok(chela_sandbox::run_cli(&ws, timeout, a.allow_domain, a.cmd));
            }
            // Egress through the proxy must be audited (host, port, bytes, allowed): it needs
            // Chela's audit log, and refuses without one (fail closed).
            home.require_initialised().map_err(|e| {
                exit_err(
                    exit::UNSAFE_ENV,
                    format!("--allow-domain needs Chela's audit log to record egress: {e}"),
                )
            })?;
            let audit = chela_audit::AuditLog::open(&home.audit()).map_err(|e| {
                exit_err(
                    exit::UNSAFE_ENV,
                    format!("{e}; egress cannot be recorded, so it is refused (NVDB-6)"),
                )
            })?;
            let audit: std::sync::Arc<dyn chela_types::AuditSink> = std::sync::Arc::new(audit);
            let session = crate::session::fresh_session_name("sandbox");
            Ok(chela_sandbox::run_cli_audited(
                &ws,
                timeout,
                a.allow_domain,
                a.cmd,
                Some(audit),
                Some(session),
            ))
        }
    }
}

/// `chela audit …`
pub fn audit(home: &Home, cmd: AuditCmd) -> Result<i32> {
    let dir = home.audit();
    let fail = |e: chela_audit::AuditError| exit_err(exit::FAILURE, e.to_string());
    match cmd {
        AuditCmd::Verify { pubkey } => {
            let report = chela_audit::verify(&dir, pubkey.as_deref()).map_err(fail)?;
            print!("{}", report.summary());
            Ok(if report.damage.is_none() {
                exit::OK
            } else {
                exit::FAILURE
            })
        }
        AuditCmd::Show {
            session,
            kind,
            since,
            last,
            json,
        } => {
            let filter = chela_audit::RecordFilter {
                session,
                kind,
                since: since.as_deref().map(parse_since).transpose()?,
                events_only: false,
                last,
            };
            let records = chela_audit::read_records(&dir, &filter).map_err(fail)?;
            if json {
                for r in &records {
                    println!("{}", r.raw);
                }
            } else {
                print!("{}", chela_audit::render_table(&records));
            }
            Ok(exit::OK)
        }
        AuditCmd::Export {
            format,
            to,
            session,
            since,
        } => {
            let format: chela_audit::ExportFormat = format
                .parse()
                .map_err(|e: chela_audit::AuditError| exit_err(exit::USAGE, e.to_string()))?;
            let sink = chela_audit::ExportSink::parse(&to)
                .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
            let filter = chela_audit::RecordFilter {
                session,
                since: since.as_deref().map(parse_since).transpose()?,
                ..Default::default()
            };
            let n = chela_audit::export(&dir, format, &sink, &filter).map_err(fail)?;
            eprintln!("exported {n} record(s)");
            Ok(exit::OK)
        }
        AuditCmd::Pubkey => {
            println!("{}", chela_audit::public_key(&dir).map_err(fail)?);
            Ok(exit::OK)
        }
    }
}

/// `chela policy …`
pub fn policy(home: &Home, cmd: PolicyCmd) -> Result<i32> {
    home.require_initialised()
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    let cfg_path = home.config();
    let text = std::fs::read_to_string(&cfg_path)
        .map_err(|e| exit_err(exit::USAGE, format!("{}: {e}", cfg_path.display())))?;
    let (workspace, explain_input) = match cmd {
        PolicyCmd::Show { workspace } => (workspace, None),
        PolicyCmd::Explain { workspace, input } => (workspace, Some(input.join(" "))),
    };
    let ws = workspace.unwrap_or_else(|| home.workspace());
    let ws = std::fs::canonicalize(&ws).unwrap_or(ws);
    let policy = crate::session::load_policy(home, &cfg_path, &text, &ws)?;
    match explain_input {
        None => print!("{}", policy.render_show()),
        Some(input) => print!("{}", chela_policy::explain(&policy, &input)),
    }
    Ok(exit::OK)
}

/// `chela scan …`
pub fn scan(args: chela_guard::ScanArgs) -> Result<i32> {
    Ok(chela_guard::scan::run(args))
}

/// `chela secrets …`
pub fn secrets(home: &Home, cmd: chela_vault::SecretsCmd) -> Result<i32> {
    home.require_initialised()
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    Ok(chela_vault::run_secrets_cli(&home.root, cmd))
}
