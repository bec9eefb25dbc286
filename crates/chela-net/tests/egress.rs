//! chela-net against loopback servers: SSRF matrix, allowlist, redirects, credential binding,
//! leak scan, caps and audit. No test reaches beyond loopback: refused destinations are refused
//! before any connection is attempted.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chela_net::{Credential, Method, NetClient, NetConfig, NetError, Request, SecretBindings};
use common::{MemAudit, Reply, Server};

const T: Duration = Duration::from_secs(5);

fn table(entries: &[(&str, &[&str])]) -> HashMap<String, Vec<IpAddr>> {
    entries
        .iter()
        .map(|(n, ips)| {
            (
                n.to_string(),
                ips.iter().map(|i| i.parse().unwrap()).collect(),
            )
        })
        .collect()
}

fn client(cfg: NetConfig) -> (NetClient, Arc<MemAudit>) {
    let audit = Arc::new(MemAudit::default());
    (NetClient::new(cfg, audit.clone()).unwrap(), audit)
}

fn assert_refused(r: Result<chela_net::Response, NetError>, needle: &str) -> String {
    match r {
        Err(e @ NetError::Refused { .. }) => {
            assert!(!e.is_retryable(), "a refusal must not be retried");
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
            msg
        }
        Err(e) => panic!("expected a refusal mentioning {needle:?}, got error {e}"),
        Ok(r) => panic!(
            "expected a refusal mentioning {needle:?}, got status {}",
            r.status
        ),
    }
}

