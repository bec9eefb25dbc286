#!/usr/bin/env bash
# Benchmark: chela's sandbox vs bubblewrap (issue 3 targets).
#
#  1. Whole process: `chela sandbox run -- /bin/true` (warm: served by the helper an earlier
#     invocation left for this workspace; cold: CHELA_SANDBOX_COLD=1, full setup) vs
#     `bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/true`, measured
#     alternately in one run (target: chela median <= 0.8 x bwrap median).
#  2. Sandboxed exec from a running process (the agent's `exec` tool): Sandbox::run(/bin/true)
#     vs a plain fork+exec (target: p50 added <= 1.5 ms).
#
# Usage: bench/sandbox-bench.sh [ITERATIONS]   (default 300)
# Uses $CHELA_BIN (`$CHELA_BIN sandbox run --workspace W -- /bin/true`) when set; otherwise the
# crate's example `sandbox_run`, which calls chela_sandbox::run_cli exactly as the CLI does.
# Runs the measurements as uid 65534 when started as root (chela refuses root).
set -euo pipefail
N="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-chela-sandbox}"

if ! command -v bwrap >/dev/null 2>&1; then
    echo "installing bubblewrap..." >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y bubblewrap >/dev/null; else sudo apt-get install -y bubblewrap >/dev/null; fi
fi

(cd "$ROOT" && cargo build -q --release -p chela-sandbox --example sandbox_run --example sandbox_bench)

WORK="$(mktemp -d /tmp/chela-sbx-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
cp "$CARGO_TARGET_DIR/release/examples/sandbox_run" "$CARGO_TARGET_DIR/release/examples/sandbox_bench" "$WORK/"
chmod 755 "$WORK/sandbox_run" "$WORK/sandbox_bench"
mkdir "$WORK/ws"
if [ -n "${CHELA_BIN:-}" ]; then
    cp "$CHELA_BIN" "$WORK/chela" && chmod 755 "$WORK/chela"
    CHELA_CMD="$WORK/chela sandbox run --workspace $WORK/ws -- /bin/true"
else
    CHELA_CMD="$WORK/sandbox_run --workspace $WORK/ws -- /bin/true"
fi
BWRAP_CMD="bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/true"

cat > "$WORK/alt.py" <<'PY'
import os, statistics, subprocess, sys, time
n = int(sys.argv[1])
cmds = {"chela": sys.argv[2].split(), "chela-cold": sys.argv[2].split(), "bwrap": sys.argv[3].split(), "plain": ["/bin/true"]}
envs = {k: None for k in cmds}
envs["chela-cold"] = dict(os.environ, CHELA_SANDBOX_COLD="1")  # no warm helper: full setup every time
times = {k: [] for k in cmds}
for k, c in cmds.items():  # warm-up, and fail loudly if a command does not work
    subprocess.run(c, check=True, stdin=subprocess.DEVNULL, env=envs[k])
for i in range(n):
    for k, c in cmds.items():
        t = time.perf_counter_ns()
        r = subprocess.run(c, stdin=subprocess.DEVNULL, env=envs[k])
        times[k].append((time.perf_counter_ns() - t) / 1e6)
        if r.returncode != 0:
            sys.exit(f"{k} failed with {r.returncode}")
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
for k, v in times.items():
    print(f"{k:10s} median {statistics.median(v):7.3f} ms   p10 {q(v, .1):7.3f}   p90 {q(v, .9):7.3f}   (n={n})")
for k in ("chela", "chela-cold"):
    ratio = statistics.median(times[k]) / statistics.median(times["bwrap"])
    print(f"ratio {k}/bwrap (medians): {ratio:.2f}  (target <= 0.80)")
PY

AS=()
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$WORK/ws"
    AS=(setpriv --reuid 65534 --regid 65534 --clear-groups)
fi
echo "== machine: $(nproc) cores, $(uname -m), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== whole process, alternating ($N rounds): $CHELA_CMD (warm, then CHELA_SANDBOX_COLD=1) | $BWRAP_CMD | /bin/true"
(cd "$WORK" && "${AS[@]}" /usr/bin/python3 "$WORK/alt.py" "$N" "$CHELA_CMD" "$BWRAP_CMD")
echo "== sandboxed exec from a running process ($N rounds)"
(cd "$WORK" && "${AS[@]}" "$WORK/sandbox_bench" "$WORK/ws" "$N")
