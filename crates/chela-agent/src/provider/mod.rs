//! Model providers: OpenAI-compatible Chat Completions and Anthropic Messages.
//!
//! Both adapters turn the loop's history into the provider's wire format, send it through
//! `chela-net` (credential attached at the boundary), decode streamed or whole replies into one
//! [`ModelReply`], retry transient failures with backoff and fall back through the configured
//! model list. Provider failures become [`ProviderError`]s whose messages tell the user what to do.

mod anthropic;
mod openai;
pub mod sse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chela_net::{Credential, NetClient, NetError, Request};
use chela_types::{Message, ToolCall, ToolSpec, Usage};

use crate::config::{ProviderConfig, ProviderKind};

/// What the loop asks a provider.
#[derive(Debug, Clone, Copy)]
pub struct ModelRequest<'a> {
    /// System prompt.
    pub system: &'a str,
    /// Conversation so far (no system messages).
    pub messages: &'a [Message],
    /// Tools offered.
    pub tools: &'a [ToolSpec],
}

/// One model reply, reassembled if it was streamed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelReply {
    /// Assistant text.
    pub text: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Token usage (zero when the server reports none).
    pub usage: Usage,
    /// Model that produced the reply.
    pub model: String,
    /// Why generation stopped, as the provider said.
    pub finish_reason: Option<String>,
}

/// Provider failures, each with a message a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 401/403.
    #[error("the provider rejected the API key (HTTP {status}); check api_key_env / the vault entry{}", detail_suffix(.detail))]
    Auth {
        /// HTTP status.
        status: u16,
        /// Provider message.
        detail: String,
    },
    /// The prompt is longer than the model's context window.
    #[error("the conversation no longer fits the model's context window ({detail}); start a new session (`/new` in chat, or another --session) or use a model with a longer context")]
    ContextLength {
        /// Provider message.
        detail: String,
    },
    /// 404: wrong base URL or model name.
    #[error("the provider answered HTTP 404 for model {model:?} at {url}: {detail}; check provider.base_url (OpenAI-compatible servers need the /v1 suffix) and provider.model")]
    NotFound {
        /// Model requested.
        model: String,
        /// URL requested.
        url: String,
        /// Provider message.
        detail: String,
    },
    /// Other 4xx: the request was refused.
    #[error("the provider refused the request (HTTP {status}): {detail}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Provider message.
        detail: String,
    },
    /// 429/5xx after all retries.
    #[error("the provider kept failing (HTTP {status}) after {attempts} attempts: {detail}")]
    Unavailable {
        /// Last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Provider message.
        detail: String,
    },
    /// Transport failure after all retries (or a non-retryable one).
    #[error("{0}")]
    Net(#[from] NetError),
    /// The provider's reply could not be understood.
    #[error("the provider sent a reply Chela could not understand: {0}")]
    Protocol(String),
    /// No credential could be found.
    #[error("{0}")]
    Credential(String),
}

fn detail_suffix(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(" (provider said: {d})")
    }
}

impl ProviderError {
    /// Whether trying the next fallback model may help.
    fn worth_fallback(&self) -> bool {
        matches!(
            self,
            ProviderError::Unavailable { .. }
                | ProviderError::NotFound { .. }
                | ProviderError::Net(_)
        )
    }
}

/// A configured provider with its fallback models.
pub struct Provider {
    kind: ProviderKind,
    endpoint: String,
    models: Vec<String>,
    credential: Option<Credential>,
    net: Arc<NetClient>,
    timeout: Duration,
    max_retries: u32,
    stream: bool,
    max_output_tokens: Option<u64>,
}

/// Observer of a request's progress: streamed text and retry notices.
pub trait ReplyObserver {
    /// A piece of assistant text arrived.
    fn text_delta(&mut self, _text: &str) {}
    /// A retry or fallback is about to happen.
    fn notice(&mut self, _message: &str) {}
    /// A request attempt finished (ok or not), for auditing.
    fn attempt(
        &mut self,
        _model: &str,
        _result: Result<&ModelReply, &ProviderError>,
        _elapsed: Duration,
    ) {
    }
}

