//! Shared helpers for end-to-end tests that drive the real `chela` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chela_testkit::{chela_command, FakeServer, Protocol, Reply, TestHome};

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_chela"))
}

/// A test home with `chela init` done against a fake server.
pub struct Setup {
    pub home: TestHome,
    pub server: FakeServer,
}

impl Setup {
    pub fn new(protocol: Protocol, script: Vec<Reply>) -> Setup {
        Self::with_server(FakeServer::start(protocol, script), protocol)
    }

    pub fn with_server(server: FakeServer, protocol: Protocol) -> Setup {
        let home = TestHome::new();
        let provider = match protocol {
            Protocol::OpenAi => "openai",
            Protocol::Anthropic => "anthropic",
        };
        let out = chela_command(bin(), &home)
            .args([
                "init",
                "--non-interactive",
                "--provider",
                provider,
                "--base-url",
            ])
            .arg(server.base_url())
            .args(["--model", "fake-model", "--api-key-env", "FAKE_API_KEY"])
            .output()
            .expect("run chela init");
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Setup { home, server }
    }

    /// A `chela` command with the fake key set.
    pub fn cmd(&self) -> Command {
        let mut c = chela_command(bin(), &self.home);
        c.env("FAKE_API_KEY", "sk-test-fake-key-0123456789");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run chela")
    }

    pub fn workspace(&self) -> PathBuf {
        self.home.chela_home().join("workspace")
    }

    /// Appends a line to config.toml's `[provider]` section.
    pub fn set_provider_option(&self, line: &str) {
        let path = self.home.chela_home().join("config.toml");
        let text = std::fs::read_to_string(&path).expect("read config");
        let text = text.replacen("[provider]\n", &format!("[provider]\n{line}\n"), 1);
        std::fs::write(&path, text).expect("write config");
    }

    /// Appends a line to config.toml's `[policy]` section.
    pub fn set_policy(&self, line: &str) {
        let path = self.home.chela_home().join("config.toml");
        let text = std::fs::read_to_string(&path).expect("read config");
        assert!(
            text.contains("[policy]\n"),
            "config has no [policy] section"
        );
        let text = text.replacen("[policy]\n", &format!("[policy]\n{line}\n"), 1);
        std::fs::write(&path, text).expect("write config");
    }

    /// The `content` of the tool messages in request `n` (0-based), OpenAI shape.
    pub fn tool_results(&self, n: usize) -> Vec<String> {
        let reqs = self.server.model_requests();
        let body = &reqs[n].body;
        let mut out = Vec::new();
        for m in body["messages"].as_array().into_iter().flatten() {
            if m["role"] == "tool" {
                out.push(m["content"].as_str().unwrap_or_default().to_string());
            }
            if let Some(blocks) = m["content"].as_array() {
                for b in blocks {
                    if b["type"] == "tool_result" {
                        let c = &b["content"];
                        out.push(
                            c.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| c.to_string()),
                        );
                    }
                }
            }
        }
        out
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `chela chat --session SESSION` on a pseudo-terminal; see [`on_pty`].
pub fn chat_on_pty(s: &Setup, session: &str, input: &[&str]) -> Output {
    on_pty(s.cmd(), &format!("chat --session {session}"), input)
}

/// Runs the program of `base` (with its environment, directory and user) with `args` on a
/// pseudo-terminal (via util-linux `script`), typing each input after a pause. An input of
/// `"<pause>"` only waits; `"<ctrl-c>"` sends ETX, which the terminal turns into SIGINT.
pub fn on_pty(base: Command, args: &str, input: &[&str]) -> Output {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let program = base.get_program().to_string_lossy().into_owned();
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &format!("exec {program} {args}"), "/dev/null"]);
    cmd.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    if let Some(dir) = base.get_current_dir() {
        cmd.current_dir(dir);
    }
    if chela_testkit::run_as_unprivileged() {
        cmd.uid(chela_testkit::UNPRIVILEGED_ID)
            .gid(chela_testkit::UNPRIVILEGED_ID);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    for item in input {
        std::thread::sleep(std::time::Duration::from_millis(500));
        match *item {
            "<pause>" => continue,
            "<ctrl-c>" => stdin.write_all(b"\x03").expect("write"),
            line => stdin
                .write_all(format!("{line}\n").as_bytes())
                .expect("write"),
        }
        stdin.flush().expect("flush");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(stdin);
    child.wait_with_output().expect("wait")
}
