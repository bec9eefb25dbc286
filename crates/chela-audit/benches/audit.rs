//! Append throughput and latency, verify throughput.
//!
//! `cargo bench -p chela-audit --bench audit` — results in BENCH_RESULTS.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use chela_audit::{verify, AuditLog};
use chela_types::{Actor, Decision, Event, EventKind};
use criterion::{criterion_group, Criterion, Throughput};

fn tool_event(n: u64) -> Event {
    Event::new(
        Some("bench-session"),
        Actor::Agent,
        EventKind::ToolFinished {
            call_id: format!("call_{n}"),
            tool: "exec".into(),
            exit_code: 0,
            duration_ms: 12,
            bytes: 4096,
            output_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
            error: None,
        },
    )
}

fn decision_event(n: u64) -> Event {
    Event::new(
        Some("bench-session"),
        Actor::Agent,
        EventKind::PolicyDecision {
            call_id: format!("call_{n}"),
            tool: "exec".into(),
            decision: Decision::allow("tools.allowlist", "exec is allowed in the workspace"),
        },
    )
}

fn append(c: &mut Criterion) {
    let d = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(d.path()).expect("open");
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    g.bench_function("tool_finished_group_commit", |b| {
        b.iter(|| {
            n += 1;
            black_box(log.append(tool_event(n)).expect("append"));
        })
    });
    g.bench_function("policy_decision_group_commit", |b| {
        b.iter(|| {
            n += 1;
            black_box(log.append(decision_event(n)).expect("append"));
        })
    });
    g.finish();
}

fn verify_bench(c: &mut Criterion) {
    const N: u64 = 200_000;
    let d = tempfile::tempdir().expect("tempdir");
    {
        let log = AuditLog::open(d.path()).expect("open");
        for i in 0..N {
            log.append(tool_event(i)).expect("append");
        }
    }
    let records = verify(d.path(), None).expect("verify").records;
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(records));
    g.sample_size(10);
    g.bench_function("200k_records", |b| {
        b.iter(|| {
            let r = verify(d.path(), None).expect("verify");
            assert!(r.ok);
            black_box(r.records)
        })
    });
    g.finish();
}

/// Per-call latency distribution (criterion reports means of batches, not per-call p50/p99),
/// plus sustained multi-threaded throughput.
fn latency_and_sustained() {
    let d = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(AuditLog::open(d.path()).expect("open"));
    for i in 0..10_000 {
        log.append(tool_event(i)).expect("warm up");
    }
    let mut samples = Vec::with_capacity(200_000);
    for i in 0..200_000u64 {
        let ev = tool_event(i);
        let t = Instant::now();
        log.append(ev).expect("append");
        samples.push(t.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "append latency over 200000 calls: p50 {:?}  p90 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        samples[samples.len() - 1]
    );

    for threads in [1usize, 2, 4] {
        let per = 100_000u64;
        let start = Instant::now();
        let cpu0 = cpu_time();
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..per {
                        log.append(tool_event(i)).expect("append");
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("join");
        }
        let el = start.elapsed();
        let cpu = cpu_time() - cpu0;
        let total = per * threads as u64;
        println!(
            "sustained append, {threads} thread(s): {total} events in {el:.2?} = {:.0} events/s; CPU {cpu:.2?} = {:.0} events per CPU-second (group commit, fsync every 100 ms)",
            total as f64 / el.as_secs_f64(),
            total as f64 / cpu.as_secs_f64()
        );
    }
    let t = Instant::now();
    log.sync().expect("sync");
    println!("final fsync: {:?}", t.elapsed());
}

fn cpu_time() -> std::time::Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64)
            + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Verify of 1M records, reported against wall time and CPU time (the machine is shared, so
/// CPU time shows the cost independent of other load).
fn verify_million() {
    const N: u64 = 1_000_000;
    let d = tempfile::tempdir().expect("tempdir");
    {
        let log = AuditLog::open(d.path()).expect("open");
        for i in 0..N {
            log.append(tool_event(i)).expect("append");
        }
    }
    let _ = verify(d.path(), None).expect("warm cache");
    for _ in 0..3 {
        let (w, c) = (Instant::now(), cpu_time());
        let r = verify(d.path(), None).expect("verify");
        let (wall, cpu) = (w.elapsed(), cpu_time() - c);
        assert!(r.ok);
        println!(
            "verify {} records ({} segments): wall {wall:.2?} = {:.0} records/s; CPU {cpu:.2?} = {:.0} records per CPU-second",
            r.records,
            r.segments,
            r.records as f64 / wall.as_secs_f64(),
            r.records as f64 / cpu.as_secs_f64()
        );
    }
}

criterion_group!(benches, append, verify_bench);

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: keep that run short.
    if std::env::args().any(|a| a == "--bench") {
        latency_and_sustained();
        verify_million();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
