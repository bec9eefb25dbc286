//! The tamper matrix: every kind of damage is detected and named.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chela_audit::{verify, AuditOptions, DamageKind, HEAD_FILE, PUB_FILE};
use common::*;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

fn opts() -> AuditOptions {
    AuditOptions {
        checkpoint_every: 8,
        ..quiet()
    }
}

/// A cleanly closed log with 40 events and checkpoints every 8 records.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 40, opts());
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "fixture must verify: {}", r.summary());
    assert!(r.checkpoints >= 5);
    (d, dir)
}

/// A cleanly closed log spread over several segments.
fn rotated_fixture() -> (tempfile::TempDir, PathBuf) {
    rotated_fixture_n(60)
}

fn rotated_fixture_n(n: u64) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(
        &dir,
        n,
        AuditOptions {
            max_segment_bytes: 4096,
            ..opts()
        },
    );
    assert!(segments(&dir).len() >= 4, "{:?}", segments(&dir));
    (d, dir)
}

fn seq_of(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["seq"].as_u64().unwrap()
}

/// Index of the `nth` line whose kind is `kind`.
fn nth_kind(lines: &[String], kind: &str, nth: usize) -> usize {
    let pat = format!("\"kind\":\"{kind}\"");
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&pat))
        .nth(nth)
        .unwrap()
        .0
}

fn assert_damage(dir: &Path, pubkey: Option<&Path>, kind: DamageKind, seq: Option<u64>) -> String {
    let r = verify(dir, pubkey).unwrap();
    let d = r
        .damage
        .clone()
        .unwrap_or_else(|| panic!("expected {kind} damage, verify passed: {}", r.summary()));
    assert!(!r.ok);
    assert_eq!(d.kind, kind, "wrong kind: {d}");
    if seq.is_some() {
        assert_eq!(d.seq, seq, "wrong seq: {d}");
    }
    d.to_string()
}

const SUFFIX: usize = ",\"hash\":\"".len() + 64 + 2;

fn hash_hex(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Recomputes `prev` and `hash` of lines `from..` (what an attacker without the key can do).
fn rechain(lines: &mut [String], from: usize) {
    for i in from..lines.len() {
        if i > 0 {
            let prev = serde_json::from_str::<serde_json::Value>(&lines[i - 1]).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string();
            let at = lines[i].find("\"prev\":\"").unwrap() + 8;
            lines[i].replace_range(at..at + 64, &prev);
        }
        let body = lines[i][..lines[i].len() - SUFFIX].to_string();
        lines[i] = format!("{body},\"hash\":\"{}\"}}", hash_hex(&body));
    }
}

/// Replaces the first occurrence of `from` after `"key":` in `line`.
fn edit_field(line: &str, key: &str, from: &str, to: &str) -> String {
    let at = line
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    let rel = line[at..]
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in {key}"));
    let mut out = line.to_string();
    out.replace_range(at + rel..at + rel + from.len(), to);
    assert_ne!(out, line);
    out
}

fn flip_hex(line: &str, key: &str) -> String {
    let at = line.find(&format!("\"{key}\":\"")).unwrap() + key.len() + 4;
    let mut out = line.to_string();
    let c = &line[at..at + 1];
    out.replace_range(at..at + 1, if c == "0" { "1" } else { "0" });
    out
}

#[test]
fn flipping_any_field_of_a_record_is_modified() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let orig = lines(seg);
    let k = nth_kind(&orig, "tool_started", 10);
    let seq = seq_of(&orig[k]);
    let l = &orig[k];
    let edits: Vec<(&str, String)> = vec![
        ("v", edit_field(l, "v", "1", "2")),
        (
            "seq",
            edit_field(l, "seq", &seq.to_string(), &(seq + 100).to_string()),
        ),
        ("prev", flip_hex(l, "prev")),
        ("time", edit_field(l, "time", "T", "t")),
        ("session", edit_field(l, "session", "\"s", "\"x")),
        ("actor", edit_field(l, "actor", "agent", "owner")),
        (
            "kind",
            edit_field(l, "kind", "tool_started", "tool_finished"),
        ),
        ("call_id", edit_field(l, "call_id", "call-", "call_")),
        ("tool", edit_field(l, "tool", "exec", "read")),
        ("hash", flip_hex(l, "hash")),
    ];
    for (field, edited) in edits {
        let mut tampered = orig.clone();
        tampered[k] = edited;
        write_lines(seg, &tampered);
        let msg = assert_damage(&dir, None, DamageKind::Modified, Some(seq));
        assert!(msg.contains(&format!("line {}", k + 1)), "{field}: {msg}");
    }
    write_lines(seg, &orig);
    assert!(verify(&dir, None).unwrap().ok);
}

