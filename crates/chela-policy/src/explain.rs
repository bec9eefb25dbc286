//! Human explanations: `chela policy explain -- 'COMMAND'` and `chela policy show`.

use std::fmt::Write as _;

use chela_types::Verdict;

use crate::decide::{rules, Effect, SessionState};
use crate::policy::{ApprovalMode, Policy, Profile, RuleSource, Sourced};
use crate::toolcall::KNOWN_TOOLS;

/// One-line descriptions of the guidance IDs the kernel cites (wording from GUIDANCE.md).
pub fn guidance_text(id: &str) -> &'static str {
    match id {
        "CN-A3" => "never run with more rights than needed; block private folders; whitelist paths",
        "CN-A4" => "do not store or process private data: cards, IDs, mnemonics, key files",
        "CN-A5" => "do not blindly install skills or run the commands they suggest",
        "CN-B1" => "isolate the runtime; network only to allowlisted destinations",
        "CN-B2" => "least privilege: allowed data scope and operations, tool allowlist, extra control on high-risk operations",
        "CN-B3" => "monitor at run time; records that support investigation",
        "CN-B4" => "an approval process: every use has a documented basis (who approved what)",
        "CN-D4" => "enable only the tools you need (tool allowlist)",
        "CN-D6" => "the agent must never rm -rf without confirmation, change auth/permission settings, send tokens or keys out, or run unknown one-click installers",
        "CN-D7" => "protect core configuration files; never hand private keys to the agent",
        "CNCERT-M2" => "no keys in plaintext; complete operation audit",
        "NVDB-3" => "least privilege; human approval for important operations",
        "NVDB-4" => "never run skills or commands that download archives, run scripts or ask for passwords",
        "NVDB-5" => "guard against hijacking by untrusted (web) content",
        "NVDB-6" => "never disable detailed audit logging",
        "LLM01" => "OWASP LLM01: prompt injection",
        "LLM10" => "OWASP LLM10: unbounded consumption",
        _ => "",
    }
}

fn verdict_line(d: &chela_types::Decision) -> String {
    match d.verdict {
        Verdict::Allow => "ALLOW — it runs without asking".into(),
        Verdict::Deny => "DENY — it will not run".into(),
        Verdict::NeedsApproval if d.auto_approvable => {
            "NEEDS APPROVAL — a human must approve it (an allow rule may pre-approve it)".into()
        }
        Verdict::NeedsApproval if d.rule.starts_with("floor.") => {
            "NEEDS APPROVAL — a human must approve this exact call; nothing can pre-approve it (floor, CN-D6)".into()
        }
        Verdict::NeedsApproval => {
            "NEEDS APPROVAL — a human must approve this exact call; nothing can pre-approve it".into()
        }
    }
}

