#!/usr/bin/python3
"""Cases for tests/integration/test_agent.sh: drive a running haneul-agent.

    agent_cases.py http HOST PORT PID INSTANCE_ID
    agent_cases.py ctl BASE LOG SYSFS INSTANCE_ID   (--vsock-unix transport)
    agent_cases.py vsock CTL_PORT READY_PORT         (AF_VSOCK over loopback, CID 1)

Prints PASS/FAIL/SKIP lines (tests/lib.sh format).  Every socket has a
timeout, so a broken agent fails the case instead of hanging the suite."""
import json
import os
import socket
import sys
import threading
import time

T = 10.0


def report(name, ok, why=""):
    if ok:
        print("PASS: " + name, flush=True)
    else:
        print("FAIL: %s: %s" % (name, why), flush=True)


def case(name):
    def deco(fn):
        def run(*a):
            try:
                r = fn(*a)
                if r is None or r is True:
                    report(name, True)
                else:
                    report(name, False, r)
            except Exception as e:  # noqa: BLE001 - any exception fails the case
                report(name, False, "%s: %s" % (type(e).__name__, e))
        run.case_name = name
        return run
    return deco


# ---------------------------------------------------------------- HTTP

def connect(host, port):
    s = socket.create_connection((host, port), timeout=T)
    s.settimeout(T)
    return s


