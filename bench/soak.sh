#!/usr/bin/env bash
# Soak test of the gateway's resilience paths.
#
#   bench/soak.sh [BUILD_DIR] [REQUESTS=100000] [CONCURRENCY=64]
#
# Starts two signalbox-mock upstreams and the gateway from BUILD_DIR (default: build,
# an optimised RelWithDebInfo/Release build), then sends REQUESTS chat completions from
# CONCURRENCY connections through bench/soak_client.py: plain and streamed, most without
# a fault, the rest with a random upstream fault (500, 503, 429, reset, cut:N, stall:N,
# error-event:N, malformed:N, hang with a client timeout, a slow upstream the client gives up on)
# and random client hang-ups mid-stream. It asserts that
#   * every request got a 200 (a complete completion, or a stream ended by [DONE] or by
#     one in-band error event) or a well-formed OpenAI error — the client prints samples
#     of anything else;
#   * the gateway is still the same process afterwards;
#   * no thread or fd leak once idle: threads return to the start count (spare worker
#     threads exit after 60 s idle, so this waits up to 75 s), and fds stay within the
#     start count plus the upstream keep-alive pools (2 x CONCURRENCY);
# and reports RSS start/peak/end. Environment: TMPDIR for the scratch directory,
# SOAK_SEED (default 1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-$root/build}"
requests="${2:-100000}"
concurrency="${3:-64}"
seed="${SOAK_SEED:-1}"
gw_bin="$build/signalbox"
mock_bin="$build/tools/mock/signalbox-mock"
[[ -x "$mock_bin" ]] || mock_bin="$build/signalbox-mock"
for b in "$gw_bin" "$mock_bin"; do
  [[ -x "$b" ]] || { echo "soak: $b not found (build the signalbox and signalbox-mock targets)" >&2; exit 2; }
done
if grep -q '^CMAKE_BUILD_TYPE:STRING=Debug' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "soak: warning: $build is a Debug build; numbers will not be representative" >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/signalbox-soak-XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${SOAK_KEEP:-0}" == 1 ]]; then echo "soak: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Waits for a line matching $2 in file $1 (10 s) and prints it.
wait_line() {
  local file="$1" pattern="$2" i
  for ((i = 0; i < 200; i++)); do
    if grep -m1 -E "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "soak: timed out waiting for /$pattern/ in $file:" >&2
  cat "$file" >&2
  return 1
}

start_mock() {  # name -> prints the port
  local name="$1"
  "$mock_bin" --listen 127.0.0.1:0 --quiet --model "$name-model" --threads 512 \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  wait_line "$work/$name.out" '"listening"' | sed -E 's/.*"address":"[^"]*:([0-9]+)".*/\1/'
}

small_port="$(start_mock small)"
large_port="$(start_mock large)"

cat >"$work/config.yaml" <<EOF
server:
  listen: 127.0.0.1:0
  access_log: $work/access.log
backends:
  - name: small
    url: http://127.0.0.1:$small_port/v1
    model: small-model
    price: {input_per_mtok: 0.10, output_per_mtok: 0.30}
    timeouts: {connect: 1s, first_byte: 2s, idle: 1s, total: 30s}
    circuit: {failures: 20, cooldown: 1s}
  - name: large
    url: http://127.0.0.1:$large_port/v1
    model: large-model
    price: {input_per_mtok: 2.50, output_per_mtok: 10.00}
    timeouts: {connect: 1s, first_byte: 2s, idle: 1s, total: 30s}
    circuit: {failures: 20, cooldown: 1s}
budgets:
  ledger_path: $work/state/ledger.db
router:
  rules:
    - name: default
      route: [small, large]
EOF

SIGNALBOX_STATE_DIR="$work/state" "$gw_bin" serve --config "$work/config.yaml" --listen 127.0.0.1:0 \
  >"$work/gateway.out" 2>"$work/gateway.err" &
