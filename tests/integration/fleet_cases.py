#!/usr/bin/python3
"""tests/integration/fleet_cases.py - ELBv2, Auto Scaling and CloudWatch on
haneul end to end: a real haneuld (which runs haneul-lb) on a free loopback
port, driven with the real AWS CLI (/usr/bin/aws) and boto3.

  elbv2_* cases: ip targets are HTTP/TCP backends on 127.0.0.1
              (lb_backend.py): no /dev/kvm needed.
  asg_*   cases: real tiny-guest instances on the local /dev/kvm.

Run by test_elbv2_api.sh (elbv2_*) and test_asg_fleet.sh (asg_*), which
check the tools first.  One PASS/FAIL/SKIP line per case; no durations are
asserted (waits are bounded, generously).

  fleet_cases.py BUILD_DIR elbv2|asg [CASE ...]
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

AWS = "/usr/bin/aws"
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
GROUP = sys.argv[2] if len(sys.argv) > 2 else "elbv2"
HANEULD = os.path.join(BUILD, "haneuld")
HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = os.path.join(HERE, "lb_backend.py")
REGION = "ap-northeast-2"
PERIOD = 2  # metric period for the tests (seconds)
CASES = []


class Skip(Exception):
    pass


def case(fn):
    CASES.append(fn)
    return fn


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def wait_for(fn, secs, what, step=0.5):
    end = time.time() + secs
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out after %ds waiting for %s (last: %r)" % (secs, what, last))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Daemon:
    """haneuld with a temp data dir; an IAM user with the ELB, Auto Scaling
    and EC2 full-access policies is the default AWS CLI profile."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="haneul-fleet.")
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.backends = []
        self.env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
            self.env.pop(k, None)
        self.env.update(AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "credentials"),
                        AWS_CONFIG_FILE=os.path.join(self.tmp, "config"), AWS_DEFAULT_REGION=REGION,
                        AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
        with open(self.env["AWS_CONFIG_FILE"], "w") as f:
            f.write("[default]\nregion = %s\ncli_pager =\n" % REGION)
        try:
            self.start()
            root = os.path.join(self.tmp, "root-creds")
            shutil.copy(os.path.join(self.data, "root-credentials"), root)
            renv = dict(self.env, AWS_SHARED_CREDENTIALS_FILE=root)
            self.aws("iam", "create-user", "--user-name", "fleet", env=renv)
            for p in ("ElasticLoadBalancingFullAccess", "AutoScalingFullAccess", "AmazonEC2FullAccess"):
                self.aws("iam", "attach-user-policy", "--user-name", "fleet", "--policy-arn",
                         "arn:aws:iam::aws:policy/" + p, env=renv)
            k = self.aws("iam", "create-access-key", "--user-name", "fleet", env=renv)["AccessKey"]
            self.key = (k["AccessKeyId"], k["SecretAccessKey"])
            with open(self.env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
                f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % self.key)
            self.vpc = self.aws("ec2", "describe-vpcs")["Vpcs"][0]["VpcId"]
            self.subnets = [s["SubnetId"] for s in self.aws("ec2", "describe-subnets")["Subnets"]]
        except BaseException:
            self.cleanup()
            raise

    def start(self):
        ep = os.path.join(self.data, "endpoint")
        if os.path.exists(ep):
            os.unlink(ep)
        self.log = open(self.data + ".log", "ab")
        self.proc = subprocess.Popen([HANEULD, "--data-dir", self.data, "--listen", "127.0.0.1:0",
                                      "--stop-timeout", "5", "--tiny-mem", "32", "--metric-period", str(PERIOD)],
                                     stdout=self.log, stderr=self.log)
        for _ in range(200):
            if os.path.exists(ep) and os.path.getsize(ep) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("haneuld exited: %s" % self.logtail())
            time.sleep(0.05)
        self.ep = open(ep).read().strip()

    def logtail(self, n=2000):
        try:
            return open(self.data + ".log", errors="replace").read()[-n:]
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def aws(self, *args, env=None, check=True):
        p = subprocess.run([AWS, "--endpoint-url", self.ep, "--output", "json"] + list(args),
                           env=env or self.env, capture_output=True, text=True, timeout=300)
        if not check:
            return p.returncode, p.stdout, p.stderr
        if p.returncode != 0:
            raise AssertionError("aws %s: rc %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def aws_err(self, *args):
        rc, out, err = self.aws(*args, check=False)
        expect(rc != 0, "aws %s succeeded: %s" % (" ".join(args), out[:300]))
        m = re.search(r"An error occurred \(([^)]+)\) when calling the \w+ operation: (.*)", err)
        expect(m, "no AWS error in %r" % err)
        return m.group(1), m.group(2).strip()

    def lb_pid(self):
        try:
            pid = int(open(os.path.join(self.data, "lb", "lb.pid")).read())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def backend(self, name, health=False, kind="http"):
        """A lb_backend.py on 127.0.0.1: (port, logfile, healthfile)."""
        port = free_port()
        logf = os.path.join(self.tmp, "%s.log" % name)
        hf = os.path.join(self.tmp, "%s.unhealthy" % name)
        args = [sys.executable, BACKEND, kind, "127.0.0.1", str(port)]
        if kind == "http":
            args += [name, logf, hf]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.backends.append(p)
        wait_for(lambda: _can_connect("127.0.0.1", port), 10, "backend %s" % name, 0.05)
        return port, logf, hf

    def cleanup(self):
        for p in self.backends:
            p.kill()
            p.wait()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        # Instances and haneul-lb outlive haneuld by design: stop them by pid.
        for pidfile in [os.path.join(self.data, "lb", "lb.pid")] + \
                [os.path.join(self.data, "ec2", d, "vmm.pid") for d in _ls(os.path.join(self.data, "ec2"))]:
            try:
                pid = int(open(pidfile).read())
                cmd = open("/proc/%d/cmdline" % pid, "rb").read()
                if b"haneul-vmm" in cmd or b"haneul-lb" in cmd:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        # The default VPC's namespace is haneuld's to keep; the test made it.
        m = re.search(r"default VPC in network namespace (hn-[0-9a-f]+)", self.logtail(1 << 20))
        if m:
            subprocess.run([os.path.join(BUILD, "haneul-net"), "vpc-delete", m.group(1)],
                           capture_output=True, timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _ls(d):
    try:
        return [x for x in os.listdir(d) if x.startswith("i-")]
    except OSError:
        return []


def _can_connect(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def get(addr, port, path="/", host=None, timeout=20):
    """(status, body) of GET http://addr:port/path (new connection)."""
    c = http.client.HTTPConnection(addr, port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host} if host else {})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


D = None


# ---- ELBv2 -------------------------------------------------------------------------------

def make_alb(name, port, tg_name, backends, **hc):
    """An ALB + ip target group of 127.0.0.1 backends + listener: (lb, tg, addr)."""
    args = ["elbv2", "create-target-group", "--name", tg_name, "--protocol", "HTTP", "--port", "80",
            "--vpc-id", D.vpc, "--target-type", "ip", "--health-check-path", "/health",
            "--health-check-interval-seconds", str(hc.get("interval", 5)), "--health-check-timeout-seconds", "2",
            "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2"]
    tg = D.aws(*args)["TargetGroups"][0]["TargetGroupArn"]
    lbd = D.aws("elbv2", "create-load-balancer", "--name", name, "--type", "application",
                "--subnets", *D.subnets[:2])["LoadBalancers"][0]
    D.aws("elbv2", "create-listener", "--load-balancer-arn", lbd["LoadBalancerArn"], "--protocol", "HTTP",
          "--port", str(port), "--default-actions", "Type=forward,TargetGroupArn=" + tg)
    if backends:
        D.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets",
              *["Id=127.0.0.1,Port=%d" % p for p in backends])
    addr = lbd["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
    return lbd["LoadBalancerArn"], tg, addr


def health(tg, targets=None):
    args = ["elbv2", "describe-target-health", "--target-group-arn", tg]
    if targets:
        args += ["--targets"] + targets
    return D.aws(*args)["TargetHealthDescriptions"]


def states(tg):
    return {(h["Target"]["Id"], h["Target"]["Port"]): h["TargetHealth"]["State"] for h in health(tg)}


def delete_alb(lb, tg):
    for l in D.aws("elbv2", "describe-listeners", "--load-balancer-arn", lb)["Listeners"]:
        D.aws("elbv2", "delete-listener", "--listener-arn", l["ListenerArn"])
    D.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb)
    for t in tg if isinstance(tg, list) else [tg]:
        D.aws("elbv2", "delete-target-group", "--target-group-arn", t)


@case
def elbv2_validation_and_errors():
    code, msg = D.aws_err("elbv2", "create-target-group", "--name", "bad", "--protocol", "HTTP", "--port", "80",
                          "--vpc-id", D.vpc, "--health-check-interval-seconds", "301")
    expect(code == "ValidationError" and "between 5 and 300" in msg, (code, msg))
    code, msg = D.aws_err("elbv2", "create-target-group", "--name", "bad", "--protocol", "HTTP", "--port", "80",
                          "--vpc-id", D.vpc, "--health-check-interval-seconds", "5",
                          "--health-check-timeout-seconds", "5")
    expect(code == "ValidationError" and "greater than the timeout" in msg, (code, msg))
    code, _ = D.aws_err("elbv2", "create-target-group", "--name", "bad", "--protocol", "HTTP", "--port", "70000",
                        "--vpc-id", D.vpc)
    expect(code == "ValidationError", code)
    code, _ = D.aws_err("elbv2", "create-target-group", "--name=-bad", "--protocol", "HTTP", "--port", "80",
                        "--vpc-id", D.vpc)
    expect(code == "ValidationError", code)
    code, _ = D.aws_err("elbv2", "create-load-balancer", "--name", "one", "--subnets", D.subnets[0])
    expect(code == "ValidationError", code)
    code, _ = D.aws_err("elbv2", "create-load-balancer", "--name", "x", "--subnets", "subnet-nope", D.subnets[0])
    expect(code == "SubnetNotFound", code)
    code, _ = D.aws_err("elbv2", "describe-load-balancers", "--names", "nope")
    expect(code == "LoadBalancerNotFound", code)
    code, _ = D.aws_err("elbv2", "describe-target-health", "--target-group-arn",
                        "arn:aws:elasticloadbalancing:%s:1:targetgroup/x/0" % REGION)
    expect(code == "TargetGroupNotFound", code)
    lb, tg, _ = make_alb("val", free_port(), "val", [])
    try:
        code, _ = D.aws_err("elbv2", "create-load-balancer", "--name", "val", "--subnets", *D.subnets[:2])
        expect(code == "DuplicateLoadBalancerName", code)
        code, _ = D.aws_err("elbv2", "modify-target-group-attributes", "--target-group-arn", tg, "--attributes",
                            "Key=deregistration_delay.timeout_seconds,Value=4000")
        expect(code == "InvalidConfigurationRequest", code)
        code, _ = D.aws_err("elbv2", "register-targets", "--target-group-arn", tg, "--targets", "Id=i-0123456789abcdef0")
        expect(code in ("ValidationError", "InvalidTarget"), code)
        code, msg = D.aws_err("elbv2", "delete-target-group", "--target-group-arn", tg)
        expect(code == "ResourceInUse", (code, msg))
        d = D.aws("elbv2", "describe-load-balancers", "--load-balancer-arns", lb)["LoadBalancers"][0]
        expect(d["State"]["Code"] == "active" and d["Type"] == "application" and len(d["AvailabilityZones"]) == 2, d)
        expect(d["LoadBalancerArn"].startswith("arn:aws:elasticloadbalancing:%s:" % REGION) and
               ":loadbalancer/app/val/" in d["LoadBalancerArn"], d["LoadBalancerArn"])
        a = D.aws("elbv2", "describe-target-group-attributes", "--target-group-arn", tg)["Attributes"]
        expect({"Key": "deregistration_delay.timeout_seconds", "Value": "300"} in a, a)
        t = D.aws("elbv2", "modify-target-group", "--target-group-arn", tg, "--health-check-path", "/h2",
                  "--matcher", "HttpCode=200-299")["TargetGroups"][0]
        expect(t["HealthCheckPath"] == "/h2" and t["Matcher"]["HttpCode"] == "200-299" and
               t["LoadBalancerArns"] == [lb], t)
        D.aws("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", lb)
    finally:
        delete_alb(lb, tg)
    expect(D.aws("elbv2", "describe-load-balancers")["LoadBalancers"] == [], "load balancer left")


@case
def elbv2_spread_and_health_leaves_and_returns():
    backs = [D.backend("b%d" % i) for i in range(3)]
    port = free_port()
    lb, tg, addr = make_alb("spread", port, "spread", [b[0] for b in backs])
    try:
        D.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg)
        seen = {}
        for _ in range(30):
            st, body = get(addr, port, "/x")
            expect(st == 200, (st, body))
            seen[body.split()[0]] = seen.get(body.split()[0], 0) + 1
        expect(sorted(seen) == ["b0", "b1", "b2"], "requests went to %s" % seen)
        # b1's /health fails (503): it leaves the rotation with AWS's reason code...
        open(backs[1][2], "w").close()
        wait_for(lambda: states(tg)[("127.0.0.1", backs[1][0])] == "unhealthy", 60, "b1 unhealthy")
        h = [x for x in health(tg) if x["Target"]["Port"] == backs[1][0]][0]["TargetHealth"]
        expect(h["Reason"] == "Target.ResponseCodeMismatch", h)
        for _ in range(12):
            st, body = get(addr, port, "/y")
            expect(st == 200 and not body.startswith("b1"), (st, body))
        # ... and comes back once it answers again.
        os.unlink(backs[1][2])
        wait_for(lambda: states(tg)[("127.0.0.1", backs[1][0])] == "healthy", 60, "b1 healthy again")
        got = {get(addr, port, "/z")[1].split()[0] for _ in range(12)}
        expect("b1" in got, got)
    finally:
        delete_alb(lb, tg)


