//! Chela's one outbound HTTP client.
//!
//! Every HTTP request Chela makes (model providers, `web_fetch`, later MCP) goes through
//! [`NetClient`]: this crate alone depends on an HTTP client library (the architecture test
//! enforces it). For every hop of every request it
//!
//! 1. admits only destinations in the allowlist ([`NetConfig::allow_hosts`]: exact host or one
//!    `*.` label, optional port) or a trusted endpoint ([`NetConfig::trusted_endpoints`], the
//!    configured model provider);
//! 2. refuses non-public addresses (loopback, private, link-local and cloud metadata, CGNAT,
//!    unique-local IPv6, multicast, unspecified, IPv4-in-IPv6 forms) unless the endpoint is
//!    trusted or policy grants the address ([`NetConfig::allow_addrs`], or an IP literal in the
//!    allowlist). Names are checked *inside* the DNS resolver reqwest connects with, so the
//!    checked address is the connected address (no DNS rebinding); numeric tricks such as
//!    `0x7f000001`, `2130706433` or `0177.0.0.1` are normalised by the URL parser first;
//! 3. follows redirects itself (bounded), each hop through the same checks, dropping the
//!    credential when the host changes;
//! 4. attaches a [`Credential`] only to the host it is bound to, only as its header, never over
//!    plain HTTP to a public name, and refuses a request whose URL carries the credential value;
//! 5. runs the [`OutboundCheck`] leak scan (the guard plugs in here);
//! 6. records an `egress` audit event before sending (no record, no request) and another with
//!    status and bytes when the response ends; refusals are recorded too (`allowed: false`).
//!
//! Responses are capped in size ([`NetConfig::max_body`]) and time (request timeout for the
//! headers, an idle timeout per body chunk).

pub mod addr;
pub mod fetch;
mod html;
pub mod leak;
mod policy;
mod resolve;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chela_types::{Actor, AuditSink, Event, EventKind};

pub use fetch::{fetch_readable, html_to_text, FetchedPage};
pub use leak::{Outbound, OutboundCheck, SecretBindings};

use policy::{HostKey, Policy};
use resolve::{AddressRefused, Backend, CheckingResolver, Mode};

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
    /// The network configuration is invalid (an allowlist entry, endpoint or address).
    #[error("invalid network setting {item:?}: {reason}")]
    Config {
        /// The offending entry.
        item: String,
        /// What is wrong with it.
        reason: String,
    },
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

    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
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

    /// A GET without body.
    pub fn get(url: impl Into<String>, timeout: Duration) -> Self {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout,
            credential: None,
        }
    }

    /// The same request with `credential` attached.
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }
}

/// The `egress` record written when a response ends (body read, failed, or dropped).
struct Completion {
    audit: Arc<dyn AuditSink>,
    session: Option<String>,
    host: String,
    port: u16,
    method: Method,
    status: u16,
    started: Instant,
    done: bool,
}

impl Completion {
    fn finish(&mut self, bytes: u64, reason: Option<String>) {
        if self.done {
            return;
        }
        self.done = true;
        // The effect has happened; an audit failure here cannot undo it, and the pre-send
        // record already exists.
        let _ = self.audit.record(Event::new(
            self.session.as_deref(),
            Actor::Agent,
            EventKind::Egress {
                host: self.host.clone(),
                port: self.port,
                method: self.method.as_str().to_string(),
                status: Some(self.status),
                bytes,
                allowed: true,
                reason,
                duration_ms: Some(self.started.elapsed().as_millis() as u64),
            },
        ));
    }
}

/// A response whose body is read incrementally (for SSE streams) or whole.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    host: String,
    final_url: String,
    started: Instant,
    inner: reqwest::Response,
    read: usize,
    cap: usize,
    completion: Completion,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("final_url", &self.final_url)
            .field("read", &self.read)
            .finish()
    }
}

impl Response {
    /// A response header value, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The URL that produced this response, after redirects.
    pub fn final_url(&self) -> &str {
        &self.final_url
    }

    /// Time since the request was first sent.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The next chunk of the body, `None` at the end. `idle` bounds the wait for each chunk.
    /// Fails with [`NetError::TooLarge`] once the body passes the client's size cap.
    pub async fn chunk(&mut self, idle: Duration) -> Result<Option<Vec<u8>>, NetError> {
        self.next_chunk(idle, true).await
    }

