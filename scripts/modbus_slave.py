#!/usr/bin/env python3
"""A Modbus slave (server) with a known register map, on pymodbus (PyPI), for the tests, the
serial bench and trying samples/modbus.yaml. Run it from the test venv:

  .build/test-venv/bin/python scripts/modbus_slave.py --rtu /tmp/vigil-modbus-sim [--baud 115200]
  .build/test-venv/bin/python scripts/modbus_slave.py --tcp 5020

Slaves (unit ids) 1 and 2 hold the same map; any other id does not answer (a timeout).
Holding registers (big-endian words unless said):
  0 int16 -2 | 1 uint16 65000 | 2-3 int32 -100000 | 4-5 uint32 3000000000 | 6-7 float32 21.5
  8-11 float64 1234.5678 | 12-13 float32 21.5, little word order | 14-15 float32 21.5, little byte order
  16-17 int32 -100000, little word and byte order | 18-39: 0 (40 registers: address 40 and up is an exception)
Input registers: 0 uint16 2305 (230.5 V with scale 0.1; varies with --vary) | 1 int16 -40 | 2-9: 100..107
Coils: 1 0 1 1 | Discrete inputs: 0 1
"""
import argparse
import logging
import struct
import threading
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer import Framer
from pymodbus.server import StartSerialServer, StartTcpServer


def words(fmt, value, word_order="big", byte_order="big"):
    packed = struct.pack(">" + fmt, value)
    pairs = [packed[i:i + 2] for i in range(0, len(packed), 2)]
    if byte_order == "little":
        pairs = [pair[::-1] for pair in pairs]
    if word_order == "little":
        pairs = pairs[::-1]
    return [int.from_bytes(pair, "big") for pair in pairs]


def holding_registers():
    values = [0] * 40
    values[0:1] = words("h", -2)
    values[1:2] = words("H", 65000)
    values[2:4] = words("i", -100000)
    values[4:6] = words("I", 3000000000)
    values[6:8] = words("f", 21.5)
    values[8:12] = words("d", 1234.5678)
    values[12:14] = words("f", 21.5, word_order="little")
    values[14:16] = words("f", 21.5, byte_order="little")
    values[16:18] = words("i", -100000, word_order="little", byte_order="little")
    return values


def slave():
    return ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, holding_registers()),
        ir=ModbusSequentialDataBlock(0, [2305] + words("h", -40) + list(range(100, 108))),
        co=ModbusSequentialDataBlock(0, [1, 0, 1, 1]),
        di=ModbusSequentialDataBlock(0, [0, 1]),
        zero_mode=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--rtu", metavar="PATH", help="serial device (e.g. one end of a socat pty pair)")
    where.add_argument("--tcp", metavar="PORT", type=int, help="TCP port on 127.0.0.1")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--vary", action="store_true", help="let input register 0 (the voltage) wander")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    slaves = {1: slave(), 2: slave()}
    context = ModbusServerContext(slaves=slaves, single=False)
    if args.vary:
        def wander():
            tick = 0
            while True:
                tick += 1
                for unit in slaves.values():
                    unit.setValues(4, 0, [2300 + (tick * 7) % 20])
                time.sleep(1)
        threading.Thread(target=wander, daemon=True).start()
    print("modbus slave ready", flush=True)
    if args.rtu:
        StartSerialServer(context=context, framer=Framer.RTU, port=args.rtu, baudrate=args.baud, ignore_missing_slaves=True)
    else:
        StartTcpServer(context=context, address=("127.0.0.1", args.tcp), ignore_missing_slaves=True)


if __name__ == "__main__":
    main()