@case
def elbv2_host_and_path_rules():
    api, web = D.backend("api"), D.backend("web")
    port = free_port()
    lb, tg_web, addr = make_alb("rules", port, "web", [web[0]])
    tg_api = D.aws("elbv2", "create-target-group", "--name", "api", "--protocol", "HTTP", "--port", "80",
                   "--vpc-id", D.vpc, "--target-type", "ip")["TargetGroups"][0]["TargetGroupArn"]
    D.aws("elbv2", "register-targets", "--target-group-arn", tg_api, "--targets", "Id=127.0.0.1,Port=%d" % api[0])
    try:
        lis = D.aws("elbv2", "describe-listeners", "--load-balancer-arn", lb)["Listeners"][0]["ListenerArn"]
        r1 = D.aws("elbv2", "create-rule", "--listener-arn", lis, "--priority", "10", "--conditions",
                   "Field=path-pattern,Values=/api/*", "--actions",
                   "Type=forward,TargetGroupArn=" + tg_api)["Rules"][0]
        D.aws("elbv2", "create-rule", "--listener-arn", lis, "--priority", "5", "--conditions",
              '[{"Field":"host-header","HostHeaderConfig":{"Values":["admin.example.com"]}}]', "--actions",
              '[{"Type":"fixed-response","FixedResponseConfig":{"StatusCode":"403","ContentType":"text/plain",'
              '"MessageBody":"no admin here"}}]')
        code, _ = D.aws_err("elbv2", "create-rule", "--listener-arn", lis, "--priority", "10", "--conditions",
                            "Field=path-pattern,Values=/x", "--actions", "Type=forward,TargetGroupArn=" + tg_api)
        expect(code == "PriorityInUse", code)
        code, _ = D.aws_err("elbv2", "create-rule", "--listener-arn", lis, "--priority", "50001", "--conditions",
                            "Field=path-pattern,Values=/x", "--actions", "Type=forward,TargetGroupArn=" + tg_api)
        expect(code == "ValidationError", code)
        rules = D.aws("elbv2", "describe-rules", "--listener-arn", lis)["Rules"]
        expect([r["Priority"] for r in rules] == ["5", "10", "default"] and rules[-1]["IsDefault"], rules)
        wait_for(lambda: get(addr, port, "/api/v1")[1].startswith("api") and get(addr, port, "/")[1].startswith("web"),
                 60, "both groups serving")
        expect(get(addr, port, "/api/users")[1].startswith("api /api/users"), "path rule")
        expect(get(addr, port, "/apix")[1].startswith("web"), "no match -> default")
        st, body = get(addr, port, "/api/users", host="admin.example.com")
        expect(st == 403 and body == "no admin here", (st, body))
        D.aws("elbv2", "modify-rule", "--rule-arn", r1["RuleArn"], "--conditions", "Field=path-pattern,Values=/v2/*")
        wait_for(lambda: get(addr, port, "/v2/x")[1].startswith("api"), 20, "modified rule")
        expect(get(addr, port, "/api/users")[1].startswith("web"), "old path no longer routed")
        D.aws("elbv2", "delete-rule", "--rule-arn", r1["RuleArn"])
        expect(get(addr, port, "/v2/x")[1].startswith("web"), "deleted rule")
    finally:
        delete_alb(lb, [tg_web, tg_api])


