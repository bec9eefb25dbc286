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
