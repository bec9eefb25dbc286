//! End-to-end: `chela chat` on a pseudo-terminal — streamed answers, Ctrl-C cancels the current
//! turn (not the process), `/new` starts a new session.

mod common;

use std::time::Duration;

use chela_testkit::{FakeServer, Options, Protocol, Reply};
use common::{chat_on_pty, stdout, Setup};

#[test]
fn ctrl_c_cancels_the_turn_not_the_process() {
    let server = FakeServer::start_with(
        Protocol::Anthropic,
        vec![
            Reply::delayed(Duration::from_secs(4), Reply::text("too slow to be seen")),
            Reply::text("second answer arrives"),
        ],
        Options::default(),
    );
    let s = Setup::with_server(server, Protocol::Anthropic);
    let out = chat_on_pty(
        &s,
        "chat1",
        &[
            "first question",
            "<ctrl-c>",
            "second question",
            "<pause>",
            "/exit",
        ],
    );
    let screen =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(screen.contains("(cancelled)"), "{screen}");
    assert!(screen.contains("second answer arrives"), "{screen}");
    assert!(!screen.contains("too slow to be seen"), "{screen}");
    assert_eq!(out.status.code(), Some(0), "{screen}");
}

#[test]
fn streamed_answers_and_new_sessions() {
    let server = FakeServer::start_with(
        Protocol::OpenAi,
        vec![
            Reply::text("streamed reply one"),
            Reply::text("reply in a fresh session"),
        ],
        Options {
            chunk_delay: Duration::from_millis(20),
            ..Options::default()
        },
    );
    let s = Setup::with_server(server, Protocol::OpenAi);
    let out = chat_on_pty(
        &s,
        "chat2",
        &[
            "hello",
            "<pause>",
            "/new",
            "hello again",
            "<pause>",
            "/exit",
        ],
    );
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        screen.contains("streamed reply one") && screen.contains("reply in a fresh session"),
        "{screen}"
    );
    assert!(screen.contains("started session chat-"), "{screen}");
    // The second request starts from a clean history: /new really began a new session.
    let reqs = s.server.model_requests();
    assert!(
        !reqs[1].raw_body.contains("streamed reply one"),
        "history leaked into the new session"
    );
    let list = stdout(&s.run(&["sessions", "list"]));
    assert!(list.contains("chat2") && list.contains("chat-"), "{list}");
}
