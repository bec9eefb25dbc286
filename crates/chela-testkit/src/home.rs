//! Temporary homes and `chela` commands that run as an unprivileged user when tests run as root.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};

/// The uid and gid (`nobody`/`nogroup`) the binary runs as when the tests run as root.
pub const UNPRIVILEGED_ID: u32 = 65534;

/// `PATH` given to the child.
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// True when the tests run as root, so [`chela_command`] drops to uid/gid 65534 and
/// [`TestHome`] hands its files to that user.
pub fn run_as_unprivileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary directory for one test: `path()` (mode 0700) holds `home()` (`$HOME`, mode 0700)
/// and `chela_home()` (`$HOME/.chela`, not created, so `chela init` can create it).
/// When tests run as root both directories belong to uid/gid 65534. Removed on drop.
#[derive(Debug)]
pub struct TestHome {
    dir: tempfile::TempDir,
    home: PathBuf,
}

impl TestHome {
    /// Creates a fresh temp home.
    ///
    /// # Panics
    /// When the temporary directory cannot be created or handed to uid 65534 (the test cannot
    /// run); the message names the path and the cause.
    pub fn new() -> TestHome {
        let root = reachable_temp_root();
        let dir = tempfile::Builder::new()
            .prefix("chela-test-")
            .tempdir_in(&root)
            .unwrap_or_else(|e| {
                panic!(
                    "chela-testkit: cannot create a temp dir in {}: {e}",
                    root.display()
                )
            });
        let home = dir.path().join("home");
        let t = TestHome { dir, home };
        set_mode(t.dir.path(), 0o700);
        t.create_dir("home");
        t.give_away(t.dir.path());
        t
    }

    /// `$HOME` for the child process.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `$CHELA_HOME` for the child process: `$HOME/.chela` (not created by the kit).
    pub fn chela_home(&self) -> PathBuf {
        self.home.join(".chela")
    }

    /// The temp directory holding everything (parent of `home()`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates `path()/rel` (and missing parents) with mode 0700, owned by the child's user.
    ///
    /// # Panics
    /// When the directory cannot be created or chowned.
    pub fn create_dir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let target = self.dir.path().join(rel.as_ref());
        fs::create_dir_all(&target)
            .unwrap_or_else(|e| panic!("chela-testkit: cannot create {}: {e}", target.display()));
        let mut p = target.as_path();
        while p != self.dir.path() {
            set_mode(p, 0o700);
            self.give_away(p);
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        target
    }

    /// Writes `path()/rel` (creating parent dirs) with mode 0600, owned by the child's user.
    ///
    /// # Panics
    /// When the file cannot be written or chowned.
    pub fn write_file(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let target = self.dir.path().join(rel.as_ref());
        if let Some(parent) = rel.as_ref().parent() {
            if !parent.as_os_str().is_empty() {
                self.create_dir(parent);
            }
        }
        fs::write(&target, contents)
            .unwrap_or_else(|e| panic!("chela-testkit: cannot write {}: {e}", target.display()));
        set_mode(&target, 0o600);
        self.give_away(&target);
        target
    }

    /// Hands `p` to uid/gid 65534 when running as root (no-op otherwise).
    fn give_away(&self, p: &Path) {
        if run_as_unprivileged() {
            std::os::unix::fs::chown(p, Some(UNPRIVILEGED_ID), Some(UNPRIVILEGED_ID))
                .unwrap_or_else(|e| {
                    panic!("chela-testkit: cannot chown {} to 65534: {e}", p.display())
                });
        }
    }
}

impl Default for TestHome {
    fn default() -> Self {
        TestHome::new()
    }
}

fn set_mode(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap_or_else(|e| {
        panic!(
            "chela-testkit: cannot chmod {:o} {}: {e}",
            mode,
            p.display()
        )
    });
}

/// A temp root uid 65534 can traverse: `$TMPDIR` (or `/tmp`) when every ancestor is
/// world-searchable, else `/tmp`.
fn reachable_temp_root() -> PathBuf {
    let candidate = std::env::temp_dir();
    if !run_as_unprivileged() || world_traversable(&candidate) {
        return candidate;
    }
    PathBuf::from("/tmp")
}

