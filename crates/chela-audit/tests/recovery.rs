//! Torn tails (power loss can cut any record) are set aside on open, never silently accepted
//! or dropped; a damaged last record makes open refuse (fail closed).

mod common;

use std::fs;
use std::io::Write;

use chela_audit::{verify, AuditError, AuditLog, AuditOptions, DamageKind};
use common::*;

#[test]
fn torn_tail_is_set_aside_on_open() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 5, quiet());
    let seg = segments(&dir)[0].clone();
    let before = fs::metadata(&seg).unwrap().len();
    let torn = b"{\"v\":1,\"seq\":8,\"prev\":\"00ab";
    fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(torn)
        .unwrap();

    let r = verify(&dir, None).unwrap();
    assert_eq!(
        r.damage.as_ref().unwrap().kind,
        DamageKind::TornTail,
        "{}",
        r.summary()
    );

    let log = AuditLog::open_with(&dir, quiet()).unwrap();
    let rep = log.open_report().clone();
    assert_eq!(rep.torn_tails.len(), 1);
    let t = &rep.torn_tails[0];
    assert_eq!(t.offset, before);
    assert_eq!(t.bytes, torn.len() as u64);
    assert_eq!(fs::read(&t.moved_to).unwrap(), torn);
    assert!(t.moved_to.extension().is_some_and(|e| e == "torn"));
    let seq = log.append(ev("after", 1)).unwrap();
    assert!(seq > t.record_seq);
    drop(log);

    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.torn_recorded, 1);
    assert_eq!(r.torn_files, vec![t.moved_to.clone()]);
    let recs = chela_audit::read_records(
        &dir,
        &chela_audit::RecordFilter {
            kind: Some("torn_tail".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].fields["bytes"], torn.len() as u64);
    assert_eq!(recs[0].fields["offset"], before);
}

#[test]
fn torn_segment_start_after_rotation_is_recovered() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 5, quiet());
    // A crash right after creating the next segment, mid-way through its first record.
    let next = dir.join("seg-0000000002.jsonl");
    fs::write(&next, b"{\"v\":1,\"seq\":9,\"pr").unwrap();
    let log = AuditLog::open_with(&dir, quiet()).unwrap();
    assert_eq!(log.open_report().torn_tails.len(), 1);
    assert!(!next.exists(), "the emptied segment is removed");
    log.append(ev("after", 1)).unwrap();
    drop(log);
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.torn_recorded, 1);
}

#[test]
fn damaged_last_record_makes_open_refuse() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 5, quiet());
    let seg = segments(&dir)[0].clone();
    let mut l = lines(&seg);
    let n = l.len();
    l[n - 1] = l[n - 1].replace("shutdown", "sh_tdown");
    write_lines(&seg, &l);
    match AuditLog::open_with(&dir, quiet()) {
        Err(AuditError::Damaged { detail, .. }) => assert!(detail.contains("hash"), "{detail}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a damaged log must not be continued"),
    }
}

#[test]
fn missing_or_wrong_key_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 2, quiet());
    let key = dir.join(chela_audit::KEY_FILE);
    let saved = fs::read(&key).unwrap();
    fs::remove_file(&key).unwrap();
    assert!(matches!(
        AuditLog::open_with(&dir, quiet()),
        Err(AuditError::KeyMissing { .. })
    ));
    // Another key in its place.
    let other = d.path().join("other");
    chela_audit::init_keys(&other).unwrap();
    fs::copy(other.join(chela_audit::KEY_FILE), &key).unwrap();
    let e = AuditLog::open_with(&dir, quiet()).err().unwrap();
    assert!(matches!(e, AuditError::KeyMismatch { .. }), "{e}");
    fs::write(&key, saved).unwrap();
    AuditLog::open_with(&dir, quiet()).unwrap();
}

#[test]
fn interval_checkpoints_and_age_rotation() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    let log = AuditLog::open_with(
        &dir,
        AuditOptions {
            checkpoint_interval: std::time::Duration::from_millis(50),
            max_segment_age: std::time::Duration::from_millis(150),
            ..quiet()
        },
    )
    .unwrap();
    let seq = log.append(ev("s", 0)).unwrap();
    // The flusher writes a checkpoint after the interval and publishes it once durable.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = verify(&dir, None).unwrap();
        assert!(r.ok, "{}", r.summary());
        if r.head_seq.is_some_and(|h| h > seq) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no interval checkpoint: {}",
            r.summary()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = segments(&dir).len();
    std::thread::sleep(std::time::Duration::from_millis(200));
    log.append(ev("s", 1)).unwrap();
    drop(log);
    // The segment was older than max_segment_age: the append went to a new one.
    assert_eq!(segments(&dir).len(), before + 1);
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
}
