//! `chela assess --fix`: only safe fixes (file modes, the audit directory, the baseline, a weak
//! gateway token). Each change is listed before it is applied and audited after; the audit
//! log is opened before anything changes (fail closed), except when re-creating the audit
//! directory is the fix itself, which is then the first change and the first record.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chela_types::EventKind;

use crate::model::Fix;
use crate::util::{self, AssessError};

fn alert(what: &str, message: String) -> EventKind {
    EventKind::Alert {
        rule: format!("assess.fix.{what}"),
        message,
        severity: "info".into(),
    }
}

fn random_token() -> Result<String, AssessError> {
    let mut buf = [0u8; 32];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most `len - filled` bytes into our buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(AssessError::Io {
                path: "getrandom".into(),
                source: e,
            });
        }
        filled += n as usize;
    }
    Ok(hex::encode(buf))
}

/// Replaces the value of the first `[gateway]` token key in `text` with `token`, keeping every
/// other line (and comments) as they are. `None` when there is no such line.
pub fn replace_gateway_token(text: &str, token: &str) -> Option<String> {
    let lines = crate::facts::gateway_token_lines(text);
    let target = *lines.first()?;
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == target {
            let (k, _) = line.split_once('=')?;
            let nl = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{}= \"{token}\"{nl}", k));
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

/// Applies `fixes` (each with the items asking for it), writing what it does to `out`.
/// Returns how many changes were made.
pub fn apply(
    home: &Path,
    fixes: &[(Fix, Vec<String>)],
    out: &mut dyn Write,
) -> Result<usize, AssessError> {
    let mut ordered: Vec<&(Fix, Vec<String>)> = fixes.iter().collect();
    // The audit directory first, then modes inside it (the log refuses to open with an
    // exposed key): every other change is recorded in the log.
    let audit_dir = home.join("audit");
    ordered.sort_by_key(|(f, _)| match f {
        Fix::EnableAuditLog { .. } => 0,
        Fix::Chmod { path, .. } if path.starts_with(&audit_dir) => 1,
        Fix::Chmod { .. } => 2,
        _ => 3,
    });
    let _ = writeln!(
        out,
        "chela assess --fix will apply {} change(s):",
        ordered.len()
    );
    for (f, ids) in &ordered {
        let _ = writeln!(out, "  - {}   [{}]", f.describe(), ids.join(", "));
    }
    let mut n = 0;
    for (f, ids) in ordered {
        let _ = writeln!(out, "applying: {}", f.describe());
        match f {
            Fix::EnableAuditLog { dir } => {
                util::private_dir(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(util::io_err(dir))?;
                util::audit_append(
                    home,
                    vec![alert(
                        "enable_audit_log",
                        format!(
                            "re-created {} (0700) and reopened the audit log [{}]",
                            dir.display(),
                            ids.join(", ")
                        ),
                    )],
                )?;
            }
            Fix::Chmod { path, mode } => {
                // Only ever tightens permissions; recorded right after (the log cannot open
                // while its own key is exposed, so it cannot be recorded before).
                let before = util::mode_of(path).unwrap_or(0);
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode & before))
                    .map_err(util::io_err(path))?;
                let log = chela_audit::AuditLog::open(&home.join("audit")).map_err(|e| {
                    AssessError::Audit(format!(
                        "{e} (the mode of {} was already changed to {:o})",
                        path.display(),
                        mode & before
                    ))
                })?;
                let user = crate::host::user_name(crate::host::effective_uid());
                log.append(chela_types::Event::new(
                    None,
                    chela_types::Actor::Owner { user },
                    alert(
                        "chmod",
                        format!(
                            "chmod {:o} {} (was {:o}) [{}]",
                            mode,
                            path.display(),
                            before,
                            ids.join(", ")
                        ),
                    ),
                ))
                .map_err(|e| AssessError::Audit(e.to_string()))?;
                log.close().map_err(|e| AssessError::Audit(e.to_string()))?;
            }
            Fix::RecordBaseline => {
                crate::record_baseline(home)?;
            }
            Fix::RegenerateGatewayToken { config } => {
                let log = chela_audit::AuditLog::open(&home.join("audit"))
                    .map_err(|e| AssessError::Audit(e.to_string()))?;
                let text = std::fs::read_to_string(config).map_err(util::io_err(config))?;
                let token = random_token()?;
                let new = replace_gateway_token(&text, &token).ok_or_else(|| {
                    AssessError::Usage(format!(
                        "{}: no [gateway] token line to replace",
                        config.display()
                    ))
                })?;
                let had_baseline_without_drift = matches!(
                    crate::baseline::load(home),
                    Ok(Some(ref b)) if crate::baseline::drift(
                        b,
                        &crate::baseline::current(home, Path::new(crate::baseline::ORG_POLICY)).unwrap_or_default()
                    ).is_empty()
                );
                util::write_private(config, new.as_bytes())?;
                let sha = util::sha256_file(config).map_err(util::io_err(config))?;
                let user = crate::host::user_name(crate::host::effective_uid());
                log.append(chela_types::Event::new(
                    None,
                    chela_types::Actor::Owner { user },
                    EventKind::ConfigChanged {
                        path: config.display().to_string(),
                        sha256: sha,
                    },
                ))
                .map_err(|e| AssessError::Audit(e.to_string()))?;
                log.close().map_err(|e| AssessError::Audit(e.to_string()))?;
                let _ = writeln!(
                    out,
                    "  new gateway token written to {} (give it to the clients that connect)",
                    config.display()
                );
                if had_baseline_without_drift {
                    crate::record_baseline(home)?;
                    let _ = writeln!(
                        out,
                        "  baseline re-recorded (it matched before this change)"
                    );
                }
            }
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_gateway_token() {
        let t = "[provider]\ntoken = \"keep\"\n[gateway]\nbind = \"0.0.0.0:1\"\nauth_token = \"weak\" # comment\n";
        let n = replace_gateway_token(t, "abc").unwrap();
        assert_eq!(
            n,
            "[provider]\ntoken = \"keep\"\n[gateway]\nbind = \"0.0.0.0:1\"\nauth_token = \"abc\"\n"
        );
        assert!(replace_gateway_token("[gateway]\nbind = \"x\"\n", "abc").is_none());
    }

    #[test]
    fn random_tokens_are_strong_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(crate::facts::token_bits(&a) >= 128);
    }
}
