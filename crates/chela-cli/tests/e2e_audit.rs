//! End-to-end (issue 5): a real session's audit log verifies; tampering is detected and named;
//! an unwritable log stops Chela before any effect; export reaches a syslog listener.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use chela_testkit::{Protocol, Reply};
use common::{stderr, stdout, Setup};

fn session(s: &Setup) {
    let out = s.run(&["run", "--session", "a1", "list the workspace"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn segments(s: &Setup) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(s.home.chela_home().join("audit"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "log" || e == "jsonl")
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("segment"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_real_session_verifies_and_a_tampered_copy_does_not() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::tool_call("list", "{}"), Reply::text("empty")],
    );
    session(&s);
    let ok = s.run(&["audit", "verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("OK"), "{}", stdout(&ok));
    let key = s.run(&["audit", "pubkey"]);
    assert!(!stdout(&key).trim().is_empty());

    let segs = segments(&s);
    assert!(!segs.is_empty(), "no segment files found");
    let seg = &segs[0];
    let text = std::fs::read_to_string(seg).unwrap();
    let tampered = text.replacen("\"tool\":\"list\"", "\"tool\":\"exec\"", 1);
    assert_ne!(text, tampered, "fixture did not contain a tool record");
    std::fs::write(seg, tampered).unwrap();
    let bad = s.run(&["audit", "verify"]);
    assert_ne!(bad.status.code(), Some(0));
    let report = stdout(&bad) + &stderr(&bad);
    assert!(
        report.contains("DAMAGED") && report.contains("modified"),
        "{report}"
    );
}

#[test]
fn show_filters_by_session_and_kind() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::tool_call("list", "{}"), Reply::text("empty")],
    );
    session(&s);
    let out = s.run(&[
        "audit",
        "show",
        "--session",
        "a1",
        "--kind",
        "tool_finished",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("tool_finished") && !table.contains("model_request"),
        "{table}"
    );
}

#[test]
fn unwritable_audit_log_refuses_to_act() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("write", r#"{"path":"x","content":"y"}"#),
            Reply::text("done"),
        ],
    );
    session_dir_readonly(&s);
    let out = s.run(&["run", "write a file"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("audit"), "{}", stderr(&out));
    assert!(
        s.server.model_requests().is_empty(),
        "nothing may happen without an audit record"
    );
    assert!(!s.workspace().join("x").exists());
}

fn session_dir_readonly(s: &Setup) {
    let dir = s.home.chela_home().join("audit");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
}

#[test]
fn export_reaches_a_syslog_listener() {
    let s = Setup::new(Protocol::OpenAi, vec![Reply::text("hi")]);
    session(&s);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let to = format!("udp://{}", sock.local_addr().unwrap());
    let out = s.run(&["audit", "export", "--format", "syslog", "--to", &to]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut buf = [0u8; 65536];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(
        msg.starts_with('<') && msg.contains(">1 "),
        "RFC 5424 header: {msg}"
    );
}
