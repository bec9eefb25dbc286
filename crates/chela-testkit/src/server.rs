//! The fake model server: an HTTP/1.1 server on 127.0.0.1 with its own thread and tokio runtime.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::script::{call_id, prompt_tokens, Protocol, Reply};
use crate::wire::{unix_now, ApiError, FakeBody, OutBody, Outgoing};
use crate::{anthropic, openai};

/// Largest request body the fake accepts (Anthropic's documented limit); larger gets 413.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// How the fake checks the API key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ApiKey {
    /// Any non-empty key is accepted (OpenAI: `Authorization: Bearer …`; Anthropic: `x-api-key`).
    #[default]
    Any,
    /// Only this key is accepted; others get the provider's 401.
    Exact(String),
    /// No key needed, like a local Ollama or llama.cpp server (Anthropic still needs
    /// `anthropic-version`).
    NotRequired,
}

/// Server options beyond the script. `Options::default()` behaves like the real provider.
#[derive(Debug, Clone)]
pub struct Options {
    /// API key check.
    pub api_key: ApiKey,
    /// Pause between SSE events of a streamed reply (zero: just yield, so events still leave in
    /// separate writes). Use a few hundred ms to test cancellation of a running stream.
    pub chunk_delay: Duration,
    /// Model ids listed by `GET /v1/models`.
    pub models: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            api_key: ApiKey::Any,
            chunk_delay: Duration::ZERO,
            models: vec!["fake-model".to_string()],
        }
    }
}

/// One HTTP request the fake received, exactly as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path (without query), e.g. `/v1/chat/completions`.
    pub path: String,
    /// Headers in arrival order; names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `Value::Null` when it is not JSON.
    pub body: Value,
    /// The body as text (lossy UTF-8).
    pub raw_body: String,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every string in the JSON body (keys excluded), joined with newlines: the text the model
    /// was shown, unescaped, for assertions such as "the secret was redacted".
    pub fn all_text(&self) -> String {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.body, &mut out);
        out.join("\n")
    }

    /// Names of the tools offered in the request (OpenAI `tools[].function.name` or Anthropic
    /// `tools[].name`), in order.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                t["function"]["name"]
                    .as_str()
                    .or_else(|| t["name"].as_str())
                    .map(str::to_string)
            })
            .collect()
    }

    /// True when the request is a model call (`POST` chat completions or messages).
    pub fn is_model_call(&self) -> bool {
        self.method == "POST"
            && (self.path == "/v1/chat/completions" || self.path == "/v1/messages")
    }
}

/// The fields of a valid model request the fake needs to answer it.
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
}

/// Everything a protocol renderer needs to shape one reply.
#[derive(Debug, Clone)]
pub(crate) struct RenderCtx {
    pub protocol: Protocol,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// 1-based number of the scripted reply being played.
    pub reply_number: usize,
    pub prompt_tokens: u64,
    pub created: u64,
    /// The reply stops at the output-token limit.
    pub truncated: bool,
}

impl RenderCtx {
    /// Id of tool call `index` of this reply.
    pub fn call_id(&self, index: usize) -> String {
        call_id(self.protocol, self.reply_number, index)
    }
}

struct State {
    script: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    used: usize,
}

struct Shared {
    protocol: Protocol,
    options: Options,
    state: Mutex<State>,
    /// Signalled whenever a request is recorded.
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that matters
        // to a test; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fake model provider on `127.0.0.1:<random port>` that speaks the real wire protocol,
/// answers model requests with the scripted [`Reply`]s in order, and records every request.
///
/// It runs on its own thread with its own tokio runtime, so sync and async tests can use it.
/// Dropping it stops the server.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts a fake server with default [`Options`].
    ///
    /// # Panics
    /// When no loopback port can be bound or the runtime cannot start (the test cannot run).
    pub fn start(protocol: Protocol, script: Vec<Reply>) -> FakeServer {
        FakeServer::start_with(protocol, script, Options::default())
    }

