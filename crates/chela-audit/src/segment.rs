//! Segment files, the signed head file and torn-tail handling.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::{sys, AuditError};

/// File name of the latest durable signed checkpoint (a copy of that checkpoint record).
pub const HEAD_FILE: &str = "head.json";
/// File name of the advisory lock writers hold while appending.
pub const LOCK_FILE: &str = "audit.lock";
/// Extension of files holding a torn final record that was set aside.
pub const TORN_EXT: &str = "torn";

/// `seg-0000000001.jsonl` for segment 1.
pub(crate) fn segment_name(index: u64) -> String {
    format!("seg-{index:010}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".jsonl")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Segment files in `dir`, ordered by number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push((i, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Torn tails set aside earlier (`*.torn`), by name.
pub(crate) fn list_torn(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == TORN_EXT))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Opens a segment for appending (never following a symlink).
pub(crate) fn open_append(path: &Path, create: bool) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.read(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if create {
        o.create_new(true);
    }
    let f = o.open(path).map_err(io_err(path))?;
    let meta = f.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(AuditError::Damaged {
            path: path.to_path_buf(),
            detail: "not a regular file".into(),
        });
    }
    Ok(f)
}

/// Opens (creating, mode 0600) the writers' lock file.
pub(crate) fn open_lock(dir: &Path) -> Result<File, AuditError> {
    let path = dir.join(LOCK_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(io_err(&path))
}

/// Reads `len` bytes at `offset`.
pub(crate) fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// Offset of the last `\n` strictly before `before`, scanning backwards in chunks.
fn prev_newline(file: &File, before: u64) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = before;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let buf = read_at(file, start, (end - start) as usize)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf) {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// The end of a segment: its last complete line and any bytes after it.
pub(crate) struct Tail {
    /// The last complete line (without newline), if any.
    pub last_line: Option<Vec<u8>>,
    /// Length of the file up to and including the last newline.
    pub complete_len: u64,
    /// Bytes after the last newline (a torn record), if any.
    pub torn: Option<Vec<u8>>,
}

/// Reads the end of a segment without reading all of it.
pub(crate) fn read_tail(file: &File) -> io::Result<Tail> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail {
            last_line: None,
            complete_len: 0,
            torn: None,
        });
    }
    let last = read_at(file, len - 1, 1)?;
    let (complete_len, torn) = if last[0] == b'\n' {
        (len, None)
    } else {
        let complete = prev_newline(file, len)?.map_or(0, |p| p + 1);
        let torn = read_at(file, complete, (len - complete) as usize)?;
        (complete, Some(torn))
    };
    let last_line = if complete_len == 0 {
        None
    } else {
        let start = prev_newline(file, complete_len - 1)?.map_or(0, |p| p + 1);
        Some(read_at(file, start, (complete_len - 1 - start) as usize)?)
    };
    Ok(Tail {
        last_line,
        complete_len,
        torn,
    })
}

/// The first line of a segment (without newline), read in bounded chunks.
pub(crate) fn first_line(file: &File) -> io::Result<Option<Vec<u8>>> {
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &chunk[..n]) {
            out.extend_from_slice(&chunk[..i]);
            return Ok(Some(out));
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > 1 << 20 {
            return Ok(None);
        }
    }
}

/// Moves `bytes` (cut from `segment` at `offset`) into a new `.torn` file; returns its path.
pub(crate) fn save_torn(
    dir: &Path,
    segment: &Path,
    offset: u64,
    bytes: &[u8],
) -> Result<PathBuf, AuditError> {
    let base = segment
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("segment")
        .to_string();
    for n in 0..1000u32 {
        let name = if n == 0 {
            format!("{base}.{offset}.{TORN_EXT}")
        } else {
            format!("{base}.{offset}-{n}.{TORN_EXT}")
        };
        let path = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(io_err(&path))?;
                sys::fsync_dir(dir).map_err(io_err(dir))?;
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Err(AuditError::Damaged {
        path: segment.to_path_buf(),
        detail: format!("too many torn-tail files for offset {offset}"),
    })
}

/// Reads the head file (the latest durable signed checkpoint line), if present.
pub(crate) fn read_head(dir: &Path) -> Result<Option<Vec<u8>>, AuditError> {
    let path = dir.join(HEAD_FILE);
    match fs::read(&path) {
        Ok(mut b) => {
            while b.last() == Some(&b'\n') {
                b.pop();
            }
            Ok(Some(b))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Atomically replaces the head file with `line` unless it already holds a later checkpoint.
pub(crate) fn write_head(dir: &Path, line: &[u8]) -> Result<(), AuditError> {
    let new_seq = crate::record::parse_line(line).map(|r| r.seq).ok();
    if let (Some(new_seq), Ok(Some(old))) = (new_seq, read_head(dir)) {
        if let Ok(r) = crate::record::parse_line(&old) {
            if r.seq >= new_seq {
                return Ok(());
            }
        }
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("{HEAD_FILE}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(line)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(HEAD_FILE))?;
        sys::fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(&dir.join(HEAD_FILE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(3), "seg-0000000003.jsonl");
        assert_eq!(parse_segment_name(&segment_name(12345)), Some(12345));
        assert_eq!(parse_segment_name("seg-1.jsonl"), None);
        assert_eq!(parse_segment_name("seg-0000000001.jsonl.5.torn"), None);
    }

    #[test]
    fn tail_finds_last_line_and_torn_bytes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"one\ntwo\nthr").unwrap();
        let f = File::open(&p).unwrap();
        let t = read_tail(&f).unwrap();
        assert_eq!(t.last_line.as_deref(), Some(&b"two"[..]));
        assert_eq!(t.complete_len, 8);
        assert_eq!(t.torn.as_deref(), Some(&b"thr"[..]));
        fs::write(&p, b"only\n").unwrap();
        let t = read_tail(&File::open(&p).unwrap()).unwrap();
        assert_eq!(t.last_line.as_deref(), Some(&b"only"[..]));
        assert!(t.torn.is_none());
        fs::write(&p, b"partial").unwrap();
        let t = read_tail(&File::open(&p).unwrap()).unwrap();
        assert!(t.last_line.is_none());
        assert_eq!(t.complete_len, 0);
        assert_eq!(first_line(&File::open(&p).unwrap()).unwrap(), None);
    }
}
