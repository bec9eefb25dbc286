//! Lexical path rules: Chela's protected paths, shell start-up and persistence files, credential
//! stores. No file system access: paths are normalised lexically (the sandbox enforces the rest,
//! including symlinks).

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// `p` starts with `prefix` on a component boundary (both absolute and normalised). A byte
/// comparison: much cheaper than `Path::starts_with`, which re-parses components.
pub fn has_prefix(p: &Path, prefix: &Path) -> bool {
    bytes_have_prefix(p.as_os_str().as_bytes(), prefix.as_os_str().as_bytes())
}

fn bytes_have_prefix(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) && (a.len() == b.len() || b.ends_with(b"/") || a.get(b.len()) == Some(&b'/'))
}

/// The part of `p` after `prefix/`, if `p` is under `prefix`.
fn rel_bytes<'a>(p: &'a Path, prefix: &Path) -> Option<&'a [u8]> {
    let a = p.as_os_str().as_bytes();
    let b = prefix.as_os_str().as_bytes();
    if !bytes_have_prefix(a, b) {
        return None;
    }
    let rest = &a[b.len()..];
    Some(rest.strip_prefix(b"/").unwrap_or(rest))
}

/// Where a command runs and whose home it is: what the classifier resolves paths against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandContext {
    /// The session's workspace (tools may write here).
    pub workspace: PathBuf,
    /// The user's home directory.
    pub home: PathBuf,
    /// Chela's state directory (`$CHELA_HOME`); everything in it except the workspace is protected.
    pub chela_home: PathBuf,
    /// The directory the command starts in (defaults to the workspace).
    pub cwd: PathBuf,
    /// Extra private paths (reading them counts as secret access), e.g. the policy's `deny_paths`.
    #[serde(default)]
    pub private_paths: Vec<PathBuf>,
}

impl CommandContext {
    /// A context with `cwd` = `workspace` and the default private paths (CN-A3: Desktop,
    /// Documents, Downloads and password-manager folders under `home`).
    pub fn new(
        workspace: impl Into<PathBuf>,
        home: impl Into<PathBuf>,
        chela_home: impl Into<PathBuf>,
    ) -> Self {
        let workspace = normalize(&workspace.into());
        let home = normalize(&home.into());
        let chela_home = normalize(&chela_home.into());
        let private_paths = DEFAULT_PRIVATE
            .iter()
            .map(|p| home.join(p))
            .collect::<Vec<_>>();
        CommandContext {
            cwd: workspace.clone(),
            workspace,
            home,
            chela_home,
            private_paths,
        }
    }

    /// The same context with another starting directory.
    pub fn with_cwd(mut self, cwd: impl AsRef<Path>) -> Self {
        self.cwd = self.resolve(cwd.as_ref());
        self
    }

    /// Resolves `p` against the starting directory and normalises it lexically.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            normalize(p)
        } else {
            normalize(&self.cwd.join(p))
        }
    }

    /// Whether `p` (absolute, normalised) is inside the workspace.
    pub fn in_workspace(&self, p: &Path) -> bool {
        has_prefix(p, &self.workspace)
    }

    /// Whether `p` belongs to Chela itself: `$CHELA_HOME` outside the workspace, or `/etc/chela`.
    pub fn is_chela_path(&self, p: &Path) -> bool {
        (has_prefix(p, &self.chela_home) && !has_prefix(p, &self.workspace))
            || has_prefix(p, Path::new("/etc/chela"))
    }

    /// Whether `p` is a scratch location where writes are harmless (`/tmp`, `/dev/null`, …).
    pub fn is_scratch(&self, p: &Path) -> bool {
        let b = p.as_os_str().as_bytes();
        bytes_have_prefix(b, b"/tmp")
            || bytes_have_prefix(b, b"/var/tmp")
            || SCRATCH_DEVICES.iter().any(|d| b == d.as_bytes())
            || bytes_have_prefix(b, b"/dev/fd")
    }

    /// What writing to `p` means, if it is special.
    pub fn write_kind(&self, p: &Path) -> WriteKind {
        if self.is_chela_path(p) {
            return WriteKind::Chela;
        }
        let b = p.as_os_str().as_bytes();
        // Files that make other programs run code are special wherever they are — also inside
        // a workspace that happens to live under /tmp.
        if contains_seq(b, b"/.git/hooks/")
            || b.ends_with(b"/.git/hooks")
            || b.ends_with(b"/.git/config")
        {
            return WriteKind::StartupOrPersistence(".git hooks/config run code on git commands");
        }
        if b.ends_with(b"/.envrc") || contains_seq(b, b"/.vscode/tasks.json") {
            return WriteKind::StartupOrPersistence(
                "direnv and editor task files run code when the directory is opened",
            );
        }
        if self.is_scratch(p) {
            return WriteKind::Scratch;
        }
        if bytes_have_prefix(b, b"/dev/tcp") || bytes_have_prefix(b, b"/dev/udp") {
            return WriteKind::Network;
        }
        if is_block_device(p) {
            return WriteKind::Device;
        }
        if let Some(rel) = rel_bytes(p, &self.home) {
            for (f, why) in HOME_CONFIG {
                if bytes_have_prefix(rel, f.as_bytes()) {
                    return WriteKind::StartupOrPersistence(why);
                }
            }
        }
        for (f, why) in SYSTEM_CONFIG {
            if bytes_have_prefix(b, f.as_bytes()) {
                return WriteKind::StartupOrPersistence(why);
            }
        }
        if self.in_workspace(p) {
            WriteKind::Workspace
        } else {
            WriteKind::Outside
        }
    }

    /// Whether reading `p` exposes secrets or private data (credential stores, keys, CN-A3
    /// private folders). Chela's own files are reported separately by [`Self::is_chela_path`].
    pub fn is_secret_path(&self, p: &Path) -> bool {
        if let Some(rel) = rel_bytes(p, &self.home) {
            if HOME_SECRETS
                .iter()
                .any(|s| bytes_have_prefix(rel, s.as_bytes()))
            {
                return true;
            }
        }
        let b = p.as_os_str().as_bytes();
        if SYSTEM_SECRETS
            .iter()
            .any(|s| bytes_have_prefix(b, s.as_bytes()))
        {
            return true;
        }
        if bytes_have_prefix(b, b"/proc") {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if matches!(name, "environ" | "mem" | "maps" | "auxv") {
                return true;
            }
        }
        self.private_paths.iter().any(|pp| has_prefix(p, pp))
    }
}

