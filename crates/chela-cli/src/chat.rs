//! `chela chat`: an interactive conversation with streamed output.
//!
//! Lines are read on a blocking thread and handed over a channel, so Ctrl-C (SIGINT) can cancel
//! the turn in progress without ending the process: the turn's future is dropped, which aborts
//! the HTTP request; nothing of an unfinished step is stored in the transcript.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use chela_types::{exit, Actor, Event, EventKind};
use std::sync::Arc;

use chela_policy::ApprovalQueue;
use tokio::sync::{mpsc, Mutex};

use crate::approve::{Input, TerminalApprover};

use crate::home::Home;
use crate::session::{self, ChatPrinter};

const HELP: &str = "Commands: /new (start a new session), /session (show its name), /exit (quit). Ctrl-C cancels the current answer; Ctrl-D quits.";

/// Runs the REPL until `/exit` or end of input.
pub fn run(home: &Home, workspace: Option<PathBuf>, session_name: Option<String>) -> Result<i32> {
    let name = session_name.unwrap_or_else(|| session::fresh_session_name("chat"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let interactive = std::io::stdin().is_terminal();
    let (tx, rx) = mpsc::channel::<String>(1);
    let rx = Arc::new(Mutex::new(rx));
    let approver: Option<Arc<dyn ApprovalQueue>> = interactive.then(|| {
        Arc::new(TerminalApprover::new(
            Input::Lines(rx.clone()),
            session::owner_name(),
        )) as Arc<dyn ApprovalQueue>
    });
    let mut opened = session::open(home, workspace, &name, "chat", approver)?;
    eprintln!("Chela chat — session {}. {HELP}", opened.agent.session());

    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.blocking_send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });

    let code = rt.block_on(async {
        let mut printer = ChatPrinter::new();
        loop {
            if interactive {
                eprint!("you> ");
                std::io::stderr().flush().ok();
            }
            let line = tokio::select! {
                l = async { rx.lock().await.recv().await } => l,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("\n(use /exit or Ctrl-D to quit)");
                    continue;
                }
            };
            let Some(line) = line else { break exit::OK };
            let input = line.trim();
            match input {
                "" => continue,
                "/exit" | "/quit" => break exit::OK,
                "/help" => {
                    eprintln!("{HELP}");
                    continue;
                }
                "/session" => {
                    eprintln!("session {}", opened.agent.session());
                    continue;
                }
                "/new" => {
                    let fresh = session::fresh_session_name("chat");
                    match opened.agent.switch_session(&fresh) {
                        Ok(()) => eprintln!("started session {fresh}"),
                        Err(e) => eprintln!("chela: {e}"),
                    }
                    continue;
                }
                _ if input.starts_with('/') => {
                    eprintln!("unknown command {input}. {HELP}");
                    continue;
                }
                _ => {}
            }
            let turn = opened.agent.run_task(input, &mut printer);
            tokio::select! {
                r = turn => match r {
                    Ok(chela_agent::TaskOutcome::Completed(_)) => {}
                    Ok(chela_agent::TaskOutcome::Refused { refusals, .. }) => {
                        eprintln!("({} action(s) refused by policy)", refusals.len());
                    }
                    Ok(chela_agent::TaskOutcome::Limit(why)) => eprintln!("chela: {why}"),
                    Ok(chela_agent::TaskOutcome::Unsafe { reason, .. }) => eprintln!("chela: {reason}"),
                    Err(e) => eprintln!("chela: {e}"),
                },
                _ = tokio::signal::ctrl_c() => {
                    println!();
                    eprintln!("(cancelled)");
                    let _ = opened.audit.append(Event::new(
                        Some(opened.agent.session()),
                        Actor::System,
                        EventKind::TaskFinished { outcome: "cancelled".into(), steps: 0 },
                    ));
                }
            }
        }
    });
    let _ = opened.audit.append(Event::new(
        Some(opened.agent.session()),
        Actor::System,
        EventKind::ChelaStopped { exit_code: code },
    ));
    if let Err(e) = opened.audit.close() {
        eprintln!("chela: audit: could not write the closing checkpoint: {e}");
    }
    Ok(code)
}
