//! Self-tests of the fake OpenAI server: exact wire format over real HTTP.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chela_testkit::{
    completion_tokens, huge_text, prompt_tokens, ApiKey, FakeServer, Options, Protocol, Reply,
};
use common::{openai_post, parse_sse, send};
use serde_json::{json, Value};

const SIMPLE: &str = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str =
    r#"{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const STREAM_USAGE: &str = r#"{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;

/// Chunks of a stream, without the final `[DONE]`, after checking the framing.
fn stream_chunks(body: &str) -> Vec<Value> {
    let events = parse_sse(body);
    assert!(
        events.iter().all(|e| e.name.is_none()),
        "OpenAI sends no event: lines"
    );
    let (last, rest) = events.split_last().expect("events");
    assert_eq!(last.data, "[DONE]", "stream must end with data: [DONE]");
    rest.iter().map(|e| e.json()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_text() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("Hello there")]);
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(server.base_url().ends_with("/v1"));
    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/json")
    );
    let v = got.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], prompt_tokens(SIMPLE));
    assert_eq!(v["usage"]["completion_tokens"], 3); // 11 bytes / 4, rounded up
    assert_eq!(v["usage"]["total_tokens"], prompt_tokens(SIMPLE) + 3);
    assert_eq!(server.remaining(), 0);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(
        reqs[0].header("Authorization"),
        Some("Bearer sk-test-123456789")
    );
    assert!(reqs[0].headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(reqs[0].body["messages"][0]["content"], "hi");
    assert_eq!(reqs[0].raw_body, SIMPLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_tool_calls_keep_raw_arguments() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::ToolCalls(vec![
                ("write".into(), r#"{"path":"a.txt","content":"x"}"#.into()),
                ("exec".into(), r#"{"command": "ls"#.into()), // invalid JSON on purpose
            ]),
            Reply::TextAndToolCalls("Let me look.".into(), vec![("list".into(), "{}".into())]),
        ],
    );
    let v = send(openai_post(&server.base_url(), SIMPLE)).await.json();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let calls = msg["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "call_1_0");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "write");
    assert_eq!(
        calls[0]["function"]["arguments"],
        r#"{"path":"a.txt","content":"x"}"#
    );
    assert_eq!(calls[1]["id"], "call_1_1");
    assert_eq!(calls[1]["function"]["arguments"], r#"{"command": "ls"#);

    let v = send(openai_post(&server.base_url(), SIMPLE)).await.json();
    assert_eq!(v["choices"][0]["message"]["content"], "Let me look.");
    assert!(server.requests()[1].tool_names().is_empty());
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_2_0"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["usage"]["completion_tokens"],
        completion_tokens(Some("Let me look."), &[("list".into(), "{}".into())])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_text_is_split_into_deltas() {
    let text = "The quick brown fox jumps over the lazy dog. Ünïcödé ✓ too.";
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text(text)]);
    let got = send(openai_post(&server.base_url(), STREAM)).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("text/event-stream; charset=utf-8")
    );
    assert!(got.chunks.len() > 1, "a stream arrives in several pieces");
    let body = got.text();
    let chunks = stream_chunks(&body);
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], chunks[0]["id"]);
        assert_eq!(c["model"], "gpt-test");
        assert!(
            c.get("usage").is_none(),
            "no usage key without include_usage"
        );
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let deltas: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(
        deltas.len() >= 3,
        "text must arrive in several deltas: {deltas:?}"
    );
    assert_eq!(deltas.concat(), text);
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    // every chunk before the last has finish_reason null
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_tool_calls_fragments_and_usage_chunk() {
    let args0 = r#"{"path":"notes/todo.txt","content":"buy milk\nfix bug"}"#;
    let args1 = r#"{"command":"cat notes/todo.txt"#; // invalid on purpose
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![Reply::TextAndToolCalls(
            "Working on it".into(),
            vec![
                ("write".into(), args0.into()),
                ("exec".into(), args1.into()),
            ],
        )],
    );
    let got = send(openai_post(&server.base_url(), STREAM_USAGE)).await;
    let chunks = stream_chunks(&got.text());
    // Reassemble as a client must: by tool_calls[].index.
    let mut text = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut fragments = [0usize; 2];
    for c in &chunks[..chunks.len() - 1] {
        assert!(c["usage"].is_null(), "usage is null before the last chunk");
        let delta = &c["choices"][0]["delta"];
        if let Some(t) = delta["content"].as_str() {
            text.push_str(t);
        }
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().expect("index") as usize;
            if let Some(id) = tc["id"].as_str() {
                assert_eq!(i, calls.len(), "a new call starts with the next index");
                assert_eq!(tc["type"], "function");
                let name = tc["function"]["name"].as_str().expect("name with id");
                assert_eq!(tc["function"]["arguments"], "");
                calls.push((id.into(), name.into(), String::new()));
            } else {
                assert!(tc.get("id").is_none() && tc["function"].get("name").is_none());
                calls[i]
                    .2
                    .push_str(tc["function"]["arguments"].as_str().expect("fragment"));
                fragments[i] += 1;
            }
        }
    }
    assert_eq!(text, "Working on it");
    assert_eq!(
        calls,
        vec![
            ("call_1_0".into(), "write".into(), args0.into()),
            ("call_1_1".into(), "exec".into(), args1.into()),
        ]
    );
    assert!(
        fragments.iter().all(|&n| n >= 2),
        "arguments arrive in fragments: {fragments:?}"
    );
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage_chunk = chunks.last().expect("usage chunk");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens"],
        prompt_tokens(STREAM_USAGE)
    );
    assert_eq!(
        usage_chunk["usage"]["completion_tokens"],
        completion_tokens(
            Some("Working on it"),
            &[
                ("write".into(), args0.into()),
                ("exec".into(), args1.into())
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_the_openai_shape() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::error(401, "Incorrect API key provided"),
            Reply::error(429, "Rate limit reached"),
            Reply::error(500, "The server had an error"),
            Reply::context_length_exceeded(),
            Reply::error(429, "again"),
        ],
    );
    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 401);
    let v = got.json();
    assert_eq!(v["error"]["message"], "Incorrect API key provided");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["param"], Value::Null);

    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 429);
    assert_eq!(got.header("retry-after").as_deref(), Some("0"));
    assert_eq!(got.json()["error"]["code"], "rate_limit_exceeded");

    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 500);
    assert_eq!(got.json()["error"]["type"], "server_error");

    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 400);
    let v = got.json();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert_eq!(v["error"]["param"], "messages");

    // errors answer streaming requests with a JSON body too, as the real API does
    let got = send(openai_post(&server.base_url(), STREAM)).await;
    assert_eq!(got.status, 429);
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(server.remaining(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_rejected_without_consuming_the_script() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("ok")]);
    let base = server.base_url();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            openai_post(&base, "{not json"),
            400,
            "could not parse the JSON body",
        ),
        (
            openai_post(&base, r#"{"messages":[{"role":"user","content":"x"}]}"#),
            400,
            "you must provide a model parameter",
        ),
        (
            openai_post(&base, r#"{"model":"m"}"#),
            400,
            "Missing required parameter: 'messages'.",
        ),
        (
            openai_post(
                &base,
                r#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_9","content":"r"}]}"#,
            ),
            400,
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            reqwest::Client::new()
                .post(format!("{base}/chat/completions"))
                .body(SIMPLE),
            401,
            "You didn't provide an API key",
        ),
    ];
    for (req, status, needle) in cases {
        let got = send(req).await;
        assert_eq!(got.status, status, "{}", got.text());
        let v = got.json();
        let msg = v["error"]["message"].as_str().expect("message");
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    assert_eq!(
        server.remaining(),
        1,
        "rejected requests must not use a reply"
    );
    assert_eq!(
        server.requests().len(),
        5,
        "rejected requests are still recorded"
    );
    assert_eq!(server.requests()[0].body, Value::Null);
    assert_eq!(server.requests()[0].raw_body, "{not json");
    let got = send(openai_post(&base, SIMPLE)).await;
    assert_eq!(got.json()["choices"][0]["message"]["content"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_script_fails_loudly() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("one")]);
    send(openai_post(&server.base_url(), SIMPLE)).await;
    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 500);
    let msg = got.json()["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(msg.contains("script ran out"), "{msg}");
    assert!(msg.contains("#2"), "{msg}");
    server.push(Reply::text("two"));
    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.json()["choices"][0]["message"]["content"], "two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_options() {
    let opts = Options {
        api_key: ApiKey::Exact("sk-right-key-0000".into()),
        ..Options::default()
    };
    let server = FakeServer::start_with(Protocol::OpenAi, vec![Reply::text("ok")], opts);
    let got = send(openai_post(&server.base_url(), SIMPLE)).await; // sends sk-test-123456789
    assert_eq!(got.status, 401);
    let v = got.json();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(msg.contains("sk-**********6789"), "key is masked: {msg}");
    let got = send(
        reqwest::Client::new()
            .post(format!("{}/chat/completions", server.base_url()))
            .bearer_auth("sk-right-key-0000")
            .body(SIMPLE),
    )
    .await;
    assert_eq!(got.status, 200);

    let opts = Options {
        api_key: ApiKey::NotRequired,
        ..Options::default()
    };
    let local = FakeServer::start_with(Protocol::OpenAi, vec![Reply::text("ok")], opts);
    let got = send(
        reqwest::Client::new()
            .post(format!("{}/chat/completions", local.base_url()))
            .body(SIMPLE),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_and_routing() {
    let server = FakeServer::start(Protocol::OpenAi, vec![]);
    let client = reqwest::Client::new();
    let got = send(
        client
            .get(format!("{}/models", server.base_url()))
            .bearer_auth("k"),
    )
    .await;
    assert_eq!(got.status, 200);
    let v = got.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "fake-model");
    assert_eq!(v["data"][0]["object"], "model");
    let got = send(
        client
            .get(format!("{}/nope", server.base_url()))
            .bearer_auth("k"),
    )
    .await;
    assert_eq!(got.status, 404);
    assert!(got.json()["error"]["message"].is_string());
    let got = send(
        client
            .get(format!("{}/chat/completions", server.base_url()))
            .bearer_auth("k"),
    )
    .await;
    assert_eq!(got.status, 405);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.model_requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_empty_and_huge() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::delayed(Duration::from_millis(300), Reply::text("late")),
            Reply::Empty,
            Reply::Empty,
            Reply::Huge(5 * 1024 * 1024),
            Reply::Huge(5 * 1024 * 1024),
        ],
    );
    let base = server.base_url();
    let t = Instant::now();
    let got = send(openai_post(&base, SIMPLE)).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(got.json()["choices"][0]["message"]["content"], "late");

    let v = send(openai_post(&base, SIMPLE)).await.json();
    assert_eq!(v["choices"][0]["message"]["content"], "");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 0);

    let chunks = stream_chunks(&send(openai_post(&base, STREAM)).await.text());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "");
    assert_eq!(
        chunks.last().expect("finish")["choices"][0]["finish_reason"],
        "stop"
    );

    let v = send(openai_post(&base, SIMPLE)).await.json();
    assert_eq!(
        v["choices"][0]["message"]["content"].as_str().map(str::len),
        Some(5 * 1024 * 1024)
    );
    let chunks = stream_chunks(&send(openai_post(&base, STREAM)).await.text());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, huge_text(5 * 1024 * 1024));
    assert!(
        chunks.len() < 64,
        "huge texts stream in a bounded number of deltas"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_stream_error_and_disconnect() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::StreamError {
                partial_text: "partial answer".into(),
                message: "The server had an error while processing your request.".into(),
            },
            Reply::Disconnect("cut off here".into()),
            Reply::Disconnect("cut off here".into()),
        ],
    );
    let base = server.base_url();
    let got = send(openai_post(&base, STREAM)).await;
    assert_eq!(got.status, 200);
    let events = parse_sse(&got.text());
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    let last = events.last().expect("events").json();
    assert_eq!(last["error"]["type"], "server_error");

    let resp = openai_post(&base, STREAM)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.bytes().await.is_err(),
        "the body must end in a transport error"
    );

    let resp = openai_post(&base, SIMPLE)
        .send()
        .await
        .expect("headers arrive");
    assert!(resp.bytes().await.is_err(), "the JSON body is cut short");
}

