//! Latency figures for BENCH_RESULTS.md (run as an unprivileged user):
//! `sandbox_bench WORKSPACE [ITERATIONS]` prints the median and p90 of
//! (a) a plain `fork+exec` of /bin/true (std::process::Command, the baseline),
//! (b) `Sandbox::run(/bin/true)` on a prepared sandbox (the agent's `exec` path),
//! (c) `Sandbox::new` + first run + close, and (d) `Sandbox::run_once_inherit` (what
//! `chela sandbox run` does in-process).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chela_sandbox::{CommandSpec, Sandbox, SandboxConfig};

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ws = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let spec = CommandSpec::new(["/bin/true"]);
    // Optional ballast (MiB of touched heap) to see how the caller's size affects the cost.
    let ballast_mb: usize = std::env::var("BENCH_BALLAST_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let ballast = vec![1u8; ballast_mb << 20];
    let sb = match Sandbox::new(SandboxConfig::new(&ws)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(4);
        }
    };
    let (mut plain, mut sandboxed, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    let mut once = Vec::new();
    for i in 0..n {
        // alternate the measurements so load changes hit all of them alike
        let t = Instant::now();
        let st = std::process::Command::new("/bin/true").status();
        plain.push(t.elapsed());
        assert!(st.map(|s| s.success()).unwrap_or(false));
        let t = Instant::now();
        let o = sb.run(&spec);
        sandboxed.push(t.elapsed());
        assert!(o.map(|o| o.status.success()).unwrap_or(false));
        if i % 3 == 0 {
            let t = Instant::now();
            let s2 = Sandbox::new(SandboxConfig::new(&ws)).expect("sandbox");
            let o = s2.run(&spec);
            s2.close_detached();
            whole.push(t.elapsed());
            assert!(o.map(|o| o.status.success()).unwrap_or(false));
            let t = Instant::now();
            let st = Sandbox::run_once_inherit(SandboxConfig::new(&ws), &spec);
            once.push(t.elapsed());
            assert!(st.map(|s| s.success()).unwrap_or(false));
        }
    }
    let (p50, p90) = stats(plain);
    let (s50, s90) = stats(sandboxed);
    let (w50, w90) = stats(whole);
    let (o50, o90) = stats(once);
    println!("plain fork+exec /bin/true      p50 {p50:.3} ms  p90 {p90:.3} ms");
    println!(
        "Sandbox::run /bin/true         p50 {s50:.3} ms  p90 {s90:.3} ms  (added p50 {:.3} ms)",
        s50 - p50
    );
    println!("Sandbox::new + run + close     p50 {w50:.3} ms  p90 {w90:.3} ms");
    println!("Sandbox::run_once_inherit      p50 {o50:.3} ms  p90 {o90:.3} ms  (what `chela sandbox run` does in-process)");
    println!(
        "level: {} (caller ballast {} MiB)",
        sb.level(),
        ballast.len() >> 20
    );
}
