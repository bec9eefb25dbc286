//! `chela assess`: every item of the CNCERT/CSAC OpenClaw guidance (GUIDANCE.md) checked on the
//! running installation, with live evidence, remediation, OWASP mapping and safe fixes
//! (CN-D7, CN-D8).
//!
//! * [`assess`] gathers evidence ([`facts`]) and evaluates one check per item ([`checks`]).
//! * [`run_assess_cli`] is `chela assess [--json] [--format …] [--fix]`, `chela assess attest
//!   ID --note TEXT` and `chela assess baseline`; [`run_update_cli`] is `chela update check`.
//! * [`record_baseline`] records the configuration hash baseline (called by `chela init`).
//!
//! The JSON report schema is documented in `docs/assess-schema.md`.

pub mod attest;
pub mod baseline;
pub mod checks;
pub mod facts;
pub mod feed;
pub mod fix;
pub mod guidance;
pub mod host;
pub mod model;
pub mod probe;
pub mod render;
pub mod util;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

pub use baseline::Baseline;
pub use facts::Options;
pub use model::{Report, Status, SCHEMA_VERSION};
pub use util::AssessError;

use chela_types::exit;

/// Runs every check and builds the report.
pub fn assess(opts: &Options) -> Report {
    let f = facts::gather(opts);
    report_from(&f)
}

/// Builds a report from gathered facts.
pub fn report_from(f: &facts::Facts) -> Report {
    let items = checks::evaluate(f);
    let (kernel, arch) = match &f.sandbox {
        Some(s) => (s.kernel.kernel.clone(), s.kernel.arch.clone()),
        None => (
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            std::env::consts::ARCH.to_string(),
        ),
    };
    let audit_head = match &f.audit.verify {
        Ok(r) => Some(model::AuditHead {
            seq: r.last_seq,
            hash: r.last_hash.clone(),
            pubkey: Some(r.pubkey.clone()),
            verified: r.ok,
        }),
        Err(_) => None,
    };
    let mut r = Report {
        schema_version: SCHEMA_VERSION,
        tool: "chela assess".into(),
        chela_version: feed::CURRENT_VERSION.into(),
        release_build: !cfg!(debug_assertions),
        generated_at: util::rfc3339(f.now),
        chela_home: f.home.display().to_string(),
        host: model::HostInfo {
            hostname: host::hostname(&host::Roots::default()),
            kernel,
            arch,
            euid: f.euid,
            user: f.user.clone(),
            environment: f.environment.kind.to_string(),
        },
        audit_head,
        summary: Default::default(),
        exit_code: 0,
        items,
    };
    r.finish();
    r
}

/// Records the configuration hash baseline of `home` (CN-D7) and audits it; `chela init` calls
/// this after writing config.toml. Opens (and so creates) the audit log first.
pub fn record_baseline(home: &Path) -> Result<Baseline, AssessError> {
    baseline::record_with(home, Path::new(baseline::ORG_POLICY))
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table grouped by audience (coloured on a terminal).
    Table,
    /// The JSON report (docs/assess-schema.md).
    Json,
    /// A Markdown report to file.
    Markdown,
    /// A self-contained, print-friendly HTML report to file.
    Html,
}

/// `chela assess`: check every guidance item on this installation, with evidence.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AssessArgs {
    /// Attest a manual item or record the baseline.
    #[command(subcommand)]
    pub command: Option<AssessCommand>,
    /// Print the JSON report (same as --format json).
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Apply the safe fixes (file modes, audit directory, baseline, weak gateway token), listing
    /// and auditing each, then assess again.
    #[arg(long)]
    pub fix: bool,
    /// Skip the live sandbox escape probe.
    #[arg(long)]
    pub no_probe: bool,
    /// Do not contact the advisory feed; use the last stored check.
    #[arg(long)]
    pub offline: bool,
    /// Ask for the vault passphrase to read credential ages with authentication.
    #[arg(long)]
    pub unlock_vault: bool,
}

/// `chela assess` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AssessCommand {
    /// Record that a manual item (CN-B4, CN-B6, CN-C2) is evidenced by a document or exercise.
    Attest {
        /// Guidance ID.
        id: String,
        /// What evidences it (document, version, date).
        #[arg(long)]
        note: String,
    },
    /// Record the configuration hash baseline now (after reviewing a change).
    Baseline,
}

/// `chela update`: compare this version with a signed advisory feed.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: UpdateCommand,
}

/// `chela update` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum UpdateCommand {
    /// Compare this version with a signed advisory feed.
    Check {
        /// Feed URL (https://…) or file.
        #[arg(long)]
        feed: String,
        /// File with the feed's ed25519 public key (`ed25519:<base64>`); pinned after success.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn last_run_record(home: &Path, r: &Report) {
    let dir = home.join("assess");
    if home.is_dir() && util::private_dir(&dir).is_ok() {
        let v = serde_json::json!({
            "at": r.generated_at,
            "at_unix": util::now_unix(),
            "summary": r.summary,
            "exit_code": r.exit_code,
        });
        let _ = util::write_private(&facts::last_run_path(home), format!("{v}\n").as_bytes());
    }
}

