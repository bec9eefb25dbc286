//! `chela`: a secure-by-construction AI agent.
//!
//! This binary only parses arguments and wires the crates together; every effect happens in its
//! owning crate (DESIGN.md). It starts without the Rust runtime's own start-up (see `start`).

// In test builds the harness provides `main`.
#![cfg_attr(not(test), no_main)]

mod admin;
mod approve;
mod chat;
mod home;
mod session;
mod start;
mod uid;

use std::path::PathBuf;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Result;
use chela_policy::ApprovalQueue;
use chela_types::{exit, Actor, Event, EventKind, Role};
use clap::{Args, Parser, Subcommand};

use home::{Home, InitAnswers};
use session::{exit_err, Exit};

const ABOUT: &str = "Chela: an AI agent that runs tools (shell, files) inside a sandbox, \
with every action checked by policy and recorded in an audit log.";

const AFTER_HELP: &str = "\
Getting started:
  chela init                          set up ~/.chela (asks a few questions)
  export OPENAI_API_KEY=...           the key, from the variable named in config.toml
  chela run \"summarise README.md\"     one task; answer on stdout, progress on stderr
  chela chat                          interactive conversation

State lives in $CHELA_HOME (default ~/.chela). Exit codes: 0 ok, 1 error, 2 usage or
configuration error, 3 refused by policy, 4 unsafe environment (root, no sandbox).";

#[derive(Parser)]
#[command(name = "chela", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands. `defer` builds a subcommand's arguments only when it is the one invoked, so
/// start-up does not pay for the whole command tree (it matters for `chela sandbox run`, which
/// wraps other programs and is measured against bubblewrap).
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create $CHELA_HOME with a commented config.toml and an empty workspace.
    Init(InitArgs),
    /// Run one task to completion: final answer on stdout, progress on stderr.
    Run(RunArgs),
    /// Talk with the agent interactively (/new starts a new session, /exit quits, Ctrl-C cancels a turn).
    Chat(ChatArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// List or show stored sessions.
    #[command(subcommand)]
    Sessions(SessionsCmd),
    /// Run programs in Chela's sandbox, or check what the kernel supports.
    #[command(subcommand)]
    Sandbox(admin::SandboxCmd),
    /// Verify, show and export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(admin::AuditCmd),
    /// Show the effective policy or explain why an action is allowed, held or refused.
    #[command(subcommand)]
    Policy(admin::PolicyCmd),
    /// Scan files for secrets and personal data (keys, ID numbers, cards, mnemonics).
    Scan(chela_guard::ScanArgs),
    /// Manage encrypted credentials in Chela's vault (values never on the command line).
    #[command(subcommand)]
    Secrets(chela_vault::SecretsCmd),
    /// Check this installation against every item of the CNCERT/CSAC guidance, with evidence
    /// (may run as root to audit the host; `--fix` may not).
    Assess(chela_assess::AssessArgs),
    /// Check for security advisories affecting this version (signed feed).
    Update(chela_assess::UpdateArgs),
}

#[derive(Args)]
struct InitArgs {
    /// Never ask questions; take every answer from the flags below.
    #[arg(long)]
    non_interactive: bool,
    /// Provider protocol: `openai` (any OpenAI-compatible server) or `anthropic`.
    #[arg(long, value_parser = ["openai", "anthropic"])]
    provider: Option<String>,
    /// Provider base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1.
    #[arg(long)]
    base_url: Option<String>,
    /// Model name, e.g. gpt-4o-mini, deepseek-chat, qwen-plus, llama3.1.
    #[arg(long)]
    model: Option<String>,
    /// NAME of the environment variable holding the API key (not the key itself).
    #[arg(long)]
    api_key_env: Option<String>,
    /// Overwrite an existing configuration.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct RunArgs {
    /// Directory the agent may work in (default: $CHELA_HOME/workspace).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Continue (or create) this named session instead of starting a fresh one.
    #[arg(long)]
    session: Option<String>,
    /// The task, in plain language.
    #[arg(required = true, num_args = 1..)]
    task: Vec<String>,
}

#[derive(Args)]
struct ChatArgs {
    /// Directory the agent may work in (default: $CHELA_HOME/workspace).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Continue (or create) this named session.
    #[arg(long)]
    session: Option<String>,
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate config.toml; errors name the file, line and key.
    Check,
    /// Print the path of config.toml.
    Path,
}

#[derive(Subcommand)]
enum SessionsCmd {
    /// List sessions, most recent first.
    List,
    /// Print a session's transcript.
    Show {
        /// Session name.
        name: String,
    },
}

