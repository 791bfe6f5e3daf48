#!/usr/bin/env bash
# Load balancing through the gateway (issue 13): one backend of 3 deployments against one
# backend of 1 deployment, in one gateway, in alternating rounds, reported as a ratio.
#
#  overhead: mocks that answer at once (the gateway is the bottleneck): what picking a
#            deployment costs. Expect a ratio of ~1.0.
#  capacity: mocks that take 20 ms per answer, each deployment limited to
#            max_concurrency 8 (a stand-in for a GPU replica's batch capacity); requests
#            beyond it are refused (503) when no deployment has room. Reported as good
#            answers (2xx) per second: expect ~3x with three deployments.
#
#   bench/balance_bench.sh [BUILD_DIR=build-release] [DURATION=10s] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
DUR=${2:-10s}
ROUNDS=${3:-3}
BASE_PORT=${BASE_PORT:-19100}
GW_PORT=$((BASE_PORT + 10))
command -v wrk >/dev/null || { echo "missing wrk (scripts/install-deps)"; exit 1; }
[ -x "$BUILD/signalbox" ] || { echo "build first: make release"; exit 1; }

WORK=$(mktemp -d /tmp/signalbox-balance-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

MOCK="$BUILD/tools/mock/signalbox-mock"
for i in 0 1 2; do
  "$MOCK" --listen 127.0.0.1:$((BASE_PORT + i)) --model bench-model --threads 256 --quiet >/dev/null &
  pids+=($!)
  "$MOCK" --listen 127.0.0.1:$((BASE_PORT + 3 + i)) --model bench-model --latency 20 --threads 64 --quiet >/dev/null &
  pids+=($!)
done

u() { echo "http://127.0.0.1:$((BASE_PORT + $1))/v1"; }
cat > "$WORK/signalbox.yaml" <<YAML
server:
  listen: 127.0.0.1:$GW_PORT
  access_log: $WORK/access.log
backends:
  - name: fast1
    url: $(u 0)
    model: bench-model
    max_concurrency: 100000
  - name: fast3
    model: bench-model
    max_concurrency: 100000
    deployments: [{url: $(u 0)}, {url: $(u 1)}, {url: $(u 2)}]
  - name: slow1
    url: $(u 3)
    model: bench-model
    max_concurrency: 8
  - name: slow3
    model: bench-model
    max_concurrency: 8
    deployments: [{url: $(u 3)}, {url: $(u 4)}, {url: $(u 5)}]
budgets:
  ledger_path: $WORK/ledger.db
router:
  rules:
    - name: default
      route: [fast1]
YAML
"$BUILD/signalbox" serve --config "$WORK/signalbox.yaml" 2>"$WORK/gw.err" &
pids+=($!)
for p in $(seq $BASE_PORT $((BASE_PORT + 5))) $GW_PORT; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v1/models" && break; sleep 0.1; done
done

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
run() {  # name model conns round
  local out
  out=$(WRK_MODEL=$2 wrk -t2 -c"$3" -d"$DUR" --latency -s bench/wrk/chat.lua "http://127.0.0.1:$GW_PORT" 2>&1)
  WRK_OUT="$out" python3 - "$1" "$3" "$4" >> "$RESULTS" <<'PY'
import os, sys
sys.path.insert(0, "bench")
from wrk_summary import parse
name, conns, rnd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
w = parse(os.environ["WRK_OUT"])
good = (w.requests - w.errors) / w.seconds
print(f"{name}\t{conns}\t{rnd}\t{w.rps:.0f}\t{good:.0f}\t{w.p50_ms:.2f}\t{w.p99_ms:.2f}\t{w.errors}")
PY
}
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="1 3"; else order="3 1"; fi
  for n in $order; do run "overhead-$n" "fast$n" 64 "$round"; done
  for n in $order; do run "capacity-$n" "slow$n" 24 "$round"; done
done

python3 - "$RESULTS" <<'PY'
import sys, statistics as st
sys.path.insert(0, "bench")
from wrk_summary import load_rounds
by, _ = load_rounds(sys.argv[1])
print("| case | deployments | conns | req/s | good req/s (2xx) | p50 ms | p99 ms | non-2xx | 3 vs 1 (good req/s) |")
print("|---|---|---|---|---|---|---|---|---|")
for case, conns in (("overhead", 64), ("capacity", 24)):
    med = {}
    for n in ("1", "3"):
        rs = by[(f"{case}-{n}", conns)]
        med[n] = st.median(float(r[4]) for r in rs)
    for n in ("1", "3"):
        rs = by[(f"{case}-{n}", conns)]
        rps = st.median(float(r[3]) for r in rs)
        p50 = st.median(float(r[5]) for r in rs); p99 = st.median(float(r[6]) for r in rs)
        err = sum(int(r[7]) for r in rs)
        ratio = f"**{med['3'] / med['1']:.2f}x**" if n == "3" else "1.00x"
        print(f"| {case} | {n} | {conns} | {rps:.0f} | {med[n]:.0f} | {p50:.2f} | {p99:.2f} | {err} | {ratio} |")
PY
