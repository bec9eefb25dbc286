//! Quality corpus: recall on generated true positives (valid checksums for every detector) and
//! false positives per MB on generated clean text. Figures are printed (`--nocapture`) and
//! recorded in BENCH_RESULTS.md.

#[path = "../corpus/gen.rs"]
mod gen;

use chela_guard::{Action, Confidence, Detector, Guard, InspectAction};
use std::collections::BTreeMap;

fn guard() -> Guard {
    let g = Guard::new().expect("guard builds");
    g.add_known_secret("corp_vault_entry", gen::KNOWN_SECRET)
        .expect("known secret");
    g
}

#[test]
fn recall_on_true_positives() {
    let g = guard();
    let per = std::env::var("CHELA_GUARD_CORPUS_PER")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n >= 40)
        .unwrap_or(40);
    let tps = gen::true_positives(0x5eed, per);
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for tp in &tps {
        let e = per.entry(tp.detector).or_insert((0, 0));
        e.1 += 1;
        let findings = g.find(&tp.text);
        let hit = findings.iter().any(|f| {
            f.detector.id() == tp.detector
                && f.range.start < tp.value.end
                && tp.value.start < f.range.end
        });
        // The value must not survive inspection (except warn-only detectors).
        let value = &tp.text[tp.value.clone()];
        let insp = g.inspect(&tp.text, "corpus");
        let leaked = match &insp.action {
            InspectAction::Pass => true,
            InspectAction::Redacted(s) => s.contains(value),
            InspectAction::Blocked { summary } => summary.contains(value),
        };
        let warn_only =
            Detector::from_id(tp.detector).map(|d| d.default_action()) == Some(Action::Warn);
        if hit && (!leaked || warn_only) {
            e.0 += 1;
        } else if misses.len() < 40 {
            misses.push(format!("{}: {:?} -> {:?}", tp.detector, tp.text, findings));
        }
    }
    let (found, total) = per.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let recall = found as f64 / total as f64;
    println!("recall: {found}/{total} = {:.4}", recall);
    for (d, (f, t)) in &per {
        println!("  {d:28} {f}/{t}");
    }
    for m in &misses {
        println!("MISS {m}");
    }
    // every detector is covered by the corpus
    for d in Detector::ALL {
        assert!(
            per.contains_key(d.id()),
            "no true positives generated for {}",
            d.id()
        );
    }
    for (d, (f, t)) in &per {
        assert!(*f as f64 / *t as f64 >= 0.95, "detector {d} recall {f}/{t}");
    }
    assert!(recall >= 0.99, "recall {recall:.4} below 0.99");
}

#[test]
fn false_positives_on_clean_text() {
    let g = guard();
    // 12 MB by default (a few seconds in debug builds); more with CHELA_GUARD_CORPUS_MB, e.g.
    // `CHELA_GUARD_CORPUS_MB=200 cargo test --release -p chela-guard --test corpus`.
    let mb = std::env::var("CHELA_GUARD_CORPUS_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n >= 12)
        .unwrap_or(12);
    let text = gen::clean_text(0xc1ea, mb * 1024 * 1024);
    let findings = g.find(&text);
    let mut fp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut warn: BTreeMap<&str, usize> = BTreeMap::new();
    let mut examples = Vec::new();
    for f in &findings {
        if f.confidence >= Confidence::Medium && f.action != Action::Warn {
            *fp.entry(f.detector.id()).or_insert(0) += 1;
            if examples.len() < 20 {
                let s = f.range.start.saturating_sub(40);
                let e = (f.range.end + 20).min(text.len());
                let ctx: String = String::from_utf8_lossy(&text.as_bytes()[s..e]).into();
                examples.push(format!("{} {:?}", f.detector, ctx));
            }
        } else {
            *warn.entry(f.detector.id()).or_insert(0) += 1;
        }
    }
    let total_fp: usize = fp.values().sum();
    let mbs = text.len() as f64 / (1024.0 * 1024.0);
    println!(
        "clean text: {:.1} MB, false positives: {total_fp} ({:.3}/MB) {fp:?}",
        mbs,
        total_fp as f64 / mbs
    );
    println!("low-confidence warnings (not counted): {warn:?}");
    for e in &examples {
        println!("FP {e}");
    }
    assert!(
        (total_fp as f64) <= mbs / 10.0,
        "{total_fp} false positives in {mbs:.1} MB (limit 1 per 10 MB)"
    );
}

#[test]
fn committed_clean_samples_stay_clean() {
    let g = guard();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/clean");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("corpus/clean exists") {
        let p = e.expect("dir entry").path();
        let text = std::fs::read_to_string(&p).expect("utf-8 sample");
        let bad: Vec<String> = g
            .find(&text)
            .into_iter()
            .filter(|f| f.confidence >= Confidence::Medium)
            .map(|f| format!("{} {:?}", f.detector, &text[f.range.clone()]))
            .collect();
        assert!(bad.is_empty(), "{}: {bad:?}", p.display());
        n += 1;
    }
    assert!(
        n >= 3,
        "expected committed clean samples in {}",
        dir.display()
    );
}
