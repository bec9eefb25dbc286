//! The egress proxy for sandboxed processes.
//!
//! The sandbox has its own network namespace with only loopback, so nothing inside has a route
//! out. When domains are allowed, the helper opens a listening socket at `127.0.0.1:3128`
//! *inside* that namespace and passes it to this process; a thread here accepts connections on
//! it (the accepted sockets still live in the sandbox's namespace) and serves HTTP `CONNECT`
//! and plain `http://` requests, making the outbound connection from the host. Each request is
//! checked against the domain allowlist, its DNS answers are refused if any is not a public
//! address (loopback, private, link-local, cloud metadata, CGNAT, multicast, reserved), the
//! connection goes to the vetted address (no second lookup), and every connection is recorded
//! through the audit seam before it is made and after it ends (fail closed: no record, no
//! connection).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chela_types::{Actor, AuditSink, Event, EventKind};

use crate::sandbox::SandboxError;

/// Which destination addresses the proxy may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPolicy {
    /// Only globally routable unicast addresses.
    PublicOnly,
    /// Also loopback (unit tests of the forwarding path only).
    #[cfg(test)]
    AllowLoopback,
}

/// Proxy settings.
pub(crate) struct ProxyConfig {
    pub allow: Vec<String>,
    pub audit: Option<Arc<dyn AuditSink>>,
    pub session: Option<String>,
    pub policy: AddressPolicy,
}

