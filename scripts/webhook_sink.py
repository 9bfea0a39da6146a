#!/usr/bin/env python3
"""A webhook receiver for Vigil's alert notifications: the demo shows what arrives, the tests
check it. Standard library only.

  scripts/webhook_sink.py --port 9095 [--out FILE] [--secret S] [--port-file F]
                          [--tls-cert C --tls-key K] [--keep-alive] [--delay SECONDS]

Each POST is appended to --out as one JSON line: {"path", "id", "signature_ok", "body", "length",
"headers"} (body: the parsed JSON, or null; headers: the few the tests look at).
With --secret, X-Vigil-Signature (sha256=<hex HMAC-SHA256 of the body>) is checked and a bad
signature is answered with 401. A line per notification goes to stdout. --tls-cert/--tls-key serve
HTTPS; --keep-alive speaks HTTP/1.1 and keeps connections open (each record's "peer" is the
client's port, so a test sees connections reused); --delay waits before answering.
"""
import argparse
import hashlib
import hmac
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("--secret")
    parser.add_argument("--port-file", help="write the bound port here (for --port 0)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--keep-alive", action="store_true")
    parser.add_argument("--delay", type=float, default=0)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if args.keep_alive else "HTTP/1.0"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            ok = None
            if args.secret:
                expected = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(expected, self.headers.get("X-Vigil-Signature", ""))
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            record = {"path": self.path, "peer": self.client_address[1], "id": self.headers.get("X-Vigil-Notification-Id"),
                      "signature_ok": ok, "body": parsed,
                      "length": len(body),
                      "headers": {name.lower(): value for name, value in self.headers.items()
                                  if name.lower() in ("authorization", "content-type", "content-encoding",
                                                      "x-prometheus-remote-write-version", "x-scope-orgid")}}
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(record, sort_keys=True) + "\n")
            if isinstance(parsed, dict):
                summary = parsed.get("annotations", {}).get("summary", "")
                print(f"webhook: {parsed.get('reason')} {parsed.get('alert')} {summary}", flush=True)
            if args.delay:
                time.sleep(args.delay)
            status = 401 if ok is False else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"webhook sink listening on {scheme}://{args.host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
