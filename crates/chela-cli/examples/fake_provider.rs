//! A fake OpenAI-compatible provider for benchmarks: plays the standard 3-round-trip task
//! (write a file, run it, answer) `N` times, then exits when stdin closes.
//!
//! `cargo run --release -p chela-cli --example fake_provider -- N` prints the base URL on stdout.

use std::io::{BufRead, Write};

use chela_testkit::{ApiKey, FakeServer, Options, Protocol, Reply};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let mut script = Vec::with_capacity(n * 3);
    for _ in 0..n {
        script.push(Reply::tool_call(
            "write",
            r#"{"path":"bench.sh","content":"echo benchmark\n"}"#,
        ));
        script.push(Reply::tool_call("exec", r#"{"command":"sh bench.sh"}"#));
        script.push(Reply::text("done"));
    }
    let server = FakeServer::start_with(
        Protocol::OpenAi,
        script,
        Options {
            api_key: ApiKey::NotRequired,
            ..Options::default()
        },
    );
    println!("{}", server.base_url());
    std::io::stdout().flush().ok();
    // Serve until the driver closes our stdin.
    for _ in std::io::stdin().lock().lines() {}
}
