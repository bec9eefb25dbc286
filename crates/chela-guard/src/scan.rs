//! `chela scan PATH… [--json] [--fail-on LEVEL]`: scans files and directories for secrets, key
//! material and personal data (CN-A4). `chela assess` uses [`scan_paths`] too.

use crate::{Confidence, Detector, Guard};
use clap::Args;
use serde::Serialize;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files larger than this are skipped with a note.
    pub max_file_size: u64,
    /// Report findings from this confidence up (default medium; low adds entropy and
    /// unlabelled-hex warnings).
    pub min_confidence: Confidence,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_file_size: 32 * 1024 * 1024,
            min_confidence: Confidence::Medium,
        }
    }
}

/// One finding in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFinding {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
    /// Detector ID.
    pub detector: Detector,
    /// Confidence.
    pub confidence: Confidence,
    /// Masked value (first and last two characters).
    pub masked: String,
}

/// A path that was not scanned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The path.
    pub path: PathBuf,
    /// Why (`binary`, `too large (… bytes)`, `symlink`, an I/O error …).
    pub reason: String,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Findings, ordered by path then position.
    pub findings: Vec<ScanFinding>,
    /// Files scanned.
    pub files_scanned: u64,
    /// Bytes scanned.
    pub bytes_scanned: u64,
    /// Paths skipped, with reasons.
    pub skipped: Vec<Skipped>,
}

impl ScanReport {
    /// Whether any finding reaches `level` (`None` = never fail).
    pub fn reaches(&self, level: Option<Confidence>) -> bool {
        match level {
            Some(l) => self.findings.iter().any(|f| f.confidence >= l),
            None => false,
        }
    }

    /// Exit code: 3 when findings reach `fail_on`, 0 otherwise.
    pub fn exit_code(&self, fail_on: Option<Confidence>) -> i32 {
        if self.reaches(fail_on) {
            chela_types::exit::REFUSED
        } else {
            chela_types::exit::OK
        }
    }

    /// Human-readable lines: `file:line:col detector confidence masked-value`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            s.push_str(&format!(
                "{}:{}:{} {} {} {}\n",
                f.path.display(),
                f.line,
                f.col,
                f.detector,
                f.confidence,
                f.masked
            ));
        }
        s
    }

    /// One `note: skipped PATH: REASON` line per skipped path (printed on stderr by the CLI).
    pub fn notes(&self) -> String {
        let mut s = String::new();
        for k in &self.skipped {
            s.push_str(&format!(
                "note: skipped {}: {}\n",
                k.path.display(),
                k.reason
            ));
        }
        s
    }
}

fn looks_binary(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(8192)];
    if head.contains(&0) {
        return true;
    }
    // Invalid UTF-8 beyond a possibly truncated tail.
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some() || e.valid_up_to() + 4 < head.len(),
    }
}

fn scan_file(guard: &Guard, path: &Path, opts: &ScanOptions, rep: &mut ScanReport) {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            rep.skipped.push(Skipped {
                path: path.to_path_buf(),
                reason: format!("cannot read: {e}"),
            });
            return;
        }
    };
    if meta.len() > opts.max_file_size {
        rep.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason: format!(
                "too large ({} bytes > {} limit)",
                meta.len(),
                opts.max_file_size
            ),
        });
        return;
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    let read =
        fs::File::open(path).and_then(|f| f.take(opts.max_file_size + 1).read_to_end(&mut buf));
    if let Err(e) = read {
        rep.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason: format!("cannot read: {e}"),
        });
        return;
    }
    if looks_binary(&buf) {
        rep.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason: "binary".into(),
        });
        return;
    }
    let text = String::from_utf8_lossy(&buf);
    rep.files_scanned += 1;
    rep.bytes_scanned += buf.len() as u64;
    for f in guard.find(&text) {
        if f.confidence < opts.min_confidence {
            continue;
        }
        let (line, col) = f.line_col(&text);
        rep.findings.push(ScanFinding {
            path: path.to_path_buf(),
            line,
            col,
            detector: f.detector,
            confidence: f.confidence,
            masked: f.masked(&text),
        });
    }
}

fn walk(
    guard: &Guard,
    dir: &Path,
    root: &Path,
    opts: &ScanOptions,
    rep: &mut ScanReport,
    depth: usize,
) {
    if depth > 64 {
        rep.skipped.push(Skipped {
            path: dir.to_path_buf(),
            reason: "directory nesting deeper than 64".into(),
        });
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            rep.skipped.push(Skipped {
                path: dir.to_path_buf(),
                reason: format!("cannot list: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Ok(m) = fs::symlink_metadata(&p) else {
            rep.skipped.push(Skipped {
                path: p,
                reason: "cannot stat".into(),
            });
            continue;
        };
        let ft = m.file_type();
        if ft.is_symlink() {
            // Follow only links that stay inside the scanned root.
            match fs::canonicalize(&p) {
                Ok(t) if t.starts_with(root) && t.is_file() => scan_file(guard, &t, opts, rep),
                Ok(t) if t.starts_with(root) => {} // directory inside the root: walked anyway
                _ => rep.skipped.push(Skipped {
                    path: p,
                    reason: "symlink pointing outside the scanned path".into(),
                }),
            }
        } else if ft.is_dir() {
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            walk(guard, &p, root, opts, rep, depth + 1);
        } else if ft.is_file() {
            scan_file(guard, &p, opts, rep);
        }
    }
}

/// Scans `paths` (files or directories, recursively; `.git` directories and binaries skipped;
/// symlinks followed only when they stay inside the given path).
pub fn scan_paths(guard: &Guard, paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    let mut rep = ScanReport::default();
    for p in paths {
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                let root = fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                walk(guard, p, &root, opts, &mut rep, 0);
            }
            Ok(m) if m.is_file() => scan_file(guard, p, opts, &mut rep),
            Ok(_) => rep.skipped.push(Skipped {
                path: p.clone(),
                reason: "not a regular file or directory".into(),
            }),
            Err(e) => rep.skipped.push(Skipped {
                path: p.clone(),
                reason: format!("cannot read: {e}"),
            }),
        }
    }
    rep
}

