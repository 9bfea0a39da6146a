#!/usr/bin/env python3
"""TLS clients that misbehave on purpose, for the listener's tests (stdlib only, Python's own TLS).

    tls_probe.py garbage PORT   # a complete handshake, then bytes that are not a valid record
    tls_probe.py split PORT     # the Finished alone, the HTTP request 0.3 s later

garbage tries five kinds of junk, one connection each, and prints one word per connection:
"closed" when the server closed it, "open" when it was still open 5 s later. split does its
exchange five times and prints the status lines it got, joined by "|".
"""
import os
import socket
import ssl
import sys
import time


def handshake(port):
    """Connects and completes a TLS handshake over memory BIOs; the Finished is left unsent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    while True:
        try:
            tls.do_handshake()
            return sock, tls, incoming, outgoing
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            chunk = sock.recv(65536)
            if not chunk:
                sys.exit("closed during the handshake")
            incoming.write(chunk)


def garbage(port):
    outcomes = []
    for payload in [b"\x17\x03\x03\x00\x20" + os.urandom(32), os.urandom(300),
                    b"\x15\x03\x03\x00\x02\x02\x50", b"\x16\x03\x03\x00\x04\x00\x00\x00\x00",
                    b"\x17\x03\x03\x4f\xff" + os.urandom(100)]:
        sock, _, _, outgoing = handshake(port)
        sock.sendall(outgoing.read())
        sock.sendall(payload)
        sock.settimeout(5)
        try:
            while sock.recv(65536):
                pass
            outcomes.append("closed")
        except socket.timeout:
            outcomes.append("open")
        sock.close()
    print(" ".join(outcomes))


def split(port):
    answers = []
    for _ in range(5):
        sock, tls, incoming, outgoing = handshake(port)
        sock.sendall(outgoing.read())  # the Finished, alone
        time.sleep(0.3)
        tls.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.sendall(outgoing.read())
        sock.settimeout(5)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                incoming.write(chunk)
                try:
                    answer += tls.read(65536)
                except ssl.SSLWantReadError:
                    pass
        except socket.timeout:
            pass
        answers.append(answer.split(b"\r\n")[0].decode() or "no answer")
        sock.close()
    print("|".join(answers))


if __name__ == "__main__":
    {"garbage": garbage, "split": split}[sys.argv[1]](int(sys.argv[2]))
