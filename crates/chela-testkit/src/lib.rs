//! Test-only kit for Chela: fake model providers that speak the real wire protocols, temp homes,
//! and `chela` commands that run as an unprivileged user.
//!
//! No test reaches beyond loopback: [`FakeServer`] listens on `127.0.0.1:0`, answers
//! OpenAI Chat Completions (`POST /v1/chat/completions`) or Anthropic Messages
//! (`POST /v1/messages`) requests with a scripted conversation ([`Reply`]s, in order), in JSON or
//! as an SSE stream when the request says `"stream": true`, and records every request so tests
//! can assert what the model was shown.
//!
//! ```no_run
//! use chela_testkit::{FakeServer, Protocol, Reply};
//! let server = FakeServer::start(Protocol::OpenAi, vec![
//!     Reply::tool_call("exec", r#"{"command":"ls"}"#),
//!     Reply::text("done"),
//! ]);
//! // configure the client with server.base_url(), run it, then:
//! assert_eq!(server.remaining(), 0);
//! let first = &server.requests()[0];
//! assert_eq!(first.body["model"], "fake-model");
//! ```
//!
//! Requests the real API would reject (malformed JSON, missing `model` / `messages` /
//! `max_tokens`, missing auth or `anthropic-version`, tool results that answer no call, …) get the
//! provider's real 4xx error and do not consume a scripted reply. When the script runs out, the
//! fake answers 500 with a message saying so.
//!
//! # Wire details tests can rely on
//! - A scripted reply is taken when its request arrives (before any [`Reply::Delay`]), so a
//!   client that times out and retries gets the next reply.
//! - Tool-call ids: `call_<reply>_<index>` (OpenAI) / `toolu_<reply>_<index>` (Anthropic), with
//!   `<reply>` the 1-based number of the scripted reply and `<index>` the 0-based call index
//!   ([`call_id`]).
//! - Usage: prompt tokens = `ceil(request body bytes / 4)` ([`prompt_tokens`]); completion
//!   tokens = `ceil((text bytes + Σ name and argument bytes) / 4)` ([`completion_tokens`]).
//!   OpenAI streams report usage only when `stream_options.include_usage` is true, in a final
//!   chunk with `"choices": []` (earlier chunks carry `"usage": null`); Anthropic reports it in
//!   `message_start` (input) and `message_delta` (output).
//! - Streaming: text and tool arguments are cut into several deltas of
//!   `max(3, ceil(len / 32))` bytes on char boundaries. Each SSE event is written in two
//!   pieces, split mid-event (possibly inside a UTF-8 character), so clients must buffer bytes
//!   across reads as they must with a real network. Sockets use `TCP_NODELAY`.
//! - OpenAI stream: a role chunk (`content: ""`, or `null` when the reply only calls tools),
//!   content chunks, per call a chunk with `index`, `id`, `type`, `function.name` and
//!   `arguments: ""` followed by argument-fragment chunks carrying only `index` and
//!   `function.arguments`, a finish chunk (`delta: {}`, `finish_reason` `stop` or `tool_calls`),
//!   the optional usage chunk, then `data: [DONE]`.
//! - Anthropic stream: `message_start`, per block `content_block_start` (text `""` or tool_use
//!   with `input: {}`) → deltas (`text_delta` / `input_json_delta`) → `content_block_stop`, one
//!   `ping` after the first block start, `message_delta` (`stop_reason` `end_turn` or
//!   `tool_use`, `usage.output_tokens`), `message_stop`.
//! - Anthropic non-streaming `tool_use.input` is the arguments parsed as JSON; arguments that are
//!   not valid JSON are passed as a JSON string (the real API would never send that, but it lets a
//!   test script malformed tool input). The fake, like the real API, rejects a request whose
//!   `tool_use.input` is not an object, so a client must not replay malformed input verbatim.

mod anthropic;
mod home;
mod openai;
mod script;
mod server;
mod wire;

pub use anthropic::ANTHROPIC_VERSIONS;
pub use home::{
    chela_command, child_env, run_as_unprivileged, TestHome, CHILD_PATH, UNPRIVILEGED_ID,
};
pub use script::{
    call_id, completion_tokens, huge_text, prompt_tokens, Protocol, Reply, CONTEXT_LENGTH_EXCEEDED,
};
pub use server::{ApiKey, FakeServer, Options, RecordedRequest, MAX_REQUEST_BYTES};