@case
def elbv2_nlb_tcp_passthrough():
    echo = D.backend("echo", kind="echo")
    port = free_port()
    tg = D.aws("elbv2", "create-target-group", "--name", "tcp", "--protocol", "TCP", "--port", str(echo[0]),
               "--vpc-id", D.vpc, "--target-type", "ip", "--health-check-interval-seconds", "5",
               "--healthy-threshold-count", "2")["TargetGroups"][0]
    expect(tg["HealthCheckProtocol"] == "TCP", tg)
    tg = tg["TargetGroupArn"]
    lbd = D.aws("elbv2", "create-load-balancer", "--name", "nlb", "--type", "network", "--subnets",
                D.subnets[0])["LoadBalancers"][0]
    lb = lbd["LoadBalancerArn"]
    expect(":loadbalancer/net/nlb/" in lb, lb)
    code, _ = D.aws_err("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP", "--port",
                        str(port), "--default-actions", "Type=forward,TargetGroupArn=" + tg)
    expect(code == "UnsupportedProtocol", code)
    D.aws("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "TCP", "--port", str(port),
          "--default-actions", "Type=forward,TargetGroupArn=" + tg)
    D.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets", "Id=127.0.0.1")
    try:
        addr = lbd["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
        D.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg)
        s = socket.create_connection((addr, port), timeout=10)
        payload = os.urandom(100000)
        threading.Thread(target=lambda: s.sendall(payload), daemon=True).start()
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        expect(got == payload, "echoed %d of %d bytes" % (len(got), len(payload)))
    finally:
        delete_alb(lb, tg)


