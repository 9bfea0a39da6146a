#!/usr/bin/env python3
"""Prints one JSON reading per line at a steady rate (for mosquitto_pub -l): {"t": <ms>, "v": <n>}.

    bench/live/publish.py RATE SECONDS | mosquitto_pub -l -t bench/line -q 0
"""
import json
import sys
import time

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
start = time.time()
n = 0
while True:
    due = start + n / rate
    now = time.time()
    if now - start > seconds:
        break
    if due > now:
        time.sleep(due - now)
    sys.stdout.write(json.dumps({"t": int(due * 1000), "v": n % 1000}) + "\n")
    sys.stdout.flush()
    n += 1
