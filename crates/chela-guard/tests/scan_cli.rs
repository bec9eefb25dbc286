//! `chela scan` end to end (in process): every generated true positive is reported at the right
//! place, masked; clean text stays clean; exit codes 0 / 2 / 3 follow the issue.

#[path = "../corpus/gen.rs"]
mod gen;

use chela_guard::{line_col, mask, run_scan_cli_to, Action, Detector};
use std::fs;
use std::path::Path;

fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_scan_cli_to(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8 report"),
        String::from_utf8(err).expect("utf-8 notes"),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn finds_every_true_positive_at_its_position_masked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tps = gen::true_positives(0x5ca9, 2);
    let mut expected = Vec::new();
    for (i, tp) in tps.iter().enumerate() {
        let warn_only =
            Detector::from_id(tp.detector).map(|d| d.default_action()) == Some(Action::Warn);
        if warn_only {
            continue; // reported only with --min-confidence low (checked below)
        }
        if tp.detector == "known_secret" {
            continue; // the CLI's guard has no vault; `scan_paths` takes a guard that does
        }
        let name = format!("item{i:04}_{}.txt", tp.detector);
        let text = format!("first line of the file\n{}\nlast line\n", tp.text);
        let at = "first line of the file\n".len() + tp.value.start;
        let (line, col) = line_col(&text, at);
        fs::write(dir.path().join(&name), &text).expect("write item");
        let value = tp.text[tp.value.clone()].to_string();
        expected.push((name, line, col, tp.detector, value));
    }
    let (code, out, err) = run(&[p(dir.path())]);
    assert_eq!(code, 3, "findings must exit 3; stderr: {err}");
    let mut missing = Vec::new();
    for (name, line, col, det, value) in &expected {
        let hit = out.lines().find(|l| {
            l.contains(name.as_str())
                && l.contains(&format!(":{line}:{col} "))
                && l.split(' ').nth(1) == Some(*det)
        });
        match hit {
            Some(l) => {
                assert!(!l.contains(value.as_str()), "value leaked in `{l}`");
                let fields: Vec<&str> = l.split(' ').collect();
                assert_eq!(
                    fields.len(),
                    4,
                    "`file:line:col detector confidence masked`: {l}"
                );
                assert!(
                    ["high", "medium"].contains(&fields[2]),
                    "confidence field in `{l}`"
                );
                assert!(fields[3].chars().count() <= 5, "masked value in `{l}`");
            }
            None => missing.push(format!("{name}:{line}:{col} {det}")),
        }
    }
    assert!(missing.is_empty(), "not reported: {missing:?}\n{out}");
    // exact masking of one simple value
    let f = dir.path().join("mobile.txt");
    fs::write(&f, "联系电话 13812345678。\n").expect("write");
    let (code, out, _) = run(&[p(&f)]);
    assert_eq!(code, 3);
    assert_eq!(
        out.trim_end(),
        format!("{}:1:6 cn_mobile high {}", f.display(), mask("13812345678"))
    );
    assert_eq!(mask("13812345678"), "13…78");
}

#[test]
fn warn_only_findings_need_min_confidence_low_and_do_not_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("session.txt");
    fs::write(&f, "X-Session: Q9vT3kLmZ2xR8pWn4bYc7HdJ6sFa1GeU0tKo5iVq\n").expect("write");
    let (code, out, _) = run(&[p(&f)]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = run(&["--min-confidence", "low", p(&f)]);
    assert_eq!(
        code, 0,
        "low findings stay below the default --fail-on high"
    );
    assert!(out.contains(" high_entropy_string low "), "{out}");
    let (code, _, _) = run(&["--min-confidence", "low", "--fail-on", "low", p(&f)]);
    assert_eq!(code, 3);
}

#[test]
fn clean_text_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/clean");
    for e in fs::read_dir(&samples).expect("corpus/clean") {
        let e = e.expect("entry");
        fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy sample");
    }
    fs::write(
        dir.path().join("mixed.txt"),
        gen::clean_text(0x5eed, 1024 * 1024),
    )
    .expect("write clean text");
    let (code, out, err) = run(&[p(dir.path())]);
    assert_eq!(code, 0, "clean text flagged:\n{out}\n{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("finding(s)"), "{err}");
}

#[test]
fn binaries_and_git_are_skipped_with_a_note() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bin = b"\x7fELF\0\0\0".to_vec();
    bin.extend_from_slice(b"11010519491231002X\0");
    fs::write(dir.path().join("a.out"), &bin).expect("write binary");
    fs::create_dir(dir.path().join(".git")).expect("mkdir");
    fs::write(
        dir.path().join(".git/config"),
        "身份证 11010519491231002X\n",
    )
    .expect("write");
    let (code, out, err) = run(&[p(dir.path())]);
    assert_eq!(code, 0, "{out}");
    assert!(err.contains("a.out: binary"), "{err}");
}

#[test]
fn json_report_and_fail_on_levels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("notes.md");
    fs::write(
        &f,
        "客户身份证：11010519491231002X\nemail li.lei@corp-mail.cn\n",
    )
    .expect("write");
    let (code, out, _) = run(&["--json", p(&f)]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let findings = v["findings"].as_array().expect("findings array");
    assert_eq!(findings.len(), 2, "{out}");
    assert_eq!(findings[0]["detector"], "cn_resident_id");
    assert_eq!(findings[0]["line"], 1);
    assert_eq!(findings[0]["col"], 7);
    assert_eq!(findings[0]["masked"], "11…2X");
    assert_eq!(findings[1]["detector"], "email");
    assert_eq!(findings[1]["confidence"], "medium");
    assert!(!out.contains("11010519491231002X"));
    assert_eq!(v["files_scanned"], 1);
    // e-mail alone is medium: below the default threshold, at or above `--fail-on medium`
    let g = dir.path().join("mail.txt");
    fs::write(&g, "write to li.lei@corp-mail.cn\n").expect("write");
    assert_eq!(run(&[p(&g)]).0, 0);
    assert_eq!(run(&["--fail-on", "medium", p(&g)]).0, 3);
    assert_eq!(run(&["--fail-on", "never", p(&f)]).0, 0);
}

#[test]
fn usage_errors_exit_two() {
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["--fail-on", "sometimes", "."]);
    assert_eq!(code, 2);
    assert!(err.contains("--fail-on must be"), "{err}");
    let (code, _, err) = run(&["/nonexistent/chela-scan-test"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/chela-scan-test"), "{err}");
    let (code, _, _) = run(&["--bogus", "."]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--fail-on"), "{out}");
}

#[test]
fn scan_paths_with_a_vault_aware_guard_finds_known_secrets() {
    use chela_guard::{scan_paths, Guard, ScanOptions};
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("env.sh");
    let hex: String = gen::KNOWN_SECRET
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    fs::write(&f, format!("export X={hex}\n")).expect("write");
    let guard = Guard::new().expect("guard");
    guard
        .add_known_secret("provider_key", gen::KNOWN_SECRET)
        .expect("known secret");
    let rep = scan_paths(&guard, std::slice::from_ref(&f), &ScanOptions::default());
    assert_eq!(rep.findings.len(), 1, "{rep:?}");
    assert_eq!(rep.findings[0].detector, Detector::KnownSecret);
    assert_eq!((rep.findings[0].line, rep.findings[0].col), (1, 10));
    assert_eq!(rep.exit_code(Some(chela_guard::Confidence::High)), 3);
}
