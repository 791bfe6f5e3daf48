"""Parses wrk's text output (with --latency) for the bench scripts.

    from wrk_summary import parse      # with bench/ on sys.path
    w = parse(output)                  # w.rps, w.requests, w.seconds, w.p50_ms, ...
"""
import re
from dataclasses import dataclass

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class WrkSummary:
    rps: float
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-2xx/3xx answers plus socket errors


def _latency(out, pct):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % pct, out)
    return float(m.group(1)) * _UNIT_MS[m.group(2)] if m else float("nan")


def parse(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    requests = int(m.group(1))
    seconds = float(m.group(2)) * _UNIT_MS[m.group(3)] / 1000.0
    mx = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    max_ms = float(mx.group(1)) * _UNIT_MS[mx.group(2)] if mx else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return WrkSummary(rps, requests, seconds, _latency(out, 50), _latency(out, 99), max_ms, errors)


def load_rounds(path):
    """Reads a results file of tab-separated rounds (target, conns, round, ...): returns
    the rows grouped by (target, conns) and the sorted connection counts."""
    import collections
    rows = [l.split("\t") for l in open(path).read().strip().splitlines()]
    by = collections.defaultdict(list)
    for r in rows:
        by[(r[0], int(r[1]))].append(r)
    return by, sorted({int(r[1]) for r in rows})
