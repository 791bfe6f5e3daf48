#!/usr/bin/env bash
# Proxy throughput: wrk with a ~1 KB chat body against (a) signalbox-mock directly,
# (b) nginx proxy_pass in front of the mock, (c) signalbox in front of the mock, at
# several connection counts, in alternating rounds. Prints a markdown table with
# requests/s, latency, errors, CPU per request and the ratio to nginx.
#
#   bench/proxy_bench.sh [BUILD_DIR=build-release] [DURATION=10s] [ROUNDS=3] [CONNS="16 64 256"]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
DUR=${2:-10s}
ROUNDS=${3:-3}
CONNS=${4:-"16 64 256"}
MOCK_PORT=${MOCK_PORT:-19001}
NGINX_PORT=${NGINX_PORT:-19002}
GW_PORT=${GW_PORT:-19003}
for t in wrk nginx; do command -v $t >/dev/null || { echo "missing $t (scripts/install-deps)"; exit 1; }; done
[ -x "$BUILD/signalbox" ] || { echo "build first: make release"; exit 1; }

WORK=$(mktemp -d /tmp/signalbox-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BUILD/tools/mock/signalbox-mock" --listen 127.0.0.1:$MOCK_PORT --model bench-model --threads 600 --quiet >/dev/null &
pids+=($!)

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-body;
  proxy_temp_path $WORK/nginx-proxy;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" -g 'daemon off;' &
pids+=($!)
NGINX_MASTER=$!

cat > "$WORK/signalbox.yaml" <<YAML
server:
  listen: 127.0.0.1:$GW_PORT
  access_log: $WORK/access.log
backends:
  - name: mock
    url: http://127.0.0.1:$MOCK_PORT/v1
    model: bench-model
    price: {input_per_mtok: 0.1, output_per_mtok: 0.3}
    max_concurrency: 100000
budgets:
  ledger_path: $WORK/ledger.db
router:
  rules:
    - name: default
      route: [mock]
YAML
"$BUILD/signalbox" serve --config "$WORK/signalbox.yaml" 2>"$WORK/gw.err" &
GW_PID=$!
pids+=($GW_PID)

for p in $MOCK_PORT $NGINX_PORT $GW_PORT; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v1/models" && break; sleep 0.1; done
done

cpu_ticks() {  # utime+stime of a process and its threads (and children for nginx)
  local total=0
  for pid in "$@"; do
    [ -r /proc/$pid/stat ] || continue
    total=$((total + $(awk '{print $14+$15}' /proc/$pid/stat)))
  done
  echo $total
}
nginx_pids() { pgrep -P "$NGINX_MASTER" | tr '\n' ' '; echo "$NGINX_MASTER"; }

HZ=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    # Alternate the order every round so drift (thermal, noise) does not favour one target.
    targets=("direct $MOCK_PORT" "nginx $NGINX_PORT" "signalbox $GW_PORT")
    if [ $((round % 2)) -eq 0 ]; then targets=("signalbox $GW_PORT" "nginx $NGINX_PORT" "direct $MOCK_PORT"); fi
    for t in "${targets[@]}"; do
      set -- $t
      name=$1; port=$2
      case $name in
        signalbox) cpids="$GW_PID" ;;
        nginx) cpids=$(nginx_pids) ;;
        *) cpids="" ;;
      esac
      before=$(cpu_ticks $cpids)
      out=$(WRK_MODEL=bench-model wrk -t2 -c"$c" -d"$DUR" --latency -s bench/wrk/chat.lua "http://127.0.0.1:$port" 2>&1)
      after=$(cpu_ticks $cpids)
      WRK_OUT="$out" python3 - "$name" "$c" "$round" "$((after - before))" "$HZ" >> "$RESULTS" <<'PY'
import os, sys
sys.path.insert(0, "bench")
from wrk_summary import parse
name, conns, rnd, ticks, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
w = parse(os.environ["WRK_OUT"])
rps, reqs, maxl, errors = w.rps, w.requests, w.max_ms, w.errors
lat = {50: w.p50_ms, 99: w.p99_ms}.get
cpu_us = ticks * 1e6 / hz / reqs if reqs and ticks else float("nan")
print(f"{name}\t{conns}\t{rnd}\t{rps:.0f}\t{lat(50):.2f}\t{lat(99):.2f}\t{maxl:.1f}\t{errors}\t{cpu_us:.0f}")
PY
    done
  done
done

python3 - "$RESULTS" <<'PY'
import sys, statistics as st
sys.path.insert(0, "bench")
from wrk_summary import load_rounds
by, conns = load_rounds(sys.argv[1])
print("| target | conns | req/s (median) | p50 ms | p99 ms | max ms | errors | CPU µs/req | vs nginx |")
print("|---|---|---|---|---|---|---|---|---|")
for c in conns:
    ng = st.median(float(r[3]) for r in by[("nginx", c)])
    for name in ("direct", "nginx", "signalbox"):
        rs = by[(name, c)]
        rps = st.median(float(r[3]) for r in rs)
        p50 = st.median(float(r[4]) for r in rs); p99 = st.median(float(r[5]) for r in rs)
        mx = max(float(r[6]) for r in rs); err = sum(int(r[7]) for r in rs)
        cpu = st.median(float(r[8]) for r in rs) if name != "direct" else float("nan")
        cpu_s = "-" if cpu != cpu else f"{cpu:.0f}"
        print(f"| {name} | {c} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {mx:.0f} | {err} | {cpu_s} | {rps/ng:.2f}x |")
PY
