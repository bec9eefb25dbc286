//! The writer: appends records, checkpoints, rotates, flushes, recovers torn tails.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use base64::Engine as _;
use chela_types::{AuditSink, AuditUnavailable, Event, Scrubber};

use crate::control::{checkpoint_message, control_fields, parse_control, Control};
use crate::keys::{self, encode_public};
use crate::record::{self, build_line, hex32, now_rfc3339, parse_line, HashHex, ZERO_HASH};
use crate::segment::{self, io_err, list_segments, segment_name};
use crate::sys::{self, LockGuard};
use crate::AuditError;

/// Tuning for [`AuditLog::open_with`]. The defaults suit an interactive agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Write a signed checkpoint after this many records (default 10 000).
    pub checkpoint_every: u64,
    /// …or when this much time passed since the last one and records were added (default 60 s).
    pub checkpoint_interval: Duration,
    /// Group commit: appended records are fsynced at most this long after `append` returns
    /// (default 100 ms). Checkpoints are fsynced before the head file names them.
    pub flush_interval: Duration,
    /// Start a new segment once the current one reaches this size (default 64 MiB).
    pub max_segment_bytes: u64,
    /// …or this age (default 24 h).
    pub max_segment_age: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(60),
            flush_interval: Duration::from_millis(100),
            max_segment_bytes: 64 << 20,
            max_segment_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// A torn final record found when the log was opened and moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Segment the bytes were cut from.
    pub segment: PathBuf,
    /// Byte offset in that segment where they started.
    pub offset: u64,
    /// Number of bytes set aside.
    pub bytes: u64,
    /// The `.torn` file now holding them.
    pub moved_to: PathBuf,
    /// Sequence number of the `torn_tail` record that documents this in the chain.
    pub record_seq: u64,
}

/// What [`AuditLog::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// True when a new log was created (genesis record written).
    pub created: bool,
    /// Torn tails set aside (each also recorded in the chain as a `torn_tail` record).
    pub torn_tails: Vec<TornTail>,
}

/// An open, append-only, hash-chained, signed audit log. `Send + Sync`; share it in an `Arc`.
///
/// `append` writes the record to the segment file (so it survives a crash of this process) and
/// returns; a background thread fsyncs at most `flush_interval` later (group commit), writes
/// time-based checkpoints and publishes durable checkpoints to `head.json`. Dropping the log (or
/// [`close`](AuditLog::close)) writes a final signed checkpoint. Several processes may append to
/// the same directory: writers serialize on an advisory lock and follow each other's records.
pub struct AuditLog {
    inner: Arc<Inner>,
    scrubber: Option<Arc<dyn Scrubber>>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    report: OpenReport,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
    /// Only locked while holding `state` (flock is per open file description).
    lock_file: File,
}

struct State {
    dir: PathBuf,
    opts: AuditOptions,
    key: SigningKey,
    pubkey: String,
    log_id: String,
    file: Arc<File>,
    seg_index: u64,
    seg_path: PathBuf,
    seg_started: SystemTime,
    offset: u64,
    next_seq: u64,
    prev: HashHex,
    since_ckpt: u64,
    last_ckpt: Instant,
    dirty: bool,
    pending_head: Option<Vec<u8>>,
    failed: Option<String>,
    closed: bool,
    buf: Vec<u8>,
}

impl AuditLog {
    /// Opens (creating if needed) the log in `dir` with default options.
    ///
    /// The directory is created mode 0700 and files mode 0600. A new directory gets a fresh
    /// signing key (normally [`crate::init_keys`] made it at `chela init`); an existing log
    /// without its key is refused. A torn final record is moved to a `.torn` file and recorded
    /// (see [`AuditLog::open_report`]).
    pub fn open(dir: &Path) -> Result<AuditLog, AuditError> {
        Self::open_with(dir, AuditOptions::default())
    }

