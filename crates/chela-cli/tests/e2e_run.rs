//! End-to-end: the real `chela` binary, run as an unprivileged user, against fake providers.

mod common;

use chela_testkit::{FakeServer, Options, Protocol, Reply};
use common::{stderr, stdout, Setup};

fn write_exec_answer(protocol: Protocol) {
    let s = Setup::new(
        protocol,
        vec![
            Reply::tool_call(
                "write",
                r#"{"path":"hello.sh","content":"echo hello from the sandbox\n"}"#,
            ),
            Reply::tool_call("exec", r#"{"command":"sh hello.sh"}"#),
            Reply::text("The script printed: hello from the sandbox"),
        ],
    );
    // Running a script the kernel cannot read is "unknown" and needs approval; `chela run`
    // without a terminal has no approver, so the owner pre-approves this exact command.
    s.set_policy("allow_rules = [\"exec:sh hello.sh\"]");
    let out = s.run(&["run", "write a script and run it"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "The script printed: hello from the sandbox"
    );
    assert!(
        stderr(&out).contains("→ exec"),
        "progress on stderr: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(s.workspace().join("hello.sh")).unwrap(),
        "echo hello from the sandbox\n"
    );
    // The model saw the exec output in the third request.
    let results = s.tool_results(2);
    assert!(
        results
            .iter()
            .any(|r| r.contains("hello from the sandbox") && r.contains("exit code: 0")),
        "{results:?}"
    );
    assert_eq!(s.server.remaining(), 0);
    // The key went to the provider in the right header.
    let first = &s.server.requests()[0];
    match protocol {
        Protocol::OpenAi => assert_eq!(
            first.header("authorization"),
            Some("Bearer sk-test-fake-key-0123456789")
        ),
        Protocol::Anthropic => assert_eq!(
            first.header("x-api-key"),
            Some("sk-test-fake-key-0123456789")
        ),
    }
}

#[test]
fn write_exec_answer_openai() {
    write_exec_answer(Protocol::OpenAi);
}

#[test]
fn write_exec_answer_anthropic() {
    write_exec_answer(Protocol::Anthropic);
}

#[test]
fn streaming_and_non_streaming_both_work() {
    for stream in [true, false] {
        let s = Setup::new(
            Protocol::OpenAi,
            vec![Reply::text("streamed answer with several words in it")],
        );
        s.set_provider_option(&format!("stream = {stream}"));
        let out = s.run(&["run", "say something"]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            "streamed answer with several words in it"
        );
        assert_eq!(s.server.requests()[0].body["stream"], stream);
    }
}

#[test]
fn several_tool_calls_in_one_reply() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::ToolCalls(vec![
                ("write".into(), r#"{"path":"a.txt","content":"A"}"#.into()),
                ("write".into(), r#"{"path":"b.txt","content":"B"}"#.into()),
                ("list".into(), "{}".into()),
            ]),
            Reply::text("wrote two files"),
        ],
    );
    let out = s.run(&["run", "write two files"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let results = s.tool_results(1);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        results[2].contains("a.txt") && results[2].contains("b.txt"),
        "{results:?}"
    );
}

#[test]
fn http_401_is_explained() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::error(401, "Incorrect API key provided")],
    );
    let out = s.run(&["run", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "the provider rejected the API key (HTTP 401); check api_key_env / the vault entry"
        ),
        "{err}"
    );
    assert_eq!(s.server.requests().len(), 1, "401 must not be retried");
}

#[test]
fn http_500_then_success_is_retried() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::error(500, "internal error"),
            Reply::error(503, "overloaded"),
            Reply::text("recovered"),
        ],
    );
    let out = s.run(&["run", "hi"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "recovered");
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
    assert_eq!(s.server.requests().len(), 3);
}

