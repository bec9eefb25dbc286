#!/usr/bin/env bash
# Wall time of a full `chela assess` (all 33 checks, live sandbox probe, guard scan, audit verify)
# on a fresh home, as an unprivileged user. Usage: bench/chela-assess-run.sh [RUNS] [BINARY]
# BINARY defaults to the chela-assess example (`cargo build -p chela-assess --example chela_assess`).
set -euo pipefail
runs=${1:-20}
bin=${2:-${CARGO_TARGET_DIR:-target}/debug/examples/chela_assess}
work=$(mktemp -d /tmp/chela-assess-bench.XXXXXX)
chmod 755 "$work"; install -m 755 "$bin" "$work/chela_assess"
home="$work/home"; mkdir -m 700 "$home" "$home/workspace" "$home/audit"
printf '[provider]\nkind = "openai"\nbase_url = "https://api.openai.com/v1"\nmodel = "m"\napi_key_env = "OPENAI_API_KEY"\n' > "$home/config.toml"
chmod 600 "$home/config.toml"
for i in $(seq 1 200); do echo "line $i of ordinary notes, nothing secret here" ; done > "$home/workspace/notes.txt"
as=()
if [ "$(id -u)" = 0 ]; then chown -R 65534:65534 "$home"; as=(setpriv --reuid 65534 --regid 65534 --clear-groups); fi
run() { "${as[@]}" env HOME=/nonexistent CHELA_HOME="$home" "$work/chela_assess" "$@"; }
run init-baseline >/dev/null
for mode in "--offline" "--offline --no-probe"; do
  start=$(date +%s%N)
  for _ in $(seq 1 "$runs"); do run assess $mode --json >/dev/null || true; done
  end=$(date +%s%N)
  echo "chela assess $mode: $(( (end - start) / runs / 1000000 )) ms per run (mean of $runs)"
done
run assess --offline --json | grep -m1 -A5 '"summary": {' | tr -d ' \n'; echo
rm -rf "$work"
