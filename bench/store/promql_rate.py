#!/usr/bin/python3
"""Times the same PromQL range query against Vigil and Prometheus holding the same samples.

    promql_rate.py VIGIL_URL TOKEN PROMETHEUS_URL QUERY START END STEP [RUNS]

Prints the median and best wall time of RUNS (default 7) runs for each, after one warm-up run,
their ratio, and whether the answers agree (same series, same timestamps, values within 1e-6
relative): a fast wrong answer is not a result.
"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

vigil, token, prometheus, query, start, end, step = sys.argv[1:8]
runs = int(sys.argv[8]) if len(sys.argv) > 8 else 7


def fetch(base, headers):
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    request = urllib.request.Request(base + "/api/v1/query_range?" + params, headers=headers)
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        sys.exit(f"{base}: HTTP {error.code}: {error.read()[:500]!r}")
    return time.perf_counter() - began, json.loads(body)


def timed(base, headers):
    fetch(base, headers)  # warm-up: page cache, the server's own caches
    times, answer = [], None
    for _ in range(runs):
        seconds, answer = fetch(base, headers)
        times.append(seconds)
    return times, answer


def series(answer):
    out = {}
    for result in answer["data"]["result"]:
        key = tuple(sorted((k, v) for k, v in result["metric"].items() if k != "__name__"))
        out[key] = [(float(t), float(v)) for t, v in result["values"]]
    return out


ours_times, ours = timed(vigil, {"Authorization": "Bearer " + token})
theirs_times, theirs = timed(prometheus, {})
a, b = series(ours), series(theirs)
mismatches = 0
for key in set(a) | set(b):
    x, y = a.get(key, []), b.get(key, [])
    if len(x) != len(y) or any(p[0] != q[0] or abs(p[1] - q[1]) > 1e-6 * max(1, abs(q[1])) for p, q in zip(x, y)):
        mismatches += 1
points = sum(len(v) for v in a.values())
print(f"query {query} over {len(a)} series, {points} points")
print(f"  Vigil      median {statistics.median(ours_times) * 1000:8.1f} ms   best {min(ours_times) * 1000:8.1f} ms")
print(f"  Prometheus median {statistics.median(theirs_times) * 1000:8.1f} ms   best {min(theirs_times) * 1000:8.1f} ms")
print(f"  Vigil / Prometheus (median): {statistics.median(ours_times) / statistics.median(theirs_times):.2f}")
print(f"  answers agree: {'yes' if mismatches == 0 else f'NO, {mismatches} of {len(set(a) | set(b))} series differ'}")
