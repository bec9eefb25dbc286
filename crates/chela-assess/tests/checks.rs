//! Per-check fixtures: for each automatic check, a home (and host tree) where it passes and one
//! where it warns or fails. Facts that cannot be staged in a temp directory (the uid, a sandbox
//! escape, a broken floor) are set on gathered facts: the checks are pure functions of them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use chela_assess::facts::{self, Facts};
use chela_assess::model::{Fix, Report, Status};
use chela_assess::probe::{ProbeOutcome, ProbeRun, SandboxEvidence};
use common::*;

fn with_facts(f: &Fixture, change: impl FnOnce(&mut Facts)) -> Report {
    let mut facts = facts::gather(&f.opts());
    change(&mut facts);
    chela_assess::report_from(&facts)
}

fn as_user(f: &mut Facts) {
    f.euid = 1000;
    f.secret_env_vars.clear();
}

// ----- CN-A1 -------------------------------------------------------------------------------

#[test]
fn a1_dedicated_container_passes_office_pc_fails() {
    let f = Fixture::new();
    assert_eq!(
        status(&f.report(), "CN-A1"),
        Status::Pass,
        "{}",
        explain(&f.report(), "CN-A1")
    );
    std::fs::create_dir_all(f.user_home.join(".mozilla/firefox/x.default")).unwrap();
    assert_eq!(status(&f.report(), "CN-A1"), Status::Warn);
    std::fs::remove_file(f.roots.root.join(".dockerenv")).unwrap();
    std::fs::write(f.roots.sys.join("class/dmi/id/sys_vendor"), "Dell Inc.\n").unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-A1"),
        Status::Fail,
        "{}",
        explain(&r, "CN-A1")
    );
    assert!(r
        .item("CN-A1")
        .unwrap()
        .evidence
        .iter()
        .any(|e| e.value.contains("Firefox profile")));
}

// ----- exposure: CN-A2, CN-D2, NVDB-2 ------------------------------------------------------

#[test]
fn exposure_listeners_and_tunnels() {
    let f = Fixture::new();
    let r = f.report();
    for id in ["CN-A2", "CN-D2", "NVDB-2"] {
        assert_eq!(status(&r, id), Status::Pass, "{}", explain(&r, id));
    }
    // Someone else's public listener is not this user's exposure.
    f.add_listener("00000000:0016", euid().wrapping_add(1));
    assert_eq!(status(&f.report(), "CN-D2"), Status::Pass);
    f.add_listener("00000000:1F90", euid());
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D2"),
        Status::Warn,
        "{}",
        explain(&r, "CN-D2")
    );
    assert!(r.item("CN-D2").unwrap().summary.contains("0.0.0.0:8080"));

    let g = Fixture::new();
    std::fs::create_dir_all(g.roots.proc.join("4242")).unwrap();
    std::fs::write(g.roots.proc.join("4242/comm"), "ngrok\n").unwrap();
    let r = g.report();
    assert_eq!(
        status(&r, "CN-A2"),
        Status::Warn,
        "{}",
        explain(&r, "CN-A2")
    );
    assert!(r.item("CN-A2").unwrap().summary.contains("ngrok"));
}

// ----- CN-A3, NVDB-3 ------------------------------------------------------------------------

#[test]
fn a3_root_fails_user_passes() {
    let f = Fixture::new();
    let r = with_facts(&f, as_user);
    assert_eq!(
        status(&r, "CN-A3"),
        Status::Pass,
        "{}",
        explain(&r, "CN-A3")
    );
    assert_eq!(status(&r, "NVDB-3"), Status::Pass);
    let r = with_facts(&f, |x| x.euid = 0);
    assert_eq!(status(&r, "CN-A3"), Status::Fail);
    assert_eq!(status(&r, "NVDB-3"), Status::Fail);
    assert!(r
        .item("CN-A3")
        .unwrap()
        .remediation
        .iter()
        .any(|l| l.contains("useradd")));
}

