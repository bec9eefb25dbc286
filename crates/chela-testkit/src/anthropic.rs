//! Anthropic Messages: header and request validation, responses, SSE events and error bodies.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::script::{completion_tokens, split_pieces, Plan, CONTEXT_LENGTH_EXCEEDED};
use crate::server::{ApiKey, RenderCtx, Validated};
use crate::wire::{sse_event, type_name, valid_tool_name, ApiError, End, OutBody, Outgoing};

/// `anthropic-version` values the API accepts.
pub const ANTHROPIC_VERSIONS: [&str; 2] = ["2023-06-01", "2023-01-01"];

/// Checks `x-api-key` and `anthropic-version` as the Messages API does.
pub(crate) fn check_headers(headers: &[(String, String)], key: &ApiKey) -> Result<(), ApiError> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    };
    if !matches!(key, ApiKey::NotRequired) {
        match get("x-api-key") {
            Some(k) if !k.is_empty() => {
                if let ApiKey::Exact(want) = key {
                    if k != want {
                        return Err(ApiError::new(401, "invalid x-api-key"));
                    }
                }
            }
            _ => return Err(ApiError::new(401, "x-api-key header is required")),
        }
    }
    match get("anthropic-version") {
        None => Err(ApiError::new(400, "anthropic-version: header is required")),
        Some(v) if !ANTHROPIC_VERSIONS.contains(&v) => Err(ApiError::new(
            400,
            format!(
                "anthropic-version: invalid version {v:?}; use one of {}",
                ANTHROPIC_VERSIONS.join(", ")
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The error `type` Anthropic uses for an HTTP status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Renders an error in Anthropic's shape: `{"type":"error","error":{"type","message"}}`.
pub(crate) fn error(e: &ApiError) -> Outgoing {
    let message = if e.status == 400 && e.message == CONTEXT_LENGTH_EXCEEDED {
        "prompt is too long: 210000 tokens > 200000 maximum".to_string()
    } else {
        e.message.clone()
    };
    let mut out = Outgoing::json(
        e.status,
        json!({
            "type": "error",
            "error": {"type": error_type(e.status), "message": message},
            "request_id": "req_chela_testkit"
        }),
    );
    if e.status == 429 {
        out = out.with_header("retry-after", "0");
    }
    out
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(400, message)
}

/// Validates a Messages request body as the real API does.
pub(crate) fn validate(raw: &str) -> Result<Validated, ApiError> {
    let body: Value = serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "There was an error parsing the body of your request: {e}"
        ))
    })?;
    let Some(obj) = body.as_object() else {
        return Err(bad(format!(
            "Input should be a valid dictionary, got {}",
            type_name(&body)
        )));
    };
    let model = match obj.get("model") {
        None => return Err(bad("model: Field required")),
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err(bad("model: Input should be a valid string")),
    };
    match obj.get("max_tokens") {
        None => return Err(bad("max_tokens: Field required")),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => {}
            Some(_) => {
                return Err(bad(
                    "max_tokens: Input should be greater than or equal to 1",
                ))
            }
            None => return Err(bad("max_tokens: Input should be a valid integer")),
        },
    }
    let messages = match obj.get("messages") {
        None => return Err(bad("messages: Field required")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("messages: Input should be a valid list")),
    };
    if messages.is_empty() {
        return Err(bad("messages: at least one message is required"));
    }
    validate_messages(messages)?;
    if let Some(v) = obj.get("temperature") {
        if !v.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) {
            return Err(bad(
                "temperature: Input should be a number between 0 and 1 (inclusive)",
            ));
        }
    }
    match obj.get("system") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => {
            for (i, b) in blocks.iter().enumerate() {
                if b.get("type").and_then(Value::as_str) != Some("text")
                    || !b.get("text").is_some_and(Value::is_string)
                {
                    return Err(bad(format!(
                        "system.{i}: system blocks must be text blocks with a `text` string"
                    )));
                }
            }
        }
        Some(_) => return Err(bad("system: Input should be a valid string or list")),
    }
    if let Some(tools) = obj.get("tools") {
        validate_tools(tools)?;
    }
    let stream = match obj.get("stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("stream: Input should be a valid boolean")),
    };
    Ok(Validated {
        model,
        stream,
        include_usage: false,
    })
}

/// Content of one message as a list of blocks (a string is one text block).
fn blocks(i: usize, content: Option<&Value>) -> Result<Vec<Value>, ApiError> {
    match content {
        None => Err(bad(format!("messages.{i}.content: Field required"))),
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(bad(format!(
            "messages.{i}.content: Input should be a valid string or list"
        ))),
    }
}