@case
def elbv2_deregistration_drains_in_flight():
    a, b = D.backend("a"), D.backend("b")
    port = free_port()
    lb, tg, addr = make_alb("drain", port, "drain", [a[0], b[0]])
    try:
        D.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg, "--attributes",
              "Key=deregistration_delay.timeout_seconds,Value=30")
        D.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg)
        # Slow requests in flight on both targets, then "a" is deregistered.
        res = []
        ths = [threading.Thread(target=lambda: res.append(get(addr, port, "/slow?ms=4000"))) for _ in range(4)]
        for t in ths:
            t.start()
        time.sleep(1)
        D.aws("elbv2", "deregister-targets", "--target-group-arn", tg, "--targets", "Id=127.0.0.1,Port=%d" % a[0])
        h = {x["Target"]["Port"]: x["TargetHealth"] for x in health(tg)}
        expect(h[a[0]]["State"] == "draining" and h[a[0]]["Reason"] == "Target.DeregistrationInProgress", h)
        for _ in range(6):
            expect(get(addr, port, "/n")[1].startswith("b"), "a new request went to the draining target")
        for t in ths:
            t.join(30)
        expect(len(res) == 4 and all(st == 200 for st, _ in res), "in-flight requests: %s" % res)
        expect(any(body.startswith("a") for _, body in res), "no in-flight request was on a: %s" % res)
        # Drained: no longer listed; asked for explicitly it is unused / NotRegistered.
        wait_for(lambda: (a[0] not in {x["Target"]["Port"] for x in health(tg)}), 30, "a drained")
        h = health(tg, ["Id=127.0.0.1,Port=%d" % a[0]])[0]["TargetHealth"]
        expect(h["State"] == "unused" and h["Reason"] == "Target.NotRegistered", h)
    finally:
        delete_alb(lb, tg)


@case
def elbv2_request_metrics():
    be = D.backend("m")
    port = free_port()
    lb, tg, addr = make_alb("metrics", port, "metrics", [be[0]])
    try:
        D.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg)
        t0 = time.time()
        for _ in range(25):
            expect(get(addr, port, "/m")[0] == 200, "request failed")
        dim = "targetgroup/" + tg.split(":targetgroup/")[1]

        def total():
            dp = D.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/ApplicationELB", "--metric-name",
                       "RequestCount", "--dimensions", "Name=TargetGroup,Value=" + dim, "--statistics", "Sum",
                       "--period", "60", "--start-time", str(int(t0) - 120), "--end-time", str(int(time.time()) + 60))
            return sum(d["Sum"] for d in dp["Datapoints"]) >= 25

        wait_for(total, 30, "RequestCount sum >= 25", 1)
        ms = D.aws("cloudwatch", "list-metrics", "--namespace", "AWS/ApplicationELB", "--metric-name",
                   "RequestCountPerTarget")["Metrics"]
        expect({"Name": "TargetGroup", "Value": dim} in [d for m in ms for d in m["Dimensions"]], ms)
        code, _ = D.aws_err("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name",
                            "CPUUtilization", "--statistics", "Average", "--period", "60", "--start-time",
                            "2026-01-02T00:00:00Z", "--end-time", "2026-01-01T00:00:00Z")
        expect(code == "InvalidParameterCombination", code)
    finally:
        delete_alb(lb, tg)