    /// Opens the log with explicit [`AuditOptions`].
    pub fn open_with(dir: &Path, opts: AuditOptions) -> Result<AuditLog, AuditError> {
        keys::ensure_dir(dir)?;
        let key = match keys::load_signing_key(dir) {
            Ok(k) => k,
            Err(AuditError::KeyMissing { path }) => {
                if !list_segments(dir)?.is_empty() {
                    return Err(AuditError::KeyMissing { path });
                }
                match keys::init_keys(dir) {
                    Ok(()) | Err(AuditError::KeyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                keys::load_signing_key(dir)?
            }
            Err(e) => return Err(e),
        };
        let lock_file = segment::open_lock(dir)?;
        let (state, report) = {
            let _g =
                LockGuard::new(&lock_file, true).map_err(io_err(&dir.join(segment::LOCK_FILE)))?;
            State::load(dir, key, opts)?
        };
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            wake: Condvar::new(),
            lock_file,
        });
        let flusher_inner = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name("chela-audit-flush".into())
            .spawn(move || flusher(flusher_inner))
            .map_err(io_err(dir))?;
        Ok(AuditLog {
            inner,
            scrubber: None,
            flusher: Mutex::new(Some(handle)),
            report,
        })
    }

    /// Masks secrets in every record with `scrubber` before it is written (every string value
    /// of the event passes through it).
    pub fn with_scrubber(mut self, scrubber: Arc<dyn Scrubber>) -> Self {
        self.scrubber = Some(scrubber);
        self
    }

    /// What opening the log found (new log, torn tails set aside).
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Appends one event; returns its sequence number.
    ///
    /// On return the record is in the segment file (it survives a crash of this process) and
    /// will be fsynced within `flush_interval`. An `Err` means the log cannot be written: the
    /// caller must refuse the effect (fail closed).
    pub fn append(&self, event: Event) -> Result<u64, AuditError> {
        let json = self.event_json(&event)?;
        let fields = record::object_inside(&json).ok_or_else(|| AuditError::Serialize {
            detail: "event did not serialize to a JSON object".into(),
        })?;
        let mut st = self.inner.lock_state();
        st.usable()?;
        let _g = LockGuard::new(&self.inner.lock_file, true).map_err(|e| st.fail_io(e))?;
        st.resync()?;
        if st.rotation_due() {
            st.rotate()?;
        }
        let time = now_rfc3339();
        let (seq, _) = st.write_line(&time, fields)?;
        if st.since_ckpt >= st.opts.checkpoint_every {
            st.checkpoint("count")?;
            self.inner.wake.notify_one();
        }
        Ok(seq)
    }

    /// Forces every appended record to stable storage now (fsync), instead of within
    /// `flush_interval`.
    pub fn sync(&self) -> Result<(), AuditError> {
        let (file, path) = {
            let st = self.inner.lock_state();
            st.usable()?;
            (Arc::clone(&st.file), st.seg_path.clone())
        };
        file.sync_data().map_err(|e| {
            let mut st = self.inner.lock_state();
            st.fail_io_at(&path, e)
        })
    }

