//! The sandbox is created and used from a busy multi-threaded process (like chela under
//! tokio): other threads allocate and take locks all the time, so any allocation or lock
//! between clone and exec would deadlock or crash here.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chela_sandbox::{CommandSpec, ExitStatus, Sandbox, SandboxConfig};
use common::*;

#[test]
fn sandbox_in_a_busy_multithreaded_process() {
    if !unprivileged("sandbox_in_a_busy_multithreaded_process") {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let churners: Vec<_> = (0..4)
        .map(|i| {
            let stop = stop.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = vec![i as u8; 1 + (n % 4096) as usize];
                    let mut g = shared.lock().unwrap();
                    g.push(v);
                    if g.len() > 256 {
                        g.clear();
                    }
                    drop(g);
                    if n & 1023 == 0 {
                        println!("churn {i} {n}"); // the stdout lock, too
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let ws = workspace();
    for round in 0..4 {
        let sb = Sandbox::new(SandboxConfig::new(ws.path())).expect("sandbox");
        std::thread::scope(|s| {
            for j in 0..6 {
                let sb = &sb;
                s.spawn(move || {
                    let mut spec =
                        CommandSpec::new(["sh", "-c", "echo $0", &format!("{round}-{j}")]);
                    spec.timeout = Duration::from_secs(20);
                    let o = sb.run(&spec).unwrap();
                    assert_eq!(o.status, ExitStatus::Exited(0));
                    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{round}-{j}\n"));
                });
            }
        });
    }
    stop.store(true, Ordering::Relaxed);
    for c in churners {
        c.join().unwrap();
    }
}

#[test]
fn helper_does_not_keep_the_callers_memory() {
    if !unprivileged("helper_does_not_keep_the_callers_memory") {
        return;
    }
    // 256 MiB of touched heap in the caller, plus a few busy threads with their own stacks
    let ballast = vec![7u8; 256 << 20];
    let ws = workspace();
    let sb = Sandbox::new(SandboxConfig::new(ws.path())).expect("sandbox");
    let pid = sb.helper_pid().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let vm_kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    // (address space reservations without pages, e.g. PROT_NONE arenas, cost nothing)
    assert!(
        vm_kb("VmRSS:") < 32 << 10,
        "helper keeps chela's memory:\n{status}"
    );
    assert!(
        vm_kb("VmPTE:") < 256,
        "helper keeps chela's page tables:\n{status}"
    );
    let o = sb.run(&CommandSpec::new(["sh", "-c", "echo ok"])).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");
    assert_eq!(ballast[12345], 7);
}
