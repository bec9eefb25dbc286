//! Workspace file access under attack: while the tools write and read, another thread keeps
//! swapping a directory inside the workspace for a symlink to a directory outside it. Nothing
//! may ever be written or read outside (openat2 resolves atomically; no check-then-use window).

use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chela_sandbox::fs::{FsError, Workspace};

#[test]
fn symlink_swap_race_never_escapes() {
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside-secret").unwrap();
    let dir = ws.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("secret.txt"), "inside").unwrap();
    let w = Workspace::open(ws.path()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let stop = stop.clone();
        let swaps = swaps.clone();
        let dir = dir.clone();
        let parked = ws.path().join("parked");
        let target = outside.path().to_path_buf();
        std::thread::spawn(move || {
            let remove = |p: &std::path::Path| match std::fs::symlink_metadata(p) {
                // the writer may have re-created `d` as a real directory meanwhile
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir_all(p);
                }
                _ => {
                    let _ = std::fs::remove_file(p);
                }
            };
            while !stop.load(Ordering::Relaxed) {
                if parked.exists() {
                    // a previous restore lost a race with the writer: restore first
                    remove(&dir);
                    let _ = std::fs::rename(&parked, &dir);
                    continue;
                }
                // d -> parked, symlink d -> outside, then back
                if std::fs::rename(&dir, &parked).is_ok() {
                    let _ = symlink(&target, &dir);
                    std::thread::yield_now();
                    remove(&dir);
                    let _ = std::fs::rename(&parked, &dir);
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let (mut ok_reads, mut refused) = (0u32, 0u32);
    let t = std::time::Instant::now();
    let mut i = 0u64;
    // at least 3000 rounds, and on until the race ran and both outcomes were seen (<= 10 s)
    while i < 3000
        || ((ok_reads == 0 || refused == 0 || swaps.load(Ordering::Relaxed) <= 10)
            && t.elapsed().as_secs() < 10)
    {
        i += 1;
        match w.read("d/secret.txt", 100) {
            Ok(c) => {
                assert_eq!(c.bytes, b"inside", "read through the symlink");
                ok_reads += 1;
            }
            Err(FsError::Escapes { .. }) | Err(FsError::NotFound { .. }) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
        let _ = w.write(&format!("d/new-{i}.txt"), b"x");
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    let leaked: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "secret.txt")
        .collect();
    assert!(
        leaked.is_empty(),
        "files written outside the workspace: {leaked:?}"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "outside-secret"
    );
    assert!(swaps > 10, "the race did not run ({swaps} swaps)");
    assert!(
        ok_reads > 0 && refused > 0,
        "reads ok {ok_reads}, refused {refused}"
    );
}