    /// Writes a final signed checkpoint, fsyncs, publishes the head and stops the flusher.
    /// Later appends fail. Called by `Drop`; calling it twice is harmless.
    pub fn close(&self) -> Result<(), AuditError> {
        let mut result = Ok(());
        let (file, head, dir) = {
            let mut st = self.inner.lock_state();
            if st.closed {
                return Ok(());
            }
            if st.failed.is_none() && st.since_ckpt > 0 {
                result = (|| {
                    let _g =
                        LockGuard::new(&self.inner.lock_file, true).map_err(|e| st.fail_io(e))?;
                    st.resync()?;
                    st.checkpoint("shutdown")
                })();
            }
            st.closed = true;
            self.inner.wake.notify_all();
            (Arc::clone(&st.file), st.pending_head.take(), st.dir.clone())
        };
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        let synced = file.sync_data().map_err(io_err(&dir));
        if let (Ok(()), Some(line)) = (&synced, head) {
            segment::write_head(&dir, &line)?;
        }
        result.and(synced)
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> PathBuf {
        self.inner.lock_state().dir.clone()
    }

    fn event_json(&self, event: &Event) -> Result<Vec<u8>, AuditError> {
        let ser = |e: serde_json::Error| AuditError::Serialize {
            detail: e.to_string(),
        };
        match &self.scrubber {
            None => serde_json::to_vec(event).map_err(ser),
            Some(s) => {
                let mut v = serde_json::to_value(event).map_err(ser)?;
                scrub_value(&mut v, s.as_ref());
                serde_json::to_vec(&v).map_err(ser)
            }
        }
    }
}

fn scrub_value(v: &mut serde_json::Value, s: &dyn Scrubber) {
    match v {
        serde_json::Value::String(text) => {
            let masked = s.scrub(text);
            if masked != *text {
                *text = masked;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| scrub_value(i, s)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| scrub_value(i, s)),
        _ => {}
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            eprintln!("chela-audit: closing the audit log failed: {e}");
        }
    }
}

impl AuditSink for AuditLog {
    fn record(&self, event: Event) -> Result<u64, AuditUnavailable> {
        self.append(event)
            .map_err(|e| AuditUnavailable(e.to_string()))
    }
}

impl Inner {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Background group commit: fsync within `flush_interval`, time-based checkpoints, head file.
fn flusher(inner: Arc<Inner>) {
    let mut st = inner.lock_state();
    loop {
        if st.closed {
            return;
        }
        let interval = st.opts.flush_interval;
        st = match inner.wake.wait_timeout(st, interval) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
        if st.closed {
            return;
        }
        if st.failed.is_none()
            && st.since_ckpt > 0
            && st.last_ckpt.elapsed() >= st.opts.checkpoint_interval
        {
            let r = match LockGuard::new(&inner.lock_file, true) {
                Ok(_g) => st.resync().and_then(|()| st.checkpoint("interval")),
                Err(e) => Err(st.fail_io(e)),
            };
            if r.is_err() {
                // `failed` is set; appends now return the error.
                continue;
            }
        }
        if st.dirty && st.failed.is_none() {
            st.dirty = false;
            let file = Arc::clone(&st.file);
            let path = st.seg_path.clone();
            let head = st.pending_head.take();
            let dir = st.dir.clone();
            drop(st);
            let synced = file.sync_data();
            let headed = match (&synced, head) {
                (Ok(()), Some(line)) => segment::write_head(&dir, &line),
                _ => Ok(()),
            };
            st = inner.lock_state();
            if let Err(e) = synced {
                st.fail_io_at(&path, e);
            } else if let Err(e) = headed {
                st.failed = Some(e.to_string());
            }
        }
    }
}

impl State {
    /// Loads (or creates) the log under the writers' lock.
    fn load(
        dir: &Path,
        key: SigningKey,
        opts: AuditOptions,
    ) -> Result<(State, OpenReport), AuditError> {
        let pubkey = encode_public(&key.verifying_key());
        let mut report = OpenReport::default();
        let mut segs = list_segments(dir)?;
        let mut torn_found: Vec<(PathBuf, u64, Vec<u8>, PathBuf)> = Vec::new();
        loop {
            let Some((index, path)) = segs.last().cloned() else {
                let mut st = State::create(dir, key, pubkey, opts)?;
                report.created = true;
                st.record_torn(torn_found, &mut report)?;
                return Ok((st, report));
            };
            let file = segment::open_append(&path, false)?;
            let tail = segment::read_tail(&file).map_err(io_err(&path))?;
            if let Some(bytes) = tail.torn {
                let moved = segment::save_torn(dir, &path, tail.complete_len, &bytes)?;
                file.set_len(tail.complete_len)
                    .and_then(|()| file.sync_all())
                    .map_err(io_err(&path))?;
                torn_found.push((path.clone(), tail.complete_len, bytes, moved));
            }
            let Some(last) = tail.last_line else {
                // Nothing complete in this segment (crash while creating it): it is empty
                // now, remove it and continue from the previous one.
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                sys::fsync_dir(dir).map_err(io_err(dir))?;
                segs.pop();
                continue;
            };
            let damaged = |detail: String| AuditError::Damaged {
                path: path.clone(),
                detail,
            };
            let rec = parse_line(&last)
                .map_err(|m| damaged(format!("last record is malformed ({m})")))?;
            if rec.computed_hash() != rec.hash {
                return Err(damaged(format!(
                    "last record (seq {}) does not match its hash",
                    rec.seq
                )));
            }
            let first = segment::first_line(&file)
                .map_err(io_err(&path))?
                .ok_or_else(|| damaged("first line unreadable".into()))?;
            let start = parse_line(&first)
                .map_err(|m| damaged(format!("first record is malformed ({m})")))?;
            let (log_id, seg_pub) = match parse_control(&first) {
                Some(Control::SegmentStart {
                    log_id,
                    segment,
                    pubkey,
                    ..
                }) if segment == index => (log_id, pubkey),
                _ => {
                    return Err(damaged(
                        "first record is not this segment's segment_start record".into(),
                    ))
                }
            };
            if seg_pub != pubkey {
                return Err(AuditError::KeyMismatch {
                    path: dir.join(keys::KEY_FILE),
                    log_key: seg_pub,
                    file_key: pubkey,
                });
            }
            let seg_started =
                humantime::parse_rfc3339(start.time).unwrap_or_else(|_| SystemTime::now());
            let mut st = State {
                dir: dir.to_path_buf(),
                opts,
                key,
                pubkey,
                log_id,
                file: Arc::new(file),
                seg_index: index,
                seg_path: path.clone(),
                seg_started,
                offset: tail.complete_len,
                next_seq: rec.seq + 1,
                prev: rec.hash,
                since_ckpt: 0,
                last_ckpt: Instant::now(),
                dirty: false,
                pending_head: None,
                failed: None,
                closed: false,
                buf: Vec::with_capacity(1024),
            };
            st.record_torn(torn_found, &mut report)?;
            return Ok((st, report));
        }
    }

