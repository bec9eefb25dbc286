//! chela-net costs: a full checked request over loopback (policy, leak scan, two audit records,
//! HTTP/1.1 round trip), the address classifier, and HTML-to-text for a 100 KB and a 4 MB page.

use std::sync::Arc;
use std::time::Duration;

use chela_net::{addr, html_to_text, NetClient, NetConfig, Request, SecretBindings};
use chela_types::{AuditSink, AuditUnavailable, Event};
use criterion::{criterion_group, criterion_main, Criterion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct NullAudit;
impl AuditSink for NullAudit {
    fn record(&self, _e: Event) -> Result<u64, AuditUnavailable> {
        Ok(0)
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let port = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut have = Vec::new();
                    loop {
                        let Ok(n) = s.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        have.extend_from_slice(&buf[..n]);
                        while let Some(p) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                            have.drain(..p + 4);
                            let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if s.write_all(resp).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        port
    });
    let bindings = Arc::new(SecretBindings::new());
    bindings.bind("k", "sk-bench-0123456789abcdef", "api.example.com");
    let cfg = NetConfig {
        allow_hosts: vec![format!("127.0.0.1:{port}")],
        outbound_check: Some(bindings),
        ..Default::default()
    };
    let net = NetClient::new(cfg, Arc::new(NullAudit)).expect("client");
    let url = format!("http://127.0.0.1:{port}/v1");
    let mut g = c.benchmark_group("net");
    g.bench_function("checked_get_loopback_keepalive", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = net
                    .send(Request::get(url.clone(), Duration::from_secs(5)))
                    .await
                    .expect("send");
                r.bytes(Duration::from_secs(5)).await.expect("body")
            })
        })
    });
    let ips: Vec<std::net::IpAddr> = [
        "8.8.8.8",
        "10.1.2.3",
        "169.254.169.254",
        "2606:4700::1111",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
    ]
    .iter()
    .map(|s| s.parse().expect("ip"))
    .collect();
    g.bench_function("classify_6_addresses", |b| {
        b.iter(|| {
            ips.iter()
                .filter(|ip| addr::special_reason(**ip).is_some())
                .count()
        })
    });
    let mut page =
        String::from("<html><head><title>t</title><style>.h{display:none}</style></head><body>");
    while page.len() < 100_000 {
        page.push_str("<p>Some <a href=\"/x\">linked</a> text with <b>bold</b> words.</p><div hidden>secret</div>\n");
    }
    page.push_str("</body></html>");
    g.bench_function("html_to_text_100KB", |b| b.iter(|| html_to_text(&page)));
    // The largest page web_fetch reads (FETCH_MAX_BYTES): mixed blocks, lists, tables and
    // page CSS rules to match.
    let mut big = String::from(
        "<html><head><title>t</title><style>.h{display:none} .nav .ad{opacity:0} \
         div > .x{visibility:hidden} @media (max-width:1px){ .m{display:none} }</style></head><body>",
    );
    while big.len() < 4 * 1024 * 1024 {
        big.push_str(
            "<div class=nav><h2>Section &amp; title</h2><p>Some <a href=\"/x\">linked</a> text \
             with <b>bold</b> words&nbsp;and &#x41;.</p><ul><li>one<li>two <i class=ad>ad</i></ul>\
             <table><tr><td>a<td>b</tr></table><div hidden>secret</div><span class=m>m</span>\
             <!-- comment --><script>var s = '<p>';</script></div>\n",
        );
    }
    big.push_str("</body></html>");
    g.sample_size(10);
    g.bench_function("html_to_text_4MB", |b| b.iter(|| html_to_text(&big)));
    g.finish();
}

criterion_group!(net, benches);
criterion_main!(net);
