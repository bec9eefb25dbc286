//! `chela secrets set|list|rm|rotate`: argument types (clap) and the command runner.
//!
//! Values are read from the terminal with echo off, or from standard input when it is not a
//! terminal; there is deliberately no argument that takes a value, so secrets never appear in
//! argv, shell history or `ps`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use chela_types::exit;

use crate::{validate_name, PassphraseSource, Secret, Vault, VaultError};

/// Days after which `list` recommends rotating a credential (CN-B5).
pub const ROTATE_AFTER_DAYS: u64 = 90;
const MAX_VALUE_INPUT: u64 = 64 * 1024;

/// `chela secrets …` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum SecretsCmd {
    /// Store a new secret. The value is read from the terminal (no echo) or from standard input,
    /// never from the command line.
    Set {
        /// Entry name, e.g. `openai` (letters, digits, `_`, `.`, `-`).
        name: String,
    },
    /// Show entries: name, created, last used, age. Values are never shown.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete an entry.
    Rm {
        /// Entry name.
        name: String,
    },
    /// Replace an entry's value (read like `set`) and record the rotation (CN-B5).
    Rotate {
        /// Entry name.
        name: String,
    },
    /// Change the vault passphrase: the current one from the usual source, the new one from the
    /// terminal (asked twice) or from the descriptor in `CHELA_VAULT_NEW_PASSPHRASE_FD`.
    Passwd,
}

/// Environment variable naming a descriptor that carries the *new* passphrase for `passwd`.
pub const NEW_PASSPHRASE_FD_ENV: &str = "CHELA_VAULT_NEW_PASSPHRASE_FD";

/// Where a secret value is read from.
pub enum ValueInput<'a> {
    /// Prompt on the controlling terminal with echo off.
    Terminal,
    /// Read to end of input (one trailing newline removed), e.g. piped standard input.
    Reader(&'a mut dyn Read),
}

/// The command's inputs and outputs (real terminal and streams in [`run_secrets_cli`]).
pub struct CliIo<'a> {
    /// Where the vault passphrase comes from.
    pub passphrase: PassphraseSource,
    /// Where a new value comes from (`set`, `rotate`).
    pub value: ValueInput<'a>,
    /// Where the new passphrase comes from (`passwd`).
    pub new_passphrase: PassphraseSource,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Runs a `chela secrets` command against `$CHELA_HOME` = `home`; returns the exit code.
///
/// The passphrase comes from `CHELA_VAULT_PASSPHRASE_FD`, the systemd credential
/// `chela-vault`, or the terminal ([`PassphraseSource::from_env`]).
pub fn run_secrets_cli(home: &Path, cmd: SecretsCmd) -> i32 {
    let mut stderr = std::io::stderr();
    let passphrase = match PassphraseSource::from_env() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(stderr, "chela secrets: {e}");
            return exit::USAGE;
        }
    };
    let new_passphrase = match std::env::var(NEW_PASSPHRASE_FD_ENV) {
        Ok(v) => match crate::passphrase::from_vars(Some(v), None) {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(stderr, "chela secrets: new passphrase: {e}");
                return exit::USAGE;
            }
        },
        Err(_) => PassphraseSource::Terminal,
    };
    let mut stdin = std::io::stdin();
    // SAFETY: isatty only inspects descriptor 0.
    let stdin_tty = unsafe { libc::isatty(0) } == 1;
    let value = if stdin_tty {
        ValueInput::Terminal
    } else {
        ValueInput::Reader(&mut stdin)
    };
    let mut stdout = std::io::stdout();
    run_secrets_cli_with(
        home,
        cmd,
        CliIo {
            passphrase,
            value,
            new_passphrase,
            out: &mut stdout,
            err: &mut stderr,
        },
    )
}

/// [`run_secrets_cli`] with explicit inputs and outputs.
pub fn run_secrets_cli_with(home: &Path, cmd: SecretsCmd, mut io: CliIo<'_>) -> i32 {
    match run(home, cmd, &mut io) {
        Ok(()) => exit::OK,
        Err(e) => {
            let _ = writeln!(io.err, "chela secrets: {e}");
            exit_code(&e)
        }
    }
}

/// The exit code for a vault error (DESIGN.md "Public surface").
pub fn exit_code(e: &VaultError) -> i32 {
    match e {
        VaultError::NotFound(_)
        | VaultError::NoEntry(_)
        | VaultError::EntryExists(_)
        | VaultError::Invalid { .. }
        | VaultError::Passphrase(_) => exit::USAGE,
        VaultError::Insecure { .. } => exit::UNSAFE_ENV,
        _ => exit::FAILURE,
    }
}