    /// Documents torn tails that were set aside as `torn_tail` records (then checkpoints).
    fn record_torn(
        &mut self,
        torn_found: Vec<(PathBuf, u64, Vec<u8>, PathBuf)>,
        report: &mut OpenReport,
    ) -> Result<(), AuditError> {
        if torn_found.is_empty() {
            return Ok(());
        }
        for (seg_path, offset, bytes, moved) in torn_found {
            let fields = control_fields(&Control::TornTail {
                segment: segment_index_of(&seg_path),
                offset,
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
                file: moved
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            });
            let (seq, _) = self.write_line(&now_rfc3339(), &fields)?;
            report.torn_tails.push(TornTail {
                segment: seg_path,
                offset,
                bytes: bytes.len() as u64,
                moved_to: moved,
                record_seq: seq,
            });
        }
        self.checkpoint("open")?;
        self.file.sync_data().map_err(io_err(&self.seg_path))
    }

    /// Creates segment 1 with the genesis record and a first checkpoint.
    fn create(
        dir: &Path,
        key: SigningKey,
        pubkey: String,
        opts: AuditOptions,
    ) -> Result<State, AuditError> {
        let mut id = [0u8; 16];
        sys::random_bytes(&mut id).map_err(io_err(dir))?;
        let path = dir.join(segment_name(1));
        let file = segment::open_append(&path, true)?;
        let mut st = State {
            dir: dir.to_path_buf(),
            opts,
            key,
            pubkey,
            log_id: hex::encode(id),
            file: Arc::new(file),
            seg_index: 1,
            seg_path: path,
            seg_started: SystemTime::now(),
            offset: 0,
            next_seq: 0,
            prev: ZERO_HASH,
            since_ckpt: 0,
            last_ckpt: Instant::now(),
            dirty: false,
            pending_head: None,
            failed: None,
            closed: false,
            buf: Vec::with_capacity(1024),
        };
        st.write_segment_start()?;
        st.checkpoint("open")?;
        st.file.sync_data().map_err(io_err(&st.seg_path))?;
        sys::fsync_dir(dir).map_err(io_err(dir))?;
        if let Some(line) = st.pending_head.take() {
            segment::write_head(dir, &line)?;
        }
        Ok(st)
    }

    fn usable(&self) -> Result<(), AuditError> {
        if self.closed {
            return Err(AuditError::Closed);
        }
        if let Some(reason) = &self.failed {
            return Err(AuditError::Failed {
                reason: reason.clone(),
            });
        }
        Ok(())
    }

    fn fail_io(&mut self, e: std::io::Error) -> AuditError {
        let path = self.dir.join(segment::LOCK_FILE);
        self.fail_io_at(&path, e)
    }

    fn fail_io_at(&mut self, path: &Path, e: std::io::Error) -> AuditError {
        let err = AuditError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        self.failed = Some(err.to_string());
        err
    }

