//! `config.toml`: parsing and validation with errors that name the file, line and key.
//!
//! This module owns the `[provider]`, `[agent]`, `[sandbox]` and `[audit]` sections. Sections
//! owned by other crates (`[policy]`, `[tools]`, `[guard]`, `[net]`, `[vault]`) are kept as raw
//! TOML text so their owners can parse them with their own spans.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A configuration error, rendered as `FILE:LINE:COL: key KEY: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file that is wrong.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Dotted key path, when known (e.g. `provider.base_url`).
    pub key: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    fn render(&self) -> String {
        let mut s = self.path.display().to_string();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        s.push_str(": ");
        if let Some(k) = &self.key {
            s.push_str(&format!("key `{k}`: "));
        }
        s.push_str(&self.message);
        s
    }

    /// An error about `key` without a known position.
    pub fn at_key(path: &Path, text: &str, key: &str, message: impl Into<String>) -> Self {
        let (line, column) = find_key_line(text, key).map_or((None, None), |l| (Some(l), Some(1)));
        ConfigError {
            path: path.to_path_buf(),
            line,
            column,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}

/// Best-effort line of a dotted key (`provider.model`) in TOML text.
fn find_key_line(text: &str, key: &str) -> Option<usize> {
    let (section, leaf) = match key.rsplit_once('.') {
        Some((s, l)) => (Some(s), l),
        None => (None, key),
    };
    let mut in_section = section.is_none();
    let mut section_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let name = line.trim_matches(|c| c == '[' || c == ']').trim();
            in_section = Some(name) == section;
            if in_section {
                section_line = Some(i + 1);
            }
            continue;
        }
        if in_section {
            if let Some((k, _)) = line.split_once('=') {
                if k.trim().trim_matches('"') == leaf {
                    return Some(i + 1);
                }
            }
        }
    }
    section_line
}

/// Which wire protocol the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI Chat Completions (OpenAI, DeepSeek, Qwen/DashScope, vLLM, llama.cpp, Ollama).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// `[provider]`: where the model lives and how to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Wire protocol.
    pub kind: ProviderKind,
    /// Base URL (OpenAI-compatible: up to and including `/v1`).
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Name of the environment variable holding the API key (not the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Name of a vault entry holding the API key.
    #[serde(default)]
    pub api_key_vault: Option<String>,
    /// Models tried in order when the main one keeps failing.
    #[serde(default)]
    pub fallback_models: Vec<String>,
    /// Seconds to wait for response headers and between streamed chunks.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Retries on 429, 5xx and connection errors.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Stream responses (SSE).
    #[serde(default = "default_true")]
    pub stream: bool,
    /// Maximum completion tokens per request (`max_tokens`; required by Anthropic).
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// Price in USD per million input tokens, for the cost budget.
    #[serde(default)]
    pub input_price_per_mtok: Option<f64>,
    /// Price in USD per million output tokens, for the cost budget.
    #[serde(default)]
    pub output_price_per_mtok: Option<f64>,
}

fn default_timeout() -> u64 {
    120
}
fn default_retries() -> u32 {
    3
}
fn default_true() -> bool {
    true
}

/// `[agent]`: limits on one task (OWASP LLM10).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Maximum model round trips per task.
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
    /// Maximum tokens (input + output) spent per task.
    #[serde(default = "default_max_tokens")]
    pub max_tokens_per_task: u64,
    /// Maximum cost per task in USD (needs prices in `[provider]`).
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Characters of one tool result shown to the model.
    #[serde(default = "default_tool_output")]
    pub tool_output_chars: usize,
}

fn default_max_steps() -> u32 {
    40
}
fn default_max_tokens() -> u64 {
    1_000_000
}
fn default_tool_output() -> usize {
    30_000
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            max_steps: default_max_steps(),
            max_tokens_per_task: default_max_tokens(),
            max_cost_usd: None,
            tool_output_chars: default_tool_output(),
        }
    }
}

