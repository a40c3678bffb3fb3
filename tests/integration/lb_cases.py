#!/usr/bin/python3
"""haneul-lb integration cases: real haneul-lb, real backends
(lb_backend.py) on 127.0.0.x and inside a network namespace we create.
Prints PASS/FAIL/SKIP lines (tests/run.sh counts them).

usage: lb_cases.py BUILD_DIR WORKDIR [NETNS]
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

BUILD, WORK = sys.argv[1], sys.argv[2]
NETNS = sys.argv[3] if len(sys.argv) > 3 else ""
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
BASE = 20000 + (os.getpid() % 200) * 50
LBADDR = "127.0.0.1"
procs = []


def out(kind, name, why=""):
    print("%s: %s%s" % (kind, name, (": " + why) if why else ""), flush=True)


def case(name):
    def deco(fn):
        def run():
            try:
                r = fn()
                if r is None or r is True:
                    out("PASS", name)
                elif isinstance(r, str) and r.startswith("SKIP"):
                    out("SKIP", name, r[5:])
                else:
                    out("FAIL", name, str(r))
            except Exception as e:  # a broken case is a failure, never a pass
                out("FAIL", name, "%s: %s" % (type(e).__name__, e))
        run()
        return run
    return deco


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def wait_port(addr, port, t=5.0, netns=None):
    end = time.time() + t
    while time.time() < end:
        if netns:
            r = subprocess.run(["ip", "netns", "exec", netns, PY, "-c",
                                "import socket;socket.create_connection(('%s',%d),1)" % (addr, port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return True
        else:
            try:
                socket.create_connection((addr, port), 0.5).close()
                return True
            except OSError:
                pass
        time.sleep(0.1)
    return False


def backend(name, port, ns=None):
    log = os.path.join(WORK, name + ".log")
    down = os.path.join(WORK, name + ".down")
    cmd = [PY, os.path.join(HERE, "lb_backend.py"), "http", "127.0.0.1", str(port), name, log, down]
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    start(cmd)
    if not wait_port("127.0.0.1", port, netns=ns):
        raise RuntimeError("backend %s did not start" % name)
    open(log, "a").close()
    return log, down


class Ctl:
    def __init__(self, path):
        self.path = path

    def call(self, obj):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.path)
        s.sendall((json.dumps(obj) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return json.loads(buf)


def http(port, path="/", host="example.com", method="GET", body=None, headers=None, timeout=5):
    s = socket.create_connection((LBADDR, port), timeout)
    try:
        req = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, host)
        for k, v in (headers or {}).items():
            req += "%s: %s\r\n" % (k, v)
        if body is not None:
            req += "Content-Length: %d\r\n" % len(body)
        req = req.encode() + b"\r\n" + (body or b"")
        s.sendall(req)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    """(status, headers dict lower-case, body) of one response on socket s."""
    f = s.makefile("rb")
    line = f.readline()
    if not line:
        return (0, {}, b"")
    status = int(line.split()[1])
    hdrs = {}
    while True:
        ln = f.readline()
        if ln in (b"\r\n", b""):
            break
        k, v = ln.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in hdrs:
        body = f.read(int(hdrs["content-length"]))
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                f.readline()
                break
            body += f.read(n)
            f.readline()
    f.close()
    return status, hdrs, body


def wait_for(pred, t=10.0):
    end = time.time() + t
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


def target_states(ctl, tg):
    h = ctl.call({"cmd": "health"})
    for g in h["target_groups"]:
        if g["name"] == tg:
            return {(t["ip"], t["port"], t["netns"]): (t["state"], t["reason"]) for t in g["targets"]}
    return {}


HC = {"path": "/health", "interval": 0.2, "timeout": 1, "healthy_threshold": 2,
      "unhealthy_threshold": 2}


def main():
    P = {k: BASE + i for i, k in enumerate(
        ["b1", "b2", "b3", "bns", "api", "echo", "l7", "l4", "tls", "dead", "l7b"])}
    b1log, b1down = backend("b1", P["b1"])
    b2log, b2down = backend("b2", P["b2"])
    b3log, _ = backend("b3", P["b3"])
    apilog, _ = backend("api", P["api"])
    ns_targets = []
    if NETNS:
        bnslog, _ = backend("bns", P["bns"], ns=NETNS)
        ns_targets = [{"ip": "127.0.0.1", "port": P["bns"], "netns": NETNS, "id": "i-ns"}]
    start([PY, os.path.join(HERE, "lb_backend.py"), "echo", "127.0.0.1", str(P["echo"])])
    wait_port("127.0.0.1", P["echo"])
    cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    have_tls = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                               "-out", cert, "-days", "1", "-subj", "/CN=lb.test"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def web_targets(with_b2=True):
        t = [{"ip": "127.0.0.1", "port": P["b1"], "id": "i-1"}]
        if with_b2:
            t.append({"ip": "127.0.0.1", "port": P["b2"], "id": "i-2"})
        return t + [{"ip": "127.0.0.1", "port": P["b3"], "id": "i-3"}] + ns_targets

    def config(with_b2=True, extra_rule=False, dereg=5):
        rules = [
            {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
             "actions": [{"type": "forward", "target_group": "api"}]},
            {"priority": 20, "conditions": [{"field": "host-header", "values": ["api.*.test"]}],
             "actions": [{"type": "forward", "target_group": "api"}]},
            {"priority": 30, "conditions": [{"field": "path-pattern", "values": ["/old/*"]}],
             "actions": [{"type": "redirect", "host": "new.#{host}", "path": "/v2/#{path}",
                          "status_code": "HTTP_301"}]},
            {"priority": 40, "conditions": [{"field": "path-pattern", "values": ["/teapot"]}],
             "actions": [{"type": "fixed-response", "status_code": "418", "content_type": "text/plain",
                          "message_body": "short and stout"}]},
            {"priority": 50, "conditions": [{"field": "path-pattern", "values": ["/nothing*"]}],
             "actions": [{"type": "forward", "target_group": "empty"}]},
            {"priority": 60, "conditions": [{"field": "path-pattern", "values": ["/dead*"]}],
             "actions": [{"type": "forward", "target_group": "dead"}]},
        ]
        if extra_rule:
            rules.append({"priority": 70, "conditions": [{"field": "path-pattern", "values": ["/added"]}],
                          "actions": [{"type": "fixed-response", "status_code": "200", "message_body": "added"}]})
        lbs = [{"name": "alb", "type": "application", "idle_timeout": 30, "listeners": [
            {"protocol": "HTTP", "address": LBADDR, "port": P["l7"], "rules": rules,
             "default_actions": [{"type": "forward", "target_group": "web"}]}]},
            {"name": "nlb", "type": "network", "listeners": [
                {"protocol": "TCP", "address": LBADDR, "port": P["l4"],
                 "default_actions": [{"type": "forward", "target_group": "echo"}]}]}]
        if have_tls:
            lbs[0]["listeners"].append({"protocol": "HTTPS", "address": LBADDR, "port": P["tls"],
                                        "certificate": cert, "key": key,
                                        "default_actions": [{"type": "forward", "target_group": "web"}]})
        return {"settings": {"header_timeout": 1},
                "target_groups": [
                    {"name": "web", "protocol": "HTTP", "port": P["b1"], "health_check": HC,
                     "deregistration_delay": dereg, "targets": web_targets(with_b2)},
                    {"name": "api", "protocol": "HTTP", "port": P["api"], "health_check": HC,
                     "targets": [{"ip": "127.0.0.1"}]},
                    {"name": "empty", "protocol": "HTTP", "port": 80, "targets": []},
                    {"name": "dead", "protocol": "HTTP", "port": P["dead"],
                     "health_check": {"enabled": False}, "targets": [{"ip": "127.0.0.1"}]},
                    {"name": "echo", "protocol": "TCP", "port": P["echo"],
                     "health_check": {"interval": 0.2, "healthy_threshold": 2},
                     "targets": [{"ip": "127.0.0.1"}]}],
                "load_balancers": lbs}

    cfgfile = os.path.join(WORK, "lb.json")
    with open(cfgfile, "w") as f:
        json.dump(config(), f)
    ctlpath = os.path.join(WORK, "lb.sock")
    lberr = open(os.path.join(WORK, "lb.err"), "w")
    lb = subprocess.Popen([os.path.join(BUILD, "haneul-lb"), "--config", cfgfile, "--control", ctlpath,
                           "--workers", "2"], stderr=lberr)
    procs.append(lb)
    if not wait_for(lambda: os.path.exists(ctlpath), 5):
        out("FAIL", "lb_starts", "no control socket")
        return
    ctl = Ctl(ctlpath)
    out("PASS", "lb_starts")
    nweb = 3 + len(ns_targets)
    ok = wait_for(lambda: [s for s in target_states(ctl, "web").values() if s[0] == "healthy"].__len__() == nweb, 10)

    @case("lb_health_all_targets_healthy")
    def _():
        st = target_states(ctl, "web")
        return True if ok else "states: %s" % st

    @case("lb_requests_spread_over_every_healthy_target")
    def _():
        seen = {}
        for _ in range(8 * nweb):
            s, h, b = http(P["l7"], "/spread")
            if s != 200:
                return "status %d" % s
            seen[h.get("x-backend")] = seen.get(h.get("x-backend"), 0) + 1
        want = {"b1", "b2", "b3"} | ({"bns"} if NETNS else set())
        return True if set(seen) == want else "seen %s" % seen

    @case("lb_target_inside_network_namespace")
    def _():
        if not NETNS:
            return "SKIP needs root and ip netns"
        # 127.0.0.1:PORT is served only inside the namespace
        try:
            socket.create_connection(("127.0.0.1", P["bns"]), 0.5).close()
            return "the namespace backend is reachable from the host namespace"
        except OSError:
            pass
        n = sum(1 for _ in range(4 * nweb) if http(P["l7"], "/ns")[1].get("x-backend") == "bns")
        return True if n > 0 else "no request reached bns"

    @case("lb_x_forwarded_headers")
    def _():
        s, h, b = http(P["l7"], "/echo", headers={"X-Forwarded-For": "203.0.113.9"})
        t = b.decode()
        good = ("X-Forwarded-For: 203.0.113.9, 127.0.0.1" in t and "X-Forwarded-Proto: http" in t
                and "X-Forwarded-Port: %d" % P["l7"] in t)
        return True if good else t

    @case("lb_post_body_content_length_and_chunked")
    def _():
        s, h, b = http(P["l7"], "/echo", method="POST", body=b"x" * 50000)
        if s != 200 or not b.endswith(b"x" * 50000):
            return "CL body: %d %d" % (s, len(b))
        c = socket.create_connection((LBADDR, P["l7"]), 5)
        c.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        s, h, b = read_response(c)
        c.close()
        return True if s == 200 and b.endswith(b"hello world") else "chunked: %d %r" % (s, b[-40:])

    @case("lb_keepalive_client_and_target_reuse")
    def _():
        c = socket.create_connection((LBADDR, P["l7"]), 5)
        for i in range(20):
            c.sendall(b"GET /ka HTTP/1.1\r\nHost: a\r\n\r\n")
            s, h, b = read_response(c)
            if s != 200:
                return "request %d: %d" % (i, s)
        c.close()
        return True

    @case("lb_unhealthy_target_leaves_rotation_and_returns")
    def _():
        open(b2down, "w").close()
        st = wait_for(lambda: target_states(ctl, "web")[("127.0.0.1", P["b2"], "")][0] == "unhealthy", 10)
        if not st:
            return "b2 never unhealthy: %s" % target_states(ctl, "web")
        reason = target_states(ctl, "web")[("127.0.0.1", P["b2"], "")][1]
        if reason != "Target.ResponseCodeMismatch":
            return "reason %s" % reason
        got = {http(P["l7"], "/rot")[1].get("x-backend") for _ in range(4 * nweb)}
        if "b2" in got:
            return "b2 still served while unhealthy"
        os.unlink(b2down)
        if not wait_for(lambda: target_states(ctl, "web")[("127.0.0.1", P["b2"], "")][0] == "healthy", 10):
            return "b2 never came back"
        got = {http(P["l7"], "/rot")[1].get("x-backend") for _ in range(4 * nweb)}
        return True if "b2" in got else "b2 healthy but unused: %s" % got

    @case("lb_host_and_path_rules_route_to_the_right_group")
    def _():
        a = http(P["l7"], "/api/x")[1].get("x-backend")
        b = http(P["l7"], "/x", host="api.shop.test")[1].get("x-backend")
        c = http(P["l7"], "/x", host="www.shop.test")[1].get("x-backend")
        return True if (a, b) == ("api", "api") and c in ("b1", "b2", "b3", "bns") else (a, b, c)

    @case("lb_redirect_action")
    def _():
        s, h, b = http(P["l7"], "/old/page?q=1", host="shop.test")
        want = "http://new.shop.test:%d/v2/old/page?q=1" % P["l7"]
        return True if s == 301 and h.get("location") == want else (s, h.get("location"))

    @case("lb_fixed_response_action")
    def _():
        s, h, b = http(P["l7"], "/teapot")
        return True if s == 418 and b == b"short and stout" else (s, b)

    @case("lb_no_target_is_503")
    def _():
        s = http(P["l7"], "/nothing")[0]
        return True if s == 503 else s

    @case("lb_failed_target_is_502")
    def _():
        s = http(P["l7"], "/dead")[0]
        return True if s == 502 else s

    @case("lb_malformed_http_400_never_forwarded")
    def _():
        before = sum(open(p).read().count("/smuggle") for p in (b1log, b2log, b3log))
        bad = [b"POST /smuggle1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               b"POST /smuggle2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
               b"GET /smuggle3 HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
               b"GET /smuggle4 HTTP/1.1\nHost: a\n\n",
               b"GET /smuggle5 HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"]
        for r in bad:
            c = socket.create_connection((LBADDR, P["l7"]), 5)
            c.sendall(r)
            s = read_response(c)[0]
            c.close()
            if s != 400:
                return "%r -> %d" % (r[:30], s)
        time.sleep(0.3)
        after = sum(open(p).read().count("/smuggle") for p in (b1log, b2log, b3log))
        return True if after == before else "a backend saw %d smuggled requests" % (after - before)

    @case("lb_header_too_large_431")
    def _():
        s = http(P["l7"], "/big", headers={"X-Big": "a" * 9000})[0]
        return True if s == 431 else s

    @case("lb_slow_client_times_out_without_blocking_others")
    def _():
        slow = []
        for _ in range(4):
            c = socket.create_connection((LBADDR, P["l7"]), 5)
            c.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            slow.append(c)
        t0 = time.time()
        for _ in range(10):
            if http(P["l7"], "/other")[0] != 200:
                return "a normal request failed while slow clients wait"
        codes = []
        for c in slow:
            c.settimeout(5)
            codes.append(read_response(c)[0])
            c.close()
        dt = time.time() - t0
        return True if all(x in (408, 0) for x in codes) and dt < 4.5 else "codes %s after %.1fs" % (codes, dt)

    @case("lb_reconfigure_keeps_inflight_keepalive_connection")
    def _():
        c = socket.create_connection((LBADDR, P["l7"]), 10)
        c.sendall(b"GET /ka1 HTTP/1.1\r\nHost: a\r\n\r\n")
        if read_response(c)[0] != 200:
            return "first request"
        c.sendall(b"GET /slow?ms=800 HTTP/1.1\r\nHost: a\r\n\r\n")  # in flight during apply
        time.sleep(0.2)
        r = ctl.call({"cmd": "apply", "config": config(extra_rule=True)})
        if not r.get("ok"):
            return "apply: %s" % r
        s1 = read_response(c)[0]
        c.sendall(b"GET /added HTTP/1.1\r\nHost: a\r\n\r\n")
        s2, h, b = read_response(c)
        c.close()
        return True if (s1, s2, b) == (200, 200, b"added") else (s1, s2, b)

    @case("lb_apply_rejects_bad_config_and_keeps_the_old")
    def _():
        r = ctl.call({"cmd": "apply", "config": {"target_groups": [{"name": "x", "port": 99999}]}})
        if r.get("ok") or "port" not in r.get("error", ""):
            return r
        return True if http(P["l7"], "/added")[0] == 200 else "old config lost"

    @case("lb_draining_finishes_inflight_requests")
    def _():
        # only b2 in the group for a moment so the slow request surely goes there
        solo = config(extra_rule=True)
        solo["target_groups"][0]["targets"] = [{"ip": "127.0.0.1", "port": P["b2"], "id": "i-2"}]
        if not ctl.call({"cmd": "apply", "config": solo}).get("ok"):
            return "apply solo"
        res = {}

        def slow():
            res["r"] = http(P["l7"], "/slow?ms=1500", timeout=10)
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.4)
        # deregister b2 (back to b1, b3, ns)
        if not ctl.call({"cmd": "apply", "config": config(with_b2=False, extra_rule=True)}).get("ok"):
            return "apply without b2"
        st = target_states(ctl, "web").get(("127.0.0.1", P["b2"], ""))
        if st != ("draining", "Target.DeregistrationInProgress"):
            return "b2 state while in flight: %s" % (st,)
        others = {http(P["l7"], "/after")[1].get("x-backend") for _ in range(6)}
        th.join()
        s, h, b = res["r"]
        if s != 200 or h.get("x-backend") != "b2":
            return "in-flight request: %s %s" % (s, h.get("x-backend"))
        if "b2" in others:
            return "new requests went to the draining target"
        gone = wait_for(lambda: ("127.0.0.1", P["b2"], "") not in target_states(ctl, "web"), 4)
        return True if gone else "b2 still listed after its requests finished"

    @case("lb_nlb_tcp_passthrough")
    def _():
        wait_for(lambda: target_states(ctl, "echo").get(("127.0.0.1", P["echo"], ""), ("",))[0] == "healthy", 5)
        c = socket.create_connection((LBADDR, P["l4"]), 5)
        data = os.urandom(200000)
        got = b""

        def reader():
            nonlocal got
            while len(got) < len(data):
                d = c.recv(65536)
                if not d:
                    break
                got += d
        th = threading.Thread(target=reader)
        th.start()
        c.sendall(data)
        th.join(10)
        c.close()
        return True if got == data else "echoed %d of %d bytes" % (len(got), len(data))

    @case("lb_https_listener_with_self_signed_certificate")
    def _():
        if not have_tls:
            return "SKIP openssl CLI could not make a certificate"
        r = subprocess.run(["curl", "-sk", "-D-", "https://%s:%d/tls" % (LBADDR, P["tls"])],
                           capture_output=True, timeout=10)
        t = r.stdout.decode(errors="replace")
        if r.returncode != 0 or " 200" not in t.splitlines()[0]:
            return "curl rc %d: %s" % (r.returncode, t[:200])
        r = subprocess.run(["curl", "-sk", "https://%s:%d/echo" % (LBADDR, P["tls"])],
                           capture_output=True, timeout=10)
        return True if "X-Forwarded-Proto: https" in r.stdout.decode() else r.stdout[:300]

    @case("lb_stats_count_requests_per_target")
    def _():
        st = ctl.call({"cmd": "stats"})
        web = [g for g in st["target_groups"] if g["name"] == "web"][0]
        per = {t["port"]: t["requests"] for t in web["targets"]}
        alb = [x for x in st["load_balancers"] if x["name"] == "alb"][0]
        if web["requests"] <= 0 or sum(per.values()) > web["requests"] or alb["requests"] < web["requests"]:
            return st
        return True if per.get(P["b1"], 0) > 0 and alb["elb_4xx"] >= 5 else st

    lb.terminate()
    try:
        rc = lb.wait(10)
    except subprocess.TimeoutExpired:
        rc = "hung"
    out("PASS" if rc == 0 else "FAIL", "lb_stops_cleanly_on_sigterm", "" if rc == 0 else "exit %s" % rc)


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
