//! Protocol-neutral pieces of a response the fake sends: status, headers, and a JSON body or an
//! SSE event list, plus the streaming HTTP body type that delivers it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;
use tokio::sync::mpsc;

/// Pause before a scripted abort, so data sent before it reaches the client first.
const ABORT_PAUSE: Duration = Duration::from_millis(30);

/// A protocol error before it is rendered into the provider's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Human-readable message.
    pub message: String,
    /// OpenAI `param` (the offending request field), if any.
    pub param: Option<String>,
    /// OpenAI `code`, if any.
    pub code: Option<String>,
}

impl ApiError {
    /// An error with only a status and a message.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A 400 with OpenAI `param` and `code` set.
    pub fn invalid(message: impl Into<String>, param: &str, code: Option<&str>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
            param: Some(param.to_string()),
            code: code.map(str::to_string),
        }
    }
}

/// How a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The body completes normally.
    Normal,
    /// The connection is torn down after the last frame (no terminating chunk).
    Abort,
}

/// What the fake sends back for one request.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (content-type is derived from the body).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: OutBody,
}

/// The body of an [`Outgoing`].
#[derive(Debug, Clone)]
pub(crate) enum OutBody {
    /// `application/json`, sent with a content-length.
    Json(Value),
    /// `application/json` whose first `send` bytes are sent before the connection is aborted.
    TruncatedJson { full: String, send: usize },
    /// `text/event-stream`: each string is one complete SSE event (ending in a blank line).
    Sse { events: Vec<String>, end: End },
    /// A verbatim body with its own content type.
    Raw { content_type: String, body: String },
}

impl Outgoing {
    /// A JSON response.
    pub fn json(status: u16, body: Value) -> Outgoing {
        Outgoing {
            status,
            headers: Vec::new(),
            body: OutBody::Json(body),
        }
    }

    /// A verbatim response outside the protocol.
    pub fn raw(status: u16, content_type: String, body: String) -> Outgoing {
        Outgoing {
            status,
            headers: Vec::new(),
            body: OutBody::Raw { content_type, body },
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Outgoing {
        self.headers.push((name, value.into()));
        self
    }
}

/// The error a body yields to make hyper abort the connection.
#[derive(Debug)]
pub(crate) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("chela-testkit: scripted disconnect")
    }
}

impl std::error::Error for Aborted {}

/// The HTTP body of every fake response: either fully in memory or fed by a producer task.
pub(crate) enum FakeBody {
    /// One in-memory frame with a content-length.
    Full(Option<Bytes>, u64),
    /// Frames from a producer task; `Err` aborts the connection. `len` is the announced
    /// content-length, if any.
    Channel {
        rx: mpsc::Receiver<Result<Bytes, Aborted>>,
        len: Option<u64>,
    },
}

impl FakeBody {
    /// A complete body with a content-length.
    pub fn full(bytes: impl Into<Bytes>) -> FakeBody {
        let b: Bytes = bytes.into();
        let len = b.len() as u64;
        FakeBody::Full(Some(b), len)
    }

    /// A body that announces `full_len` bytes but sends `sent` and then aborts the connection
    /// (after a short pause, so the partial data reaches the client first).
    pub fn truncated(sent: Bytes, full_len: u64) -> FakeBody {
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            if tx.send(Ok(sent)).await.is_ok() {
                tokio::time::sleep(ABORT_PAUSE).await;
                let _ = tx.send(Err(Aborted)).await;
            }
        });
        FakeBody::Channel {
            rx,
            len: Some(full_len),
        }
    }

    /// A streaming body: `events` are sent one by one (each SSE event split in two frames,
    /// deliberately cutting it mid-line, and possibly mid-UTF-8 character, as a network can),
    /// with `gap` between events (or a task yield when zero).
    pub fn sse(events: Vec<String>, end: End, gap: Duration) -> FakeBody {
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            for event in events {
                let bytes = Bytes::from(event);
                let frames = if bytes.len() > 16 {
                    let mid = bytes.len() / 2;
                    vec![bytes.slice(..mid), bytes.slice(mid..)]
                } else {
                    vec![bytes]
                };
                for f in frames {
                    if tx.send(Ok(f)).await.is_err() {
                        return; // client went away
                    }
                }
                if gap.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(gap).await;
                }
            }
            if end == End::Abort {
                tokio::time::sleep(ABORT_PAUSE).await;
                let _ = tx.send(Err(Aborted)).await;
            }
        });
        FakeBody::Channel { rx, len: None }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        match self.get_mut() {
            FakeBody::Full(b, _) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            FakeBody::Channel { rx, .. } => match rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, FakeBody::Full(None, _))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            FakeBody::Full(_, n) => SizeHint::with_exact(*n),
            FakeBody::Channel { len: Some(n), .. } => SizeHint::with_exact(*n),
            FakeBody::Channel { len: None, .. } => SizeHint::default(),
        }
    }
}

/// One OpenAI-style SSE event: `data: <json>\n\n`.
pub(crate) fn sse_data(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// One Anthropic-style SSE event: `event: <name>\ndata: <json>\n\n`.
pub(crate) fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// True when `name` matches `^[a-zA-Z0-9_-]{1,max}$` (the providers' tool-name rule).
pub(crate) fn valid_tool_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// JSON type name as the providers word it in validation errors.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_name_rule() {
        assert!(valid_tool_name("exec", 64));
        assert!(valid_tool_name("web_fetch-2", 64));
        assert!(!valid_tool_name("", 64));
        assert!(!valid_tool_name("has space", 64));
        assert!(!valid_tool_name("dot.name", 64));
        assert!(!valid_tool_name(&"a".repeat(65), 64));
    }

    #[test]
    fn sse_framing() {
        let v = serde_json::json!({"a":1});
        assert_eq!(sse_data(&v), "data: {\"a\":1}\n\n");
        assert_eq!(sse_event("ping", &v), "event: ping\ndata: {\"a\":1}\n\n");
    }
}
