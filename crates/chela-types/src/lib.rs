//! Chela's shared vocabulary.
//!
//! Every crate in the workspace speaks these types: conversation messages and tool calls (between
//! the agent loop and providers), policy decisions (from the kernel), taint, and the audit events
//! that record every decision and effect. This crate performs no I/O and holds no policy: it is
//! the contract between the crates that do.

pub mod event;
pub mod message;
pub mod policy;

pub use event::{Actor, Event, EventKind, GuardHitRecord};
pub use message::{Message, Role, ToolCall, ToolSpec, Usage};
pub use policy::{Decision, Taint, Verdict};

/// Exit codes shared by every `chela` command (DESIGN.md, "Public surface").
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Anything not covered below.
    pub const FAILURE: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// Refused by policy or by the guard.
    pub const REFUSED: i32 = 3;
    /// The environment is unsafe (running as root, no sandbox available).
    pub const UNSAFE_ENV: i32 = 4;
    /// `chela assess` found at least one failing item.
    pub const ASSESS_FAIL: i32 = 5;
    /// A sandboxed program exceeded its wall-clock timeout (same convention as `timeout(1)`).
    pub const TIMEOUT: i32 = 124;
}

/// Where crates that perform effects (net, sandbox proxy, store) send their audit events.
///
/// Implemented by `chela-audit`'s log; effect-owning crates depend only on this trait so they do
/// not need to know how records are stored. `record` must not return before the event is
/// appended (it may be buffered for group commit); an `Err` means the log cannot be written and
/// the caller must refuse the effect (fail closed).
pub trait AuditSink: Send + Sync {
    /// Appends one event; returns its sequence number.
    fn record(&self, event: Event) -> Result<u64, AuditUnavailable>;
}

/// The audit log could not record an event; effects must be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditUnavailable(pub String);

impl std::fmt::Display for AuditUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the audit log cannot be written ({}); effects are refused until it can (NVDB-6)",
            self.0
        )
    }
}

impl std::error::Error for AuditUnavailable {}

/// Masks secret values in text before it is stored or sent (implemented by `chela-guard`).
pub trait Scrubber: Send + Sync {
    /// Returns `text` with every secret value masked.
    fn scrub(&self, text: &str) -> String;
}
