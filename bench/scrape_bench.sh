#!/usr/bin/env bash
# Does scraping /metrics slow the gateway down? wrk load (bench/wrk/chat.lua, non-streaming
# chat through the gateway to signalbox-mock) with no scraper, with a scraper hitting
# /metrics every second (Prometheus-like) and every 50 ms (a hard case), in alternating
# rounds. Prints a markdown table: requests/s and p99 latency per mode (median over the
# rounds), their ratio to the no-scraper rounds, the gateway's CPU per request, and what
# the scraper saw (scrapes, exposition size, scrape latency).
#
#   bench/scrape_bench.sh [BUILD_DIR=build-release] [DURATION=10s] [ROUNDS=3] [CONNS=64]
#
# The gateway is configured with 8 backends and 8 keys (all on one mock) so that the
# exposition has a few hundred series, as a real deployment would; the load itself goes
# through one route and one key.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
DUR=${2:-10s}
ROUNDS=${3:-3}
CONNS=${4:-64}
MOCK_PORT=${MOCK_PORT:-19011}
GW_PORT=${GW_PORT:-19013}
for t in wrk python3 curl; do command -v $t >/dev/null || { echo "missing $t (scripts/install-deps)"; exit 1; }; done
[ -x "$BUILD/signalbox" ] || { echo "build first: make release (or pass a build dir)"; exit 1; }

WORK=$(mktemp -d /tmp/signalbox-scrape-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BUILD/tools/mock/signalbox-mock" --listen 127.0.0.1:$MOCK_PORT --model bench-model --threads 600 --quiet >/dev/null &
pids+=($!)

KEY=sk-bench-key-0000
{
  cat <<YAML
server:
  listen: 127.0.0.1:$GW_PORT
  access_log: $WORK/access.log
backends:
YAML
  for i in 0 1 2 3 4 5 6 7; do
    cat <<YAML
  - name: b$i
    url: http://127.0.0.1:$MOCK_PORT/v1
    model: bench-model
    price: {input_per_mtok: 0.1, output_per_mtok: 0.3}
    max_concurrency: 100000
YAML
  done
  cat <<YAML
budgets:
  ledger_path: $WORK/ledger.db
  keys:
YAML
  for i in 0 1 2 3 4 5 6 7; do
    printf '    - id: key%d\n      key: sk-bench-key-000%d\n' "$i" "$i"
  done
  cat <<YAML
router:
  rules:
    - name: tools
      when: {has_tools: true}
      route: [b1, b0]
    - name: default
      route: [b0, b1]
YAML
} > "$WORK/signalbox.yaml"
"$BUILD/signalbox" serve --config "$WORK/signalbox.yaml" 2>"$WORK/gw.err" &
GW_PID=$!
pids+=($GW_PID)

for p in $MOCK_PORT $GW_PORT; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/v1/models" -H "Authorization: Bearer $KEY" && break; sleep 0.1; done
done
curl -sf -o /dev/null "http://127.0.0.1:$GW_PORT/metrics" || { echo "gateway did not start:"; cat "$WORK/gw.err"; exit 1; }

# The scraper: one keep-alive connection, GET /metrics every INTERVAL seconds until
# killed; writes "scrapes bytes p50_ms p99_ms max_ms" to its output file on SIGTERM.
cat > "$WORK/scraper.py" <<'PY'
import http.client, signal, sys, time
port, interval, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
lat, size = [], 0
def done(*_):
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    open(out, "w").write(f"{len(lat)} {size} {q(0.5):.3f} {q(0.99):.3f} {(lat[-1]*1000 if lat else float('nan')):.3f}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
next_at = time.monotonic()
while True:
    t0 = time.monotonic()
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read()
        size = len(body)
        lat.append(time.monotonic() - t0)
    except Exception:
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    next_at += interval
    time.sleep(max(0.0, next_at - time.monotonic()))
PY

cpu_ticks() { awk '{print $14+$15}' /proc/$GW_PID/stat; }
HZ=$(getconf CLK_TCK)
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
# Warm-up: series created, connections pooled.
WRK_KEY=$KEY WRK_MODEL=auto wrk -t2 -c"$CONNS" -d2s -s bench/wrk/chat.lua "http://127.0.0.1:$GW_PORT" >/dev/null 2>&1

for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order every round so drift on a shared machine favours no mode.
  case $((round % 3)) in
    1) modes=(none 1s 50ms) ;;
    2) modes=(50ms none 1s) ;;
    0) modes=(1s 50ms none) ;;
  esac
  for mode in "${modes[@]}"; do
    scraper=""
    stats="$WORK/scrape-$mode-$round"
    case $mode in
      1s) python3 "$WORK/scraper.py" $GW_PORT 1 "$stats" & scraper=$! ;;
      50ms) python3 "$WORK/scraper.py" $GW_PORT 0.05 "$stats" & scraper=$! ;;
    esac
    before=$(cpu_ticks)
    out=$(WRK_KEY=$KEY WRK_MODEL=auto wrk -t2 -c"$CONNS" -d"$DUR" --latency -s bench/wrk/chat.lua "http://127.0.0.1:$GW_PORT" 2>&1)
    after=$(cpu_ticks)
    if [ -n "$scraper" ]; then
      kill -TERM "$scraper"; wait "$scraper" 2>/dev/null || true
    else
      echo "0 0 nan nan nan" > "$stats"
    fi
    WRK_OUT="$out" python3 - "$mode" "$round" "$((after - before))" "$HZ" "$(cat "$stats")" >> "$RESULTS" <<'PY'
