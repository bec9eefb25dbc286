//! `chela audit show`: reading, filtering and rendering records.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use chela_types::{Actor, Event};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::record::parse_line;
use crate::segment::{io_err, list_segments};
use crate::AuditError;

/// Which records [`read_records`] returns. The default returns everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only records of this session.
    pub session: Option<String>,
    /// Only records of this kind (`tool_started`, `checkpoint`, …).
    pub kind: Option<String>,
    /// Only records at or after this time.
    pub since: Option<SystemTime>,
    /// Leave out the log's own records (`segment_start`, `checkpoint`, `torn_tail`).
    pub events_only: bool,
    /// Keep only the last N matching records.
    pub last: Option<usize>,
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Sequence number.
    pub seq: u64,
    /// RFC 3339 UTC time with microseconds.
    pub time: String,
    /// Session, when the event belongs to one.
    pub session: Option<String>,
    /// Who caused it (absent on the log's own records).
    pub actor: Option<Actor>,
    /// Event kind (`tool_started`, …) or control kind (`checkpoint`, …).
    pub kind: String,
    /// The kind's own fields.
    pub fields: Map<String, Value>,
    /// Hash of the previous record (hex).
    pub prev: String,
    /// This record's hash (hex).
    pub hash: String,
    /// The stored line, exactly (for `--json` and JSONL export).
    pub raw: String,
    /// True for the log's own records.
    pub control: bool,
}

impl AuditRecord {
    /// The event this record stores, when it is one (not a control record).
    pub fn event(&self) -> Option<Event> {
        if self.control {
            return None;
        }
        serde_json::from_str(&self.raw).ok()
    }

    fn from_line(line: &[u8]) -> Result<AuditRecord, String> {
        let raw = parse_line(line).map_err(str::to_string)?;
        let control = raw.is_control();
        let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
        let mut obj: Map<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for k in ["v", "seq", "prev", "time", "hash"] {
            obj.remove(k);
        }
        let session = match obj.remove("session") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let actor = obj
            .remove("actor")
            .and_then(|a| serde_json::from_value(a).ok());
        let kind = match obj.remove("kind") {
            Some(Value::String(k)) => k,
            _ => String::new(),
        };
        Ok(AuditRecord {
            seq: raw.seq,
            time: raw.time.to_string(),
            session,
            actor,
            kind,
            fields: obj,
            prev: crate::record::hex32(&raw.prev),
            hash: crate::record::hex32(&raw.hash),
            raw: text.to_string(),
            control,
        })
    }
}

/// Short display form of an actor (`owner:alice`, `telegram:42`, `agent`, …).
pub fn actor_label(actor: Option<&Actor>) -> String {
    match actor {
        Some(Actor::Owner { user }) => format!("owner:{user}"),
        Some(Actor::ChannelUser { channel, user }) => format!("{channel}:{user}"),
        Some(Actor::Agent) => "agent".into(),
        Some(Actor::Scheduler) => "scheduler".into(),
        Some(Actor::System) => "system".into(),
        None => "log".into(),
    }
}

/// Reads the records of the log in `dir` that match `filter`, oldest first.
///
/// This does not check hashes or signatures (use [`crate::verify`]); an incomplete final line
/// (a write in progress or a torn tail) is skipped; any other unreadable line is an error.
pub fn read_records(dir: &Path, filter: &RecordFilter) -> Result<Vec<AuditRecord>, AuditError> {
    let mut out = std::collections::VecDeque::new();
    for_each_record(dir, filter, |rec| {
        out.push_back(rec);
        if filter.last.is_some_and(|n| out.len() > n) {
            out.pop_front();
        }
        Ok(())
    })?;
    Ok(out.into())
}

/// Streams the records matching `filter` (oldest first, `filter.last` ignored) to `f`, one
/// segment in memory at a time. Stops at the first error `f` returns.
pub fn for_each_record(
    dir: &Path,
    filter: &RecordFilter,
    mut f: impl FnMut(AuditRecord) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let segs = list_segments(dir)?;
    if segs.is_empty() {
        return Err(AuditError::NoLog {
            dir: dir.to_path_buf(),
        });
    }
    // Times are fixed-width RFC 3339 UTC, so string order is time order.
    let since = filter
        .since
        .map(|t| humantime::format_rfc3339_micros(t).to_string());
    let mut data = Vec::new();
    for (_, path) in &segs {
        data.clear();
        fs::File::open(path)
            .and_then(|mut file| std::io::Read::read_to_end(&mut file, &mut data))
            .map_err(io_err(path))?;
        let mut start = 0;
        for (n, nl) in memchr::memchr_iter(b'\n', &data).enumerate() {
            let line = &data[start..nl];
            start = nl + 1;
            let rec = AuditRecord::from_line(line).map_err(|detail| AuditError::Damaged {
                path: path.clone(),
                detail: format!("line {}: {detail}", n + 1),
            })?;
            let keep = !(filter.events_only && rec.control)
                && filter
                    .session
                    .as_ref()
                    .is_none_or(|s| rec.session.as_deref() == Some(s.as_str()))
                && filter.kind.as_ref().is_none_or(|k| rec.kind == *k)
                && since
                    .as_ref()
                    .is_none_or(|s| rec.time.as_str() >= s.as_str());
            if keep {
                f(rec)?;
            }
        }
    }
    Ok(())
}

fn flatten(v: &Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(v, k, out)),
        Value::String(s) if s.is_empty() => {}
        Value::String(s) => out.push((key.to_string(), s.clone())),
        Value::Array(a) if a.is_empty() => {}
        Value::Array(a) if a.iter().all(|x| x.is_string()) => out.push((
            key.to_string(),
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )),
        Value::Null => {}
        other => out.push((key.to_string(), other.to_string())),
    }
}

/// Fields shown first, in this order; the rest follow alphabetically.
const FIRST: &[&str] = &[
    "verdict",
    "rule",
    "tool",
    "call_id",
    "exit_code",
    "host",
    "port",
    "method",
    "allowed",
    "detector",
    "count",
    "location",
    "action",
    "severity",
    "message",
    "approver",
    "scope",
    "model",
    "outcome",
    "reason",
];
/// Fields left out of the one-line summary (long or internal; `--json` shows everything).
const HIDDEN: &[&str] = &["sig", "pubkey", "log_id", "auto_approvable", "sha256"];

/// One-line summary of a record's own fields (`verdict=deny rule=floor.rm tool=exec …`).
pub fn details(rec: &AuditRecord) -> String {
    let mut parts = Vec::new();
    for (k, v) in &rec.fields {
        flatten(v, k, &mut parts);
    }
    parts.retain(|(k, _)| !HIDDEN.contains(&k.as_str()));
    parts.sort_by_key(|(k, _)| FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()));
    parts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Renders records as a readable table (`SEQ TIME SESSION ACTOR KIND DETAILS`).
pub fn render_table(records: &[AuditRecord]) -> String {
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            [
                r.seq.to_string(),
                r.time
                    .get(..23)
                    .map_or(r.time.clone(), |t| format!("{}Z", t.replace('T', " "))),
                clip(r.session.as_deref().unwrap_or("-"), 20),
                clip(&actor_label(r.actor.as_ref()), 20),
                r.kind.clone(),
                clip(&details(r), 100),
            ]
        })
        .collect();
    let header = ["SEQ", "TIME (UTC)", "SESSION", "ACTOR", "KIND", "DETAILS"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[String]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&header.map(String::from));
    for row in &rows {
        push_row(row);
    }
    if rows.is_empty() {
        out.push_str("(no matching records)\n");
    }
    out
}