/// The meaning of a write target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Chela's own configuration, keys, policy or audit log (floor: denied).
    Chela,
    /// Inside the workspace.
    Workspace,
    /// `/tmp`, `/dev/null` and similar.
    Scratch,
    /// A shell start-up, persistence or credential file (with why it matters).
    StartupOrPersistence(&'static str),
    /// A raw disk device.
    Device,
    /// Bash's `/dev/tcp` / `/dev/udp` pseudo files (a network connection).
    Network,
    /// Anywhere else outside the workspace.
    Outside,
}

const DEFAULT_PRIVATE: &[&str] = &[
    "Desktop",
    "Documents",
    "Downloads",
    "Pictures",
    ".password-store",
    ".local/share/keyrings",
    ".config/KeePassXC",
    ".config/1Password",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    "snap/firefox",
];

const SCRATCH_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/stdin",
    "/dev/tty",
    "/dev/full",
];

fn contains_seq(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn is_block_device(p: &Path) -> bool {
    let b = p.as_os_str().as_bytes();
    [
        "/dev/sd",
        "/dev/hd",
        "/dev/vd",
        "/dev/xvd",
        "/dev/nvme",
        "/dev/mmcblk",
        "/dev/mem",
        "/dev/kmem",
        "/dev/port",
        "/dev/disk",
        "/dev/mapper",
        "/dev/md",
        "/dev/loop",
        "/dev/dm-",
    ]
    .iter()
    .any(|d| b.starts_with(d.as_bytes()))
}

const HOME_CONFIG: &[(&str, &str)] = &[
    (".bashrc", "shell start-up file runs on every new shell"),
    (".bash_profile", "shell start-up file runs on every login"),
    (".bash_login", "shell start-up file runs on every login"),
    (".bash_logout", "shell file runs on every logout"),
    (".profile", "shell start-up file runs on every login"),
    (".zshrc", "shell start-up file runs on every new shell"),
    (".zshenv", "shell start-up file runs on every new shell"),
    (".zprofile", "shell start-up file runs on every login"),
    (".zlogin", "shell start-up file runs on every login"),
    (".kshrc", "shell start-up file"),
    (".cshrc", "shell start-up file"),
    (".tcshrc", "shell start-up file"),
    (".inputrc", "readline start-up file"),
    (".config/fish", "fish shell configuration"),
    (".ssh", "SSH keys and authorised keys"),
    (".gnupg", "GnuPG keys"),
    (
        ".gitconfig",
        "git configuration can run commands (hooks path, aliases, pager)",
    ),
    (".config/git", "git configuration can run commands"),
    (
        ".config/autostart",
        "desktop autostart entries run at login",
    ),
    (
        ".config/systemd",
        "systemd user units run in the background",
    ),
    (
        ".local/share/systemd",
        "systemd user units run in the background",
    ),
    (".config/environment.d", "session environment"),
    (".pam_environment", "session environment"),
    (".xprofile", "X session start-up file"),
    (".xinitrc", "X session start-up file"),
    (".xsessionrc", "X session start-up file"),
    (".npmrc", "npm configuration (registry, tokens, scripts)"),
    (".pypirc", "PyPI credentials"),
    (".pip", "pip configuration (package index)"),
    (".config/pip", "pip configuration (package index)"),
    (".netrc", "network credentials"),
    (".git-credentials", "git credentials"),
    (".docker", "docker configuration and credentials"),
    (".kube", "Kubernetes credentials"),
    (".aws", "AWS credentials"),
    (
        ".cargo/config",
        "cargo configuration (registries, build wrappers)",
    ),
    (
        ".cargo/config.toml",
        "cargo configuration (registries, build wrappers)",
    ),
    (".cargo/bin", "programs on PATH"),
    (".local/bin", "programs on PATH"),
    ("bin", "programs on PATH"),
    (".vimrc", "editor start-up file can run commands"),
    (".config/nvim", "editor start-up file can run commands"),
    (".emacs", "editor start-up file can run code"),
    (".emacs.d", "editor start-up file can run code"),
];

const SYSTEM_CONFIG: &[(&str, &str)] = &[
    ("/etc", "system configuration"),
    ("/var/spool/cron", "scheduled jobs (persistence)"),
    ("/usr", "system programs"),
    ("/bin", "system programs"),
    ("/sbin", "system programs"),
    ("/lib", "system libraries"),
    ("/lib64", "system libraries"),
    ("/boot", "boot files"),
    ("/root", "the superuser's home"),
];

const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".vault-token",
    ".config/gh",
    ".terraform.d/credentials.tfrc.json",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".local/share/fish/fish_history",
];

