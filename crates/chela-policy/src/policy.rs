//! The policy model: built-in defaults, the user's `config.toml` (`[tools]`, `[policy]`) and the
//! organisation policy (`/etc/chela/policy.toml`), layered so that the organisation can only
//! tighten. Every effective rule remembers where it came from.
//!
//! The floor (CN-D6) is not part of this model: no key exists that could lift it.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::paths::CommandContext;

/// Where an effective rule came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum RuleSource {
    /// Chela's built-in default.
    Builtin,
    /// The user's configuration file.
    User {
        /// File path.
        file: String,
        /// Line number (1-based).
        line: usize,
    },
    /// The organisation policy file.
    Org {
        /// File path.
        file: String,
        /// Line number (1-based).
        line: usize,
    },
    /// Set at run time by the program (e.g. `chela run` without a terminal forces `deny`).
    Runtime {
        /// Why.
        why: String,
    },
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Builtin => f.write_str("builtin"),
            RuleSource::User { file, line } => write!(f, "user {file}:{line}"),
            RuleSource::Org { file, line } => write!(f, "org {file}:{line}"),
            RuleSource::Runtime { why } => write!(f, "runtime ({why})"),
        }
    }
}

/// A value with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: RuleSource,
}

impl<T> Sourced<T> {
    fn builtin(value: T) -> Self {
        Sourced {
            value,
            source: RuleSource::Builtin,
        }
    }
}

/// Tool profiles, from the most restrictive (CN-D4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Read and list files only.
    Minimal,
    /// Files and `exec` in the workspace (the default).
    Coding,
    /// Every tool Chela offers, including web fetch, messages and secrets.
    Full,
}

impl Profile {
    /// The tools the profile enables (`None` for `full`: every tool).
    pub fn tools(self) -> Option<&'static [&'static str]> {
        match self {
            Profile::Minimal => Some(&["read", "list"]),
            Profile::Coding => Some(&["read", "list", "write", "edit", "exec"]),
            Profile::Full => None,
        }
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Minimal => "minimal",
            Profile::Coding => "coding",
            Profile::Full => "full",
        }
    }
}

/// A gate for a kind of effect, from the most permissive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// Allowed (other rules such as taint still apply).
    Allow,
    /// Needs a human approval.
    Ask,
    /// Refused.
    Deny,
}

impl Gate {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Allow => "allow",
            Gate::Ask => "ask",
            Gate::Deny => "deny",
        }
    }
}

/// What happens to effects that need approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Ask a human (terminal prompt, later the gateway or a chat channel).
    Ask,
    /// Refuse anything that needs approval (default for `chela run` without a terminal).
    Deny,
}

impl ApprovalMode {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::Ask => "ask",
            ApprovalMode::Deny => "deny",
        }
    }
}

/// The kind of effect an allow rule pre-approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// `exec:PATTERN` — matched against each command segment's resolved argv joined by spaces.
    Exec,
    /// `fetch:PATTERN` — matched against the host.
    Fetch,
    /// `read:PATTERN` — matched against the path.
    Read,
    /// `write:PATTERN` — matched against the path.
    Write,
    /// `send:PATTERN` — matched against `channel:recipient`.
    Send,
    /// `secret:PATTERN` — matched against the secret's name.
    Secret,
}

/// A pre-approval pattern (`*` matches any text, `?` one character). Never covers floor items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowRule {
    /// Effect kind.
    pub kind: RuleKind,
    /// Glob pattern.
    pub pattern: String,
}

impl AllowRule {
    /// Parses `kind:pattern` (no prefix = `exec`).
    pub fn parse(s: &str) -> Result<AllowRule, String> {
        let (kind, pattern) = match s.split_once(':') {
            Some((k, p)) if !k.contains(' ') => {
                let kind = match k {
                    "exec" => RuleKind::Exec,
                    "fetch" => RuleKind::Fetch,
                    "read" => RuleKind::Read,
                    "write" => RuleKind::Write,
                    "send" => RuleKind::Send,
                    "secret" => RuleKind::Secret,
                    other => {
                        return Err(format!(
                            "unknown rule kind `{other}`; use exec:, fetch:, read:, write:, send: or secret:"
                        ))
                    }
                };
                (kind, p.trim())
            }
            _ => (RuleKind::Exec, s.trim()),
        };
        if pattern.is_empty() || pattern.chars().all(|c| c == '*' || c == ' ') {
            return Err(format!(
                "pattern `{s}` would pre-approve everything; name the command or host"
            ));
        }
        Ok(AllowRule {
            kind,
            pattern: pattern.to_string(),
        })
    }

