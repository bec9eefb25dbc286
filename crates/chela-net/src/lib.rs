//! Chela's one outbound HTTP client.
//!
//! Every HTTP request Chela makes (model providers, `web_fetch`, later MCP) goes through
//! [`NetClient`]: this crate alone depends on an HTTP client library (the architecture test
//! enforces it). Requests are audited (host, method, status, bytes, duration), credentials are
//! attached here at the boundary and only to the host they are bound to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chela_types::{Actor, AuditSink, Event, EventKind};

/// Errors from [`NetClient`]. `is_retryable` tells callers which are worth another try.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL could not be parsed or uses an unsupported scheme.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Policy refused the destination (allowlist, SSRF guard, credential binding).
    #[error("request to {host} refused: {reason}")]
    Refused {
        /// Destination host.
        host: String,
        /// Why.
        reason: String,
    },
    /// Could not connect (DNS failure, connection refused or reset).
    #[error("could not connect to {host}: {detail}")]
    Connect {
        /// Destination host.
        host: String,
        /// Details from the transport.
        detail: String,
    },
    /// The request or the body did not complete in time.
    #[error("request to {host} timed out after {after:?}")]
    Timeout {
        /// Destination host.
        host: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The response body exceeded the size cap.
    #[error("response from {host} exceeded the {limit}-byte cap")]
    TooLarge {
        /// Destination host.
        host: String,
        /// The cap.
        limit: usize,
    },
    /// The audit log cannot record the request, so it was not sent.
    #[error(transparent)]
    Audit(#[from] chela_types::AuditUnavailable),
    /// Any other transport error.
    #[error("HTTP error talking to {host}: {detail}")]
    Other {
        /// Destination host.
        host: String,
        /// Details.
        detail: String,
    },
}

impl NetError {
    /// True for transient failures (connection problems and timeouts) that a retry may cure.
    pub fn is_retryable(&self) -> bool {
        matches!(self, NetError::Connect { .. } | NetError::Timeout { .. })
    }
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A credential to attach at the boundary: sent only to `host`, only as `header`.
#[derive(Clone)]
pub struct Credential {
    /// The only host this credential may be sent to.
    pub host: String,
    /// Header name (e.g. `authorization`, `x-api-key`).
    pub header: String,
    /// Full header value (e.g. `Bearer sk-…`). Never logged.
    pub value: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("host", &self.host)
            .field("header", &self.header)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// One outbound request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute http(s) URL.
    pub url: String,
    /// Extra headers (never credentials: use `credential`).
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Overall timeout for receiving the response headers.
    pub timeout: Duration,
    /// Credential to attach, bound to its host.
    pub credential: Option<Credential>,
}

impl Request {
    /// A POST with a JSON body.
    pub fn post_json(url: impl Into<String>, body: Vec<u8>, timeout: Duration) -> Self {
        Request {
            method: Method::Post,
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body),
            timeout,
            credential: None,
        }
    }
}

/// A response whose body is read incrementally (for SSE streams) or whole.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    host: String,
    inner: reqwest::Response,
    read: usize,
    cap: usize,
}

impl Response {
    /// A response header value, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The next chunk of the body, `None` at the end. `idle` bounds the wait for each chunk.
    pub async fn chunk(&mut self, idle: Duration) -> Result<Option<Vec<u8>>, NetError> {
        let next = tokio::time::timeout(idle, self.inner.chunk())
            .await
            .map_err(|_| NetError::Timeout {
                host: self.host.clone(),
                after: idle,
            })?;
        match next {
            Ok(Some(bytes)) => {
                self.read += bytes.len();
                if self.read > self.cap {
                    return Err(NetError::TooLarge {
                        host: self.host.clone(),
                        limit: self.cap,
                    });
                }
                Ok(Some(bytes.to_vec()))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(map_err(&self.host, e, idle)),
        }
    }

    /// Reads the whole body (bounded by the client's size cap).
    pub async fn bytes(mut self, idle: Duration) -> Result<Vec<u8>, NetError> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk(idle).await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }
}

/// Settings for [`NetClient`].
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Maximum response body size, bytes.
    pub max_body: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            connect_timeout: Duration::from_secs(10),
            max_body: 32 * 1024 * 1024,
        }
    }
}

/// The one outbound HTTP client.
pub struct NetClient {
    client: reqwest::Client,
    cfg: NetConfig,
    audit: Arc<dyn AuditSink>,
    session: Option<String>,
}

impl NetClient {
    /// Builds a client that audits every request to `audit`.
    pub fn new(cfg: NetConfig, audit: Arc<dyn AuditSink>) -> Result<NetClient, NetError> {
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("chela/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NetError::Other {
                host: String::new(),
                detail: e.to_string(),
            })?;
        Ok(NetClient {
            client,
            cfg,
            audit,
            session: None,
        })
    }

    /// Attributes audited requests to `session`.
    pub fn set_session(&mut self, session: Option<String>) {
        self.session = session;
    }

    /// Sends a request and returns once response headers arrive.
    pub async fn send(&self, req: Request) -> Result<Response, NetError> {
        let url = url::Url::parse(&req.url).map_err(|e| NetError::InvalidUrl {
            url: req.url.clone(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(NetError::InvalidUrl {
                url: req.url.clone(),
                reason: "only http and https are supported".into(),
            });
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(0);
        let mut builder = match req.method {
            Method::Get => self.client.get(url.clone()),
            Method::Post => self.client.post(url.clone()),
        };
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if let Some(cred) = &req.credential {
            if !cred.host.eq_ignore_ascii_case(&host) {
                let reason = format!("credential is bound to host {}", cred.host);
                self.egress(
                    &host,
                    port,
                    req.method,
                    None,
                    0,
                    false,
                    Some(reason.clone()),
                )?;
                return Err(NetError::Refused { host, reason });
            }
            builder = builder.header(&cred.header, &cred.value);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let started = Instant::now();
        let result = tokio::time::timeout(req.timeout, builder.send()).await;
        let resp = match result {
            Err(_) => Err(NetError::Timeout {
                host: host.clone(),
                after: req.timeout,
            }),
            Ok(Err(e)) => Err(map_err(&host, e, req.timeout)),
            Ok(Ok(r)) => Ok(r),
        };
        let _ = started;
        match resp {
            Ok(inner) => {
                let status = inner.status().as_u16();
                self.egress(&host, port, req.method, Some(status), 0, true, None)?;
                Ok(Response {
                    status,
                    host,
                    inner,
                    read: 0,
                    cap: self.cfg.max_body,
                })
            }
            Err(e) => {
                self.egress(&host, port, req.method, None, 0, true, Some(e.to_string()))?;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn egress(
        &self,
        host: &str,
        port: u16,
        method: Method,
        status: Option<u16>,
        bytes: u64,
        allowed: bool,
        reason: Option<String>,
    ) -> Result<(), NetError> {
        self.audit.record(Event::new(
            self.session.as_deref(),
            Actor::Agent,
            EventKind::Egress {
                host: host.to_string(),
                port,
                method: method.as_str().to_string(),
                status,
                bytes,
                allowed,
                reason,
            },
        ))?;
        Ok(())
    }
}

fn map_err(host: &str, e: reqwest::Error, after: Duration) -> NetError {
    if e.is_timeout() {
        NetError::Timeout {
            host: host.to_string(),
            after,
        }
    } else if e.is_connect() {
        NetError::Connect {
            host: host.to_string(),
            detail: root_cause(&e),
        }
    } else {
        NetError::Other {
            host: host.to_string(),
            detail: root_cause(&e),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
