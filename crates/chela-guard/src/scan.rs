//! `chela scan PATH… [--json] [--fail-on LEVEL]`: scans files and directories for secrets, key
//! material and personal data (CN-A4). `chela assess` uses [`scan_paths`] too.

use crate::{Confidence, Detector, Guard};
use clap::Args;
use serde::Serialize;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files larger than this are skipped with a note.
    pub max_file_size: u64,
    /// Report findings from this confidence up (low findings are warnings).
    pub min_confidence: Confidence,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_file_size: 32 * 1024 * 1024,
            min_confidence: Confidence::Low,
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
    /// Files or directories to scan.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 3 when a finding reaches this confidence: high (default), medium, low, or never.
    #[arg(long, value_name = "LEVEL", default_value = "high")]
    pub fail_on: String,
    /// Skip files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_file_size: u64,
}

/// Runs `chela scan` with the default guard, printing to stdout; returns the exit code
/// (0 clean, 3 findings at or above `--fail-on`, 2 usage error, 1 guard failure).
pub fn run(args: ScanArgs) -> i32 {
    let fail_on = match args.fail_on.to_ascii_lowercase().as_str() {
        "never" | "none" => None,
        other => match Confidence::parse(other) {
            Some(c) => Some(c),
            None => {
                eprintln!(
                    "chela scan: --fail-on must be high, medium, low or never (got `{}`)",
                    args.fail_on
                );
                return chela_types::exit::USAGE;
            }
        },
    };
    let guard = match Guard::new() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("chela scan: {e}");
            return chela_types::exit::FAILURE;
        }
    };
    let opts = ScanOptions {
        max_file_size: args.max_file_size,
        ..ScanOptions::default()
    };
    let rep = scan_paths(&guard, &args.paths, &opts);
    if args.json {
        match serde_json::to_string_pretty(&rep) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("chela scan: cannot encode the report as JSON: {e}");
                return chela_types::exit::FAILURE;
            }
        }
    } else {
        print!("{}", rep.to_text());
        eprintln!(
            "scanned {} file(s), {} bytes: {} finding(s), {} skipped",
            rep.files_scanned,
            rep.bytes_scanned,
            rep.findings.len(),
            rep.skipped.len()
        );
    }
    rep.exit_code(fail_on)
}

/// Parses `args` (without the program and `scan` words) and runs the scan; returns the exit code.
pub fn run_scan_cli(args: &[String]) -> i32 {
    use clap::{Command, FromArgMatches};
    let cmd = ScanArgs::augment_args(Command::new("chela scan").no_binary_name(true));
    let m = match cmd.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() {
                chela_types::exit::USAGE
            } else {
                chela_types::exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match ScanArgs::from_arg_matches(&m) {
        Ok(a) => run(a),
        Err(e) => {
            let _ = e.print();
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
