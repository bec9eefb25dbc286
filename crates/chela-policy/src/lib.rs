//! Chela's kernel: the one decision point for every effect (DESIGN.md, "Trust model").
//!
//! The crate is pure: it performs no I/O except parsing policy text handed to it (the CLI reads
//! the files). It answers one question — may this effect run? — from:
//!
//! * the **command class** of each part of a shell command line ([`classify()`]), found with a
//!   real parser ([`shell`]) that sees through quoting, escapes, variables, `IFS` tricks,
//!   substitutions, heredocs and nested `bash -c` / `eval` / `base64 -d | sh` code;
//! * the **policy** ([`Policy`]): built-in defaults < user `config.toml` < organisation policy
//!   (`/etc/chela/policy.toml`, which only tightens), tool profiles and allow/deny lists (CN-D4),
//!   approval mode and allow rules, taint settings and loop-breaker limits;
//! * the **floor** (CN-D6), which no setting can lift: Chela's own files and secrets egress are
//!   denied; destructive, privilege, installer and config-tamper commands always need a human;
//! * the **session** ([`SessionState`]): taint (rule of two), hosts contacted, approvals bound
//!   to the exact call ([`approval_key`]).
//!
//! Every [`chela_types::Decision`] carries a rule id, a reason and guidance IDs. [`explain()`]
//! turns a decision into text a newcomer understands; [`Policy::render_show`] prints the
//! effective policy with each rule's source.

#![warn(missing_docs)]

pub mod approval;
pub mod classify;
pub mod decide;
pub mod explain;
pub mod limits;
pub mod paths;
pub mod policy;
pub mod shell;
pub mod toolcall;

pub use approval::{
    request_approval, ApprovalAnswer, ApprovalOutcome, ApprovalQueue, ApprovalReply,
    ApprovalRequest, ApprovalUnavailable, NoApprover,
};
pub use classify::{classify, classify_argv, classify_at, Classification, CommandClass, Segment};
pub use decide::{
    approval_key, rules, Approval, ApprovalBinding, ApprovalError, ApprovalScope, Assessment,
    Effect, ScriptDigest, SessionState,
};
pub use explain::{explain, explain_effect, guidance_text};
pub use limits::{LoopBreaker, LoopTrip};
pub use paths::CommandContext;
pub use policy::{
    AllowRule, ApprovalMode, Gate, LoopLimits, Policy, PolicyError, PolicyWarning, Profile,
    RuleKind, RuleSource, Sourced,
};
pub use toolcall::{url_host, KNOWN_TOOLS};