#[test]
fn deleted_record_is_named() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let k = nth_kind(&l, "tool_started", 5);
    let seq = seq_of(&l[k]);
    l.remove(k);
    write_lines(seg, &l);
    let msg = assert_damage(&dir, None, DamageKind::Deleted, Some(seq + 1));
    assert!(
        msg.contains(&format!("record seq {seq} is missing")),
        "{msg}"
    );
}

#[test]
fn inserted_record_is_named() {
    // A replayed copy of an earlier record.
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let k = nth_kind(&l, "tool_started", 12);
    let copy = l[nth_kind(&l, "tool_started", 3)].clone();
    let copied_seq = seq_of(&copy);
    l.insert(k, copy);
    write_lines(seg, &l);
    assert_damage(&dir, None, DamageKind::Inserted, Some(copied_seq));

    // A forged record that links perfectly to its predecessor (attacker computed its hash).
    let (_d2, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let k = nth_kind(&l, "tool_started", 12);
    let seq = seq_of(&l[k]);
    let forged = edit_field(&l[k], "tool", "exec", "rm_rf");
    l.insert(k, forged);
    rechain(&mut l[..=k], k);
    write_lines(seg, &l);
    let msg = assert_damage(&dir, None, DamageKind::Inserted, Some(seq));
    assert!(msg.contains(&format!("line {}", k + 1)), "{msg}");
}

#[test]
fn swapped_records_are_reordered() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let orig = lines(seg);
    let k = nth_kind(&orig, "tool_started", 7);
    let mut l = orig.clone();
    l.swap(k, k + 1);
    write_lines(seg, &l);
    let msg = assert_damage(&dir, None, DamageKind::Reordered, None);
    assert!(msg.contains("swapped"), "{msg}");
    // Non-adjacent.
    let mut l = orig.clone();
    l.swap(k, k + 4);
    write_lines(seg, &l);
    assert_damage(
        &dir,
        None,
        DamageKind::Reordered,
        Some(seq_of(&orig[k + 4])),
    );
}

#[test]
fn truncation_after_a_checkpoint_is_named() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let l = lines(seg);
    let keep = l.len() - 5;
    write_lines(seg, &l[..keep]);
    let msg = assert_damage(&dir, None, DamageKind::Truncated, None);
    assert!(msg.contains("cut off"), "{msg}");
}

#[test]
fn torn_final_record_is_named() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut bytes = fs::read(seg).unwrap();
    bytes.truncate(bytes.len() - 30);
    fs::write(seg, &bytes).unwrap();
    assert_damage(&dir, None, DamageKind::TornTail, None);
}

fn rewrite_checkpoint_sig(line: &str, sig_b64: &str) -> String {
    let at = line.find("\"sig\":\"").unwrap() + 7;
    let end = at + line[at..].find('"').unwrap();
    let mut out = line.to_string();
    out.replace_range(at..end, sig_b64);
    out
}

#[test]
fn forged_checkpoint_signature_is_named() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let k = nth_kind(&l, "checkpoint", 2);
    let seq = seq_of(&l[k]);
    let forged = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    l[k] = rewrite_checkpoint_sig(&l[k], &forged);
    rechain(&mut l, k);
    write_lines(seg, &l);
    let msg = assert_damage(&dir, None, DamageKind::BadSignature, Some(seq));
    assert!(msg.contains("signature does not verify"), "{msg}");
}

