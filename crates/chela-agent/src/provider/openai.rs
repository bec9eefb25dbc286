//! OpenAI Chat Completions wire format (also DeepSeek, Qwen/DashScope, vLLM, llama.cpp, Ollama).

use serde_json::{json, Value};

use super::sse::SseEvent;
use super::{ModelReply, ModelRequest, ProviderError, ReplyObserver};
use chela_types::{Role, ToolCall, Usage};

/// The JSON body of a `/chat/completions` request.
pub(super) fn request_body(
    model: &str,
    req: ModelRequest<'_>,
    stream: bool,
    max_tokens: Option<u64>,
) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    messages.push(json!({"role": "system", "content": req.system}));
    for m in req.messages {
        let v = match m.role {
            Role::System => json!({"role": "system", "content": m.content}),
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Assistant if m.tool_calls.is_empty() => {
                json!({"role": "assistant", "content": m.content})
            }
            Role::Assistant => {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
                let content = if m.content.is_empty() {
                    Value::Null
                } else {
                    Value::String(m.content.clone())
                };
                json!({"role": "assistant", "content": content, "tool_calls": calls})
            }
            Role::Tool => {
                json!({"role": "tool", "tool_call_id": m.tool_call_id.clone().unwrap_or_default(), "content": m.content})
            }
        };
        messages.push(v);
    }
    let mut body = json!({"model": model, "messages": messages, "stream": stream});
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(n) = max_tokens {
        body["max_tokens"] = json!(n);
    }
    body
}

fn usage_of(v: &Value) -> Usage {
    Usage {
        input_tokens: v.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: v
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    }
}

/// Decodes a non-streamed reply.
pub(super) fn parse_reply(model: &str, body: &[u8]) -> Result<ModelReply, ProviderError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Protocol(format!("invalid JSON body: {e}")))?;
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| ProviderError::Protocol("reply has no choices[0]".into()))?;
    let msg = choice
        .get("message")
        .ok_or_else(|| ProviderError::Protocol("choices[0] has no message".into()))?;
    let text = msg
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut tool_calls = Vec::new();
    if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
        for (i, c) in calls.iter().enumerate() {
            let f = c.get("function").unwrap_or(&Value::Null);
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            tool_calls.push(ToolCall {
                id: c
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("call_{i}")),
                name: f
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                arguments,
            });
        }
    }
    Ok(ModelReply {
        text,
        tool_calls,
        usage: v.get("usage").map(usage_of).unwrap_or_default(),
        model: v
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(model)
            .to_string(),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Accumulates a streamed reply.
#[derive(Default)]
pub(super) struct StreamState {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    model: Option<String>,
    finish: Option<String>,
}

impl StreamState {
    /// Handles one SSE event; returns true at `[DONE]`.
    pub(super) fn on_event(
        &mut self,
        ev: &SseEvent,
        obs: &mut dyn ReplyObserver,
    ) -> Result<bool, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("invalid JSON in stream: {e}")))?;
        if let Some(err) = v.get("error") {
            let detail = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("stream error")
                .to_string();
            return Err(ProviderError::Unavailable {
                status: 500,
                attempts: 1,
                detail,
            });
        }
        if let Some(m) = v.get("model").and_then(Value::as_str) {
            self.model = Some(m.to_string());
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            self.usage = usage_of(u);
        }
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else {
            return Ok(false);
        };
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_string());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(false);
        };
        if let Some(t) = delta.get("content").and_then(Value::as_str) {
            if !t.is_empty() {
                self.text.push_str(t);
                obs.text_delta(t);
            }
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (pos, c) in calls.iter().enumerate() {
                // Servers that omit `index` send whole calls; treat each as a new one.
                let index = match c.get("index").and_then(Value::as_u64) {
                    Some(i) => i as usize,
                    None => self.calls.len() + pos,
                };
                if index > 1024 {
                    return Err(ProviderError::Protocol(format!(
                        "tool call index {index} is implausible"
                    )));
                }
                while self.calls.len() <= index {
                    self.calls.push(PartialCall::default());
                }
                let slot = &mut self.calls[index];
                if let Some(id) = c
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    slot.id = id.to_string();
                }
                if let Some(f) = c.get("function") {
                    if let Some(n) = f.get("name").and_then(Value::as_str) {
                        slot.name.push_str(n);
                    }
                    match f.get("arguments") {
                        Some(Value::String(a)) => slot.arguments.push_str(a),
                        Some(Value::Null) | None => {}
                        Some(other) => slot.arguments.push_str(&other.to_string()),
                    }
                }
            }
        }
        Ok(false)
    }

    /// The reassembled reply.
    pub(super) fn finish(self, model: &str) -> Result<ModelReply, ProviderError> {
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .filter(|(_, c)| !c.name.is_empty() || !c.arguments.is_empty())
            .map(|(i, c)| ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{i}")
                } else {
                    c.id
                },
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        Ok(ModelReply {
            text: self.text,
            tool_calls,
            usage: self.usage,
            model: self.model.unwrap_or_else(|| model.to_string()),
            finish_reason: self.finish,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chela_types::{Message, ToolSpec};

    struct Sink(String);
    impl ReplyObserver for Sink {
        fn text_delta(&mut self, t: &str) {
            self.0.push_str(t);
        }
    }

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }

    #[test]
    fn body_shapes_history() {
        let mut a = Message::text(Role::Assistant, "");
        a.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "exec".into(),
            arguments: "{\"command\":\"ls\"}".into(),
        });
        let msgs = vec![
            Message::text(Role::User, "hi"),
            a,
            Message::tool_result("c1", "out"),
        ];
        let tools = vec![ToolSpec {
            name: "exec".into(),
            description: "d".into(),
            parameters: json!({"type":"object"}),
        }];
        let b = request_body(
            "m",
            ModelRequest {
                system: "sys",
                messages: &msgs,
                tools: &tools,
            },
            true,
            Some(100),
        );
        assert_eq!(b["messages"][0]["role"], "system");
        assert_eq!(b["messages"][2]["content"], Value::Null);
        assert_eq!(
            b["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"command\":\"ls\"}"
        );
        assert_eq!(b["messages"][3]["tool_call_id"], "c1");
        assert_eq!(b["tools"][0]["type"], "function");
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["max_tokens"], 100);
    }

    #[test]
    fn stream_reassembles_parallel_tool_calls() {
        let mut s = StreamState::default();
        let mut sink = Sink(String::new());
        for d in [
            r#"{"model":"m1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"write","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"exec","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#,
        ] {
            assert!(!s.on_event(&ev(d), &mut sink).unwrap());
        }
        assert!(s.on_event(&ev("[DONE]"), &mut sink).unwrap());
        let r = s.finish("m").unwrap();
        assert_eq!(sink.0, "Hello");
        assert_eq!(r.model, "m1");
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].arguments, "{\"path\":1}");
        assert_eq!(r.tool_calls[1].name, "exec");
        assert_eq!(r.usage.input_tokens, 7);
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(parse_reply("m", b"not json").is_err());
        assert!(parse_reply("m", b"{}").is_err());
        assert!(parse_reply("m", br#"{"choices":[{}]}"#).is_err());
        let r = parse_reply("m", br#"{"choices":[{"message":{"content":null,"tool_calls":[{"function":{"name":"x","arguments":{"a":1}}}]}}]}"#).unwrap();
        assert_eq!(r.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(r.tool_calls[0].id, "call_0");
        let mut s = StreamState::default();
        assert!(s.on_event(&ev("{oops"), &mut Sink(String::new())).is_err());
    }
}
