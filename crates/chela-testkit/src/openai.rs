//! OpenAI Chat Completions: request validation, responses, SSE chunks and error bodies.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::script::{completion_tokens, split_pieces, Plan, CONTEXT_LENGTH_EXCEEDED};
use crate::server::{ApiKey, RenderCtx, Validated};
use crate::wire::{sse_data, type_name, valid_tool_name, ApiError, End, OutBody, Outgoing};

/// Roles the Chat Completions API accepts.
const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Checks `Authorization: Bearer <key>` as OpenAI does.
pub(crate) fn check_auth(headers: &[(String, String)], key: &ApiKey) -> Result<(), ApiError> {
    if matches!(key, ApiKey::NotRequired) {
        return Ok(());
    }
    let auth = headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.trim());
    let given = match auth.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) {
        Some(k) if !k.is_empty() => k,
        _ => {
            return Err(ApiError::new(
                401,
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ))
        }
    };
    if let ApiKey::Exact(want) = key {
        if given != want {
            let mut e = ApiError::new(401, format!("Incorrect API key provided: {}.", mask(given)));
            e.code = Some("invalid_api_key".into());
            return Err(e);
        }
    }
    Ok(())
}

/// Masks a key as OpenAI does in error messages (first 3 and last 4 characters kept).
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Renders an error in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
pub(crate) fn error(e: &ApiError) -> Outgoing {
    let (kind, default_code) = match e.status {
        400 | 404 | 409 | 413 | 422 => ("invalid_request_error", None),
        401 => ("invalid_request_error", None),
        403 => ("request_forbidden", None),
        429 => ("requests", Some("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    };
    let (message, param, code) = if e.status == 400 && e.message == CONTEXT_LENGTH_EXCEEDED {
        (
            "This model's maximum context length is 128000 tokens. However, your messages \
             resulted in 131072 tokens. Please reduce the length of the messages."
                .to_string(),
            Some("messages".to_string()),
            Some("context_length_exceeded".to_string()),
        )
    } else {
        (
            e.message.clone(),
            e.param.clone(),
            e.code
                .clone()
                .or_else(|| default_code.map(str::to_string))
                .or_else(|| (e.status == 404).then(|| "model_not_found".to_string())),
        )
    };
    let mut out = Outgoing::json(
        e.status,
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
    );
    if e.status == 429 {
        out = out.with_header("retry-after", "0");
    }
    out
}

/// Validates a chat-completions body as the real API does; returns the fields the fake needs.
pub(crate) fn validate(raw: &str) -> Result<Validated, ApiError> {
    let body: Value = serde_json::from_str(raw).map_err(|_| {
        ApiError::new(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
             what was sent was not valid JSON.)",
        )
    })?;
    let Some(obj) = body.as_object() else {
        return Err(ApiError::new(
            400,
            format!(
                "Invalid type for request body: expected an object, but got {} instead.",
                type_name(&body)
            ),
        ));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(ApiError::new(400, "you must provide a model parameter")),
    };
    let messages = match obj.get("messages") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "Missing required parameter: 'messages'.",
                "messages",
                Some("missing_required_parameter"),
            ))
        }
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ApiError::invalid(
                format!(
                "Invalid type for 'messages': expected an array of objects, but got {} instead.",
                type_name(other)
            ),
                "messages",
                Some("invalid_type"),
            ))
        }
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an \
             empty array instead.",
            "messages",
            Some("empty_array"),
        ));
    }
    validate_messages(messages)?;
    if let Some(tools) = obj.get("tools") {
        validate_tools(tools)?;
    }
    for key in ["max_tokens", "max_completion_tokens"] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 => {}
                Some(n) => {
                    return Err(ApiError::invalid(
                        format!("Invalid '{key}': integer below minimum value. Expected a value >= 1, but got {n} instead."),
                        key,
                        Some("integer_below_min_value"),
                    ))
                }
                None => {
                    return Err(ApiError::invalid(
                        format!("Invalid type for '{key}': expected an integer, but got {} instead.", type_name(v)),
                        key,
                        Some("invalid_type"),
                    ))
                }
            },
        }
    }
    match obj.get("temperature") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=2.0).contains(&t) => {}
            _ => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid 'temperature': expected a number between 0 and 2, but got {v}."
                    ),
                    "temperature",
                    Some("invalid_value"),
                ))
            }
        },
    }
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::invalid(
                format!(
                    "Invalid type for 'stream': expected a boolean, but got {} instead.",
                    type_name(other)
                ),
                "stream",
                Some("invalid_type"),
            ))
        }
    };
    let include_usage = match obj.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(opts) => {
            if !stream {
                return Err(ApiError::invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    "stream_options",
                    None,
                ));
            }
            opts.get("include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        }
    };
    Ok(Validated {
        model,
        stream,
        include_usage,
    })
}

