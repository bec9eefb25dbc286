//! Decisions: effects, session state, the floor (CN-D6), the taint rule of two and approvals.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chela_types::{Decision, Taint, Verdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classify::{classify_at, Classification, CommandClass, Segment};
use crate::paths::WriteKind;
use crate::policy::{glob_match, ApprovalMode, Gate, Policy, RuleKind, RuleSource};

/// The SHA-256 of a script or program file a command runs (computed by the caller, who may
/// read files; the kernel binds approvals to it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScriptDigest {
    /// Absolute path, as reported by [`Classification::script_files`].
    pub path: String,
    /// Lower-case hex SHA-256 of the file's content.
    pub sha256: String,
}

impl ScriptDigest {
    /// The digest of `content` for `path`.
    pub fn of(path: impl Into<String>, content: &[u8]) -> ScriptDigest {
        ScriptDigest {
            path: path.into(),
            sha256: hex::encode(Sha256::digest(content)),
        }
    }
}

/// A proposed effect, as the kernel sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Run a shell command line.
    Exec {
        /// The command text exactly as it will run.
        command: String,
        /// The directory it starts in.
        cwd: PathBuf,
        /// Digests of the script files it runs (see [`Policy::scripts_to_hash`]).
        #[serde(default)]
        scripts: Vec<ScriptDigest>,
        /// Secrets the guard found in the command text (0 when none).
        #[serde(default)]
        secret_findings: u32,
    },
    /// Read a file.
    ReadFile {
        /// Resolved absolute path.
        path: PathBuf,
        /// Whether the resolved path (after symlinks) is inside the workspace.
        inside_workspace: bool,
    },
    /// Create, write or edit a file.
    WriteFile {
        /// Resolved absolute path.
        path: PathBuf,
        /// Whether the resolved path (after symlinks) is inside the workspace.
        inside_workspace: bool,
    },
    /// List a directory.
    ListDir {
        /// Resolved absolute path.
        path: PathBuf,
        /// Whether the resolved path is inside the workspace.
        inside_workspace: bool,
    },
    /// Fetch a URL.
    Fetch {
        /// The URL.
        url: String,
        /// Its host (lower case).
        host: String,
        /// Secrets the guard found in the request (URL, headers, body).
        #[serde(default)]
        secret_findings: u32,
    },
    /// Send a message through a channel.
    SendMessage {
        /// Channel name.
        channel: String,
        /// Recipient.
        recipient: String,
        /// Secrets the guard found in the message.
        #[serde(default)]
        secret_findings: u32,
    },
    /// Read a named secret from the vault.
    ReadSecret {
        /// Secret name.
        name: String,
    },
}

impl Effect {
    /// An `Exec` with no script digests and no secret findings.
    pub fn exec(command: impl Into<String>, cwd: impl Into<PathBuf>) -> Effect {
        Effect::Exec {
            command: command.into(),
            cwd: cwd.into(),
            scripts: Vec::new(),
            secret_findings: 0,
        }
    }

    /// Stable name of the effect kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::Exec { .. } => "exec",
            Effect::ReadFile { .. } => "read_file",
            Effect::WriteFile { .. } => "write_file",
            Effect::ListDir { .. } => "list_dir",
            Effect::Fetch { .. } => "fetch",
            Effect::SendMessage { .. } => "send_message",
            Effect::ReadSecret { .. } => "read_secret",
        }
    }

    /// One-line human summary.
    pub fn summary(&self) -> String {
        match self {
            Effect::Exec { command, cwd, .. } => format!("run `{command}` in {}", cwd.display()),
            Effect::ReadFile { path, .. } => format!("read {}", path.display()),
            Effect::WriteFile { path, .. } => format!("write {}", path.display()),
            Effect::ListDir { path, .. } => format!("list {}", path.display()),
            Effect::Fetch { url, .. } => format!("fetch {url}"),
            Effect::SendMessage {
                channel, recipient, ..
            } => format!("send a message to {recipient} via {channel}"),
            Effect::ReadSecret { name } => format!("read the secret `{name}`"),
        }
    }
}

/// How long an approval lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalScope {
    /// This one call; consumed when used.
    Once,
    /// Identical calls for the rest of the session (never for floor items).
    Session,
    /// Identical calls in later sessions too (stored; never for floor items).
    Rule,
}

impl ApprovalScope {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalScope::Once => "once",
            ApprovalScope::Session => "session",
            ApprovalScope::Rule => "rule",
        }
    }
}