import os, sys
sys.path.insert(0, "bench")
from wrk_summary import parse
mode, rnd, ticks, hz, scr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
w = parse(os.environ["WRK_OUT"])
rps, reqs, errors = w.rps, w.requests, w.errors
lat = {50: w.p50_ms, 99: w.p99_ms}.get
cpu_us = ticks * 1e6 / hz / reqs if reqs else float("nan")
print("\t".join([mode, rnd, f"{rps:.0f}", f"{lat(50):.2f}", f"{lat(99):.2f}", str(errors), f"{cpu_us:.1f}"] + scr.split()))
PY
    tail -n 1 "$RESULTS" >&2
  done
done

# The cost of one scrape on its own: an otherwise idle gateway, one connection asking
# /metrics back to back; the gateway's CPU time per scrape.
before=$(cpu_ticks)
sout=$(wrk -t1 -c1 -d3s --latency "http://127.0.0.1:$GW_PORT/metrics" 2>&1)
after=$(cpu_ticks)
SCRAPE_SUMMARY=$(WRK_OUT="$sout" python3 - "$((after - before))" "$HZ" <<'PY'
import os, re, sys
ticks, hz = int(sys.argv[1]), int(sys.argv[2])
out = os.environ["WRK_OUT"]
n = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"/metrics alone on an idle gateway: {rps:.0f} scrapes/s on one connection, "
      f"gateway CPU {ticks * 1e6 / hz / n:.0f} µs per scrape (incl. HTTP)")
PY
)

echo
echo "gateway: $BUILD/signalbox, wrk -t2 -c$CONNS -d$DUR, $ROUNDS rounds, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$SCRAPE_SUMMARY"
python3 - "$RESULTS" <<'PY'
import sys, statistics as st, collections
rows = [l.split("\t") for l in open(sys.argv[1]).read().strip().splitlines()]
by = collections.defaultdict(list)
for r in rows: by[r[0]].append(r)
med = lambda mode, i: st.median(float(r[i]) for r in by[mode])
base_rps, base_p99 = med("none", 2), med("none", 4)
print("| scraper | req/s (median) | p50 ms | p99 ms | errors | gateway CPU µs/req | req/s vs none | p99 vs none | scrapes/round | exposition bytes | scrape p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for mode in ("none", "1s", "50ms"):
    if mode not in by: continue
    rps, p50, p99 = med(mode, 2), med(mode, 3), med(mode, 4)
    err = sum(int(r[5]) for r in by[mode]); cpu = med(mode, 6)
    scrapes = med(mode, 7); size = max(int(r[8]) for r in by[mode])
    sp99 = "-" if mode == "none" else f"{med(mode, 10):.2f}"
    print(f"| {mode} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {err} | {cpu:.0f} | {rps/base_rps:.3f} | {p99/base_p99:.3f} | {scrapes:.0f} | {size if size else '-'} | {sp99} |")
print()
print("per round (mode, round, req/s, p99 ms):", ", ".join(f"{r[0]}/{r[1]}: {r[2]} {r[4]}" for r in rows))
PY