#[test]
fn fallback_model_is_used_when_the_main_one_keeps_failing() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::error(503, "down"),
            Reply::error(503, "down"),
            Reply::text("from the fallback"),
        ],
    );
    s.set_provider_option("max_retries = 1\nfallback_models = [\"backup-model\"]");
    let out = s.run(&["run", "hi"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let reqs = s.server.requests();
    assert_eq!(reqs[2].body["model"], "backup-model");
}

#[test]
fn invalid_tool_json_is_reported_to_the_model() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("write", r#"{"path": "x.txt", "content": "#),
            Reply::text("sorry, fixed"),
        ],
    );
    let out = s.run(&["run", "write"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let results = s.tool_results(1);
    assert!(results[0].contains("not valid JSON"), "{results:?}");
    assert!(!s.workspace().join("x.txt").exists());
}

#[test]
fn unknown_tool_is_reported_to_the_model() {
    let s = Setup::new(
        Protocol::Anthropic,
        vec![
            Reply::tool_call("delete_everything", "{}"),
            Reply::text("ok"),
        ],
    );
    let out = s.run(&["run", "go"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let results = s.tool_results(1);
    assert!(
        results[0].contains("no tool named \"delete_everything\"") && results[0].contains("exec"),
        "{results:?}"
    );
}

#[test]
fn empty_reply_gets_a_nudge() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::Empty, Reply::text("here it is")],
    );
    let out = s.run(&["run", "go"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "here it is");
    assert!(s.server.requests()[1]
        .raw_body
        .contains("Your last reply was empty"));
}

#[test]
fn five_megabyte_tool_output_is_capped_with_a_note() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call(
                "exec",
                r#"{"command":"head -c 5000000 /dev/zero | tr '\\0' a"}"#,
            ),
            Reply::text("big"),
        ],
    );
    let out = s.run(&["run", "make noise"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let results = s.tool_results(1);
    assert!(
        results[0].len() < 40_000,
        "tool output reached the model uncapped: {} bytes",
        results[0].len()
    );
    assert!(
        results[0].contains("bytes cut") || results[0].contains("truncated"),
        "{}",
        &results[0][..200]
    );
}

#[test]
fn context_length_error_is_clear() {
    let s = Setup::new(Protocol::OpenAi, vec![Reply::context_length_exceeded()]);
    let out = s.run(&["run", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("context window"), "{}", stderr(&out));
}

#[test]
fn step_limit_stops_a_runaway_task() {
    let calls: Vec<Reply> = (0..5).map(|_| Reply::tool_call("list", "{}")).collect();
    let s = Setup::new(Protocol::OpenAi, calls);
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("max_steps = 40", "max_steps = 3");
    std::fs::write(&cfg, text).unwrap();
    let out = s.run(&["run", "loop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("agent.max_steps"), "{}", stderr(&out));
    assert_eq!(s.server.requests().len(), 3);
}

#[test]
fn sessions_survive_restarts() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::text("first answer"), Reply::text("second answer")],
    );
    assert_eq!(
        s.run(&["run", "--session", "work", "remember the word kumquat"])
            .status
            .code(),
        Some(0)
    );
    let out = s.run(&["run", "--session", "work", "what was the word?"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        s.server.requests()[1].raw_body.contains("kumquat"),
        "history not replayed"
    );
    let list = s.run(&["sessions", "list"]);
    assert!(stdout(&list).contains("work"), "{}", stdout(&list));
    let show = s.run(&["sessions", "show", "work"]);
    assert!(stdout(&show).contains("second answer"), "{}", stdout(&show));
}

#[test]
fn audit_log_records_the_task() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![Reply::tool_call("list", "{}"), Reply::text("done")],
    );
    assert_eq!(
        s.run(&["run", "--session", "aud", "list"]).status.code(),
        Some(0)
    );
    let dir = s.home.chela_home().join("audit");
    let mut all = String::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.path().is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    for kind in [
        "chela_started",
        "model_request",
        "model_response",
        "tool_proposed",
        "policy_decision",
        "tool_started",
        "tool_finished",
        "task_finished",
    ] {
        assert!(all.contains(kind), "audit log lacks {kind}");
    }
    assert!(
        !all.contains("sk-test-fake-key-0123456789"),
        "the API key leaked into the audit log"
    );
}

#[test]
fn missing_key_variable_is_a_config_error() {
    let s = Setup::new(Protocol::OpenAi, vec![]);
    let out = chela_testkit::chela_command(common::bin(), &s.home)
        .args(["run", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("FAKE_API_KEY"), "{}", stderr(&out));
}

#[test]
fn keyless_local_server_works() {
    let server = FakeServer::start_with(
        Protocol::OpenAi,
        vec![Reply::text("local model here")],
        Options {
            api_key: chela_testkit::ApiKey::NotRequired,
            ..Options::default()
        },
    );
    let home = chela_testkit::TestHome::new();
    let out = chela_testkit::chela_command(common::bin(), &home)
        .args([
            "init",
            "--non-interactive",
            "--provider",
            "openai",
            "--base-url",
        ])
        .arg(server.base_url())
        .args(["--model", "llama3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = chela_testkit::chela_command(common::bin(), &home)
        .args(["run", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(server.requests()[0].header("authorization").is_none());
}

#[test]
fn cost_budget_stops_the_task() {
    let s = Setup::new(
        Protocol::OpenAi,
        vec![
            Reply::tool_call("list", "{}"),
            Reply::tool_call("list", "{}"),
            Reply::text("never reached"),
        ],
    );
    // Absurd prices make the first round trip exceed a $5 budget.
    s.set_provider_option("input_price_per_mtok = 1000000.0\noutput_price_per_mtok = 1000000.0");
    let cfg = s.home.chela_home().join("config.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("# max_cost_usd = 1.0", "max_cost_usd = 5.0");
    std::fs::write(&cfg, text).unwrap();
    let out = s.run(&["run", "go"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cost budget exhausted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.server.model_requests().len(), 1);
}
