//! End-to-end library tests: a fresh home as an unprivileged user (real sandbox probe), root,
//! an exposed gateway, a private key in the workspace, configuration drift, the CLI entry points
//! and every guidance ID in the JSON report.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use chela_assess::model::Status;
use chela_assess::{AssessArgs, Format};
use common::*;

fn ids_of(md: &str) -> BTreeSet<String> {
    chela_assess::guidance::parse_items(md)
        .into_iter()
        .map(|i| i.id)
        .collect()
}

#[test]
fn fresh_home_as_unprivileged_user_has_no_fail() {
    if !unprivileged("fresh_home_as_unprivileged_user_has_no_fail") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let home = base.path().join("chela");
    init_home(&home, &INIT_CONFIG);
    chela_assess::record_baseline(&home).unwrap();
    let user_home = base.path().join("user");
    std::fs::create_dir(&user_home).unwrap();
    let mut opts = chela_assess::Options::new(&home);
    opts.user_home = Some(user_home);
    opts.org_policy = base.path().join("no-org-policy.toml");
    opts.refresh_feed = false;
    assert!(opts.probe, "the real sandbox probe must run");
    let r = chela_assess::assess(&opts);
    let fails: Vec<String> = r
        .items
        .iter()
        .filter(|i| i.status == Status::Fail)
        .map(|i| explain(&r, &i.id))
        .collect();
    assert!(
        fails.is_empty(),
        "a fresh home has failing items:\n{}",
        fails.join("\n")
    );
    assert_eq!(r.exit_code, 0);
    // The isolation items passed on a real probe, not on configuration.
    for id in ["CN-B1", "CN-D3", "CN-A3"] {
        assert_eq!(status(&r, id), Status::Pass, "{}", explain(&r, id));
    }
    let b1 = r.item("CN-B1").unwrap();
    let ev = |label: &str| {
        b1.evidence
            .iter()
            .find(|e| e.label == label)
            .map(|e| e.value.clone())
            .unwrap_or_default()
    };
    assert!(
        ev("probe: write outside workspace").starts_with("blocked"),
        "{b1:?}"
    );
    assert!(
        ev("probe: TCP to host loopback").starts_with("blocked"),
        "{b1:?}"
    );
    assert!(ev("Landlock").contains("ABI v"), "{b1:?}");
    assert_eq!(r.host.euid, NOBODY);
    assert!(r
        .audit_head
        .as_ref()
        .is_some_and(|h| h.verified && h.hash.is_some()));
}

