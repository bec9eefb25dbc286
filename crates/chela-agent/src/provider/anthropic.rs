//! Anthropic Messages wire format.

use serde_json::{json, Value};

use super::sse::SseEvent;
use super::{ModelReply, ModelRequest, ProviderError, ReplyObserver};
use chela_types::{Role, ToolCall, Usage};

/// Default `max_tokens` (the API requires one).
const DEFAULT_MAX_TOKENS: u64 = 8192;

/// Appends a content block to the last message if it has `role`, else starts a new message.
fn push_block(messages: &mut Vec<Value>, role: &str, block: Value) {
    if let Some(last) = messages.last_mut() {
        if last["role"] == role {
            if let Some(arr) = last["content"].as_array_mut() {
                arr.push(block);
                return;
            }
        }
    }
    messages.push(json!({"role": role, "content": [block]}));
}

/// The JSON body of a `/v1/messages` request.
pub(super) fn request_body(
    model: &str,
    req: ModelRequest<'_>,
    stream: bool,
    max_tokens: Option<u64>,
) -> Value {
    let mut messages: Vec<Value> = Vec::with_capacity(req.messages.len());
    let mut system = req.system.to_string();
    for m in req.messages {
        match m.role {
            Role::System => {
                system.push_str("\n\n");
                system.push_str(&m.content);
            }
            Role::User => push_block(
                &mut messages,
                "user",
                json!({"type": "text", "text": m.content}),
            ),
            Role::Assistant => {
                if !m.content.is_empty() {
                    push_block(
                        &mut messages,
                        "assistant",
                        json!({"type": "text", "text": m.content}),
                    );
                }
                for c in &m.tool_calls {
                    // tool_use.input must be an object; invalid arguments were already reported
                    // to the model as an error result, so an empty object stands in here.
                    let input = serde_json::from_str::<Value>(&c.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    push_block(
                        &mut messages,
                        "assistant",
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
            }
            Role::Tool => push_block(
                &mut messages,
                "user",
                json!({"type": "tool_result", "tool_use_id": m.tool_call_id.clone().unwrap_or_default(), "content": m.content}),
            ),
        }
    }
    let mut body = json!({
        "model": model,
        "max_tokens": max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "system": system,
        "messages": messages,
        "stream": stream,
    });
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn usage_into(u: &Value, usage: &mut Usage) {
    if let Some(n) = u.get("input_tokens").and_then(Value::as_u64) {
        usage.input_tokens = n
            + u.get("cache_read_input_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0)
            + u.get("cache_creation_input_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
    }
    if let Some(n) = u.get("output_tokens").and_then(Value::as_u64) {
        usage.output_tokens = n;
    }
}

/// Decodes a non-streamed reply.
pub(super) fn parse_reply(model: &str, body: &[u8]) -> Result<ModelReply, ProviderError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Protocol(format!("invalid JSON body: {e}")))?;
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Protocol("reply has no content array".into()))?;
    let mut reply = ModelReply {
        model: v
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(model)
            .to_string(),
        ..Default::default()
    };
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => reply
                .text
                .push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => reply.tool_calls.push(ToolCall {
                id: block
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                name: block
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                arguments: block
                    .get("input")
                    .map(Value::to_string)
                    .unwrap_or_else(|| "{}".into()),
            }),
            _ => {}
        }
    }
    if let Some(u) = v.get("usage") {
        usage_into(u, &mut reply.usage);
    }
    reply.finish_reason = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(reply)
}

enum Block {
    Text,
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Accumulates a streamed reply.
#[derive(Default)]
pub(super) struct StreamState {
    text: String,
    blocks: Vec<(u64, Block)>,
    usage: Usage,
    model: Option<String>,
    stop: Option<String>,
}

impl StreamState {
    fn block(&mut self, index: u64) -> Option<&mut Block> {
        self.blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
    }

    /// Handles one SSE event; returns true at `message_stop`.
    pub(super) fn on_event(
        &mut self,
        ev: &SseEvent,
        obs: &mut dyn ReplyObserver,
    ) -> Result<bool, ProviderError> {
        let v: Value = match serde_json::from_str(&ev.data) {
            Ok(v) => v,
            Err(e) => {
                return Err(ProviderError::Protocol(format!(
                    "invalid JSON in stream: {e}"
                )))
            }
        };
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event.as_deref())
            .unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(m) = v.get("message") {
                    self.model = m.get("model").and_then(Value::as_str).map(str::to_string);
                    if let Some(u) = m.get("usage") {
                        usage_into(u, &mut self.usage);
                    }
                }
            }
            "content_block_start" => {
                let index = v
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(self.blocks.len() as u64);
                let cb = v.get("content_block").unwrap_or(&Value::Null);
                let block = match cb.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = cb
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            self.text.push_str(t);
                            obs.text_delta(t);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::ToolUse {
                        id: cb
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        name: cb
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = v.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let t = delta.get("text").and_then(Value::as_str).unwrap_or("");
                        self.text.push_str(t);
                        obs.text_delta(t);
                    }
                    Some("input_json_delta") => {
                        let p = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if let Some(Block::ToolUse { json, .. }) = self.block(index) {
                            json.push_str(p);
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(s) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop = Some(s.to_string());
                }
                if let Some(u) = v.get("usage") {
                    usage_into(u, &mut self.usage);
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let e = v.get("error").unwrap_or(&Value::Null);
                let detail = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("stream error")
                    .to_string();
                let etype = e.get("type").and_then(Value::as_str).unwrap_or("");
                return Err(match etype {
                    "overloaded_error" | "api_error" | "rate_limit_error" => {
                        ProviderError::Unavailable {
                            status: 529,
                            attempts: 1,
                            detail,
                        }
                    }
                    "invalid_request_error" if detail.contains("too long") => {
                        ProviderError::ContextLength { detail }
                    }
                    _ => ProviderError::Rejected {
                        status: 400,
                        detail,
                    },
                });
            }
            _ => {}
        }
        Ok(false)
    }

    /// The reassembled reply.
    pub(super) fn finish(self, model: &str) -> Result<ModelReply, ProviderError> {
        let tool_calls = self
            .blocks
            .into_iter()
            .filter_map(|(_, b)| match b {
                Block::ToolUse { id, name, json } => Some(ToolCall {
                    id,
                    name,
                    arguments: if json.is_empty() { "{}".into() } else { json },
                }),
                _ => None,
            })
            .collect();
        Ok(ModelReply {
            text: self.text,
            tool_calls,
            usage: self.usage,
            model: self.model.unwrap_or_else(|| model.to_string()),
            finish_reason: self.stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chela_types::Message;

    struct Sink;
    impl ReplyObserver for Sink {}

    #[test]
    fn tool_results_merge_into_one_user_turn() {
        let mut a = Message::text(Role::Assistant, "let me look");
        a.tool_calls.push(ToolCall {
            id: "t1".into(),
            name: "read".into(),
            arguments: "{\"path\":\"a\"}".into(),
        });
        a.tool_calls.push(ToolCall {
            id: "t2".into(),
            name: "read".into(),
            arguments: "not json".into(),
        });
        let msgs = vec![
            Message::text(Role::User, "go"),
            a,
            Message::tool_result("t1", "A"),
            Message::tool_result("t2", "B"),
        ];
        let b = request_body(
            "claude",
            ModelRequest {
                system: "sys",
                messages: &msgs,
                tools: &[],
            },
            false,
            None,
        );
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1]["content"][1]["type"], "tool_use");
        assert_eq!(m[1]["content"][2]["input"], json!({}));
        assert_eq!(m[2]["content"].as_array().unwrap().len(), 2);
        assert_eq!(b["max_tokens"], 8192);
        assert_eq!(b["system"], "sys");
    }

    #[test]
    fn stream_reassembles_tool_use() {
        let mut s = StreamState::default();
        let evs = [
            r#"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"exec","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"command\":"}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"ls\"}"}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}"#,
        ];
        for e in evs {
            assert!(!s
                .on_event(
                    &SseEvent {
                        event: None,
                        data: e.into()
                    },
                    &mut Sink
                )
                .unwrap());
        }
        assert!(s
            .on_event(
                &SseEvent {
                    event: None,
                    data: r#"{"type":"message_stop"}"#.into()
                },
                &mut Sink
            )
            .unwrap());
        let r = s.finish("m").unwrap();
        assert_eq!(r.text, "Hi");
        assert_eq!(r.tool_calls[0].arguments, "{\"command\":\"ls\"}");
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 12
            }
        );
        assert_eq!(r.model, "claude-x");
    }

    #[test]
    fn overloaded_stream_error_is_retryable() {
        let mut s = StreamState::default();
        let e = s.on_event(&SseEvent { event: Some("error".into()), data: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into() }, &mut Sink).unwrap_err();
        assert!(matches!(e, ProviderError::Unavailable { .. }));
    }
}
