#!/usr/bin/env python3
"""An emulated half-duplex serial line between two pseudo-terminals, paced at a baud rate, for
bench/serial: a pty does not care about baud rates, so without this a "115200 baud" benchmark
would measure nothing about the line. Standard library only.

  bench/serial/line.py MASTER_LINK SLAVE_LINK --baud 115200 [--bits 10]

Makes two ptys, links them at MASTER_LINK (the gateway or reference opens it) and SLAVE_LINK (the
Modbus slave opens it), and copies bytes between them in both directions as a shared line would
carry them: one byte every bits/baud seconds, one direction at a time.
"""
import argparse
import os
import select
import time
import tty


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("master_link")
    parser.add_argument("slave_link")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--bits", type=int, default=10, help="bits per character (8N1: 10)")
    args = parser.parse_args()
    ends = []
    for link in (args.master_link, args.slave_link):
        master, slave = os.openpty()
        tty.setraw(slave)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(slave), link)
        ends.append((master, slave))
    a, b = ends[0][0], ends[1][0]
    peer = {a: b, b: a}
    per_byte = args.bits / args.baud
    free_at = time.monotonic()
    print("line ready", flush=True)
    while True:
        ready, _, _ = select.select([a, b], [], [])
        for fd in ready:
            try:
                data = os.read(fd, 512)
            except OSError:
                continue
            if not data:
                continue
            # The line carries one byte at a time: this chunk arrives once its last byte is through.
            start = max(time.monotonic(), free_at)
            free_at = start + len(data) * per_byte
            delay = free_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            os.write(peer[fd], data)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