fn advice(
    policy: &Policy,
    d: &chela_types::Decision,
    before: Option<&chela_types::Decision>,
    example_argv: Option<&[String]>,
) -> Vec<String> {
    let rule = before.map(|b| b.rule.as_str()).unwrap_or(d.rule.as_str());
    let mut v = Vec::new();
    let mode_deny = policy.approval_mode.value == ApprovalMode::Deny;
    match rule {
        rules::CHELA_CONFIG => v.push(
            "Nothing can allow this: Chela's own configuration, policy, keys, vault and audit log are off limits to the agent (CN-D6). Change Chela's settings yourself, outside the agent (edit the file or use `chela` commands).".into(),
        ),
        rules::SECRET_EGRESS => v.push(
            "Secrets never leave through the agent. Remove the secret from the request; if a service needs a credential, store it in the vault and bind it to that host so Chela injects it at the boundary.".into(),
        ),
        rules::DESTRUCTIVE | rules::PRIVILEGE | rules::INSTALLER | rules::CONFIG_TAMPER | rules::SECRET_READ => {
            if rule == rules::SECRET_READ {
                v.push("Credentials and private data always need a human to approve this exact call, once. No profile, mode or allow rule can pre-approve it.".into());
            } else {
                v.push("This is a floor item (CN-D6): it always needs a human to approve this exact call, once. No profile, mode or allow rule can pre-approve it.".into());
            }
            v.push("In `chela chat`, answer [y]es once when asked (or [e]xplain first). `chela run` without a terminal refuses it.".into());
            match rule {
                rules::DESTRUCTIVE => v.push("Often a narrower command does the job without approval: delete named files instead of `rm -r`, or use `git stash` instead of `git reset --hard`.".into()),
                rules::INSTALLER => v.push("Prefer installing dependencies from the project's manifest (`pip install -r`, `npm install`, `cargo add`), which only needs the network, over one-click installers.".into()),
                rules::SECRET_READ => v.push("If the agent needs a credential, put it in the vault and grant it by name instead of exposing key files.".into()),
                _ => {}
            }
        }
        rules::EXEC_UNKNOWN | rules::EXEC_INLINE => {
            v.push("Approve it when asked: [y]es once, or [s]ession to allow this exact call again in this session.".into());
            let example = match example_argv {
                Some(a) if !a.is_empty() && !a[0].starts_with("<dynamic") => {
                    let mut words: Vec<&str> = a.iter().take(2).map(String::as_str).collect();
                    if a.len() > 2 {
                        words.push("*");
                    }
                    format!("exec:{}", words.join(" ").replace('"', "\\\""))
                }
                _ => "exec:python3 -c *".to_string(),
            };
            v.push(format!("To pre-approve it permanently, add an allow rule to the [policy] section of config.toml, e.g. allow_rules = [\"{example}\"] (patterns match each part's words; floor items are never covered)."));
            v.push("If it runs a script file, the approval is bound to the script's SHA-256: editing the script needs a new approval.".into());
        }
        rules::EXEC_NETWORK | rules::READ_OUTSIDE | rules::WRITE_OUTSIDE | rules::SEND_MESSAGE | rules::READ_SECRET => {
            let key = match rule {
                rules::EXEC_NETWORK => "exec_network",
                rules::READ_OUTSIDE => "read_outside_workspace",
                rules::WRITE_OUTSIDE => "write_outside_workspace",
                rules::SEND_MESSAGE => "send_message",
                _ => "read_secret",
            };
            if d.verdict != Verdict::Allow {
                v.push(format!("This follows the setting `policy.{key}`. Set it in the [policy] section of config.toml (\"allow\", \"ask\" or \"deny\"); an organisation policy can forbid loosening it."));
            }
        }
        r if r.starts_with("taint.") => {
            v.push("The session has read untrusted content (web pages, outside files, other people's messages). A prompt injection in it could be trying to send your data out, so outward actions need a human (rule of two).".into());
            v.push("Approve it if you expected this action; otherwise refuse and start a fresh session for the outward task.".into());
            if r == rules::TAINT_EGRESS {
                v.push("Hosts you trust can be exempted: [policy.taint] exempt_hosts = [\"docs.rs\"] in config.toml.".into());
            }
        }
        rules::TOOL_DENIED => v.push("Enable the tool in config.toml: [tools] allow = [\"NAME\"] or a wider profile = \"full\". If the organisation policy denies it, only the organisation can change that.".into()),
        rules::TOOL_INVALID => v.push("The tool call itself is malformed; the model is told what was wrong and can retry.".into()),
        _ => {}
    }
    if d.verdict == Verdict::Allow && before.is_none() {
        v.push("Nothing to do: it is allowed.".into());
    }
    if mode_deny
        && d.verdict == Verdict::Deny
        && before.is_some_and(|b| b.verdict == Verdict::NeedsApproval)
    {
        v.push(format!(
            "Approval mode is \"deny\" ({}): run the task in `chela chat`, where you can approve it.",
            policy.approval_mode.source
        ));
    }
    v
}