@case
def elbv2_haneuld_restart_keeps_serving():
    be = D.backend("r")
    port = free_port()
    lb, tg, addr = make_alb("restart", port, "restart", [be[0]])
    try:
        D.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg)
        pid = D.lb_pid()
        expect(pid, "no haneul-lb")
        # A request in flight while haneuld is killed: it completes.
        res = []
        th = threading.Thread(target=lambda: res.append(get(addr, port, "/slow?ms=2000")))
        th.start()
        time.sleep(0.5)
        D.kill9()
        ok = sum(get(addr, port, "/k")[0] == 200 for _ in range(10))
        th.join(20)
        expect(ok == 10 and res and res[0][0] == 200, "served while haneuld was down: %d/10, %s" % (ok, res))
        D.start()
        expect(D.lb_pid() == pid, "haneul-lb was replaced (%s -> %s)" % (pid, D.lb_pid()))
        wait_for(lambda: "adopted haneul-lb" in D.logtail(4000), 10, "adoption logged")
        D.aws("elbv2", "modify-target-group", "--target-group-arn", tg, "--health-check-path", "/health")
        expect(get(addr, port, "/after")[0] == 200, "after restart")
        # haneul-lb itself dies: haneuld starts a new one and pushes the configuration.
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: D.lb_pid() not in (None, pid), 20, "a new haneul-lb")
        wait_for(lambda: _can_connect(addr, port) and get(addr, port, "/again")[0] == 200, 60, "serving again")
    finally:
        delete_alb(lb, tg)


@case
def elbv2_boto3_and_lb_stops_when_empty():
    import boto3
    c = boto3.client("elbv2", endpoint_url=D.ep, region_name=REGION, aws_access_key_id=D.key[0],
                     aws_secret_access_key=D.key[1])
    tg = c.create_target_group(Name="b3", Protocol="HTTP", Port=80, VpcId=D.vpc, TargetType="ip")["TargetGroups"][0]
    lb = c.create_load_balancer(Name="b3", Subnets=D.subnets[:2])["LoadBalancers"][0]
    c.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]])
    pages = list(c.get_paginator("describe_target_groups").paginate(PaginationConfig={"PageSize": 1}))
    expect(sum(len(p["TargetGroups"]) for p in pages) >= 1, pages)
    try:
        c.describe_listeners(ListenerArns=["arn:aws:elasticloadbalancing:%s:1:listener/app/x/1/2" % REGION])
        raise AssertionError("no error")
    except c.exceptions.ListenerNotFoundException:
        pass
    expect(D.lb_pid(), "haneul-lb not running")
    c.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    c.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    wait_for(lambda: D.lb_pid() is None and not D.aws("elbv2", "describe-target-groups")["TargetGroups"], 15,
             "haneul-lb stopped once nothing is left")


# ---- Auto Scaling ------------------------------------------------------------------------

def tiny_ami():
    return D.aws("ec2", "describe-images", "--filters", "Name=name,Values=haneul-tiny")["Images"][0]["ImageId"]


def group(name="web"):
    g = D.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name)["AutoScalingGroups"]
    return g[0] if g else None


def in_service(name="web"):
    g = group(name)
    return [i for i in g["Instances"] if i["LifecycleState"] == "InService"] if g else []


def activities(name="web"):
    return D.aws("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", name)["Activities"]


FLEET = {}


def fleet():
    """The shared fleet: launch template, ALB + instance target group, and
    group 'web' (min 2, max 4, ELB health checks)."""
    if FLEET:
        return FLEET
    ami = tiny_ami()
    D.aws("ec2", "create-launch-template", "--launch-template-name", "web", "--launch-template-data",
          json.dumps({"ImageId": ami, "InstanceType": "t3.micro"}))
    v = D.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "web")["LaunchTemplateVersions"]
    expect(v[0]["LaunchTemplateData"]["ImageId"] == ami and v[0]["DefaultVersion"], v)
    tg = D.aws("elbv2", "create-target-group", "--name", "web", "--protocol", "HTTP", "--port", "80", "--vpc-id",
               D.vpc, "--health-check-path", "/health", "--health-check-interval-seconds", "5",
               "--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2",
               "--unhealthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    D.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg, "--attributes",
          "Key=deregistration_delay.timeout_seconds,Value=5")
    lbd = D.aws("elbv2", "create-load-balancer", "--name", "web", "--subnets", *D.subnets)["LoadBalancers"][0]
    port = free_port()
    D.aws("elbv2", "create-listener", "--load-balancer-arn", lbd["LoadBalancerArn"], "--protocol", "HTTP", "--port",
          str(port), "--default-actions", "Type=forward,TargetGroupArn=" + tg)
    D.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "web", "--launch-template",
          "LaunchTemplateName=web", "--min-size", "2", "--max-size", "4", "--target-group-arns", tg,
          "--health-check-type", "ELB", "--health-check-grace-period", "15", "--default-instance-warmup", "4",
          "--vpc-zone-identifier", ",".join(D.subnets))
    FLEET.update(tg=tg, lb=lbd["LoadBalancerArn"], port=port,
                 addr=lbd["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"])
    return FLEET


def healthy_ids(tg):
    return sorted(h["Target"]["Id"] for h in health(tg) if h["TargetHealth"]["State"] == "healthy")


def settle(n, secs=180):
    """Waits for n InService instances that are all healthy targets."""
    f = fleet()

    def ok():
        ins = sorted(i["InstanceId"] for i in in_service())
        g = group()
        return len(ins) == n and len(g["Instances"]) == n and healthy_ids(f["tg"]) == ins and ins
    return wait_for(ok, secs, "%d healthy InService instances" % n, 1)