/// The fake also serves plain blocking clients (its runtime is its own).
#[test]
fn works_from_sync_tests() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("sync ok")]);
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{SIMPLE}",
        SIMPLE.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(
        resp.to_lowercase().contains("\r\ncontent-length: "),
        "{resp}"
    );
    let body = resp.split("\r\n\r\n").nth(1).expect("body");
    let v: Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "sync ok");
    drop(server); // stops and joins the server thread
}

/// Streams must not stall on Nagle + delayed ACK (~40 ms per stream without TCP_NODELAY), or
/// end-to-end latency benchmarks against the fake measure the fake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_do_not_stall() {
    let server = FakeServer::start(Protocol::OpenAi, vec![]);
    let client = reqwest::Client::new();
    let start = Instant::now();
    for _ in 0..20 {
        server.push(Reply::TextAndToolCalls(
            "some text to split into deltas".into(),
            vec![("exec".into(), r#"{"command":"echo hello world"}"#.into())],
        ));
        let got = send(
            client
                .post(format!("{}/chat/completions", server.base_url()))
                .bearer_auth("k")
                .body(STREAM),
        )
        .await;
        assert_eq!(got.status, 200);
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(200),
        "20 streams took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_gets_413() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("unused")]);
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(chela_testkit::MAX_REQUEST_BYTES)
    );
    let got = send(openai_post(&server.base_url(), &big)).await;
    assert_eq!(got.status, 413);
    assert!(got.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("maximum allowed number of bytes")));
    assert_eq!(server.remaining(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_replies_are_sent_verbatim() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::Raw {
                status: 502,
                content_type: "text/html".into(),
                body: "<html><body>502 Bad Gateway</body></html>".into(),
            },
            Reply::Raw {
                status: 200,
                content_type: "application/json".into(),
                body: "this is not json".into(),
            },
        ],
    );
    let got = send(openai_post(&server.base_url(), SIMPLE)).await;
    assert_eq!(got.status, 502);
    assert_eq!(got.header("content-type").as_deref(), Some("text/html"));
    assert_eq!(got.text(), "<html><body>502 Bad Gateway</body></html>");
    let got = send(openai_post(&server.base_url(), STREAM)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "this is not json");
}