/// Arguments of `chela scan` (mount with `#[command(flatten)]` or as a subcommand's args).
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively; `.git` and binary files skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the report as JSON instead of `file:line:col detector confidence masked-value`.
    #[arg(long)]
    pub json: bool,
    /// Exit 3 when a finding reaches this confidence: high (default), medium, low, or never.
    #[arg(long, value_name = "LEVEL", default_value = "high")]
    pub fail_on: String,
    /// Report findings from this confidence up: medium (default), low (adds entropy and
    /// unlabelled-hex warnings) or high.
    #[arg(long, value_name = "LEVEL", default_value = "medium")]
    pub min_confidence: String,
    /// Skip files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_file_size: u64,
}

fn parse_level(flag: &str, v: &str, allow_never: bool) -> Result<Option<Confidence>, String> {
    let l = v.to_ascii_lowercase();
    if allow_never && (l == "never" || l == "none") {
        return Ok(None);
    }
    match Confidence::parse(&l) {
        Some(c) => Ok(Some(c)),
        None => Err(format!(
            "chela scan: {flag} must be high, medium, low{} (got `{v}`)",
            if allow_never { " or never" } else { "" }
        )),
    }
}

/// Runs `chela scan` with the default guard, writing the report to `out` and notes and errors to
/// `err`; returns the exit code: 0 clean (below `--fail-on`), 3 findings at or above
/// `--fail-on`, 2 usage error (bad level, a PATH that does not exist or cannot be read),
/// 1 internal failure.
pub fn run_scan(args: &ScanArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let fail_on = match parse_level("--fail-on", &args.fail_on, true) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "{e}");
            return chela_types::exit::USAGE;
        }
    };
    let min_confidence = match parse_level("--min-confidence", &args.min_confidence, false) {
        Ok(Some(l)) => l,
        Ok(None) => Confidence::Medium,
        Err(e) => {
            let _ = writeln!(err, "{e}");
            return chela_types::exit::USAGE;
        }
    };
    for p in &args.paths {
        if let Err(e) = fs::metadata(p) {
            let _ = writeln!(
                err,
                "chela scan: cannot read {}: {e}; pass existing files or directories",
                p.display()
            );
            return chela_types::exit::USAGE;
        }
    }
    let guard = match Guard::new() {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(err, "chela scan: {e}");
            return chela_types::exit::FAILURE;
        }
    };
    let opts = ScanOptions {
        max_file_size: args.max_file_size,
        min_confidence,
    };
    let rep = scan_paths(&guard, &args.paths, &opts);
    let written = if args.json {
        match serde_json::to_string_pretty(&rep) {
            Ok(s) => writeln!(out, "{s}"),
            Err(e) => {
                let _ = writeln!(err, "chela scan: cannot encode the report as JSON: {e}");
                return chela_types::exit::FAILURE;
            }
        }
    } else {
        write!(out, "{}", rep.to_text())
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        let _ = writeln!(err, "chela scan: cannot write the report: {e}");
        return chela_types::exit::FAILURE;
    }
    let _ = write!(err, "{}", rep.notes());
    let _ = writeln!(
        err,
        "scanned {} file(s), {} bytes: {} finding(s), {} skipped",
        rep.files_scanned,
        rep.bytes_scanned,
        rep.findings.len(),
        rep.skipped.len()
    );
    rep.exit_code(fail_on)
}

/// Runs `chela scan` on stdout/stderr; see [`run_scan`] for exit codes.
pub fn run(args: ScanArgs) -> i32 {
    run_scan(
        &args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// Parses `args` (the words after `chela scan`) and runs the scan on stdout/stderr; returns the
/// exit code (2 on a usage error, 0 for `--help`).
pub fn run_scan_cli(args: &[String]) -> i32 {
    run_scan_cli_to(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`run_scan_cli`] writing to the given streams (for tests and embedding).
pub fn run_scan_cli_to(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    use clap::{Command, FromArgMatches};
    let cmd = ScanArgs::augment_args(
        Command::new("chela scan")
            .about("Find secrets, key material and personal data in files (CN-A4)")
            .no_binary_name(true),
    );
    let m = match cmd.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() {
                chela_types::exit::USAGE
            } else {
                chela_types::exit::OK
            };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                write!(err, "{text}")
            } else {
                write!(out, "{text}")
            };
            return code;
        }
    };
    match ScanArgs::from_arg_matches(&m) {
        Ok(a) => run_scan(&a, out, err),
        Err(e) => {
            let _ = write!(err, "{}", e.render());
            chela_types::exit::USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_detection() {
        assert!(looks_binary(b"abc\0def"));
        assert!(looks_binary(&[
            0xff, 0xfe, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47
        ]));
        assert!(!looks_binary("中文 text".as_bytes()));
    }
}
