//! Open, append, close, reopen, verify, show.

mod common;

use std::sync::Arc;

use chela_audit::{read_records, render_table, verify, AuditLog, RecordFilter};
use common::*;

#[test]
fn append_close_reopen_verify() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 10, quiet());
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    // genesis + open checkpoint + 10 events + shutdown checkpoint
    assert_eq!(r.records, 13);
    assert_eq!(r.checkpoints, 2);
    assert_eq!(r.unsigned_tail, 0);
    assert_eq!(r.head_seq, Some(12));

    let log = AuditLog::open_with(&dir, quiet()).unwrap();
    assert!(!log.open_report().created);
    assert_eq!(log.append(ev("s3", 99)).unwrap(), 13);
    drop(log);
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.records, 15);

    let recs = read_records(
        &dir,
        &RecordFilter {
            session: Some("s3".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].seq, 13);
    assert_eq!(recs[0].kind, "tool_started");
    let table = render_table(&recs);
    assert!(table.contains("tool_started"), "{table}");
    assert!(table.contains("call_id=call-99"), "{table}");
    assert_eq!(recs[0].event().unwrap(), ev("s3", 99));
}

#[test]
fn concurrent_appends_from_threads_form_one_chain() {
    let d = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open_with(d.path(), quiet()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..500 {
                    log.append(ev(&format!("t{t}"), i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    log.close().unwrap();
    let r = verify(d.path(), None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.records, 2003);
}

#[test]
fn scrubber_masks_secrets_in_every_field() {
    use chela_types::{Actor, Event, EventKind};
    let d = tempfile::tempdir().unwrap();
    let secret = "sk-live-0123456789abcdef";
    let log = AuditLog::open_with(d.path(), quiet())
        .unwrap()
        .with_scrubber(Arc::new(chela_audit::LiteralScrubber::new([secret])));
    log.append(Event::new(
        Some("s"),
        Actor::Agent,
        EventKind::ToolProposed {
            call_id: "c1".into(),
            tool: "exec".into(),
            arguments: format!("{{\"cmd\":\"curl -H 'Authorization: Bearer {secret}'\"}}"),
        },
    ))
    .unwrap();
    log.append(Event::new(
        Some("s"),
        Actor::Agent,
        EventKind::ModelError {
            model: "m".into(),
            error: format!("401 for key {secret}\nretry"),
        },
    ))
    .unwrap();
    drop(log);
    for seg in segments(d.path()) {
        let text = std::fs::read_to_string(seg).unwrap();
        assert!(!text.contains(secret));
        assert!(!text.contains("sk-live"));
    }
    let recs = read_records(
        d.path(),
        &RecordFilter {
            events_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs[0].fields["arguments"]
        .as_str()
        .unwrap()
        .contains("Bearer [REDACTED]"));
    assert_eq!(recs[1].fields["error"], "401 for key [REDACTED]\nretry");
    assert!(verify(d.path(), None).unwrap().ok);
}

#[test]
fn works_as_an_audit_sink_and_refuses_after_close() {
    use chela_types::AuditSink;
    let d = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open_with(d.path(), quiet()).unwrap());
    let sink: Arc<dyn AuditSink> = log.clone();
    let seq = sink.record(ev("s", 1)).unwrap();
    assert_eq!(seq, 2);
    log.close().unwrap();
    let err = sink.record(ev("s", 2)).unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    assert!(verify(d.path(), None).unwrap().ok);
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 1, quiet());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name == chela_audit::PUB_FILE {
            assert_eq!(mode(&p), 0o644);
        } else {
            assert_eq!(mode(&p), 0o600, "{name}");
        }
    }
}

#[test]
fn show_filters_by_kind_and_time() {
    let d = tempfile::tempdir().unwrap();
    write_log(d.path(), 4, quiet());
    let all = read_records(d.path(), &RecordFilter::default()).unwrap();
    let ckpts = read_records(
        d.path(),
        &RecordFilter {
            kind: Some("checkpoint".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ckpts.len(), 2);
    let future = read_records(
        d.path(),
        &RecordFilter {
            since: Some(std::time::SystemTime::now() + std::time::Duration::from_secs(60)),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(future.is_empty());
    let last2 = read_records(
        d.path(),
        &RecordFilter {
            last: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(last2.len(), 2);
    assert_eq!(last2[1].seq, all[all.len() - 1].seq);
    let table = render_table(&all);
    assert!(table.starts_with("SEQ"), "{table}");
    assert_eq!(table.lines().count(), all.len() + 1);
    assert!(table.contains("segment_start"));
}

#[test]
fn verify_while_writing_reports_no_false_damage() {
    use chela_types::{Actor, Event, EventKind};
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let log = Arc::new(
        AuditLog::open_with(
            &dir,
            chela_audit::AuditOptions {
                checkpoint_every: 50,
                checkpoint_interval: std::time::Duration::from_millis(10),
                flush_interval: std::time::Duration::from_millis(5),
                max_segment_bytes: 2 << 20,
                ..quiet()
            },
        )
        .unwrap(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let big = i.is_multiple_of(10);
                log.append(Event::new(
                    Some("live"),
                    Actor::Agent,
                    EventKind::ToolProposed {
                        call_id: format!("c{i}"),
                        tool: "write".into(),
                        arguments: "x".repeat(if big { 200_000 } else { 10 }),
                    },
                ))
                .unwrap();
                i += 1;
            }
            i
        })
    };
    let mut runs = 0;
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) || runs < 20 {
        let r = verify(&dir, None).unwrap();
        assert!(r.ok, "false alarm while writing: {}", r.summary());
        runs += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 100, "{written}");
    log.close().unwrap();
    assert!(verify(&dir, None).unwrap().ok);
}
