#!/usr/bin/env bash
# What the durable spend ledger costs the proxy path: wrk (bench/wrk/chat.lua, ~1 KB chat
# body) against signalbox in front of signalbox-mock, with the ledger file (a) on a
# disk-backed directory, (b) on tmpfs (/dev/shm), and (c) no ledger at all
# (`serve --no-ledger`: spend tracked in memory only), the baseline of the "cost" column.
# Every request settles one ledger row before its answer is sent; the script counts the
# rows in the file (SQLite plus the spool not yet applied) once the gateway is idle and
# reports requests/s and settled rows/s. The gateways run side by side (the idle ones cost
# nothing); the order rotates every round so drift does not favour one. Prints a markdown
# table of medians over the rounds.
#
#   bench/ledger_proxy_bench.sh [BUILD_DIR=build-release] [DURATION=10s] [ROUNDS=3] [CONNS="16 64"]
#
# Env: DISK_DIR (default: a directory under the repo's build dir, i.e. on the disk that
# holds the checkout), WRK_STREAM=1 for streamed requests, MOCK_PORT/GW_DISK_PORT/
# GW_SHM_PORT for fixed ports.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
DUR=${2:-10s}
ROUNDS=${3:-3}
CONNS=${4:-"16 64"}
MOCK_PORT=${MOCK_PORT:-19011}
GW_DISK_PORT=${GW_DISK_PORT:-19012}
GW_SHM_PORT=${GW_SHM_PORT:-19013}
GW_MEM_PORT=${GW_MEM_PORT:-19014}
for t in wrk sqlite3 curl python3; do command -v $t >/dev/null || { echo "missing $t (scripts/install-deps)"; exit 1; }; done
[ -x "$BUILD/signalbox" ] || { echo "build first: make release (or pass the build dir)"; exit 1; }
[ -d /dev/shm ] || { echo "no /dev/shm on this machine"; exit 1; }

WORK=$(mktemp -d /tmp/signalbox-ledger-bench-XXXXXX)
DISK_DIR=${DISK_DIR:-$PWD/$BUILD}
DISK=$(mktemp -d "$DISK_DIR/ledger-bench-XXXXXX")
SHM=$(mktemp -d /dev/shm/signalbox-ledger-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" "$DISK" "$SHM"
}
trap cleanup EXIT

DISK_FS=$(stat -f -c %T "$DISK")
SHM_FS=$(stat -f -c %T "$SHM")
if [ "$DISK_FS" = tmpfs ]; then echo "warning: DISK_DIR $DISK_DIR is on tmpfs; set DISK_DIR to a disk path" >&2; fi

"$BUILD/tools/mock/signalbox-mock" --listen 127.0.0.1:$MOCK_PORT --model bench-model --threads 600 --quiet >/dev/null &
pids+=($!)

start_gateway() {  # name port ledger_dir [serve flags] -> pid on stdout
  local name=$1 port=$2 dir=$3
  shift 3
  cat > "$WORK/$name.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
  access_log: /dev/null
backends:
  - name: mock
    url: http://127.0.0.1:$MOCK_PORT/v1
    model: bench-model
    price: {input_per_mtok: 0.1, output_per_mtok: 0.3}
    max_concurrency: 100000
budgets:
  ledger_path: $dir/ledger.db
router:
  rules:
    - name: default
      route: [mock]
YAML
  "$BUILD/signalbox" serve --config "$WORK/$name.yaml" "$@" 2>"$WORK/$name.err" >/dev/null &
  echo $!
}
DISK_PID=$(start_gateway disk $GW_DISK_PORT "$DISK")
pids+=($DISK_PID)
SHM_PID=$(start_gateway shm $GW_SHM_PORT "$SHM")
pids+=($SHM_PID)
MEM_PID=$(start_gateway mem $GW_MEM_PORT "$WORK/unused" --no-ledger)
pids+=($MEM_PID)