// ----- sandbox: CN-B1, CN-D3 (the passing probe is in e2e.rs, as uid 65534) ---------------

fn probe_run(escaped: bool) -> ProbeRun {
    ProbeRun {
        level: "userns,landlock".into(),
        control_ok: true,
        write_outside_blocked: !escaped,
        write_system_blocked: true,
        loopback_blocked: true,
        connect_attempted: true,
        outside_target: "/tmp/x".into(),
        port: 1,
        transcript: String::new(),
        duration_ms: 1,
    }
}

#[test]
fn isolation_fails_on_escape_or_unavailable_sandbox() {
    let f = Fixture::new();
    let kernel = chela_sandbox::check();
    let k2 = kernel.clone();
    let r = with_facts(&f, |x| {
        as_user(x);
        x.sandbox = Some(SandboxEvidence {
            kernel,
            outcome: ProbeOutcome::Ran(probe_run(false)),
        });
    });
    assert_eq!(
        status(&r, "CN-B1"),
        Status::Pass,
        "{}",
        explain(&r, "CN-B1")
    );
    assert_eq!(status(&r, "CN-D3"), Status::Pass);
    let k3 = k2.clone();
    let r = with_facts(&f, |x| {
        as_user(x);
        x.sandbox = Some(SandboxEvidence {
            kernel: k2,
            outcome: ProbeOutcome::Ran(probe_run(true)),
        });
    });
    for id in ["CN-B1", "CN-D3", "CN-A3", "CNCERT-M1"] {
        assert_eq!(status(&r, id), Status::Fail, "{}", explain(&r, id));
    }
    let r = with_facts(&f, |x| {
        x.sandbox = Some(SandboxEvidence {
            kernel: k3,
            outcome: ProbeOutcome::Unavailable {
                reason: "Landlock missing".into(),
            },
        })
    });
    assert_eq!(status(&r, "CN-B1"), Status::Fail);
    let r = f.report();
    assert_eq!(
        status(&r, "CN-B1"),
        Status::Warn,
        "probe not run is not a pass"
    );
}

// ----- CN-A4 --------------------------------------------------------------------------------

#[test]
fn a4_clean_workspace_passes() {
    let f = Fixture::new();
    std::fs::write(
        f.home.join("workspace/notes.md"),
        "# Plan\nShip the release on Friday.\n",
    )
    .unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-A4"),
        Status::Pass,
        "{}",
        explain(&r, "CN-A4")
    );
    assert!(r.item("CN-A4").unwrap().evidence[0]
        .value
        .starts_with("1 file(s)"));
    // A valid PRC resident ID number is private data.
    std::fs::write(
        f.home.join("workspace/hr.txt"),
        "身份证号: 11010519491231002X\n",
    )
    .unwrap();
    let r = f.report();
    assert_ne!(
        status(&r, "CN-A4"),
        Status::Pass,
        "{}",
        explain(&r, "CN-A4")
    );
}

// ----- skills: CN-A5, CN-D5, CNCERT-M3, NVDB-4 ---------------------------------------------

#[test]
fn skills_not_installed_pass_unknown_directory_warns() {
    let f = Fixture::new();
    for id in ["CN-A5", "CN-D5", "CNCERT-M3", "NVDB-4"] {
        assert_eq!(status(&f.report(), id), Status::Pass);
    }
    std::fs::create_dir(f.home.join("skills")).unwrap();
    for id in ["CN-A5", "CN-D5", "CNCERT-M3", "NVDB-4"] {
        assert_eq!(status(&f.report(), id), Status::Warn);
    }
}

// ----- version: CN-A6, CN-B5, CNCERT-M4, NVDB-1 and `chela update check` -------------------

mod feedkit {
    use base64::Engine as _;
    use ed25519_dalek::{Signer, SigningKey};

    pub fn key() -> SigningKey {
        SigningKey::from_bytes(&[42u8; 32])
    }

