#!/usr/bin/env python3
"""A simulated serial device on a pseudo-terminal, for `make demo` and the tests. Standard library only.

  scripts/serial_device.py PATH weather [--interval 1]   # key=value lines: T=21.4 H=45.0 P=1013.2
  scripts/serial_device.py PATH gps [--interval 1]       # NMEA 0183 GGA and RMC sentences
  scripts/serial_device.py PATH answer                   # answers each "READ" line with "T=…,H=…"
  scripts/serial_device.py PATH raw                      # copies stdin to the device, byte for byte

PATH is the device end of a pty pair, e.g. made by
  socat pty,raw,echo=0,link=/tmp/vigil-tty pty,raw,echo=0,link=/tmp/vigil-tty-sim
with the gateway reading /tmp/vigil-tty and this script writing /tmp/vigil-tty-sim.
"""
import argparse
import math
import os
import random
import select
import sys
import time


def checksum(body):
    value = 0
    for ch in body.encode():
        value ^= ch
    return "%02X" % value


def nmea(body):
    return "$%s*%s\r\n" % (body, checksum(body))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("kind", choices=["weather", "gps", "answer", "raw"])
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    fd = os.open(args.path, os.O_RDWR | os.O_NOCTTY)
    random.seed(7)
    t0 = time.time()
    temperature, humidity, pressure = 18.0, 55.0, 1013.0
    if args.kind == "raw":
        while True:
            data = sys.stdin.buffer.read1(4096)
            if not data:
                return
            os.write(fd, data)
    pending = b""
    while True:
        elapsed = time.time() - t0
        temperature += (18.0 + 4 * math.sin(elapsed / 300) - temperature) * 0.05 + random.uniform(-0.1, 0.1)
        humidity = min(100, max(0, humidity + random.uniform(-0.5, 0.5)))
        pressure += random.uniform(-0.2, 0.2)
        if args.kind == "weather":
            os.write(fd, b"T=%.1f H=%.1f P=%.1f\r\n" % (temperature, humidity, pressure))
            time.sleep(args.interval)
        elif args.kind == "gps":
            stamp = time.strftime("%H%M%S", time.gmtime())
            lat = 4807.038 + random.uniform(-0.001, 0.001)
            os.write(fd, nmea("GPGGA,%s.00,%.4f,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,," % (stamp, lat)).encode())
            os.write(fd, nmea("GPRMC,%s.00,A,%.4f,N,01131.000,E,0.4,84.4,%s,003.1,W" % (stamp, lat, time.strftime("%d%m%y"))).encode())
            time.sleep(args.interval)
        else:  # answer
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            pending += os.read(fd, 256)
            while b"\r" in pending or b"\n" in pending:
                cut = min(i for i in (pending.find(b"\r"), pending.find(b"\n")) if i >= 0)
                command, pending = pending[:cut].strip(), pending[cut + 1:]
                if command == b"READ":
                    os.write(fd, b"%.1f,%.1f\r\n" % (temperature, humidity))


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError, OSError):
        pass
