//! `$CHELA_HOME` layout and `chela init`.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Paths inside `$CHELA_HOME`.
#[derive(Debug, Clone)]
pub struct Home {
    /// The home directory itself.
    pub root: PathBuf,
}

impl Home {
    /// `$CHELA_HOME`, else `$HOME/.chela`.
    pub fn locate() -> Result<Home> {
        if let Some(h) = std::env::var_os("CHELA_HOME").filter(|v| !v.is_empty()) {
            return Ok(Home {
                root: PathBuf::from(h),
            });
        }
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).context(
            "neither CHELA_HOME nor HOME is set; set CHELA_HOME to Chela's state directory",
        )?;
        Ok(Home {
            root: PathBuf::from(home).join(".chela"),
        })
    }

    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// Default workspace.
    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }
    /// Audit log directory.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }
    /// Session database.
    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// Fails with a helpful message when `chela init` has not been run.
    pub fn require_initialised(&self) -> Result<()> {
        if !self.config().exists() {
            bail!(
                "no Chela configuration at {}; run `chela init` first (or set CHELA_HOME)",
                self.config().display()
            );
        }
        Ok(())
    }
}

pub use chela_agent::config::InitAnswers;

/// Creates a directory with mode 0700 (and fixes the mode if it exists).
pub fn private_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set mode 0700 on {}", path.display()))
}

/// Writes a new file with mode 0600.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set mode 0600 on {}", path.display()))?;
    Ok(())
}

fn defaults_for(provider: &str) -> (&'static str, &'static str, &'static str) {
    match provider {
        "anthropic" => (
            "https://api.anthropic.com",
            "claude-sonnet-4-5",
            "ANTHROPIC_API_KEY",
        ),
        _ => ("https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"),
    }
}

/// Asks the init questions on the terminal.
pub fn ask_interactively() -> Result<InitAnswers> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |q: &str, default: &str| -> Result<String> {
        eprint!("{q} [{default}]: ");
        std::io::stderr().flush().ok();
        let line = lines.next().transpose()?.unwrap_or_default();
        let line = line.trim();
        Ok(if line.is_empty() {
            default.to_string()
        } else {
            line.to_string()
        })
    };
    eprintln!("Setting up Chela. Press Enter to accept the default in brackets.");
    let provider = loop {
        let p = ask(
            "Provider protocol (openai = any OpenAI-compatible server, anthropic)",
            "openai",
        )?;
        if p == "openai" || p == "anthropic" {
            break p;
        }
        eprintln!("  please answer openai or anthropic");
    };
    let (url, model, key) = defaults_for(&provider);
    let base_url = ask(
        "Base URL (Ollama: http://127.0.0.1:11434/v1, DeepSeek: https://api.deepseek.com/v1)",
        url,
    )?;
    let model = ask("Model", model)?;
    let api_key_env = ask(
        "Environment variable holding the API key (leave '-' for none)",
        key,
    )?;
    let api_key_env = if api_key_env == "-" {
        String::new()
    } else {
        api_key_env
    };
    Ok(InitAnswers {
        provider,
        base_url,
        model,
        api_key_env,
    })
}

/// `chela init`.
pub fn init(home: &Home, answers: Option<InitAnswers>, force: bool) -> Result<()> {
    if home.config().exists() && !force {
        bail!(
            "{} already exists; refusing to overwrite it. Use `chela init --force` to start over (the audit log and sessions are kept)",
            home.config().display()
        );
    }
    let answers = match answers {
        Some(a) => a,
        None if std::io::stdin().is_terminal() => ask_interactively()?,
        None => bail!(
            "stdin is not a terminal; use `chela init --non-interactive --provider openai|anthropic --base-url URL --model NAME --api-key-env VAR`"
        ),
    };
    let text = chela_agent::config::template(&answers);
    chela_agent::config::Config::parse(&home.config(), &text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    private_dir(&home.root)?;
    private_dir(&home.workspace())?;
    private_dir(&home.audit())?;
    write_private(&home.config(), &text)?;
    match chela_audit::init_keys(&home.audit()) {
        Ok(()) => {}
        // `--force` keeps the existing signing key (and so the audit chain's identity).
        Err(_) if force && home.audit().join(chela_audit::KEY_FILE).exists() => {}
        Err(e) => bail!("cannot create the audit signing key: {e}"),
    }
    // CN-D7: a hash baseline of the configuration right after install.
    chela_assess::record_baseline(&home.root)
        .map_err(|e| anyhow::anyhow!("cannot record the configuration baseline: {e}"))?;
    Ok(())
}