    pub fn feed(issued: &str, latest: &str, affected: Option<&str>) -> String {
        let adv = match affected {
            Some(a) => format!(
                r#"[{{"id":"CHELA-2026-0007","affected":"{a}","fixed":"9.9.9","severity":"high","summary":"sandbox bypass"}}]"#
            ),
            None => "[]".into(),
        };
        let payload = format!(
            r#"{{"schema":1,"product":"chela","issued":"{issued}","latest":"{latest}","advisories":{adv}}}"#
        );
        let sig = key().sign(payload.as_bytes());
        serde_json::json!({
            "payload": payload,
            "signature": base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
        })
        .to_string()
    }

    pub fn pubkey_text() -> String {
        format!(
            "ed25519:{}\n",
            base64::engine::general_purpose::STANDARD.encode(key().verifying_key().as_bytes())
        )
    }
}

const CUR: &str = chela_assess::feed::CURRENT_VERSION;

fn update(f: &Fixture, feed: &std::path::Path, pubkey: Option<&std::path::Path>) -> i32 {
    chela_assess::run_update_cli(
        &f.home,
        chela_assess::UpdateArgs {
            command: chela_assess::UpdateCommand::Check {
                feed: feed.display().to_string(),
                pubkey: pubkey.map(|p| p.to_path_buf()),
                json: false,
            },
        },
    )
}

#[test]
fn version_checks_follow_the_signed_feed() {
    let f = Fixture::new();
    let r = f.report();
    assert_eq!(status(&r, "CN-A6"), Status::Warn, "never checked");
    assert!(r
        .item("CN-A6")
        .unwrap()
        .evidence
        .iter()
        .any(|e| e.value == "never"));
    let pk = f.base.path().join("feed.pub");
    std::fs::write(&pk, feedkit::pubkey_text()).unwrap();
    let feed = f.base.path().join("feed.json");

    // No key anywhere: usage error.
    std::fs::write(&feed, feedkit::feed("2026-11-01T00:00:00Z", CUR, None)).unwrap();
    assert_eq!(update(&f, &feed, None), 2);
    // Clean feed: pass, key pinned.
    assert_eq!(update(&f, &feed, Some(&pk)), 0);
    for id in ["CN-A6", "CNCERT-M4"] {
        assert_eq!(
            status(&f.report(), id),
            Status::Pass,
            "{}",
            explain(&f.report(), id)
        );
    }
    assert!(f.home.join("update/feed.pub").exists());
    // Tampered feed: refused, the last success is kept and shown.
    let bad = feedkit::feed("2026-11-02T00:00:00Z", CUR, None)
        .replace("\\\"latest\\\"", "\\\"latest \\\"");
    std::fs::write(&feed, bad).unwrap();
    assert_eq!(update(&f, &feed, None), 1);
    assert!(f.home.join("update/last-error.json").exists());
    // Affected version: fail (exit 5), with the fixed version in the remediation.
    std::fs::write(
        &feed,
        feedkit::feed("2026-11-03T00:00:00Z", "9.9.9", Some(&format!("<={CUR}"))),
    )
    .unwrap();
    assert_eq!(update(&f, &feed, None), 5);
    let r = f.report();
    for id in ["CN-A6", "CNCERT-M4", "NVDB-1", "CN-B5"] {
        assert_eq!(status(&r, id), Status::Fail, "{}", explain(&r, id));
    }
    assert!(r
        .item("CN-A6")
        .unwrap()
        .remediation
        .iter()
        .any(|l| l.contains("9.9.9")));
    // An older feed than one already seen is refused (rollback).
    std::fs::write(&feed, feedkit::feed("2026-10-01T00:00:00Z", CUR, None)).unwrap();
    assert_eq!(update(&f, &feed, None), 1);
    // A stale success warns.
    std::fs::write(&feed, feedkit::feed("2026-11-04T00:00:00Z", CUR, None)).unwrap();
    assert_eq!(update(&f, &feed, None), 0);
    let p = f.home.join("update/last-check.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["checked_at_unix"] = serde_json::json!(chela_assess::util::now_unix() - 30 * 86_400);
    std::fs::write(&p, v.to_string()).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-A6"),
        Status::Warn,
        "{}",
        explain(&r, "CN-A6")
    );
    assert!(r.item("CN-A6").unwrap().summary.contains("30 days"));
}