#[test]
fn missing_sandbox_feature_fails_isolation() {
    // chela-sandbox honours the simulation only in debug builds.
    if !cfg!(debug_assertions) {
        return;
    }
    if !unprivileged_env(
        "missing_sandbox_feature_fails_isolation",
        &[("CHELA_SANDBOX_SIMULATE_MISSING", "landlock")],
    ) {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let home = base.path().join("chela");
    init_home(&home, &INIT_CONFIG);
    let mut opts = chela_assess::Options::new(&home);
    opts.user_home = None;
    opts.org_policy = base.path().join("none.toml");
    opts.refresh_feed = false;
    let r = chela_assess::assess(&opts);
    assert_eq!(
        status(&r, "CN-B1"),
        Status::Fail,
        "{}",
        explain(&r, "CN-B1")
    );
    assert_eq!(status(&r, "CN-D3"), Status::Fail);
    assert!(r.item("CN-B1").unwrap().summary.contains("unavailable"));
    assert_eq!(r.exit_code, 5);
}

#[test]
fn root_session_fails_cn_a3() {
    let f = Fixture::new();
    let r = f.report();
    if euid() == 0 {
        assert_eq!(
            status(&r, "CN-A3"),
            Status::Fail,
            "{}",
            explain(&r, "CN-A3")
        );
        assert_eq!(status(&r, "NVDB-3"), Status::Fail);
        assert_eq!(r.exit_code, 5);
        assert!(r.item("CN-A3").unwrap().summary.contains("root"));
    } else {
        assert_eq!(
            status(&r, "CN-A3"),
            Status::Pass,
            "{}",
            explain(&r, "CN-A3")
        );
    }
}

#[test]
fn gateway_on_all_interfaces_without_auth_fails() {
    let f = Fixture::new();
    f.append_config("[gateway]\nbind = \"0.0.0.0:18789\"\n");
    let r = f.report();
    for id in ["CN-A2", "CN-D2", "NVDB-2", "CNCERT-M1"] {
        assert_eq!(status(&r, id), Status::Fail, "{}", explain(&r, id));
    }
    assert_eq!(r.exit_code, 5);
    let a2 = r.item("CN-A2").unwrap();
    assert!(
        a2.remediation.iter().any(|l| l.contains("127.0.0.1")),
        "{a2:?}"
    );
    // The same bind with a strong token is a warning (VPN interface), not a failure.
    let g = Fixture::new();
    g.append_config(
        "[gateway]\nbind = \"0.0.0.0:18789\"\nauth_token = \"kT9vQ2xLm4Rz8WbN7cYp3HdF6sJgA1eUqZ\"\n",
    );
    let r = g.report();
    assert_eq!(
        status(&r, "CN-A2"),
        Status::Warn,
        "{}",
        explain(&r, "CN-A2")
    );
    assert_eq!(
        status(&r, "CN-D1"),
        Status::Pass,
        "{}",
        explain(&r, "CN-D1")
    );
}

#[test]
fn private_key_in_workspace_fails_cn_a4() {
    let f = Fixture::new();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8fHx8QAAAJhK6c9PSunP\n-----END OPENSSH PRIVATE KEY-----\n";
    std::fs::write(f.home.join("workspace/id_ed25519"), key).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-A4"),
        Status::Fail,
        "{}",
        explain(&r, "CN-A4")
    );
    let a4 = r.item("CN-A4").unwrap();
    assert!(
        a4.evidence.iter().any(|e| e.value.contains("id_ed25519")),
        "{a4:?}"
    );
    assert!(
        !serde_json::to_string(&r)
            .unwrap()
            .contains("b3BlbnNzaC1rZXkt"),
        "secret leaked into the report"
    );
    assert_eq!(r.exit_code, 5);
}

#[test]
fn changed_config_after_baseline_warns_cn_d7() {
    let f = Fixture::new();
    assert_eq!(status(&f.report(), "CN-D7"), Status::Pass);
    f.append_config("# edited\n");
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D7"),
        Status::Warn,
        "{}",
        explain(&r, "CN-D7")
    );
    let d7 = r.item("CN-D7").unwrap();
    assert!(d7.summary.contains("config.toml"), "{d7:?}");
    assert!(d7
        .evidence
        .iter()
        .any(|e| e.label == "drift" && e.value.starts_with("changed")));
    // Recording a new baseline (audited) clears it.
    chela_assess::baseline::record_with(&f.home, &f.org).unwrap();
    assert_eq!(status(&f.report(), "CN-D7"), Status::Pass);
    let recs = chela_audit::read_records(
        &f.home.join("audit"),
        &chela_audit::RecordFilter {
            kind: Some("config_changed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        recs.len() >= 4,
        "each baseline file is audited: {}",
        recs.len()
    );
}

#[test]
fn every_guidance_id_appears_in_json() {
    let embedded = ids_of(chela_assess::guidance::GUIDANCE_MD);
    for shared in [
        Path::new("/work/shared/GUIDANCE.md").to_path_buf(),
        // CI clones the repository with shared/ beside it.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/GUIDANCE.md"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&shared) {
            assert_eq!(
                ids_of(&text),
                embedded,
                "{} differs from the embedded copy",
                shared.display()
            );
        }
    }
    assert_eq!(embedded.len(), 33);
    let f = Fixture::new();
    let json = serde_json::to_value(f.report()).unwrap();
    assert_eq!(json["schema_version"], 1);
    let in_json: BTreeSet<String> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_json, embedded);
    for i in json["items"].as_array().unwrap() {
        let s = i["status"].as_str().unwrap();
        assert!(["pass", "warn", "fail", "manual"].contains(&s), "{i}");
        assert!(
            !i["evidence"].as_array().unwrap().is_empty(),
            "no evidence: {i}"
        );
        if s != "pass" {
            assert!(
                !i["remediation"].as_array().unwrap().is_empty(),
                "no remediation: {i}"
            );
        }
    }
    let a3 = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "CN-A3")
        .unwrap();
    assert_eq!(a3["owasp"], serde_json::json!(["LLM06", "ASI03"]));
}

