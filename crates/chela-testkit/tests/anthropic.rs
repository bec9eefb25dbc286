//! Self-tests of the fake Anthropic server: exact wire format over real HTTP.

mod common;

use chela_testkit::{completion_tokens, prompt_tokens, FakeServer, Protocol, Reply};
use common::{anthropic_post, parse_sse, send, Event};
use serde_json::{json, Value};

const SIMPLE: &str =
    r#"{"model":"claude-test","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str = r#"{"model":"claude-test","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

/// Checks Anthropic SSE framing (`event:` name equals the data's `type`) and returns the events.
fn events(body: &str) -> Vec<(String, Value)> {
    parse_sse(body)
        .into_iter()
        .map(|Event { name, data }| {
            let name = name.expect("every Anthropic event has an event: line");
            let v: Value = serde_json::from_str(&data).expect("data is JSON");
            assert_eq!(v["type"], name.as_str(), "event name matches data.type");
            (name, v)
        })
        .collect()
}

fn names(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_text_and_tool_use() {
    let server = FakeServer::start(
        Protocol::Anthropic,
        vec![
            Reply::text("Hello there"),
            Reply::TextAndToolCalls(
                "Checking.".into(),
                vec![
                    ("exec".into(), r#"{"command":"ls -la"}"#.into()),
                    ("read".into(), r#"{"path": "#.into()), // invalid JSON on purpose
                ],
            ),
        ],
    );
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(!server.base_url().ends_with("/v1"));
    let got = send(anthropic_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(got.header("request-id").is_some());
    let v = got.json();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["input_tokens"], prompt_tokens(SIMPLE));
    assert_eq!(v["usage"]["output_tokens"], 3);

    let v = send(anthropic_post(&server.base_url(), SIMPLE))
        .await
        .json();
    assert_eq!(v["stop_reason"], "tool_use");
    let content = v["content"].as_array().expect("content");
    assert_eq!(content.len(), 3);
    assert_eq!(content[0], json!({"type": "text", "text": "Checking."}));
    assert_eq!(
        content[1],
        json!({"type": "tool_use", "id": "toolu_2_0", "name": "exec", "input": {"command": "ls -la"}})
    );
    // Not JSON: passed through as a string so the client sees exactly what the model wrote.
    assert_eq!(content[2]["id"], "toolu_2_1");
    assert_eq!(content[2]["input"], json!(r#"{"path": "#));

    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.body["max_tokens"], 1024);
    assert!(r.tool_names().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_names_of_the_request() {
    let server = FakeServer::start(Protocol::Anthropic, vec![Reply::text("ok")]);
    let body = r#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"x"}],
        "tools":[{"name":"exec","input_schema":{"type":"object"}},
                 {"name":"read","description":"r","input_schema":{"type":"object"}}]}"#;
    assert_eq!(
        send(anthropic_post(&server.base_url(), body)).await.status,
        200
    );
    assert_eq!(server.requests()[0].tool_names(), vec!["exec", "read"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_event_sequence_and_reassembly() {
    let text = "Let me write that file for you — ünïcode included.";
    let args0 = r#"{"path":"out.txt","content":"line one\nline two"}"#;
    let args1 = r#"{"command":"cat out.txt"}"#;
    let calls = vec![
        ("write".to_string(), args0.to_string()),
        ("exec".to_string(), args1.to_string()),
    ];
    let server = FakeServer::start(
        Protocol::Anthropic,
        vec![Reply::TextAndToolCalls(text.into(), calls.clone())],
    );
    let got = send(anthropic_post(&server.base_url(), STREAM)).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("text/event-stream; charset=utf-8")
    );
    assert!(got.chunks.len() > 1, "a stream arrives in several pieces");
    let evs = events(&got.text());
    let n = names(&evs);
    assert_eq!(n[0], "message_start");
    assert_eq!(n[n.len() - 2], "message_delta");
    assert_eq!(n[n.len() - 1], "message_stop");
    assert!(n.contains(&"ping"));

    let start = &evs[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], prompt_tokens(STREAM));

    // Reassemble blocks as a client must: by index, start → deltas → stop.
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut deltas = Vec::new();
    let mut open: Option<usize> = None;
    for (name, v) in &evs {
        match name.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "blocks do not overlap");
                let i = v["index"].as_u64().expect("index") as usize;
                assert_eq!(i, blocks.len(), "indexes count up from 0");
                blocks.push(v["content_block"].clone());
                partial.push(String::new());
                deltas.push(0);
                open = Some(i);
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().expect("index") as usize;
                assert_eq!(open, Some(i));
                deltas[i] += 1;
                match v["delta"]["type"].as_str() {
                    Some("text_delta") => {
                        partial[i].push_str(v["delta"]["text"].as_str().expect("text"))
                    }
                    Some("input_json_delta") => partial[i]
                        .push_str(v["delta"]["partial_json"].as_str().expect("partial_json")),
                    other => panic!("unexpected delta {other:?}"),
                }
            }
            "content_block_stop" => {
                assert_eq!(open.take(), v["index"].as_u64().map(|i| i as usize));
            }
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0], json!({"type": "text", "text": ""}));
    assert_eq!(partial[0], text);
    assert_eq!(
        blocks[1],
        json!({"type": "tool_use", "id": "toolu_1_0", "name": "write", "input": {}})
    );
    assert_eq!(partial[1], args0);
    assert_eq!(blocks[2]["id"], "toolu_1_1");
    assert_eq!(partial[2], args1);
    assert!(
        deltas.iter().all(|&d| d >= 2),
        "several deltas per block: {deltas:?}"
    );

    let delta = &evs[evs.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta["usage"]["output_tokens"],
        completion_tokens(Some(text), &calls)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_empty_and_errors() {
    let server = FakeServer::start(
        Protocol::Anthropic,
        vec![
            Reply::Empty,
            Reply::StreamError {
                partial_text: "half an ans".into(),
                message: "Overloaded".into(),
            },
            Reply::tool_call("list", ""),
        ],
    );
    let evs = events(
        &send(anthropic_post(&server.base_url(), STREAM))
            .await
            .text(),
    );
    assert_eq!(
        names(&evs),
        vec!["message_start", "ping", "message_delta", "message_stop"]
    );
    assert_eq!(evs[2].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(evs[2].1["usage"]["output_tokens"], 0);

    let got = send(anthropic_post(&server.base_url(), STREAM)).await;
    assert_eq!(got.status, 200);
    let evs = events(&got.text());
    let (last, v) = evs.last().expect("events");
    assert_eq!(last, "error");
    assert_eq!(
        v["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );
    assert!(!names(&evs).contains(&"message_stop"));

    // A tool call with no arguments still sends one (empty) input_json_delta.
    let evs = events(
        &send(anthropic_post(&server.base_url(), STREAM))
            .await
            .text(),
    );
    let deltas: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(deltas.len(), 1);
    assert_eq!(
        deltas[0]["delta"],
        json!({"type": "input_json_delta", "partial_json": ""})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_the_anthropic_shape() {
    let server = FakeServer::start(
        Protocol::Anthropic,
        vec![
            Reply::error(401, "invalid x-api-key"),
            Reply::error(429, "Number of request tokens has exceeded your rate limit"),
            Reply::error(529, "Overloaded"),
            Reply::error(500, "Internal server error"),
            Reply::context_length_exceeded(),
        ],
    );
    let expect = [
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (400, "invalid_request_error"),
    ];
    for (status, kind) in expect {
        let got = send(anthropic_post(&server.base_url(), STREAM)).await;
        assert_eq!(got.status, status);
        assert_eq!(
            got.header("content-type").as_deref(),
            Some("application/json")
        );
        let v = got.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        assert!(v["error"]["message"].is_string());
        if status == 429 {
            assert_eq!(got.header("retry-after").as_deref(), Some("0"));
        }
        if status == 400 {
            let m = v["error"]["message"].as_str().expect("message");
            assert!(m.starts_with("prompt is too long"), "{m}");
        }
    }
    assert_eq!(server.remaining(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_rejected_without_consuming_the_script() {
    let server = FakeServer::start(Protocol::Anthropic, vec![Reply::text("ok")]);
    let base = server.base_url();
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/messages");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            client.post(&url).header("x-api-key", "k").body(SIMPLE),
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ),
        (
            client
                .post(&url)
                .header("anthropic-version", "2023-06-01")
                .bearer_auth("k")
                .body(SIMPLE),
            401,
            "authentication_error",
            "x-api-key header is required",
        ),
        (
            anthropic_post(
                &base,
                r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
            ),
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        (
            anthropic_post(&base, "{oops"),
            400,
            "invalid_request_error",
            "error parsing the body",
        ),
        (
            anthropic_post(
                &base,
                r#"{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"s"},{"role":"user","content":"x"}]}"#,
            ),
            400,
            "invalid_request_error",
            "top-level `system` parameter",
        ),
        (
            anthropic_post(
                &base,
                r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},
                {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"exec","input":{}}]},
                {"role":"user","content":"forgot the result"}]}"#,
            ),
            400,
            "invalid_request_error",
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
    ];
    for (req, status, kind, needle) in cases {
        let got = send(req).await;
        assert_eq!(got.status, status, "{}", got.text());
        let v = got.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        let msg = v["error"]["message"].as_str().expect("message");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
    assert_eq!(server.remaining(), 1);
    let v = send(anthropic_post(&base, SIMPLE)).await.json();
    assert_eq!(v["content"][0]["text"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_list() {
    let server = FakeServer::start(Protocol::Anthropic, vec![]);
    let got = send(
        reqwest::Client::new()
            .get(format!("{}/v1/models", server.base_url()))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01"),
    )
    .await;
    assert_eq!(got.status, 200);
    let v = got.json();
    assert_eq!(v["data"][0]["type"], "model");
    assert_eq!(v["data"][0]["id"], "fake-model");
    assert_eq!(v["has_more"], false);
    // exhausted script on a model call
    let got = send(anthropic_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 500);
    assert_eq!(got.json()["error"]["type"], "api_error");
    assert!(got.text().contains("script ran out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_reply_reports_max_tokens() {
    let server = FakeServer::start(
        Protocol::Anthropic,
        vec![
            Reply::Truncated("cut of".into()),
            Reply::Truncated("cut of".into()),
        ],
    );
    let v = send(anthropic_post(&server.base_url(), SIMPLE))
        .await
        .json();
    assert_eq!(v["stop_reason"], "max_tokens");
    let evs = events(
        &send(anthropic_post(&server.base_url(), STREAM))
            .await
            .text(),
    );
    assert_eq!(evs[evs.len() - 2].1["delta"]["stop_reason"], "max_tokens");
}