/// The C entry point: see `start` for why the Rust runtime's start-up is skipped.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    start::run(chela_main)
}

/// Test builds: the harness provides the entry point. An ordinary `main` keeps the program
/// reachable for the compiler's dead-code analysis.
#[cfg(test)]
fn main() {
    start::run(chela_main);
}

/// `chela sandbox run` alone, for [`parse_args`].
#[derive(Parser)]
#[command(name = "chela", bin_name = "chela sandbox run", about = admin::SANDBOX_RUN_ABOUT)]
struct SandboxRunCli {
    #[command(flatten)]
    args: admin::SandboxRunArgs,
}

/// Parses the command line. `chela sandbox run` wraps other programs, so it is parsed on its
/// own, with the same argument definitions, instead of building the whole command tree first;
/// everything else goes through [`Cli`].
fn parse_args() -> Cli {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "chela".into());
    let rest: Vec<std::ffi::OsString> = args.collect();
    if rest.len() >= 2 && rest[0] == "sandbox" && rest[1] == "run" {
        let run = SandboxRunCli::parse_from(std::iter::once(argv0).chain(rest.into_iter().skip(2)));
        return Cli {
            command: Command::Sandbox(admin::SandboxCmd::Run(run.args)),
        };
    }
    Cli::parse_from(std::iter::once(argv0).chain(rest))
}

/// The whole program; returns the exit status.
fn chela_main() -> u8 {
    // CN-A3: refuse root before touching anything. `--help`/`--version` are answered by clap
    // without side effects, so parse first and check before dispatching any command.
    let cli = parse_args();
    // `chela assess` may run as root: an administrator auditing the host. It then reports CN-A3
    // as failed. Anything that changes state (`--fix`, `attest`, `baseline`) is still refused.
    let read_only_assess =
        matches!(&cli.command, Command::Assess(a) if !a.fix && a.command.is_none());
    if uid::effective_uid() == 0 && !read_only_assess {
        eprintln!("{}", uid::ROOT_REFUSAL);
        return exit::UNSAFE_ENV as u8;
    }
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(x) => {
                eprintln!("chela: {}", x.message);
                x.code
            }
            None => {
                eprintln!("chela: {e:#}");
                exit::FAILURE
            }
        },
    };
    code.clamp(0, 255) as u8
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn dispatch(cli: Cli) -> Result<i32> {
    let home = Home::locate().map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    match cli.command {
        Command::Init(a) => cmd_init(&home, a),
        Command::Run(a) => cmd_run(&home, a),
        Command::Chat(a) => chat::run(&home, a.workspace, a.session),
        Command::Config(ConfigCmd::Check) => cmd_config_check(&home),
        Command::Config(ConfigCmd::Path) => {
            println!("{}", home.config().display());
            Ok(exit::OK)
        }
        Command::Sessions(c) => cmd_sessions(&home, c),
        Command::Sandbox(c) => admin::sandbox(&home, c),
        Command::Audit(c) => admin::audit(&home, c),
        Command::Policy(c) => admin::policy(&home, c),
        Command::Scan(a) => admin::scan(a),
        Command::Secrets(c) => admin::secrets(&home, c),
        Command::Assess(a) => Ok(chela_assess::run_assess_cli(&home.root, a)),
        Command::Update(a) => Ok(chela_assess::run_update_cli(&home.root, a)),
    }
}

fn cmd_init(home: &Home, a: InitArgs) -> Result<i32> {
    let answers = if a.non_interactive {
        let missing: Vec<&str> = [
            ("--provider", &a.provider),
            ("--base-url", &a.base_url),
            ("--model", &a.model),
        ]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            return Err(exit_err(
                exit::USAGE,
                format!("--non-interactive needs {}", missing.join(", ")),
            ));
        }
        Some(InitAnswers {
            provider: a.provider.unwrap_or_default(),
            base_url: a.base_url.unwrap_or_default(),
            model: a.model.unwrap_or_default(),
            api_key_env: a.api_key_env.unwrap_or_default(),
        })
    } else {
        None
    };
    home::init(home, answers, a.force).map_err(|e| exit_err(exit::USAGE, format!("{e:#}")))?;
    eprintln!("Chela is set up in {}", home.root.display());
    eprintln!(
        "  configuration: {}  (check it with `chela config check`)",
        home.config().display()
    );
    eprintln!("  workspace:     {}", home.workspace().display());
    eprintln!("Next: chela run \"list the files in the workspace\"");
    Ok(exit::OK)
}

