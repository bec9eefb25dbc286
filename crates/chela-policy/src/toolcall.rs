//! Mapping a model's tool call (`{"tool": "exec", "arguments": {...}}`) to an [`Effect`], and
//! deciding about it (the tool allowlist first, CN-D4).

use std::path::{Path, PathBuf};

use chela_types::Decision;

use crate::decide::{rules, Effect, SessionState};
use crate::paths::normalize;
use crate::policy::Policy;

/// The tools Chela knows how to map to effects, in the order they are offered.
pub const KNOWN_TOOLS: &[&str] = &[
    "read",
    "list",
    "write",
    "edit",
    "exec",
    "web_fetch",
    "send_message",
    "read_secret",
];

/// Extracts the lower-case host of a URL (`scheme://user@host:port/path`).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(h) = hostport.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// Quotes one argument for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn arg_str<'a>(args: &'a serde_json::Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| args.get(*k).and_then(|v| v.as_str()))
}

impl Policy {
    fn tool_path(&self, p: &str) -> PathBuf {
        let pb = if p == "~" {
            self.context.home.clone()
        } else if let Some(r) = p.strip_prefix("~/") {
            self.context.home.join(r)
        } else {
            PathBuf::from(p)
        };
        if pb.is_absolute() {
            normalize(&pb)
        } else {
            normalize(&self.context.workspace.join(pb))
        }
    }

    /// Maps a tool call to the effect it would have. Paths are resolved lexically against the
    /// workspace; the owning crate re-checks them after resolving symlinks.
    pub fn effect_from_tool_call(
        &self,
        tool: &str,
        args: &serde_json::Value,
    ) -> Result<Effect, String> {
        if !args.is_object() {
            return Err(format!("the arguments of `{tool}` must be a JSON object"));
        }
        let path_effect = |make: fn(PathBuf, bool) -> Effect| -> Result<Effect, String> {
            let p = arg_str(args, &["path", "file", "dir"])
                .ok_or_else(|| format!("`{tool}` needs a \"path\" string"))?;
            let pb = self.tool_path(p);
            let inside = pb.starts_with(&self.context.workspace);
            Ok(make(pb, inside))
        };
        match tool {
            "exec" | "shell" | "bash" => {
                let command = match (arg_str(args, &["command", "cmd"]), args.get("argv")) {
                    (Some(c), _) => c.to_string(),
                    (None, Some(serde_json::Value::Array(a))) => {
                        let parts: Option<Vec<String>> =
                            a.iter().map(|v| v.as_str().map(shell_quote)).collect();
                        parts.ok_or("`argv` must be an array of strings")?.join(" ")
                    }
                    _ => {
                        return Err("`exec` needs a \"command\" string or an \"argv\" array".into())
                    }
                };
                let cwd = match arg_str(args, &["cwd", "workdir"]) {
                    Some(c) => self.tool_path(c),
                    None => self.context.workspace.clone(),
                };
                Ok(Effect::exec(command, cwd))
            }
            "read" | "read_file" => path_effect(|path, inside_workspace| Effect::ReadFile {
                path,
                inside_workspace,
            }),
            "list" | "list_dir" | "ls" => path_effect(|path, inside_workspace| Effect::ListDir {
                path,
                inside_workspace,
            }),
            "write" | "edit" | "write_file" | "edit_file" => {
                path_effect(|path, inside_workspace| Effect::WriteFile {
                    path,
                    inside_workspace,
                })
            }
            "web_fetch" | "fetch" => {
                let url = arg_str(args, &["url"]).ok_or("`web_fetch` needs a \"url\" string")?;
                let host =
                    url_host(url).ok_or_else(|| format!("`{url}` is not an absolute URL"))?;
                Ok(Effect::Fetch {
                    url: url.to_string(),
                    host,
                    secret_findings: 0,
                })
            }
            "send_message" | "message" => Ok(Effect::SendMessage {
                channel: arg_str(args, &["channel"]).unwrap_or("default").to_string(),
                recipient: arg_str(args, &["to", "recipient"])
                    .ok_or("`send_message` needs a \"to\" string")?
                    .to_string(),
                secret_findings: 0,
            }),
            "read_secret" | "secret" => Ok(Effect::ReadSecret {
                name: arg_str(args, &["name"])
                    .ok_or("`read_secret` needs a \"name\" string")?
                    .to_string(),
            }),
            other => Err(format!(
                "`{other}` is not a tool the kernel can map (known: {})",
                KNOWN_TOOLS.join(", ")
            )),
        }
    }

    /// Decides about a tool call as the model proposed it: tool allowlist first (CN-D4), then
    /// the effect. `arguments` is the raw JSON text from the model.
    pub fn decide_tool_call(
        &self,
        tool: &str,
        arguments: &str,
        session: &SessionState,
    ) -> (Decision, Option<Effect>) {
        if !self.tool_allowed(tool) {
            return (
                Decision::deny(
                    rules::TOOL_DENIED,
                    format!(
                        "the tool `{tool}` is not enabled (profile \"{}\", {}; see `chela policy show`)",
                        self.profile.value.as_str(),
                        self.profile.source
                    ),
                    &["CN-D4", "CN-B2"],
                ),
                None,
            );
        }
        let args: serde_json::Value = match serde_json::from_str(arguments) {
            Ok(v) => v,
            Err(e) => {
                return (
                    Decision::deny(
                        rules::TOOL_INVALID,
                        format!("the arguments of `{tool}` are not valid JSON ({e})"),
                        &["CN-B2"],
                    ),
                    None,
                )
            }
        };
        match self.effect_from_tool_call(tool, &args) {
            Ok(effect) => (self.decide(&effect, session), Some(effect)),
            Err(e) => (Decision::deny(rules::TOOL_INVALID, e, &["CN-B2"]), None),
        }
    }
}

/// Whether `p` lies inside `root` after lexical normalisation.
pub fn inside(root: &Path, p: &Path) -> bool {
    normalize(p).starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://User@Docs.RS:443/x?y").as_deref(),
            Some("docs.rs")
        );
        assert_eq!(url_host("http://[::1]:8080/").as_deref(), Some("::1"));
        assert_eq!(url_host("docs.rs/x"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("ls"), "ls");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