/// What exactly an approval covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalBinding {
    /// Effect kind (`exec`, `fetch`, …).
    pub effect: String,
    /// The command text, path, URL, `channel:recipient` or secret name.
    pub subject: String,
    /// Starting directory (exec only).
    pub cwd: Option<String>,
    /// Script digests (exec only).
    pub scripts: Vec<ScriptDigest>,
}

impl ApprovalBinding {
    /// The binding of an effect.
    pub fn of(effect: &Effect) -> ApprovalBinding {
        let (subject, cwd, scripts) = match effect {
            Effect::Exec {
                command,
                cwd,
                scripts,
                ..
            } => {
                let mut s = scripts.clone();
                s.sort();
                s.dedup();
                (command.clone(), Some(cwd.to_string_lossy().into_owned()), s)
            }
            Effect::ReadFile { path, .. }
            | Effect::WriteFile { path, .. }
            | Effect::ListDir { path, .. } => {
                (path.to_string_lossy().into_owned(), None, Vec::new())
            }
            Effect::Fetch { url, .. } => (url.clone(), None, Vec::new()),
            Effect::SendMessage {
                channel, recipient, ..
            } => (format!("{channel}:{recipient}"), None, Vec::new()),
            Effect::ReadSecret { name } => (name.clone(), None, Vec::new()),
        };
        ApprovalBinding {
            effect: effect.kind().to_string(),
            subject,
            cwd,
            scripts,
        }
    }

    /// The stable key: `kind:` + SHA-256 over an unambiguous encoding of the binding.
    pub fn key(&self) -> String {
        let canon = serde_json::json!([self.effect, self.subject, self.cwd, self.scripts]);
        let digest = Sha256::digest(canon.to_string().as_bytes());
        format!("{}:{}", self.effect, hex::encode(digest))
    }
}

/// The approval key of an effect: approvals match only the identical call (same command text,
/// directory and script hashes; same path, URL, recipient or secret name).
pub fn approval_key(effect: &Effect) -> String {
    ApprovalBinding::of(effect).key()
}

/// A human approval of one exact call (CN-B4: who approved what and why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// [`approval_key`] of the approved effect.
    pub key: String,
    /// What it covers, readable.
    pub binding: ApprovalBinding,
    /// How long it lasts.
    pub scope: ApprovalScope,
    /// Who approved (e.g. `owner:alice`, `telegram:12345`).
    pub approver: String,
    /// Why (free text from the approver; may be empty).
    pub reason: String,
    /// The rule that required the approval.
    pub rule: String,
    /// Whether that rule was a floor item (then only `Once` is valid).
    pub floor: bool,
}

/// Why an approval could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The decision did not ask for approval.
    #[error("the decision ({0}) does not need an approval")]
    NotNeeded(String),
    /// Floor items can only be approved once per call.
    #[error("rule {0} is on the floor (CN-D6): it can only be approved once, for this exact call")]
    FloorScope(String),
    /// A script digest is missing.
    #[error("the command runs {0}; hash it (Policy::scripts_to_hash) before asking, so the approval binds its content")]
    ScriptUnhashed(String),
    /// No approver identity.
    #[error("an approval needs the approver's identity (CN-B4)")]
    NoApprover,
}

impl Approval {
    /// An approval of `effect` after `decision` asked for one.
    pub fn grant(
        policy: &Policy,
        effect: &Effect,
        decision: &Decision,
        scope: ApprovalScope,
        approver: &str,
        reason: &str,
    ) -> Result<Approval, ApprovalError> {
        if decision.verdict != Verdict::NeedsApproval {
            return Err(ApprovalError::NotNeeded(decision.rule.clone()));
        }
        if approver.trim().is_empty() {
            return Err(ApprovalError::NoApprover);
        }
        let floor = !decision.auto_approvable;
        if floor && scope != ApprovalScope::Once {
            return Err(ApprovalError::FloorScope(decision.rule.clone()));
        }
        if let Some(missing) = policy.missing_script_digests(effect).into_iter().next() {
            return Err(ApprovalError::ScriptUnhashed(missing));
        }
        let binding = ApprovalBinding::of(effect);
        Ok(Approval {
            key: binding.key(),
            binding,
            scope,
            approver: approver.to_string(),
            reason: reason.to_string(),
            rule: decision.rule.clone(),
            floor,
        })
    }
}