#[test]
fn feed_over_loopback_http_is_fetched_through_chela_net_and_audited() {
    use std::io::{Read, Write};
    let f = Fixture::new();
    let body = feedkit::feed("2026-11-01T00:00:00Z", CUR, None);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).unwrap();
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
    });
    let pk = f.base.path().join("feed.pub");
    std::fs::write(&pk, feedkit::pubkey_text()).unwrap();
    let url = format!("http://127.0.0.1:{port}/feed.json");
    let rec = chela_assess::feed::check(&f.home, &url, Some(&pk), Duration::from_secs(10)).unwrap();
    server.join().unwrap();
    assert_eq!(rec.feed, url);
    assert!(rec.affecting.is_empty());
    let egress = chela_audit::read_records(
        &f.home.join("audit"),
        &chela_audit::RecordFilter {
            kind: Some("egress".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!egress.is_empty(), "the fetch was not audited");
    // A day later the assessment re-checks the stored feed; unreachable now: warn with the
    // last success date.
    let p = f.home.join("update/last-check.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["checked_at_unix"] = serde_json::json!(chela_assess::util::now_unix() - 2 * 86_400);
    std::fs::write(&p, v.to_string()).unwrap();
    let mut opts = f.opts();
    opts.refresh_feed = true;
    let r = chela_assess::assess(&opts);
    assert_eq!(
        status(&r, "CN-A6"),
        Status::Warn,
        "{}",
        explain(&r, "CN-A6")
    );
    assert!(r.item("CN-A6").unwrap().summary.contains("unreachable"));
    assert!(r.item("CN-A6").unwrap().summary.contains(&rec.checked_at));
}

// ----- policy: CN-B2, CN-D4, CN-D6, NVDB-5 -------------------------------------------------

#[test]
fn policy_profile_and_floor() {
    let f = Fixture::new();
    let r = f.report();
    for id in ["CN-B2", "CN-D4", "CN-D6", "NVDB-5"] {
        assert_eq!(status(&r, id), Status::Pass, "{}", explain(&r, id));
    }
    assert!(
        r.item("CN-D6")
            .unwrap()
            .evidence
            .iter()
            .filter(|e| e.label == "floor probe")
            .count()
            >= 5
    );

    let g =
        Fixture::with_config(&INIT_CONFIG.replace("# profile = \"coding\"", "profile = \"full\""));
    g.append_config("[policy.taint]\nenabled = false\n");
    let r = g.report();
    for id in ["CN-B2", "CN-D4", "NVDB-5"] {
        assert_eq!(status(&r, id), Status::Warn, "{}", explain(&r, id));
    }
    assert_eq!(
        status(&r, "CN-D6"),
        Status::Pass,
        "no setting lifts the floor"
    );

    let h = Fixture::with_config(
        &INIT_CONFIG.replace("# profile = \"coding\"", "profile = \"everything\""),
    );
    let r = h.report();
    for id in ["CN-B2", "CN-D4", "CN-D6"] {
        assert_eq!(status(&r, id), Status::Fail, "{}", explain(&r, id));
    }

    let r = with_facts(&f, |x| {
        if let Some(p) = x.policy.floor.first_mut() {
            p.3 = false;
        }
    });
    assert_eq!(status(&r, "CN-D6"), Status::Fail);
    assert_eq!(status(&r, "CN-B2"), Status::Fail);
}

// ----- audit: CN-B3, NVDB-6 and --fix ------------------------------------------------------

#[test]
fn audit_log_verified_tampered_and_missing() {
    let f = Fixture::new();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-B3"),
        Status::Pass,
        "{}",
        explain(&r, "CN-B3")
    );
    assert_eq!(
        status(&r, "NVDB-6"),
        Status::Pass,
        "{}",
        explain(&r, "NVDB-6")
    );
    let seg = std::fs::read_dir(f.home.join("audit"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("seg-"))
        .unwrap();
    let text = std::fs::read_to_string(&seg).unwrap();
    std::fs::write(&seg, text.replacen("config_changed", "config_chAnged", 1)).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-B3"),
        Status::Fail,
        "{}",
        explain(&r, "CN-B3")
    );
    assert_eq!(status(&r, "NVDB-6"), Status::Fail);

    let g = Fixture::new();
    std::fs::remove_dir_all(g.home.join("audit")).unwrap();
    let r = g.report();
    assert_eq!(
        status(&r, "NVDB-6"),
        Status::Fail,
        "{}",
        explain(&r, "NVDB-6")
    );
    assert!(r
        .item("NVDB-6")
        .unwrap()
        .fixes
        .contains(&Fix::EnableAuditLog {
            dir: g.home.join("audit")
        }));
    let mut out = Vec::new();
    chela_assess::fix::apply(&g.home, &r.fixes(), &mut out).unwrap();
    let r = g.report();
    assert_eq!(
        status(&r, "NVDB-6"),
        Status::Pass,
        "{}",
        explain(&r, "NVDB-6")
    );
    assert_eq!(
        status(&r, "CN-B3"),
        Status::Pass,
        "{}",
        explain(&r, "CN-B3")
    );
}

#[test]
fn fix_lists_applies_and_audits_mode_changes() {
    let f = Fixture::new();
    std::fs::set_permissions(f.config(), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&f.home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = f.home.join("audit/audit.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D7"),
        Status::Fail,
        "{}",
        explain(&r, "CN-D7")
    );
    assert_eq!(
        status(&r, "NVDB-6"),
        Status::Fail,
        "{}",
        explain(&r, "NVDB-6")
    );
    let fixes = r.fixes();
    assert_eq!(fixes.len(), 3, "{fixes:?}");
    let mut out = Vec::new();
    assert_eq!(
        chela_assess::fix::apply(&f.home, &fixes, &mut out).unwrap(),
        3
    );
    let out = String::from_utf8(out).unwrap();
    let listed = out
        .find(&format!("chmod 600 {}", f.config().display()))
        .unwrap();
    let applying = out.find("applying:").unwrap();
    assert!(
        listed < applying,
        "changes are listed before they are applied:\n{out}"
    );
    assert_eq!(chela_assess::util::mode_of(&f.config()), Some(0o600));
    assert_eq!(chela_assess::util::mode_of(&f.home), Some(0o700));
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D7"),
        Status::Pass,
        "{}",
        explain(&r, "CN-D7")
    );
    assert_eq!(status(&r, "NVDB-6"), Status::Pass);
    let alerts = chela_audit::read_records(
        &f.home.join("audit"),
        &chela_audit::RecordFilter {
            kind: Some("alert".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a.raw.contains("assess.fix.chmod"))
            .count(),
        3
    );
}

// ----- CN-B5 vault ages --------------------------------------------------------------------

#[test]
fn b5_credential_ages() {
    let f = Fixture::new();
    let path = chela_vault::Vault::default_path(&f.home);
    let src = chela_vault::PassphraseSource::Value(chela_vault::Secret::new(
        "correct horse battery".into(),
    ));
    let params = chela_vault::KdfParams {
        m_cost_kib: 8 * 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let mut v = chela_vault::Vault::create_with_params(&path, &src, params).unwrap();
    v.set("provider-key", "sk-test-0123456789abcdef0123")
        .unwrap();
    drop(v);
    let fresh = f.report();
    let ev = &fresh.item("CN-B5").unwrap().evidence;
    assert!(
        ev.iter().any(|e| e.value.contains("provider-key 0d")),
        "{ev:?}"
    );
    assert!(!fresh.item("CN-B5").unwrap().summary.contains("90 days"));
    // Age the entry in the file's metadata (read without the passphrase).
    let text = std::fs::read_to_string(&path).unwrap();
    let now = chela_assess::util::now_unix();
    let old = now - 200 * 86_400;
    let re = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("\"created\":") {
                l.split(':').next().unwrap().to_string() + &format!(": {old},")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&path, re).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-B5"),
        Status::Warn,
        "{}",
        explain(&r, "CN-B5")
    );
    assert!(r
        .item("CN-B5")
        .unwrap()
        .summary
        .contains("provider-key (200 days)"));
}

// ----- CN-C1, CN-D1 gateway token and host hardening --------------------------------------

#[test]
fn c1_hardening_and_weak_token() {
    let f = Fixture::new();
    assert_eq!(
        status(&f.report(), "CN-C1"),
        Status::Pass,
        "{}",
        explain(&f.report(), "CN-C1")
    );
    assert_eq!(status(&f.report(), "CN-D1"), Status::Pass);
    f.set_sysctl("kernel/kptr_restrict", "0");
    let r = f.report();
    assert_eq!(
        status(&r, "CN-C1"),
        Status::Warn,
        "{}",
        explain(&r, "CN-C1")
    );
    assert!(r
        .item("CN-C1")
        .unwrap()
        .remediation
        .iter()
        .any(|l| l == "sysctl -w kernel.kptr_restrict=1"));

    let g = Fixture::new();
    g.append_config("[gateway]\nbind = \"127.0.0.1:18789\"\nauth_token = \"changeme\"\n");
    chela_assess::baseline::record_with(&g.home, &g.org).unwrap();
    let r = g.report();
    assert_eq!(
        status(&r, "CN-D1"),
        Status::Fail,
        "{}",
        explain(&r, "CN-D1")
    );
    assert_eq!(status(&r, "CN-C1"), Status::Fail);
    assert_eq!(
        status(&r, "CN-C3"),
        Status::Pass,
        "the gateway token is judged by strength, not as a plaintext provider key"
    );
    let mut out = Vec::new();
    chela_assess::fix::apply(&g.home, &r.fixes(), &mut out).unwrap();
    let text = std::fs::read_to_string(g.config()).unwrap();
    assert!(!text.contains("changeme"));
    let r = g.report();
    assert_eq!(
        status(&r, "CN-D1"),
        Status::Pass,
        "{}",
        explain(&r, "CN-D1")
    );
    assert_eq!(
        status(&r, "CN-D7"),
        Status::Pass,
        "baseline re-recorded: {}",
        explain(&r, "CN-D7")
    );
    assert_eq!(chela_assess::util::mode_of(&g.config()), Some(0o600));

    let h = Fixture::new();
    h.append_config("[gateway]\nbind = \"127.0.0.1:18789\"\n");
    assert_eq!(status(&h.report(), "CN-D1"), Status::Warn);
}

// ----- secrets in config: CN-C3, CNCERT-M2 -------------------------------------------------

#[test]
fn plaintext_provider_key_fails_vault_reference_passes() {
    let f = Fixture::with_config(
        "[provider]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\nmodel = \"m\"\napi_key_vault = \"provider-key\"\n",
    );
    let r = with_facts(&f, as_user);
    assert_eq!(
        status(&r, "CN-C3"),
        Status::Pass,
        "{}",
        explain(&r, "CN-C3")
    );
    assert_eq!(
        status(&r, "CNCERT-M2"),
        Status::Pass,
        "{}",
        explain(&r, "CNCERT-M2")
    );
    let g = Fixture::new();
    let r = with_facts(&g, as_user);
    assert_eq!(
        status(&r, "CNCERT-M2"),
        Status::Warn,
        "key from an environment variable"
    );
    let h = Fixture::with_config(
        "[provider]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\nmodel = \"m\"\napi_key = \"sk-proj-Xz9aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f\"\n",
    );
    let r = with_facts(&h, as_user);
    assert_eq!(
        status(&r, "CN-C3"),
        Status::Fail,
        "{}",
        explain(&r, "CN-C3")
    );
    assert_eq!(status(&r, "CNCERT-M2"), Status::Fail);
    assert!(
        !serde_json::to_string(&r).unwrap().contains("Xz9aB3dE5fG7"),
        "key value leaked"
    );
}

// ----- CN-D7 baseline -----------------------------------------------------------------------

#[test]
fn d7_missing_baseline_warns_and_fix_records_it() {
    let f = Fixture::new();
    std::fs::remove_file(f.home.join("baseline.json")).unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D7"),
        Status::Warn,
        "{}",
        explain(&r, "CN-D7")
    );
    assert!(r
        .item("CN-D7")
        .unwrap()
        .fixes
        .contains(&Fix::RecordBaseline));
    let mut out = Vec::new();
    chela_assess::fix::apply(&f.home, &r.fixes(), &mut out).unwrap();
    assert_eq!(status(&f.report(), "CN-D7"), Status::Pass);
    // A new organisation policy appearing is drift too.
    std::fs::write(&f.org, "[tools]\nprofile = \"minimal\"\n").unwrap();
    let r = f.report();
    assert_eq!(status(&r, "CN-D7"), Status::Warn);
    assert!(r.item("CN-D7").unwrap().summary.contains("(new)"));
}

