//! `chela audit export`: JSONL, syslog (RFC 5424) or CEF to a file, TCP, UDP or stdout.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::read::{actor_label, details, for_each_record, AuditRecord, RecordFilter};
use crate::AuditError;

/// Structured-data ID used in syslog output. 32473 is the private enterprise number reserved
/// for documentation (RFC 5612); SIEM rules should match on `chela@32473`.
pub const SYSLOG_SD_ID: &str = "chela@32473";
/// Syslog facility: 13, "log audit" (RFC 5424 table 1).
pub const SYSLOG_FACILITY: u8 = 13;
/// Largest UDP syslog payload sent; longer messages are cut at a character boundary.
pub const UDP_MAX: usize = 65_000;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The stored lines exactly (hashes included, so a collector can re-verify the chain).
    Jsonl,
    /// RFC 5424 syslog; the stored line is the MSG. Over TCP, RFC 6587 octet-counting frames.
    Syslog5424,
    /// ArcSight Common Event Format, one event per line.
    Cef,
}

impl FromStr for ExportFormat {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, AuditError> {
        match s {
            "jsonl" | "json" => Ok(ExportFormat::Jsonl),
            "syslog" | "rfc5424" => Ok(ExportFormat::Syslog5424),
            "cef" => Ok(ExportFormat::Cef),
            other => Err(AuditError::Usage {
                detail: format!("unknown export format `{other}`: use jsonl, syslog or cef"),
            }),
        }
    }
}

/// Where export writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSink {
    /// A file (created mode 0600, replaced if it exists).
    File(PathBuf),
    /// A TCP collector, `host:port`.
    Tcp(String),
    /// A UDP collector, `host:port` (one record per datagram).
    Udp(String),
    /// Standard output.
    Stdout,
}

impl ExportSink {
    /// Parses `--to`: `tcp://HOST:PORT`, `udp://HOST:PORT`, `-` (stdout) or a file path.
    pub fn parse(s: &str) -> Result<ExportSink, AuditError> {
        let addr = |rest: &str| -> Result<String, AuditError> {
            if rest
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                Ok(rest.to_string())
            } else {
                Err(AuditError::Usage {
                    detail: format!(
                        "`{s}`: expected HOST:PORT after the scheme, e.g. tcp://127.0.0.1:514"
                    ),
                })
            }
        };
        if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(ExportSink::Tcp(addr(rest)?))
        } else if let Some(rest) = s.strip_prefix("udp://") {
            Ok(ExportSink::Udp(addr(rest)?))
        } else if s == "-" {
            Ok(ExportSink::Stdout)
        } else if s.contains("://") {
            Err(AuditError::Usage {
                detail: format!("`{s}`: only tcp:// and udp:// are supported (or a file path)"),
            })
        } else {
            Ok(ExportSink::File(PathBuf::from(s)))
        }
    }
}

/// Syslog severity for a record: critical alerts 2, warnings/denials/guard hits 4, else 6.
fn severity(rec: &AuditRecord) -> u8 {
    let field = |k: &str| rec.fields.get(k).and_then(|v| v.as_str());
    match rec.kind.as_str() {
        "alert" => match field("severity") {
            Some("critical") => 2,
            Some("warning") => 4,
            _ => 5,
        },
        "guard_hit" | "approval_denied" | "torn_tail" => 4,
        "policy_decision" => match rec
            .fields
            .get("decision")
            .and_then(|d| d.get("verdict"))
            .and_then(|v| v.as_str())
        {
            Some("deny") => 4,
            _ => 6,
        },
        "egress" if rec.fields.get("allowed").and_then(|v| v.as_bool()) == Some(false) => 4,
        _ => 6,
    }
}

fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn printable_ascii(s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

/// One record as an RFC 5424 syslog message (no framing, no trailing newline).
pub fn format_syslog(rec: &AuditRecord, hostname: &str) -> String {
    let pri = u16::from(SYSLOG_FACILITY) * 8 + u16::from(severity(rec));
    let mut sd = format!(
        "[{SYSLOG_SD_ID} seq=\"{}\" hash=\"{}\" actor=\"{}\"",
        rec.seq,
        rec.hash,
        sd_escape(&actor_label(rec.actor.as_ref()))
    );
    if let Some(s) = &rec.session {
        sd.push_str(&format!(" session=\"{}\"", sd_escape(s)));
    }
    sd.push(']');
    format!(
        "<{pri}>1 {} {} chela - {} {sd} \u{feff}{}",
        rec.time,
        printable_ascii(hostname, 255),
        printable_ascii(&rec.kind, 32),
        rec.raw
    )
}

fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn cef_ext(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// One record as a CEF line (no trailing newline).
pub fn format_cef(rec: &AuditRecord) -> String {
    let sev = match severity(rec) {
        0..=2 => 9,
        3..=4 => 6,
        _ => 3,
    };
    let rt = humantime::parse_rfc3339(&rec.time)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let mut ext = format!(
        "rt={rt} externalId={} suser={} cs1Label=hash cs1={}",
        rec.seq,
        cef_ext(&actor_label(rec.actor.as_ref())),
        rec.hash
    );
    if let Some(s) = &rec.session {
        ext.push_str(&format!(" cs2Label=session cs2={}", cef_ext(s)));
    }
    let f = |k: &str| rec.fields.get(k).and_then(|v| v.as_str());
    if let Some(h) = f("host") {
        ext.push_str(&format!(" dhost={}", cef_ext(h)));
    }
    if let Some(p) = rec.fields.get("port").and_then(|v| v.as_u64()) {
        ext.push_str(&format!(" dpt={p}"));
    }
    if let Some(t) = f("tool") {
        ext.push_str(&format!(" cs3Label=tool cs3={}", cef_ext(t)));
    }
    ext.push_str(&format!(" msg={}", cef_ext(&details(rec))));
    format!(
        "CEF:0|Chela|chela|{}|{}|{}|{sev}|{ext}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&rec.kind),
        cef_header(&rec.kind.replace('_', " "))
    )
}

fn resolve(addr: &str) -> Result<SocketAddr, AuditError> {
    addr.to_socket_addrs()
        .map_err(|e| AuditError::Usage {
            detail: format!("cannot resolve `{addr}`: {e}"),
        })?
        .next()
        .ok_or_else(|| AuditError::Usage {
            detail: format!("`{addr}` resolves to no address"),
        })
}

/// Exports the records of the log in `dir` matching `filter` (streamed, one segment in memory
/// at a time; `filter.last` is ignored); returns how many were sent.
///
/// Export does not verify the chain (run [`crate::verify`] first); JSONL and syslog carry each
/// record's hash so a collector can.
pub fn export(
    dir: &Path,
    format: ExportFormat,
    sink: &ExportSink,
    filter: &RecordFilter,
) -> Result<u64, AuditError> {
    let host = crate::sys::hostname();
    let render = |r: &AuditRecord| -> String {
        match format {
            ExportFormat::Jsonl => r.raw.clone(),
            ExportFormat::Syslog5424 => format_syslog(r, &host),
            ExportFormat::Cef => format_cef(r),
        }
    };
    let target = match sink {
        ExportSink::File(p) => p.display().to_string(),
        ExportSink::Tcp(a) => format!("tcp://{a}"),
        ExportSink::Udp(a) => format!("udp://{a}"),
        ExportSink::Stdout => "stdout".into(),
    };
    let ioe = |source: io::Error| AuditError::Io {
        path: PathBuf::from(&target),
        source,
    };
    match sink {
        ExportSink::Udp(addr) => {
            let to = resolve(addr)?;
            let bind: SocketAddr = if to.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let sock = UdpSocket::bind(bind).map_err(ioe)?;
            sock.connect(to).map_err(ioe)?;
            let mut n = 0u64;
            for_each_record(dir, filter, |r| {
                let mut msg = render(&r);
                if msg.len() > UDP_MAX {
                    let mut cut = UDP_MAX;
                    while !msg.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    msg.truncate(cut);
                }
                sock.send(msg.as_bytes()).map_err(ioe)?;
                n += 1;
                Ok(())
            })?;
            Ok(n)
        }
        ExportSink::Tcp(addr) => {
            let to = resolve(addr)?;
            let stream = TcpStream::connect_timeout(&to, Duration::from_secs(10)).map_err(ioe)?;
            stream
                .set_write_timeout(Some(Duration::from_secs(30)))
                .map_err(ioe)?;
            let mut w = BufWriter::new(stream);
            let mut n = 0u64;
            for_each_record(dir, filter, |r| {
                let msg = render(&r);
                n += 1;
                match format {
                    // RFC 6587 octet counting: "LEN SP MSG".
                    ExportFormat::Syslog5424 => write!(w, "{} {msg}", msg.len()),
                    _ => writeln!(w, "{msg}"),
                }
                .map_err(ioe)
            })?;
            w.flush().map_err(ioe)?;
            Ok(n)
        }
        ExportSink::File(path) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map_err(ioe)?;
            let mut w = BufWriter::new(f);
            let mut n = 0u64;
            for_each_record(dir, filter, |r| {
                n += 1;
                writeln!(w, "{}", render(&r)).map_err(ioe)
            })?;
            w.flush().map_err(ioe)?;
            w.get_ref().sync_all().map_err(ioe)?;
            Ok(n)
        }
        ExportSink::Stdout => {
            let mut w = BufWriter::new(io::stdout().lock());
            let mut n = 0u64;
            for_each_record(dir, filter, |r| {
                n += 1;
                writeln!(w, "{}", render(&r)).map_err(ioe)
            })?;
            w.flush().map_err(ioe)?;
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_parse() {
        assert_eq!(
            ExportSink::parse("tcp://127.0.0.1:514").unwrap(),
            ExportSink::Tcp("127.0.0.1:514".into())
        );
        assert_eq!(
            ExportSink::parse("udp://[::1]:514").unwrap(),
            ExportSink::Udp("[::1]:514".into())
        );
        assert_eq!(ExportSink::parse("-").unwrap(), ExportSink::Stdout);
        assert_eq!(
            ExportSink::parse("out.log").unwrap(),
            ExportSink::File("out.log".into())
        );
        assert!(ExportSink::parse("tcp://nohost").is_err());
        assert!(ExportSink::parse("http://x:1").is_err());
        assert!("xml".parse::<ExportFormat>().is_err());
        assert_eq!(
            "syslog".parse::<ExportFormat>().unwrap(),
            ExportFormat::Syslog5424
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(cef_header("a|b"), "a\\|b");
        assert_eq!(cef_ext("k=v\nx"), "k\\=v\\nx");
    }
}