/// What the kernel knows about the session when deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// Untrusted content that entered the session.
    pub taint: Taint,
    /// Hosts contacted in this session (lower case).
    pub contacted_hosts: BTreeSet<String>,
    /// Approvals granted (once, session, or loaded persistent rules).
    pub approvals: Vec<Approval>,
}

impl SessionState {
    /// A clean session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an approval.
    pub fn grant(&mut self, a: Approval) {
        self.approvals.push(a);
    }

    /// Records that `host` was contacted.
    pub fn record_contact(&mut self, host: &str) {
        self.contacted_hosts
            .insert(host.to_ascii_lowercase().trim_end_matches('.').to_string());
    }

    /// Removes a `Once` approval for `key` (after the call it covered ran). Returns whether one
    /// was removed.
    pub fn consume_once(&mut self, key: &str) -> bool {
        if let Some(i) = self
            .approvals
            .iter()
            .position(|a| a.key == key && a.scope == ApprovalScope::Once)
        {
            self.approvals.remove(i);
            true
        } else {
            false
        }
    }
}

/// Rule IDs and the guidance they implement (see README.md).
pub mod rules {
    /// Chela's own configuration, keys, vault, policy or audit log (deny).
    pub const CHELA_CONFIG: &str = "floor.chela_config";
    /// Sending secrets out (deny).
    pub const SECRET_EGRESS: &str = "floor.secret_egress";
    /// Destructive commands (approval, never automatic).
    pub const DESTRUCTIVE: &str = "floor.destructive";
    /// Privilege commands (approval, never automatic).
    pub const PRIVILEGE: &str = "floor.privilege";
    /// Installers and download-and-run (approval, never automatic).
    pub const INSTALLER: &str = "floor.installer";
    /// Start-up, persistence and security configuration (approval, never automatic).
    pub const CONFIG_TAMPER: &str = "floor.config_tamper";
    /// Credentials and private paths (approval, never automatic).
    pub const SECRET_READ: &str = "path.secret_read";
    /// `deny_paths` entries (deny).
    pub const PATH_DENIED: &str = "path.denied";
    /// Unknown commands (approval).
    pub const EXEC_UNKNOWN: &str = "exec.unknown";
    /// Inline interpreters (approval).
    pub const EXEC_INLINE: &str = "exec.inline_interpreter";
    /// Network commands (`policy.exec_network`).
    pub const EXEC_NETWORK: &str = "exec.network";
    /// Read-only and workspace commands (allow).
    pub const EXEC_WORKSPACE: &str = "exec.workspace";
    /// File access inside the workspace (allow).
    pub const PATH_WORKSPACE: &str = "path.workspace";
    /// Reading outside the workspace (`policy.read_outside_workspace`).
    pub const READ_OUTSIDE: &str = "path.read_outside";
    /// Writing outside the workspace (`policy.write_outside_workspace`).
    pub const WRITE_OUTSIDE: &str = "path.write_outside";
    /// Fetching (allow; the network crate enforces the allowlist).
    pub const NET_FETCH: &str = "net.fetch";
    /// Sending messages (`policy.send_message`).
    pub const SEND_MESSAGE: &str = "message.send";
    /// Reading a vault secret (`policy.read_secret`).
    pub const READ_SECRET: &str = "secret.read";
    /// Tainted session: egress to a new host.
    pub const TAINT_EGRESS: &str = "taint.egress_new_host";
    /// Tainted session: sending a message.
    pub const TAINT_SEND: &str = "taint.send_message";
    /// Tainted session: writing outside the workspace.
    pub const TAINT_WRITE: &str = "taint.write_outside";
    /// Tainted session: reading a secret.
    pub const TAINT_SECRET: &str = "taint.read_secret";
    /// Tainted session: a command using the network.
    pub const TAINT_EXEC_NETWORK: &str = "taint.exec_network";
    /// The tool is not enabled (CN-D4).
    pub const TOOL_DENIED: &str = "tool.denied";
    /// The tool call could not be understood.
    pub const TOOL_INVALID: &str = "tool.invalid";
    /// Pre-approved by an allow rule.
    pub const ALLOW_RULE: &str = "approval.allow_rule";
    /// Approved by a human.
    pub const APPROVED: &str = "approval.granted";
}

/// Secret names that belong to Chela itself (its keys, tokens, provider credentials).
const CHELA_SECRET_PREFIXES: &[&str] = &[
    "chela.", "chela_", "chela-", "audit", "gateway", "vault", "master", "provider", "signing",
];