fn validate_messages(messages: &[Value]) -> Result<(), ApiError> {
    let last = messages.len() - 1;
    // tool_use ids of the previous assistant message, awaiting tool_result in the next message.
    let mut pending: Option<BTreeSet<String>> = None;
    for (i, m) in messages.iter().enumerate() {
        let Some(m) = m.as_object() else {
            return Err(bad(format!(
                "messages.{i}: Input should be a valid dictionary"
            )));
        };
        let role =
            match m.get("role").and_then(Value::as_str) {
                None => return Err(bad(format!("messages.{i}.role: Field required"))),
                Some("system") => return Err(bad(
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level \
                     `system` parameter, not \"system\" as an input message role.",
                )),
                Some(r @ ("user" | "assistant")) => r,
                Some(_) => {
                    return Err(bad(format!(
                        "messages.{i}.role: Input should be 'user' or 'assistant'"
                    )))
                }
            };
        let blocks = blocks(i, m.get("content"))?;
        let is_final_assistant = i == last && role == "assistant";
        if blocks.is_empty() && !is_final_assistant {
            return Err(bad(format!(
                "messages.{i}: all messages must have non-empty content except for the optional \
                 final assistant message"
            )));
        }
        let mut uses = BTreeSet::new();
        let mut results = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
            match kind {
                "text" => match b.get("text").and_then(Value::as_str) {
                    None => return Err(bad(format!("{at}.text: Field required"))),
                    Some("") if !is_final_assistant => {
                        return Err(bad(
                            "messages: text content blocks must be non-empty".to_string()
                        ))
                    }
                    Some(_) => {}
                },
                "tool_use" => {
                    if role != "assistant" {
                        return Err(bad(format!(
                            "{at}: `tool_use` blocks can only be in `assistant` messages"
                        )));
                    }
                    let Some(id) = b.get("id").and_then(Value::as_str) else {
                        return Err(bad(format!("{at}.id: Field required")));
                    };
                    if !valid_tool_name(id, 256) {
                        return Err(bad(format!(
                            "{at}.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
                        )));
                    }
                    if !b.get("name").is_some_and(Value::is_string) {
                        return Err(bad(format!("{at}.name: Field required")));
                    }
                    match b.get("input") {
                        Some(Value::Object(_)) => {}
                        None => return Err(bad(format!("{at}.input: Field required"))),
                        Some(_) => {
                            return Err(bad(format!(
                                "{at}.input: Input should be a valid dictionary"
                            )))
                        }
                    }
                    if !uses.insert(id.to_string()) {
                        return Err(bad(format!("{at}: `tool_use` ids must be unique")));
                    }
                }
                "tool_result" => {
                    if role != "user" {
                        return Err(bad(format!(
                            "{at}: `tool_result` blocks can only be in `user` messages"
                        )));
                    }
                    let Some(id) = b.get("tool_use_id").and_then(Value::as_str) else {
                        return Err(bad(format!("{at}.tool_use_id: Field required")));
                    };
                    match b.get("content") {
                        None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
                        Some(_) => {
                            return Err(bad(format!(
                                "{at}.content: Input should be a valid string or list"
                            )))
                        }
                    }
                    results.push((j, id.to_string()));
                }
                "image"
                | "document"
                | "thinking"
                | "redacted_thinking"
                | "server_tool_use"
                | "web_search_tool_result"
                | "search_result" => {}
                other => {
                    return Err(bad(format!(
                        "{at}.type: Input tag '{other}' found using 'type' does not match any of \
                         the expected tags: 'text', 'image', 'document', 'tool_use', \
                         'tool_result', 'thinking', 'redacted_thinking'"
                    )))
                }
            }
        }
        if is_final_assistant {
            if let Some(Value::String(t)) = blocks.last().and_then(|b| b.get("text")) {
                if !t.is_empty() && t.trim_end() != t {
                    return Err(bad(
                        "messages: final assistant content cannot end with trailing whitespace",
                    ));
                }
            }
        }
        // Pairing: every tool_use of the previous assistant message needs a tool_result here,
        // and every tool_result here must answer one of them.
        let mut expected = pending.take().unwrap_or_default();
        for (j, id) in &results {
            if !expected.remove(id) {
                return Err(bad(format!(
                    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` \
                     blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` \
                     block in the previous message."
                )));
            }
        }
        if !expected.is_empty() {
            return Err(unanswered(i, &expected));
        }
        if !uses.is_empty() {
            pending = Some(uses);
        }
    }
    // A trailing assistant message with tool_use blocks (a prefill) needs no answer yet.
    Ok(())
}

