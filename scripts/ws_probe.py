#!/usr/bin/env python3
"""Misbehaving WebSocket clients for the live-stream robustness tests (stdlib only).

    ws_probe.py bomb  URL ORIGIN TOKEN            # a compressed message that inflates past the limit
    ws_probe.py stall URL ORIGIN TOKEN SELECTOR SECONDS   # subscribe, then stop reading (SIGUSR1 ends it early)
    ws_probe.py watch URL USER PASSWORD SELECTOR [COUNT]  # log in like the console, print updates
    ws_probe.py slow  URL SECONDS                  # connect, send half a request head, wait
    ws_probe.py heartbeat URL ORIGIN TOKEN SECONDS yes|no  # answer WebSocket pings (or not), nothing else

ORIGIN "none" sends no Origin header (a machine client).

bomb prints the close code the server sent ("close 1009"); stall prints "closed" when the server
had dropped the connection by the end, "open" otherwise. wss:// is accepted without verification.
"""
import base64
import os
import signal
import socket
import ssl
import struct
import sys
import time
import urllib.parse
import zlib


def connect(url, origin, token, extensions=None, rcvbuf=None, cookie=None):
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((parts.hostname, port))
    if parts.scheme == "wss":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.hostname}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Protocol: vigil.v1.json"]
    if origin != "none":
        lines.append(f"Origin: {origin}")
    lines.append(f"Cookie: vigil_session={cookie}" if cookie else f"Authorization: Bearer {token}")
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit("connection closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit("upgrade refused: " + head.split(b"\r\n")[0].decode())
    return sock


def frame(payload, opcode=1, rsv1=False):
    mask = os.urandom(4)
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    first, second = exactly(2)
    n = second & 0x7F
    if n == 126:
        n = struct.unpack("!H", exactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exactly(8))[0]
    return first & 0x0F, exactly(n)


def bomb(url, origin, token):
    sock = connect(url, origin, token, extensions="permessage-deflate; client_max_window_bits")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(b'{"op":"' + b"a" * (1 << 20) + b'"}') + compressor.flush(zlib.Z_SYNC_FLUSH)
    sock.sendall(frame(payload[:-4], rsv1=True))  # ~1 KiB on the wire, 1 MiB inflated
    try:
        while True:
            opcode, body = read_frame(sock)
            if opcode == 8:
                print("close", struct.unpack("!H", body[:2])[0] if len(body) >= 2 else "none")
                return
    except EOFError:
        print("eof without close")


def stall(url, origin, token, selector, seconds):
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])  # held until sigtimedwait takes it
    sock = connect(url, origin, token, rcvbuf=4096)
    sock.sendall(frame(('{"op":"subscribe","id":1,"selector":"%s"}' % selector).encode()))
    # Read nothing for SECONDS, or until the test that started us sends SIGUSR1 (it has seen the
    # server close us): a fixed stall from our own start ran out on a loaded machine before the
    # test had even published what should fill our queue.
    signal.sigtimedwait([signal.SIGUSR1], float(seconds))
    sock.settimeout(5)
    try:
        while True:
            if not sock.recv(65536):
                print("closed")
                return
    except (ConnectionResetError, ssl.SSLError, OSError) as error:
        print("closed" if not isinstance(error, socket.timeout) else "open")


def heartbeat(url, origin, token, seconds, answer):
    """A client that knows nothing of Vigil's messages: it answers WebSocket pings as RFC 6455 says
    (answer=yes) or ignores them (no). Prints "open PINGS RTTS" if the connection lasted `seconds`,
    else "closed CODE after T s" (CODE from the server's close frame, or "eof")."""
    import json
    sock = connect(url, origin, token)
    started = time.time()
    pings = rtts = 0
    while time.time() - started < float(seconds):
        sock.settimeout(max(0.1, float(seconds) - (time.time() - started)))
        try:
            opcode, body = read_frame(sock)
        except (socket.timeout, TimeoutError):
            break
        except (EOFError, OSError):
            print("closed eof after %.1f s" % (time.time() - started))
            return
        if opcode == 9:
            pings += 1
            if answer == "yes":
                sock.sendall(frame(body, opcode=10))
        elif opcode == 8:
            code = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else "none"
            print("closed %s after %.1f s" % (code, time.time() - started))
            return
        elif opcode == 1 and json.loads(body).get("type") == "rtt":
            rtts += 1
    print("open %d %d" % (pings, rtts))


def watch(url, user, password, selector, count="3"):
    """Logs in with POST /api/v1/login, opens the live stream with the session cookie and the
    gateway's own Origin (as the console does), subscribes, and prints `count` updates."""
    import json
    import urllib.request
    parts = urllib.parse.urlsplit(url)
    origin = ("https" if parts.scheme == "wss" else "http") + "://" + parts.netloc
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(origin + "/api/v1/login", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"username": user, "password": password}).encode())
    with urllib.request.urlopen(request, context=context) as response:
        cookie = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    sock = connect(url, origin, None, cookie=cookie)
    sock.sendall(frame(json.dumps({"op": "subscribe", "id": 1, "selector": selector}).encode()))
    sock.settimeout(15)
    seen = 0
    while seen < int(count):
        opcode, body = read_frame(sock)
        if opcode != 1:
            continue
        message = json.loads(body)
        if message["type"] == "hello":
            print(f"hello: user {message['user']} ({message['role']}), stream {message['stream']}")
        elif message["type"] == "snapshot":
            print(f"snapshot: {len(message['readings'])} series")
        elif message["type"] == "update":
            seen += 1
            reading = message["readings"][0]
            print(f"update seq {message['seq']}: {len(message['readings'])} readings, e.g. {reading['series']} = {reading['v']}")


def slow(url, seconds):
    """Slowloris: half a request head, then nothing; prints how long the server kept the socket."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    started = time.time()
    sock.settimeout(float(seconds))
    try:
        while sock.recv(4096):
            pass
        print("closed after %.1f s" % (time.time() - started))
    except socket.timeout:
        print("still open after %s s" % seconds)
    except OSError:
        print("closed after %.1f s" % (time.time() - started))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "bomb":
        bomb(*sys.argv[2:5])
    elif mode == "stall":
        stall(*sys.argv[2:7])
    elif mode == "watch":
        watch(*sys.argv[2:7])
    elif mode == "slow":
        slow(*sys.argv[2:4])
    elif mode == "heartbeat":
        heartbeat(*sys.argv[2:7])
    else:
        raise SystemExit(__doc__)
