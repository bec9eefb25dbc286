//! Round-trip cost of the fake servers over loopback (reqwest client, keep-alive), so end-to-end
//! benchmarks of `chela run` know how much of their time is the fake.

use criterion::{criterion_group, criterion_main, Criterion};

use chela_testkit::{FakeServer, Protocol, Reply};

const OPENAI: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
const OPENAI_STREAM: &str = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
const ANTHROPIC_STREAM: &str =
    r#"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn reply() -> Reply {
    Reply::TextAndToolCalls(
        "I will write the file and then run it.".into(),
        vec![(
            "write".into(),
            r#"{"path":"a.sh","content":"echo hello world"}"#.into(),
        )],
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let cases = [
        ("openai_json", Protocol::OpenAi, OPENAI),
        ("openai_sse", Protocol::OpenAi, OPENAI_STREAM),
        ("anthropic_sse", Protocol::Anthropic, ANTHROPIC_STREAM),
    ];
    for (name, protocol, body) in cases {
        let server = FakeServer::start(protocol, vec![]);
        let url = match protocol {
            Protocol::OpenAi => format!("{}/chat/completions", server.base_url()),
            Protocol::Anthropic => format!("{}/v1/messages", server.base_url()),
        };
        c.bench_function(name, |b| {
            b.iter(|| {
                server.push(reply());
                rt.block_on(async {
                    let resp = client
                        .post(&url)
                        .bearer_auth("k")
                        .header("x-api-key", "k")
                        .header("anthropic-version", "2023-06-01")
                        .body(body)
                        .send()
                        .await
                        .expect("send");
                    assert_eq!(resp.status().as_u16(), 200);
                    resp.bytes().await.expect("body")
                })
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