fn unanswered(i: usize, ids: &BTreeSet<String>) -> ApiError {
    bad(format!(
        "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: \
         {}. Each `tool_use` block must have a corresponding `tool_result` block in the next \
         message.",
        ids.iter().cloned().collect::<Vec<_>>().join(", ")
    ))
}

fn validate_tools(tools: &Value) -> Result<(), ApiError> {
    let Some(tools) = tools.as_array() else {
        return Err(bad("tools: Input should be a valid list"));
    };
    let mut names = BTreeSet::new();
    for (i, t) in tools.iter().enumerate() {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(bad(format!("tools.{i}.name: Field required")));
        };
        // Server tools (web_search, bash, …) carry a versioned `type` and no input_schema.
        let server_tool = t
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|k| k != "custom");
        if !server_tool {
            if !valid_tool_name(name, 128) {
                return Err(bad(format!(
                    "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
                )));
            }
            match t.get("input_schema") {
                None => {
                    return Err(bad(format!(
                        "tools.{i}.custom.input_schema: Field required"
                    )))
                }
                Some(s) if !s.is_object() => {
                    return Err(bad(format!(
                        "tools.{i}.custom.input_schema: Input should be a valid dictionary"
                    )))
                }
                Some(s) => {
                    if s.get("type").and_then(Value::as_str) != Some("object") {
                        return Err(bad(format!(
                            "tools.{i}.custom.input_schema.type: Input should be 'object'"
                        )));
                    }
                }
            }
        }
        if !names.insert(name.to_string()) {
            return Err(bad("tools: Tool names must be unique."));
        }
    }
    Ok(())
}

/// The `/v1/models` list.
pub(crate) fn models(ids: &[String]) -> Outgoing {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"})
        })
        .collect();
    Outgoing::json(
        200,
        json!({
            "data": data,
            "has_more": false,
            "first_id": ids.first(),
            "last_id": ids.last()
        }),
    )
}

fn usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0
    })
}

/// `input` of a tool_use block in a complete (non-streamed) message: the arguments parsed as
/// JSON; arguments that are not JSON are passed as a JSON string so the client still sees them.
fn input_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn stop_reason(rc: &RenderCtx, calls: &[(String, String)]) -> &'static str {
    if rc.truncated {
        "max_tokens"
    } else if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

/// Renders a scripted plan as a Messages response (JSON or SSE).
pub(crate) fn render(plan: Plan, rc: &RenderCtx) -> Outgoing {
    match plan {
        Plan::Error { status, message } => error(&ApiError::new(status, message)),
        Plan::Message { text, calls } => {
            if rc.stream {
                stream(rc, text.as_deref(), &calls, Tail::Normal)
            } else {
                Outgoing::json(200, complete(rc, text.as_deref(), &calls))
            }
        }
        Plan::StreamError {
            partial_text,
            message,
        } => {
            if rc.stream {
                stream(rc, Some(&partial_text), &[], Tail::Error(message))
            } else {
                error(&ApiError::new(529, message))
            }
        }
        Plan::Raw {
            status,
            content_type,
            body,
        } => Outgoing::raw(status, content_type, body),
        Plan::Disconnect(text) => {
            if rc.stream {
                stream(rc, Some(&text), &[], Tail::Abort)
            } else {
                let full = complete(rc, Some(&text), &[]).to_string();
                let send = full.len() / 2;
                Outgoing {
                    status: 200,
                    headers: Vec::new(),
                    body: OutBody::TruncatedJson { full, send },
                }
            }
        }
    }
}

fn complete(rc: &RenderCtx, text: Option<&str>, calls: &[(String, String)]) -> Value {
    let mut content = Vec::new();
    if let Some(t) = text {
        content.push(json!({"type": "text", "text": t}));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        content.push(json!({
            "type": "tool_use",
            "id": rc.call_id(i),
            "name": name,
            "input": input_value(args)
        }));
    }
    json!({
        "id": format!("msg_fake{}", rc.reply_number),
        "type": "message",
        "role": "assistant",
        "model": rc.model,
        "content": content,
        "stop_reason": stop_reason(rc, calls),
        "stop_sequence": null,
        "usage": usage(rc.prompt_tokens, completion_tokens(text, calls))
    })
}

enum Tail {
    Normal,
    Error(String),
    Abort,
}