fn need(rule: &str, reason: String, guidance: &[&str], auto: bool) -> Decision {
    Decision {
        verdict: Verdict::NeedsApproval,
        rule: rule.to_string(),
        reason,
        guidance: guidance.iter().map(|g| g.to_string()).collect(),
        auto_approvable: auto,
    }
}

fn allow(rule: &str, reason: String, guidance: &[&str]) -> Decision {
    let mut d = Decision::allow(rule, reason);
    d.guidance = guidance.iter().map(|g| g.to_string()).collect();
    d
}

fn gate(
    g: Gate,
    rule: &str,
    what: &str,
    key: &str,
    src: &RuleSource,
    guidance: &[&str],
) -> Decision {
    match g {
        Gate::Allow => allow(
            rule,
            format!("{what} is allowed (`{key}` = \"allow\", {src})"),
            guidance,
        ),
        Gate::Ask => need(
            rule,
            format!("{what} needs approval (`{key}` = \"ask\", {src})"),
            guidance,
            true,
        ),
        Gate::Deny => Decision::deny(
            rule,
            format!("{what} is refused (`{key}` = \"deny\", {src})"),
            guidance,
        ),
    }
}

/// The decision and, for `exec`, the classification it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The decision.
    pub decision: Decision,
    /// The classification (exec only).
    pub classification: Option<Classification>,
    /// The segment that decided (exec only).
    pub deciding_segment: Option<usize>,
    /// Set when an approval or allow rule changed the verdict: the decision before it.
    pub before_approval: Option<Decision>,
}

impl Policy {
    /// Decides about `effect` in `session`: allow, needs approval (with rule, reason and
    /// guidance IDs) or deny. Pure; a `Once` approval it relies on must then be consumed with
    /// [`SessionState::consume_once`] (or use [`Policy::authorize`]).
    pub fn decide(&self, effect: &Effect, session: &SessionState) -> Decision {
        self.assess(effect, session).decision
    }

    /// Like [`Policy::decide`], and consumes the `Once` approval that allowed the call.
    pub fn authorize(&self, effect: &Effect, session: &mut SessionState) -> Decision {
        let a = self.assess(effect, session);
        if a.decision.verdict == Verdict::Allow && a.decision.rule == rules::APPROVED {
            session.consume_once(&approval_key(effect));
        }
        a.decision
    }

    /// Script files an `Exec` runs that need a digest before an approval can bind it.
    pub fn scripts_to_hash(&self, effect: &Effect) -> Vec<String> {
        match effect {
            Effect::Exec { command, cwd, .. } => {
                classify_at(command, &self.context, cwd).script_files()
            }
            _ => Vec::new(),
        }
    }

    fn missing_script_digests(&self, effect: &Effect) -> Vec<String> {
        match effect {
            Effect::Exec { command, cwd, .. } => {
                let c = classify_at(command, &self.context, cwd);
                missing_digests(effect, &c)
            }
            _ => Vec::new(),
        }
    }