/// Per-message checks, and the pairing of assistant `tool_calls` with `tool` messages.
fn validate_messages(messages: &[Value]) -> Result<(), ApiError> {
    // Tool-call ids of the last assistant message that still await a `tool` answer.
    let mut pending: Option<(usize, Vec<String>)> = None;
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Some(m) = m.as_object() else {
            return Err(ApiError::invalid(
                format!(
                    "Invalid type for '{at}': expected an object, but got {} instead.",
                    type_name(m)
                ),
                &at,
                Some("invalid_type"),
            ));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) => r.as_str(),
            None | Some(Value::Null) => {
                return Err(ApiError::invalid(
                    format!("Missing required parameter: '{at}.role'."),
                    &format!("{at}.role"),
                    Some("missing_required_parameter"),
                ))
            }
            Some(other) => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid type for '{at}.role': expected a string, but got {} instead.",
                        type_name(other)
                    ),
                    &format!("{at}.role"),
                    Some("invalid_type"),
                ))
            }
        };
        if !ROLES.contains(&role) {
            return Err(ApiError::invalid(
                format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', \
                     'user', 'function', 'tool', and 'developer'."
                ),
                &format!("{at}.role"),
                Some("invalid_value"),
            ));
        }
        // A non-tool message closes the tool-answer window of the previous assistant message.
        if role != "tool" {
            if let Some((j, ids)) = pending.take() {
                if !ids.is_empty() {
                    return Err(missing_tool_answers(j, &ids));
                }
            }
        }
        let content = m.get("content");
        match role {
            "assistant" => {
                let calls = match m.get("tool_calls") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(calls)) => calls.clone(),
                    Some(other) => {
                        return Err(ApiError::invalid(
                            format!(
                                "Invalid type for '{at}.tool_calls': expected an array, but got \
                                 {} instead.",
                                type_name(other)
                            ),
                            &format!("{at}.tool_calls"),
                            Some("invalid_type"),
                        ))
                    }
                };
                if calls.is_empty() {
                    check_content(&at, content, false)?;
                } else {
                    check_content(&at, content, true)?;
                }
                let mut ids = Vec::new();
                for (k, c) in calls.iter().enumerate() {
                    ids.push(check_tool_call(&format!("{at}.tool_calls[{k}]"), c)?);
                }
                if !ids.is_empty() {
                    pending = Some((i, ids));
                }
            }
            "tool" => {
                let id = match m.get("tool_call_id") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => {
                        return Err(ApiError::invalid(
                            format!("Missing required parameter: '{at}.tool_call_id'."),
                            &format!("{at}.tool_call_id"),
                            Some("missing_required_parameter"),
                        ))
                    }
                    Some(other) => {
                        return Err(ApiError::invalid(
                            format!(
                                "Invalid type for '{at}.tool_call_id': expected a string, but \
                                 got {} instead.",
                                type_name(other)
                            ),
                            &format!("{at}.tool_call_id"),
                            Some("invalid_type"),
                        ))
                    }
                };
                check_content(&at, content, false)?;
                let answered = match pending.as_mut() {
                    Some((_, ids)) => match ids.iter().position(|x| *x == id) {
                        Some(p) => {
                            ids.remove(p);
                            true
                        }
                        None => false,
                    },
                    None => false,
                };
                if !answered {
                    return Err(ApiError::invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a \
                         preceeding message with 'tool_calls'.",
                        &format!("messages.[{i}].role"),
                        None,
                    ));
                }
            }
            "function" => {
                if !matches!(m.get("name"), Some(Value::String(_))) {
                    return Err(ApiError::invalid(
                        format!("Missing required parameter: '{at}.name'."),
                        &format!("{at}.name"),
                        Some("missing_required_parameter"),
                    ));
                }
            }
            _ => check_content(&at, content, false)?,
        }
    }
    if let Some((j, ids)) = pending {
        if !ids.is_empty() {
            return Err(missing_tool_answers(j, &ids));
        }
    }
    Ok(())
}

