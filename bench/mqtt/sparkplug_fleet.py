#!/usr/bin/env python3
"""A Sparkplug B fleet for bench/mqtt/sustained.sh: one edge node with DEVICES devices, each
publishing a DDATA with METRICS Float metrics by alias once a second, for SECONDS seconds, with
proper births, seq numbers and a bdSeq (paho-mqtt and the protobuf types from pysparkplug, in the
test venv). Values move like sensors: a slow random walk with two decimals.

    sparkplug_fleet.py PORT DEVICES METRICS SECONDS

Prints one line per second that fell behind (it never does on loopback at 2 500 devices) and,
at the end, how many DDATA it sent.
"""
import random
import sys
import time

import paho.mqtt.client as mqtt
from pysparkplug._protobuf import sparkplug_b_pb2 as pb

NAMES = ["temperature", "pressure", "flow", "power", "level", "speed", "current", "voltage"]
UNITS = ["°C", "bar", "l/min", "kW", "%", "rpm", "A", "V"]


def main():
    port, devices, metrics, seconds = (int(a) for a in sys.argv[1:5])
    client = mqtt.Client(client_id="bench-fleet", clean_session=True)
    death = pb.Payload(timestamp=int(time.time() * 1000))
    death.metrics.add(name="bdSeq", datatype=4, long_value=0)
    client.will_set("spBv1.0/bench/NDEATH/fleet", death.SerializeToString(), qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    seq = 0

    def next_seq():
        nonlocal seq
        value = seq
        seq = (seq + 1) % 256
        return value

    birth = pb.Payload(timestamp=int(time.time() * 1000), seq=next_seq())
    birth.metrics.add(name="bdSeq", datatype=4, long_value=0)
    client.publish("spBv1.0/bench/NBIRTH/fleet", birth.SerializeToString(), qos=0)
    values = [[random.uniform(10, 90) for _ in range(metrics)] for _ in range(devices)]
    for d in range(devices):
        dbirth = pb.Payload(timestamp=int(time.time() * 1000), seq=next_seq())
        for m in range(metrics):
            metric = dbirth.metrics.add(name=NAMES[m % len(NAMES)] + ("" if m < len(NAMES) else str(m)),
                                        alias=m + 1, datatype=9, float_value=round(values[d][m], 2))
            metric.properties.keys.append("engUnit")
            metric.properties.values.add(type=12, string_value=UNITS[m % len(UNITS)])
        client.publish(f"spBv1.0/bench/DBIRTH/fleet/dev-{d:05d}", dbirth.SerializeToString(), qos=0)
    sent = 0
    start = time.monotonic()
    for second in range(seconds):
        now_ms = int(time.time() * 1000)
        for d in range(devices):
            payload = pb.Payload(timestamp=now_ms, seq=next_seq())
            for m in range(metrics):
                values[d][m] += random.uniform(-0.5, 0.5)
                payload.metrics.add(alias=m + 1, float_value=round(values[d][m], 2))
            client.publish(f"spBv1.0/bench/DDATA/fleet/dev-{d:05d}", payload.SerializeToString(), qos=0)
            sent += 1
        behind = time.monotonic() - (start + second + 1)
        if behind > 0:
            print(f"second {second}: {behind:.2f} s behind", flush=True)
        else:
            time.sleep(-behind)
    client.loop_stop()
    client.disconnect()
    print(f"sent {sent} DDATA", flush=True)


if __name__ == "__main__":
    main()