    /// Like [`Response::chunk`] without the size check: for readers that stop at their own,
    /// smaller cap and keep what they have (`web_fetch`).
    pub(crate) async fn chunk_uncapped(
        &mut self,
        idle: Duration,
    ) -> Result<Option<Vec<u8>>, NetError> {
        self.next_chunk(idle, false).await
    }

    async fn next_chunk(
        &mut self,
        idle: Duration,
        capped: bool,
    ) -> Result<Option<Vec<u8>>, NetError> {
        let next = match tokio::time::timeout(idle, self.inner.chunk()).await {
            Ok(n) => n,
            Err(_) => {
                let e = NetError::Timeout {
                    host: self.host.clone(),
                    after: idle,
                };
                self.completion
                    .finish(self.read as u64, Some(e.to_string()));
                return Err(e);
            }
        };
        match next {
            Ok(Some(bytes)) => {
                if capped && self.read.saturating_add(bytes.len()) > self.cap {
                    let e = NetError::TooLarge {
                        host: self.host.clone(),
                        limit: self.cap,
                    };
                    self.completion
                        .finish(self.read as u64, Some(e.to_string()));
                    return Err(e);
                }
                self.read += bytes.len();
                Ok(Some(bytes.to_vec()))
            }
            Ok(None) => {
                self.completion.finish(self.read as u64, None);
                Ok(None)
            }
            Err(e) => {
                let e = map_err(&self.host, e, idle);
                self.completion
                    .finish(self.read as u64, Some(e.to_string()));
                Err(e)
            }
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

impl Drop for Response {
    fn drop(&mut self) {
        self.completion.finish(self.read as u64, None);
    }
}

/// Names resolved by the test resolver (tests only; compiled out of release builds).
#[cfg(any(test, feature = "test-resolver"))]
pub type TestResolverTable = std::collections::HashMap<String, Vec<std::net::IpAddr>>;

/// Settings for [`NetClient`]. Build with `NetConfig { allow_hosts: …, ..Default::default() }`.
///
/// The default admits nothing: every destination must be allowlisted or trusted (fail closed).
#[derive(Clone)]
pub struct NetConfig {
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Maximum response body size, bytes.
    pub max_body: usize,
    /// Allowed destinations: `host`, `*.domain` (exactly one extra label), or `*` (any host),
    /// each with an optional `:port`. An IP literal here (`127.0.0.1:8080`) also grants that
    /// address for URLs written with it; `*` and names never grant a non-public address.
    pub allow_hosts: Vec<String>,
    /// Trusted endpoints (`host:port` or a URL, e.g. the provider's `base_url`): admitted, and
    /// allowed to resolve to loopback or private addresses (a local Ollama or vLLM).
    pub trusted_endpoints: Vec<String>,
    /// Non-public addresses or blocks (`10.1.2.3`, `10.0.0.0/8`, `fd00::/8`) that allowlisted
    /// names may resolve to.
    pub allow_addrs: Vec<String>,
    /// Maximum redirects followed per request.
    pub max_redirects: usize,
    /// Leak scan run on every hop before it is sent (the guard plugs in here).
    pub outbound_check: Option<Arc<dyn OutboundCheck>>,
    /// Test-only DNS table replacing the system resolver; unknown names fail. Not compiled into
    /// release builds (feature `test-resolver`, off by default).
    #[cfg(any(test, feature = "test-resolver"))]
    pub test_resolver: Option<TestResolverTable>,
}

impl std::fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body", &self.max_body)
            .field("allow_hosts", &self.allow_hosts)
            .field("trusted_endpoints", &self.trusted_endpoints)
            .field("allow_addrs", &self.allow_addrs)
            .field("max_redirects", &self.max_redirects)
            .field("outbound_check", &self.outbound_check.is_some())
            .finish()
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            connect_timeout: Duration::from_secs(10),
            max_body: 32 * 1024 * 1024,
            allow_hosts: Vec::new(),
            trusted_endpoints: Vec::new(),
            allow_addrs: Vec::new(),
            max_redirects: 5,
            outbound_check: None,
            #[cfg(any(test, feature = "test-resolver"))]
            test_resolver: None,
        }
    }
}

