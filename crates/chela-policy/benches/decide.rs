//! Criterion benchmarks for the kernel's hot path: one decision per tool call.
//!
//! Target (issue 4): a policy decision for a 10-segment command, p50 ≤ 20 µs.

use std::hint::black_box;

use chela_policy::{classify, CommandContext, Effect, Policy, SessionState};
use criterion::{criterion_group, criterion_main, Criterion};

/// Ten simple commands: cd, ls, grep, sort, uniq, cat, head, git, echo, wc.
const TEN: &str = "cd src && ls -la | grep rs | sort | uniq -c; cat ../Cargo.toml | head -n 20 && git status --short && echo done > ../out.txt; wc -l lib.rs";

/// Obfuscated and nested: IFS trick, base64 pipeline, bash -c, find -exec, heredoc.
const NASTY: &str = "IFS=,;cmd=rm,-rf,/;$cmd; echo cm0gLXJmIC8= | base64 -d | sh; bash -c 'eval \"ls -la\"'; find . -name '*.tmp' -exec rm {} \\;; sh <<EOF\nls\nEOF";

fn ctx() -> CommandContext {
    CommandContext::new("/home/u/proj", "/home/u", "/home/u/.chela")
}

/// Median of single-decision latencies, measured in batches of 16 (timer overhead amortised).
fn p50_us(f: &mut dyn FnMut()) -> f64 {
    for _ in 0..2_000 {
        f();
    }
    let mut v: Vec<f64> = (0..3_000)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..16 {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / 16.0
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let ctx = ctx();
    assert_eq!(classify(TEN, &ctx).segments.len(), 10);
    let user = "[policy]\nallow_rules = [\"exec:make *\", \"exec:python3 -c *\"]\n";
    let policy = Policy::load(
        Some(("/home/u/.chela/config.toml", user)),
        None,
        ctx.clone(),
    )
    .expect("bench policy parses");
    let session = SessionState::new();
    let ten = Effect::exec(TEN, "/home/u/proj");
    let nasty = Effect::exec(NASTY, "/home/u/proj");
    let mut tainted = SessionState::new();
    tainted.taint.add("web_fetch:https://x.example/");
    let fetch = Effect::Fetch {
        url: "https://new.example/a".into(),
        host: "new.example".into(),
        secret_findings: 0,
    };

    let p50 = p50_us(&mut || {
        black_box(policy.decide(black_box(&ten), black_box(&session)));
    });
    println!("p50 decide_exec_10_segments: {p50:.2} µs (target ≤ 20 µs)");
    let p50n = p50_us(&mut || {
        black_box(policy.decide(black_box(&nasty), black_box(&session)));
    });
    println!("p50 decide_exec_obfuscated_nested: {p50n:.2} µs");

    c.bench_function("decide_exec_10_segments", |b| {
        b.iter(|| policy.decide(black_box(&ten), black_box(&session)))
    });
    c.bench_function("classify_10_segments", |b| {
        b.iter(|| classify(black_box(TEN), black_box(&ctx)))
    });
    c.bench_function("decide_exec_obfuscated_nested", |b| {
        b.iter(|| policy.decide(black_box(&nasty), black_box(&session)))
    });
    c.bench_function("decide_fetch_tainted", |b| {
        b.iter(|| policy.decide(black_box(&fetch), black_box(&tainted)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
