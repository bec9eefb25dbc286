//! Guard throughput (issue 6 targets: >= 500 MB/s per core on clean mixed text, >= 100 MB/s on
//! text dense with candidates). Run: `cargo bench -p chela-guard --bench throughput`.
//!
//! Time is measured as the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so the
//! figures are per core and stay meaningful on a machine shared with other jobs; throughput is
//! printed in MiB/s of CPU time.

#[path = "../corpus/gen.rs"]
mod gen;

use chela_guard::Guard;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const SIZE: usize = 4 * 1024 * 1024;

/// Thread CPU time in nanoseconds.
struct CpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock ID is a constant libc knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v /= 1e6;
        }
        "ms(cpu)"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let units = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64 / (1024.0 * 1024.0),
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => *n as f64,
            Throughput::Bits(n) => *n as f64 / (8.0 * 1024.0 * 1024.0),
        };
        for v in values.iter_mut() {
            *v = units / (*v / 1e9);
        }
        "MiB/s(cpu)"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let guard = match Guard::new() {
        Ok(g) => g,
        Err(e) => panic!("guard does not build: {e}"),
    };
    if let Err(e) = guard.add_known_secret("bench_vault_entry", gen::KNOWN_SECRET) {
        panic!("known secret rejected: {e}");
    }
    let clean = gen::clean_text(0xc1ea, SIZE);
    let dense = gen::dense_text(0xde05e, SIZE);
    let mut g = c.benchmark_group("guard");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("find/clean_mixed", |b| {
        b.iter(|| black_box(guard.find(black_box(&clean))))
    });
    g.bench_function("inspect/clean_mixed", |b| {
        b.iter(|| black_box(guard.inspect(black_box(&clean), "bench")))
    });
    g.throughput(Throughput::Bytes(dense.len() as u64));
    g.bench_function("find/candidate_dense", |b| {
        b.iter(|| black_box(guard.find(black_box(&dense))))
    });
    g.bench_function("inspect/candidate_dense", |b| {
        b.iter(|| black_box(guard.inspect(black_box(&dense), "bench")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