const SYSTEM_SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/root",
    "/var/lib/docker",
];

/// Normalises a path lexically: removes `.` and resolves `..` without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
                if out.as_os_str().is_empty() && p.is_absolute() {
                    out.push("/");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(if p.is_absolute() { "/" } else { "." });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CommandContext {
        CommandContext::new("/home/u/.chela/workspace", "/home/u", "/home/u/.chela")
    }

    #[test]
    fn persistence_files_are_special_even_in_a_workspace_under_tmp() {
        let c = CommandContext::new("/tmp/proj", "/home/u", "/home/u/.chela");
        for p in [
            "/tmp/proj/.git/hooks/pre-commit",
            "/tmp/proj/.git/config",
            "/tmp/proj/.envrc",
            "/tmp/proj/.vscode/tasks.json",
        ] {
            assert!(
                matches!(
                    c.write_kind(Path::new(p)),
                    WriteKind::StartupOrPersistence(_)
                ),
                "{p}"
            );
        }
        assert!(matches!(
            c.write_kind(Path::new("/tmp/proj/src/main.rs")),
            WriteKind::Scratch | WriteKind::Workspace
        ));
        assert!(matches!(
            ctx().write_kind(Path::new("/home/u/.chela/workspace/.git/hooks/x")),
            WriteKind::StartupOrPersistence(_)
        ));
    }

    #[test]
    fn normalize_handles_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
        assert_eq!(normalize(Path::new("/a/..")), PathBuf::from("/"));
    }

    #[test]
    fn chela_home_is_protected_but_not_the_workspace() {
        let c = ctx();
        assert!(c.is_chela_path(Path::new("/home/u/.chela/config.toml")));
        assert!(c.is_chela_path(Path::new("/etc/chela/policy.toml")));
        assert!(!c.is_chela_path(Path::new("/home/u/.chela/workspace/x")));
        assert_eq!(
            c.write_kind(&c.resolve(Path::new("../vault"))),
            WriteKind::Chela
        );
    }

    #[test]
    fn startup_files_and_hooks() {
        let c = ctx();
        assert!(matches!(
            c.write_kind(Path::new("/home/u/.bashrc")),
            WriteKind::StartupOrPersistence(_)
        ));
        assert!(matches!(
            c.write_kind(Path::new("/home/u/.chela/workspace/.git/hooks/pre-commit")),
            WriteKind::StartupOrPersistence(_)
        ));
        assert_eq!(c.write_kind(Path::new("/tmp/x")), WriteKind::Scratch);
        assert_eq!(c.write_kind(Path::new("/dev/sda")), WriteKind::Device);
        assert_eq!(c.write_kind(Path::new("/opt/x")), WriteKind::Outside);
        assert!(c.is_secret_path(Path::new("/home/u/.ssh/id_ed25519")));
        assert!(c.is_secret_path(Path::new("/home/u/Documents/tax.pdf")));
        assert!(c.is_secret_path(Path::new("/proc/self/environ")));
    }
}