    /// The full assessment: decision, classification and what approvals changed.
    pub fn assess(&self, effect: &Effect, session: &SessionState) -> Assessment {
        let (base, classification, seg) = self.base_decision(effect, session);
        if base.verdict != Verdict::NeedsApproval {
            return Assessment {
                decision: base,
                classification,
                deciding_segment: seg,
                before_approval: None,
            };
        }
        // Allow rules (never floor items, never the taint rule of two: a prompt injection must
        // not ride on a convenience rule; trusted hosts go in `taint.exempt_hosts`).
        if base.auto_approvable && !base.rule.starts_with("taint.") {
            let net = base.rule == rules::EXEC_NETWORK || base.rule == rules::TAINT_EXEC_NETWORK;
            if let Some(r) = self.matching_allow_rule(effect, classification.as_ref(), net) {
                let mut d = allow(
                    rules::ALLOW_RULE,
                    format!(
                        "pre-approved by allow rule \"{}\" ({}); without it: {}",
                        r.0, r.1, base.reason
                    ),
                    &["CN-B4"],
                );
                d.guidance.extend(base.guidance.iter().cloned());
                return Assessment {
                    decision: d,
                    classification,
                    deciding_segment: seg,
                    before_approval: Some(base),
                };
            }
        }
        // Human approvals bound to this exact call.
        let missing = match &classification {
            Some(c) => missing_digests(effect, c),
            None => Vec::new(),
        };
        let floor = !base.auto_approvable;
        let found = if session.approvals.is_empty() {
            None
        } else {
            let key = approval_key(effect);
            session.approvals.iter().find(|a| {
                a.key == key && (!floor || a.scope == ApprovalScope::Once) && !a.approver.is_empty()
            })
        };
        if let (Some(a), true) = (found, missing.is_empty()) {
            let mut d = allow(
                rules::APPROVED,
                format!(
                    "approved by {} ({}{}) for rule {}: {}",
                    a.approver,
                    a.scope.as_str(),
                    if a.reason.is_empty() {
                        String::new()
                    } else {
                        format!(", \"{}\"", a.reason)
                    },
                    base.rule,
                    base.reason
                ),
                &["CN-B4"],
            );
            d.guidance.extend(base.guidance.iter().cloned());
            return Assessment {
                decision: d,
                classification,
                deciding_segment: seg,
                before_approval: Some(base),
            };
        }
        let mut d = base;
        if !missing.is_empty() {
            d.reason.push_str(&format!(
                "; an approval can only bind it once the hash of {} is supplied",
                missing.join(", ")
            ));
        }
        if self.approval_mode.value == ApprovalMode::Deny {
            let before = d.clone();
            d.verdict = Verdict::Deny;
            d.reason = format!(
                "{} — refused because approval mode is \"deny\" ({}), so no one can approve it",
                d.reason, self.approval_mode.source
            );
            return Assessment {
                decision: d,
                classification,
                deciding_segment: seg,
                before_approval: Some(before),
            };
        }
        Assessment {
            decision: d,
            classification,
            deciding_segment: seg,
            before_approval: None,
        }
    }

    fn matching_allow_rule(
        &self,
        effect: &Effect,
        c: Option<&Classification>,
        include_network: bool,
    ) -> Option<(String, String)> {
        let pick = |kind: RuleKind, subject: &str| {
            self.allow_rules
                .iter()
                .find(|r| r.value.kind == kind && glob_match(&r.value.pattern, subject))
                .map(|r| (r.value.to_text(), r.source.to_string()))
        };
        match effect {
            Effect::Exec { .. } => {
                let c = c?;
                // Every segment that needs approval must be covered by some rule.
                let mut first = None;
                for s in &c.segments {
                    if needs_approval_class(s.class)
                        || (include_network && s.class == CommandClass::Network)
                    {
                        let subject = s.argv.join(" ");
                        let m = pick(RuleKind::Exec, &subject)?;
                        first.get_or_insert(m);
                    }
                }
                first
            }
            Effect::Fetch { host, .. } => pick(RuleKind::Fetch, host),
            Effect::ReadFile { path, .. } | Effect::ListDir { path, .. } => {
                pick(RuleKind::Read, &path.to_string_lossy())
            }
            Effect::WriteFile { path, .. } => pick(RuleKind::Write, &path.to_string_lossy()),
            Effect::SendMessage {
                channel, recipient, ..
            } => pick(RuleKind::Send, &format!("{channel}:{recipient}")),
            Effect::ReadSecret { name } => pick(RuleKind::Secret, name),
        }
    }

    fn tainted(&self, session: &SessionState) -> bool {
        self.taint_enabled.value && session.taint.is_tainted()
    }

    fn taint_sources(session: &SessionState) -> String {
        let mut s = session
            .taint
            .sources
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if session.taint.sources.len() > 3 {
            s.push_str(", …");
        }
        s
    }

