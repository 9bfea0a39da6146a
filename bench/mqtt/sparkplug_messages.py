#!/usr/bin/env python3
"""Sparkplug B messages for bench/mqtt: an NBIRTH, a DBIRTH per device (4 metrics with aliases,
datatypes and engUnit), and DDATA lines by alias (METRICS of them, 4 by default), split over the
devices (DEVICES, 4 by default).

    sparkplug_messages.py MESSAGES BASE_MS WORKDIR

Writes WORKDIR/births/NNN.bin (+ .topic) and WORKDIR/data/<device>.txt. mosquitto_pub -l sends
one line per message and takes its length with strlen, so no data payload holds a 0x0A or 0x00
byte: no seq and no datatype in the data (the birth has them), and timestamps and values are
nudged until their encodings are clean.
"""
import os
import random
import struct
import sys

from pysparkplug._protobuf import sparkplug_b_pb2 as pb

DEVICES = int(os.environ.get("DEVICES", "4"))
METRICS = [("temperature", 9, "°C"), ("pressure", 9, "bar"), ("flow", 9, "l/min"), ("power", 9, "kW")]  # 9: Float
ALIASES = [1, 2, 3, 4]
PER_MESSAGE = int(os.environ.get("METRICS", "4"))  # metrics in each DDATA (1-4)


def clean(data: bytes) -> bool:
    return b"\n" not in data and b"\x00" not in data


def main():
    n, base, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(f"{work}/births", exist_ok=True)
    os.makedirs(f"{work}/data", exist_ok=True)
    random.seed(7)

    def write_birth(index, topic, payload):
        with open(f"{work}/births/{index:03d}.bin", "wb") as f:
            f.write(payload.SerializeToString())
        with open(f"{work}/births/{index:03d}.topic", "w") as f:
            f.write(topic)

    nbirth = pb.Payload(timestamp=base, seq=0)
    nbirth.metrics.add(name="bdSeq", datatype=4, long_value=0)
    write_birth(0, "spBv1.0/bench/NBIRTH/edge-1", nbirth)
    for d in range(DEVICES):
        dbirth = pb.Payload(timestamp=base, seq=d + 1)
        for (name, datatype, unit), alias in zip(METRICS, ALIASES):
            metric = dbirth.metrics.add(name=name, alias=alias, datatype=datatype, float_value=1.5)
            metric.properties.keys.append("engUnit")
            metric.properties.values.add(type=12, string_value=unit)
        write_birth(d + 1, f"spBv1.0/bench/DBIRTH/edge-1/dev-{d:03d}", dbirth)

    files = [open(f"{work}/data/dev-{d:03d}.txt", "wb") for d in range(DEVICES)]
    t = base + 1
    for i in range(n):
        while True:
            payload = pb.Payload(timestamp=t)
            for alias in ALIASES[:PER_MESSAGE]:
                value = random.uniform(1, 1000)
                while not clean(struct.pack("<f", value)):
                    value = random.uniform(1, 1000)
                payload.metrics.add(alias=alias, float_value=value)
            data = payload.SerializeToString()
            t += 1
            if clean(data):
                break
        files[i % DEVICES].write(data + b"\n")
    for f in files:
        f.close()


if __name__ == "__main__":
    main()