#[test]
fn rewritten_history_without_the_key_fails_at_the_next_checkpoint() {
    let (_d, dir) = fixture();
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let k = nth_kind(&l, "tool_started", 4);
    l[k] = edit_field(&l[k], "tool", "exec", "curl");
    rechain(&mut l, k);
    write_lines(seg, &l);
    let next_ckpt = (k..l.len())
        .find(|&i| l[i].contains("\"kind\":\"checkpoint\""))
        .unwrap();
    assert_damage(
        &dir,
        None,
        DamageKind::BadSignature,
        Some(seq_of(&l[next_ckpt])),
    );
}

#[test]
fn history_resigned_with_another_key_fails_against_the_pinned_key() {
    let (d, dir) = fixture();
    let pinned = d.path().join("auditor.pub");
    fs::write(&pinned, chela_audit::public_key(&dir).unwrap()).unwrap();
    // The attacker makes their own key, rewrites a record, re-signs every checkpoint, rewrites
    // the genesis key and replaces audit.pub and head.json.
    let evil = SigningKey::from_bytes(&[9u8; 32]);
    let evil_pub = format!(
        "ed25519:{}",
        base64::engine::general_purpose::STANDARD.encode(evil.verifying_key().to_bytes())
    );
    let seg = &segments(&dir)[0];
    let mut l = lines(seg);
    let old_pub = chela_audit::public_key(&dir).unwrap();
    l[0] = l[0].replace(&old_pub, &evil_pub);
    let k = nth_kind(&l, "tool_started", 4);
    l[k] = edit_field(&l[k], "tool", "exec", "curl");
    for i in 0..l.len() {
        rechain(&mut l[..=i], i);
        if l[i].contains("\"kind\":\"checkpoint\"") {
            let v: serde_json::Value = serde_json::from_str(&l[i]).unwrap();
            let msg = format!(
                "chela-audit checkpoint v1\nlog_id={}\nseq={}\nprev={}\ntime={}\nsegment={}\nreason={}\n",
                v["log_id"].as_str().unwrap(),
                v["seq"],
                v["prev"].as_str().unwrap(),
                v["time"].as_str().unwrap(),
                v["segment"],
                v["reason"].as_str().unwrap()
            );
            let sig = base64::engine::general_purpose::STANDARD
                .encode(evil.sign(msg.as_bytes()).to_bytes());
            l[i] = rewrite_checkpoint_sig(&l[i], &sig);
            rechain(&mut l[..=i], i);
        }
    }
    write_lines(seg, &l);
    fs::write(dir.join(PUB_FILE), format!("{evil_pub}\n")).unwrap();
    fs::write(dir.join(HEAD_FILE), format!("{}\n", l[l.len() - 1])).unwrap();
    // With the key from the directory the forgery is consistent…
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    // …but not with the key the auditor pinned.
    assert_damage(&dir, Some(&pinned), DamageKind::BadSignature, None);
    // Even without the forged head the genesis record names the wrong key.
    fs::remove_file(dir.join(HEAD_FILE)).unwrap();
    let msg = assert_damage(&dir, Some(&pinned), DamageKind::BadSignature, Some(0));
    assert!(msg.contains("created with key"), "{msg}");
}

#[test]
fn forged_head_signature_is_named() {
    let (_d, dir) = fixture();
    let head = fs::read_to_string(dir.join(HEAD_FILE)).unwrap();
    let forged = rewrite_checkpoint_sig(
        head.trim_end(),
        &base64::engine::general_purpose::STANDARD.encode([1u8; 64]),
    );
    let mut l = vec![forged];
    rechain(&mut l, 0);
    fs::write(dir.join(HEAD_FILE), format!("{}\n", l[0])).unwrap();
    let msg = assert_damage(&dir, None, DamageKind::BadSignature, None);
    assert!(msg.contains(HEAD_FILE), "{msg}");
}

