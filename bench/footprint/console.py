#!/usr/bin/env python3
"""A console as a third-party client sees it: PyPI `websockets` (permessage-deflate on, as browsers
do), a Bearer token, subscribed to a selector; it parses every update and counts readings.

    console.py URL TOKEN SELECTOR SECONDS [COUNT]

Runs COUNT consoles in one process for SECONDS and prints one line: readings received per second,
updates, gaps in `seq`, and how many consoles were closed early.
"""
import asyncio
import json
import ssl
import sys
import time

import websockets


async def console(url, token, selector, seconds, totals):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds
    try:
        async with websockets.connect(url, ssl=context if url.startswith("wss") else None,
                                      additional_headers={"Authorization": f"Bearer {token}"},
                                      origin="https://127.0.0.1",
                                      subprotocols=["vigil.v1.json"], max_size=None,
                                      open_timeout=30, ping_interval=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "selector": selector}))
            last = None
            while (left := deadline - time.monotonic()) > 0:
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=left)
                except asyncio.TimeoutError:
                    break
                message = json.loads(text)
                kind = message.get("type")
                if kind == "ping":  # the application heartbeat, answered like the console does
                    await ws.send(json.dumps({"op": "pong", "id": message["id"]}))
                if "seq" in message and message["seq"]:
                    if last is not None and message["seq"] != last + 1:
                        totals["gaps"] += 1
                    last = message["seq"]
                if kind == "update":
                    totals["updates"] += 1
                    totals["readings"] += len(message["readings"])
    except Exception as error:  # closed by the server or refused: reported, not fatal
        totals["closed"] += 1
        totals["errors"].add(f"{type(error).__name__}: {error}"[:120])


async def main():
    url, token, selector, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    totals = {"readings": 0, "updates": 0, "gaps": 0, "closed": 0, "errors": set()}
    start = time.monotonic()
    await asyncio.gather(*(console(url, token, selector, seconds, totals) for _ in range(count)))
    elapsed = time.monotonic() - start
    print(f"python-websockets: {count} consoles, {totals['readings'] / elapsed / count:.0f} readings/s each, "
          f"{totals['updates']} updates, {totals['gaps']} seq gaps, {totals['closed']} closed early"
          + (f" ({'; '.join(sorted(totals['errors']))})" if totals["errors"] else ""))


asyncio.run(main())