fn stream(rc: &RenderCtx, text: Option<&str>, calls: &[(String, String)], tail: Tail) -> Outgoing {
    let mut events = vec![sse_event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": format!("msg_fake{}", rc.reply_number),
            "type": "message",
            "role": "assistant",
            "model": rc.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage(rc.prompt_tokens, 1)
        }}),
    )];
    let mut index = 0usize;
    let mut pinged = false;
    let mut ping = |events: &mut Vec<String>| {
        if !pinged {
            events.push(sse_event("ping", &json!({"type": "ping"})));
            pinged = true;
        }
    };
    if let Some(t) = text {
        events.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}),
        ));
        ping(&mut events);
        for piece in split_pieces(t) {
            events.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        match tail {
            Tail::Normal => {}
            Tail::Error(ref message) => {
                events.push(sse_event(
                    "error",
                    &json!({"type": "error",
                            "error": {"type": "overloaded_error", "message": message}}),
                ));
                return sse(events, End::Normal);
            }
            Tail::Abort => return sse(events, End::Abort),
        }
        events.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        events.push(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": rc.call_id(i), "name": name,
                                      "input": {}}}),
        ));
        ping(&mut events);
        let pieces = split_pieces(args);
        let pieces = if pieces.is_empty() { vec![""] } else { pieces };
        for piece in pieces {
            events.push(sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    ping(&mut events);
    events.push(sse_event(
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(rc, calls), "stop_sequence": null},
                "usage": {"output_tokens": completion_tokens(text, calls)}}),
    ));
    events.push(sse_event("message_stop", &json!({"type": "message_stop"})));
    sse(events, End::Normal)
}

fn sse(events: Vec<String>, end: End) -> Outgoing {
    Outgoing {
        status: 200,
        headers: Vec::new(),
        body: OutBody::Sse { events, end },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn header_checks() {
        let ok = h(&[("x-api-key", "k"), ("anthropic-version", "2023-06-01")]);
        assert!(check_headers(&ok, &ApiKey::Any).is_ok());
        assert_eq!(
            check_headers(&ok, &ApiKey::Exact("other".into()))
                .map_err(|e| e.status)
                .err(),
            Some(401)
        );
        let no_version = h(&[("x-api-key", "k")]);
        let e = check_headers(&no_version, &ApiKey::Any).err();
        assert_eq!(
            e.map(|e| e.message),
            Some("anthropic-version: header is required".into())
        );
        let bearer = h(&[
            ("authorization", "Bearer k"),
            ("anthropic-version", "2023-06-01"),
        ]);
        assert_eq!(
            check_headers(&bearer, &ApiKey::Any)
                .map_err(|e| e.status)
                .err(),
            Some(401)
        );
    }

    fn err(raw: &str) -> String {
        match validate(raw) {
            Ok(v) => panic!("{raw} accepted: {v:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn validation_matches_the_api() {
        assert!(validate(
            r#"{"model":"m","max_tokens":10,"system":"s","messages":[
            {"role":"user","content":"hi"},
            {"role":"assistant","content":[{"type":"text","text":"ok"},
              {"type":"tool_use","id":"toolu_1","name":"exec","input":{"command":"ls"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"x"}]}],
            "tools":[{"name":"exec","input_schema":{"type":"object"}}]}"#
        )
        .is_ok());
        assert_eq!(err(r#"{"messages":[]}"#), "model: Field required");
        assert!(err(
            r#"{"model":"m","max_tokens":1,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}"#
        )
        .starts_with("temperature:"));
        assert_eq!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#),
            "max_tokens: Field required"
        );
        assert!(err(
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#
        )
        .contains("top-level `system` parameter"));
        assert!(err(
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"exec","input":{}}]},
            {"role":"user","content":"no result"}]}"#
        )
        .contains("`tool_use` ids were found without `tool_result` blocks immediately after: t1"));
        assert!(err(r#"{"model":"m","max_tokens":1,"messages":[
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t9","content":"x"}]}]}"#)
        .contains("unexpected `tool_use_id`"));
        assert!(err(
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"exec","input":"{bad"}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"x"}]}]}"#
        )
        .contains("input: Input should be a valid dictionary"));
        assert!(
            err(r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":""}]}"#)
                .contains("non-empty")
        );
        assert!(err(
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
            "tools":[{"name":"exec"}]}"#
        )
        .contains("input_schema: Field required"));
    }

    #[test]
    fn error_types_by_status() {
        assert_eq!(error_type(401), "authentication_error");
        assert_eq!(error_type(429), "rate_limit_error");
        assert_eq!(error_type(529), "overloaded_error");
        assert_eq!(error_type(500), "api_error");
        let out = error(&ApiError::new(400, CONTEXT_LENGTH_EXCEEDED));
        let OutBody::Json(v) = out.body else {
            panic!("not json")
        };
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("prompt is too long")));
    }
}
