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