    fn base_decision(
        &self,
        effect: &Effect,
        session: &SessionState,
    ) -> (Decision, Option<Classification>, Option<usize>) {
        let ctx = &self.context;
        match effect {
            Effect::Exec {
                command,
                cwd,
                secret_findings,
                ..
            } => {
                let cwd_abs = ctx.resolve(cwd);
                if ctx.is_chela_path(&cwd_abs) {
                    return (
                        Decision::deny(
                            rules::CHELA_CONFIG,
                            format!("the command would start in {}, which is Chela's own state directory", cwd_abs.display()),
                            &["CN-D6", "CN-D7"],
                        ),
                        None,
                        None,
                    );
                }
                let c = classify_at(command, ctx, &cwd_abs);
                let (d, seg) = self.exec_decision(&c, *secret_findings, session);
                (d, Some(c), seg)
            }
            Effect::ReadFile {
                path,
                inside_workspace,
            }
            | Effect::ListDir {
                path,
                inside_workspace,
            } => {
                let verb = if matches!(effect, Effect::ReadFile { .. }) {
                    "reading"
                } else {
                    "listing"
                };
                let p = crate::paths::normalize(path);
                if ctx.is_chela_path(&p) {
                    return (
                        Decision::deny(
                            rules::CHELA_CONFIG,
                            format!("{verb} {} is refused: it is Chela's own configuration, keys, vault or audit data", p.display()),
                            &["CN-D6", "CN-D7"],
                        ),
                        None,
                        None,
                    );
                }
                if let Some(d) = self.path_denied(&p) {
                    return (
                        Decision::deny(
                            rules::PATH_DENIED,
                            format!(
                                "{verb} {} is refused: `policy.deny_paths` lists {} ({})",
                                p.display(),
                                d.value,
                                d.source
                            ),
                            &["CN-A3"],
                        ),
                        None,
                        None,
                    );
                }
                if ctx.is_secret_path(&p) {
                    return (
                        need(
                            rules::SECRET_READ,
                            format!("{verb} {} exposes credentials or private data", p.display()),
                            &["CN-A3", "CN-A4", "CN-D7"],
                            false,
                        ),
                        None,
                        None,
                    );
                }
                if *inside_workspace && ctx.in_workspace(&p) {
                    return (
                        allow(
                            rules::PATH_WORKSPACE,
                            format!("{verb} inside the workspace"),
                            &["CN-A3"],
                        ),
                        None,
                        None,
                    );
                }
                (
                    gate(
                        self.read_outside_workspace.value,
                        rules::READ_OUTSIDE,
                        &format!("{verb} {} outside the workspace", p.display()),
                        "policy.read_outside_workspace",
                        &self.read_outside_workspace.source,
                        &["CN-A3", "CN-B2"],
                    ),
                    None,
                    None,
                )
            }
            Effect::WriteFile {
                path,
                inside_workspace,
            } => {
                let p = crate::paths::normalize(path);
                if let Some(d) = self.path_denied(&p) {
                    return (
                        Decision::deny(
                            rules::PATH_DENIED,
                            format!(
                                "writing {} is refused: `policy.deny_paths` lists {} ({})",
                                p.display(),
                                d.value,
                                d.source
                            ),
                            &["CN-A3"],
                        ),
                        None,
                        None,
                    );
                }
                let inside = *inside_workspace && ctx.in_workspace(&p);
                match ctx.write_kind(&p) {
                    WriteKind::Chela => (
                        Decision::deny(
                            rules::CHELA_CONFIG,
                            format!("writing {} is refused: it is Chela's own configuration, policy, keys or audit data", p.display()),
                            &["CN-D6", "CN-D7"],
                        ),
                        None,
                        None,
                    ),
                    WriteKind::StartupOrPersistence(why) => (
                        need(
                            rules::CONFIG_TAMPER,
                            format!("writing {} changes start-up or security configuration ({why})", p.display()),
                            &["CN-D6", "CN-D7", "NVDB-3"],
                            false,
                        ),
                        None,
                        None,
                    ),
                    WriteKind::Device => (
                        need(
                            rules::DESTRUCTIVE,
                            format!("writing the raw device {} destroys data", p.display()),
                            &["CN-D6", "NVDB-3"],
                            false,
                        ),
                        None,
                        None,
                    ),
                    _ if inside => (
                        allow(rules::PATH_WORKSPACE, "writing inside the workspace".into(), &["CN-A3"]),
                        None,
                        None,
                    ),
                    _ => {
                        let g = gate(
                            self.write_outside_workspace.value,
                            rules::WRITE_OUTSIDE,
                            &format!("writing {} outside the workspace", p.display()),
                            "policy.write_outside_workspace",
                            &self.write_outside_workspace.source,
                            &["CN-A3", "CN-B2"],
                        );
                        if g.verdict == Verdict::Allow && self.tainted(session) {
                            return (
                                need(
                                    rules::TAINT_WRITE,
                                    format!(
                                        "the session read untrusted content ({}); writing {} outside the workspace needs approval (rule of two)",
                                        Self::taint_sources(session),
                                        p.display()
                                    ),
                                    &["CN-B2", "NVDB-5", "LLM01"],
                                    true,
                                ),
                                None,
                                None,
                            );
                        }
                        (g, None, None)
                    }
                }
            }
            Effect::Fetch {
                url,
                host,
                secret_findings,
            } => {
                if *secret_findings > 0 {
                    return (
                        Decision::deny(
                            rules::SECRET_EGRESS,
                            format!("the request to {host} carries {secret_findings} secret(s); secrets never leave (fetch {url})"),
                            &["CN-D6", "CN-A4", "CNCERT-M2"],
                        ),
                        None,
                        None,
                    );
                }
                let host_l = host.to_ascii_lowercase();
                let host_l = host_l.trim_end_matches('.');
                if self.tainted(session)
                    && !session.contacted_hosts.contains(host_l)
                    && !self.taint_exempt_hosts.iter().any(|h| h.value == host_l)
                {
                    return (
                        need(
                            rules::TAINT_EGRESS,
                            format!(
                                "the session read untrusted content ({}); sending a request to {host}, a host not contacted before in this session, could leak data (rule of two)",
                                Self::taint_sources(session)
                            ),
                            &["CN-B2", "NVDB-5", "LLM01"],
                            true,
                        ),
                        None,
                        None,
                    );
                }
                (
                    allow(
                        rules::NET_FETCH,
                        format!("fetching from {host} (the network allowlist still applies)"),
                        &["CN-B1"],
                    ),
                    None,
                    None,
                )
            }
            Effect::SendMessage {
                channel,
                recipient,
                secret_findings,
            } => {
                if *secret_findings > 0 {
                    return (
                        Decision::deny(
                            rules::SECRET_EGRESS,
                            format!("the message to {recipient} via {channel} carries {secret_findings} secret(s); secrets never leave"),
                            &["CN-D6", "CN-A4"],
                        ),
                        None,
                        None,
                    );
                }
                let g = gate(
                    self.send_message.value,
                    rules::SEND_MESSAGE,
                    &format!("sending a message to {recipient} via {channel}"),
                    "policy.send_message",
                    &self.send_message.source,
                    &["CN-B2"],
                );
                if g.verdict == Verdict::Allow && self.tainted(session) {
                    return (
                        need(
                            rules::TAINT_SEND,
                            format!(
                                "the session read untrusted content ({}); sending a message to {recipient} needs approval (rule of two)",
                                Self::taint_sources(session)
                            ),
                            &["CN-B2", "NVDB-5", "LLM01"],
                            true,
                        ),
                        None,
                        None,
                    );
                }
                (g, None, None)
            }
            Effect::ReadSecret { name } => {
                let lower = name.to_ascii_lowercase();
                if CHELA_SECRET_PREFIXES.iter().any(|p| lower.starts_with(p)) {
                    return (
                        Decision::deny(
                            rules::CHELA_CONFIG,
                            format!("the secret `{name}` belongs to Chela itself (keys, tokens, provider credentials); the agent never reads it"),
                            &["CN-D6", "CN-D7", "CNCERT-M2"],
                        ),
                        None,
                        None,
                    );
                }
                let g = gate(
                    self.read_secret.value,
                    rules::READ_SECRET,
                    &format!("reading the secret `{name}`"),
                    "policy.read_secret",
                    &self.read_secret.source,
                    &["CN-A4", "CN-B2"],
                );
                if g.verdict != Verdict::Deny && self.tainted(session) {
                    return (
                        need(
                            rules::TAINT_SECRET,
                            format!(
                                "the session read untrusted content ({}); reading the secret `{name}` needs approval (rule of two)",
                                Self::taint_sources(session)
                            ),
                            &["CN-B2", "CN-A4", "NVDB-5", "LLM01"],
                            true,
                        ),
                        None,
                        None,
                    );
                }
                (g, None, None)
            }
        }
    }