#[test]
fn segment_from_another_installation_is_foreign() {
    let (_a, ours) = rotated_fixture();
    let (_b, theirs) = rotated_fixture_n(120);
    assert!(verify(&ours, None).unwrap().ok);
    // Replace our second segment with theirs.
    let ours_segs = segments(&ours);
    let theirs_segs = segments(&theirs);
    let saved = fs::read(&ours_segs[1]).unwrap();
    fs::copy(&theirs_segs[1], &ours_segs[1]).unwrap();
    let msg = assert_damage(&ours, None, DamageKind::ForeignSegment, None);
    assert!(
        msg.contains(ours_segs[1].file_name().unwrap().to_str().unwrap()),
        "{msg}"
    );
    fs::write(&ours_segs[1], saved).unwrap();
    assert!(verify(&ours, None).unwrap().ok);
    // Append one of theirs as our next segment.
    let next = ours.join(format!("seg-{:010}.jsonl", ours_segs.len() + 1));
    // Their segment with the number ours would need next, unchanged.
    let theirs_next = fs::read(&theirs_segs[ours_segs.len()]).unwrap();
    fs::write(&next, theirs_next).unwrap();
    assert_damage(&ours, None, DamageKind::ForeignSegment, None);
}

#[test]
fn deleted_or_renumbered_segments_are_named() {
    let (_d, dir) = rotated_fixture();
    let segs = segments(&dir);
    let saved = fs::read(&segs[1]).unwrap();
    fs::remove_file(&segs[1]).unwrap();
    let msg = assert_damage(&dir, None, DamageKind::Deleted, None);
    assert!(
        msg.contains(segs[1].file_name().unwrap().to_str().unwrap()),
        "{msg}"
    );
    fs::write(&segs[1], &saved).unwrap();
    // Swap two segment files.
    let third = fs::read(&segs[2]).unwrap();
    fs::write(&segs[1], &third).unwrap();
    fs::write(&segs[2], &saved).unwrap();
    assert_damage(&dir, None, DamageKind::Reordered, None);
    fs::write(&segs[1], &saved).unwrap();
    fs::write(&segs[2], &third).unwrap();
    assert!(verify(&dir, None).unwrap().ok);
    // A record deleted at a segment boundary.
    let mut l = lines(&segs[2]);
    l.remove(0);
    write_lines(&segs[2], &l);
    assert_damage(&dir, None, DamageKind::Deleted, None);
}

#[test]
fn rotated_log_verifies_as_one_chain() {
    let (_d, dir) = rotated_fixture();
    let r = verify(&dir, None).unwrap();
    assert!(r.ok, "{}", r.summary());
    assert_eq!(r.segments as usize, segments(&dir).len());
    // genesis + open ckpt + 60 events + one segment_start per extra segment + checkpoints
    assert!(r.records > 62 + r.segments - 1);
}

#[test]
fn modification_in_a_large_segment_is_found() {
    // Large enough for verify to check hashes on several threads.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 20_000, opts());
    assert!(verify(&dir, None).unwrap().ok);
    let seg = &segments(&dir)[0];
    let orig = lines(seg);
    for k in [15_555usize, 3, orig.len() - 2] {
        let mut l = orig.clone();
        let seq = seq_of(&l[k]);
        l[k] = flip_hex(&l[k], "prev");
        write_lines(seg, &l);
        assert_damage(&dir, None, DamageKind::Modified, Some(seq));
    }
}

#[test]
fn replaced_log_is_caught_by_the_head() {
    // Someone deletes every segment; the next start begins a new log with the same key.
    let (_d, dir) = fixture();
    for seg in segments(&dir) {
        fs::remove_file(seg).unwrap();
    }
    write_log(&dir, 3, opts());
    let msg = assert_damage(&dir, None, DamageKind::ForeignSegment, None);
    assert!(msg.contains(HEAD_FILE) && msg.contains("replaced"), "{msg}");
}

#[test]
fn emptied_or_added_empty_segments_are_named() {
    let (_d, dir) = rotated_fixture();
    let segs = segments(&dir);
    let saved = fs::read(&segs[1]).unwrap();
    fs::write(&segs[1], b"").unwrap();
    assert_damage(&dir, None, DamageKind::Deleted, None);
    fs::write(&segs[1], saved).unwrap();
    assert!(verify(&dir, None).unwrap().ok);
    let extra = dir.join(format!("seg-{:010}.jsonl", segs.len() + 1));
    fs::write(&extra, b"").unwrap();
    assert_damage(&dir, None, DamageKind::TornTail, None);
    // The next open removes the empty segment and the log verifies again.
    drop(chela_audit::AuditLog::open_with(&dir, opts()).unwrap());
    assert!(!extra.exists());
    assert!(verify(&dir, None).unwrap().ok);
}
