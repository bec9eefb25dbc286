//! The loop's side of the kernel: turning a tool call into a [`chela_policy::Effect`], asking the
//! policy, and routing "needs approval" to a human through the approval queue.
//!
//! The decision itself is made by `chela-policy` (pure functions). This module only gathers
//! what the kernel needs to know (resolved paths, digests of scripts a command runs) and records
//! every decision and approval in the audit log.

use std::path::{Component, Path, PathBuf};
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

/// Lexically resolves a tool path argument against the workspace root.
fn resolve(root: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn str_arg<'a>(args: &'a Value, key: &str) -> &'a str {
    args.get(key).and_then(Value::as_str).unwrap_or("")
}

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

/// The effect a tool call would have, as the kernel sees it.
pub fn effect_for(
    tool: &str,
    args: &Value,
    workspace: &Workspace,
    policy: &Policy,
    guard: &Guard,
) -> Effect {
    let root = workspace.root();
    let path_effect = |key: &str, default: &str| {
        let raw = args.get(key).and_then(Value::as_str).unwrap_or(default);
        let path = resolve(root, raw);
        let inside = path.starts_with(root);
        (path, inside)
    };
    match tool {
        "exec" => {
            let command = str_arg(args, "command");
            let mut effect = Effect::exec(command, root);
            let scripts: Vec<ScriptDigest> = policy
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
            if let Effect::Exec {
                scripts: s,
                secret_findings,
                ..
            } = &mut effect
            {
                *s = scripts;
                *secret_findings = secret_count(guard, command);
            }
            effect
        }
        "read" => {
            let (path, inside_workspace) = path_effect("path", ".");
            Effect::ReadFile {
                path,
                inside_workspace,
            }
        }
        "write" | "edit" => {
            let (path, inside_workspace) = path_effect("path", ".");
            Effect::WriteFile {
                path,
                inside_workspace,
            }
        }
        "list" => {
            let (path, inside_workspace) = path_effect("path", ".");
            Effect::ListDir {
                path,
                inside_workspace,
            }
        }
        "web_fetch" => {
            let url = str_arg(args, "url").to_string();
            let host = chela_policy::url_host(&url).unwrap_or_default();
            let secret_findings = secret_count(guard, &url);
            Effect::Fetch {
                url,
                host,
                secret_findings,
            }
        }
        other => Effect::SendMessage {
            channel: format!("tool:{other}"),
            recipient: String::new(),
            secret_findings: 0,
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_lexically_against_the_root() {
        let root = Path::new("/w");
        assert_eq!(resolve(root, "a/b.txt"), PathBuf::from("/w/a/b.txt"));
        assert_eq!(resolve(root, "../etc/passwd"), PathBuf::from("/etc/passwd"));
        assert_eq!(resolve(root, "/etc/shadow"), PathBuf::from("/etc/shadow"));
        assert_eq!(resolve(root, "./x/../y"), PathBuf::from("/w/y"));
    }
}