@case
def asg_validation_and_errors():
    f = fleet()
    code, msg = D.aws_err("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "bad",
                          "--launch-template", "LaunchTemplateName=web", "--min-size", "3", "--max-size", "2",
                          "--vpc-zone-identifier", D.subnets[0])
    expect(code == "ValidationError" and "Max bound, 2, must be greater than or equal to min bound, 3" in msg, msg)
    code, msg = D.aws_err("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "bad",
                          "--launch-template", "LaunchTemplateName=web", "--min-size", "1", "--max-size", "2",
                          "--desired-capacity", "3", "--vpc-zone-identifier", D.subnets[0])
    expect(code == "ValidationError" and "Desired capacity:3" in msg, msg)
    code, _ = D.aws_err("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "bad",
                        "--launch-template", "LaunchTemplateName=nope", "--min-size", "0", "--max-size", "1",
                        "--vpc-zone-identifier", D.subnets[0])
    expect(code == "ValidationError", code)
    code, _ = D.aws_err("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "web",
                        "--launch-template", "LaunchTemplateName=web", "--min-size", "0", "--max-size", "1",
                        "--vpc-zone-identifier", D.subnets[0])
    expect(code == "AlreadyExists", code)
    code, msg = D.aws_err("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web",
                          "--desired-capacity", "5")
    expect(code == "ValidationError" and "above max value 4" in msg, msg)
    code, _ = D.aws_err("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "web")
    expect(code == "ResourceInUse", code)
    code, _ = D.aws_err("ec2", "create-launch-template", "--launch-template-name", "web", "--launch-template-data",
                        '{"InstanceType":"t3.micro"}')
    expect(code == "InvalidLaunchTemplateName.AlreadyExistsException", code)
    code, _ = D.aws_err("elbv2", "delete-target-group", "--target-group-arn", f["tg"])
    expect(code == "ResourceInUse", code)


@case
def asg_spread_over_azs_and_targets():
    f = fleet()
    ids = settle(2)
    g = group()
    azs = {i["AvailabilityZone"] for i in g["Instances"]}
    expect(len(azs) == 2, "instances in %s" % azs)
    expect(g["DesiredCapacity"] == 2 and g["HealthCheckType"] == "ELB" and g["TargetGroupARNs"] == [f["tg"]], g)
    seen = set()
    for _ in range(10):
        st, body = get(f["addr"], f["port"], "/")
        expect(st == 200, (st, body))
        seen.add(body.strip())
    expect(sorted(seen) == ids, "answered by %s, group %s" % (seen, ids))
    acts = activities()
    expect(len(acts) >= 2 and all(a["StatusCode"] == "Successful" for a in acts[:2]), acts)
    expect(acts[-1]["Description"].startswith("Launching a new EC2 instance: i-") and
           "a user request created an AutoScalingGroup changing the desired capacity from 0 to 2" in acts[-1]["Cause"],
           acts[-1])
    tags = D.aws("ec2", "describe-tags", "--filters", "Name=resource-id,Values=" + ids[0])["Tags"]
    expect({"Key": "aws:autoscaling:groupName", "Value": "web"} in [{"Key": t["Key"], "Value": t["Value"]}
                                                                   for t in tags], tags)


@case
def asg_killed_vmm_is_replaced():
    f = fleet()
    ids = settle(2)
    victim = ids[0]
    pid = int(open(os.path.join(D.data, "ec2", victim, "vmm.pid")).read())
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: (lambda s: s if len(s) == 2 and victim not in s else None)(settle_ids()), 180,
                   "a replacement for " + victim, 1)
    expect(victim not in new, new)
    settle(2)
    causes = [a["Cause"] for a in activities() if victim in a["Description"]]
    expect(any("EC2 health check" in c for c in causes), causes)
    st = D.aws("ec2", "describe-instances", "--instance-ids", victim)["Reservations"][0]["Instances"][0]["State"]
    expect(st["Name"] in ("shutting-down", "terminated"), st)
    expect(get(f["addr"], f["port"], "/")[0] == 200, "serving")


def settle_ids():
    return sorted(i["InstanceId"] for i in in_service())