gw_pid=$!
pids+=("$gw_pid")
gw_port="$(wait_line "$work/gateway.err" '"msg":"listening"' | sed -E 's/.*"address":"[^"]*:([0-9]+)".*/\1/')"

threads() { ls "/proc/$gw_pid/task" | wc -l; }
fds() { ls "/proc/$gw_pid/fd" | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$gw_pid/status"; }

# Warm-up so that the "before" counts include the lazily created parts (pools, ledger).
curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/healthz"
python3 "$here/soak_client.py" --port "$gw_port" --requests 200 --concurrency 4 --seed 999 >/dev/null || true
sleep 1
threads_before="$(threads)"
fds_before="$(fds)"
rss_before="$(rss)"
echo "soak: gateway pid $gw_pid on port $gw_port; mocks $small_port, $large_port; $requests requests x $concurrency" >&2

client_rc=0
python3 "$here/soak_client.py" --port "$gw_port" --requests "$requests" --concurrency "$concurrency" \
  --seed "$seed" --pid "$gw_pid" >"$work/report.json" || client_rc=$?

alive=yes
kill -0 "$gw_pid" 2>/dev/null || alive=no
threads_after_run="$( [[ $alive == yes ]] && threads || echo 0)"
fds_after_run="$( [[ $alive == yes ]] && fds || echo 0)"

# Idle: spare worker threads exit after 60 s without work.
settle_s=0
if [[ $alive == yes ]]; then
  for ((settle_s = 0; settle_s < 75; settle_s++)); do
    (( $(threads) <= threads_before )) && break
    sleep 1
  done
fi
threads_idle="$( [[ $alive == yes ]] && threads || echo 0)"
fds_idle="$( [[ $alive == yes ]] && fds || echo 0)"
rss_idle="$( [[ $alive == yes ]] && rss || echo 0)"
fd_kinds="$( [[ $alive == yes ]] && ls -l "/proc/$gw_pid/fd" 2>/dev/null | awk 'NR>1 {sub(/:.*/, "", $NF); sub(/^\/.*/, "file", $NF); k[$NF]++} END {for (x in k) printf "%s=%d ", x, k[x]}' || true)"
upstream_requests="$(for p in "$small_port" "$large_port"; do curl -fsS "http://127.0.0.1:$p/mock/stats"; echo; done)"

python3 - "$work/report.json" "$client_rc" "$alive" "$threads_before" "$threads_after_run" "$threads_idle" "$settle_s" \
  "$fds_before" "$fds_after_run" "$fds_idle" "$rss_before" "$rss_idle" "$concurrency" "$fd_kinds" \
  "$work/access.log" "$upstream_requests" <<'PY'
import json, sys
(report_path, client_rc, alive, th_before, th_run, th_idle, settle, fd_before, fd_run, fd_idle,
 rss_before, rss_idle, conc, fd_kinds, access_path, upstream) = sys.argv[1:]
try:
    r = json.load(open(report_path))
except Exception as e:
    print("soak: no client report (%s)" % e); sys.exit(1)
th_before, th_run, th_idle, fd_before, fd_run, fd_idle, conc = map(int, (th_before, th_run, th_idle, fd_before, fd_run, fd_idle, conc))
access = [json.loads(l) for l in open(access_path) if l.strip()]
statuses = {}
no_attempt = {}
attempts = 0
for a in access:
    statuses[a.get("status")] = statuses.get(a.get("status"), 0) + 1
    attempts += a.get("attempts", 0)
    if a.get("attempts", 0) == 0:
        k = "%s %s" % (a.get("status"), a.get("error") or "")
        no_attempt[k] = no_attempt.get(k, 0) + 1
mocks = [json.loads(l) for l in upstream.splitlines() if l.strip()]
checks = [
    ("every answer well-formed", r["malformed"] == 0, "%d malformed" % r["malformed"]),
    ("gateway still running", alive == "yes", "pid alive: " + alive),
    ("threads back to start once idle", alive == "yes" and th_idle <= th_before,
     "%d before, %d after the run, %d idle after %ss" % (th_before, th_run, th_idle, settle)),
    ("fds bounded once idle", alive == "yes" and fd_idle <= fd_before + 2 * conc,
     "%d before, %d after the run, %d idle (bound %d) [%s]" % (fd_before, fd_run, fd_idle, fd_before + 2 * conc, fd_kinds.strip())),
]
rows = [
    ("requests", r["requests"]), ("concurrency", r["concurrency"]), ("elapsed (s)", r["elapsed_s"]),
    ("requests/s", r["rps"]), ("malformed answers", r["malformed"]),
    ("ok latency p50/p99/max (ms)", "%s / %s / %s" % (r["ok_latency_ms"]["p50"], r["ok_latency_ms"]["p99"], r["ok_latency_ms"]["max"])),
    ("RSS start/peak/end during run (MiB)", " / ".join("%.1f" % (v / 1024) if v else "-" for v in (r["rss_kb"]["start"], r["rss_kb"]["peak"], r["rss_kb"]["end"]))),
    ("RSS before/idle after (MiB)", "%.1f / %.1f" % (int(rss_before) / 1024, int(rss_idle or 0) / 1024)),
    ("threads before/after run/idle", "%d / %d / %d" % (th_before, th_run, th_idle)),
    ("fds before/after run/idle", "%d / %d / %d" % (fd_before, fd_run, fd_idle)),
    ("access-log lines / upstream attempts", "%d / %d" % (len(access), attempts)),
    ("upstream requests small/large", " / ".join(str(m.get("requests")) for m in mocks)),
    ("answered without an upstream attempt", ", ".join("%s: %d" % kv for kv in sorted(no_attempt.items())) or "none"),
    ("gateway statuses", ", ".join("%s: %d" % (k, v) for k, v in sorted(statuses.items(), key=lambda x: str(x[0])))),
]
w = max(len(k) for k, _ in rows)
print("\n== soak summary ==")
for k, v in rows:
    print("%-*s  %s" % (w, k, v))
print("\n== outcomes (request kind -> what the client saw) ==")
for k, v in r["outcomes"].items():
    print("%7d  %s" % (v, k))
if r["malformed_samples"]:
    print("\n== malformed samples ==")
    for s in r["malformed_samples"]:
        print("  " + s)
print("\n== checks ==")
ok = True
for name, passed, detail in checks:
    ok &= passed
    print("%-4s %-34s %s" % ("PASS" if passed else "FAIL", name, detail))
sys.exit(0 if ok else 1)
PY
