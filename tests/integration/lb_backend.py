#!/usr/bin/python3
"""Backends for the haneul-lb integration tests.

  lb_backend.py http ADDR PORT NAME LOGFILE [HEALTHFILE]
      HTTP/1.1 keep-alive server.  GET /health -> 200, or 503 while HEALTHFILE
      exists.  /slow?ms=N sleeps N ms first.  /echo answers with the request
      headers and body (chunked request bodies are decoded).  Every request
      line is appended to LOGFILE.  Other paths: "NAME PATH\\n".
  lb_backend.py echo ADDR PORT      raw TCP echo (NLB tests)
"""
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs


def http_main(addr, port, name, logfile, healthfile):
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _body(self):
            te = self.headers.get("Transfer-Encoding", "")
            if te.lower() == "chunked":
                out = b""
                while True:
                    line = self.rfile.readline()
                    n = int(line.split(b";")[0].strip(), 16)
                    if n == 0:
                        while self.rfile.readline() not in (b"\r\n", b""):
                            pass
                        return out
                    out += self.rfile.read(n)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length", "0") or 0)
            return self.rfile.read(n) if n else b""

        def _handle(self):
            with lock:
                with open(logfile, "a") as f:
                    f.write(self.requestline + "\n")
            body = self._body()
            u = urlsplit(self.path)
            q = parse_qs(u.query)
            if u.path == "/health":
                ok = not (healthfile and os.path.exists(healthfile))
                code, out = (200, b"ok\n") if ok else (503, b"down\n")
            elif u.path == "/slow":
                time.sleep(int(q.get("ms", ["1000"])[0]) / 1000.0)
                code, out = 200, ("%s slow\n" % name).encode()
            elif u.path == "/echo":
                code = 200
                out = ("backend: %s\n" % name).encode()
                out += "".join("%s: %s\n" % (k, v) for k, v in self.headers.items()).encode()
                out += b"\n" + body
            else:
                code, out = 200, ("%s %s\n" % (name, u.path)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.send_header("X-Backend", name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((addr, port), H)
    srv.serve_forever()


def echo_main(addr, port):
    class E(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                d = self.request.recv(65536)
                if not d:
                    break
                self.request.sendall(d)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer((addr, port), E).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "http":
        http_main(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
                  sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        echo_main(sys.argv[2], int(sys.argv[3]))