// ----- CN-D8 --------------------------------------------------------------------------------

#[test]
fn d8_schedule_or_recent_run() {
    let f = Fixture::new();
    assert_eq!(status(&f.report(), "CN-D8"), Status::Warn);
    std::fs::create_dir_all(f.roots.root.join("etc/cron.d")).unwrap();
    std::fs::write(
        f.roots.root.join("etc/cron.d/chela"),
        "0 8 * * 1 chela chela assess --json > /var/log/chela-assess.json\n",
    )
    .unwrap();
    let r = f.report();
    assert_eq!(
        status(&r, "CN-D8"),
        Status::Pass,
        "{}",
        explain(&r, "CN-D8")
    );
}

// ----- manual items and attestations -------------------------------------------------------

#[test]
fn attestation_turns_a_manual_item_into_a_pass_and_is_audited() {
    let f = Fixture::new();
    let r = f.report();
    for id in ["CN-B4", "CN-B6", "CN-C2"] {
        assert_eq!(status(&r, id), Status::Manual);
        assert!(
            r.item(id).unwrap().remediation[0].starts_with(&format!("chela assess attest {id}"))
        );
    }
    let e = chela_assess::attest::attest(&f.home, "CN-A2", "we never expose it").unwrap_err();
    assert!(e.to_string().contains("automatically"), "{e}");
    assert!(chela_assess::attest::attest(&f.home, "CN-B6", "ok").is_err());
    let a = chela_assess::attest::attest(
        &f.home,
        "cn-b6",
        "IR plan v2 approved 2026-10-02; tabletop drill 2026-11-15",
    )
    .unwrap();
    assert_eq!(a.id, "CN-B6");
    let r = f.report();
    assert_eq!(status(&r, "CN-B6"), Status::Pass);
    let item = r.item("CN-B6").unwrap();
    assert!(item.summary.contains("tabletop drill"));
    assert_eq!(item.attestation.as_ref().unwrap().by, a.by);
    let recs = chela_audit::read_records(
        &f.home.join("audit"),
        &chela_audit::RecordFilter {
            kind: Some("attestation".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(Some(recs[0].seq), a.audit_seq);
    assert!(matches!(
        recs[0].actor,
        Some(chela_types::Actor::Owner { .. })
    ));
    // Expired after a year.
    let p = chela_assess::attest::store_path(&f.home);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v[0]["at_unix"] = serde_json::json!(chela_assess::util::now_unix() - 400 * 86_400);
    std::fs::write(&p, v.to_string()).unwrap();
    let r = f.report();
    assert_eq!(status(&r, "CN-B6"), Status::Manual);
    assert!(r.item("CN-B6").unwrap().remediation[0].contains("older than 365 days"));
}