impl Provider {
    /// Builds a provider from config; `api_key` is the resolved secret (if any).
    pub fn new(
        cfg: &ProviderConfig,
        api_key: Option<String>,
        net: Arc<NetClient>,
    ) -> Result<Provider, ProviderError> {
        let base = cfg.base_url.trim_end_matches('/');
        let endpoint = match cfg.kind {
            ProviderKind::Openai => format!("{base}/chat/completions"),
            ProviderKind::Anthropic if base.ends_with("/v1") => format!("{base}/messages"),
            ProviderKind::Anthropic => format!("{base}/v1/messages"),
        };
        let host = chela_policy::url_host(&endpoint).ok_or_else(|| {
            ProviderError::Credential(format!("provider.base_url {:?} has no host", cfg.base_url))
        })?;
        let credential = api_key.map(|key| match cfg.kind {
            ProviderKind::Openai => Credential {
                host: host.clone(),
                header: "authorization".into(),
                value: format!("Bearer {key}"),
            },
            ProviderKind::Anthropic => Credential {
                host: host.clone(),
                header: "x-api-key".into(),
                value: key,
            },
        });
        let mut models = vec![cfg.model.clone()];
        models.extend(cfg.fallback_models.iter().cloned());
        Ok(Provider {
            kind: cfg.kind,
            endpoint,
            models,
            credential,
            net,
            timeout: Duration::from_secs(cfg.timeout_s),
            max_retries: cfg.max_retries,
            stream: cfg.stream,
            max_output_tokens: cfg.max_output_tokens,
        })
    }

    /// The provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The main model name.
    pub fn model(&self) -> &str {
        &self.models[0]
    }