/// Explains the decision about `effect` in `session`.
pub fn explain_effect(policy: &Policy, effect: &Effect, session: &SessionState) -> String {
    let a = policy.assess(effect, session);
    let d = &a.decision;
    let mut out = String::new();
    match effect {
        Effect::Exec { command, cwd, .. } => {
            let _ = writeln!(out, "Command:  {command}");
            let _ = writeln!(out, "Runs in:  {}", cwd.display());
        }
        other => {
            let _ = writeln!(out, "Effect:   {}", other.summary());
        }
    }
    let _ = writeln!(out, "Decision: {}", verdict_line(d));
    let _ = writeln!(out, "Rule:     {}", d.rule);
    let _ = writeln!(out, "Why:      {}", d.reason);
    if let Some(b) = &a.before_approval {
        let _ = writeln!(
            out,
            "Without approvals/allow rules it would be: {:?} by {} ({})",
            b.verdict, b.rule, b.reason
        );
    }
    if !d.guidance.is_empty() {
        let _ = writeln!(out, "Guidance:");
        for g in &d.guidance {
            let _ = writeln!(out, "  {g:<10} {}", guidance_text(g));
        }
    }
    if let Some(c) = &a.classification {
        let _ = writeln!(out);
        if let Some(e) = &c.parse_error {
            let _ = writeln!(
                out,
                "The command could not be parsed ({e}); anything unparseable needs approval."
            );
        }
        let _ = writeln!(
            out,
            "How Chela read the command ({} part{}, most severe: {}):",
            c.segments.len(),
            if c.segments.len() == 1 { "" } else { "s" },
            c.overall
        );
        for (i, s) in c.segments.iter().enumerate() {
            let mark = if Some(i) == a.deciding_segment {
                "→"
            } else {
                " "
            };
            let indent = "  ".repeat(s.depth.min(6));
            let _ = writeln!(out, " {mark}{:>2}. {indent}[{}] {}", i + 1, s.class, s.text);
            let _ = writeln!(out, "       {indent}{}", s.reason);
            if !s.scripts.is_empty() {
                let _ = writeln!(out, "       {indent}runs: {}", s.scripts.join(", "));
            }
        }
    }
    let example = a
        .classification
        .as_ref()
        .zip(a.deciding_segment)
        .and_then(|(c, i)| c.segments.get(i))
        .map(|s| s.argv.as_slice());
    let adv = advice(policy, d, a.before_approval.as_ref(), example);
    if !adv.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "What you can do:");
        for line in adv {
            let _ = writeln!(out, "  • {line}");
        }
    }
    out
}

/// Explains what the kernel decides about `input`: a shell command, or a tool call as JSON
/// (`{"tool": "exec", "arguments": {"command": "…"}}`), in a clean session.
pub fn explain(policy: &Policy, input: &str) -> String {
    let session = SessionState::new();
    let trimmed = input.trim();
    if trimmed.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            let tool = v
                .get("tool")
                .or_else(|| v.get("name"))
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let args = v.get("arguments").cloned().unwrap_or(serde_json::json!({}));
            // Arguments may arrive as a JSON string (as providers send them).
            let args_text = match &args {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (d, effect) = policy.decide_tool_call(tool, &args_text, &session);
            return match effect {
                Some(e) => {
                    let mut s = format!("Tool call: {tool}\n");
                    s.push_str(&explain_effect(policy, &e, &session));
                    s
                }
                None => {
                    let mut s = format!(
                        "Tool call: {tool}\nDecision: {}\nRule:     {}\nWhy:      {}\n",
                        verdict_line(&d),
                        d.rule,
                        d.reason
                    );
                    for g in &d.guidance {
                        let _ = writeln!(s, "  {g:<10} {}", guidance_text(g));
                    }
                    let adv = advice(policy, &d, None, None);
                    if !adv.is_empty() {
                        s.push_str("\nWhat you can do:\n");
                        for line in adv {
                            let _ = writeln!(s, "  • {line}");
                        }
                    }
                    s
                }
            };
        }
    }
    let effect = Effect::exec(input, policy.context.workspace.clone());
    explain_effect(policy, &effect, &session)
}

fn src<T>(s: &Sourced<T>) -> String {
    format!("# {}", s.source)
}

