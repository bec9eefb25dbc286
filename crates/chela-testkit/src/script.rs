//! The scripted conversation a [`crate::FakeServer`] plays, and the deterministic usage counts.

use std::time::Duration;

/// Which provider wire protocol a fake server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`), as spoken by OpenAI, DeepSeek,
    /// Qwen/DashScope, vLLM, llama.cpp server and Ollama.
    OpenAi,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
}

/// One scripted reply. The fake answers each valid model request with the next reply, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An assistant message with this text.
    Text(String),
    /// One or several tool calls in one reply: `(name, raw arguments text)`. The arguments are
    /// sent verbatim and may be invalid JSON. Call ids are generated (see [`call_id`]).
    ToolCalls(Vec<(String, String)>),
    /// Text followed by tool calls in the same reply.
    TextAndToolCalls(String, Vec<(String, String)>),
    /// An HTTP error with the protocol's error body. 429 carries `retry-after: 0`. A 400 whose
    /// message is [`CONTEXT_LENGTH_EXCEEDED`] (see [`Reply::context_length_exceeded`]) renders as the
    /// provider's real context-length error.
    Error {
        /// HTTP status code.
        status: u16,
        /// Error message placed in the body.
        message: String,
    },
    /// Wait this long before answering with the inner reply (nothing is sent meanwhile).
    Delay(Duration, Box<Reply>),
    /// An empty assistant message: no text, no tool calls.
    Empty,
    /// A text reply of exactly this many bytes (ASCII, deterministic; see [`huge_text`]).
    Huge(usize),
    /// For streaming requests: start a normal `200` stream with this text, then send the
    /// protocol's mid-stream error event (Anthropic `event: error` with `overloaded_error`; OpenAI
    /// a `data: {"error":{...}}` line) and end the stream without the normal terminator.
    /// For non-streaming requests: the same as `Error { status: 529 (Anthropic) / 503 (OpenAI) }`.
    StreamError {
        /// Text streamed before the error.
        partial_text: String,
        /// Error message of the error event.
        message: String,
    },
    /// For streaming requests: send the `200` headers and this text, then close the connection
    /// abruptly (no terminator, no error event), like a dropped network link. For non-streaming
    /// requests: send the headers and half of the JSON body, then close.
    Disconnect(String),
    /// A text reply cut off by the output-token limit: OpenAI `finish_reason: "length"`,
    /// Anthropic `stop_reason: "max_tokens"`.
    Truncated(String),
    /// A response outside the protocol, sent verbatim: e.g. a proxy's HTML `502` page or a `200`
    /// whose body is not JSON. Tests that the client reports garbage clearly.
    Raw {
        /// HTTP status code.
        status: u16,
        /// `content-type` header value.
        content_type: String,
        /// Body, sent as is.
        body: String,
    },
}

/// The message of a 400 [`Reply::Error`] that renders as the provider's context-length error
/// (OpenAI `code: "context_length_exceeded"`; Anthropic `invalid_request_error`
/// `"prompt is too long: …"`).
pub const CONTEXT_LENGTH_EXCEEDED: &str = "context_length_exceeded";

impl Reply {
    /// [`Reply::Text`] from anything string-like.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Text(text.into())
    }

    /// A reply with a single tool call.
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Reply {
        Reply::ToolCalls(vec![(name.into(), arguments.into())])
    }

    /// [`Reply::Error`] with this status and message.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::Error {
            status,
            message: message.into(),
        }
    }

    /// The provider's real "context too long" 400 error.
    pub fn context_length_exceeded() -> Reply {
        Reply::error(400, CONTEXT_LENGTH_EXCEEDED)
    }

    /// `inner`, answered after `delay`.
    pub fn delayed(delay: Duration, inner: Reply) -> Reply {
        Reply::Delay(delay, Box::new(inner))
    }
}

/// What a reply resolves to once delays are taken off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A normal assistant message. `text: None` means no text block / null content.
    Message {
        text: Option<String>,
        calls: Vec<(String, String)>,
    },
    /// An HTTP error.
    Error { status: u16, message: String },
    /// Partial stream then an error event.
    StreamError {
        partial_text: String,
        message: String,
    },
    /// Partial response, then the connection is closed.
    Disconnect(String),
    /// A verbatim non-protocol response.
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

impl Reply {
    /// True when the reply (under any delays) is [`Reply::Truncated`].
    pub(crate) fn is_truncated(&self) -> bool {
        match self {
            Reply::Truncated(_) => true,
            Reply::Delay(_, inner) => inner.is_truncated(),
            _ => false,
        }
    }