fn read_value(input: &mut ValueInput<'_>, name: &str) -> Result<Secret, VaultError> {
    let text =
        match input {
            ValueInput::Terminal => rpassword::prompt_password(format!("Value for {name}: "))
                .map_err(|e| VaultError::Invalid {
                    what: "value",
                    reason: format!(
                        "cannot read it from the terminal ({e}); pipe it on standard input"
                    ),
                })?,
            ValueInput::Reader(r) => {
                let mut buf = zeroize::Zeroizing::new(Vec::new());
                r.take(MAX_VALUE_INPUT + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| VaultError::Invalid {
                        what: "value",
                        reason: format!("cannot read standard input: {e}"),
                    })?;
                let mut end = buf.len();
                if buf[..end].ends_with(b"\n") {
                    end -= 1;
                    if buf[..end].ends_with(b"\r") {
                        end -= 1;
                    }
                }
                std::str::from_utf8(&buf[..end])
                    .map_err(|_| VaultError::Invalid {
                        what: "value",
                        reason: "standard input is not UTF-8 text".into(),
                    })?
                    .to_string()
            }
        };
    Ok(Secret::new(text))
}

fn date(secs: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

fn run(home: &Path, cmd: SecretsCmd, io: &mut CliIo<'_>) -> Result<(), VaultError> {
    let path = Vault::default_path(home);
    match cmd {
        SecretsCmd::Set { name } => {
            validate_name(&name)?;
            let mut vault = if path.exists() {
                Vault::open(&path, &io.passphrase)?
            } else {
                let _ = writeln!(io.err, "creating a new vault at {}", path.display());
                Vault::create(&path, &io.passphrase)?
            };
            if vault.list().iter().any(|e| e.name == name) {
                return Err(VaultError::EntryExists(name));
            }
            let value = read_value(&mut io.value, &name)?;
            vault.set(&name, value.expose())?;
            let _ = writeln!(
                io.out,
                "stored secret {name} (encrypted in {})",
                path.display()
            );
        }
        SecretsCmd::Rotate { name } => {
            validate_name(&name)?;
            let mut vault = Vault::open(&path, &io.passphrase)?;
            if !vault.list().iter().any(|e| e.name == name) {
                return Err(VaultError::NoEntry(name));
            }
            let value = read_value(&mut io.value, &name)?;
            vault.rotate(&name, value.expose())?;
            let _ = writeln!(
                io.out,
                "rotated secret {name}; revoke the old value at its issuer"
            );
        }
        SecretsCmd::Passwd => {
            let mut vault = Vault::open(&path, &io.passphrase)?;
            vault.change_passphrase(&io.new_passphrase)?;
            let _ = writeln!(
                io.out,
                "vault passphrase changed; every entry was re-encrypted"
            );
        }
        SecretsCmd::Rm { name } => {
            let mut vault = Vault::open(&path, &io.passphrase)?;
            vault.remove(&name)?;
            let _ = writeln!(io.out, "removed secret {name}");
        }
        SecretsCmd::List { json } => {
            if !path.exists() {
                if json {
                    let _ = writeln!(io.out, "[]");
                } else {
                    let _ = writeln!(io.out, "no secrets stored (no vault at {})", path.display());
                }
                return Ok(());
            }
            let vault = Vault::open(&path, &io.passphrase)?;
            let entries = vault.list();
            if json {
                let text = serde_json::to_string_pretty(&entries)
                    .map_err(|e| VaultError::Crypto(format!("cannot serialize: {e}")))?;
                let _ = writeln!(io.out, "{text}");
                return Ok(());
            }
            if entries.is_empty() {
                let _ = writeln!(io.out, "no secrets stored");
                return Ok(());
            }
            let w = entries
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let _ = writeln!(
                io.out,
                "{:w$}  {:10}  {:10}  {:10}  {:>5}",
                "NAME", "CREATED", "LAST USED", "ROTATED", "AGE"
            );
            let mut stale = 0;
            for e in &entries {
                let opt = |t: Option<u64>| t.map(date).unwrap_or_else(|| "never".into());
                let flag = if e.age_days >= ROTATE_AFTER_DAYS {
                    stale += 1;
                    "  rotate"
                } else {
                    ""
                };
                let _ = writeln!(
                    io.out,
                    "{:w$}  {:10}  {:10}  {:10}  {:>4}d{flag}",
                    e.name,
                    date(e.created),
                    opt(e.last_used),
                    opt(e.rotated),
                    e.age_days
                );
            }
            if stale > 0 {
                let _ = writeln!(
                    io.out,
                    "{stale} secret(s) older than {ROTATE_AFTER_DAYS} days: rotate with `chela secrets rotate NAME` (CN-B5)"
                );
            }
        }
    }
    Ok(())
}
