//! End-to-end (issue 8): `chela assess` through the real binary.

mod common;

use chela_testkit::{run_as_unprivileged, Protocol};
use common::{bin, stderr, stdout, Setup};
use serde_json::Value;

fn assess_json(s: &Setup) -> (Option<i32>, Value) {
    let out = s.run(&["assess", "--json", "--offline"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("assess --json: {e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), v)
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn guidance_ids() -> Vec<String> {
    let text = include_str!("../../chela-assess/guidance/GUIDANCE.md");
    let mut ids = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("| ") {
            let id = rest.split(' ').next().unwrap_or("");
            if (id.starts_with("CN-") || id.starts_with("CNCERT-") || id.starts_with("NVDB-"))
                && !ids.contains(&id.to_string())
            {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

#[test]
fn fresh_install_has_no_failure_and_lists_every_guidance_item() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let (code, report) = assess_json(&s);
    let failing: Vec<&Value> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "fail")
        .collect();
    assert!(failing.is_empty(), "fresh init fails: {failing:#?}");
    assert_eq!(code, Some(0));
    let ids = guidance_ids();
    assert_eq!(ids.len(), 33, "{ids:?}");
    for id in &ids {
        item(&report, id);
    }
    assert!(
        report["audit_head"]["hash"].is_string(),
        "report carries the audit head hash"
    );
}

#[test]
fn root_fails_cn_a3() {
    if !run_as_unprivileged() {
        return;
    }
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let out = std::process::Command::new(bin())
        .args(["assess", "--json", "--offline", "--no-probe"])
        .env("CHELA_HOME", s.home.chela_home())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(item(&v, "CN-A3")["status"], "fail");
    // Changing state as root stays refused.
    let fix = std::process::Command::new(bin())
        .args(["assess", "--fix"])
        .env("CHELA_HOME", s.home.chela_home())
        .output()
        .unwrap();
    assert_eq!(fix.status.code(), Some(4));
}

#[test]
fn exposed_gateway_fails_cn_a2_and_cn_d2() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{text}\n[gateway]\nbind = \"0.0.0.0:18789\"\n"),
    )
    .unwrap();
    let (code, report) = assess_json(&s);
    assert_eq!(code, Some(5));
    assert_eq!(item(&report, "CN-A2")["status"], "fail");
    assert_eq!(item(&report, "CN-D2")["status"], "fail");
}

#[test]
fn private_key_in_workspace_fails_cn_a4() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    s.home.write_file(
        "home/.chela/workspace/id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    let (code, report) = assess_json(&s);
    assert_eq!(code, Some(5));
    assert_eq!(item(&report, "CN-A4")["status"], "fail");
}

#[test]
fn config_change_after_baseline_warns_cn_d7() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("max_steps = 40", "max_steps = 41");
    std::fs::write(&cfg, text).unwrap();
    let (_, report) = assess_json(&s);
    let d7 = item(&report, "CN-D7");
    assert_eq!(d7["status"], "warn", "{d7:#}");
    assert!(d7.to_string().contains("config.toml"), "{d7:#}");
}

#[test]
fn html_report_is_written() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let out = s.run(&["assess", "--offline", "--format", "html"]);
    let html = stdout(&out);
    assert!(
        html.contains("<html") && html.contains("CN-A1") && html.contains("NVDB-6"),
        "{}",
        stderr(&out)
    );
}
