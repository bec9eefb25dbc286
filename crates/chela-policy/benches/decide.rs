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

/// The calling thread's CPU time (excludes time the 2-core machine gave to other processes).
fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID exists on
    // every Linux the project supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median of single-decision latencies, measured in batches of 16 (timer overhead amortised):
/// (wall-clock p50, thread-CPU-time p50), in µs.
fn p50_us(f: &mut dyn FnMut()) -> (f64, f64) {
    for _ in 0..2_000 {
        f();
    }
    let mut wall = Vec::with_capacity(3_000);
    let mut cpu = Vec::with_capacity(3_000);
    for _ in 0..3_000 {
        let c0 = thread_cpu();
        let t = std::time::Instant::now();
        for _ in 0..16 {
            f();
        }
        wall.push(t.elapsed().as_secs_f64() * 1e6 / 16.0);
        cpu.push((thread_cpu() - c0).as_secs_f64() * 1e6 / 16.0);
    }
    wall.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    let mean = wall.iter().sum::<f64>() / wall.len() as f64;
    println!(
        "  batches: wall p10 {:.2} p50 {:.2} p90 {:.2} p99 {:.2} mean {:.2} µs",
        wall[wall.len() / 10],
        wall[wall.len() / 2],
        wall[wall.len() * 9 / 10],
        wall[wall.len() * 99 / 100],
        mean
    );
    (wall[wall.len() / 2], cpu[cpu.len() / 2])
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
    println!(
        "p50 decide_exec_10_segments: wall {:.2} µs, thread CPU {:.2} µs (target ≤ 20 µs)",
        p50.0, p50.1
    );
    let p50n = p50_us(&mut || {
        black_box(policy.decide(black_box(&nasty), black_box(&session)));
    });
    println!(
        "p50 decide_exec_obfuscated_nested: wall {:.2} µs, thread CPU {:.2} µs",
        p50n.0, p50n.1
    );

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
