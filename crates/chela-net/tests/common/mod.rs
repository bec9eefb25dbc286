//! Loopback-only test fixtures: a hand-rolled HTTP/1.1 server and an in-memory audit sink.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chela_types::{AuditSink, AuditUnavailable, Event, EventKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers: a raw HTTP response (without `Connection`/`Content-Length`).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Never answer (for timeout tests).
    pub hang: bool,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            hang: false,
        }
    }

    pub fn html(body: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
            hang: false,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
            hang: false,
        }
    }

    pub fn hang() -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            hang: true,
        }
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A loopback HTTP server that records every request.
pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Binds 127.0.0.1 on an ephemeral port and serves `handler` on the current runtime.
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    seen.lock().unwrap().push(req.clone());
                    let reply = handler(&req);
                    if reply.hang {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let mut out = format!("HTTP/1.1 {} X\r\n", reply.status);
                    for (k, v) in &reply.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str(&format!(
                        "content-length: {}\r\nconnection: close\r\n\r\n",
                        reply.body.len()
                    ));
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&reply.body);
                    let _ = sock.write_all(&bytes).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Server { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// An audit sink that keeps events in memory, or refuses them all.
#[derive(Default)]
pub struct MemAudit {
    pub events: Mutex<Vec<Event>>,
    pub broken: bool,
}

impl AuditSink for MemAudit {
    fn record(&self, event: Event) -> Result<u64, AuditUnavailable> {
        if self.broken {
            return Err(AuditUnavailable("test sink is broken".into()));
        }
        let mut e = self.events.lock().unwrap();
        e.push(event);
        Ok(e.len() as u64)
    }
}

impl MemAudit {
    /// `(host, port, method, status, bytes, allowed, reason)` of every egress event.
    #[allow(clippy::type_complexity)]
    pub fn egress(&self) -> Vec<(String, u16, String, Option<u16>, u64, bool, Option<String>)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Egress {
                    host,
                    port,
                    method,
                    status,
                    bytes,
                    allowed,
                    reason,
                    ..
                } => Some((
                    host.clone(),
                    *port,
                    method.clone(),
                    *status,
                    *bytes,
                    *allowed,
                    reason.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    /// All events as JSON text (to check that secrets never reach the log).
    pub fn json(&self) -> String {
        serde_json::to_string(&*self.events.lock().unwrap()).unwrap()
    }
}