impl Policy {
    /// The effective policy with each rule's source, the floor, and layering warnings
    /// (`chela policy show`).
    pub fn render_show(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "Effective policy — layers: {}", self.layers.join(" < "));
        let _ = writeln!(o, "Workspace: {}", self.context.workspace.display());
        let _ = writeln!(o);
        let _ = writeln!(o, "[tools]");
        let _ = writeln!(
            o,
            "profile = \"{}\"    {}",
            self.profile.value.as_str(),
            src(&self.profile)
        );
        for (name, prof) in [
            ("minimal", Profile::Minimal),
            ("coding", Profile::Coding),
            ("full", Profile::Full),
        ] {
            let tools = prof
                .tools()
                .map(|t| t.join(", "))
                .unwrap_or_else(|| "every tool".into());
            let _ = writeln!(o, "#   {name}: {tools}");
        }
        for a in &self.tool_allow {
            let _ = writeln!(o, "allow += \"{}\"    {}", a.value, src(a));
        }
        for d in &self.tool_deny {
            let _ = writeln!(o, "deny += \"{}\"    {}", d.value, src(d));
        }
        let enabled = self.filter_tools(KNOWN_TOOLS);
        let _ = writeln!(
            o,
            "# tools offered to the model now: {}",
            if enabled.is_empty() {
                "none".into()
            } else {
                enabled.join(", ")
            }
        );
        let _ = writeln!(o);
        let _ = writeln!(o, "[policy]");
        let _ = writeln!(
            o,
            "approval = \"{}\"    {}",
            self.approval_mode.value.as_str(),
            src(&self.approval_mode)
        );
        for r in &self.allow_rules {
            let _ = writeln!(o, "allow_rules += \"{}\"    {}", r.value.to_text(), src(r));
        }
        for (k, g) in [
            ("exec_network", &self.exec_network),
            ("read_outside_workspace", &self.read_outside_workspace),
            ("write_outside_workspace", &self.write_outside_workspace),
            ("send_message", &self.send_message),
            ("read_secret", &self.read_secret),
        ] {
            let _ = writeln!(o, "{k} = \"{}\"    {}", g.value.as_str(), src(g));
        }
        for d in &self.deny_paths {
            let _ = writeln!(o, "deny_paths += \"{}\"    {}", d.value, src(d));
        }
        let _ = writeln!(
            o,
            "# always private (reading needs approval): {}",
            self.context
                .private_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(o);
        let _ = writeln!(o, "[policy.taint]");
        let _ = writeln!(
            o,
            "enabled = {}    {}",
            self.taint_enabled.value,
            src(&self.taint_enabled)
        );
        for h in &self.taint_exempt_hosts {
            let _ = writeln!(o, "exempt_hosts += \"{}\"    {}", h.value, src(h));
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "[policy.limits]");
        let _ = writeln!(
            o,
            "max_tool_calls = {}    {}",
            self.max_tool_calls.value,
            src(&self.max_tool_calls)
        );
        let _ = writeln!(
            o,
            "max_identical_failures = {}    {}",
            self.max_identical_failures.value,
            src(&self.max_identical_failures)
        );
        let _ = writeln!(
            o,
            "max_output_bytes = {}    {}",
            self.max_output_bytes.value,
            src(&self.max_output_bytes)
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Floor (CN-D6) — no setting, profile, mode or allow rule changes these:"
        );
        for (rule, what) in FLOOR {
            let _ = writeln!(o, "  {rule:<22} {what}");
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(o);
            let _ = writeln!(o, "Ignored settings ({}):", self.warnings.len());
            for w in &self.warnings {
                let _ = writeln!(o, "  ! {w}");
            }
        }
        o
    }
}

/// The floor rules and what they do.
pub const FLOOR: &[(&str, &str)] = &[
    (rules::CHELA_CONFIG, "DENY: touching Chela's config, policy, keys, vault or audit log; reading Chela's own secrets"),
    (rules::SECRET_EGRESS, "DENY: sending secrets out (fetch, messages, commands using the network)"),
    (rules::DESTRUCTIVE, "APPROVAL, once, by a human: recursive deletes, dd, mkfs, git reset --hard, push --force, find -delete, …"),
    (rules::PRIVILEGE, "APPROVAL, once, by a human: sudo, su, setuid, chown, services, containers, reverse shells"),
    (rules::INSTALLER, "APPROVAL, once, by a human: curl|sh, npm -g, pip install URL, package managers, download-and-run"),
    (rules::CONFIG_TAMPER, "APPROVAL, once, by a human: shell rc files, ~/.ssh, .git/hooks, crontab, git config that runs commands"),
    (rules::SECRET_READ, "APPROVAL, once, by a human: key files, credential stores, private folders"),
];

/// Where a source string points to, for callers that want a file:line (None for builtin).
pub fn source_location(s: &RuleSource) -> Option<(String, usize)> {
    match s {
        RuleSource::User { file, line } | RuleSource::Org { file, line } => {
            Some((file.clone(), *line))
        }
        _ => None,
    }
}
