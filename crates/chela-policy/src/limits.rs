//! Loop breakers (OWASP LLM10): a task may not make unbounded tool calls, repeat the same
//! failing call forever, or pull unbounded output into the context.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::policy::LoopLimits;

/// Why a loop breaker tripped: a message for the model and one for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopTrip {
    /// Stable rule id (`limits.max_tool_calls`, `limits.identical_failures`,
    /// `limits.output_bytes`).
    pub rule: String,
    /// Sent to the model as the tool result (it should stop or change approach).
    pub message_for_model: String,
    /// Shown to the user.
    pub message_for_user: String,
    /// Guidance IDs.
    pub guidance: Vec<String>,
}

/// Per-task counters for the loop breakers.
#[derive(Debug, Clone)]
pub struct LoopBreaker {
    limits: LoopLimits,
    calls: u32,
    output_bytes: u64,
    failures: HashMap<String, u32>,
}

fn fingerprint(tool: &str, arguments: &str) -> String {
    // Equivalent JSON (key order, spacing) counts as the same call.
    let canon = match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v) => v.to_string(),
        Err(_) => arguments.trim().to_string(),
    };
    let mut h = Sha256::new();
    h.update(tool.as_bytes());
    h.update([0]);
    h.update(canon.as_bytes());
    hex::encode(h.finalize())
}

impl LoopBreaker {
    /// Fresh counters for one task.
    pub fn new(limits: LoopLimits) -> Self {
        LoopBreaker {
            limits,
            calls: 0,
            output_bytes: 0,
            failures: HashMap::new(),
        }
    }

    /// Tool calls counted so far.
    pub fn calls(&self) -> u32 {
        self.calls
    }

    /// Output bytes counted so far.
    pub fn output_bytes(&self) -> u64 {
        self.output_bytes
    }

    /// Call before running a tool call; `Err` means do not run it and end the task.
    pub fn before_call(&mut self, tool: &str, arguments: &str) -> Result<(), LoopTrip> {
        if self.calls >= self.limits.max_tool_calls {
            return Err(LoopTrip {
                rule: "limits.max_tool_calls".into(),
                message_for_model: format!(
                    "Stopped: this task reached its limit of {} tool calls. Summarise what you did and what is left; do not call more tools.",
                    self.limits.max_tool_calls
                ),
                message_for_user: format!(
                    "The task was stopped after {} tool calls (policy.limits.max_tool_calls). Raise the limit in config.toml if the task really needs more.",
                    self.limits.max_tool_calls
                ),
                guidance: vec!["LLM10".into(), "CN-B3".into()],
            });
        }
        let fp = fingerprint(tool, arguments);
        let n = self.failures.get(&fp).copied().unwrap_or(0);
        if n >= self.limits.max_identical_failures {
            return Err(LoopTrip {
                rule: "limits.identical_failures".into(),
                message_for_model: format!(
                    "Stopped: this exact `{tool}` call already failed {n} times. Repeating it will not help; change the approach or explain the problem to the user."
                ),
                message_for_user: format!(
                    "The model repeated the same failing `{tool}` call {n} times; the task was stopped (policy.limits.max_identical_failures)."
                ),
                guidance: vec!["LLM10".into(), "CN-B3".into()],
            });
        }
        self.calls += 1;
        Ok(())
    }

    /// Call after a tool call ran; `Err` means the output limit was passed and the task ends.
    pub fn after_call(
        &mut self,
        tool: &str,
        arguments: &str,
        failed: bool,
        output_bytes: u64,
    ) -> Result<(), LoopTrip> {
        let fp = fingerprint(tool, arguments);
        if failed {
            *self.failures.entry(fp).or_insert(0) += 1;
        } else {
            self.failures.remove(&fp);
        }
        self.output_bytes = self.output_bytes.saturating_add(output_bytes);
        if self.output_bytes > self.limits.max_output_bytes {
            return Err(LoopTrip {
                rule: "limits.output_bytes".into(),
                message_for_model: format!(
                    "Stopped: tools produced more than {} bytes of output in this task. Work with smaller outputs (head, grep, ranges).",
                    self.limits.max_output_bytes
                ),
                message_for_user: format!(
                    "The task was stopped: tool output passed {} bytes (policy.limits.max_output_bytes).",
                    self.limits.max_output_bytes
                ),
                guidance: vec!["LLM10".into()],
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> LoopLimits {
        LoopLimits {
            max_tool_calls: 5,
            max_identical_failures: 2,
            max_output_bytes: 100,
        }
    }

    #[test]
    fn max_calls_trips() {
        let mut b = LoopBreaker::new(lim());
        for i in 0..5 {
            b.before_call("exec", &format!("{{\"command\":\"ls {i}\"}}"))
                .unwrap();
        }
        let t = b.before_call("exec", "{}").unwrap_err();
        assert_eq!(t.rule, "limits.max_tool_calls");
    }

    #[test]
    fn identical_failures_trip_and_success_resets() {
        let mut b = LoopBreaker::new(lim());
        let a = r#"{"command":"make","cwd":"."}"#;
        let same = r#"{ "cwd": ".", "command": "make" }"#;
        b.before_call("exec", a).unwrap();
        b.after_call("exec", a, true, 1).unwrap();
        b.before_call("exec", same).unwrap();
        b.after_call("exec", same, true, 1).unwrap();
        let t = b.before_call("exec", a).unwrap_err();
        assert_eq!(t.rule, "limits.identical_failures");
        // A different call is still fine.
        b.before_call("exec", r#"{"command":"make test"}"#).unwrap();
        // Success resets.
        let mut b = LoopBreaker::new(lim());
        b.after_call("exec", a, true, 1).unwrap();
        b.after_call("exec", a, false, 1).unwrap();
        b.after_call("exec", a, true, 1).unwrap();
        b.before_call("exec", a).unwrap();
    }

    #[test]
    fn output_bytes_trip() {
        let mut b = LoopBreaker::new(lim());
        b.after_call("read", "{}", false, 60).unwrap();
        let t = b.after_call("read", "{}", false, 60).unwrap_err();
        assert_eq!(t.rule, "limits.output_bytes");
        assert_eq!(b.output_bytes(), 120);
    }
}