fn missing_tool_answers(j: usize, ids: &[String]) -> ApiError {
    ApiError::invalid(
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding \
             to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            ids.join(", ")
        ),
        &format!("messages.[{j}].role"),
        None,
    )
}

/// `content` must be a string or an array of content parts (null allowed when `may_be_null`).
fn check_content(at: &str, content: Option<&Value>, may_be_null: bool) -> Result<(), ApiError> {
    match content {
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) => {
            for (k, p) in parts.iter().enumerate() {
                let ok = p
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| match t {
                        "text" => p.get("text").is_some_and(Value::is_string),
                        _ => true,
                    });
                if !ok {
                    return Err(ApiError::invalid(
                        format!("Invalid content part '{at}.content[{k}]': expected an object with 'type' (and 'text' for text parts)."),
                        &format!("{at}.content[{k}]"),
                        Some("invalid_value"),
                    ));
                }
            }
            Ok(())
        }
        None | Some(Value::Null) if may_be_null => Ok(()),
        None => Err(ApiError::invalid(
            format!("Missing required parameter: '{at}.content'."),
            &format!("{at}.content"),
            Some("missing_required_parameter"),
        )),
        Some(other) => Err(ApiError::invalid(
            format!(
                "Invalid type for '{at}.content': expected one of a string or array of objects, \
                 but got {} instead.",
                type_name(other)
            ),
            &format!("{at}.content"),
            Some("invalid_type"),
        )),
    }
}

/// Checks one assistant tool call and returns its id.
fn check_tool_call(at: &str, call: &Value) -> Result<String, ApiError> {
    let missing = |field: &str| {
        ApiError::invalid(
            format!("Missing required parameter: '{at}.{field}'."),
            &format!("{at}.{field}"),
            Some("missing_required_parameter"),
        )
    };
    let wrong = |field: &str, want: &str, got: &Value| {
        ApiError::invalid(
            format!(
                "Invalid type for '{at}.{field}': expected {want}, but got {} instead.",
                type_name(got)
            ),
            &format!("{at}.{field}"),
            Some("invalid_type"),
        )
    };
    let id = match call.get("id") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(missing("id")),
        Some(other) => return Err(wrong("id", "a string", other)),
    };
    match call.get("type") {
        Some(Value::String(t)) if t == "function" => {}
        None | Some(Value::Null) => return Err(missing("type")),
        Some(other) => {
            return Err(ApiError::invalid(
                format!("Invalid value: {other}. Supported values are: 'function'."),
                &format!("{at}.type"),
                Some("invalid_value"),
            ))
        }
    }
    let f = match call.get("function") {
        Some(f @ Value::Object(_)) => f,
        None | Some(Value::Null) => return Err(missing("function")),
        Some(other) => return Err(wrong("function", "an object", other)),
    };
    match f.get("name") {
        Some(Value::String(_)) => {}
        None | Some(Value::Null) => return Err(missing("function.name")),
        Some(other) => return Err(wrong("function.name", "a string", other)),
    }
    match f.get("arguments") {
        Some(Value::String(_)) => {}
        None | Some(Value::Null) => return Err(missing("function.arguments")),
        Some(other) => return Err(wrong("function.arguments", "a string", other)),
    }
    Ok(id)
}

fn validate_tools(tools: &Value) -> Result<(), ApiError> {
    let Some(tools) = tools.as_array() else {
        return Err(ApiError::invalid(
            format!(
                "Invalid type for 'tools': expected an array of objects, but got {} instead.",
                type_name(tools)
            ),
            "tools",
            Some("invalid_type"),
        ));
    };
    let mut names = BTreeSet::new();
    for (i, t) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return Err(ApiError::invalid(
                format!("Missing required parameter: '{at}.type'."),
                &format!("{at}.type"),
                Some("missing_required_parameter"),
            ));
        }
        let Some(f) = t.get("function").and_then(Value::as_object) else {
            return Err(ApiError::invalid(
                format!("Missing required parameter: '{at}.function'."),
                &format!("{at}.function"),
                Some("missing_required_parameter"),
            ));
        };
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            return Err(ApiError::invalid(
                format!("Missing required parameter: '{at}.function.name'."),
                &format!("{at}.function.name"),
                Some("missing_required_parameter"),
            ));
        };
        if !valid_tool_name(name, 64) {
            return Err(ApiError::invalid(
                format!(
                    "Invalid '{at}.function.name': string does not match pattern. Expected a \
                     string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
                ),
                &format!("{at}.function.name"),
                Some("invalid_value"),
            ));
        }
        if let Some(p) = f.get("parameters") {
            if !p.is_object() {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid type for '{at}.function.parameters': expected an object, but got \
                         {} instead.",
                        type_name(p)
                    ),
                    &format!("{at}.function.parameters"),
                    Some("invalid_type"),
                ));
            }
        }
        if !names.insert(name.to_string()) {
            return Err(ApiError::invalid(
                format!("Invalid 'tools': duplicate function name '{name}'."),
                "tools",
                Some("invalid_value"),
            ));
        }
    }
    Ok(())
}