    /// Splits the reply into its total delay and what to send.
    pub(crate) fn plan(self) -> (Duration, Plan) {
        let mut delay = Duration::ZERO;
        let mut reply = self;
        loop {
            match reply {
                Reply::Delay(d, inner) => {
                    delay = delay.saturating_add(d);
                    reply = *inner;
                }
                Reply::Text(t) => {
                    return (
                        delay,
                        Plan::Message {
                            text: Some(t),
                            calls: Vec::new(),
                        },
                    )
                }
                Reply::ToolCalls(calls) => return (delay, Plan::Message { text: None, calls }),
                Reply::TextAndToolCalls(t, calls) => {
                    return (
                        delay,
                        Plan::Message {
                            text: Some(t),
                            calls,
                        },
                    )
                }
                Reply::Error { status, message } => {
                    return (delay, Plan::Error { status, message })
                }
                Reply::Empty => {
                    return (
                        delay,
                        Plan::Message {
                            text: None,
                            calls: Vec::new(),
                        },
                    )
                }
                Reply::Huge(n) => {
                    return (
                        delay,
                        Plan::Message {
                            text: Some(huge_text(n)),
                            calls: Vec::new(),
                        },
                    )
                }
                Reply::StreamError {
                    partial_text,
                    message,
                } => {
                    return (
                        delay,
                        Plan::StreamError {
                            partial_text,
                            message,
                        },
                    )
                }
                Reply::Disconnect(t) => return (delay, Plan::Disconnect(t)),
                Reply::Truncated(t) => {
                    return (
                        delay,
                        Plan::Message {
                            text: Some(t),
                            calls: Vec::new(),
                        },
                    )
                }
                Reply::Raw {
                    status,
                    content_type,
                    body,
                } => {
                    return (
                        delay,
                        Plan::Raw {
                            status,
                            content_type,
                            body,
                        },
                    )
                }
            }
        }
    }
}

/// The text of [`Reply::Huge`]: exactly `n` ASCII bytes of numbered lines
/// (`"line 000001: lorem ipsum …\n"`), so truncation points are recognisable.
pub fn huge_text(n: usize) -> String {
    const FILL: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit";
    let mut out = String::with_capacity(n + 80);
    let mut line = 1u64;
    while out.len() < n {
        out.push_str(&format!("line {line:06}: {FILL}\n"));
        line += 1;
    }
    out.truncate(n);
    out
}

/// Prompt (input) tokens the fake reports for a request: `ceil(raw_body_bytes / 4)`.
pub fn prompt_tokens(raw_body: &str) -> u64 {
    (raw_body.len() as u64).div_ceil(4)
}

/// Completion (output) tokens the fake reports for a reply:
/// `ceil((text bytes + Σ (name bytes + argument bytes)) / 4)`.
pub fn completion_tokens(text: Option<&str>, calls: &[(String, String)]) -> u64 {
    let bytes = text.map_or(0, str::len)
        + calls
            .iter()
            .map(|(name, args)| name.len() + args.len())
            .sum::<usize>();
    (bytes as u64).div_ceil(4)
}

/// The id the fake gives tool call `index` (0-based) of the `reply_number`-th (1-based) scripted
/// reply: `call_<reply>_<index>` for OpenAI, `toolu_<reply>_<index>` for Anthropic.
pub fn call_id(protocol: Protocol, reply_number: usize, index: usize) -> String {
    match protocol {
        Protocol::OpenAi => format!("call_{reply_number}_{index}"),
        Protocol::Anthropic => format!("toolu_{reply_number}_{index}"),
    }
}

/// Splits `s` into several pieces as a real server streams tokens: pieces of
/// `max(3, ceil(len / 32))` bytes (so at most ~32 deltas even for huge texts), cut on char
/// boundaries. A non-empty string of 2+ bytes always yields at least two pieces.
pub(crate) fn split_pieces(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut size = s.len().div_ceil(32).max(3);
    if s.len() <= size && s.len() >= 2 {
        size = s.len().div_ceil(2);
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < s.len() {
        let mut end = (start + size).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        out.push(&s[start..end]);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_text_has_exact_length() {
        for n in [0, 1, 10, 1000, 123_457] {
            assert_eq!(huge_text(n).len(), n);
        }
        assert!(huge_text(100).starts_with("line 000001: lorem"));
    }

    #[test]
    fn pieces_reassemble_and_split() {
        for s in [
            "ab",
            "Hello, world!",
            "héllo wörld ünïcode ✓✓✓",
            &huge_text(10_000),
        ] {
            let pieces = split_pieces(s);
            assert!(pieces.len() >= 2, "{s:?} gave {pieces:?}");
            assert!(pieces.len() <= 40);
            assert_eq!(pieces.concat(), s);
        }
        assert_eq!(split_pieces("x"), vec!["x"]);
        assert!(split_pieces("").is_empty());
    }

    #[test]
    fn delays_add_up() {
        let r = Reply::delayed(
            Duration::from_millis(5),
            Reply::delayed(Duration::from_millis(7), Reply::text("hi")),
        );
        let (d, plan) = r.plan();
        assert_eq!(d, Duration::from_millis(12));
        assert_eq!(
            plan,
            Plan::Message {
                text: Some("hi".into()),
                calls: vec![]
            }
        );
    }

    #[test]
    fn truncation_is_seen_through_delays() {
        let r = Reply::delayed(Duration::from_millis(1), Reply::Truncated("cut".into()));
        assert!(r.is_truncated());
        assert!(!Reply::text("x").is_truncated());
    }

    #[test]
    fn token_counts_are_bytes_over_four() {
        assert_eq!(prompt_tokens(""), 0);
        assert_eq!(prompt_tokens("abcde"), 2);
        assert_eq!(
            completion_tokens(Some("abcd"), &[("exec".into(), "{}".into())]),
            3
        );
    }
}
