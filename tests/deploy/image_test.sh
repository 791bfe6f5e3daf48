#!/usr/bin/env bash
# `make image-test`: builds the container images (scripts/image) and runs them the way a
# user would, checking what the static tests in tests/deploy/*.cc cannot:
#
#   - the gateway image starts with its shipped config and answers /livez;
#   - chat completions through mock containers: a short prompt routed to `small`, a
#     "prove ... step by step" prompt to `large`, a stream ending in [DONE];
#   - it runs as UID 10001 with a read-only root filesystem (writable: the state volume);
#   - the image's HEALTHCHECK command passes (podman healthcheck run);
#   - `stop -t 30` sends SIGTERM, an in-flight stream still completes, the gateway logs
#     its drain and exits 0.
#
# Layout: three containers share one network namespace (as a pod does): the `small` mock
# owns it and publishes the gateway's port on a free 127.0.0.1 port; the `large` mock and
# the gateway join it, so the image's own config (mocks on 127.0.0.1:8001 and :8002)
# works unchanged. Nothing here is timed; every wait polls with a deadline.
#
# Slow (a cold image build takes minutes), so not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
GATEWAY_IMAGE=${GATEWAY_IMAGE:-signalbox:dev}
MOCK_IMAGE=${MOCK_IMAGE:-signalbox-mock:dev}

./scripts/image
. scripts/container-env
E=$ENGINE

P=sbx-imgtest-$$
SMALL=$P-small LARGE=$P-large GW=$P-gateway VOL=$P-state
WORK=$(mktemp -d)
passed=0 failed=0
cleanup() {
  # One at a time, joiners first: the namespace owner cannot go while they exist.
  for c in "$GW" "$LARGE" "$SMALL"; do $E rm -f "$c" >/dev/null 2>&1 || true; done
  $E volume rm -f "$VOL" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

check() {  # check NAME COMMAND...
  if "${@:2}"; then
    echo "ok   $1"; passed=$((passed + 1))
  else
    echo "FAIL $1"; failed=$((failed + 1))
  fi
}
die() {
  echo "FAIL $*"
  echo "--- gateway logs"; $E logs "$GW" 2>&1 | tail -30 || true
  echo "$passed passed, $((failed + 1)) failed"
  exit 1
}

# Polls COMMAND up to N times (~N/10 s); a deadline, not a timing assertion.
poll() {  # poll N COMMAND...
  local n=$1; shift
  for _ in $(seq 1 "$n"); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}
running() { [ "$($E inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# --- start: small mock (owns the network namespace), large mock, gateway
$E run -d --name "$SMALL" -p 127.0.0.1::8080 --read-only "$MOCK_IMAGE" \
  --listen 0.0.0.0:8001 --model qwen2.5-7b-instruct --quiet >/dev/null
# The large model streams for about two seconds: long enough to be in flight at the stop.
$E run -d --name "$LARGE" --network "container:$SMALL" --read-only "$MOCK_IMAGE" \
  --listen 127.0.0.1:8002 --model gpt-4o --tokens 40 --token-interval 50 --quiet >/dev/null
$E volume create "$VOL" >/dev/null
# (podman without systemd says it cannot schedule the HEALTHCHECK; it is run by hand below.)
$E run -d --name "$GW" --network "container:$SMALL" --read-only --tmpfs /tmp \
  -v "$VOL:/var/lib/signalbox" "$GATEWAY_IMAGE" >/dev/null 2> >(grep -v 'systemd connection' >&2)

HOSTPORT=$($E port "$SMALL" 8080/tcp | head -n 1)
HOSTPORT=${HOSTPORT/0.0.0.0/127.0.0.1}
URL="http://$HOSTPORT"
livez() { running "$GW" && [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/livez")" = 200 ]; }
poll 300 livez || die "gateway did not answer $URL/livez"
echo "ok   gateway answers /livez on $URL"; passed=$((passed + 1))

# --- completions through the mocks
chat() {  # chat OUT PROMPT [stream]
  curl -s -D "$WORK/$1.h" -o "$WORK/$1.b" "$URL/v1/chat/completions" \
    -H 'Content-Type: application/json' \
    -d "{\"model\":\"auto\",\"stream\":${3:-false},\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}
has_status_200() { head -n 1 "$WORK/$1.h" | grep -q ' 200'; }
backend_is() { grep -qi "^x-signalbox-backend: $2" "$WORK/$1.h"; }
chat small 'Hello!'
check "short prompt: 200 from backend small" eval 'has_status_200 small && backend_is small small'
check "short prompt: the body has a choice" grep -q '"choices"' "$WORK/small.b"
chat large 'Prove that sqrt(2) is irrational. Reason step by step and justify each step of the proof.'
check "proof prompt: 200 from backend large" eval 'has_status_200 large && backend_is large large'
chat stream 'Hello!' true
check "stream: ends with data: [DONE]" eval '[ "$(grep "^data:" "$WORK/stream.b" | tail -n 1 | tr -d "\r")" = "data: [DONE]" ]'

# --- user, read-only root, writable state, healthcheck
check "runs as UID 10001 (PID 1)" eval '[ "$($E exec "$GW" awk "/^Uid:/{print \$2}" /proc/1/status)" = 10001 ]'
check "root filesystem is read-only (inspect)" \
  eval '[ "$($E inspect -f "{{.HostConfig.ReadonlyRootfs}}" "$GW")" = true ]'
check "root filesystem is read-only (a write fails)" \
  eval '! $E exec "$GW" touch /usr/local/bin/x 2>/dev/null'
check "state volume /var/lib/signalbox is writable" $E exec "$GW" touch /var/lib/signalbox/.probe
if [ "$E" = podman ]; then
  check "HEALTHCHECK passes (podman healthcheck run)" eval '$E healthcheck run "$GW" >/dev/null'
fi

# --- SIGTERM drain: a stream in flight at the stop still completes
curl -sN -o "$WORK/drain.b" "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Write a long proof."}]}' &
curl_pid=$!
first_chunk() { grep -q '^data: {' "$WORK/drain.b" 2>/dev/null; }
poll 300 first_chunk || die "the drain test's stream never started"
$E stop -t 30 "$GW" >/dev/null
curl_rc=0; wait "$curl_pid" || curl_rc=$?
$E logs "$GW" >"$WORK/gw.log" 2>&1
check "stop: exit code 0" eval '[ "$($E inspect -f "{{.State.ExitCode}}" "$GW")" = 0 ]'
check "stop: SIGTERM drain logged" eval 'grep "shutting down: draining in-flight requests" "$WORK/gw.log" | grep -q SIGTERM'
check "stop: 'stopped' logged" grep -q '"stopped"\|stopped' "$WORK/gw.log"
check "stop: the in-flight stream completed with [DONE]" \
  eval '[ "$curl_rc" = 0 ] && [ "$(grep "^data:" "$WORK/drain.b" | tail -n 1 | tr -d "\r")" = "data: [DONE]" ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
