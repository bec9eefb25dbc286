//! Shared helpers for the self-tests: a plain HTTP client and a strict SSE parser.
#![allow(dead_code)]

use serde_json::Value;

/// A response as received: status, headers, body chunks as they arrived.
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub chunks: Vec<Vec<u8>>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.chunks.concat()
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("response body is UTF-8")
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes()).expect("response body is JSON")
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Got {
    let mut resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut chunks = Vec::new();
    while let Some(c) = resp.chunk().await.expect("body chunk") {
        chunks.push(c.to_vec());
    }
    Got {
        status,
        headers,
        chunks,
    }
}

pub fn openai_post(base: &str, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .header("authorization", "Bearer sk-test-123456789")
        .header("content-type", "application/json")
        .body(body.to_string())
}

pub fn anthropic_post(base: &str, body: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// One SSE event: optional `event:` name and the `data:` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// Parses a complete SSE body strictly: events separated by a blank line, each line
/// `event: …` or `data: …`, body ending with a blank line.
pub fn parse_sse(body: &str) -> Vec<Event> {
    assert!(
        body.ends_with("\n\n"),
        "SSE body must end with a blank line: {body:?}"
    );
    body.strip_suffix("\n\n")
        .expect("checked")
        .split("\n\n")
        .map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.split('\n') {
                if let Some(v) = line.strip_prefix("event: ") {
                    assert!(name.is_none(), "two event lines in {block:?}");
                    name = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    assert!(data.is_none(), "two data lines in {block:?}");
                    data = Some(v.to_string());
                } else {
                    panic!("unexpected SSE line {line:?} in {block:?}");
                }
            }
            Event {
                name,
                data: data.unwrap_or_else(|| panic!("no data line in {block:?}")),
            }
        })
        .collect()
}
