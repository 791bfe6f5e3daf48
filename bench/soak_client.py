#!/usr/bin/env python3
"""Soak client for bench/soak.sh (Python 3 standard library only).

Sends REQUESTS chat completions to the gateway from CONCURRENCY threads, each request
plain or streamed with a random upstream fault (x-mock-fault, reaching every backend)
or none, some with a short client timeout or an early hang-up, and checks every answer:

  * plain 200: a chat.completion JSON body;
  * stream 200: text/event-stream, every data event JSON or [DONE], ended cleanly
    (chunked end), either [DONE] last with no error event, or one error event last with
    no [DONE]; the content is a prefix of the expected text (no duplicated content),
    and the whole text when the stream finished with [DONE];
  * any other status: 4xx/5xx, application/json, OpenAI's error shape;
  * a client timeout or hang-up that the request asked for is fine; any other
    transport error is a failure.

While it runs it samples the gateway's RSS (/proc/PID/status). Prints a JSON report on
stdout; exit code 0 when no answer was malformed, 1 otherwise.
"""
import argparse
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

# (fault, weight, applies_to) -- weights out of the total; applies_to: "any", "stream".
# 429 is also rate limited in time (RATE_LIMIT_EVERY_S): one upstream 429 parks both
# backends for its retry-after (1 s at least), during which the gateway answers 429
# itself without calling upstream; more often and the soak would measure little else.
FAULTS = [
    ("none", 8200, "any"),
    ("500", 350, "any"),
    ("503", 150, "any"),
    ("429:1", 100, "any"),
    ("reset", 300, "any"),
    ("cut", 300, "any"),        # cut:N, N random
    ("stall", 150, "any"),      # stall:N, N random (ends by the gateway's idle timeout)
    ("error-event", 100, "stream"),  # error-event:N
    ("malformed", 50, "stream"),  # malformed:N (a broken JSON event, then [DONE])
    ("hang", 150, "any"),       # with a client timeout below the gateway's first_byte
    ("slow-client-gone", 100, "any"),  # latency upstream, client gives up first
]
STREAM_SHARE = 0.5
HANGUP_SHARE = 0.03  # streams that hang up after a few events
RATE_LIMIT_EVERY_S = 10.0
_rl_lock = threading.Lock()
_rl_last = [time.monotonic()]  # the first 429 comes after RATE_LIMIT_EVERY_S


def rate_limit_allowed():
    now = time.monotonic()
    with _rl_lock:
        if now - _rl_last[0] < RATE_LIMIT_EVERY_S:
            return False
        _rl_last[0] = now
        return True


def expected_text(n):
    return " ".join("tok%d" % i for i in range(1, n + 1))


def is_error_shape(doc):
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), dict):
        return False
    e = doc["error"]
    return (isinstance(e.get("message"), str) and isinstance(e.get("type"), str)
            and ("param" in e and (e["param"] is None or isinstance(e["param"], str)))
            and ("code" in e and (e["code"] is None or isinstance(e["code"], str))))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.bad = []
        self.bad_total = 0
        self.latency_ok_ms = []

    def add(self, key, bad_detail=None):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if bad_detail is not None:
                self.bad_total += 1
                if len(self.bad) < 20:
                    self.bad.append(bad_detail)


def plan(rng):
    stream = rng.random() < STREAM_SHARE
    total = sum(w for _, w, a in FAULTS if a == "any" or stream)
    x = rng.uniform(0, total)
    for name, w, applies in FAULTS:
        if applies == "stream" and not stream:
            continue
        x -= w
        if x <= 0:
            break
    tokens = rng.randint(1, 24)
    headers = {"x-mock-tokens": str(tokens)}
    timeout = 15.0
    expect_client_timeout = False
    hangup_after = None
    if name == "429:1" and not rate_limit_allowed():
        name = "500"
    fault = name
    if name in ("cut", "stall", "error-event", "malformed"):
        fault = "%s:%d" % (name, rng.randint(0, tokens))
    if name == "hang":
        timeout = rng.uniform(0.3, 1.2)
        expect_client_timeout = True
    if name == "slow-client-gone":
        fault = "none"
        headers["x-mock-latency-ms"] = "1500"
        timeout = rng.uniform(0.2, 0.8)
        expect_client_timeout = True
    if fault != "none":
        headers["x-mock-fault"] = fault
    if stream and name == "none" and rng.random() < HANGUP_SHARE:
        hangup_after = rng.randint(1, 3)
        headers["x-mock-token-interval-ms"] = "5"
    return dict(stream=stream, kind=name, fault=fault, tokens=tokens, headers=headers,
                timeout=timeout, expect_client_timeout=expect_client_timeout,
                hangup_after=hangup_after)


def body_for(p, i):
    doc = {"model": "auto", "messages": [{"role": "user", "content": "soak request %d" % i}]}
    if p["stream"]:
        doc["stream"] = True
    return json.dumps(doc).encode()