@case
def asg_protection_and_scale_in_choice():
    settle(2)
    n = len(D.subnets)  # the default VPC: one subnet per AZ
    D.aws("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web", "--desired-capacity", str(n + 1))
    ids = settle(n + 1)
    g = group()
    by_az = {}
    for i in g["Instances"]:
        by_az.setdefault(i["AvailabilityZone"], []).append(i["InstanceId"])
    full = [v for v in by_az.values() if len(v) == 2]
    expect(len(by_az) == n and len(full) == 1, "%d instances not spread over %d AZs: %s" % (n + 1, n, by_az))
    # Protect the older instance of the fullest AZ: scale-in must take the other one.
    launch = {a["Description"].split(": ")[1]: a["StartTime"] for a in activities()
              if a["Description"].startswith("Launching a new EC2 instance: ")}
    pair = sorted(full[0], key=lambda i: launch.get(i, ""))
    D.aws("autoscaling", "set-instance-protection", "--auto-scaling-group-name", "web", "--instance-ids", pair[0],
          "--protected-from-scale-in")
    expect([i["ProtectedFromScaleIn"] for i in group()["Instances"] if i["InstanceId"] == pair[0]] == [True], "flag")
    code, _ = D.aws_err("autoscaling", "set-instance-protection", "--auto-scaling-group-name", "web",
                        "--instance-ids", "i-0000000000000dead", "--protected-from-scale-in")
    expect(code == "ValidationError", code)
    D.aws("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web", "--desired-capacity", str(n))
    left = settle(n)
    expect(pair[0] in left and pair[1] not in left, "scale-in took %s (protected %s, pair %s)" %
           (set(ids) - set(left), pair[0], pair))
    term = [a for a in activities() if a["Description"] == "Terminating EC2 instance: " + pair[1]]
    expect(term and ("explicitly set group desired capacity changing the desired capacity from %d to %d" % (n + 1, n))
           in term[0]["Cause"] and "was selected for termination" in term[0]["Cause"], term)
    D.aws("autoscaling", "set-instance-protection", "--auto-scaling-group-name", "web", "--instance-ids", pair[0],
          "--no-protected-from-scale-in")
    D.aws("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "web", "--desired-capacity", "2")
    settle(2)


@case
def asg_cpu_load_scales_out_to_max_and_back_in():
    f = fleet()
    settle(2)
    r = D.aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "web", "--policy-name", "cpu50",
              "--policy-type", "TargetTrackingScaling", "--target-tracking-configuration",
              '{"PredefinedMetricSpecification":{"PredefinedMetricType":"ASGAverageCPUUtilization"},"TargetValue":50}')
    expect(len(r["Alarms"]) == 2 and r["PolicyARN"].startswith("arn:aws:autoscaling:"), r)
    p = D.aws("autoscaling", "describe-policies", "--auto-scaling-group-name", "web")["ScalingPolicies"]
    expect(p[0]["TargetTrackingConfiguration"]["TargetValue"] == 50.0, p)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                get(f["addr"], f["port"], "/burn?ms=300", timeout=30)
            except OSError:
                time.sleep(0.1)
    ths = [threading.Thread(target=load, daemon=True) for _ in range(5)]
    t0 = time.time()
    for t in ths:
        t.start()
    try:
        wait_for(lambda: group()["DesiredCapacity"] == 4, 240, "scale-out to max", 2)
        t_out = time.time() - t0
        settle(4, 240)
    finally:
        stop.set()
        for t in ths:
            t.join(40)
    t1 = time.time()
    wait_for(lambda: group()["DesiredCapacity"] == 2, 300, "scale-in to min", 2)
    t_in = time.time() - t1
    settle(2, 180)
    causes = " ".join(a["Cause"] for a in activities())
    expect("AlarmHigh" in causes and "AlarmLow" in causes and "triggered policy cpu50" in causes, causes[:500])
    dp = D.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", "CPUUtilization",
               "--dimensions", "Name=AutoScalingGroupName,Value=web", "--statistics", "Maximum", "--period", "60",
               "--start-time", str(int(t0) - 60), "--end-time", str(int(time.time()) + 60))["Datapoints"]
    expect(dp and max(d["Maximum"] for d in dp) > 50, dp)
    D.aws("autoscaling", "delete-policy", "--auto-scaling-group-name", "web", "--policy-name", "cpu50")
    print("INFO: scale-out after %.0f s (%.1f periods of %d s), scale-in after %.0f s (%.1f periods)" %
          (t_out, t_out / PERIOD, PERIOD, t_in, t_in / PERIOD), flush=True)


@case
def asg_haneuld_restart_keeps_group_and_lb():
    f = fleet()
    ids = settle(2)
    pid = D.lb_pid()
    launches = len([a for a in activities() if a["Description"].startswith("Launching")])
    D.kill9()
    for _ in range(6):
        expect(get(f["addr"], f["port"], "/")[0] == 200, "LB stopped serving while haneuld was down")
    D.start()
    time.sleep(3 * PERIOD)
    expect(settle(2) == ids, "group changed across the restart")
    expect(D.lb_pid() == pid, "haneul-lb replaced")
    expect(len([a for a in activities() if a["Description"].startswith("Launching")]) == launches,
           "instances were launched across the restart")
    seen = {get(f["addr"], f["port"], "/")[1].strip() for _ in range(8)}
    expect(sorted(seen) == ids, seen)


@case
def asg_force_delete():
    f = fleet()
    ids = settle(2)
    D.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "web", "--force-delete")
    wait_for(lambda: group() is None, 120, "group deleted", 1)
    for i in ids:
        st = D.aws("ec2", "describe-instances", "--instance-ids", i)["Reservations"][0]["Instances"][0]["State"]
        expect(st["Name"] in ("shutting-down", "terminated"), (i, st))
    delete_alb(f["lb"], f["tg"])
    D.aws("ec2", "delete-launch-template", "--launch-template-name", "web")
    FLEET.clear()


