#!/usr/bin/env python3
"""The information content of bench/store's sensors dataset: a floor no lossless store can go below.

Rebuilds SensorDataset.swift's generator sample for sample (same xorshift, same draws in the same
order; the sample count printed must match vigil-bench-store's) and measures, per sample:

- the receive latency of the MQTT ("jittered") series, an i.i.d. draw the generator adds to the
  10 s grid: its empirical entropy is what any store pays for those timestamps (polled series sit
  on an exact grid and cost next to nothing);
- the change of each quantized value from the previous one, per kind, as order-0 entropy and as
  order-1 entropy (conditioned on the previous change), the better of which a real coder could
  approach only with a perfect model of the generator and no per-chunk or per-series cost.

    python3 bench/store/entropy_floor.py [SERIES] [HOURS]      # default 1000 24, about a minute
"""
import collections
import math
import sys

MASK = (1 << 64) - 1
KINDS = ["temperature", "humidity", "power", "energy", "state", "latitude"]
SCALE = {"temperature": 10, "humidity": 2, "power": 1000, "energy": 1000, "state": 1, "latitude": 1_000_000}


class Xorshift:
    def __init__(self, seed):
        self.state = ((seed * 0x9E3779B97F4A7C15) & MASK) | 1

    def next(self):
        x = self.state
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        self.state = x
        return x

    def uniform(self):
        return (self.next() >> 11) / float(1 << 53)

    def gaussian(self):
        u1 = max(self.uniform(), 5e-324)
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * self.uniform())


def initial(kind, r):
    return {"temperature": lambda: 15 + r.uniform() * 60, "humidity": lambda: 30 + r.uniform() * 40,
            "power": lambda: 0.5 + r.uniform() * 3, "energy": lambda: r.uniform() * 100_000,
            "state": lambda: 0.0, "latitude": lambda: 48 + r.uniform()}[kind]()


def step(kind, v, r):
    if kind == "temperature": return v + r.gaussian() * 0.08
    if kind == "humidity": return min(95, max(5, v + r.gaussian() * 0.4))
    if kind == "power": return max(0, v + r.gaussian() * 0.01)
    if kind == "energy": return v + r.uniform() * 0.02
    if kind == "state": return 1 - v if r.uniform() < 0.002 else v
    return v + r.gaussian() * 0.00002


def entropy(counter):
    n = sum(counter.values())
    return -sum(c * math.log2(c / n) for c in counter.values())


def main():
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    hours = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    latency = collections.Counter()
    changes = {k: collections.Counter() for k in KINDS}
    pairs = {k: collections.Counter() for k in KINDS}
    samples = 0
    for index in range(series):
        r = Xorshift(index + 1)
        kind = KINDS[index % len(KINDS)]
        jittered = (index // len(KINDS)) % 2 == 0
        level = initial(kind, r)
        gap, previous, previous_change = 0, None, None
        for _ in range(hours * 360):
            if gap > 0:
                gap -= 1
                continue
            if r.uniform() < 0.0005:
                gap = r.next() % 60
            late = abs(r.gaussian()) * 8 + (r.uniform() * 300 if r.uniform() < 0.02 else 0)
            if jittered:
                latency[int(late)] += 1
            level = step(kind, level, r)
            quantized = round(level * SCALE[kind])
            if previous is not None:
                change = quantized - previous
                changes[kind][change] += 1
                pairs[kind][(previous_change, change)] += 1
                previous_change = change
            previous = quantized
            samples += 1
    timestamp_bits = entropy(latency)
    print(f"samples {samples}, of which {sum(latency.values())} stamped on receipt")
    print(f"  receive latency: {timestamp_bits / max(1, sum(latency.values())):.3f} bits per jittered sample")
    value_bits = 0.0
    for kind in KINDS:
        n = sum(changes[kind].values())
        order0 = entropy(changes[kind])
        firsts = collections.Counter()
        for (first, _), count in pairs[kind].items():
            firsts[first] += count
        order1 = entropy(pairs[kind]) - entropy(firsts)
        print(f"  {kind:12} change: order-0 {order0 / n:.3f}, order-1 {order1 / n:.3f} bits per sample")
        value_bits += min(order0, order1)
    floor = (timestamp_bits + value_bits) / 8 / samples
    print(f"floor: {floor:.4f} bytes per sample (timestamps {timestamp_bits / 8 / samples:.4f}, values {value_bits / 8 / samples:.4f})")


if __name__ == "__main__":
    main()