impl NetConfig {
    /// Trusts the host and port of `url` (e.g. the provider's `base_url`); see
    /// [`NetConfig::trusted_endpoints`]. Fails on a URL without host or with another scheme.
    pub fn trust_url(&mut self, url: &str) -> Result<(), NetError> {
        policy::Endpoint::parse(url).map_err(|reason| NetError::Config {
            item: url.to_string(),
            reason,
        })?;
        self.trusted_endpoints.push(url.to_string());
        Ok(())
    }

    /// A configuration that trusts exactly the endpoint of `url` and admits nothing else.
    pub fn for_endpoint(url: &str) -> Result<NetConfig, NetError> {
        let mut cfg = NetConfig::default();
        cfg.trust_url(url)?;
        Ok(cfg)
    }
}

/// One hop's destination.
struct Target {
    url: url::Url,
    host: HostKey,
    host_str: String,
    port: u16,
    trusted: Option<usize>,
}

/// The one outbound HTTP client.
pub struct NetClient {
    public: reqwest::Client,
    trusted: Vec<reqwest::Client>,
    policy: Arc<Policy>,
    cfg: NetConfig,
    audit: Arc<dyn AuditSink>,
    session: Option<String>,
}

impl std::fmt::Debug for NetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetClient")
            .field("cfg", &self.cfg)
            .field("session", &self.session)
            .finish()
    }
}