/// The `/v1/models` list.
pub(crate) fn models(ids: &[String]) -> Outgoing {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "chela-testkit"}))
        .collect();
    Outgoing::json(200, json!({"object": "list", "data": data}))
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0}
    })
}

/// Renders a scripted plan as a chat-completion response (JSON or SSE).
pub(crate) fn render(plan: Plan, rc: &RenderCtx) -> Outgoing {
    match plan {
        Plan::Error { status, message } => {
            let mut e = ApiError::new(status, message);
            if status == 401 {
                // A scripted 401 stands for a rejected key, as OpenAI words it.
                e.code = Some("invalid_api_key".into());
            }
            error(&e)
        }
        Plan::Message { text, calls } => {
            if rc.stream {
                stream(rc, text.as_deref(), &calls, StreamTail::Normal)
            } else {
                Outgoing::json(200, complete(rc, text.as_deref(), &calls))
            }
        }
        Plan::StreamError {
            partial_text,
            message,
        } => {
            if rc.stream {
                stream(rc, Some(&partial_text), &[], StreamTail::Error(message))
            } else {
                error(&ApiError::new(503, message))
            }
        }
        Plan::Raw {
            status,
            content_type,
            body,
        } => Outgoing::raw(status, content_type, body),
        Plan::Disconnect(text) => {
            if rc.stream {
                stream(rc, Some(&text), &[], StreamTail::Abort)
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

fn finish_reason(rc: &RenderCtx, calls: &[(String, String)]) -> &'static str {
    if rc.truncated {
        "length"
    } else if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

/// A non-streaming `chat.completion` object.
fn complete(rc: &RenderCtx, text: Option<&str>, calls: &[(String, String)]) -> Value {
    let content = match text {
        Some(t) => Value::String(t.to_string()),
        None if calls.is_empty() => Value::String(String::new()),
        None => Value::Null,
    };
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !calls.is_empty() {
        let tc: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| {
                json!({
                    "id": rc.call_id(i),
                    "type": "function",
                    "function": {"name": name, "arguments": args}
                })
            })
            .collect();
        message.insert("tool_calls".into(), Value::Array(tc));
    }
    json!({
        "id": format!("chatcmpl-fake{}", rc.reply_number),
        "object": "chat.completion",
        "created": rc.created,
        "model": rc.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(rc, calls)
        }],
        "usage": usage(rc.prompt_tokens, completion_tokens(text, calls)),
        "system_fingerprint": "fp_chela_testkit"
    })
}

enum StreamTail {
    Normal,
    Error(String),
    Abort,
}

/// A `chat.completion.chunk` SSE stream.
fn stream(
    rc: &RenderCtx,
    text: Option<&str>,
    calls: &[(String, String)],
    tail: StreamTail,
) -> Outgoing {
    let id = format!("chatcmpl-fake{}", rc.reply_number);
    let chunk = |choices: Value, usage: Option<Value>| -> String {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": rc.created,
            "model": rc.model,
            "system_fingerprint": "fp_chela_testkit",
            "choices": choices,
        });
        if rc.include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        sse_data(&c)
    };
    let delta = |d: Value, finish: Value| {
        chunk(
            json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": finish}]),
            None,
        )
    };
    let mut events = Vec::new();
    let first_content = if text.is_none() && !calls.is_empty() {
        Value::Null
    } else {
        json!("")
    };
    events.push(delta(
        json!({"role": "assistant", "content": first_content, "refusal": null}),
        Value::Null,
    ));
    for piece in text.map(split_pieces).unwrap_or_default() {
        events.push(delta(json!({"content": piece}), Value::Null));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        events.push(delta(
            json!({"tool_calls": [{
                "index": i,
                "id": rc.call_id(i),
                "type": "function",
                "function": {"name": name, "arguments": ""}
            }]}),
            Value::Null,
        ));
        for piece in split_pieces(args) {
            events.push(delta(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    let end = match tail {
        StreamTail::Normal => {
            events.push(delta(json!({}), json!(finish_reason(rc, calls))));
            if rc.include_usage {
                events.push(chunk(
                    json!([]),
                    Some(usage(rc.prompt_tokens, completion_tokens(text, calls))),
                ));
            }
            events.push("data: [DONE]\n\n".to_string());
            End::Normal
        }
        StreamTail::Error(message) => {
            events.push(sse_data(&json!({"error": {
                "message": message, "type": "server_error", "param": null, "code": null
            }})));
            End::Normal
        }
        StreamTail::Abort => End::Abort,
    };
    Outgoing {
        status: 200,
        headers: Vec::new(),
        body: OutBody::Sse { events, end },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Validated {
        match validate(raw) {
            Ok(v) => v,
            Err(e) => panic!("{raw} rejected: {e:?}"),
        }
    }

    fn err(raw: &str) -> ApiError {
        match validate(raw) {
            Ok(v) => panic!("{raw} accepted: {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_a_tool_round_trip() {
        let v = ok(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},
            "messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},
            {"role":"assistant","content":null,"tool_calls":[
              {"id":"a","type":"function","function":{"name":"exec","arguments":"{}"}},
              {"id":"b","type":"function","function":{"name":"read","arguments":"{"}}]},
            {"role":"tool","tool_call_id":"b","content":"x"},
            {"role":"tool","tool_call_id":"a","content":"y"},
            {"role":"user","content":[{"type":"text","text":"more"}]}],
            "tools":[{"type":"function","function":{"name":"exec","parameters":{"type":"object"}}}]}"#,
        );
        assert!(v.stream && v.include_usage);
        assert_eq!(v.model, "m");
    }

    #[test]
    fn rejects_what_openai_rejects() {
        assert!(err("{not json")
            .message
            .contains("could not parse the JSON"));
        assert!(err(r#"{"messages":[]}"#)
            .message
            .contains("model parameter"));
        assert_eq!(
            err(r#"{"model":"m"}"#).code.as_deref(),
            Some("missing_required_parameter")
        );
        assert_eq!(
            err(r#"{"model":"m","messages":[]}"#).code.as_deref(),
            Some("empty_array")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"bot","content":"x"}]}"#)
                .message
                .contains("Invalid value: 'bot'")
        );
        assert!(err(r#"{"model":"m","messages":[{"role":"user"}]}"#)
            .message
            .contains("messages[0].content"));
        // arguments sent as an object instead of a string
        let e = err(
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[
            {"id":"a","type":"function","function":{"name":"exec","arguments":{}}}]},
            {"role":"tool","tool_call_id":"a","content":"x"}]}"#,
        );
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].tool_calls[0].function.arguments")
        );
        // unanswered tool call
        let e = err(
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[
            {"id":"a","type":"function","function":{"name":"exec","arguments":"{}"}}]},
            {"role":"user","content":"x"}]}"#,
        );
        assert!(e.message.contains("did not have response messages: a"));
        // tool message with an unknown id
        let e = err(r#"{"model":"m","messages":[{"role":"user","content":"x"},
            {"role":"tool","tool_call_id":"zz","content":"x"}]}"#);
        assert!(e
            .message
            .contains("must be a response to a preceeding message"));
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "stream_options":{"include_usage":true}}"#)
            .message
            .contains("only allowed when 'stream' is enabled")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"bad name"}}]}"#)
            .message
            .contains("does not match pattern")
        );
    }

    #[test]
    fn masks_keys() {
        assert_eq!(mask("sk-abcdefghijkl"), "sk-********ijkl");
        assert_eq!(mask("short"), "*****");
    }

    #[test]
    fn context_length_error_shape() {
        let out = error(&ApiError::new(400, CONTEXT_LENGTH_EXCEEDED));
        let OutBody::Json(v) = out.body else {
            panic!("not json")
        };
        assert_eq!(v["error"]["code"], "context_length_exceeded");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum context length")));
    }
}