    /// Sends `req`, retrying and falling back as configured.
    pub async fn complete(
        &self,
        req: ModelRequest<'_>,
        obs: &mut dyn ReplyObserver,
    ) -> Result<ModelReply, ProviderError> {
        let mut last_err = None;
        for (i, model) in self.models.iter().enumerate() {
            if i > 0 {
                obs.notice(&format!("falling back to model {model}"));
            }
            match self.complete_with_retries(model, req, obs).await {
                Ok(r) => return Ok(r),
                Err(e) if e.worth_fallback() && i + 1 < self.models.len() => {
                    obs.notice(&format!("model {model} failed: {e}"));
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ProviderError::Protocol("no model configured".into())))
    }

    async fn complete_with_retries(
        &self,
        model: &str,
        req: ModelRequest<'_>,
        obs: &mut dyn ReplyObserver,
    ) -> Result<ModelReply, ProviderError> {
        let body = match self.kind {
            ProviderKind::Openai => {
                openai::request_body(model, req, self.stream, self.max_output_tokens)
            }
            ProviderKind::Anthropic => {
                anthropic::request_body(model, req, self.stream, self.max_output_tokens)
            }
        };
        let body = serde_json::to_vec(&body).map_err(|e| ProviderError::Protocol(e.to_string()))?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = self.attempt(model, &body, obs).await;
            obs.attempt(
                model,
                result.as_ref().map_err(|(e, _)| e),
                started.elapsed(),
            );
            match result {
                Ok(reply) => return Ok(reply),
                Err((e, retry_after)) => {
                    let retryable = match &e {
                        ProviderError::Unavailable { .. } => true,
                        ProviderError::Net(n) => n.is_retryable(),
                        _ => false,
                    };
                    if !retryable || attempt > self.max_retries {
                        return Err(match e {
                            ProviderError::Unavailable { status, detail, .. } => {
                                ProviderError::Unavailable {
                                    status,
                                    attempts: attempt,
                                    detail,
                                }
                            }
                            other => other,
                        });
                    }
                    let backoff = retry_after.unwrap_or_else(|| backoff_delay(attempt));
                    obs.notice(&format!(
                        "{e}; retrying in {:.1}s (attempt {}/{})",
                        backoff.as_secs_f64(),
                        attempt + 1,
                        self.max_retries + 1
                    ));
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        model: &str,
        body: &[u8],
        obs: &mut dyn ReplyObserver,
    ) -> Result<ModelReply, (ProviderError, Option<Duration>)> {
        let mut request = Request::post_json(self.endpoint.clone(), body.to_vec(), self.timeout);
        request.credential = self.credential.clone();
        if self.kind == ProviderKind::Anthropic {
            request
                .headers
                .push(("anthropic-version".into(), "2023-06-01".into()));
        }
        if self.stream {
            request
                .headers
                .push(("accept".into(), "text/event-stream".into()));
        }
        let mut resp = self.net.send(request).await.map_err(|e| (e.into(), None))?;
        if resp.status >= 400 {
            let retry_after = resp
                .header("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 30.0)));
            let status = resp.status;
            let body = resp.bytes(self.timeout).await.unwrap_or_default();
            return Err((self.classify_error(model, status, &body), retry_after));
        }
        let is_sse = resp
            .header("content-type")
            .is_some_and(|c| c.contains("text/event-stream"));
        let reply = if is_sse {
            let mut decoder = sse::SseDecoder::default();
            let mut acc = match self.kind {
                ProviderKind::Openai => StreamAcc::OpenAi(openai::StreamState::default()),
                ProviderKind::Anthropic => StreamAcc::Anthropic(anthropic::StreamState::default()),
            };
            let mut done = false;
            while !done {
                let chunk = resp
                    .chunk(self.timeout)
                    .await
                    .map_err(|e| (e.into(), None))?;
                let events = match &chunk {
                    Some(c) => decoder.feed(c),
                    None => {
                        done = true;
                        decoder.finish().into_iter().collect()
                    }
                };
                for ev in events {
                    let finished = match &mut acc {
                        StreamAcc::OpenAi(s) => s.on_event(&ev, obs),
                        StreamAcc::Anthropic(s) => s.on_event(&ev, obs),
                    }
                    .map_err(|e| {
                        let retry = matches!(e, ProviderError::Unavailable { .. });
                        (e, if retry { Some(backoff_delay(1)) } else { None })
                    })?;
                    if finished {
                        done = true;
                    }
                }
            }
            match acc {
                StreamAcc::OpenAi(s) => s.finish(model),
                StreamAcc::Anthropic(s) => s.finish(model),
            }
            .map_err(|e| (e, None))?
        } else {
            let body = resp
                .bytes(self.timeout)
                .await
                .map_err(|e| (e.into(), None))?;
            let reply = match self.kind {
                ProviderKind::Openai => openai::parse_reply(model, &body),
                ProviderKind::Anthropic => anthropic::parse_reply(model, &body),
            }
            .map_err(|e| (e, None))?;
            if !reply.text.is_empty() {
                obs.text_delta(&reply.text);
            }
            reply
        };
        Ok(reply)
    }

    fn classify_error(&self, model: &str, status: u16, body: &[u8]) -> ProviderError {
        let detail = error_message(body);
        let lower = detail.to_lowercase();
        let context = lower.contains("context_length_exceeded")
            || lower.contains("context length")
            || lower.contains("context window")
            || lower.contains("maximum context")
            || lower.contains("prompt is too long")
            || lower.contains("too many tokens")
            || lower.contains("input is too long");
        match status {
            401 | 403 => ProviderError::Auth { status, detail },
            404 => ProviderError::NotFound {
                model: model.to_string(),
                url: self.endpoint.clone(),
                detail,
            },
            400 | 413 | 422 if context => ProviderError::ContextLength { detail },
            408 | 409 | 425 | 429 | 500..=599 => ProviderError::Unavailable {
                status,
                attempts: 1,
                detail,
            },
            _ => ProviderError::Rejected { status, detail },
        }
    }
}

enum StreamAcc {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
}

/// Exponential backoff: 0.5 s, 1 s, 2 s, … capped at 8 s, with a little jitter.
fn backoff_delay(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(4));
    let jitter = (Instant::now().elapsed().subsec_nanos() as u64 ^ std::process::id() as u64) % 100;
    Duration::from_millis(base.min(8000) + jitter)
}

/// The human part of a provider error body (OpenAI and Anthropic shapes), bounded in length.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let msg = parsed.as_ref().and_then(|v| {
        let e = v.get("error")?;
        let m = e
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| e.as_str())?;
        let code = e
            .get("code")
            .and_then(|c| c.as_str())
            .or_else(|| e.get("type").and_then(|t| t.as_str()));
        Some(match code {
            Some(c) if !m.contains(c) => format!("{m} [{c}]"),
            _ => m.to_string(),
        })
    });
    let mut out = msg.unwrap_or_else(|| text.trim().to_string());
    if out.len() > 500 {
        let mut cut = 500;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_both_shapes() {
        assert_eq!(error_message(br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#), "bad key [invalid_api_key]");
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded [overloaded_error]"
        );
        assert_eq!(error_message(b"plain text"), "plain text");
    }
}
