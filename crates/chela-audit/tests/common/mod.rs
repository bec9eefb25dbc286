//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chela_audit::{AuditLog, AuditOptions};
use chela_types::{Actor, Event, EventKind};

/// A tool_started event in `session`.
pub fn ev(session: &str, n: u64) -> Event {
    Event::new(
        Some(session),
        Actor::Agent,
        EventKind::ToolStarted {
            call_id: format!("call-{n}"),
            tool: "exec".into(),
        },
    )
}

/// Options with a fast flusher and no automatic checkpoints or rotation (tests decide).
pub fn quiet() -> AuditOptions {
    AuditOptions {
        checkpoint_every: u64::MAX,
        checkpoint_interval: Duration::from_secs(3600),
        flush_interval: Duration::from_millis(20),
        max_segment_bytes: u64::MAX,
        max_segment_age: Duration::from_secs(365 * 24 * 3600),
    }
}

/// Writes `n` events into a new log at `dir` and closes it cleanly.
pub fn write_log(dir: &Path, n: u64, opts: AuditOptions) {
    let log = Arc::new(AuditLog::open_with(dir, opts).unwrap());
    for i in 0..n {
        log.append(ev(if i % 2 == 0 { "s1" } else { "s2" }, i))
            .unwrap();
    }
    log.close().unwrap();
}

/// Segment files of the log in `dir`, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("seg-") && n.ends_with(".jsonl")
        })
        .collect();
    v.sort();
    v
}

/// Lines of a file (without newlines).
pub fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Writes lines back, each with a newline.
pub fn write_lines(p: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(p, s).unwrap();
}
