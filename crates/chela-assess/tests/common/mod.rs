//! Shared test helpers: temp homes made the way `chela init` makes them, fixture host trees,
//! and re-running a test as uid/gid 65534 when the runner is root (CI).

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chela_assess::facts::Options;
use chela_assess::host::Roots;
use chela_assess::model::{Report, Status};

pub const NOBODY: u32 = 65534;

/// The config.toml `chela init --non-interactive --provider openai --base-url
/// https://api.openai.com/v1 --model gpt-4o-mini --api-key-env OPENAI_API_KEY` writes.
pub static INIT_CONFIG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    chela_agent::config::template(&chela_agent::config::InitAnswers {
        provider: "openai".into(),
        base_url: "https://api.openai.com/v1".into(),
        model: "gpt-4o-mini".into(),
        api_key_env: "OPENAI_API_KEY".into(),
    })
});

fn mkdir(p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn write_mode(p: &Path, text: &str, mode: u32) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates `$CHELA_HOME` at `home` as `chela init` does: 0700 home, config.toml 0600,
/// workspace/ and audit/ 0700, audit signing keys.
pub fn init_home(home: &Path, config: &str) {
    mkdir(home, 0o700);
    write_mode(&home.join("config.toml"), config, 0o600);
    mkdir(&home.join("workspace"), 0o700);
    mkdir(&home.join("audit"), 0o700);
    chela_audit::init_keys(&home.join("audit")).unwrap();
}

/// A temp base with a Chela home, an empty user home and a fixture host tree.
pub struct Fixture {
    pub base: tempfile::TempDir,
    pub home: PathBuf,
    pub user_home: PathBuf,
    pub roots: Roots,
    pub org: PathBuf,
}

impl Fixture {
    /// A fresh, initialised home with a baseline; the host tree is a container with good
    /// hardening settings and no listeners.
    pub fn new() -> Fixture {
        Self::with_config(&INIT_CONFIG)
    }

    pub fn with_config(config: &str) -> Fixture {
        let base = tempfile::tempdir().unwrap();
        let home = base.path().join("chela");
        init_home(&home, config);
        let user_home = base.path().join("user");
        mkdir(&user_home, 0o700);
        let roots = Roots {
            root: base.path().join("root"),
            proc: base.path().join("proc"),
            sys: base.path().join("sys"),
        };
        mkdir(&roots.root, 0o755);
        std::fs::write(roots.root.join(".dockerenv"), "").unwrap();
        mkdir(&roots.proc.join("net"), 0o755);
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        std::fs::write(roots.proc.join("net/tcp"), header).unwrap();
        std::fs::write(roots.proc.join("net/tcp6"), header).unwrap();
        mkdir(&roots.proc.join("sys/kernel/yama"), 0o755);
        mkdir(&roots.proc.join("sys/fs"), 0o755);
        for (k, v) in [
            ("kernel/kptr_restrict", "1"),
            ("kernel/dmesg_restrict", "1"),
            ("kernel/yama/ptrace_scope", "1"),
            ("fs/protected_symlinks", "1"),
            ("fs/protected_hardlinks", "1"),
            ("kernel/randomize_va_space", "2"),
        ] {
            std::fs::write(roots.proc.join("sys").join(k), format!("{v}\n")).unwrap();
        }
        std::fs::write(roots.proc.join("cpuinfo"), "flags : fpu sse2\n").unwrap();
        mkdir(&roots.sys.join("class/dmi/id"), 0o755);
        let org = base.path().join("org-policy.toml");
        let f = Fixture {
            base,
            home,
            user_home,
            roots,
            org,
        };
        chela_assess::baseline::record_with(&f.home, &f.org).unwrap();
        f
    }

    pub fn opts(&self) -> Options {
        Options {
            home: self.home.clone(),
            user_home: Some(self.user_home.clone()),
            roots: self.roots.clone(),
            org_policy: self.org.clone(),
            probe: false,
            refresh_feed: false,
            unlock_vault: false,
        }
    }

    pub fn report(&self) -> Report {
        chela_assess::assess(&self.opts())
    }

    pub fn config(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// Appends text to config.toml (keeping mode 0600).
    pub fn append_config(&self, text: &str) {
        let old = std::fs::read_to_string(self.config()).unwrap();
        write_mode(&self.config(), &format!("{old}\n{text}"), 0o600);
    }

    pub fn set_sysctl(&self, key: &str, v: &str) {
        std::fs::write(self.roots.proc.join("sys").join(key), format!("{v}\n")).unwrap();
    }

    pub fn add_listener(&self, hex_addr_port: &str, uid: u32) {
        let p = self.roots.proc.join("net/tcp");
        let mut t = std::fs::read_to_string(&p).unwrap();
        t.push_str(&format!(
            "   0: {hex_addr_port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000 {uid:>5}        0 1 1 0000000000000000 100 0 0 10 0\n"
        ));
        std::fs::write(p, t).unwrap();
    }
}

pub fn status(r: &Report, id: &str) -> Status {
    r.item(id)
        .unwrap_or_else(|| panic!("{id} missing from the report"))
        .status
}

pub fn explain(r: &Report, id: &str) -> String {
    let i = r.item(id).unwrap();
    format!(
        "{id} {:?}: {}\n  evidence: {:?}\n  remediation: {:?}",
        i.status, i.summary, i.evidence, i.remediation
    )
}

pub fn euid() -> u32 {
    // SAFETY: plain getter.
    unsafe { libc::geteuid() }
}

fn exe_copy() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let dir = tempfile::Builder::new()
            .prefix("chela-assess-test-")
            .tempdir()
            .expect("temp dir")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dst = dir.join("t");
        // Copy in a child process: a write descriptor opened here could be inherited by a
        // concurrent fork in another test thread and make the copy "text file busy".
        let st = Command::new("cp").arg(&exe).arg(&dst).status().expect("cp");
        assert!(st.success(), "copying the test binary failed");
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
        dst
    })
    .clone()
}

/// True when the caller should run the test body now (already unprivileged). As root, re-runs
/// test `name` as uid/gid 65534, asserts it passed, and returns false.
pub fn unprivileged(name: &str) -> bool {
    unprivileged_env(name, &[])
}

/// Like [`unprivileged`], with extra environment variables for the re-executed test.
/// When not root, the test is re-run as the same user if `envs` are not yet set.
pub fn unprivileged_env(name: &str, envs: &[(&str, &str)]) -> bool {
    let set = envs
        .iter()
        .all(|(k, v)| std::env::var(k).ok().as_deref() == Some(*v));
    if euid() != 0 && set {
        return true;
    }
    let mut cmd = Command::new(exe_copy());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs.iter().copied())
        .env("HOME", "/nonexistent")
        .env("TMPDIR", "/tmp")
        .current_dir("/");
    if euid() == 0 {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let mut tries = 0;
    let out = loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => break r.expect("re-run test as uid 65534"),
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "test {name} failed as uid 65534:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "test {name} did not run as uid 65534:\n{text}"
    );
    false
}