def _openssl_pair(d, name):
    """A self-signed certificate + key made by the openssl CLI: (cert_path, key_path)."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s.haneul.test" % name, "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@case
def elbv2_https_listener_with_iam_certificate():
    """IAM server certificates (upload/list/get/delete) and an HTTPS ALB listener."""
    if not shutil.which("openssl") or not shutil.which("curl"):
        raise Skip("openssl or curl missing")
    root = dict(D.env, AWS_SHARED_CREDENTIALS_FILE=os.path.join(D.tmp, "root-creds"))
    crt, key = _openssl_pair(D.tmp, "web")
    _, key2 = _openssl_pair(D.tmp, "other")
    up = ["iam", "upload-server-certificate", "--server-certificate-name", "web",
          "--certificate-body", "file://" + crt]
    # The fleet user has no IAM policy: the policy engine refuses it.
    rc, _, err = D.aws(*up, "--private-key", "file://" + key, check=False)
    expect(rc != 0 and "AccessDenied" in err, "upload as a user without IAM rights: rc %d %s" % (rc, err))
    rc, _, err = D.aws(*up, "--private-key", "file://" + key2, env=root, check=False)
    expect(rc != 0 and "KeyPairMismatch" in err, "mismatched key: rc %d %s" % (rc, err))
    rc, _, err = D.aws("iam", "upload-server-certificate", "--server-certificate-name", "junk",
                       "--certificate-body", "not a certificate", "--private-key", "file://" + key,
                       env=root, check=False)
    expect(rc != 0 and "MalformedCertificate" in err, "junk body: rc %d %s" % (rc, err))
    meta = D.aws(*up, "--private-key", "file://" + key, env=root)["ServerCertificateMetadata"]
    arn = meta["Arn"]
    expect(re.fullmatch(r"arn:aws:iam::\d{12}:server-certificate/web", arn) and meta["Expiration"], meta)
    rc, _, err = D.aws(*up, "--private-key", "file://" + key, env=root, check=False)
    expect(rc != 0 and "EntityAlreadyExists" in err, "duplicate name: rc %d %s" % (rc, err))
    lst = D.aws("iam", "list-server-certificates", env=root)["ServerCertificateMetadataList"]
    expect([m["Arn"] for m in lst] == [arn], lst)
    got = D.aws("iam", "get-server-certificate", "--server-certificate-name", "web", env=root)["ServerCertificate"]
    expect(got["CertificateBody"].strip() == open(crt).read().strip() and "PrivateKey" not in got, got.keys())
    rc, _, err = D.aws("iam", "get-server-certificate", "--server-certificate-name", "nope", env=root, check=False)
    expect(rc != 0 and "NoSuchEntity" in err, err)
    key_pem = open(key).read().split("-----")[2].strip()[:40]
    with open(os.path.join(D.data, "state.db"), "rb") as f:
        expect(key_pem.encode() not in f.read(), "private key stored in clear in state.db")

    back = D.backend("tls")
    port = free_port()
    lb, tg, addr = make_alb("tls", free_port(), "tls", [back[0]])
    try:
        code, _ = D.aws_err("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS",
                            "--port", str(port), "--default-actions", "Type=forward,TargetGroupArn=" + tg)
        expect(code == "ValidationError", code)
        code, _ = D.aws_err("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS",
                            "--port", str(port), "--certificates", "CertificateArn=" + arn + "x",
                            "--default-actions", "Type=forward,TargetGroupArn=" + tg)
        expect(code == "CertificateNotFound", code)
        code, _ = D.aws_err("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS",
                            "--port", str(port), "--certificates", "CertificateArn=" + arn, "--ssl-policy", "Nope",
                            "--default-actions", "Type=forward,TargetGroupArn=" + tg)
        expect(code == "SSLPolicyNotFound", code)
        l = D.aws("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTPS",
                  "--port", str(port), "--certificates", "CertificateArn=" + arn,
                  "--default-actions", "Type=forward,TargetGroupArn=" + tg)["Listeners"][0]
        expect(l["Protocol"] == "HTTPS" and l["Certificates"] == [{"CertificateArn": arn}] and
               l["SslPolicy"] == "ELBSecurityPolicy-2016-08", l)
        d = [x for x in D.aws("elbv2", "describe-listeners", "--load-balancer-arn", lb)["Listeners"]
             if x["Protocol"] == "HTTPS"]
        expect(len(d) == 1 and d[0]["Certificates"] == [{"CertificateArn": arn}], d)
        kf = [os.path.join(D.data, "certs", f) for f in os.listdir(os.path.join(D.data, "certs"))
              if f.endswith(".key")]
        expect(len(kf) == 1 and os.stat(kf[0]).st_mode & 0o777 == 0o600, kf)
        wait_for(lambda: states(tg).get(("127.0.0.1", back[0])) == "healthy", 60, "backend healthy")

        def curl():
            p = subprocess.run(["curl", "-sk", "--max-time", "10", "https://%s:%d/echo" % (addr, port)],
                               capture_output=True, text=True, timeout=30)
            return p.stdout if p.returncode == 0 and "backend: tls" in p.stdout else None
        out = wait_for(curl, 30, "an HTTPS answer through the backend")
        expect(re.search(r"(?im)^x-forwarded-proto: https$", out), out)
        p = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (addr, port)], input="",
                           capture_output=True, text=True, timeout=30)
        expect("CN = web.haneul.test" in p.stdout or "CN=web.haneul.test" in p.stdout, p.stdout[-500:])
        rc, _, err = D.aws("iam", "delete-server-certificate", "--server-certificate-name", "web",
                           env=root, check=False)
        expect(rc != 0 and "DeleteConflict" in err, "delete while in use: rc %d %s" % (rc, err))
        m = D.aws("elbv2", "modify-listener", "--listener-arn", l["ListenerArn"],
                  "--ssl-policy", "ELBSecurityPolicy-TLS13-1-2-2021-06")["Listeners"][0]
        expect(m["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06" and m["Protocol"] == "HTTPS", m)
        m = D.aws("elbv2", "modify-listener", "--listener-arn", l["ListenerArn"], "--protocol", "HTTP")["Listeners"][0]
        expect(m["Protocol"] == "HTTP" and "Certificates" not in m, m)
        wait_for(lambda: get(addr, port, "/echo")[0] == 200, 30, "plain HTTP after modify-listener")
    finally:
        delete_alb(lb, tg)
    D.aws("iam", "delete-server-certificate", "--server-certificate-name", "web", env=root)
    expect(D.aws("iam", "list-server-certificates", env=root)["ServerCertificateMetadataList"] == [], "left")


def main():
    global D
    only = set(sys.argv[3:])
    cases = [c for c in CASES if c.__name__.startswith(GROUP + "_") and (not only or c.__name__ in only)]
    try:
        D = Daemon()
    except Exception as e:  # noqa: BLE001
        for c in cases:
            print("FAIL: %s: haneuld setup: %s" % (c.__name__, e))
        return
    failed = False
    try:
        for c in cases:
            try:
                c()
                print("PASS: %s" % c.__name__, flush=True)
            except Skip as e:
                print("SKIP: %s: %s" % (c.__name__, e), flush=True)
            except Exception as e:  # noqa: BLE001
                failed = True
                print("FAIL: %s: %s" % (c.__name__, str(e).replace("\n", " ")[:600]), flush=True)
                if os.environ.get("FLEET_DEBUG"):
                    traceback.print_exc()
                    print(D.logtail(3000))
    finally:
        if failed and os.environ.get("FLEET_KEEP"):
            print("kept", D.tmp)
        else:
            D.cleanup()


if __name__ == "__main__":
    main()