/// `[sandbox]`: defaults for tool processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSection {
    /// Default `exec` timeout in seconds.
    #[serde(default = "default_exec_timeout")]
    pub exec_timeout_s: u64,
    /// Upper bound on a timeout the model may request.
    #[serde(default = "default_max_exec_timeout")]
    pub max_exec_timeout_s: u64,
    /// Domains sandboxed processes may reach through Chela's egress proxy.
    #[serde(default)]
    pub allow_domains: Vec<String>,
}

fn default_exec_timeout() -> u64 {
    60
}
fn default_max_exec_timeout() -> u64 {
    600
}

impl Default for SandboxSection {
    fn default() -> Self {
        SandboxSection {
            exec_timeout_s: default_exec_timeout(),
            max_exec_timeout_s: default_max_exec_timeout(),
            allow_domains: Vec::new(),
        }
    }
}

/// `[net]`: where `web_fetch` may go (the provider's own endpoint is always trusted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSection {
    /// Destinations `web_fetch` may reach: `host`, `*.domain`, or `*` (any public host; private,
    /// loopback, link-local and metadata addresses stay refused).
    #[serde(default = "default_allow_hosts")]
    pub allow_hosts: Vec<String>,
    /// Non-public addresses or blocks allowlisted names may resolve to (e.g. `10.1.2.3`).
    #[serde(default)]
    pub allow_addrs: Vec<String>,
}

fn default_allow_hosts() -> Vec<String> {
    vec!["*".to_string()]
}

impl Default for NetSection {
    fn default() -> Self {
        NetSection {
            allow_hosts: default_allow_hosts(),
            allow_addrs: Vec::new(),
        }
    }
}

/// `[audit]`: what the audit log records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Also record (redacted) prompt content in model_request events.
    #[serde(default)]
    pub record_prompts: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    provider: ProviderConfig,
    #[serde(default)]
    agent: AgentConfig,
    #[serde(default)]
    sandbox: SandboxSection,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    tools: Option<toml::Value>,
    #[serde(default)]
    policy: Option<toml::Value>,
    #[serde(default)]
    guard: Option<toml::Value>,
    #[serde(default)]
    net: NetSection,
    #[serde(default)]
    vault: Option<toml::Value>,
    // Sections of components that arrive later (gateway, chat channels, skills); `chela assess`
    // already reads `[gateway]` to check the bind address and authentication (CN-A2, CN-D2).
    #[serde(default)]
    gateway: Option<toml::Value>,
    #[serde(default)]
    channels: Option<toml::Value>,
    #[serde(default)]
    skills: Option<toml::Value>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The file's text (other crates parse their sections from it).
    pub text: String,
    /// `[provider]`.
    pub provider: ProviderConfig,
    /// `[agent]`.
    pub agent: AgentConfig,
    /// `[sandbox]`.
    pub sandbox: SandboxSection,
    /// `[audit]`.
    pub audit: AuditSection,
    /// `[net]`.
    pub net: NetSection,
    /// `[guard]`, parsed by chela-guard.
    pub guard: Option<toml::Value>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: format!(
                "cannot read the configuration: {e}; create one with `chela init` or set CHELA_HOME"
            ),
        })?;
        Config::parse(path, &text)
    }

    /// Validates configuration `text` read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_col(text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            let message = e.message().trim().to_string();
            let key =
                key_from_message(&message).or_else(|| e.span().and_then(|s| key_at(text, s.start)));
            ConfigError {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        })?;
        let _ = (
            &raw.tools,
            &raw.policy,
            &raw.vault,
            &raw.gateway,
            &raw.channels,
            &raw.skills,
        );
        let cfg = Config {
            path: path.to_path_buf(),
            text: text.to_string(),
            provider: raw.provider,
            agent: raw.agent,
            sandbox: raw.sandbox,
            audit: raw.audit,
            net: raw.net,
            guard: raw.guard,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, msg: String| ConfigError::at_key(&self.path, &self.text, key, msg);
        let p = &self.provider;
        match url_scheme(&p.base_url) {
            Some("http") | Some("https") => {}
            _ => {
                return Err(err(
                    "provider.base_url",
                    format!(
                        "{:?} is not an http(s) URL; e.g. \"https://api.openai.com/v1\" or \"http://127.0.0.1:11434/v1\"",
                        p.base_url
                    ),
                ))
            }
        }
        if p.model.trim().is_empty() {
            return Err(err(
                "provider.model",
                "must name a model, e.g. \"gpt-4o-mini\"".into(),
            ));
        }
        if let Some(var) = &p.api_key_env {
            let valid = !var.is_empty()
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(err(
                    "provider.api_key_env",
                    format!(
                        "{var:?} is not an environment variable name; put the NAME of the variable here (e.g. \"OPENAI_API_KEY\"), never the key itself"
                    ),
                ));
            }
        }
        if p.api_key_env.is_some() && p.api_key_vault.is_some() {
            return Err(err(
                "provider.api_key_vault",
                "set either api_key_env or api_key_vault, not both".into(),
            ));
        }
        if p.timeout_s == 0 {
            return Err(err(
                "provider.timeout_s",
                "must be at least 1 second".into(),
            ));
        }
        if self.agent.max_steps == 0 {
            return Err(err("agent.max_steps", "must be at least 1".into()));
        }
        if self.agent.max_cost_usd.is_some()
            && (p.input_price_per_mtok.is_none() || p.output_price_per_mtok.is_none())
        {
            return Err(err(
                "agent.max_cost_usd",
                "a cost budget needs the model's prices: set provider.input_price_per_mtok and provider.output_price_per_mtok (USD per million tokens)".into(),
            ));
        }
        if self.agent.tool_output_chars < 256 {
            return Err(err(
                "agent.tool_output_chars",
                "must be at least 256".into(),
            ));
        }
        if self.sandbox.exec_timeout_s == 0
            || self.sandbox.exec_timeout_s > self.sandbox.max_exec_timeout_s
        {
            return Err(err(
                "sandbox.exec_timeout_s",
                "must be between 1 and sandbox.max_exec_timeout_s".into(),
            ));
        }
        Ok(())
    }
}

