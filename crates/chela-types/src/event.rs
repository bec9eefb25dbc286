//! Audit events: what happened, who caused it, in which session.
//!
//! The audit log (`chela-audit`) assigns time, sequence number and chain hashes when it appends an
//! [`Event`]; producers fill in only the actor, session and kind. Events never carry secret
//! values: producers pass arguments through the guard's redaction first, and guard hits record
//! detector, count and location only.

use serde::{Deserialize, Serialize};

use crate::policy::Decision;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// The owner at the terminal (with their OS user name).
    Owner {
        /// OS login name or uid.
        user: String,
    },
    /// A user speaking through a chat channel.
    ChannelUser {
        /// Channel name (e.g. `telegram`).
        channel: String,
        /// Channel-specific user id.
        user: String,
    },
    /// The model / agent loop.
    Agent,
    /// The scheduler.
    Scheduler,
    /// Chela itself (startup, shutdown, internal housekeeping).
    System,
}

/// One guard hit summary: never the value, only where and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardHitRecord {
    /// Stable detector ID (e.g. `openai_api_key`).
    pub detector: String,
    /// Number of matches.
    pub count: u32,
    /// Where it was found (e.g. `model_request`, `tool_output:read`, `file:notes.txt`).
    pub location: String,
    /// Action taken: `redact`, `block`, `warn` or `allow`.
    pub action: String,
}