for p in $MOCK_PORT $GW_DISK_PORT $GW_SHM_PORT $GW_MEM_PORT; do
  ok=0
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v1/models" && { ok=1; break; }; sleep 0.1; done
  [ $ok = 1 ] || { echo "port $p did not come up"; cat "$WORK"/*.err; exit 1; }
done

inflight() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^signalbox_inflight_requests[ {]/{print $NF}'; }
wait_idle() { for _ in $(seq 1 200); do [ "$(inflight "$1")" = 0 ] && return; sleep 0.05; done; echo "port $1 still busy" >&2; }
wait_applied() {  # until the applier emptied the spool (it commits every 200 ms)
  for _ in $(seq 1 100); do
    [ ! -s "$1/ledger.db.spool" ] && [ ! -e "$1/ledger.db.spool.old" ] && return
    sleep 0.05
  done
}
rows() {  # rows in SQLite plus records still in the spool
  [ -f "$1/ledger.db" ] || { echo 0; return; }
  local db spool
  db=$(sqlite3 "file:$1/ledger.db?mode=ro" "SELECT count(*) FROM attempts" 2>/dev/null || echo 0)
  spool=$(cat "$1/ledger.db.spool" "$1/ledger.db.spool.old" 2>/dev/null | wc -l)
  echo $((db + spool))
}

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    all=("disk $GW_DISK_PORT $DISK" "shm $GW_SHM_PORT $SHM" "mem $GW_MEM_PORT $WORK/unused")
    k=$((round % 3))
    targets=("${all[@]:$k}" "${all[@]:0:$k}")
    for t in "${targets[@]}"; do
      set -- $t
      name=$1; port=$2; dir=$3
      before=$(rows "$dir")
      out=$(WRK_MODEL=bench-model wrk -t2 -c"$c" -d"$DUR" --latency -s bench/wrk/chat.lua "http://127.0.0.1:$port" 2>&1)
      # Requests in flight when wrk stopped still settle: count once the gateway is idle.
      wait_idle "$port"
      wait_applied "$dir"
      after=$(rows "$dir")
      WRK_OUT="$out" python3 - "$name" "$c" "$round" "$((after - before))" >> "$RESULTS" <<'PY'
import os, sys
sys.path.insert(0, "bench")
from wrk_summary import parse
name, conns, rnd, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
w = parse(os.environ["WRK_OUT"])
rps, reqs, secs, errors = w.rps, w.requests, w.seconds, w.errors
lat = {50: w.p50_ms, 99: w.p99_ms}.get
print(f"{name}\t{conns}\t{rnd}\t{rps:.0f}\t{lat(50):.2f}\t{lat(99):.2f}\t{rows / secs:.0f}\t{rows / reqs if reqs else 0:.3f}\t{errors}")
PY
    done
  done
done

echo "ledger on disk: $DISK ($DISK_FS); on tmpfs: $SHM ($SHM_FS); $ROUNDS rounds of $DUR, wrk -t2, $(nproc) CPUs," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)${WRK_STREAM:+, streamed}"
python3 - "$RESULTS" <<'PY'
import sys, statistics as st
sys.path.insert(0, "bench")
from wrk_summary import load_rounds
by, conns = load_rounds(sys.argv[1])
print("| ledger | conns | req/s (median) | req/s (min-max) | p50 ms | p99 ms | settled rows/s | rows per request | errors | vs no ledger |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in conns:
    base = st.median(float(r[3]) for r in by[("mem", c)])
    for name in ("disk", "shm", "mem"):
        rs = by[(name, c)]
        v = [float(r[3]) for r in rs]
        rps = st.median(v)
        p50 = st.median(float(r[4]) for r in rs); p99 = st.median(float(r[5]) for r in rs)
        rows_s = st.median(float(r[6]) for r in rs); per = st.median(float(r[7]) for r in rs)
        err = sum(int(r[8]) for r in rs)
        label = {"disk": "disk", "shm": "tmpfs (/dev/shm)", "mem": "none (--no-ledger)"}[name]
        print(f"| {label} | {c} | {rps:.0f} | {min(v):.0f}-{max(v):.0f} | {p50:.2f} | {p99:.2f} | {rows_s:.0f} | {per:.3f} | {err} | {rps/base:.2f}x |")
PY