    /// Starts a fake server with explicit [`Options`].
    ///
    /// # Panics
    /// When no loopback port can be bound or the runtime cannot start (the test cannot run).
    pub fn start_with(protocol: Protocol, script: Vec<Reply>, options: Options) -> FakeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("chela-testkit: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("chela-testkit: no local address for the listener: {e}"));
        listener.set_nonblocking(true).unwrap_or_else(|e| {
            panic!("chela-testkit: cannot make the listener non-blocking: {e}")
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("chela-testkit: cannot build a tokio runtime: {e}"));
        let shared = Arc::new(Shared {
            protocol,
            options,
            state: Mutex::new(State {
                script: script.into(),
                requests: Vec::new(),
                used: 0,
            }),
            arrived: Condvar::new(),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("chela-fake-{addr}"))
            .spawn(move || runtime.block_on(serve(listener, served, stop_rx)))
            .unwrap_or_else(|e| panic!("chela-testkit: cannot spawn the server thread: {e}"));
        FakeServer {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Base URL to configure the client with: `http://127.0.0.1:PORT/v1` for OpenAI,
    /// `http://127.0.0.1:PORT` for Anthropic (as the providers' own base URLs are written).
    pub fn base_url(&self) -> String {
        match self.shared.protocol {
            Protocol::OpenAi => format!("http://{}/v1", self.addr),
            Protocol::Anthropic => format!("http://{}", self.addr),
        }
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The protocol this server speaks.
    pub fn protocol(&self) -> Protocol {
        self.shared.protocol
    }

    /// Every request received so far (including rejected ones and `GET /v1/models`), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Only the model calls (`POST /v1/chat/completions` or `/v1/messages`), in order.
    pub fn model_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_model_call)
            .collect()
    }

    /// Scripted replies not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.lock().script.len()
    }

    /// Blocks until at least `n` requests (of any kind) have been received or `timeout` passes;
    /// returns whether they arrived. For tests that must act while the client is mid-request
    /// (e.g. send Ctrl-C during a delayed or slowly streamed reply).
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.shared.arrived.wait_timeout(st, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Appends a reply to the script.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().script.push_back(reply);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("protocol", &self.shared.protocol)
            .field("addr", &self.addr)
            .field("remaining", &self.remaining())
            .finish()
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("chela-testkit: cannot register the listener with tokio: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Without this, small SSE writes meet delayed ACKs and each stream stalls ~40 ms.
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, shared.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// What the router decided for a request before rendering.
enum Route {
    Models,
    Model,
    MethodNotAllowed,
    NotFound,
}

fn route(protocol: Protocol, method: &str, path: &str) -> Route {
    let model_path = match protocol {
        Protocol::OpenAi => "/v1/chat/completions",
        Protocol::Anthropic => "/v1/messages",
    };
    match (method, path) {
        ("GET", "/v1/models") => Route::Models,
        ("POST", p) if p == model_path => Route::Model,
        (_, p) if p == model_path || p == "/v1/models" => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<FakeBody>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let collected = Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await;
    let (raw_body, body_error) = match collected {
        Ok(c) => (String::from_utf8_lossy(&c.to_bytes()).into_owned(), None),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => (
            String::new(),
            Some(ApiError::new(
                413,
                format!(
                    "Request exceeds the maximum allowed number of bytes ({MAX_REQUEST_BYTES})."
                ),
            )),
        ),
        Err(e) => (
            String::new(),
            Some(ApiError::new(
                400,
                format!("could not read the request body: {e}"),
            )),
        ),
    };
    let body = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    let record = RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        body,
        raw_body: raw_body.clone(),
    };
    shared.lock().requests.push(record);
    shared.arrived.notify_all();

    let protocol = shared.protocol;
    let out = answer(&shared, &method, &path, &headers, &raw_body, body_error).await;
    Ok(into_response(protocol, out, shared.options.chunk_delay))
}

fn render_error(protocol: Protocol, e: &ApiError) -> Outgoing {
    match protocol {
        Protocol::OpenAi => openai::error(e),
        Protocol::Anthropic => anthropic::error(e),
    }
}

async fn answer(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    raw_body: &str,
    body_error: Option<ApiError>,
) -> Outgoing {
    let protocol = shared.protocol;
    let route = route(protocol, method, path);
    match route {
        Route::NotFound => {
            return render_error(
                protocol,
                &ApiError::new(
                    404,
                    format!(
                        "Invalid URL ({method} {path}): the chela-testkit fake {} server serves \
                         {}",
                        match protocol {
                            Protocol::OpenAi => "OpenAI",
                            Protocol::Anthropic => "Anthropic",
                        },
                        match protocol {
                            Protocol::OpenAi => "POST /v1/chat/completions and GET /v1/models",
                            Protocol::Anthropic => "POST /v1/messages and GET /v1/models",
                        }
                    ),
                ),
            )
        }
        Route::MethodNotAllowed => {
            return render_error(
                protocol,
                &ApiError::new(405, format!("Method {method} not allowed for {path}")),
            )
        }
        Route::Models | Route::Model => {}
    }
    let auth = match protocol {
        Protocol::OpenAi => openai::check_auth(headers, &shared.options.api_key),
        Protocol::Anthropic => anthropic::check_headers(headers, &shared.options.api_key),
    };
    if let Err(e) = auth {
        return render_error(protocol, &e);
    }
    if matches!(route, Route::Models) {
        return match protocol {
            Protocol::OpenAi => openai::models(&shared.options.models),
            Protocol::Anthropic => anthropic::models(&shared.options.models),
        };
    }
    if let Some(e) = body_error {
        return render_error(protocol, &e);
    }
    let validated = match protocol {
        Protocol::OpenAi => openai::validate(raw_body),
        Protocol::Anthropic => anthropic::validate(raw_body),
    };
    let v = match validated {
        Ok(v) => v,
        Err(e) => return render_error(protocol, &e),
    };
    let (reply, reply_number, received) = {
        let mut st = shared.lock();
        let received = st.requests.iter().filter(|r| r.is_model_call()).count();
        match st.script.pop_front() {
            Some(r) => {
                st.used += 1;
                (Some(r), st.used, received)
            }
            None => (None, st.used, received),
        }
    };
    let Some(reply) = reply else {
        return render_error(
            protocol,
            &ApiError::new(
                500,
                format!(
                    "chela-testkit: the fake server's script ran out: model request #{received} \
                     arrived but only {reply_number} replies were scripted (all used). Add a \
                     Reply to the test's script or find why the client made an extra request."
                ),
            ),
        );
    };
    let truncated = reply.is_truncated();
    let (delay, plan) = reply.plan();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let rc = RenderCtx {
        protocol,
        model: v.model,
        stream: v.stream,
        include_usage: v.include_usage,
        reply_number,
        prompt_tokens: prompt_tokens(raw_body),
        created: unix_now(),
        truncated,
    };
    match protocol {
        Protocol::OpenAi => openai::render(plan, &rc),
        Protocol::Anthropic => anthropic::render(plan, &rc),
    }
}

fn into_response(protocol: Protocol, out: Outgoing, gap: Duration) -> Response<FakeBody> {
    let (content_type, body) = match out.body {
        OutBody::Raw { content_type, body } => (content_type, FakeBody::full(body)),
        OutBody::Json(v) => (
            "application/json".to_string(),
            FakeBody::full(v.to_string()),
        ),
        OutBody::TruncatedJson { full, send } => {
            let len = full.len() as u64;
            let sent = Bytes::from(full).slice(..send);
            (
                "application/json".to_string(),
                FakeBody::truncated(sent, len),
            )
        }
        OutBody::Sse { events, end } => (
            "text/event-stream; charset=utf-8".to_string(),
            FakeBody::sse(events, end, gap),
        ),
    };
    let mut builder = Response::builder()
        .status(out.status)
        .header("content-type", content_type.as_str());
    if content_type.starts_with("text/event-stream") {
        builder = builder
            .header("cache-control", "no-cache")
            .header("connection", "keep-alive");
    }
    builder = match protocol {
        Protocol::OpenAi => builder.header("x-request-id", "req_chela_testkit"),
        Protocol::Anthropic => builder.header("request-id", "req_chela_testkit"),
    };
    for (name, value) in out.headers {
        builder = builder.header(name, value);
    }
    match builder.body(body) {
        Ok(r) => r,
        Err(e) => {
            // Only reachable with an invalid status or header value from a test script.
            let mut r = Response::new(FakeBody::full(format!(
                "chela-testkit: cannot build the scripted response: {e}"
            )));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FakeServer>();
        assert_send_sync::<RecordedRequest>();
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(Protocol::OpenAi, "POST", "/v1/chat/completions"),
            Route::Model
        ));
        assert!(matches!(
            route(Protocol::OpenAi, "POST", "/v1/messages"),
            Route::NotFound
        ));
        assert!(matches!(
            route(Protocol::Anthropic, "POST", "/v1/messages"),
            Route::Model
        ));
        assert!(matches!(
            route(Protocol::Anthropic, "GET", "/v1/messages"),
            Route::MethodNotAllowed
        ));
        assert!(matches!(
            route(Protocol::Anthropic, "GET", "/v1/models"),
            Route::Models
        ));
    }
}