    fn exec_decision(
        &self,
        c: &Classification,
        secret_findings: u32,
        session: &SessionState,
    ) -> (Decision, Option<usize>) {
        let network = c
            .segments
            .iter()
            .position(|s| matches!(s.class, CommandClass::Network | CommandClass::Installer));
        if secret_findings > 0 {
            if let Some(i) = network {
                return (
                    Decision::deny(
                        rules::SECRET_EGRESS,
                        format!(
                            "the command carries {secret_findings} secret(s) and uses the network (`{}`); secrets never leave",
                            c.segments[i].text
                        ),
                        &["CN-D6", "CN-A4", "CNCERT-M2"],
                    ),
                    Some(i),
                );
            }
        }
        if let Some(i) = c.segments.iter().position(|s| s.touches_chela) {
            return (
                Decision::deny(
                    rules::CHELA_CONFIG,
                    format!(
                        "`{}` touches Chela's own configuration, keys, vault, policy or audit log: {}",
                        c.segments[i].text, c.segments[i].reason
                    ),
                    &["CN-D6", "CN-D7", "NVDB-6"],
                ),
                Some(i),
            );
        }
        let Some((i, worst)) = c
            .segments
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.class, std::cmp::Reverse(*i)))
        else {
            return (
                need(
                    rules::EXEC_UNKNOWN,
                    "empty classification".into(),
                    &["CN-B2"],
                    true,
                ),
                None,
            );
        };
        let what = |s: &Segment| format!("`{}`: {}", s.text, s.reason);
        use CommandClass::*;
        let d = match worst.class {
            ConfigTamper => need(
                rules::CONFIG_TAMPER,
                format!(
                    "changes start-up, persistence or security configuration — {}",
                    what(worst)
                ),
                &["CN-D6", "CN-D7", "NVDB-3"],
                false,
            ),
            Privilege => need(
                rules::PRIVILEGE,
                format!("uses or changes privileges — {}", what(worst)),
                &["CN-D6", "CN-A3", "CN-B2", "NVDB-3"],
                false,
            ),
            Destructive => need(
                rules::DESTRUCTIVE,
                format!("destroys data — {}", what(worst)),
                &["CN-D6", "NVDB-3"],
                false,
            ),
            Installer => need(
                rules::INSTALLER,
                format!(
                    "installs software or runs downloaded code — {}",
                    what(worst)
                ),
                &["CN-D6", "CN-A5", "NVDB-4"],
                false,
            ),
            SecretAccess => need(
                rules::SECRET_READ,
                format!("reads credentials or private data — {}", what(worst)),
                &["CN-A3", "CN-A4", "CN-D7"],
                false,
            ),
            Unknown => need(
                rules::EXEC_UNKNOWN,
                format!("the kernel cannot tell what this does — {}", what(worst)),
                &["CN-B2", "NVDB-3"],
                true,
            ),
            InlineInterpreter => need(
                rules::EXEC_INLINE,
                format!("runs inline code — {}", what(worst)),
                &["CN-B2", "NVDB-3"],
                true,
            ),
            Network => {
                let g = gate(
                    self.exec_network.value,
                    rules::EXEC_NETWORK,
                    &format!("a command using the network ({})", what(worst)),
                    "policy.exec_network",
                    &self.exec_network.source,
                    &["CN-B1", "CN-B2"],
                );
                g
            }
            WorkspaceWrite | ReadOnly => allow(
                rules::EXEC_WORKSPACE,
                if worst.class == ReadOnly {
                    "every part only reads".to_string()
                } else {
                    "every part reads or writes inside the workspace (or scratch space)".to_string()
                },
                &["CN-B2"],
            ),
        };
        // Rule of two: a tainted session needs approval for any network use.
        if let (Some(ni), true, false) =
            (network, self.tainted(session), d.verdict == Verdict::Deny)
        {
            if d.verdict == Verdict::Allow || d.auto_approvable {
                return (
                    need(
                        rules::TAINT_EXEC_NETWORK,
                        format!(
                            "the session read untrusted content ({}); `{}` uses the network (rule of two)",
                            Self::taint_sources(session),
                            c.segments[ni].text
                        ),
                        &["CN-B2", "NVDB-5", "LLM01"],
                        true,
                    ),
                    Some(ni),
                );
            }
        }
        (d, Some(i))
    }
}

/// Script files in `c` for which `effect` carries no digest.
fn missing_digests(effect: &Effect, c: &Classification) -> Vec<String> {
    let Effect::Exec { scripts, .. } = effect else {
        return Vec::new();
    };
    c.script_files()
        .into_iter()
        .filter(|p| !scripts.iter().any(|s| &s.path == p))
        .collect()
}

/// Whether a segment of this class needs an approval under the default mapping.
pub fn needs_approval_class(c: CommandClass) -> bool {
    !matches!(
        c,
        CommandClass::ReadOnly | CommandClass::WorkspaceWrite | CommandClass::Network
    )
}

/// Lexical check used by tool-call mapping: is `p` inside `workspace`?
pub fn lexically_inside(workspace: &Path, p: &Path) -> bool {
    crate::paths::normalize(p).starts_with(workspace)
}