def read_response(s, buf=b""):
    """One response from S (Content-Length framed).  (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("connection closed before a response head (got %r)" % buf[:200])
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError("connection closed inside a body")
        rest += d
    return status, hdrs, rest[:n], rest[n:]


def request(host, port, path, method="GET", extra=""):
    s = connect(host, port)
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                   % (method, path, extra)).encode())
        st, h, body, _ = read_response(s)
        return st, h, body
    finally:
        s.close()


def closed_by_peer(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")


def http_cases(host, port, pid, iid):
    port, pid = int(port), int(pid)

    @case("agent_http_root_is_instance_id")
    def root():
        st, h, body = request(host, port, "/")
        if (st, body) != (200, (iid + "\n").encode()):
            return "got %d %r" % (st, body)
        if h.get("connection") != "close":
            return "Connection: %r" % h.get("connection")

    @case("agent_http_health_ok")
    def health():
        st, _, body = request(host, port, "/health")
        if (st, body) != (200, b"ok\n"):
            return "got %d %r" % (st, body)

    @case("agent_http_burn_200ms")
    def burn():
        st, _, body = request(host, port, "/burn?ms=200")
        if (st, body) != (200, b"burned 200 ms\n"):
            return "got %d %r" % (st, body)

    @case("agent_http_burn_bounds")
    def burn_bounds():
        for q in ("/burn", "/burn?ms=60001", "/burn?ms=-5", "/burn?ms=abc"):
            st, _, _ = request(host, port, q)
            if st != 400:
                return "%s -> %d, want 400" % (q, st)

    @case("agent_http_health_responsive_during_burn")
    def concurrent():
        # A long burn in the background; /health must answer (several times,
        # on fresh connections) while that burn has not answered yet.
        done = {}

        def bg():
            done["r"] = request(host, port, "/burn?ms=3000")
            done["t"] = time.monotonic()
        th = threading.Thread(target=bg)
        th.start()
        time.sleep(0.2)
        answered = []
        for _ in range(5):
            st, _, body = request(host, port, "/health")
            answered.append((st, body, "r" in done))
        th.join(T)
        if "r" not in done or done["r"][0] != 200:
            return "burn did not answer 200: %r" % (done.get("r"),)
        if any(a[:2] != (200, b"ok\n") for a in answered):
            return "health answers %r" % answered
        if any(a[2] for a in answered):
            return "a /health was served only after the burn finished: %r" % answered

    @case("agent_http_burn_uses_cpu")
    def burn_cpu():
        before = cpu_ms(pid)
        st, _, _ = request(host, port, "/burn?ms=1000")
        used = cpu_ms(pid) - before
        if st != 200:
            return "status %d" % st
        # A sleep would use ~0; a busy loop uses up to 1000 ms of CPU (less on a
        # crowded machine, so only a tenth is required).
        if used < 100:
            return "agent used %d ms of CPU for a 1000 ms burn" % used

    @case("agent_http_keep_alive")
    def keep_alive():
        s = connect(host, port)
        try:
            for path, want in (("/health", b"ok\n"), ("/", (iid + "\n").encode()),
                               ("/health", b"ok\n")):
                s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
                st, h, body, rest = read_response(s)
                if (st, body) != (200, want) or rest:
                    return "%s -> %d %r" % (path, st, body)
                if h.get("connection") != "keep-alive":
                    return "Connection: %r" % h.get("connection")
        finally:
            s.close()

    @case("agent_http_pipelined_requests")
    def pipelined():
        s = connect(host, port)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            a = read_response(s)
            b = read_response(s, a[3])
            # HEAD: the head only, Content-Length of the GET body.
            buf = b[3]
            while b"\r\n\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            head, _, tail = buf.partition(b"\r\n\r\n")
            if a[0] != 200 or b[0] != 404:
                return "statuses %d %d" % (a[0], b[0])
            if not head.startswith(b"HTTP/1.1 200") or tail or not closed_by_peer(s):
                return "HEAD response %r + %r" % (head, tail)
            if b"Content-Length: %d" % (len(iid) + 1) not in head:
                return "HEAD Content-Length in %r" % head
        finally:
            s.close()

    @case("agent_http_body_is_skipped")
    def body():
        s = connect(host, port)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                      b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            a = read_response(s)
            b = read_response(s, a[3])
            if (a[0], b[0]) != (200, 200):
                return "statuses %d %d" % (a[0], b[0])
        finally:
            s.close()

    @case("agent_http_http10_closes")
    def http10():
        s = connect(host, port)
        try:
            s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            st, h, body, _ = read_response(s)
            if st != 200 or h.get("connection") != "close" or not closed_by_peer(s):
                return "got %d %r" % (st, h)
        finally:
            s.close()

    @case("agent_http_404_and_405")
    def other():
        st, _, _ = request(host, port, "/nope")
        st2, h2, _ = request(host, port, "/", method="POST", extra="Content-Length: 0\r\n")
        if st != 404 or st2 != 405 or h2.get("allow") != "GET, HEAD":
            return "got %d, %d %r" % (st, st2, h2)

    def bad_request(raw, want):
        s = connect(host, port)
        try:
            s.sendall(raw)
            st, h, _, _ = read_response(s)
            if st != want:
                return "%r -> %d, want %d" % (raw[:60], st, want)
            if h.get("connection") != "close" or not closed_by_peer(s):
                return "%r: connection not closed after %d" % (raw[:60], st)
        finally:
            s.close()

    @case("agent_http_malformed_is_400")
    def malformed():
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n",
                    b"GET /  HTTP/1.1\r\nHost: t\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"):
            r = bad_request(raw, 400)
            if r:
                return r
        r = bad_request(b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 501)
        if r:
            return r
        return bad_request(b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505)

    @case("agent_http_oversized_header_is_431")
    def oversized():
        r = bad_request(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431)
        if r:
            return r
        # Sent slowly without an end: still 431 once 8 KiB arrived.
        s = connect(host, port)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
            for _ in range(20):
                try:
                    s.sendall(b"X-Filler: " + b"b" * 500 + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
            st, _, _, _ = read_response(s)
            if st != 431:
                return "slow oversized head -> %d" % st
        finally:
            s.close()
        return bad_request(b"GET /" + b"p" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)

    @case("agent_http_unfinished_request_times_out_408")
    def timeout():
        # The agent runs with --header-timeout 1000 in this test.
        s = connect(host, port)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
            st, h, _, _ = read_response(s)
            if st != 408 or not closed_by_peer(s):
                return "got %d" % st
        finally:
            s.close()

    @case("agent_http_many_connections")
    def many():
        socks = []
        try:
            for _ in range(150):
                socks.append(connect(host, port))
            for i, s in enumerate(socks):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            bad = 0
            for s in socks:
                st, _, body, _ = read_response(s)
                bad += (st, body) != (200, b"ok\n")
            if bad:
                return "%d of %d connections got no ok" % (bad, len(socks))
        finally:
            for s in socks:
                s.close()
        # And from 8 threads at once, 25 requests each.
        errors = []

        def worker():
            try:
                for _ in range(25):
                    st, _, _ = request(host, port, "/health")
                    if st != 200:
                        errors.append(st)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
        ths = [threading.Thread(target=worker) for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        if errors:
            return "errors: %r" % errors[:5]

    @case("agent_http_table_full_is_survived")
    def flood():
        # More connections than the agent's table (256): the excess is closed,
        # and the agent serves again once they are gone.
        socks = []
        try:
            for _ in range(300):
                socks.append(connect(host, port))
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)
        st, _, _ = request(host, port, "/health")
        if st != 200:
            return "after the flood: %d" % st

    for fn in (root, health, burn, burn_bounds, concurrent, burn_cpu, keep_alive, pipelined,
               body, http10, other, malformed, oversized, timeout, many, flood):
        fn()


# ---------------------------------------------------------------- control

class LineSock:
    def __init__(self, s):
        self.s, self.buf = s, b""
        s.settimeout(T)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed (pending %r)" % self.buf[:200])
            self.buf += d
        l, _, self.buf = self.buf.partition(b"\n")
        return l

    def cmd(self, raw):
        self.s.sendall(raw if raw.endswith(b"\n") else raw + b"\n")
        return json.loads(self.line())


def unix_listener(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(4)
    l.settimeout(T)
    return l


def common_ctl_cases(prefix, host_accept, ctl_connect, iid, log=None, sysfs=None):
    """Cases shared by the Unix test transport and real AF_VSOCK."""
    state = {}

    @case(prefix + "_ready_event")
    def ready():
        c = LineSock(host_accept())
        state["ready"] = c
        ev = json.loads(c.line())
        for k in ("uptime", "boot_id", "nproc"):
            if k not in ev:
                return "no %s in %r" % (k, ev)
        if ev.get("event") != "ready" or ev.get("instance_id") != iid or ev.get("seq") != 1:
            return "got %r" % ev

    @case(prefix + "_commands_on_ready_connection")
    def on_ready():
        r = state["ready"].cmd(b'{"cmd":"ping"}')
        if r.get("ok") is not True or r.get("pong") is not True:
            return "got %r" % r

    @case(prefix + "_ping_and_metadata")
    def meta():
        c = LineSock(ctl_connect())
        try:
            r = c.cmd(b'{"cmd":"ping"}')
            if r.get("ok") is not True:
                return "ping %r" % r
            m = c.cmd(b'{"cmd":"metadata"}\r\n')
            if m.get("instance_id") != iid or m.get("user_data") != "IyEvYmluL3NoCmVjaG8gaGkK":
                return "metadata %r" % m
        finally:
            c.s.close()

    @case(prefix + "_garbage_gets_error_replies")
    def garbage():
        c = LineSock(ctl_connect())
        try:
            for raw, part in ((b"garbage", "malformed"), (b"\xff\xfe{", "malformed"),
                              (b'{"cmd":"exec","argv":["/bin/sh"]}', "no remote shell"),
                              (b'{"cmd":"ping","x":1}', "unknown field"),
                              (b'{"cmd":"ping"} trailing', "trailing"),
                              (b'{"cmd":"unbind-virtio","device":"../../../etc"}', "must be")):
                r = c.cmd(raw)
                if r.get("ok") is not False or part not in r.get("error", ""):
                    return "%r -> %r" % (raw, r)
            # Still usable afterwards.
            if c.cmd(b'{"cmd":"ping"}').get("ok") is not True:
                return "ping after garbage failed"
        finally:
            c.s.close()

    @case(prefix + "_long_line_is_refused")
    def long_line():
        c = LineSock(ctl_connect())
        try:
            c.s.sendall(b"{" + b" " * 5000)
            r = json.loads(c.line())
            if r.get("ok") is not False or "too long" not in r.get("error", ""):
                return "got %r" % r
            if not closed_by_peer(c.s):
                return "connection left open"
        finally:
            c.s.close()

    @case(prefix + "_shutdown_and_reboot_replies")
    def power():
        c = LineSock(ctl_connect())
        try:
            r = c.cmd(b'{"cmd":"shutdown"}')
            if r != {"ok": True, "action": "poweroff"}:
                return "shutdown %r" % r
            r = c.cmd(b'{"cmd":"reboot"}')
            if r != {"ok": True, "action": "reboot"}:
                return "reboot %r" % r
        finally:
            c.s.close()
        if log:
            time.sleep(0.3)
            text = open(log).read()
            if "would power off now (--power none)" not in text or "would reboot now" not in text:
                return "agent log lacks the power actions: %r" % text[-500:]

    @case(prefix + "_unbind_virtio")
    def unbind():
        if not sysfs:
            return None
        c = LineSock(ctl_connect())
        unbind_file = sysfs + "/bus/platform/drivers/virtio-mmio/unbind"
        try:
            d = c.cmd(b'{"cmd":"virtio-devices"}')
            devs = d.get("devices") or []
            if [x.get("serial") for x in devs] != ["vol-0data"]:
                return "virtio-devices %r" % d
            r = c.cmd(b'{"cmd":"unbind-virtio","serial":"vol-0data"}')
            if r != {"ok": True, "device": "LNRO0005:01"}:
                return "unbind by serial %r" % r
            if open(unbind_file).read() != "LNRO0005:01":
                return "unbind file holds %r" % open(unbind_file).read()
            r = c.cmd(b'{"cmd":"unbind-virtio","device":"LNRO0005:07"}')
            if r.get("ok") is not False or "not bound" not in r.get("error", ""):
                return "unbind of an absent device %r" % r
        finally:
            c.s.close()

    @case(prefix + "_reconnects_after_host_drop")
    def reconnect():
        state["ready"].s.close()
        c = LineSock(host_accept())  # the agent comes back (1 s backoff)
        ev = json.loads(c.line())
        c.s.close()
        if ev.get("event") != "ready" or ev.get("seq") != 2:
            return "got %r" % ev

    for fn in (ready, on_ready, meta, garbage, long_line, power, unbind, reconnect):
        fn()


def ctl_cases(base, log, sysfs, iid):
    l = unix_listener(base + "_1024")

    def host_accept():
        return l.accept()[0]

    def ctl_connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(T)
        s.connect(base + ".agent_1025")
        return s
    common_ctl_cases("agent_ctl", host_accept, ctl_connect, iid, log, sysfs)
    l.close()


def vsock_cases(ctl_port, ready_port, iid):
    l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    l.bind((socket.VMADDR_CID_ANY, int(ready_port)))
    l.listen(4)
    l.settimeout(T)

    def host_accept():
        return l.accept()[0]

    def ctl_connect():
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(T)
        s.connect((1, int(ctl_port)))
        return s
    common_ctl_cases("agent_vsock_loopback", host_accept, ctl_connect, iid)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "http":
        http_cases(*args)
    elif mode == "ctl":
        ctl_cases(*args)
    elif mode == "vsock":
        vsock_cases(*args)
    else:
        sys.exit("unknown mode " + mode)
