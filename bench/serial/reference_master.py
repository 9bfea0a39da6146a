#!/usr/bin/env python3
"""The reference Modbus RTU master for bench/serial: pymodbus's client reading 10 input registers
from slave 1 as fast as it can for DURATION seconds. Prints requests per second.

  bench/serial/reference_master.py DEVICE DURATION [--baud 115200]
"""
import argparse
import time

from pymodbus.client import ModbusSerialClient


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("device")
    parser.add_argument("duration", type=float)
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args()
    client = ModbusSerialClient(port=args.device, baudrate=args.baud, timeout=0.2, retries=0)
    client.connect()
    ok = failed = 0
    end = time.monotonic() + args.duration
    start = time.monotonic()
    while time.monotonic() < end:
        result = client.read_input_registers(0, 10, slave=1)
        if result.isError():
            failed += 1
        else:
            ok += 1
    elapsed = time.monotonic() - start
    print("%.1f %d %d" % (ok / elapsed, ok, failed), flush=True)


if __name__ == "__main__":
    main()