fn cmd_run(home: &Home, a: RunArgs) -> Result<i32> {
    let task = a.task.join(" ");
    if task.trim().is_empty() {
        return Err(exit_err(exit::USAGE, "the task is empty"));
    }
    let session = a
        .session
        .unwrap_or_else(|| session::fresh_session_name("run"));
    let rt = runtime()?;
    let approver: Option<Arc<dyn ApprovalQueue>> = if std::io::stdin().is_terminal() {
        Some(Arc::new(approve::TerminalApprover::new(
            approve::Input::Stdin,
            session::owner_name(),
        )))
    } else {
        None
    };
    let mut opened = session::open(home, a.workspace, &session, "run", approver)?;
    let mut printer = session::RunPrinter::new();
    let result = rt.block_on(opened.agent.run_task(&task, &mut printer));
    let code = match result {
        Ok(chela_agent::TaskOutcome::Completed(answer)) => {
            println!("{}", answer.trim_end());
            exit::OK
        }
        Ok(chela_agent::TaskOutcome::Refused { answer, refusals }) => {
            if !answer.trim().is_empty() {
                println!("{}", answer.trim_end());
            }
            eprintln!(
                "chela: the task ended with {} refused action(s):",
                refusals.len()
            );
            for r in &refusals {
                eprintln!("  - {r}");
            }
            eprintln!("Run `chela policy explain` on a command to see why, or `chela audit show --session {session}`.");
            exit::REFUSED
        }
        Ok(chela_agent::TaskOutcome::Unsafe { answer, reason }) => {
            if !answer.trim().is_empty() {
                println!("{}", answer.trim_end());
            }
            eprintln!("chela: {reason}");
            exit::UNSAFE_ENV
        }
        Ok(chela_agent::TaskOutcome::Limit(why)) => {
            eprintln!("chela: {why}");
            exit::FAILURE
        }
        Err(e) => {
            eprintln!("chela: {e}");
            exit::FAILURE
        }
    };
    let _ = opened.audit.append(Event::new(
        Some(&session),
        Actor::System,
        EventKind::ChelaStopped { exit_code: code },
    ));
    if let Err(e) = opened.audit.close() {
        eprintln!("chela: audit: could not write the closing checkpoint: {e}");
    }
    Ok(code)
}

fn cmd_config_check(home: &Home) -> Result<i32> {
    home.require_initialised()
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    let cfg = chela_agent::config::Config::load(&home.config())
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    println!("{}: OK", cfg.path.display());
    println!(
        "  provider: {} model {} at {}",
        cfg.provider.kind.as_str(),
        cfg.provider.model,
        cfg.provider.base_url
    );
    if !cfg.provider.fallback_models.is_empty() {
        println!(
            "  fallback models: {}",
            cfg.provider.fallback_models.join(", ")
        );
    }
    match &cfg.provider.api_key_env {
        Some(v) if std::env::var(v).map(|s| !s.is_empty()).unwrap_or(false) => {
            println!("  API key: from ${v} (set)")
        }
        Some(v) => println!("  API key: from ${v} (NOT SET in this environment)"),
        None => println!("  API key: none (a local server without authentication)"),
    }
    println!(
        "  limits: {} steps, {} tokens per task; exec timeout {}s",
        cfg.agent.max_steps, cfg.agent.max_tokens_per_task, cfg.sandbox.exec_timeout_s
    );
    Ok(exit::OK)
}

fn cmd_sessions(home: &Home, c: SessionsCmd) -> Result<i32> {
    home.require_initialised()
        .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
    let store = chela_store::Store::open(&home.state_db()).map_err(|e| anyhow::anyhow!("{e}"))?;
    match c {
        SessionsCmd::List => {
            let list = store.list_sessions().map_err(|e| anyhow::anyhow!("{e}"))?;
            if list.is_empty() {
                println!("no sessions yet; start one with `chela run` or `chela chat`");
                return Ok(exit::OK);
            }
            println!("{:<36} {:>8}  UPDATED", "SESSION", "MESSAGES");
            for s in list {
                let updated = humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(s.updated),
                );
                println!("{:<36} {:>8}  {}", s.name, s.messages, updated);
            }
        }
        SessionsCmd::Show { name } => {
            let msgs = store
                .messages(&name)
                .map_err(|e| exit_err(exit::USAGE, e.to_string()))?;
            for m in msgs {
                let who = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                };
                if !m.content.is_empty() {
                    println!("[{who}] {}", m.content);
                }
                for c in &m.tool_calls {
                    println!("[{who} → {}] {}", c.name, c.arguments);
                }
            }
        }
    }
    Ok(exit::OK)
}
