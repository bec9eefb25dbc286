#!/usr/bin/env python3
"""Benchmark for issue 2: one full `chela run` task (3 model round trips, 2 tool calls: write a
file, exec it, answer) against the fake provider with zero model latency.

Reports whole-process wall time (median, p90) and peak RSS (max over runs) of the chela process,
measured with wait4() rusage. Run as an unprivileged user (chela refuses root); when run as root
it drops to uid 65534 for the chela processes.

Usage: python3 bench/run-task.py [RUNS]   (builds release binaries first)
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "chela-cli", "--bin", "chela", "--example", "fake_provider"], cwd=root, check=True)
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
tmp = tempfile.mkdtemp(prefix="chela-bench-")
os.chmod(tmp, 0o755)
chela = os.path.join(tmp, "chela")
shutil.copy(os.path.join(target, "release", "chela"), chela)
os.chmod(chela, 0o755)
home = os.path.join(tmp, "home")
os.mkdir(home, 0o700)
as_root = os.geteuid() == 0
if as_root:
    os.chown(home, 65534, 65534)

def demote():
    if as_root:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)

env = {"HOME": home, "CHELA_HOME": os.path.join(home, ".chela"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
fake = subprocess.Popen([os.path.join(target, "release", "examples", "fake_provider"), str(runs + 1)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
url = fake.stdout.readline().strip()
subprocess.run([chela, "init", "--non-interactive", "--provider", "openai", "--base-url", url, "--model", "bench"], env=env, preexec_fn=demote, check=True, stderr=subprocess.DEVNULL)

# Running a script is held for approval by default; the owner pre-approves this exact command.
cfg_path = os.path.join(env["CHELA_HOME"], "config.toml")
with open(cfg_path) as f:
    cfg = f.read()
with open(cfg_path, "w") as f:
    f.write(cfg.replace("[policy]\n", "[policy]\nallow_rules = [\"exec:sh bench.sh\"]\n", 1))

def one():
    t0 = time.perf_counter()
    p = subprocess.Popen([chela, "run", "write a script, run it, answer"], env=env, preexec_fn=demote, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"chela run failed with status {status}")
    return dt, ru.ru_maxrss

one()  # warm-up (page cache, first-run database creation)
walls, rss = [], []
for _ in range(runs):
    w, r = one()
    walls.append(w * 1000); rss.append(r / 1024)
fake.stdin.close(); fake.wait()
walls.sort()
print(f"chela run (3 round trips, 2 tool calls), {runs} runs")
print(f"  wall median {statistics.median(walls):.2f} ms, p90 {walls[int(len(walls)*0.9)-1]:.2f} ms, min {walls[0]:.2f} ms")
print(f"  peak RSS max {max(rss):.1f} MB, median {statistics.median(rss):.1f} MB")
v = []
for _ in range(50):
    t0 = time.perf_counter(); subprocess.run([chela, "--version"], stdout=subprocess.DEVNULL, preexec_fn=demote); v.append((time.perf_counter() - t0) * 1000)
print(f"chela --version: median {statistics.median(v):.2f} ms")
print(f"release binary size (stripped): {os.path.getsize(chela) / 1e6:.1f} MB")
shutil.rmtree(tmp, ignore_errors=True)