fn cli_args(format: Format, out: &Path) -> AssessArgs {
    AssessArgs {
        command: None,
        json: false,
        format: Some(format),
        output: Some(out.to_path_buf()),
        fix: false,
        no_probe: true,
        offline: true,
        unlock_vault: false,
    }
}

#[test]
fn cli_reports_and_exit_codes() {
    let f = Fixture::new();
    f.append_config("[gateway]\nbind = \"0.0.0.0:18789\"\n");
    let out = f.base.path().join("r.json");
    assert_eq!(
        chela_assess::run_assess_cli(&f.home, cli_args(Format::Json, &out)),
        5
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["items"].as_array().unwrap().len(), 33);
    let head = v["audit_head"]["hash"].as_str().unwrap().to_string();
    for fmt in [Format::Html, Format::Markdown] {
        let out = f.base.path().join("r.txt");
        chela_assess::run_assess_cli(&f.home, cli_args(fmt, &out));
        let text = std::fs::read_to_string(&out).unwrap();
        for id in ids_of(chela_assess::guidance::GUIDANCE_MD) {
            assert!(text.contains(&id), "{id} missing from {fmt:?}");
        }
        assert!(
            text.contains(&head[..16]),
            "audit head missing from {fmt:?}"
        );
        assert!(text.contains("0.0.0.0:18789"));
        assert!(text.contains(chela_assess::feed::CURRENT_VERSION));
    }
    // The run is remembered for CN-D8.
    assert_eq!(status(&f.report(), "CN-D8"), Status::Pass);
    // A missing home is a usage error.
    let missing = f.base.path().join("nope");
    assert_eq!(
        chela_assess::run_assess_cli(&missing, cli_args(Format::Json, &out)),
        2
    );
}

#[test]
fn html_is_self_contained() {
    let f = Fixture::new();
    let html = chela_assess::render::html(&f.report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<style>") && html.contains("@media print"));
    for banned in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(!html.contains(banned), "{banned}");
    }
}

#[test]
fn cli_fix_applies_and_audits() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    std::fs::set_permissions(f.config(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = f.base.path().join("r.json");
    let mut args = cli_args(Format::Json, &out);
    args.fix = true;
    chela_assess::run_assess_cli(&f.home, args);
    assert_eq!(chela_assess::util::mode_of(&f.config()), Some(0o600));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let d7 = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "CN-D7")
        .unwrap();
    assert_eq!(
        d7["status"], "pass",
        "the report after --fix reflects the fix: {d7}"
    );
    let alerts = chela_audit::read_records(
        &f.home.join("audit"),
        &chela_audit::RecordFilter {
            kind: Some("alert".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(alerts
        .iter()
        .any(|a| a.raw.contains("chmod 600") && a.raw.contains("config.toml")));
    // An administrator may assess another user's home but not change it.
    if euid() == 0 {
        std::os::unix::fs::chown(&f.home, Some(NOBODY), Some(NOBODY)).unwrap();
        let mut args = cli_args(Format::Json, &out);
        args.fix = true;
        assert_eq!(chela_assess::run_assess_cli(&f.home, args), 2);
        let before = std::fs::read_to_string(f.home.join("assess/last-run.json")).unwrap();
        chela_assess::run_assess_cli(&f.home, cli_args(Format::Json, &out));
        let after = std::fs::read_to_string(f.home.join("assess/last-run.json")).unwrap();
        assert_eq!(before, after, "nothing is written into another user's home");
    }
}

#[test]
fn table_is_grouped_and_coloured_only_when_asked() {
    let f = Fixture::new();
    let r = f.report();
    let plain = chela_assess::render::table(&r, false);
    assert!(!plain.contains('\x1b'));
    let a = plain.find("A. Individual users").unwrap();
    let b = plain.find("B. Enterprises").unwrap();
    let c = plain.find("C. Cloud service providers").unwrap();
    let d = plain.find("D. Developers").unwrap();
    let e = plain.find("Earlier alerts").unwrap();
    assert!(a < b && b < c && c < d && d < e);
    assert!(plain.find("CN-A1").unwrap() > a && plain.find("CN-A1").unwrap() < b);
    assert!(chela_assess::render::table(&r, true).contains("\x1b[3"));
}
