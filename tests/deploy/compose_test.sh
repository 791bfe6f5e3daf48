#!/usr/bin/env bash
# `make compose-test`: brings up deploy/docker-compose.yml's gateway and two mocks with
# podman-compose (Prometheus and Grafana need registry images, so they are left out),
# sends a chat completion with the demo key through the gateway's published port 8080 and
# checks that it was answered by a mock, stops the gateway with a 30 s timeout (exit 0,
# drain logged), then takes the stack down and removes its volumes (`down -v`). Uses the images `make image` builds (podman-compose builds only missing ones,
# and without --format docker, so build them first).
#
# podman-compose 1.0.3 ignores the top-level `name:` (the project is named after the
# directory, `deploy`) and `stop_grace_period` (hence `down -t 30`). Slow; not part of
# `make test`. Needs port 8080 free.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/image
. scripts/container-env
[ "$ENGINE" = podman ] && command -v podman-compose >/dev/null \
  || { echo "compose_test: needs podman and podman-compose (scripts/install-deps --containers)" >&2; exit 1; }
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:8080/livez; then
  echo "compose_test: port 8080 is in use" >&2; exit 1
fi

COMPOSE=(podman-compose -f deploy/docker-compose.yml)
WORK=$(mktemp -d)
# down -v: the project's volumes (deploy_ledger) go too, so each run starts fresh.
down() {
  "${COMPOSE[@]}" down -v -t 30 >"$WORK/down.log" 2>&1 || cat "$WORK/down.log" >&2
  podman network rm deploy_default >/dev/null 2>&1 || true   # refused while in use
  rm -rf "$WORK"
}
trap down EXIT
"${COMPOSE[@]}" up -d small large gateway >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; exit 1; }

# Polls up to ~30 s for the gateway to see a healthy backend (a deadline, not a timing).
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz)" = 200 ]; }
for _ in $(seq 1 300); do ready && break; sleep 0.1; done
ready || { echo "FAIL gateway not ready"; podman logs deploy_gateway_1 2>&1 | tail -20; exit 1; }

passed=0 failed=0
check() { if "${@:2}"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
curl -s -D "$WORK/h" -o "$WORK/b" http://127.0.0.1:8080/v1/chat/completions \
  -H "Authorization: Bearer ${DEMO_API_KEY:-sk-demo-key-change-me}" -H 'Content-Type: application/json' \
  -d '{"model":"auto","messages":[{"role":"user","content":"Hello!"}]}'
check "completion through the compose gateway: 200" eval 'head -n 1 "$WORK/h" | grep -q " 200"'
check "answered by the small mock (service name resolved)" grep -qi '^x-signalbox-backend: small' "$WORK/h"
check "the body has a choice" grep -q '"choices"' "$WORK/b"
curl -s -D "$WORK/h2" -o /dev/null http://127.0.0.1:8080/v1/chat/completions \
  -H 'Content-Type: application/json' -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}'
check "no key: 401" eval 'head -n 1 "$WORK/h2" | grep -q " 401"'
# SIGTERM drain (`stop -t 30`: podman-compose ignores stop_grace_period).
"${COMPOSE[@]}" stop -t 30 gateway >/dev/null 2>&1
check "stop -t 30 gateway: exit code 0" \
  eval '[ "$(podman inspect -f "{{.State.ExitCode}}" deploy_gateway_1)" = 0 ]'
check "stop: SIGTERM drain logged" \
  eval 'podman logs deploy_gateway_1 2>&1 | grep "shutting down: draining" | grep -q SIGTERM'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
