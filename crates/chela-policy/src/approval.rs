//! The approval queue: how the kernel's "needs approval" reaches a human (terminal prompt now,
//! the gateway and chat channels later) and how the answer becomes an [`Approval`] bound to the
//! exact call. Synchronous on purpose: no async runtime is needed to implement or call it.

use chela_types::{Decision, Verdict};
use serde::{Deserialize, Serialize};

use crate::decide::{approval_key, Approval, ApprovalBinding, ApprovalScope, Effect};
use crate::policy::Policy;

/// A human's answer to an approval prompt (`[y]es once / [s]ession / [n]o / [e]xplain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAnswer {
    /// Approve this one call.
    Once,
    /// Approve identical calls for the rest of the session (not offered for floor items).
    Session,
    /// Refuse.
    Deny,
    /// Show the explanation, then ask again.
    Explain,
}

impl ApprovalAnswer {
    /// Parses a terminal answer: `y`/`yes`/`o`/`once`, `s`/`session`, `n`/`no`/`deny`,
    /// `e`/`explain`, `?`. Anything else is `None` (ask again).
    pub fn parse(s: &str) -> Option<ApprovalAnswer> {
        match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "o" | "once" => Some(ApprovalAnswer::Once),
            "s" | "session" => Some(ApprovalAnswer::Session),
            "n" | "no" | "d" | "deny" => Some(ApprovalAnswer::Deny),
            "e" | "explain" | "?" => Some(ApprovalAnswer::Explain),
            _ => None,
        }
    }
}

/// What is shown to the approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Provider call id (or empty).
    pub call_id: String,
    /// [`approval_key`] of the effect.
    pub key: String,
    /// One-line summary of the effect.
    pub summary: String,
    /// The kernel's decision (verdict `NeedsApproval`).
    pub decision: Decision,
    /// What an approval will cover.
    pub binding: ApprovalBinding,
    /// Answers the approver may give (no `Session` for floor items).
    pub allowed: Vec<ApprovalAnswer>,
    /// The long explanation shown on `Explain`.
    pub explanation: String,
    /// The effect itself (so the answer can be turned into an [`Approval`]).
    pub effect: Effect,
}

impl ApprovalRequest {
    /// Builds the request for `effect` after `decision` asked for approval. `None` when the
    /// decision is not `NeedsApproval`.
    pub fn new(
        policy: &Policy,
        effect: &Effect,
        decision: &Decision,
        call_id: &str,
    ) -> Option<Self> {
        if decision.verdict != Verdict::NeedsApproval {
            return None;
        }
        let mut allowed = vec![ApprovalAnswer::Once];
        if decision.auto_approvable {
            allowed.push(ApprovalAnswer::Session);
        }
        allowed.push(ApprovalAnswer::Deny);
        allowed.push(ApprovalAnswer::Explain);
        Some(ApprovalRequest {
            call_id: call_id.to_string(),
            key: approval_key(effect),
            summary: effect.summary(),
            decision: decision.clone(),
            binding: ApprovalBinding::of(effect),
            allowed,
            explanation: crate::explain::explain_effect(policy, effect, &Default::default()),
            effect: effect.clone(),
        })
    }

    /// The prompt line for a terminal, e.g. `[y]es once / [s]ession / [n]o / [e]xplain`.
    pub fn prompt(&self) -> String {
        let opts: Vec<&str> = self
            .allowed
            .iter()
            .map(|a| match a {
                ApprovalAnswer::Once => "[y]es once",
                ApprovalAnswer::Session => "[s]ession",
                ApprovalAnswer::Deny => "[n]o",
                ApprovalAnswer::Explain => "[e]xplain",
            })
            .collect();
        format!(
            "Chela wants to {} — {} (rule {}). Allow? {}",
            self.summary,
            self.decision.reason,
            self.decision.rule,
            opts.join(" / ")
        )
    }
}

/// One reply from an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalReply {
    /// The answer.
    pub answer: ApprovalAnswer,
    /// Who answered (`owner:alice`, `telegram:12345`, …).
    pub approver: String,
    /// Optional reason.
    pub reason: String,
}

/// No approver could be reached (no terminal, gateway down): the effect is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no approver is available ({0}); the effect is refused")]
pub struct ApprovalUnavailable(pub String);

/// Answers approval requests. Implemented by the terminal prompt in `chela chat`, later by the
/// gateway and chat channels. Blocking; implementations that wait on another thread or socket
/// block until the human answers or a timeout passes (then return `Err` or a `Deny`).
pub trait ApprovalQueue: Send + Sync {
    /// Asks for an answer to `req`.
    fn ask(&self, req: &ApprovalRequest) -> Result<ApprovalReply, ApprovalUnavailable>;

    /// Shows the explanation after an `Explain` answer (default: nothing; `ask` is called
    /// again and may show `req.explanation` itself).
    fn show_explanation(&self, _req: &ApprovalRequest) -> Result<(), ApprovalUnavailable> {
        Ok(())
    }
}

/// The queue used when nobody can be asked (`chela run` without a terminal): every request is
/// refused with approver `policy:no-approver`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoApprover;

impl ApprovalQueue for NoApprover {
    fn ask(&self, _req: &ApprovalRequest) -> Result<ApprovalReply, ApprovalUnavailable> {
        Err(ApprovalUnavailable(
            "no terminal or approval channel is attached".into(),
        ))
    }
}

/// The result of asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalOutcome {
    /// Approved: record it with [`crate::SessionState::grant`] (and audit `ApprovalGranted`).
    Granted(Approval),
    /// Refused (audit `ApprovalDenied`).
    Denied {
        /// Who refused (`policy:no-approver` when nobody could be asked).
        approver: String,
        /// Why.
        reason: String,
    },
}

/// Asks `queue` about `req` until it gets `Once`, `Session` or `Deny` (at most 5 rounds of
/// `Explain`). A `Session` answer to a floor item counts as `Once`: floor items are approved
/// one exact call at a time.
pub fn request_approval(
    policy: &Policy,
    queue: &dyn ApprovalQueue,
    req: &ApprovalRequest,
) -> ApprovalOutcome {
    for _ in 0..6 {
        let reply = match queue.ask(req) {
            Ok(r) => r,
            Err(e) => {
                return ApprovalOutcome::Denied {
                    approver: "policy:no-approver".into(),
                    reason: e.to_string(),
                }
            }
        };
        let scope = match reply.answer {
            ApprovalAnswer::Explain => {
                if let Err(e) = queue.show_explanation(req) {
                    return ApprovalOutcome::Denied {
                        approver: "policy:no-approver".into(),
                        reason: e.to_string(),
                    };
                }
                continue;
            }
            ApprovalAnswer::Deny => {
                return ApprovalOutcome::Denied {
                    approver: reply.approver,
                    reason: if reply.reason.is_empty() {
                        "refused by the approver".into()
                    } else {
                        reply.reason
                    },
                }
            }
            ApprovalAnswer::Once => ApprovalScope::Once,
            ApprovalAnswer::Session if req.decision.auto_approvable => ApprovalScope::Session,
            ApprovalAnswer::Session => ApprovalScope::Once,
        };
        return match Approval::grant(
            policy,
            &req.effect,
            &req.decision,
            scope,
            &reply.approver,
            &reply.reason,
        ) {
            Ok(a) => ApprovalOutcome::Granted(a),
            Err(e) => ApprovalOutcome::Denied {
                approver: reply.approver,
                reason: e.to_string(),
            },
        };
    }
    ApprovalOutcome::Denied {
        approver: "policy:no-answer".into(),
        reason: "no decision after repeated explanations".into(),
    }
}