/// A running proxy; `stop` ends the accept loop.
pub(crate) struct ProxyHandle {
    stop_w: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl ProxyHandle {
    /// Stops accepting and waits for the accept thread (open connections finish on their own).
    pub fn stop(mut self) {
        // SAFETY: writing one byte to our own pipe.
        unsafe { libc::write(self.stop_w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the accept loop on `listener` (a listening TCP socket inside the sandbox).
pub(crate) fn start(listener: OwnedFd, cfg: ProxyConfig) -> Result<ProxyHandle, SandboxError> {
    let mut p = [0i32; 2];
    // SAFETY: valid out-array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(SandboxError::Io {
            what: "creating the proxy stop pipe".into(),
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: fresh descriptors we own.
    let (stop_r, stop_w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    let cfg = Arc::new(cfg);
    let thread = std::thread::Builder::new()
        .name("chela-egress-proxy".into())
        .spawn(move || accept_loop(listener, stop_r, cfg))
        .map_err(|e| SandboxError::Io {
            what: "starting the egress proxy thread".into(),
            source: e,
        })?;
    Ok(ProxyHandle {
        stop_w,
        thread: Some(thread),
    })
}

/// Most connections served at once per sandbox (each uses two threads); more are refused.
const MAX_CONNECTIONS: usize = 64;

fn accept_loop(listener: OwnedFd, stop: OwnedFd, cfg: Arc<ProxyConfig>) {
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let mut pfds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: valid pollfd array.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if pfds[1].revents != 0 {
            return;
        }
        if pfds[0].revents == 0 {
            continue;
        }
        // SAFETY: accepting on a valid listening socket.
        let fd = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            continue;
        }
        // SAFETY: fresh descriptor we own.
        let mut client = unsafe { TcpStream::from_raw_fd(fd) };
        use std::sync::atomic::Ordering;
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            respond(
                &mut client,
                503,
                "Service Unavailable",
                "chela egress proxy: too many connections\n",
            );
            continue;
        }
        let cfg = cfg.clone();
        let active2 = active.clone();
        let spawned = std::thread::Builder::new()
            .name("chela-egress-conn".into())
            .spawn(move || {
                let _ = handle(client, &cfg);
                active2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Whether `host` matches the allowlist (`example.com` exactly; `*.example.com` subdomains).
pub fn domain_allowed(host: &str, allow: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    allow.iter().any(|entry| {
        let e = entry.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some(suffix) = e.strip_prefix("*.") {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        } else {
            !e.is_empty() && host == e
        }
    })
}

/// Whether `ip` is a globally routable unicast address (not loopback, private, link-local,
/// metadata, CGNAT, documentation, benchmarking, multicast, reserved or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(o[0] == 0
        || o[0] == 10
        || o[0] == 127
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 172 && (o[1] & 0xf0) == 16)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 192 && o[1] == 88 && o[2] == 99)
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || o[0] >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16): judge the embedded v4
    if s[0..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local
        || (s[0] & 0xfe00) == 0xfc00 // unique local (incl. fd00:ec2::254 metadata)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only
}

struct Request {
    connect: bool,
    host: String,
    port: u16,
    method: String,
    /// For plain HTTP: the head rewritten to origin form.
    head: Vec<u8>,
    /// Bytes received after the head.
    rest: Vec<u8>,
}

fn parse_head(buf: &[u8], head_len: usize) -> Result<Request, String> {
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| "request head is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or("HTTP/1.1").to_string();
    if method.is_empty() || target.is_empty() {
        return Err("malformed request line".into());
    }
    let rest = buf[head_len..].to_vec();
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_host_port(&target, 443)?;
        return Ok(Request {
            connect: true,
            host,
            port,
            method: "CONNECT".into(),
            head: Vec::new(),
            rest,
        });
    }
    let without = target
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// URLs (or CONNECT for https) can be proxied".to_string())?;
    let (authority, path) = match without.find('/') {
        Some(i) => (&without[..i], &without[i..]),
        None => (without, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = split_host_port(authority, 80)?;
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        connect: false,
        host,
        port,
        method,
        head: out.into_bytes(),
        rest,
    })
}

fn split_host_port(s: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']').ok_or("malformed IPv6 address")?;
        let host = &r[..end];
        let port = r[end + 1..].strip_prefix(':');
        (host.to_string(), port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?,
        None => default,
    };
    if host.is_empty() || port == 0 {
        return Err("missing host".into());
    }
    Ok((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

fn audit(
    cfg: &ProxyConfig,
    req: &Request,
    bytes: u64,
    allowed: bool,
    status: Option<u16>,
    reason: Option<String>,
) -> bool {
    let Some(sink) = &cfg.audit else {
        return true;
    };
    let ev = Event::new(
        cfg.session.as_deref(),
        Actor::Agent,
        EventKind::Egress {
            host: req.host.clone(),
            port: req.port,
            method: req.method.clone(),
            status,
            bytes,
            allowed,
            reason,
            duration_ms: None,
        },
    );
    sink.record(ev).is_ok()
}

fn respond(client: &mut TcpStream, code: u16, text: &str, body: &str) {
    let msg = format!(
        "HTTP/1.1 {code} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(msg.as_bytes());
}

fn handle(mut client: TcpStream, cfg: &ProxyConfig) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            respond(
                &mut client,
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
            );
            return Ok(());
        }
    };
    let req = match parse_head(&buf, head_len) {
        Ok(r) => r,
        Err(e) => {
            respond(
                &mut client,
                400,
                "Bad Request",
                &format!("chela egress proxy: {e}\n"),
            );
            return Ok(());
        }
    };
    let deny = |client: &mut TcpStream, code: u16, text: &str, reason: String| {
        let recorded = audit(cfg, &req, 0, false, Some(code), Some(reason.clone()));
        let body = if recorded {
            format!("chela egress proxy: {reason}\n")
        } else {
            "chela egress proxy: the audit log cannot be written; egress refused\n".to_string()
        };
        respond(client, code, text, &body);
    };
    if !domain_allowed(&req.host, &cfg.allow) {
        deny(
            &mut client,
            403,
            "Forbidden",
            format!("`{}` is not in the sandbox's domain allowlist", req.host),
        );
        return Ok(());
    }
    let addrs: Vec<SocketAddr> = match (req.host.as_str(), req.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            deny(
                &mut client,
                502,
                "Bad Gateway",
                format!("cannot resolve `{}`: {e}", req.host),
            );
            return Ok(());
        }
    };
    let permitted = |ip: IpAddr| match cfg.policy {
        AddressPolicy::PublicOnly => is_public(ip),
        #[cfg(test)]
        AddressPolicy::AllowLoopback => is_public(ip) || ip.is_loopback(),
    };
    if addrs.is_empty() || addrs.iter().any(|a| !permitted(a.ip())) {
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        deny(
            &mut client,
            403,
            "Forbidden",
            format!(
                "`{}` resolves to a non-public address ({}); loopback, private, link-local and metadata addresses are refused",
                req.host,
                list.join(", ")
            ),
        );
        return Ok(());
    }
    if !audit(cfg, &req, 0, true, None, None) {
        respond(
            &mut client,
            503,
            "Service Unavailable",
            "chela egress proxy: the audit log cannot be written; egress refused\n",
        );
        return Ok(());
    }
    let mut upstream = match TcpStream::connect_timeout(&addrs[0], Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => {
            audit(
                cfg,
                &req,
                0,
                true,
                Some(502),
                Some(format!("connect failed: {e}")),
            );
            respond(
                &mut client,
                502,
                "Bad Gateway",
                &format!("chela egress proxy: cannot connect: {e}\n"),
            );
            return Ok(());
        }
    };
    client.set_read_timeout(None)?;
    if req.connect {
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    } else {
        upstream.write_all(&req.head)?;
    }
    if !req.rest.is_empty() {
        upstream.write_all(&req.rest)?;
    }
    let (sent, received) = splice(client, upstream);
    let _ = sent;
    audit(cfg, &req, received, true, None, None);
    Ok(())
}

/// Copies both directions until both end; returns (client→upstream, upstream→client) bytes.
fn splice(client: TcpStream, upstream: TcpStream) -> (u64, u64) {
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return (0, 0);
    };
    let up = std::thread::spawn(move || {
        let mut c = client;
        let mut u = upstream;
        let n = io::copy(&mut c, &mut u).unwrap_or(0);
        let _ = u.shutdown(Shutdown::Write);
        n
    });
    let down = io::copy(&mut u2, &mut c2).unwrap_or(0);
    let _ = c2.shutdown(Shutdown::Write);
    let sent = up.join().unwrap_or(0);
    (sent, down)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Mutex;

    #[test]
    fn allowlist_matching() {
        let allow = vec!["example.com".to_string(), "*.github.com".to_string()];
        assert!(domain_allowed("example.com", &allow));
        assert!(domain_allowed("EXAMPLE.com.", &allow));
        assert!(!domain_allowed("www.example.com", &allow));
        assert!(!domain_allowed("evilexample.com", &allow));
        assert!(domain_allowed("api.github.com", &allow));
        assert!(domain_allowed("a.b.github.com", &allow));
        assert!(!domain_allowed("github.com", &allow));
        assert!(!domain_allowed("evilgithub.com", &allow));
        assert!(!domain_allowed("", &allow));
    }

    #[test]
    fn address_classes() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a} should be refused");
        }
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(a.parse().unwrap()), "{a} should be allowed");
        }
    }

    #[test]
    fn parses_connect_and_http() {
        let b = b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com\r\n\r\nextra";
        let r = parse_head(b, b.len() - 5).unwrap();
        assert!(r.connect);
        assert_eq!((r.host.as_str(), r.port), ("api.github.com", 443));
        assert_eq!(r.rest, b"extra");
        let b = b"GET http://Example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: x\r\nConnection: keep-alive\r\n\r\n";
        let r = parse_head(b, b.len()).unwrap();
        assert!(!r.connect);
        assert_eq!((r.host.as_str(), r.port), ("example.com", 8080));
        let head = String::from_utf8(r.head).unwrap();
        assert!(head.starts_with("GET /a?b HTTP/1.1\r\n"));
        assert!(!head.to_ascii_lowercase().contains("proxy-authorization"));
        assert!(head.contains("Connection: close"));
        assert!(parse_head(b"GET ftp://x/ HTTP/1.1\r\n\r\n", 24).is_err());
    }

    struct Sink(Mutex<Vec<Event>>, bool);
    impl AuditSink for Sink {
        fn record(&self, event: Event) -> Result<u64, chela_types::AuditUnavailable> {
            if !self.1 {
                return Err(chela_types::AuditUnavailable("disk full".into()));
            }
            let mut v = self.0.lock().unwrap();
            v.push(event);
            Ok(v.len() as u64)
        }
    }

    fn run_proxy(
        allow: &[&str],
        sink: Arc<Sink>,
        policy: AddressPolicy,
    ) -> (SocketAddr, ProxyHandle) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let fd: OwnedFd = l.into();
        let h = start(
            fd,
            ProxyConfig {
                allow: allow.iter().map(|s| s.to_string()).collect(),
                audit: Some(sink),
                session: Some("s".into()),
                policy,
            },
        )
        .unwrap();
        (addr, h)
    }

    fn ask(proxy: SocketAddr, req: &str) -> String {
        let mut s = TcpStream::connect(proxy).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn forwards_allowed_and_audits_both_ends() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = upstream.local_addr().unwrap().port();
        let srv = std::thread::spawn(move || {
            let (mut s, _) = upstream.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            got
        });
        let sink = Arc::new(Sink(Mutex::new(Vec::new()), true));
        let (p, h) = run_proxy(&["localhost"], sink.clone(), AddressPolicy::AllowLoopback);
        let out = ask(
            p,
            &format!("GET http://localhost:{port}/x HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        );
        assert!(out.ends_with("hello"), "{out}");
        let got = srv.join().unwrap();
        assert!(got.starts_with("GET /x HTTP/1.1\r\n"), "{got}");
        h.stop();
        // the closing record is written when the connection thread finishes splicing
        let t0 = std::time::Instant::now();
        while sink.0.lock().unwrap().len() < 2 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let ev = sink.0.lock().unwrap();
        assert_eq!(ev.len(), 2);
        match &ev[1].kind {
            EventKind::Egress {
                allowed,
                bytes,
                host,
                ..
            } => {
                assert!(*allowed);
                assert!(*bytes > 0);
                assert_eq!(host, "localhost");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_unlisted_and_private_and_audits() {
        let sink = Arc::new(Sink(Mutex::new(Vec::new()), true));
        let (p, h) = run_proxy(&["localhost"], sink.clone(), AddressPolicy::PublicOnly);
        let out = ask(p, "CONNECT evil.example:443 HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 403"), "{out}");
        assert!(out.contains("allowlist"));
        let out = ask(p, "CONNECT localhost:443 HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 403"), "{out}");
        assert!(out.contains("non-public"), "{out}");
        h.stop();
        let ev = sink.0.lock().unwrap();
        assert_eq!(ev.len(), 2);
        assert!(ev
            .iter()
            .all(|e| matches!(e.kind, EventKind::Egress { allowed: false, .. })));
    }

    #[test]
    fn refuses_when_audit_fails() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = upstream.local_addr().unwrap().port();
        upstream.set_nonblocking(true).unwrap();
        let sink = Arc::new(Sink(Mutex::new(Vec::new()), false));
        let (p, h) = run_proxy(&["localhost"], sink, AddressPolicy::AllowLoopback);
        let out = ask(p, &format!("CONNECT localhost:{port} HTTP/1.1\r\n\r\n"));
        assert!(out.starts_with("HTTP/1.1 503"), "{out}");
        assert!(
            upstream.accept().is_err(),
            "no connection may be made without an audit record"
        );
        h.stop();
    }
}