    /// Writes one record line; rolls back a partial write.
    fn write_line(&mut self, time: &str, fields: &[u8]) -> Result<(u64, HashHex), AuditError> {
        self.usable()?;
        let hash = build_line(self.next_seq, &self.prev, time, fields, &mut self.buf);
        if let Err(e) = (&*self.file).write_all(&self.buf) {
            if let Err(e2) = self.file.set_len(self.offset) {
                self.failed = Some(format!(
                    "{}: a failed write could not be rolled back ({e2}); reopen the log so the torn record is set aside",
                    self.seg_path.display()
                ));
            }
            return Err(AuditError::Io {
                path: self.seg_path.clone(),
                source: e,
            });
        }
        let seq = self.next_seq;
        self.offset += self.buf.len() as u64;
        self.next_seq += 1;
        self.prev = hash;
        self.since_ckpt += 1;
        self.dirty = true;
        Ok((seq, hash))
    }

    fn write_segment_start(&mut self) -> Result<(), AuditError> {
        let fields = control_fields(&Control::SegmentStart {
            log_id: self.log_id.clone(),
            segment: self.seg_index,
            pubkey: self.pubkey.clone(),
            schema: record::SCHEMA_VERSION,
        });
        self.write_line(&now_rfc3339(), &fields)?;
        Ok(())
    }

    /// Writes a signed checkpoint over the current chain head.
    fn checkpoint(&mut self, reason: &str) -> Result<(), AuditError> {
        let time = now_rfc3339();
        let msg = checkpoint_message(
            &self.log_id,
            self.next_seq,
            &hex32(&self.prev),
            &time,
            self.seg_index,
            reason,
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(self.key.sign(&msg).to_bytes());
        let fields = control_fields(&Control::Checkpoint {
            log_id: self.log_id.clone(),
            segment: self.seg_index,
            reason: reason.into(),
            sig,
        });
        self.write_line(&time, &fields)?;
        let line = self.buf[..self.buf.len() - 1].to_vec();
        self.pending_head = Some(line);
        self.since_ckpt = 0;
        self.last_ckpt = Instant::now();
        Ok(())
    }

    fn rotation_due(&self) -> bool {
        self.offset >= self.opts.max_segment_bytes
            || self
                .seg_started
                .elapsed()
                .is_ok_and(|age| age >= self.opts.max_segment_age)
    }

    /// Seals the current segment with a checkpoint and starts the next one.
    fn rotate(&mut self) -> Result<(), AuditError> {
        self.checkpoint("rotate")?;
        let seg_path = self.seg_path.clone();
        self.file
            .sync_data()
            .map_err(|e| self.fail_io_at(&seg_path, e))?;
        let index = self.seg_index + 1;
        let path = self.dir.join(segment_name(index));
        let file = segment::open_append(&path, true)?;
        self.file = Arc::new(file);
        self.seg_index = index;
        self.seg_path = path;
        self.seg_started = SystemTime::now();
        self.offset = 0;
        self.write_segment_start()?;
        let dir = self.dir.clone();
        sys::fsync_dir(&dir).map_err(|e| self.fail_io_at(&dir, e))?;
        Ok(())
    }

    /// Under the writers' lock: follows records another process appended since our last write.
    fn resync(&mut self) -> Result<(), AuditError> {
        let len = match self.file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                let p = self.seg_path.clone();
                return Err(self.fail_io_at(&p, e));
            }
        };
        if len == self.offset {
            return Ok(());
        }
        if len < self.offset {
            let detail = format!(
                "segment shrank from {} to {len} bytes while open; run `chela audit verify`",
                self.offset
            );
            self.failed = Some(detail.clone());
            return Err(AuditError::Damaged {
                path: self.seg_path.clone(),
                detail,
            });
        }
        let (fresh, _) = State::load(&self.dir, self.key.clone(), self.opts.clone())?;
        if fresh.log_id != self.log_id {
            let detail = format!(
                "the log in this directory was replaced (log id {} instead of {})",
                fresh.log_id, self.log_id
            );
            self.failed = Some(detail.clone());
            return Err(AuditError::Damaged {
                path: self.dir.clone(),
                detail,
            });
        }
        self.file = fresh.file;
        self.seg_index = fresh.seg_index;
        self.seg_path = fresh.seg_path;
        self.seg_started = fresh.seg_started;
        self.offset = fresh.offset;
        self.next_seq = fresh.next_seq;
        self.prev = fresh.prev;
        self.dirty = true;
        Ok(())
    }
}

fn segment_index_of(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("seg-"))
        .and_then(|n| n.get(..10))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}