/// `chela assess …`; returns the exit code (0 nothing fails, 5 something fails, 2 usage).
pub fn run_assess_cli(home: &Path, args: AssessArgs) -> i32 {
    match args.command {
        Some(AssessCommand::Attest { id, note }) => match attest::attest(home, &id, &note) {
            Ok(a) => {
                println!(
                    "{} attested by {} at {} (audit record {}): {}",
                    a.id,
                    a.by,
                    a.at,
                    a.audit_seq
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    a.note
                );
                exit::OK
            }
            Err(e) => {
                eprintln!("chela assess attest: {e}");
                match e {
                    AssessError::Usage(_) => exit::USAGE,
                    _ => exit::FAILURE,
                }
            }
        },
        Some(AssessCommand::Baseline) => match record_baseline(home) {
            Ok(b) => {
                println!(
                    "baseline recorded at {} ({}):",
                    b.recorded_at,
                    home.join(baseline::BASELINE_FILE).display()
                );
                for f in &b.files {
                    println!("  {}  {}", f.sha256, f.path);
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("chela assess baseline: {e}");
                exit::FAILURE
            }
        },
        None => run_report(home, &args),
    }
}

fn run_report(home: &Path, args: &AssessArgs) -> i32 {
    if !home.exists() {
        eprintln!(
            "chela assess: {} does not exist; run `chela init` first (or set CHELA_HOME)",
            home.display()
        );
        return exit::USAGE;
    }
    // An administrator auditing someone else's home must not leave root-owned files in it.
    let owner = std::fs::metadata(home).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let foreign = owner
        .as_ref()
        .map(|o| *o != host::effective_uid())
        .unwrap_or(true);
    if foreign && args.fix {
        eprintln!(
            "chela assess --fix: {} belongs to another user; run --fix as its owner so every change is theirs and recorded in their audit log",
            home.display()
        );
        return exit::USAGE;
    }
    let mut opts = Options::new(home);
    if foreign {
        // Daily-use signs are looked for in the Chela user's home, not the auditor's.
        if let Ok(o) = owner {
            opts.user_home = host::user_dir(o);
        }
    }
    opts.probe = !args.no_probe;
    opts.refresh_feed = !args.offline && !foreign;
    opts.unlock_vault = args.unlock_vault;
    let format = if args.json {
        Format::Json
    } else {
        args.format.unwrap_or(Format::Table)
    };
    let mut report = assess(&opts);
    if args.fix {
        let fixes = report.fixes();
        if fixes.is_empty() {
            eprintln!("chela assess --fix: nothing to fix safely");
        } else {
            match fix::apply(home, &fixes, &mut std::io::stderr()) {
                Ok(n) => eprintln!(
                    "chela assess --fix: {n} change(s) applied and audited; assessing again"
                ),
                Err(e) => {
                    eprintln!("chela assess --fix: {e}");
                    return exit::FAILURE;
                }
            }
            report = assess(&opts);
        }
    }
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Markdown => render::markdown(&report),
        Format::Html => render::html(&report),
        Format::Table => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            render::table(&report, color)
        }
    };
    let written = match &args.output {
        Some(p) => util::write_private(p, text.as_bytes()).map(|_| {
            eprintln!("report written to {}", p.display());
        }),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| AssessError::Io {
                path: PathBuf::from("stdout"),
                source: e,
            }),
    };
    if let Err(e) = written {
        eprintln!("chela assess: {e}");
        return exit::FAILURE;
    }
    if !foreign {
        last_run_record(home, &report);
    }
    report.exit_code
}

/// `chela update check --feed URL|FILE [--pubkey FILE] [--json]`; 0 when this version has no
/// known advisory, 5 when it is affected, 1 when the feed cannot be fetched or verified,
/// 2 on usage errors.
pub fn run_update_cli(home: &Path, args: UpdateArgs) -> i32 {
    let UpdateCommand::Check {
        feed: src,
        pubkey,
        json,
    } = args.command;
    if !home.exists() {
        eprintln!(
            "chela update check: {} does not exist; run `chela init` first (or set CHELA_HOME)",
            home.display()
        );
        return exit::USAGE;
    }
    match feed::check(home, &src, pubkey.as_deref(), Duration::from_secs(15)) {
        Ok(rec) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&rec).unwrap_or_default());
            } else {
                println!(
                    "chela {}: latest official release {} (feed issued {}, verified with {})",
                    rec.current, rec.latest, rec.issued, rec.key
                );
                if rec.affecting.is_empty() {
                    println!("no known advisory affects this version");
                } else {
                    for a in &rec.affecting {
                        println!(
                            "AFFECTED by {} [{}]: {} (fixed in {})",
                            a.id,
                            a.severity,
                            a.summary,
                            a.fixed.as_deref().unwrap_or("no fix yet")
                        );
                    }
                }
            }
            if rec.affecting.is_empty() {
                exit::OK
            } else {
                exit::ASSESS_FAIL
            }
        }
        Err(e) => {
            eprintln!("chela update check: {e}");
            if let Some(l) = feed::last_check(home) {
                eprintln!("last successful check: {} ({})", l.checked_at, l.feed);
            }
            match e {
                AssessError::Usage(_) => exit::USAGE,
                _ => exit::FAILURE,
            }
        }
    }
}