def check_stream(resp, p):
    """Reads an SSE response; returns (category, problem or None)."""
    buf = b""
    events = []
    hung_up = False
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            text = block.decode("utf-8", "replace")
            if text.startswith(":"):
                continue  # heartbeat comment
            lines = [l[6:] if l.startswith("data: ") else None for l in text.split("\n")]
            if any(l is None for l in lines):
                return "stream_bad", "non-data line in event: %r" % text[:200]
            events.append("\n".join(lines))
            if p["hangup_after"] is not None and len(events) >= p["hangup_after"]:
                hung_up = True
                break
        if hung_up:
            break
    if hung_up:
        return "client_hangup", None
    if buf.strip():
        return "stream_bad", "trailing bytes without event end: %r" % buf[:200]
    if not events:
        return "stream_bad", "200 stream without any event"
    content = ""
    for idx, ev in enumerate(events):
        last = idx == len(events) - 1
        if ev == "[DONE]":
            if not last:
                return "stream_bad", "[DONE] is not the last event"
            continue
        try:
            doc = json.loads(ev)
        except ValueError:
            return "stream_bad", "event is not JSON: %r" % ev[:200]
        if isinstance(doc, dict) and "error" in doc:
            if not last:
                return "stream_bad", "events after an error event"
            if not is_error_shape(doc):
                return "stream_bad", "error event without OpenAI's shape: %r" % ev[:200]
            continue
        choices = doc.get("choices") if isinstance(doc, dict) else None
        if not isinstance(choices, list) or not choices:
            return "stream_bad", "chunk without choices (usage chunk not asked for?): %r" % ev[:200]
        delta = choices[0].get("delta") or {}
        if isinstance(delta.get("content"), str):
            content += delta["content"]
    want = expected_text(p["tokens"])
    if not want.startswith(content):
        return "stream_bad", "content %r is not a prefix of %r (duplicated?)" % (content[:80], want[:80])
    if events[-1] == "[DONE]":
        if content != want:
            return "stream_bad", "finished stream with incomplete content %r" % content[:80]
        return "stream_done", None
    return "stream_error_event", None


def one(conn_holder, base, p, i, stats):
    host, port = base
    conn = conn_holder.get("conn")
    if conn is None:
        conn = http.client.HTTPConnection(host, port, timeout=p["timeout"])
        conn_holder["conn"] = conn
    conn.timeout = p["timeout"]
    if conn.sock is not None:
        conn.sock.settimeout(p["timeout"])
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(p["headers"])
    tag = ("stream" if p["stream"] else "plain") + ":" + p["kind"]
    t0 = time.monotonic()
    try:
        conn.request("POST", "/v1/chat/completions", body=body_for(p, i), headers=hdrs)
        resp = conn.getresponse()
        ctype = resp.getheader("Content-Type", "")
        if resp.status == 200 and p["stream"] and ctype == "text/event-stream":
            cat, problem = check_stream(resp, p)
            if cat == "client_hangup":
                conn.close()
                conn_holder["conn"] = None
        else:
            raw = resp.read()
            cat, problem = "plain_200", None
            if resp.status == 200:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                if p["stream"]:
                    cat, problem = "bad_200", "stream request answered 200 with %r" % ctype
                elif not isinstance(doc, dict) or doc.get("object") != "chat.completion" or not doc.get("choices"):
                    cat, problem = "bad_200", "200 body is not a completion: %r" % raw[:200]
            else:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                cat = "error_%d" % resp.status
                if not (400 <= resp.status <= 599) or not ctype.startswith("application/json") or not is_error_shape(doc):
                    problem = "malformed error %d %r: %r" % (resp.status, ctype, raw[:200])
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_holder["conn"] = None
        if problem is None and cat in ("plain_200", "stream_done"):
            with stats.lock:
                stats.latency_ok_ms.append((time.monotonic() - t0) * 1000)
        stats.add(tag + " -> " + cat, None if problem is None else "%s #%d: %s" % (tag, i, problem))
    except (socket.timeout, TimeoutError) as e:
        conn.close()
        conn_holder["conn"] = None
        if p["expect_client_timeout"]:
            stats.add(tag + " -> client_timeout")
        else:
            stats.add(tag + " -> unexpected_timeout", "%s #%d: timeout after %.1fs" % (tag, i, time.monotonic() - t0))
    except (http.client.HTTPException, OSError) as e:
        conn.close()
        conn_holder["conn"] = None
        stats.add(tag + " -> transport_error", "%s #%d: %s: %s" % (tag, i, type(e).__name__, e))


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pid", type=int, default=0, help="gateway pid, for RSS samples")
    args = ap.parse_args()

    stats = Stats()
    lock = threading.Lock()
    next_i = [0]
    rss = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            v = rss_kb(args.pid) if args.pid else None
            if v is not None:
                rss.append(v)
            stop.wait(0.5)

    def worker(wid):
        rng = random.Random(args.seed * 1000003 + wid)
        holder = {"conn": None}
        while True:
            with lock:
                i = next_i[0]
                if i >= args.requests:
                    break
                next_i[0] += 1
            one(holder, (args.host, args.port), plan(rng), i, stats)
            if i and i % 5000 == 0:
                print("soak: %d requests sent" % i, file=sys.stderr, flush=True)
        if holder["conn"] is not None:
            holder["conn"].close()

    st = threading.Thread(target=sampler, daemon=True)
    st.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    stop.set()
    st.join()
    lat = sorted(stats.latency_ok_ms)

    def pct(q):
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

    report = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "elapsed_s": round(elapsed, 1),
        "rps": round(args.requests / elapsed, 1) if elapsed > 0 else None,
        "malformed": stats.bad_total,
        "malformed_samples": stats.bad,
        "outcomes": dict(sorted(stats.counts.items())),
        "ok_latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": round(lat[-1], 1) if lat else None},
        "rss_kb": {"start": rss[0] if rss else None, "peak": max(rss) if rss else None,
                   "end": rss[-1] if rss else None, "samples": len(rss)},
    }
    print(json.dumps(report, indent=1))
    return 0 if stats.bad_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