#[tokio::test]
async fn ssrf_matrix_is_refused_even_with_allow_any() {
    let victim = Server::start(|_| Reply::ok("internal secret")).await;
    let p = victim.port;
    let cfg = NetConfig {
        allow_hosts: vec!["*".into()],
        test_resolver: Some(table(&[
            ("intranet.test", &["10.0.0.7"]),
            ("rebind.test", &["127.0.0.1"]),
            ("mixed.test", &["93.184.215.14", "127.0.0.1"]),
            ("metadata.test", &["169.254.169.254"]),
            ("mapped.test", &["::ffff:127.0.0.1"]),
            ("cgnat.test", &["100.100.100.200"]),
        ])),
        ..Default::default()
    };
    let (net, audit) = client(cfg);
    let cases: Vec<(String, &str)> = vec![
        (format!("http://127.0.0.1:{p}/"), "loopback"),
        (format!("http://0x7f000001:{p}/"), "loopback"),
        (format!("http://2130706433:{p}/"), "loopback"),
        (format!("http://0177.0.0.1:{p}/"), "loopback"),
        (format!("http://127.1:{p}/"), "loopback"),
        (format!("http://[::1]:{p}/"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{p}/"), "IPv4-mapped"),
        (format!("http://[::ffff:7f00:1]:{p}/"), "IPv4-mapped"),
        (format!("http://0.0.0.0:{p}/"), "unspecified"),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "metadata",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".into(),
            "unique-local",
        ),
        ("http://100.100.100.200/".into(), "carrier-grade NAT"),
        ("http://10.1.2.3/".into(), "private"),
        ("http://192.168.1.1/".into(), "private"),
        ("http://intranet.test/".into(), "10.0.0.7"),
        (format!("http://rebind.test:{p}/"), "127.0.0.1"),
        (format!("http://mixed.test:{p}/"), "127.0.0.1"),
        ("http://metadata.test/".into(), "169.254.169.254"),
        (format!("http://mapped.test:{p}/"), "127.0.0.1"),
        ("http://cgnat.test/".into(), "100.100.100.200"),
    ];
    for (url, why) in &cases {
        let r = net.send(Request::get(url.clone(), T)).await;
        assert_refused(r, why);
    }
    assert!(
        victim.requests().is_empty(),
        "the loopback victim was reached"
    );
    let refused = audit.egress().iter().filter(|e| !e.5).count();
    assert_eq!(refused, cases.len(), "every refusal is audited");
    assert!(
        audit
            .egress()
            .iter()
            .filter(|e| !e.5)
            .all(|e| e.6.is_some()),
        "refusals carry a reason"
    );
}

#[tokio::test]
async fn allowlist_admits_only_listed_hosts() {
    let server = Server::start(|_| Reply::ok("hello")).await;
    let p = server.port;
    let cfg = NetConfig {
        allow_hosts: vec![format!("docs.local.test:{p}"), format!("*.svc.test:{p}")],
        allow_addrs: vec!["127.0.0.1".into()],
        test_resolver: Some(table(&[
            ("docs.local.test", &["127.0.0.1"]),
            ("a.svc.test", &["127.0.0.1"]),
            ("a.b.svc.test", &["127.0.0.1"]),
            ("svc.test", &["127.0.0.1"]),
            ("other.test", &["127.0.0.1"]),
        ])),
        ..Default::default()
    };
    let (net, audit) = client(cfg);
    for ok in [
        format!("http://docs.local.test:{p}/a"),
        format!("http://DOCS.local.test.:{p}/b"),
        format!("http://a.svc.test:{p}/c"),
    ] {
        let r = net.send(Request::get(ok.clone(), T)).await.unwrap();
        assert_eq!(r.status, 200, "{ok}");
        assert_eq!(r.bytes(T).await.unwrap(), b"hello");
    }
    for bad in [
        format!("http://a.b.svc.test:{p}/"),
        format!("http://svc.test:{p}/"),
        format!("http://other.test:{p}/"),
        "http://docs.local.test:1/".to_string(),
        format!("http://127.0.0.1:{p}/"),
    ] {
        assert_refused(net.send(Request::get(bad, T)).await, "allowlist");
    }
    assert_eq!(server.requests().len(), 3);
    // Each allowed request: one record before sending, one with status and bytes after.
    let ok: Vec<_> = audit.egress().into_iter().filter(|e| e.5).collect();
    assert_eq!(ok.len(), 6);
    assert!(ok.iter().any(|e| e.0 == "docs.local.test"
        && e.1 == p
        && e.2 == "GET"
        && e.3 == Some(200)
        && e.4 == 5));
}

#[tokio::test]
async fn default_config_admits_nothing() {
    let server = Server::start(|_| Reply::ok("x")).await;
    let (net, _) = client(NetConfig::default());
    assert_refused(
        net.send(Request::get(server.url("/"), T)).await,
        "allowlist",
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn explicit_literal_and_trusted_endpoint_are_reachable() {
    let server = Server::start(|_| Reply::ok("local model")).await;
    let (net, _) = client(NetConfig {
        allow_hosts: vec![format!("127.0.0.1:{}", server.port)],
        ..Default::default()
    });
    assert_eq!(
        net.send(Request::get(server.url("/"), T))
            .await
            .unwrap()
            .status,
        200
    );

    let cfg = NetConfig::for_endpoint(&server.url("/v1")).unwrap();
    let (net, _) = client(cfg);
    let r = net
        .send(Request::post_json(
            server.url("/v1/chat"),
            b"{}".to_vec(),
            T,
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.requests()[1].method, "POST");
    // A trusted endpoint is one port, not the whole host.
    assert_refused(
        net.send(Request::get(
            format!("http://127.0.0.1:{}/", server.port.wrapping_add(1)),
            T,
        ))
        .await,
        "allowlist",
    );
}

#[tokio::test]
async fn redirect_hops_are_rechecked() {
    let inner = Server::start(|_| Reply::ok("should never be reached")).await;
    let ip = inner.port;
    let front = Server::start(move |s| match s.path.as_str() {
        "/to-private" => Reply::redirect(302, "http://10.0.0.9/admin"),
        "/to-metadata" => Reply::redirect(302, "http://169.254.169.254/latest/meta-data/"),
        "/to-loopback" => Reply::redirect(307, &format!("http://127.0.0.1:{ip}/")),
        "/to-rebind" => Reply::redirect(301, &format!("http://rebind.test:{ip}/")),
        "/to-file" => Reply::redirect(302, "file:///etc/passwd"),
        "/loop" => Reply::redirect(302, "/loop"),
        "/hop" => Reply::redirect(302, "/final"),
        _ => Reply::ok("final"),
    })
    .await;
    let mut cfg = NetConfig {
        allow_hosts: vec!["*".into()],
        test_resolver: Some(table(&[("rebind.test", &["127.0.0.1"])])),
        ..Default::default()
    };
    cfg.trust_url(&front.url("/")).unwrap();
    let (net, audit) = client(cfg);
    assert_refused(
        net.send(Request::get(front.url("/to-private"), T)).await,
        "10.0.0.9",
    );
    assert_refused(
        net.send(Request::get(front.url("/to-metadata"), T)).await,
        "169.254.169.254",
    );
    assert_refused(
        net.send(Request::get(front.url("/to-loopback"), T)).await,
        "loopback",
    );
    assert_refused(
        net.send(Request::get(front.url("/to-rebind"), T)).await,
        "127.0.0.1",
    );
    assert_refused(
        net.send(Request::get(front.url("/loop"), T)).await,
        "more than 5 redirects",
    );
    match net.send(Request::get(front.url("/to-file"), T)).await {
        Err(NetError::InvalidUrl { reason, .. }) => assert!(reason.contains("http")),
        other => panic!("file: redirect must be refused, got {other:?}"),
    }
    assert!(
        inner.requests().is_empty(),
        "a redirect reached a refused address"
    );

    let r = net.send(Request::get(front.url("/hop"), T)).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.final_url().ends_with("/final"));
    assert_eq!(r.bytes(T).await.unwrap(), b"final");
    // Every hop is audited with its status.
    let statuses: Vec<_> = audit.egress().iter().filter_map(|e| e.3).collect();
    assert!(statuses.contains(&302) && statuses.contains(&200));
}

#[tokio::test]
async fn post_then_303_becomes_get_without_body() {
    let server = Server::start(|s| match s.path.as_str() {
        "/submit" => Reply::redirect(303, "/done"),
        _ => Reply::ok("done"),
    })
    .await;
    let (net, _) = client(NetConfig::for_endpoint(&server.url("/")).unwrap());
    let r = net
        .send(Request::post_json(
            server.url("/submit"),
            b"{\"a\":1}".to_vec(),
            T,
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let seen = server.requests();
    assert_eq!(seen[1].method, "GET");
    assert!(seen[1].body.is_empty());
}

fn cred(host: &str, value: &str) -> Credential {
    Credential {
        host: host.into(),
        header: "authorization".into(),
        value: format!("Bearer {value}"),
    }
}

#[tokio::test]
async fn credential_reaches_only_its_host() {
    let other = Server::start(|_| Reply::ok("other")).await;
    let op = other.port;
    let bounce_port = Arc::new(AtomicU16::new(0));
    let bp = bounce_port.clone();
    let provider = Server::start(move |s| match s.path.as_str() {
        "/away" => Reply::redirect(307, &format!("http://localhost:{op}/steal")),
        "/away-and-back" => Reply::redirect(
            302,
            &format!("http://localhost:{}/", bp.load(Ordering::SeqCst)),
        ),
        _ => Reply::ok("{}"),
    })
    .await;
    let pp = provider.port;
    let bounce =
        Server::start(move |_| Reply::redirect(302, &format!("http://127.0.0.1:{pp}/home"))).await;
    bounce_port.store(bounce.port, Ordering::SeqCst);
    let mut cfg = NetConfig {
        test_resolver: Some(table(&[("localhost", &["127.0.0.1"])])),
        ..Default::default()
    };
    cfg.trust_url(&provider.url("/v1")).unwrap();
    cfg.trust_url(&format!("http://localhost:{op}/")).unwrap();
    cfg.trust_url(&format!("http://localhost:{}/", bounce.port))
        .unwrap();
    let (net, audit) = client(cfg);
    let key = "sk-test-VAULTKEY-0123456789";

    // To its own host: sent, as its header.
    let req = Request::post_json(provider.url("/v1/chat"), b"{}".to_vec(), T)
        .with_credential(cred("127.0.0.1", key));
    assert_eq!(net.send(req).await.unwrap().status, 200);
    assert_eq!(
        provider.requests()[0].header("authorization"),
        Some(format!("Bearer {key}").as_str())
    );

    // Bound elsewhere: refused before connecting.
    let req =
        Request::get(format!("http://localhost:{op}/"), T).with_credential(cred("127.0.0.1", key));
    assert_refused(net.send(req).await, "bound to host 127.0.0.1");
    assert!(other.requests().is_empty());

    // Cross-host redirect: followed, but the credential stays behind.
    let req = Request::post_json(provider.url("/away"), b"{}".to_vec(), T)
        .with_credential(cred("127.0.0.1", key));
    assert_eq!(net.send(req).await.unwrap().status, 200);
    let seen = other.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/steal");
    assert!(
        seen[0].header("authorization").is_none(),
        "credential crossed hosts"
    );
    assert_eq!(seen[0].method, "POST", "307 keeps the method");

    // Away and back again: once dropped it is not re-attached.
    let req =
        Request::get(provider.url("/away-and-back"), T).with_credential(cred("127.0.0.1", key));
    assert_eq!(net.send(req).await.unwrap().status, 200);
    let all = provider.requests();
    let first_hop = all.iter().find(|s| s.path == "/away-and-back").unwrap();
    assert!(first_hop.header("authorization").is_some());
    let home = all.iter().find(|s| s.path == "/home").unwrap();
    assert!(
        home.header("authorization").is_none(),
        "credential re-attached after a bounce"
    );
    assert!(bounce.requests()[0].header("authorization").is_none());

    // The key never reaches the audit log.
    assert!(!audit.json().contains(key));
    assert!(!format!("{:?}", cred("x", key)).contains(key));
}

#[tokio::test]
async fn credential_misuse_is_refused() {
    let server = Server::start(|_| Reply::ok("x")).await;
    let cfg = NetConfig {
        allow_hosts: vec!["api.remote.test".into()],
        test_resolver: Some(table(&[("api.remote.test", &["93.184.215.14"])])),
        ..NetConfig::for_endpoint(&server.url("/")).unwrap()
    };
    let (net, _) = client(cfg);
    let key = "sk-test-URLKEY-0123456789";
    // In the URL (it would land in server logs).
    let req = Request::get(server.url(&format!("/v1?key={key}")), T)
        .with_credential(cred("127.0.0.1", key));
    assert_refused(net.send(req).await, "URL carries the credential");
    // Over plain http to a public name.
    let req =
        Request::get("http://api.remote.test/v1", T).with_credential(cred("api.remote.test", key));
    assert_refused(net.send(req).await, "plain http");
    // The same header set twice.
    let mut req = Request::get(server.url("/"), T).with_credential(cred("127.0.0.1", key));
    req.headers
        .push(("Authorization".into(), "Bearer other".into()));
    assert_refused(net.send(req).await, "set both");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn leak_scan_refuses_bound_secret_to_other_host() {
    let a = Server::start(|_| Reply::ok("a")).await;
    let b = Server::start(|_| Reply::ok("b")).await;
    let bindings = Arc::new(SecretBindings::new());
    bindings.bind("provider key", "sk-test-LEAK-0123456789", "a.test");
    let cfg = NetConfig {
        allow_hosts: vec![format!("a.test:{}", a.port), format!("b.test:{}", b.port)],
        allow_addrs: vec!["127.0.0.0/8".into()],
        outbound_check: Some(bindings),
        test_resolver: Some(table(&[
            ("a.test", &["127.0.0.1"]),
            ("b.test", &["127.0.0.1"]),
        ])),
        ..Default::default()
    };
    let (net, audit) = client(cfg);
    let body = b"{\"note\":\"sk-test-LEAK-0123456789\"}".to_vec();
    let to_a = Request::post_json(format!("http://a.test:{}/", a.port), body.clone(), T);
    assert_eq!(net.send(to_a).await.unwrap().status, 200);
    let to_b = Request::post_json(format!("http://b.test:{}/", b.port), body, T);
    let msg = assert_refused(net.send(to_b).await, "leak scan");
    assert!(msg.contains("provider key") && !msg.contains("sk-test-LEAK"));
    assert!(b.requests().is_empty());
    assert!(!audit.json().contains("sk-test-LEAK"));
}

#[tokio::test]
async fn size_cap_and_timeouts() {
    let server = Server::start(|s| match s.path.as_str() {
        "/big" => Reply::ok(&"x".repeat(10_000)),
        "/hang" => Reply::hang(),
        _ => Reply::ok("small"),
    })
    .await;
    let cfg = NetConfig {
        max_body: 1000,
        ..NetConfig::for_endpoint(&server.url("/")).unwrap()
    };
    let (net, audit) = client(cfg);
    let r = net.send(Request::get(server.url("/big"), T)).await.unwrap();
    match r.bytes(T).await {
        Err(NetError::TooLarge { limit, .. }) => assert_eq!(limit, 1000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let r = net
        .send(Request::get(
            server.url("/hang"),
            Duration::from_millis(300),
        ))
        .await;
    match r {
        Err(e @ NetError::Timeout { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(audit
        .egress()
        .iter()
        .any(|e| e.6.as_deref().is_some_and(|r| r.contains("cap"))));
}

#[tokio::test]
async fn broken_audit_log_means_no_request() {
    let server = Server::start(|_| Reply::ok("x")).await;
    let audit = Arc::new(MemAudit {
        broken: true,
        ..Default::default()
    });
    let net = NetClient::new(NetConfig::for_endpoint(&server.url("/")).unwrap(), audit).unwrap();
    match net.send(Request::get(server.url("/"), T)).await {
        Err(NetError::Audit(_)) => {}
        other => panic!("expected an audit error, got {other:?}"),
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn bad_configuration_is_reported() {
    for (hosts, trusted, addrs) in [
        (vec!["*.com"], vec![], vec![]),
        (vec!["https://x.test"], vec![], vec![]),
        (vec![], vec!["localhost"], vec![]),
        (vec![], vec![], vec!["10.0.0.0/40"]),
    ] {
        let cfg = NetConfig {
            allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            trusted_endpoints: trusted.iter().map(|s| s.to_string()).collect(),
            allow_addrs: addrs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        match NetClient::new(cfg, Arc::new(MemAudit::default())) {
            Err(NetError::Config { .. }) => {}
            other => panic!(
                "expected a configuration error, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let (net, _) = client(NetConfig {
        allow_hosts: vec!["*".into()],
        ..Default::default()
    });
    for bad in ["ftp://x.test/", "not a url", "http://user:pw@x.test/"] {
        assert!(matches!(
            net.send(Request::get(bad, T)).await,
            Err(NetError::InvalidUrl { .. })
        ));
    }
    let _ = Method::Get;
}

#[test]
fn works_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::start(|_| Reply::ok("ct")).await;
        let (net, _) = client(NetConfig::for_endpoint(&server.url("/")).unwrap());
        let r = net.send(Request::get(server.url("/"), T)).await.unwrap();
        assert_eq!(r.bytes(T).await.unwrap(), b"ct");
    });
}

#[tokio::test]
async fn system_resolver_answer_is_checked_too() {
    let victim = Server::start(|_| Reply::ok("internal")).await;
    let (net, _) = client(NetConfig {
        allow_hosts: vec!["*".into()],
        ..Default::default()
    });
    let r = net
        .send(Request::get(
            format!("http://localhost:{}/", victim.port),
            T,
        ))
        .await;
    assert_refused(r, "loopback");
    assert!(victim.requests().is_empty());
}
