#!/usr/bin/env python3
"""The mesh's "internet": one process in its own network namespace that answers DNS for the
external hosts the tests use and serves an httpbin-compatible API for all of them.

  internet.py --address IP --hosts httpbin.org,www.wikipedia.org,... --cert C --key K --log FILE

- DNS on UDP/TCP port 53: A records for each --hosts name (and names under a "*." entry) point at
  --address; AAAA gets an empty answer (the pods are IPv4 only); anything else is NXDOMAIN, so a
  host the tests never named fails to resolve, as a real unknown host would.
- HTTP on 80 and HTTPS on 443 (certificate from the test CA, SANs for every host): httpbin's
  /get, /headers, /anything, /delay/N (N <= 10 s), /status/CODE, /ip. JSON bodies carry "origin",
  which here is the TCP peer the upstream saw (real httpbin prefers X-Forwarded-For, which hides
  whether the egress gateway was on the path); every response also says it in X-Upstream-Peer,
  and X-Upstream-Tls says whether the connection was TLS.
- Every request is logged as one JSON line (time, peer, tls, host, path, the x-egress-request header, code), so a
  test can count how many attempts (retries) reached the upstream for one request id.
TCP_NODELAY on every accepted connection: without it Nagle and delayed ACKs add ~40 ms.
"""
import argparse
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()
MAX_DELAY = 10


def matches(name, hosts):
    name = name.rstrip(".").lower()
    for h in hosts:
        if h.startswith("*."):
            if name.endswith(h[1:]) and name != h[2:]:
                return True
        elif name == h:
            return True
    return False


class DNS:
    """A minimal authoritative answerer: one question per query, A/AAAA only."""

    def __init__(self, address, hosts):
        self.address = socket.inet_aton(address)
        self.hosts = hosts

    def answer(self, query):
        if len(query) < 12:
            return None
        ident, _flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            return None
        labels, i = [], 12
        while i < len(query) and query[i] != 0:
            n = query[i]
            labels.append(query[i + 1 : i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        i += 1
        if i + 4 > len(query):
            return None
        qtype, _qclass = struct.unpack("!HH", query[i : i + 4])
        question = query[12 : i + 4]
        name = ".".join(labels)
        known = matches(name, self.hosts)
        answers = b""
        if known and qtype == 1:  # A
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + self.address
        rcode = 0 if known else 3  # NXDOMAIN for names nobody set up
        flags = 0x8400 | 0x0100 | rcode  # response, authoritative, recursion desired echoed
        header = struct.pack("!HHHHHH", ident, flags, 1, 1 if answers else 0, 0, 0)
        return header + question + answers


def serve_dns(address, hosts):
    dns = DNS(address, hosts)

    class UDP(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            reply = dns.answer(data)
            if reply:
                sock.sendto(reply, self.client_address)

    class TCP(socketserver.StreamRequestHandler):
        def handle(self):
            size = self.rfile.read(2)
            if len(size) < 2:
                return
            reply = dns.answer(self.rfile.read(struct.unpack("!H", size)[0]))
            if reply:
                self.wfile.write(struct.pack("!H", len(reply)) + reply)

    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    udp = socketserver.ThreadingUDPServer((address, 53), UDP)
    tcp = socketserver.ThreadingTCPServer((address, 53), TCP)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, daemon=True).start()


def make_handler(log_file, tls):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "httpbin-local"

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):
            pass

        def record(self, code):
            line = {
                "time": round(time.time(), 3),
                "peer": self.client_address[0],
                "tls": tls,
                "host": self.headers.get("Host", ""),
                "method": self.command,
                "path": self.path,
                "request_id": self.headers.get("x-egress-request"),
                "code": code,
            }
            with LOG_LOCK, open(log_file, "a") as f:
                f.write(json.dumps(line) + "\n")

        def reply(self, code, body=None):
            data = b"" if body is None else (json.dumps(body, indent=2) + "\n").encode()
            self.record(code)
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Upstream-Peer", self.client_address[0])
            self.send_header("X-Upstream-Tls", "1" if tls else "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def body(self):
            scheme = "https" if tls else "http"
            return {
                "args": {},
                "headers": {k.title(): v for k, v in self.headers.items()},
                "origin": self.client_address[0],
                "url": f"{scheme}://{self.headers.get('Host', '')}{self.path}",
            }

        def do_GET(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            parts = [p for p in path.split("/") if p]
            if path in ("/get", "/anything") or path.startswith("/anything/"):
                self.reply(200, self.body())
            elif path == "/headers":
                self.reply(200, {"headers": self.body()["headers"]})
            elif path == "/ip":
                self.reply(200, {"origin": self.client_address[0]})
            elif len(parts) == 2 and parts[0] == "delay":
                try:
                    delay = min(float(parts[1]), MAX_DELAY)
                except ValueError:
                    return self.reply(400, {"error": "delay must be a number"})
                time.sleep(max(delay, 0))
                self.reply(200, self.body())
            elif len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
                self.reply(int(parts[1]))
            else:
                self.reply(404, {"error": "not found"})

        do_HEAD = do_GET
        do_POST = do_GET
        do_PUT = do_GET
        do_DELETE = do_GET

    return Handler


class TLSServer(ThreadingHTTPServer):
    """HTTPS with the handshake in the request's own thread, so one slow or failed handshake
    (a proxy that sends plain HTTP to 443, say) never holds up the next connection."""

    context = None

    def finish_request(self, request, client_address):
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    hosts = [h.strip().lower() for h in args.hosts.split(",") if h.strip()]

    serve_dns(args.address, hosts)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    plain = ThreadingHTTPServer((args.address, 80), make_handler(args.log, False))
    secure = TLSServer((args.address, 443), make_handler(args.log, True))
    secure.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    secure.context.load_cert_chain(args.cert, args.key)
    threading.Thread(target=secure.serve_forever, daemon=True).start()
    print(f"internet: DNS, HTTP and HTTPS on {args.address} for {', '.join(hosts)}", file=sys.stderr, flush=True)
    plain.serve_forever()


if __name__ == "__main__":
    main()