#[test]
fn wait_for_requests_and_all_text() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![Reply::delayed(
            Duration::from_millis(500),
            Reply::text("late"),
        )],
    );
    assert!(!server.wait_for_requests(1, Duration::from_millis(50)));
    let addr = server.addr();
    let body = r#"{"model":"m","messages":[{"role":"system","content":"line1\nkey=\"v\""},{"role":"user","content":"caf\u00e9"}]}"#;
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        resp
    });
    let t = Instant::now();
    assert!(server.wait_for_requests(1, Duration::from_secs(10)));
    assert!(
        t.elapsed() < Duration::from_millis(450),
        "returns when the request arrives, not when it is answered"
    );
    let text = server.requests()[0].all_text();
    assert!(text.contains("line1\nkey=\"v\""), "{text}");
    assert!(text.contains("café"), "{text}");
    assert!(!text.contains("\\n"), "unescaped: {text}");
    assert!(client.join().expect("client").contains("late"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_names_of_the_request() {
    let server = FakeServer::start(Protocol::OpenAi, vec![Reply::text("ok")]);
    let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
        {"type":"function","function":{"name":"exec","parameters":{"type":"object"}}},
        {"type":"function","function":{"name":"list"}}]}"#;
    assert_eq!(
        send(openai_post(&server.base_url(), body)).await.status,
        200
    );
    assert_eq!(server.requests()[0].tool_names(), vec!["exec", "list"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_reply_reports_length() {
    let server = FakeServer::start(
        Protocol::OpenAi,
        vec![
            Reply::Truncated("cut of".into()),
            Reply::Truncated("cut of".into()),
        ],
    );
    let v = send(openai_post(&server.base_url(), SIMPLE)).await.json();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][0]["message"]["content"], "cut of");
    let chunks = stream_chunks(&send(openai_post(&server.base_url(), STREAM)).await.text());
    assert_eq!(
        chunks.last().expect("finish")["choices"][0]["finish_reason"],
        "length"
    );
}