    /// The rule as written in files.
    pub fn to_text(&self) -> String {
        let k = match self.kind {
            RuleKind::Exec => "exec",
            RuleKind::Fetch => "fetch",
            RuleKind::Read => "read",
            RuleKind::Write => "write",
            RuleKind::Send => "send",
            RuleKind::Secret => "secret",
        };
        format!("{k}:{}", self.pattern)
    }
}

/// Glob matching with `*` and `?`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// A problem in a policy file: names the file, line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: `{key}`: {message}")]
pub struct PolicyError {
    /// File path.
    pub file: String,
    /// Line (1-based).
    pub line: usize,
    /// The key (e.g. `policy.exec_network`).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A user setting ignored because it would loosen the organisation policy (or similar notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyWarning {
    /// File path.
    pub file: String,
    /// Line (1-based).
    pub line: usize,
    /// The key.
    pub key: String,
    /// What was ignored and why.
    pub message: String,
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}`: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

/// Loop-breaker limits (OWASP LLM10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopLimits {
    /// Maximum tool calls in one task.
    pub max_tool_calls: u32,
    /// How many times the same failing call may be repeated.
    pub max_identical_failures: u32,
    /// Maximum tool output bytes in one task.
    pub max_output_bytes: u64,
}

impl Default for LoopLimits {
    fn default() -> Self {
        LoopLimits {
            max_tool_calls: 200,
            max_identical_failures: 3,
            max_output_bytes: 16 * 1024 * 1024,
        }
    }
}

// ----- file format --------------------------------------------------------------------------

type SList = Option<toml::Spanned<Vec<toml::Spanned<String>>>>;

#[derive(Debug, Default, Deserialize)]
struct UserFile {
    #[serde(default)]
    tools: Option<ToolsSection>,
    #[serde(default)]
    policy: Option<PolicySection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFile {
    #[serde(default)]
    tools: Option<ToolsSection>,
    #[serde(default)]
    policy: Option<PolicySection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsSection {
    profile: Option<toml::Spanned<Profile>>,
    allow: SList,
    deny: SList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    approval: Option<toml::Spanned<ApprovalMode>>,
    allow_rules: SList,
    exec_network: Option<toml::Spanned<Gate>>,
    read_outside_workspace: Option<toml::Spanned<Gate>>,
    write_outside_workspace: Option<toml::Spanned<Gate>>,
    send_message: Option<toml::Spanned<Gate>>,
    read_secret: Option<toml::Spanned<Gate>>,
    deny_paths: SList,
    taint: Option<TaintSection>,
    limits: Option<LimitsSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaintSection {
    enabled: Option<toml::Spanned<bool>>,
    exempt_hosts: SList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_tool_calls: Option<toml::Spanned<u32>>,
    max_identical_failures: Option<toml::Spanned<u32>>,
    max_output_bytes: Option<toml::Spanned<u64>>,
}

/// A parsed layer: file name, text (for line numbers) and sections.
struct Layer<'a> {
    file: &'a str,
    text: &'a str,
    org: bool,
    tools: ToolsSection,
    policy: PolicySection,
}

impl Layer<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    fn source(&self, span: Range<usize>) -> RuleSource {
        let line = self.line(span);
        if self.org {
            RuleSource::Org {
                file: self.file.to_string(),
                line,
            }
        } else {
            RuleSource::User {
                file: self.file.to_string(),
                line,
            }
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map(|s| s.matches('\n').count() + 1)
        .unwrap_or(1)
}

/// The key a toml error points at: `section.key` from the line and the nearest header.
fn key_at(text: &str, offset: usize) -> String {
    let upto = text.get(..offset.min(text.len())).unwrap_or("");
    let line_start = upto.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let mut section = String::new();
    for l in upto.lines() {
        let l = l.trim();
        if l.starts_with('[') && l.ends_with(']') {
            section = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
    }
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    match (section.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => section,
        (false, false) => format!("{section}.{key}"),
    }
}

fn parse_layer<'a>(file: &'a str, text: &'a str, org: bool) -> Result<Layer<'a>, PolicyError> {
    let conv = |e: toml::de::Error| {
        let off = e.span().map(|s| s.start).unwrap_or(0);
        PolicyError {
            file: file.to_string(),
            line: line_of(text, off),
            key: key_at(text, off),
            message: format!(
                "{}; fix the value or remove the key (see `chela policy show` for the valid keys)",
                e.message().trim()
            ),
        }
    };
    let (tools, policy) = if org {
        let f: OrgFile = toml::from_str(text).map_err(conv)?;
        (f.tools, f.policy)
    } else {
        let f: UserFile = toml::from_str(text).map_err(conv)?;
        (f.tools, f.policy)
    };
    Ok(Layer {
        file,
        text,
        org,
        tools: tools.unwrap_or_default(),
        policy: policy.unwrap_or_default(),
    })
}

// ----- the effective policy -----------------------------------------------------------------

/// The effective policy: every rule with its source, the warnings from layering, and the
/// command context (workspace, home, `$CHELA_HOME`) decisions are made in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Tool profile.
    pub profile: Sourced<Profile>,
    /// Tools added to the profile.
    pub tool_allow: Vec<Sourced<String>>,
    /// Tools removed (a deny always wins).
    pub tool_deny: Vec<Sourced<String>>,
    /// What happens to effects needing approval.
    pub approval_mode: Sourced<ApprovalMode>,
    /// Pre-approval patterns (never floor items).
    pub allow_rules: Vec<Sourced<AllowRule>>,
    /// Commands that use the network (when the session is clean).
    pub exec_network: Sourced<Gate>,
    /// File reads outside the workspace.
    pub read_outside_workspace: Sourced<Gate>,
    /// File writes outside the workspace.
    pub write_outside_workspace: Sourced<Gate>,
    /// Sending messages (when the session is clean).
    pub send_message: Sourced<Gate>,
    /// Reading a named secret from the vault (when the session is clean).
    pub read_secret: Sourced<Gate>,
    /// Paths that file tools may never touch (CN-A3), `~` expanded.
    pub deny_paths: Vec<Sourced<String>>,
    /// Whether the taint rule of two is enforced.
    pub taint_enabled: Sourced<bool>,
    /// Hosts that never count as "new" for tainted egress.
    pub taint_exempt_hosts: Vec<Sourced<String>>,
    /// Loop-breaker: maximum tool calls per task.
    pub max_tool_calls: Sourced<u32>,
    /// Loop-breaker: identical failing calls allowed.
    pub max_identical_failures: Sourced<u32>,
    /// Loop-breaker: tool output bytes per task.
    pub max_output_bytes: Sourced<u64>,
    /// Settings that were ignored while layering.
    pub warnings: Vec<PolicyWarning>,
    /// Where commands run and whose files are protected.
    pub context: CommandContext,
    /// The files that were layered (for `policy show`).
    pub layers: Vec<String>,
}

impl Policy {
    /// The built-in defaults for `ctx`.
    pub fn builtin(ctx: CommandContext) -> Policy {
        let limits = LoopLimits::default();
        Policy {
            profile: Sourced::builtin(Profile::Coding),
            tool_allow: Vec::new(),
            tool_deny: Vec::new(),
            approval_mode: Sourced::builtin(ApprovalMode::Ask),
            allow_rules: Vec::new(),
            exec_network: Sourced::builtin(Gate::Allow),
            read_outside_workspace: Sourced::builtin(Gate::Ask),
            write_outside_workspace: Sourced::builtin(Gate::Ask),
            send_message: Sourced::builtin(Gate::Allow),
            read_secret: Sourced::builtin(Gate::Ask),
            deny_paths: Vec::new(),
            taint_enabled: Sourced::builtin(true),
            taint_exempt_hosts: Vec::new(),
            max_tool_calls: Sourced::builtin(limits.max_tool_calls),
            max_identical_failures: Sourced::builtin(limits.max_identical_failures),
            max_output_bytes: Sourced::builtin(limits.max_output_bytes),
            warnings: Vec::new(),
            context: ctx,
            layers: vec!["builtin".into()],
        }
    }

    /// Layers the user's `config.toml` (`(path, text)`; only `[tools]` and `[policy]` are read,
    /// other sections are ignored) and the organisation policy (`(path, text)`; only `[tools]`
    /// and `[policy]` may appear) over the built-in defaults. The organisation can only tighten:
    /// user settings that would loosen it are ignored and listed in [`Policy::warnings`].
    pub fn load(
        user: Option<(&str, &str)>,
        org: Option<(&str, &str)>,
        ctx: CommandContext,
    ) -> Result<Policy, PolicyError> {
        let mut p = Policy::builtin(ctx);
        let user = user.map(|(f, t)| parse_layer(f, t, false)).transpose()?;
        let org = org.map(|(f, t)| parse_layer(f, t, true)).transpose()?;
        if let Some(u) = &user {
            p.layers.push(format!("user {}", u.file));
            p.apply_user(u)?;
        }
        if let Some(o) = &org {
            p.layers.push(format!("org {}", o.file));
            p.apply_org(o, user.as_ref())?;
        }
        p.refresh_private_paths();
        Ok(p)
    }

    /// Parses a policy file on its own (to check it): the errors `load` would give.
    pub fn check_text(file: &str, text: &str, org: bool) -> Result<(), PolicyError> {
        let l = parse_layer(file, text, org)?;
        validate_layer(&l)
    }

    /// Forces the approval mode at run time (e.g. `deny` when no terminal is attached). It can
    /// only tighten: asking for `ask` when the policy says `deny` changes nothing.
    pub fn with_approval_mode(mut self, mode: ApprovalMode, why: &str) -> Policy {
        if mode > self.approval_mode.value {
            self.approval_mode = Sourced {
                value: mode,
                source: RuleSource::Runtime { why: why.into() },
            };
        }
        self
    }

    /// The same policy for another workspace/context.
    pub fn with_context(mut self, ctx: CommandContext) -> Policy {
        self.context = ctx;
        self.refresh_private_paths();
        self
    }

    /// The loop-breaker limits.
    pub fn limits(&self) -> LoopLimits {
        LoopLimits {
            max_tool_calls: self.max_tool_calls.value,
            max_identical_failures: self.max_identical_failures.value,
            max_output_bytes: self.max_output_bytes.value,
        }
    }

    /// Whether the tool may be offered to and used by the model (CN-D4). A deny always wins.
    pub fn tool_allowed(&self, name: &str) -> bool {
        if self
            .tool_deny
            .iter()
            .any(|d| d.value == name || d.value == "*")
        {
            return false;
        }
        let in_profile = match self.profile.value.tools() {
            None => true,
            Some(list) => list.contains(&name),
        };
        in_profile || self.tool_allow.iter().any(|a| a.value == name)
    }

    /// The tools from `offered` that may reach the model, in the same order (CN-D4: denied tools
    /// are never shown to it).
    pub fn filter_tools(&self, offered: &[&str]) -> Vec<String> {
        offered
            .iter()
            .filter(|t| self.tool_allowed(t))
            .map(|t| t.to_string())
            .collect()
    }

    /// Whether `path` (absolute) is under a `deny_paths` entry.
    pub fn path_denied(&self, path: &std::path::Path) -> Option<&Sourced<String>> {
        self.deny_paths
            .iter()
            .find(|d| path.starts_with(std::path::Path::new(&d.value)))
    }

    fn refresh_private_paths(&mut self) {
        for d in &self.deny_paths {
            let p = std::path::PathBuf::from(&d.value);
            if !self.context.private_paths.contains(&p) {
                self.context.private_paths.push(p);
            }
        }
    }

    fn expand_home(&self, s: &str) -> String {
        if s == "~" {
            self.context.home.to_string_lossy().into_owned()
        } else if let Some(r) = s.strip_prefix("~/") {
            self.context.home.join(r).to_string_lossy().into_owned()
        } else {
            s.to_string()
        }
    }

    fn apply_user(&mut self, l: &Layer<'_>) -> Result<(), PolicyError> {
        validate_layer(l)?;
        let t = &l.tools;
        if let Some(v) = &t.profile {
            self.profile = Sourced {
                value: *v.get_ref(),
                source: l.source(v.span()),
            };
        }
        for s in list(&t.allow) {
            self.tool_allow.push(Sourced {
                value: s.get_ref().clone(),
                source: l.source(s.span()),
            });
        }
        for s in list(&t.deny) {
            self.tool_deny.push(Sourced {
                value: s.get_ref().clone(),
                source: l.source(s.span()),
            });
        }
        let p = &l.policy;
        if let Some(v) = &p.approval {
            self.approval_mode = Sourced {
                value: *v.get_ref(),
                source: l.source(v.span()),
            };
        }
        for s in list(&p.allow_rules) {
            if let Ok(rule) = AllowRule::parse(s.get_ref()) {
                self.allow_rules.push(Sourced {
                    value: rule,
                    source: l.source(s.span()),
                });
            }
        }
        for (field, slot) in [
            (&p.exec_network, &mut self.exec_network),
            (&p.read_outside_workspace, &mut self.read_outside_workspace),
            (
                &p.write_outside_workspace,
                &mut self.write_outside_workspace,
            ),
            (&p.send_message, &mut self.send_message),
            (&p.read_secret, &mut self.read_secret),
        ] {
            if let Some(v) = field {
                *slot = Sourced {
                    value: *v.get_ref(),
                    source: l.source(v.span()),
                };
            }
        }
        for s in list(&p.deny_paths) {
            let value = self.expand_home(s.get_ref());
            self.deny_paths.push(Sourced {
                value,
                source: l.source(s.span()),
            });
        }
        if let Some(ts) = &p.taint {
            if let Some(v) = &ts.enabled {
                self.taint_enabled = Sourced {
                    value: *v.get_ref(),
                    source: l.source(v.span()),
                };
            }
            for s in list(&ts.exempt_hosts) {
                self.taint_exempt_hosts.push(Sourced {
                    value: s.get_ref().to_ascii_lowercase(),
                    source: l.source(s.span()),
                });
            }
        }
        if let Some(ls) = &p.limits {
            if let Some(v) = &ls.max_tool_calls {
                self.max_tool_calls = Sourced {
                    value: *v.get_ref(),
                    source: l.source(v.span()),
                };
            }
            if let Some(v) = &ls.max_identical_failures {
                self.max_identical_failures = Sourced {
                    value: *v.get_ref(),
                    source: l.source(v.span()),
                };
            }
            if let Some(v) = &ls.max_output_bytes {
                self.max_output_bytes = Sourced {
                    value: *v.get_ref(),
                    source: l.source(v.span()),
                };
            }
        }
        Ok(())
    }

    fn warn(&mut self, src: &RuleSource, key: &str, message: String) {
        let (file, line) = match src {
            RuleSource::User { file, line } | RuleSource::Org { file, line } => {
                (file.clone(), *line)
            }
            _ => ("builtin".to_string(), 0),
        };
        self.warnings.push(PolicyWarning {
            file,
            line,
            key: key.to_string(),
            message,
        });
    }

    fn apply_org(&mut self, o: &Layer<'_>, user: Option<&Layer<'_>>) -> Result<(), PolicyError> {
        validate_layer(o)?;
        let _ = user;
        let t = &o.tools;
        // Profile: the organisation's is a ceiling.
        if let Some(v) = &t.profile {
            let org_p = *v.get_ref();
            let src = o.source(v.span());
            if self.profile.value > org_p {
                let cur = self.profile.clone();
                if cur.source != RuleSource::Builtin {
                    self.warn(
                        &cur.source,
                        "tools.profile",
                        format!(
                            "profile \"{}\" ignored: the organisation policy ({src}) limits it to \"{}\"",
                            cur.value.as_str(),
                            org_p.as_str()
                        ),
                    );
                }
                self.profile = Sourced {
                    value: org_p,
                    source: src,
                };
            }
        }
        let org_deny: Vec<Sourced<String>> = list(&t.deny)
            .map(|s| Sourced {
                value: s.get_ref().clone(),
                source: o.source(s.span()),
            })
            .collect();
        let org_allow: Vec<Sourced<String>> = list(&t.allow)
            .map(|s| Sourced {
                value: s.get_ref().clone(),
                source: o.source(s.span()),
            })
            .collect();
        let org_profile_tools = t.profile.as_ref().map(|p| p.get_ref().tools());
        let user_allow = std::mem::take(&mut self.tool_allow);
        for a in user_allow {
            let denied = org_deny
                .iter()
                .find(|d| d.value == a.value || d.value == "*");
            let outside_profile = match org_profile_tools {
                Some(Some(list)) => {
                    !list.contains(&a.value.as_str())
                        && !org_allow.iter().any(|x| x.value == a.value)
                }
                _ => false,
            };
            if let Some(d) = denied {
                self.warn(
                    &a.source,
                    "tools.allow",
                    format!(
                        "tool \"{}\" not enabled: the organisation policy denies it ({})",
                        a.value, d.source
                    ),
                );
            } else if outside_profile {
                self.warn(
                    &a.source,
                    "tools.allow",
                    format!(
                        "tool \"{}\" not enabled: the organisation's profile does not include it",
                        a.value
                    ),
                );
            } else {
                self.tool_allow.push(a);
            }
        }
        self.tool_allow.extend(org_allow);
        self.tool_deny.extend(org_deny);

        let p = &o.policy;
        if let Some(v) = &p.approval {
            self.tighten_mode(*v.get_ref(), o.source(v.span()));
        }
        // Allow rules: an organisation list is the ceiling for user rules; `deny` mode from the
        // organisation disables user rules.
        let org_mode_deny = p
            .approval
            .as_ref()
            .is_some_and(|v| *v.get_ref() == ApprovalMode::Deny);
        let org_rules: Option<Vec<Sourced<AllowRule>>> = p.allow_rules.as_ref().map(|l| {
            l.get_ref()
                .iter()
                .filter_map(|s| {
                    AllowRule::parse(s.get_ref()).ok().map(|r| Sourced {
                        value: r,
                        source: o.source(s.span()),
                    })
                })
                .collect()
        });
        let user_rules = std::mem::take(&mut self.allow_rules);
        for r in user_rules {
            if org_mode_deny {
                self.warn(
                    &r.source,
                    "policy.allow_rules",
                    format!(
                        "allow rule \"{}\" ignored: the organisation policy sets approval = \"deny\"",
                        r.value.to_text()
                    ),
                );
                continue;
            }
            match &org_rules {
                Some(org) if !org.iter().any(|x| x.value == r.value) => self.warn(
                    &r.source,
                    "policy.allow_rules",
                    format!(
                        "allow rule \"{}\" ignored: the organisation policy lists the only permitted allow rules",
                        r.value.to_text()
                    ),
                ),
                Some(_) => {}
                None => self.allow_rules.push(r),
            }
        }
        if let Some(org) = org_rules {
            self.allow_rules.extend(org);
        }

        for (key, field) in [
            ("policy.exec_network", &p.exec_network),
            ("policy.read_outside_workspace", &p.read_outside_workspace),
            ("policy.write_outside_workspace", &p.write_outside_workspace),
            ("policy.send_message", &p.send_message),
            ("policy.read_secret", &p.read_secret),
        ] {
            if let Some(v) = field {
                let org_v = *v.get_ref();
                let src = o.source(v.span());
                let cur = match key {
                    "policy.exec_network" => self.exec_network.clone(),
                    "policy.read_outside_workspace" => self.read_outside_workspace.clone(),
                    "policy.write_outside_workspace" => self.write_outside_workspace.clone(),
                    "policy.send_message" => self.send_message.clone(),
                    _ => self.read_secret.clone(),
                };
                if org_v >= cur.value {
                    let new = Sourced {
                        value: org_v,
                        source: src.clone(),
                    };
                    if org_v > cur.value && cur.source != RuleSource::Builtin {
                        self.warn(
                            &cur.source,
                            key,
                            format!(
                                "\"{}\" ignored: the organisation policy ({src}) requires \"{}\"",
                                cur.value.as_str(),
                                org_v.as_str()
                            ),
                        );
                    }
                    match key {
                        "policy.exec_network" => self.exec_network = new,
                        "policy.read_outside_workspace" => self.read_outside_workspace = new,
                        "policy.write_outside_workspace" => self.write_outside_workspace = new,
                        "policy.send_message" => self.send_message = new,
                        _ => self.read_secret = new,
                    }
                }
            }
        }
        for s in list(&p.deny_paths) {
            let value = self.expand_home(s.get_ref());
            self.deny_paths.push(Sourced {
                value,
                source: o.source(s.span()),
            });
        }
        if let Some(ts) = &p.taint {
            if let Some(v) = &ts.enabled {
                if *v.get_ref() {
                    if !self.taint_enabled.value {
                        let cur = self.taint_enabled.source.clone();
                        self.warn(
                            &cur,
                            "policy.taint.enabled",
                            "taint tracking cannot be disabled: the organisation policy enables it"
                                .into(),
                        );
                    }
                    self.taint_enabled = Sourced {
                        value: true,
                        source: o.source(v.span()),
                    };
                }
            }
            if let Some(l) = &ts.exempt_hosts {
                let org_hosts: BTreeSet<String> = l
                    .get_ref()
                    .iter()
                    .map(|s| s.get_ref().to_ascii_lowercase())
                    .collect();
                let user_hosts = std::mem::take(&mut self.taint_exempt_hosts);
                for h in user_hosts {
                    if !org_hosts.contains(&h.value) {
                        self.warn(
                            &h.source,
                            "policy.taint.exempt_hosts",
                            format!(
                                "host \"{}\" not exempted: the organisation policy lists the only exempt hosts",
                                h.value
                            ),
                        );
                    }
                }
                for s in l.get_ref() {
                    self.taint_exempt_hosts.push(Sourced {
                        value: s.get_ref().to_ascii_lowercase(),
                        source: o.source(s.span()),
                    });
                }
            }
        }
        if let Some(ls) = &p.limits {
            if let Some(v) = &ls.max_tool_calls {
                let src = o.source(v.span());
                let cur = self.max_tool_calls.clone();
                self.max_tool_calls =
                    self.tighten_limit(cur, *v.get_ref(), src, "policy.limits.max_tool_calls");
            }
            if let Some(v) = &ls.max_identical_failures {
                let src = o.source(v.span());
                let cur = self.max_identical_failures.clone();
                self.max_identical_failures = self.tighten_limit(
                    cur,
                    *v.get_ref(),
                    src,
                    "policy.limits.max_identical_failures",
                );
            }
            if let Some(v) = &ls.max_output_bytes {
                let src = o.source(v.span());
                let cur = self.max_output_bytes.clone();
                self.max_output_bytes =
                    self.tighten_limit(cur, *v.get_ref(), src, "policy.limits.max_output_bytes");
            }
        }
        Ok(())
    }

    fn tighten_mode(&mut self, org: ApprovalMode, src: RuleSource) {
        if org >= self.approval_mode.value {
            if org > self.approval_mode.value && self.approval_mode.source != RuleSource::Builtin {
                let cur = self.approval_mode.clone();
                self.warn(
                    &cur.source,
                    "policy.approval",
                    format!(
                        "\"{}\" ignored: the organisation policy ({src}) requires \"{}\"",
                        cur.value.as_str(),
                        org.as_str()
                    ),
                );
            }
            self.approval_mode = Sourced {
                value: org,
                source: src,
            };
        }
    }

    fn tighten_limit<T: PartialOrd + Copy + fmt::Display>(
        &mut self,
        cur: Sourced<T>,
        org: T,
        src: RuleSource,
        key: &str,
    ) -> Sourced<T> {
        if cur.value > org {
            if cur.source != RuleSource::Builtin {
                self.warn(
                    &cur.source,
                    key,
                    format!(
                        "{} ignored: the organisation policy ({src}) caps it at {org}",
                        cur.value
                    ),
                );
            }
            Sourced {
                value: org,
                source: src,
            }
        } else {
            cur
        }
    }
}

fn list(l: &SList) -> impl Iterator<Item = &toml::Spanned<String>> {
    l.iter().flat_map(|v| v.get_ref().iter())
}

/// Checks values that parse but are invalid (empty names, zero limits, bad allow rules).
fn validate_layer(l: &Layer<'_>) -> Result<(), PolicyError> {
    let err = |span: Range<usize>, key: &str, message: String| PolicyError {
        file: l.file.to_string(),
        line: l.line(span),
        key: key.to_string(),
        message,
    };
    for (key, lst) in [
        ("tools.allow", &l.tools.allow),
        ("tools.deny", &l.tools.deny),
    ] {
        for s in list(lst) {
            let v = s.get_ref();
            if v.is_empty() || v.contains(char::is_whitespace) {
                return Err(err(
                    s.span(),
                    key,
                    format!(
                        "\"{v}\" is not a tool name; use names such as \"exec\" or \"web_fetch\""
                    ),
                ));
            }
            if key == "tools.allow" && v == "*" {
                return Err(err(
                    s.span(),
                    key,
                    "\"*\" is not allowed here; use profile = \"full\" to enable every tool".into(),
                ));
            }
        }
    }
    for s in list(&l.policy.allow_rules) {
        if let Err(m) = AllowRule::parse(s.get_ref()) {
            return Err(err(s.span(), "policy.allow_rules", m));
        }
    }
    for s in list(&l.policy.deny_paths) {
        let v = s.get_ref();
        if !(v.starts_with('/') || v.starts_with('~')) {
            return Err(err(
                s.span(),
                "policy.deny_paths",
                format!("\"{v}\" must be an absolute path or start with ~/"),
            ));
        }
    }
    if let Some(ts) = &l.policy.taint {
        for s in list(&ts.exempt_hosts) {
            let v = s.get_ref();
            if v.is_empty() || v.contains(['/', ':', ' ', '*']) {
                return Err(err(
                    s.span(),
                    "policy.taint.exempt_hosts",
                    format!("\"{v}\" must be a plain host name such as \"docs.rs\""),
                ));
            }
        }
    }
    if let Some(ls) = &l.policy.limits {
        for (key, v) in [
            (
                "policy.limits.max_tool_calls",
                ls.max_tool_calls
                    .as_ref()
                    .map(|v| (v.span(), u64::from(*v.get_ref()))),
            ),
            (
                "policy.limits.max_identical_failures",
                ls.max_identical_failures
                    .as_ref()
                    .map(|v| (v.span(), u64::from(*v.get_ref()))),
            ),
            (
                "policy.limits.max_output_bytes",
                ls.max_output_bytes
                    .as_ref()
                    .map(|v| (v.span(), *v.get_ref())),
            ),
        ] {
            if let Some((span, 0)) = v {
                return Err(err(span, key, "must be at least 1".into()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("cargo *", "cargo test -p x"));
        assert!(!glob_match("cargo *", "cargo"));
        assert!(glob_match("*.docs.rs", "api.docs.rs"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
    }

    #[test]
    fn key_at_finds_section_and_key() {
        let t = "[tools]\nprofile = \"x\"\n[policy.limits]\nmax_tool_calls = -1\n";
        assert_eq!(key_at(t, t.find("\"x\"").unwrap()), "tools.profile");
        assert_eq!(
            key_at(t, t.find("-1").unwrap()),
            "policy.limits.max_tool_calls"
        );
    }
}