fn build_client(cfg: &NetConfig, resolver: CheckingResolver) -> Result<reqwest::Client, NetError> {
    reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .user_agent(concat!("chela/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NetError::Other {
            host: String::new(),
            detail: root_cause(&e),
        })
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

impl NetClient {
    /// Builds a client that audits every request to `audit`. Fails when an allowlist entry,
    /// trusted endpoint or address grant in `cfg` is malformed ([`NetError::Config`]).
    pub fn new(cfg: NetConfig, audit: Arc<dyn AuditSink>) -> Result<NetClient, NetError> {
        let policy = Policy::compile(&cfg.allow_hosts, &cfg.trusted_endpoints, &cfg.allow_addrs)
            .map_err(|(item, reason)| NetError::Config { item, reason })?;
        let policy = Arc::new(policy);
        #[cfg(any(test, feature = "test-resolver"))]
        let backend = match &cfg.test_resolver {
            Some(t) => Backend::Table(Arc::new(
                t.iter()
                    .map(|(k, v)| (policy::normalize_name(k), v.clone()))
                    .collect(),
            )),
            None => Backend::System,
        };
        #[cfg(not(any(test, feature = "test-resolver")))]
        let backend = Backend::System;
        let public = build_client(
            &cfg,
            CheckingResolver {
                backend: backend.clone(),
                mode: Mode::Guarded(policy.clone()),
            },
        )?;
        let trusted = policy
            .trusted
            .iter()
            .map(|_| {
                build_client(
                    &cfg,
                    CheckingResolver {
                        backend: backend.clone(),
                        mode: Mode::Trusted,
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetClient {
            public,
            trusted,
            policy,
            cfg,
            audit,
            session: None,
        })
    }

    /// Attributes audited requests to `session`.
    pub fn set_session(&mut self, session: Option<String>) {
        self.session = session;
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    fn target(&self, url: url::Url, original: &str) -> Result<Target, NetError> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(NetError::InvalidUrl {
                url: original.to_string(),
                reason: format!(
                    "scheme {:?}: only http and https are supported",
                    url.scheme()
                ),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(NetError::InvalidUrl {
                url: "<URL with user info>".to_string(),
                reason: "user names and passwords in URLs are refused; use a bound credential"
                    .into(),
            });
        }
        let host = HostKey::from_url(&url).ok_or_else(|| NetError::InvalidUrl {
            url: original.to_string(),
            reason: "no host".into(),
        })?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| NetError::InvalidUrl {
                url: original.to_string(),
                reason: "no port".into(),
            })?;
        let trusted = self.policy.trusted_index(&host, port);
        Ok(Target {
            host_str: host.to_string(),
            url,
            host,
            port,
            trusted,
        })
    }

    /// Why policy refuses `t` before any connection, if it does.
    fn check_target(&self, t: &Target) -> Result<(), String> {
        if !self.policy.admits(&t.host, t.port) {
            return Err(format!(
                "{}:{} is not in the network allowlist; add it to [net] allow in the policy (CN-B1)",
                t.host_str, t.port
            ));
        }
        if let HostKey::Ip(ip) = t.host {
            let why = match t.trusted {
                Some(_) => policy::refuse_trusted_addr(ip),
                None if self.policy.names_literal(ip, t.port) => None,
                None => self.policy.refuse_addr(ip),
            };
            if let Some(why) = why {
                return Err(format!(
                    "address {ip} is {why}; name it explicitly in the policy if this is intended"
                ));
            }
        }
        Ok(())
    }

    /// Whether the credential may ride on this hop; `Err` refuses the hop.
    fn credential_for<'c>(
        &self,
        t: &Target,
        cred: Option<&'c Credential>,
    ) -> Result<Option<&'c Credential>, String> {
        let Some(c) = cred else { return Ok(None) };
        let bound =
            HostKey::parse(&c.host).map_err(|e| format!("credential host is invalid: {e}"))?;
        if bound != t.host {
            return Ok(None);
        }
        let local_literal = matches!(t.host, HostKey::Ip(ip) if addr::special_reason(ip).is_some());
        if t.url.scheme() != "https" && t.trusted.is_none() && !local_literal {
            return Err(format!(
                "the credential for {} would travel over plain http; use https",
                t.host_str
            ));
        }
        Ok(Some(c))
    }

    /// Sends a request and returns once response headers arrive (after following redirects).
    pub async fn send(&self, req: Request) -> Result<Response, NetError> {
        let started = Instant::now();
        let deadline = started + req.timeout;
        let Request {
            mut method,
            url: url_text,
            headers,
            mut body,
            timeout,
            credential,
        } = req;
        let mut url = url::Url::parse(&url_text).map_err(|e| NetError::InvalidUrl {
            url: url_text.clone(),
            reason: e.to_string(),
        })?;
        for (k, v) in &headers {
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(v).is_err()
            {
                return Err(NetError::Other {
                    host: url.host_str().unwrap_or_default().to_string(),
                    detail: format!("header {k:?} has an invalid name or value"),
                });
            }
        }
        let mut cred = credential;
        let first = self.target(url.clone(), &url_text)?;
        if let Some(c) = &cred {
            let refuse = |reason: String| -> Result<Response, NetError> {
                self.egress(
                    &first.host_str,
                    first.port,
                    method,
                    None,
                    0,
                    false,
                    Some(reason.clone()),
                )?;
                Err(NetError::Refused {
                    host: first.host_str.clone(),
                    reason,
                })
            };
            let bound = HostKey::parse(&c.host).ok();
            if bound.as_ref() != Some(&first.host) {
                return refuse(format!("credential is bound to host {}", c.host));
            }
            if reqwest::header::HeaderName::from_bytes(c.header.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(&c.value).is_err()
            {
                return refuse(format!(
                    "credential header {:?} or its value is not a valid HTTP header",
                    c.header
                ));
            }
            if headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(&c.header))
            {
                return refuse(format!(
                    "header {:?} is set both by the request and by the credential",
                    c.header
                ));
            }
        }
        let mut hop = 0usize;
        loop {
            let t = if hop == 0 {
                self.target(url.clone(), &url_text)?
            } else {
                self.target(url.clone(), url.as_str())?
            };
            let attach = match self
                .check_target(&t)
                .and_then(|()| self.credential_for(&t, cred.as_ref()))
            {
                Ok(a) => a,
                Err(reason) => return Err(self.refused(&t, method, reason)?),
            };
            let view = Outbound {
                host: &t.host_str,
                port: t.port,
                url: t.url.as_str(),
                headers: &headers,
                body: body.as_deref(),
                credential_host: attach.map(|c| c.host.as_str()),
            };
            if let Some(c) = &cred {
                // A credential value never travels in a URL (it ends up in server logs) and
                // never in a request to another host.
                // The value as sent (`Bearer sk-…`) and its secret part (`sk-…`).
                let token = c.value.rsplit(' ').next().unwrap_or(&c.value);
                let token = if token.len() >= 8 {
                    token
                } else {
                    c.value.as_str()
                };
                let found =
                    leak::find_value(&view, &c.value).or_else(|| leak::find_value(&view, token));
                if let Some(place) = found {
                    if place == "URL" || attach.is_none() {
                        let reason = format!(
                            "the {place} carries the credential bound to {}; refused (CN-D6)",
                            c.host
                        );
                        return Err(self.refused(&t, method, reason)?);
                    }
                }
            }
            if let Some(check) = &self.cfg.outbound_check {
                if let Err(reason) = check.check(&view) {
                    return Err(self.refused(&t, method, format!("leak scan: {reason}"))?);
                }
            }
            // No record, no request.
            self.egress(&t.host_str, t.port, method, None, 0, true, None)?;
            let client = match t.trusted {
                Some(i) => &self.trusted[i],
                None => &self.public,
            };
            let mut rb = client.request(method.to_reqwest(), t.url.clone());
            for (k, v) in &headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            if let Some(c) = attach {
                rb = rb.header(c.header.as_str(), c.value.as_str());
            }
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let result = tokio::time::timeout(remaining, rb.send()).await;
            let inner = match result {
                Err(_) => Err(NetError::Timeout {
                    host: t.host_str.clone(),
                    after: timeout,
                }),
                Ok(Err(e)) => Err(map_err(&t.host_str, e, timeout)),
                Ok(Ok(r)) => Ok(r),
            };
            let inner = match inner {
                Ok(r) => r,
                Err(e) => {
                    let allowed = !matches!(e, NetError::Refused { .. });
                    self.egress(
                        &t.host_str,
                        t.port,
                        method,
                        None,
                        0,
                        allowed,
                        Some(e.to_string()),
                    )?;
                    return Err(e);
                }
            };
            let status = inner.status().as_u16();
            let location = inner
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut completion = Completion {
                started,
                audit: self.audit.clone(),
                session: self.session.clone(),
                host: t.host_str.clone(),
                port: t.port,
                method,
                status,
                done: false,
            };
            match location {
                Some(loc) if is_redirect(status) => {
                    completion.finish(0, None);
                    drop(inner);
                    if hop >= self.cfg.max_redirects {
                        let reason = format!(
                            "more than {} redirects; the chain is not followed further",
                            self.cfg.max_redirects
                        );
                        return Err(self.refused(&t, method, reason)?);
                    }
                    let next = t.url.join(&loc).map_err(|e| NetError::InvalidUrl {
                        url: loc.clone(),
                        reason: format!("redirect target from {}: {e}", t.host_str),
                    })?;
                    if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
                        method = Method::Get;
                        body = None;
                    }
                    let next_host = HostKey::from_url(&next);
                    if next_host.as_ref() != Some(&t.host) {
                        // Cross-host: the credential stays behind for good.
                        cred = None;
                    }
                    url = next;
                    hop += 1;
                }
                _ => {
                    return Ok(Response {
                        status,
                        host: t.host_str.clone(),
                        final_url: t.url.to_string(),
                        started,
                        inner,
                        read: 0,
                        cap: self.cfg.max_body,
                        completion,
                    });
                }
            }
        }
    }

    /// Records a refusal and returns the error to give the caller.
    fn refused(&self, t: &Target, method: Method, reason: String) -> Result<NetError, NetError> {
        self.egress(
            &t.host_str,
            t.port,
            method,
            None,
            0,
            false,
            Some(reason.clone()),
        )?;
        Ok(NetError::Refused {
            host: t.host_str.clone(),
            reason,
        })
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
                duration_ms: None,
            },
        ))?;
        Ok(())
    }
}

fn address_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<AddressRefused>() {
            return Some(r.to_string());
        }
        cur = err.source();
    }
    None
}

fn map_err(host: &str, e: reqwest::Error, after: Duration) -> NetError {
    if let Some(reason) = address_refusal(&e) {
        NetError::Refused {
            host: host.to_string(),
            reason,
        }
    } else if e.is_timeout() {
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
