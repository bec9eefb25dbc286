//! The kernel's answer about a proposed effect, and session taint.

use serde::{Deserialize, Serialize};

/// What the kernel decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The effect may run.
    Allow,
    /// The effect may run only after a human approves it.
    NeedsApproval,
    /// The effect must not run.
    Deny,
}

/// A decision with its justification, as audited and shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allow, approval required, or deny.
    pub verdict: Verdict,
    /// Stable identifier of the rule that decided (e.g. `floor.recursive_delete`).
    pub rule: String,
    /// Human-readable reason.
    pub reason: String,
    /// Guidance IDs from GUIDANCE.md the rule implements (e.g. `CN-D6`).
    #[serde(default)]
    pub guidance: Vec<String>,
    /// Whether an approval for this decision can be granted automatically (false for floor items).
    #[serde(default)]
    pub auto_approvable: bool,
}

impl Decision {
    /// An allow decision from `rule`.
    pub fn allow(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Decision {
            verdict: Verdict::Allow,
            rule: rule.into(),
            reason: reason.into(),
            guidance: Vec::new(),
            auto_approvable: true,
        }
    }

    /// A deny decision from `rule`, citing guidance IDs.
    pub fn deny(rule: impl Into<String>, reason: impl Into<String>, guidance: &[&str]) -> Self {
        Decision {
            verdict: Verdict::Deny,
            rule: rule.into(),
            reason: reason.into(),
            guidance: guidance.iter().map(|g| g.to_string()).collect(),
            auto_approvable: false,
        }
    }
}

/// Whether untrusted content has entered a session (DESIGN.md, "rule of two").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    /// Where untrusted content came from (e.g. `web_fetch:https://example.org/`); empty = clean.
    pub sources: Vec<String>,
}

impl Taint {
    /// True once any untrusted content entered the session.
    pub fn is_tainted(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Records one more untrusted source (deduplicated).
    pub fn add(&mut self, source: impl Into<String>) {
        let s = source.into();
        if !self.sources.contains(&s) {
            self.sources.push(s);
        }
    }
}