fn world_traversable(p: &Path) -> bool {
    p.ancestors().all(|a| {
        fs::metadata(a)
            .map(|m| m.is_dir() && m.mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// Copies of binaries made for this test process: original path → copy.
static COPIES: Mutex<Option<HashMap<PathBuf, PathBuf>>> = Mutex::new(None);
/// Directories to remove at process exit.
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static REGISTER_CLEANUP: Once = Once::new();

extern "C" fn remove_copies() {
    if let Ok(dirs) = CLEANUP.lock() {
        for d in dirs.iter() {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// The path to run `bin` from: when dropping privileges, a copy in a fresh world-readable
/// 0755 directory (made once per test process, removed at exit); otherwise `bin` itself.
fn runnable_copy(bin: &Path) -> PathBuf {
    if !run_as_unprivileged() {
        return bin.to_path_buf();
    }
    let mut copies = COPIES.lock().unwrap_or_else(|e| e.into_inner());
    let map = copies.get_or_insert_with(HashMap::new);
    if let Some(copy) = map.get(bin) {
        return copy.clone();
    }
    let dir = tempfile::Builder::new()
        .prefix("chela-bin-")
        .tempdir_in(reachable_temp_root())
        .unwrap_or_else(|e| panic!("chela-testkit: cannot create a dir for the binary copy: {e}"))
        .keep();
    set_mode(&dir, 0o755);
    let name = bin.file_name().unwrap_or_else(|| "chela".as_ref());
    let copy = dir.join(name);
    // Copy in a child process: the copy's write descriptor then never exists in this
    // (multi-threaded) process, so a concurrent fork elsewhere cannot hold it open and make
    // exec fail with ETXTBSY ("text file busy").
    let copied = Command::new("cp")
        .arg("--")
        .arg(bin)
        .arg(&copy)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !copied {
        fs::copy(bin, &copy).unwrap_or_else(|e| {
            panic!(
                "chela-testkit: cannot copy {} to {}: {e}",
                bin.display(),
                copy.display()
            )
        });
    }
    set_mode(&copy, 0o755);
    CLEANUP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir.clone());
    REGISTER_CLEANUP.call_once(|| {
        // SAFETY: registering a plain extern "C" fn with no captured state.
        unsafe {
            libc::atexit(remove_copies);
        }
    });
    map.insert(bin.to_path_buf(), copy.clone());
    copy
}

/// A [`Command`] for the `chela` binary (pass `env!("CARGO_BIN_EXE_chela")`) that runs in
/// `home.home()` with a clean environment (`HOME`, `CHELA_HOME`, `PATH`, `LANG=C.UTF-8`; nothing
/// inherited, so no secrets leak in) and, when the test runs as root, as uid/gid 65534 with no
/// supplementary groups from a world-executable copy of the binary.
///
/// Add the provider's key variable yourself, e.g. `.env("OPENAI_API_KEY", "sk-test")`.
///
/// # Panics
/// When the binary cannot be copied for the unprivileged user.
pub fn chela_command(bin: &Path, home: &TestHome) -> Command {
    let program = runnable_copy(bin);
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home.home())
        .env("CHELA_HOME", home.chela_home())
        .env("PATH", CHILD_PATH)
        .env("LANG", "C.UTF-8")
        .current_dir(home.home());
    if run_as_unprivileged() {
        // std clears supplementary groups (setgroups(0)) before setuid when uid is set.
        cmd.uid(UNPRIVILEGED_ID).gid(UNPRIVILEGED_ID);
    }
    cmd
}

/// The environment [`chela_command`] gives the child, for tests that assert on it.
pub fn child_env(home: &TestHome) -> Vec<(OsString, OsString)> {
    vec![
        ("HOME".into(), home.home().into()),
        ("CHELA_HOME".into(), home.chela_home().into()),
        ("PATH".into(), CHILD_PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}