/// What happened. Serialized with a `kind` tag; names are stable (schema version in chela-audit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A chela process started.
    ChelaStarted {
        /// Chela version.
        version: String,
        /// Effective uid.
        uid: u32,
        /// Command line subcommand (`run`, `chat`, …).
        command: String,
        /// Sandbox level enforced (e.g. `userns+mount+pid+net+landlock-v7+seccomp`) or `unavailable`.
        sandbox: String,
    },
    /// A chela process stopped cleanly.
    ChelaStopped {
        /// Exit code.
        exit_code: i32,
    },
    /// The configuration changed (or was created).
    ConfigChanged {
        /// File path.
        path: String,
        /// SHA-256 of the new content.
        sha256: String,
    },
    /// A request was sent to a model provider.
    ModelRequest {
        /// Provider kind (`openai`, `anthropic`).
        provider: String,
        /// Model name.
        model: String,
        /// SHA-256 of the serialized prompt (messages + tools).
        prompt_sha256: String,
        /// Number of messages sent.
        messages: u32,
        /// Prompt content, only when configured (`audit.record_prompts`), already redacted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    /// A model reply was received.
    ModelResponse {
        /// Model that answered (may be a fallback).
        model: String,
        /// Prompt tokens.
        input_tokens: u64,
        /// Completion tokens.
        output_tokens: u64,
        /// Number of tool calls in the reply.
        tool_calls: u32,
        /// Wall time of the request, milliseconds.
        duration_ms: u64,
    },
    /// A model request failed.
    ModelError {
        /// Model tried.
        model: String,
        /// Error text (no secrets).
        error: String,
    },
    /// The model proposed a tool call.
    ToolProposed {
        /// Provider call id.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments, redacted.
        arguments: String,
    },
    /// The kernel decided about a proposed effect.
    PolicyDecision {
        /// Provider call id (or empty for non-tool effects).
        call_id: String,
        /// Tool or effect name.
        tool: String,
        /// The decision with its rule and guidance IDs.
        decision: Decision,
    },
    /// A human approval was requested.
    ApprovalRequested {
        /// Provider call id.
        call_id: String,
        /// What is to be approved (redacted summary).
        summary: String,
        /// The rule that required approval.
        rule: String,
    },
    /// An approval was granted.
    ApprovalGranted {
        /// Provider call id.
        call_id: String,
        /// Who approved.
        approver: String,
        /// `once`, `session` or `rule`.
        scope: String,
    },
    /// An approval was denied (by a human or because no approver was attached).
    ApprovalDenied {
        /// Provider call id.
        call_id: String,
        /// Who denied (`policy:no-approver` when nobody could be asked).
        approver: String,
        /// Why.
        reason: String,
    },
    /// A tool started executing.
    ToolStarted {
        /// Provider call id.
        call_id: String,
        /// Tool name.
        tool: String,
    },
    /// A tool finished.
    ToolFinished {
        /// Provider call id.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Exit code for processes, 0/1 for in-process tools.
        exit_code: i32,
        /// Wall time, milliseconds.
        duration_ms: u64,
        /// Output size before capping, bytes.
        bytes: u64,
        /// SHA-256 of the output returned to the model.
        output_sha256: String,
        /// Short error text when the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The guard found something.
    GuardHit(GuardHitRecord),
    /// An outbound connection (HTTP client or sandbox proxy).
    Egress {
        /// Destination host.
        host: String,
        /// Destination port.
        port: u16,
        /// HTTP method or `CONNECT`.
        method: String,
        /// HTTP status, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// Bytes received.
        bytes: u64,
        /// Whether it was allowed.
        allowed: bool,
        /// Why it was refused, if it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Time from sending to the end of the response, milliseconds (on completion records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// The session became tainted by untrusted content.
    Tainted {
        /// Source of the untrusted content.
        source: String,
    },
    /// A limit or detector raised an alert.
    Alert {
        /// Rule or detector that fired.
        rule: String,
        /// Description.
        message: String,
        /// `info`, `warning` or `critical`.
        severity: String,
    },
    /// A task ended.
    TaskFinished {
        /// `completed`, `refused`, `limit`, `cancelled` or `error`.
        outcome: String,
        /// Number of model round trips.
        steps: u32,
    },
    /// An assessment item was attested by a human.
    Attestation {
        /// Guidance ID.
        item: String,
        /// The attestation note.
        note: String,
    },
}

/// An event as produced, before the audit log stamps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Session name, when the event belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// An event by `actor` in `session`.
    pub fn new(session: Option<&str>, actor: Actor, kind: EventKind) -> Self {
        Event {
            session: session.map(str::to_owned),
            actor,
            kind,
        }
    }

    /// The stable name of the event's kind (`tool_started`, …), as serialized.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            EventKind::ChelaStarted { .. } => "chela_started",
            EventKind::ChelaStopped { .. } => "chela_stopped",
            EventKind::ConfigChanged { .. } => "config_changed",
            EventKind::ModelRequest { .. } => "model_request",
            EventKind::ModelResponse { .. } => "model_response",
            EventKind::ModelError { .. } => "model_error",
            EventKind::ToolProposed { .. } => "tool_proposed",
            EventKind::PolicyDecision { .. } => "policy_decision",
            EventKind::ApprovalRequested { .. } => "approval_requested",
            EventKind::ApprovalGranted { .. } => "approval_granted",
            EventKind::ApprovalDenied { .. } => "approval_denied",
            EventKind::ToolStarted { .. } => "tool_started",
            EventKind::ToolFinished { .. } => "tool_finished",
            EventKind::GuardHit(_) => "guard_hit",
            EventKind::Egress { .. } => "egress",
            EventKind::Tainted { .. } => "tainted",
            EventKind::Alert { .. } => "alert",
            EventKind::TaskFinished { .. } => "task_finished",
            EventKind::Attestation { .. } => "attestation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_name_matches_serialized_tag() {
        let ev = Event::new(
            Some("s1"),
            Actor::Agent,
            EventKind::ToolStarted {
                call_id: "c1".into(),
                tool: "exec".into(),
            },
        );
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], ev.kind_name());
        assert_eq!(v["session"], "s1");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn guard_hit_flattens() {
        let ev = Event::new(
            None,
            Actor::System,
            EventKind::GuardHit(GuardHitRecord {
                detector: "openai_api_key".into(),
                count: 2,
                location: "model_request".into(),
                action: "block".into(),
            }),
        );
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "guard_hit");
        assert_eq!(v["detector"], "openai_api_key");
    }
}
