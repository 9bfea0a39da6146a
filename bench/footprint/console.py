#!/usr/bin/env python3
"""A console as a third-party client sees it: PyPI `websockets` (permessage-deflate on, as browsers
do), a Bearer token, subscribed to a selector; it parses every update and counts readings.

    console.py URL TOKEN SELECTOR SECONDS [COUNT] [--light] [--follow=N]

Runs COUNT consoles in one process for SECONDS and prints one line: readings received per second,
updates, gaps in `seq`, and how many consoles were closed early. --light reads each update's `seq`
from its first bytes and counts readings without parsing the JSON, so that a hundred consoles
subscribed to 10 000 series fit on one core of the bench machine (TLS and inflate still run).
--follow=N plays the web console instead: it reads the catalog (GET /api/v1/latest) once, then
subscribes to N consecutive series (a screen of cards) with a `series` subscription and scrolls
every 2 s, a quarter of a screen at a time (`change`, with two minutes of history for the cards
that come into view); SELECTOR is unused.
"""
import asyncio
import json
import re
import ssl
import sys
import random
import time
import urllib.request

import websockets


SEQ = re.compile(rb'^\{"type":"update","seq":(\d+),')


def catalog(url, token):
    """The series names, sorted, as the console's catalog has them."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    base = url.replace("wss://", "https://").replace("ws://", "http://").rsplit("/api/", 1)[0]
    request = urllib.request.Request(base + "/api/v1/latest", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=60) as response:
        return [reading["series"] for reading in json.loads(response.read())["data"]]


async def scroll(ws, names, screen):
    """Moves a screen of `screen` series down the catalog every 2 s, as an operator scrolling."""
    start = random.randrange(max(1, len(names) - screen))
    shown = names[start:start + screen]
    await ws.send(json.dumps({"op": "subscribe", "id": 1, "series": shown, "history_minutes": 2}))
    while True:
        await asyncio.sleep(2)
        start = (start + screen // 4) % max(1, len(names) - screen)
        now = names[start:start + screen]
        await ws.send(json.dumps({"op": "change", "id": 1, "add": sorted(set(now) - set(shown)),
                                  "remove": sorted(set(shown) - set(now)), "history_minutes": 2}))
        shown = now


async def console(url, token, selector, seconds, totals, light, follow=None):
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
            scroller = None
            if follow:
                scroller = asyncio.ensure_future(scroll(ws, follow[0], follow[1]))
            else:
                await ws.send(json.dumps({"op": "subscribe", "id": 1, "selector": selector}))
            last = None
            while (left := deadline - time.monotonic()) > 0:
                try:
                    text = await asyncio.wait_for(ws.recv(decode=not light), timeout=left)
                except asyncio.TimeoutError:
                    break
                if light and text.startswith(b'{"type":"update"'):
                    raw = text
                    seq = int(SEQ.match(raw).group(1))
                    if last is not None and seq != last + 1:
                        totals["gaps"] += 1
                    last = seq
                    totals["updates"] += 1
                    totals["readings"] += raw.count(b'"series":')
                    continue
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
            if scroller:
                scroller.cancel()
    except Exception as error:  # closed by the server or refused: reported, not fatal
        totals["closed"] += 1
        totals["errors"].add(f"{type(error).__name__}: {error}"[:120])


async def main():
    arguments = [a for a in sys.argv[1:] if a != "--light" and not a.startswith("--follow=")]
    light = "--light" in sys.argv
    screen = next((int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--follow=")), 0)
    url, token, selector, seconds = arguments[0], arguments[1], arguments[2], float(arguments[3])
    count = int(arguments[4]) if len(arguments) > 4 else 1
    totals = {"readings": 0, "updates": 0, "gaps": 0, "closed": 0, "errors": set()}
    start = time.monotonic()
    follow = (catalog(url, token), screen) if screen else None
    await asyncio.gather(*(console(url, token, selector, seconds, totals, light, follow) for _ in range(count)))
    elapsed = time.monotonic() - start
    print(f"python-websockets{' (light)' if light else ''}{f' following {screen} series' if screen else ''}: {count} consoles, {totals['readings'] / elapsed / count:.0f} readings/s each, "
          f"{totals['updates']} updates, {totals['gaps']} seq gaps, {totals['closed']} closed early"
          + (f" ({'; '.join(sorted(totals['errors']))})" if totals["errors"] else ""))


asyncio.run(main())
