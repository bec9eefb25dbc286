//! The loop's side of the kernel: turning a tool call into a [`chela_policy::Effect`], asking the
//! policy, and routing "needs approval" to a human through the approval queue.
//!
//! The decision itself is made by `chela-policy` (pure functions). This module only gathers
//! what the kernel needs to know (resolved paths, digests of scripts a command runs) and records
//! every decision and approval in the audit log.

use std::path::Path;
use std::sync::Arc;

use chela_guard::{Category, Guard};
use chela_policy::{
    request_approval, ApprovalOutcome, ApprovalQueue, ApprovalRequest, Effect, Policy,
    ScriptDigest, SessionState,
};
use chela_sandbox::fs::Workspace;
use chela_types::{Decision, Verdict};
use serde_json::Value;

/// Largest script file hashed for an approval binding.
const MAX_SCRIPT_BYTES: u64 = 8 * 1024 * 1024;

/// Secrets the guard finds in text about to leave (command lines, URLs): keys, tokens, private
/// keys, mnemonics and known secrets — what the floor's "no secrets out" rule needs to know.
fn secret_count(guard: &Guard, text: &str) -> u32 {
    guard
        .find(text)
        .iter()
        .filter(|f| {
            matches!(
                f.detector.category(),
                Category::Credential | Category::KeyMaterial | Category::KnownSecret
            )
        })
        .count() as u32
}

/// The effect a tool call would have, as the kernel sees it: the kernel's own mapping
/// ([`Policy::effect_from_tool_call`], the same one `chela policy explain` uses), plus what only
/// the loop can know — digests of the scripts a command runs (read through the workspace) and
/// the secrets the guard finds in what would leave. `Err` names why the call cannot be mapped.
pub fn effect_for(
    tool: &str,
    args: &Value,
    workspace: &Workspace,
    policy: &Policy,
    guard: &Guard,
) -> Result<Effect, String> {
    let mut effect = if tool == "list" && args.get("path").is_none() {
        // `list` defaults to the workspace root.
        policy.effect_from_tool_call(tool, &serde_json::json!({ "path": "." }))?
    } else {
        policy.effect_from_tool_call(tool, args)?
    };
    let root = workspace.root();
    let digests: Vec<ScriptDigest> = policy
        .scripts_to_hash(&effect)
        .into_iter()
        .filter_map(|p| {
            let rel = Path::new(&p)
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or(p.clone());
            let file = workspace.read(&rel, MAX_SCRIPT_BYTES).ok()?;
            Some(ScriptDigest::of(p, &file.bytes))
        })
        .collect();
    match &mut effect {
        Effect::Exec {
            command,
            scripts,
            secret_findings,
            ..
        } => {
            *scripts = digests;
            *secret_findings = secret_count(guard, command);
        }
        Effect::Fetch {
            url,
            secret_findings,
            ..
        } => *secret_findings = secret_count(guard, url),
        _ => {}
    }
    Ok(effect)
}

/// What happened when an effect needed a human.
pub enum ApprovalResult {
    /// Nobody needed to be asked.
    NotAsked,
    /// A human (or the absence of one) answered.
    Asked(ApprovalOutcome),
}

/// Asks the approval queue about `effect` (blocking work runs off the async thread).
pub async fn ask(
    policy: Arc<Policy>,
    queue: Arc<dyn ApprovalQueue>,
    effect: &Effect,
    decision: &Decision,
    call_id: &str,
) -> ApprovalResult {
    if decision.verdict != Verdict::NeedsApproval {
        return ApprovalResult::NotAsked;
    }
    let Some(req) = ApprovalRequest::new(&policy, effect, decision, call_id) else {
        return ApprovalResult::NotAsked;
    };
    let joined =
        tokio::task::spawn_blocking(move || request_approval(&policy, queue.as_ref(), &req)).await;
    ApprovalResult::Asked(joined.unwrap_or_else(|e| ApprovalOutcome::Denied {
        approver: "policy:no-approver".into(),
        reason: format!("the approval prompt failed: {e}"),
    }))
}

/// The session's kernel state plus the policy it is judged by.
pub struct Kernel {
    /// Effective policy.
    pub policy: Arc<Policy>,
    /// Who answers approvals.
    pub approver: Arc<dyn ApprovalQueue>,
    /// Taint, contacted hosts, approvals.
    pub state: SessionState,
}
