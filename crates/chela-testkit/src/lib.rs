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