fn url_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if rest.is_empty() {
        return None;
    }
    Some(scheme)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

/// Extracts a field name from serde messages like "unknown field `x`" or "missing field `x`".
fn key_from_message(message: &str) -> Option<String> {
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(prefix).nth(1) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// The `section.key` at a byte offset of TOML text (best effort).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let (line_no, _) = line_col(text, offset);
    let mut section: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            section = Some(
                line.trim_matches(|c| c == '[' || c == ']')
                    .trim()
                    .to_string(),
            );
        }
        if i + 1 == line_no {
            let key = line
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string());
            return match (section, key) {
                (Some(s), Some(k)) => Some(format!("{s}.{k}")),
                (None, Some(k)) => Some(k),
                (Some(s), None) => Some(s),
                (None, None) => None,
            };
        }
    }
    None
}

/// The answers `chela init` asks for.
#[derive(Debug, Clone)]
pub struct InitAnswers {
    /// `openai` or `anthropic`.
    pub provider: String,
    /// Base URL.
    pub base_url: String,
    /// Model.
    pub model: String,
    /// Name of the env var holding the key (may be empty for keyless local servers).
    pub api_key_env: String,
}

/// The commented `config.toml` that `chela init` writes (also used by tests that build a home the
/// way `chela init` does).
pub fn template(a: &InitAnswers) -> String {
    let key_line = if a.api_key_env.is_empty() {
        "# api_key_env = \"OPENAI_API_KEY\"   # no key needed for this server".to_string()
    } else {
        format!("api_key_env = \"{}\"", a.api_key_env)
    };
    format!(
        r#"# Chela configuration. Check it with `chela config check`.
# Keep this file private (mode 0600). Never put API keys in it: name the environment variable
# that holds the key (api_key_env), or store the key in Chela's vault (api_key_vault).

[provider]
# "openai" for any OpenAI-compatible server (OpenAI, DeepSeek, Qwen/DashScope, vLLM,
# llama.cpp server, Ollama), "anthropic" for the Anthropic Messages API.
kind = "{provider}"
base_url = "{base_url}"
model = "{model}"
{key_line}
# fallback_models = ["gpt-4o-mini"]   # tried in order when the model keeps failing
# timeout_s = 120                     # per request (and between streamed chunks)
# max_retries = 3                     # on 429, 5xx and connection errors, with backoff
# stream = true
# max_output_tokens = 4096

[agent]
# Limits per task (OWASP LLM10: unbounded consumption).
max_steps = 40
max_tokens_per_task = 1000000
# max_cost_usd = 1.0                  # needs provider.input_price_per_mtok / output_price_per_mtok
tool_output_chars = 30000

[sandbox]
# Every command runs in Chela's sandbox; these are its defaults.
exec_timeout_s = 60
max_exec_timeout_s = 600
# allow_domains = ["pypi.org", "files.pythonhosted.org"]   # egress through Chela's proxy

[audit]
# record_prompts = false              # also keep (redacted) prompt text in the audit log

[tools]
# profile = "coding"                  # minimal | coding | full: the tools the model may use (CN-D4)
# deny = ["exec"]                     # tools never offered to the model

[policy]
# approval = "ask"                    # ask | deny: what happens to actions that need a human
#                                     # (`chela run` without a terminal always uses deny)
# allow_rules = ["exec:cargo test*"]  # pre-approved patterns (exec:, fetch:, read:, write:);
#                                     # they never cover the floor (CN-D6)
# Organisation policy in /etc/chela/policy.toml (root-owned) can only tighten these settings.
# See `chela policy show` for the effective policy and `chela policy explain -- 'CMD'` for why.
"#,
        provider = a.provider,
        base_url = a.base_url,
        model = a.model,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[provider]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5"
api_key_env = "OLLAMA_KEY"
"#;

    fn parse(t: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/h/config.toml"), t)
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.provider.kind, ProviderKind::Openai);
        assert_eq!(c.agent.max_steps, 40);
        assert!(c.provider.stream);
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let t = GOOD.replace("model = \"qwen2.5\"", "model = 5");
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.starts_with("/h/config.toml:5:"), "{e}");
        assert!(e.contains("provider.model"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let t = format!("{GOOD}modle = \"x\"\n");
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.contains("modle"), "{e}");
        assert!(e.contains("/h/config.toml:7"), "{e}");
    }

    #[test]
    fn key_value_in_api_key_env_is_rejected() {
        let t = GOOD.replace("OLLAMA_KEY", "sk-abc123-def");
        let e = parse(&t).unwrap_err().to_string();
        assert!(
            e.contains("provider.api_key_env") && e.contains(":6:"),
            "{e}"
        );
    }

    #[test]
    fn bad_url_is_rejected() {
        let t = GOOD.replace("http://127.0.0.1:11434/v1", "localhost:11434");
        let e = parse(&t).unwrap_err().to_string();
        assert!(e.contains("provider.base_url") && e.contains(":4:"), "{e}");
    }

    #[test]
    fn the_init_template_is_a_valid_config() {
        for (provider, key) in [("openai", "OPENAI_API_KEY"), ("anthropic", "")] {
            let text = template(&InitAnswers {
                provider: provider.into(),
                base_url: "http://127.0.0.1:11434/v1".into(),
                model: "m".into(),
                api_key_env: key.into(),
            });
            let c = parse(&text).unwrap_or_else(|e| panic!("{provider}: {e}"));
            assert_eq!(c.provider.api_key_env.is_some(), !key.is_empty());
        }
    }

    #[test]
    fn cost_budget_needs_prices() {
        let t = format!("{GOOD}\n[agent]\nmax_cost_usd = 1.5\n");
        let e = parse(&t).unwrap_err().to_string();
        assert!(
            e.contains("agent.max_cost_usd") && e.contains("input_price_per_mtok"),
            "{e}"
        );
        let t = GOOD.replace(
            "[provider]",
            "[provider]\ninput_price_per_mtok = 0.15\noutput_price_per_mtok = 0.6",
        ) + "\n[agent]\nmax_cost_usd = 1.5\n";
        assert!(parse(&t).is_ok());
    }

    #[test]
    fn missing_provider_section() {
        let e = parse("[agent]\nmax_steps = 3\n").unwrap_err().to_string();
        assert!(e.contains("provider"), "{e}");
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("[provider\nkind=").unwrap_err().to_string();
        assert!(e.starts_with("/h/config.toml:1:"), "{e}");
    }
}
