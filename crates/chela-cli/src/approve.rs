//! The terminal approver: asks the owner `[y]es once / [s]ession / [n]o / [e]xplain` on stderr
//! and reads the answer from the terminal (CN-B4: the approver's identity is recorded).

use std::io::{BufRead, Write};
use std::sync::Arc;

use chela_policy::{
    ApprovalAnswer, ApprovalQueue, ApprovalReply, ApprovalRequest, ApprovalUnavailable,
};
use tokio::sync::{mpsc, Mutex};

/// Where answers come from.
pub enum Input {
    /// Read lines from stdin directly (`chela run` on a terminal).
    Stdin,
    /// Lines forwarded by the chat REPL's reader thread.
    Lines(Arc<Mutex<mpsc::Receiver<String>>>),
}

/// Answers approval requests on the terminal.
pub struct TerminalApprover {
    input: Input,
    user: String,
}

impl TerminalApprover {
    /// An approver for the owner `user`.
    pub fn new(input: Input, user: String) -> Self {
        TerminalApprover { input, user }
    }

    fn read_line(&self) -> Result<String, ApprovalUnavailable> {
        match &self.input {
            Input::Stdin => {
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(0) => Err(ApprovalUnavailable("the terminal input was closed".into())),
                    Ok(_) => Ok(line),
                    Err(e) => Err(ApprovalUnavailable(format!(
                        "cannot read the terminal: {e}"
                    ))),
                }
            }
            Input::Lines(rx) => rx
                .blocking_lock()
                .blocking_recv()
                .ok_or_else(|| ApprovalUnavailable("the terminal input was closed".into())),
        }
    }
}

impl ApprovalQueue for TerminalApprover {
    fn ask(&self, req: &ApprovalRequest) -> Result<ApprovalReply, ApprovalUnavailable> {
        loop {
            eprint!("\n⚠ {}\n> ", req.prompt());
            std::io::stderr().flush().ok();
            let line = self.read_line()?;
            match ApprovalAnswer::parse(&line) {
                Some(ApprovalAnswer::Session)
                    if !req.allowed.contains(&ApprovalAnswer::Session) =>
                {
                    eprintln!("This action is on Chela's floor (CN-D6): it can only be approved once, for this exact call.");
                }
                Some(answer) => {
                    return Ok(ApprovalReply {
                        answer,
                        approver: format!("owner:{}", self.user),
                        reason: String::new(),
                    })
                }
                None => eprintln!("Please answer y, s, n or e."),
            }
        }
    }

    fn show_explanation(&self, req: &ApprovalRequest) -> Result<(), ApprovalUnavailable> {
        eprintln!("{}", req.explanation);
        Ok(())
    }
}
