//! A small driver showing how `chela audit …` uses this crate (the real CLI lives in
//! chela-cli). Usage:
//!
//! ```text
//! cargo run -p chela-audit --example audit -- demo DIR [N]        # write N sample events
//! cargo run -p chela-audit --example audit -- verify DIR [--pubkey FILE] [--json]
//! cargo run -p chela-audit --example audit -- show DIR [--session S] [--kind K] [--since 1h] [--json]
//! cargo run -p chela-audit --example audit -- export DIR --format jsonl|syslog|cef [--to TARGET]
//! cargo run -p chela-audit --example audit -- pubkey DIR
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use chela_audit::{
    export, public_key, read_records, render_table, verify, AuditLog, ExportFormat, ExportSink,
    RecordFilter,
};
use chela_types::{Actor, Decision, Event, EventKind, GuardHitRecord};

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn demo(dir: &Path, n: u64) -> Result<(), String> {
    let log = AuditLog::open(dir).map_err(|e| e.to_string())?;
    let owner = Actor::Owner {
        user: "alice".into(),
    };
    let s = Some("demo");
    let put = |e: Event| log.append(e).map(|_| ()).map_err(|e| e.to_string());
    put(Event::new(
        None,
        Actor::System,
        EventKind::ChelaStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            uid: 1000,
            command: "run".into(),
            sandbox: "userns+landlock+seccomp".into(),
        },
    ))?;
    for i in 0..n {
        let call = format!("call_{i}");
        put(Event::new(
            s,
            Actor::Agent,
            EventKind::ToolProposed {
                call_id: call.clone(),
                tool: "exec".into(),
                arguments: format!("{{\"cmd\":\"ls -la /workspace/{i}\"}}"),
            },
        ))?;
        let decision = if i % 5 == 4 {
            Decision::deny(
                "floor.recursive_delete",
                "rm -rf needs confirmation",
                &["CN-D6"],
            )
        } else {
            Decision::allow("tools.allowlist", "exec is allowed in the workspace")
        };
        put(Event::new(
            s,
            Actor::Agent,
            EventKind::PolicyDecision {
                call_id: call.clone(),
                tool: "exec".into(),
                decision,
            },
        ))?;
        if i % 7 == 3 {
            put(Event::new(
                s,
                owner.clone(),
                EventKind::GuardHit(GuardHitRecord {
                    detector: "openai_api_key".into(),
                    count: 1,
                    location: "tool_output:exec".into(),
                    action: "redact".into(),
                }),
            ))?;
        }
    }
    put(Event::new(
        None,
        Actor::System,
        EventKind::ChelaStopped { exit_code: 0 },
    ))?;
    log.close().map_err(|e| e.to_string())
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (cmd, dir) = match (args.first(), args.get(1)) {
        (Some(c), Some(d)) => (c.as_str(), PathBuf::from(d)),
        _ => return Err("usage: audit demo|verify|show|export|pubkey DIR [options]".into()),
    };
    let json = args.iter().any(|a| a == "--json");
    match cmd {
        "demo" => {
            let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10);
            demo(&dir, n)?;
            Ok(ExitCode::SUCCESS)
        }
        "verify" => {
            let pk = opt(args, "--pubkey").map(PathBuf::from);
            let r = verify(&dir, pk.as_deref()).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", r.summary());
            }
            Ok(if r.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        "show" => {
            let since = match opt(args, "--since") {
                Some(s) => Some(
                    humantime::parse_duration(&s)
                        .map(|d| SystemTime::now() - d)
                        .or_else(|_| humantime::parse_rfc3339_weak(&s))
                        .map_err(|e| format!("--since {s}: {e}"))?,
                ),
                None => None,
            };
            let filter = RecordFilter {
                session: opt(args, "--session"),
                kind: opt(args, "--kind"),
                since,
                ..Default::default()
            };
            let recs = read_records(&dir, &filter).map_err(|e| e.to_string())?;
            if json {
                for r in &recs {
                    println!("{}", r.raw);
                }
            } else {
                print!("{}", render_table(&recs));
            }
            Ok(ExitCode::SUCCESS)
        }
        "export" => {
            let format: ExportFormat = opt(args, "--format")
                .unwrap_or_else(|| "jsonl".into())
                .parse()
                .map_err(|e: chela_audit::AuditError| e.to_string())?;
            let sink = ExportSink::parse(&opt(args, "--to").unwrap_or_else(|| "-".into()))
                .map_err(|e| e.to_string())?;
            let n =
                export(&dir, format, &sink, &RecordFilter::default()).map_err(|e| e.to_string())?;
            eprintln!("exported {n} records");
            Ok(ExitCode::SUCCESS)
        }
        "pubkey" => {
            println!("{}", public_key(&dir).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
