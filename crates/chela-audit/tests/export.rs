//! Export to a syslog collector on loopback (TCP with RFC 6587 octet counting, UDP), CEF and
//! JSONL files.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use chela_audit::{export, read_records, ExportFormat, ExportSink, RecordFilter, SYSLOG_SD_ID};
use common::*;

fn log_with_events() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("audit");
    write_log(&dir, 6, quiet());
    (d, dir)
}

/// Checks one RFC 5424 message against the stored record it came from.
fn check_5424(msg: &str, raw: &str, seq: u64, kind: &str) {
    // HEADER: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
    let rest = msg.strip_prefix('<').unwrap();
    let (pri, rest) = rest.split_once('>').unwrap();
    let pri: u16 = pri.parse().unwrap();
    assert_eq!(pri / 8, 13, "facility log audit");
    let mut parts = rest.splitn(7, ' ');
    assert_eq!(parts.next(), Some("1"), "version");
    let ts = parts.next().unwrap();
    assert!(humantime::parse_rfc3339(ts).is_ok(), "timestamp {ts}");
    let host = parts.next().unwrap();
    assert!(!host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()));
    assert_eq!(parts.next(), Some("chela"));
    assert_eq!(parts.next(), Some("-"));
    assert_eq!(parts.next(), Some(kind));
    let sd_and_msg = parts.next().unwrap();
    let sd_end = sd_and_msg.find("] ").unwrap();
    let sd = &sd_and_msg[..=sd_end];
    assert!(
        sd.starts_with(&format!("[{SYSLOG_SD_ID} seq=\"{seq}\" hash=\"")),
        "{sd}"
    );
    let body = &sd_and_msg[sd_end + 2..];
    let json = body
        .strip_prefix('\u{feff}')
        .expect("MSG starts with a UTF-8 BOM");
    assert_eq!(json, raw);
}

#[test]
fn syslog_over_tcp_uses_octet_counting() {
    let (_d, dir) = log_with_events();
    let recs = read_records(&dir, &RecordFilter::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let n = export(
        &dir,
        ExportFormat::Syslog5424,
        &ExportSink::parse(&format!("tcp://{addr}")).unwrap(),
        &RecordFilter::default(),
    )
    .unwrap();
    assert_eq!(n as usize, recs.len());
    let data = server.join().unwrap();
    // Frames: MSG-LEN SP SYSLOG-MSG
    let mut pos = 0;
    let mut frames = Vec::new();
    while pos < data.len() {
        let sp = pos + data[pos..].iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&data[pos..sp])
            .unwrap()
            .parse()
            .unwrap();
        frames.push(String::from_utf8(data[sp + 1..sp + 1 + len].to_vec()).unwrap());
        pos = sp + 1 + len;
    }
    assert_eq!(frames.len(), recs.len());
    for (f, r) in frames.iter().zip(&recs) {
        check_5424(f, &r.raw, r.seq, &r.kind);
    }
}

#[test]
fn syslog_over_udp_one_datagram_per_record() {
    let (_d, dir) = log_with_events();
    let filter = RecordFilter {
        events_only: true,
        ..Default::default()
    };
    let recs = read_records(&dir, &filter).unwrap();
    assert_eq!(recs.len(), 6);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    export(
        &dir,
        ExportFormat::Syslog5424,
        &ExportSink::Udp(addr.to_string()),
        &filter,
    )
    .unwrap();
    let mut buf = vec![0u8; 70_000];
    for r in &recs {
        let n = sock.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        check_5424(msg, &r.raw, r.seq, "tool_started");
        assert!(msg.starts_with("<110>1 "), "info severity: {msg}");
    }
}

#[test]
fn cef_and_jsonl_files() {
    let (d, dir) = log_with_events();
    let recs = read_records(&dir, &RecordFilter::default()).unwrap();
    let cef = d.path().join("out.cef");
    export(
        &dir,
        ExportFormat::Cef,
        &ExportSink::File(cef.clone()),
        &RecordFilter::default(),
    )
    .unwrap();
    let lines: Vec<String> = BufReader::new(std::fs::File::open(&cef).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), recs.len());
    let ev_line = lines.iter().find(|l| l.contains("|tool_started|")).unwrap();
    assert!(ev_line.starts_with("CEF:0|Chela|chela|"), "{ev_line}");
    assert_eq!(ev_line.split('|').count(), 8, "{ev_line}");
    assert!(ev_line.contains("cs3Label=tool cs3=exec"), "{ev_line}");
    assert!(ev_line.contains("cs2Label=session cs2=s"), "{ev_line}");

    let jsonl = d.path().join("out.jsonl");
    export(
        &dir,
        ExportFormat::Jsonl,
        &ExportSink::File(jsonl.clone()),
        &RecordFilter::default(),
    )
    .unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&jsonl).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let stored: Vec<String> = segments(&dir).iter().flat_map(|s| lines_of(s)).collect();
    assert_eq!(lines_of(&jsonl), stored);
}

fn lines_of(p: &std::path::Path) -> Vec<String> {
    lines(p)
}
