#!/usr/bin/python3
"""tests/integration/ec2_cases.py - EC2 on haneul end to end: a real haneuld
on a free loopback port, real haneul-vmm microVMs running the tiny guest on
the local /dev/kvm, driven with the real AWS CLI (/usr/bin/aws) and boto3.

Run by test_ec2_lifecycle.sh (which checks /dev/kvm and the tools first).
One PASS/FAIL/SKIP line per case.  No durations are asserted.

  ec2_cases.py BUILD_DIR [CASE ...]
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import boto3
import botocore.config
import botocore.exceptions

AWS = "/usr/bin/aws"
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
HANEULD = os.path.join(BUILD, "haneuld")
HANEUL = os.path.join(BUILD, "haneul")
REGION = "ap-northeast-2"
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


class Daemon:
    """haneuld on 127.0.0.1:0 with a temp data dir; an IAM user with
    AmazonEC2FullAccess is the default profile of a temp AWS config."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="haneul-ec2.")
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
            self.env.pop(k, None)
        self.env.update(AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "credentials"),
                        AWS_CONFIG_FILE=os.path.join(self.tmp, "config"), AWS_DEFAULT_REGION=REGION,
                        AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
        with open(self.env["AWS_CONFIG_FILE"], "w") as f:
            f.write("[default]\nregion = %s\ncli_pager =\n" % REGION)
        try:
            self._setup()
        except BaseException:
            self.cleanup()
            raise

    def _setup(self):
        self.start()
        root = os.path.join(self.tmp, "root-creds")
        shutil.copy(os.path.join(self.data, "root-credentials"), root)
        renv = dict(self.env, AWS_SHARED_CREDENTIALS_FILE=root)
        self.aws("iam", "create-user", "--user-name", "ec2user", env=renv)
        self.aws("iam", "attach-user-policy", "--user-name", "ec2user", "--policy-arn",
                 "arn:aws:iam::aws:policy/AmazonEC2FullAccess", env=renv)
        k = self.aws("iam", "create-access-key", "--user-name", "ec2user", env=renv)["AccessKey"]
        self.key = (k["AccessKeyId"], k["SecretAccessKey"])
        with open(self.env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % self.key)

    def start(self):
        ep = os.path.join(self.data, "endpoint")
        if os.path.exists(ep):
            os.unlink(ep)
        self.log = open(self.data + ".log", "ab")
        self.proc = subprocess.Popen([HANEULD, "--data-dir", self.data, "--listen", "127.0.0.1:0",
                                      "--stop-timeout", "10"], stdout=self.log, stderr=self.log)
        for _ in range(200):
            if os.path.exists(ep) and os.path.getsize(ep) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("haneuld exited: %s" % self.logtail())
            time.sleep(0.05)
        self.ep = open(ep).read().strip()
        self._ec2 = None

    def logtail(self, n=2000):
        try:
            return open(self.data + ".log", errors="replace").read()[-n:]
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def aws(self, *args, env=None, check=True):
        """Runs the AWS CLI; JSON output parsed.  check=False returns
        (rc, stdout, stderr)."""
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

    @property
    def ec2(self):
        if not self._ec2:
            self._ec2 = boto3.client("ec2", endpoint_url=self.ep, region_name=REGION,
                                     aws_access_key_id=self.key[0], aws_secret_access_key=self.key[1],
                                     config=botocore.config.Config(retries={"max_attempts": 1}))
        return self._ec2

    def run_dir(self, iid):
        return os.path.join(self.data, "ec2", iid)

    def vmm_pid(self, iid):
        try:
            return int(open(os.path.join(self.run_dir(iid), "vmm.pid")).read())
        except (OSError, ValueError):
            return 0

    def kill_vmms(self):
        root = os.path.join(self.data, "ec2")
        for d in os.listdir(root) if os.path.isdir(root) else []:
            pid = self.vmm_pid(d)
            try:
                if pid and b"haneul-vmm" in open("/proc/%d/cmdline" % pid, "rb").read():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.kill_vmms()
        # The VPC namespace outlives haneuld (VMMs use it): remove it here.
        for ns in set(re.findall(r"default VPC in network namespace (\S+)", self.logtail(10 ** 7))):
            try:
                subprocess.run([os.path.join(BUILD, "haneul-net"), "vpc-delete", ns], capture_output=True, timeout=60)
            except OSError as e:
                print("warning: cannot delete VPC namespace %s: %s" % (ns, e), file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


D = None


class Skip(Exception):
    pass


def inst(iid):
    """DescribeInstances through boto3 (in-process: cheap enough to poll)."""
    r = D.ec2.describe_instances(InstanceIds=[iid])
    return r["Reservations"][0]["Instances"][0]


def state(iid):
    return inst(iid)["State"]["Name"]


def wait_state(iid, want, timeout=60):
    end = time.time() + timeout
    s = None
    while time.time() < end:
        s = state(iid)
        if s == want:
            return
        time.sleep(0.1)
    raise AssertionError("%s is %s, not %s, after %d s" % (iid, s, want, timeout))


def tiny_ami():
    r = D.aws("ec2", "describe-images", "--filters", "Name=name,Values=haneul-tiny")
    expect(len(r["Images"]) == 1, "haneul-tiny not registered: %r" % r)
    return r["Images"][0]["ImageId"]


def run(*extra, count=1):
    r = D.aws("ec2", "run-instances", "--image-id", tiny_ami(), "--instance-type", "t3.micro",
              "--count", str(count), *extra)
    return [i["InstanceId"] for i in r["Instances"]], r


def console(iid):
    r = D.aws("ec2", "get-console-output", "--instance-id", iid)
    return r.get("Output", "")


def type_line(iid, line):
    """Types a line on the guest's serial console (DATA/ec2/ID/console.in)."""
    fifo = os.path.join(D.run_dir(iid), "console.in")
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, (line + "\r").encode())
    finally:
        os.close(fd)


def console_wait(iid, pattern, timeout=30, after=0):
    end = time.time() + timeout
    out = ""
    while time.time() < end:
        out = open(os.path.join(D.run_dir(iid), "console.log"), errors="replace").read()
        m = re.search(pattern, out[after:], re.M)
        if m:
            return m
        time.sleep(0.1)
    raise AssertionError("no %r on the console of %s: %r" % (pattern, iid, out[-400:]))


def ctl(iid, req):
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(os.path.join(D.run_dir(iid), "ctl.sock"))
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        buf += c
    s.close()
    return json.loads(buf)


# ---- images, types, regions ----------------------------------------------------

@case
def ec2_regions_and_zones():
    r = D.aws("ec2", "describe-regions")
    expect([x["RegionName"] for x in r["Regions"]] == [REGION], r)
    z = D.aws("ec2", "describe-availability-zones")["AvailabilityZones"]
    expect([x["ZoneName"] for x in z] == [REGION + c for c in "abc"], z)
    expect(all(x["State"] == "available" for x in z), z)


@case
def ec2_instance_types():
    r = D.aws("ec2", "describe-instance-types")["InstanceTypes"]
    got = {t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"]) for t in r}
    want = {"t3.nano": (2, 512), "t3.micro": (2, 1024), "t3.small": (2, 2048), "t3.medium": (2, 4096),
            "t3.large": (2, 8192), "t3.xlarge": (4, 16384), "t3.2xlarge": (8, 32768), "m5.large": (2, 8192),
            "c5.large": (2, 4096)}
    for k, v in want.items():
        expect(got.get(k) == v, "%s: %r" % (k, got.get(k)))
    one = D.aws("ec2", "describe-instance-types", "--instance-types", "c5.large")["InstanceTypes"]
    expect(len(one) == 1 and one[0]["InstanceType"] == "c5.large", one)
    code, msg = D.aws_err("ec2", "describe-instance-types", "--instance-types", "t9.huge")
    expect(code == "InvalidInstanceType", (code, msg))


@case
def ec2_images_builtin():
    ami = tiny_ami()
    im = D.aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]
    expect(im["State"] == "available" and im["RootDeviceType"] == "ebs" and im["Architecture"] == "x86_64", im)
    code, msg = D.aws_err("ec2", "describe-images", "--image-ids", "ami-00000000000000000")
    expect(code == "InvalidAMIID.NotFound" and "ami-00000000000000000" in msg, (code, msg))
    code, _ = D.aws_err("ec2", "deregister-image", "--image-id", ami)
    expect(code == "InvalidAMIID.Unavailable", code)


@case
def ec2_register_deregister_image():
    tiny = os.path.join(BUILD, "images/tiny/tiny.elf")
    r = D.aws("ec2", "register-image", "--name", "my-tiny", "--kernel-id", tiny, "--description", "mine")
    ami = r["ImageId"]
    im = D.aws("ec2", "describe-images", "--owners", "self")["Images"]
    expect([x["ImageId"] for x in im] == [ami] and im[0]["Name"] == "my-tiny", im)
    code, _ = D.aws_err("ec2", "register-image", "--name", "my-tiny", "--kernel-id", tiny)
    expect(code == "InvalidAMIName.Duplicate", code)
    code, _ = D.aws_err("ec2", "register-image", "--name", "bad", "--kernel-id", "/nonexistent/vmlinuz")
    expect(code == "InvalidParameterValue", code)
    D.aws("ec2", "deregister-image", "--image-id", ami)
    code, _ = D.aws_err("ec2", "describe-images", "--image-ids", ami)
    expect(code == "InvalidAMIID.NotFound", code)


# ---- the lifecycle ----------------------------------------------------------------

S = {}  # state shared by the lifecycle cases


@case
def ec2_run_pending_then_running():
    ids, r = run("--placement", "AvailabilityZone=%sb" % REGION, "--tag-specifications",
                 "ResourceType=instance,Tags=[{Key=Name,Value=web1},{Key=env,Value=dev}]",
                 "--user-data", "echo hi")
    i = r["Instances"][0]
    expect(i["State"] == {"Code": 0, "Name": "pending"}, i["State"])
    expect(i["Placement"]["AvailabilityZone"] == REGION + "b", i["Placement"])
    expect({t["Key"]: t["Value"] for t in i["Tags"]} == {"Name": "web1", "env": "dev"}, i["Tags"])
    S["a"] = ids[0]
    D.aws("ec2", "wait", "instance-running", "--instance-ids", ids[0])
    x = inst(ids[0])
    expect(x["State"] == {"Code": 16, "Name": "running"}, x["State"])
    expect(x["PublicIpAddress"].startswith("127.100."), x.get("PublicIpAddress"))
    sub = D.aws("ec2", "describe-subnets", "--filters", "Name=availability-zone,Values=%sb" % REGION)["Subnets"][0]
    S["subnet_b"] = sub["CidrBlock"].rsplit(".", 2)[0] + "."
    expect(x["PrivateIpAddress"].startswith(S["subnet_b"]) and x["SubnetId"] == sub["SubnetId"],
           (x["PrivateIpAddress"], sub))
    ud = D.aws("ec2", "describe-instance-attribute", "--instance-id", ids[0], "--attribute", "userData")
    expect(base64.b64decode(ud["UserData"]["Value"]) == b"echo hi", ud)
    # Running means the guest said READY, not just that a process exists.
    expect("haneul-ready" in console(ids[0]), "no readiness marker on the console")


@case
def ec2_console_output():
    out = console(S["a"])
    expect(out.startswith("\nhaneul tiny guest") or "haneul tiny guest" in out, out[:200])
    type_line(S["a"], "cmdline")
    console_wait(S["a"], r"instance_id: %s" % S["a"])
    expect(S["a"] in console(S["a"]), "instance id not in the console output")
    # UserData reached the guest (haneul.user_data= on its command line).
    type_line(S["a"], "userdata")
    m = console_wait(S["a"], r"^userdata: (\S+)")
    expect(base64.b64decode(m.group(1)) == b"echo hi", m.group(0))


@case
def ec2_user_data_limit_and_bytes():
    """1024 bytes of binary user data (haneul's limit) arrive byte for byte;
    1025 are refused with EC2's error."""
    blob = bytes((i * 7 + 3) % 256 for i in range(1024))
    f = os.path.join(D.tmp, "ud.bin")
    with open(f, "wb") as fh:
        fh.write(blob + b"x")
    code, msg = D.aws_err("ec2", "run-instances", "--image-id", tiny_ami(), "--user-data", "fileb://" + f)
    expect(code == "InvalidParameterValue" and msg == "User data is limited to 1024 bytes", (code, msg))
    with open(f, "wb") as fh:
        fh.write(blob)
    ids, _ = run("--user-data", "fileb://" + f)
    try:
        wait_state(ids[0], "running")
        type_line(ids[0], "userdata")
        m = console_wait(ids[0], r"^userdata: (\S+)")
        expect(base64.b64decode(m.group(1)) == blob, "user data changed on the way: %r" % m.group(1)[:80])
        ud = D.aws("ec2", "describe-instance-attribute", "--instance-id", ids[0], "--attribute", "userData")
        expect(base64.b64decode(ud["UserData"]["Value"]) == blob, "DescribeInstanceAttribute userData")
    finally:
        D.aws("ec2", "terminate-instances", "--instance-ids", ids[0])


@case
def ec2_describe_filters():
    a = S["a"]
    def ids(*args):
        r = D.aws("ec2", "describe-instances", *args)
        return sorted(i["InstanceId"] for res in r["Reservations"] for i in res["Instances"])
    expect(ids("--filters", "Name=tag:Name,Values=web1") == [a], "tag filter")
    expect(ids("--filters", "Name=tag:Name,Values=web*") == [a], "tag wildcard")
    expect(a not in ids("--filters", "Name=tag:Name,Values=nope"), "tag filter negative")
    expect(a in ids("--filters", "Name=availability-zone,Values=%sb" % REGION), "az filter")
    expect(a not in ids("--filters", "Name=availability-zone,Values=%sa" % REGION), "az filter negative")
    expect(a in ids("--filters", "Name=instance-type,Values=t3.micro", "Name=instance-state-name,Values=running"),
           "type+state filter")
    expect(a not in ids("--filters", "Name=instance-state-name,Values=stopped"), "state filter negative")
    code, msg = D.aws_err("ec2", "describe-instances", "--instance-ids", "i-0000000000000dead")
    expect(code == "InvalidInstanceID.NotFound" and "i-0000000000000dead" in msg, (code, msg))
    code, _ = D.aws_err("ec2", "describe-instances", "--filters", "Name=bogus,Values=x")
    expect(code == "InvalidParameterValue", code)


@case
def ec2_tags():
    a = S["a"]
    D.aws("ec2", "create-tags", "--resources", a, "--tags", "Key=team,Value=blue")
    t = D.aws("ec2", "describe-tags", "--filters", "Name=resource-id,Values=%s" % a)["Tags"]
    expect({x["Key"]: x["Value"] for x in t} == {"Name": "web1", "env": "dev", "team": "blue"}, t)
    expect(all(x["ResourceType"] == "instance" for x in t), t)
    D.aws("ec2", "delete-tags", "--resources", a, "--tags", "Key=team")
    t = D.aws("ec2", "describe-tags", "--filters", "Name=resource-id,Values=%s" % a, "Name=key,Values=team")["Tags"]
    expect(t == [], t)
    code, _ = D.aws_err("ec2", "create-tags", "--resources", "i-00000000000000bad", "--tags", "Key=a,Value=b")
    expect(code == "InvalidInstanceID.NotFound", code)


@case
def ec2_reboot_keeps_public_ip():
    a = S["a"]
    ip = inst(a)["PublicIpAddress"]
    n = len(open(os.path.join(D.run_dir(a), "console.log"), errors="replace").read())
    D.aws("ec2", "reboot-instances", "--instance-ids", a)
    console_wait(a, r"haneul-ready", after=n)
    x = inst(a)
    expect(x["State"]["Name"] == "running" and x["PublicIpAddress"] == ip, (x["State"], x.get("PublicIpAddress"), ip))
    S["ip"] = ip


@case
def ec2_stop_graceful():
    a = S["a"]
    r = D.aws("ec2", "stop-instances", "--instance-ids", a)["StoppingInstances"][0]
    expect(r["PreviousState"]["Name"] == "running" and r["CurrentState"] == {"Code": 64, "Name": "stopping"}, r)
    D.aws("ec2", "wait", "instance-stopped", "--instance-ids", a)
    x = inst(a)
    expect(x["State"] == {"Code": 80, "Name": "stopped"}, x["State"])
    expect(x["StateReason"]["Code"] == "Client.UserInitiatedShutdown", x.get("StateReason"))
    expect(x["StateTransitionReason"].startswith("User initiated ("), x["StateTransitionReason"])
    expect("PublicIpAddress" not in x, x.get("PublicIpAddress"))
    log = open(os.path.join(D.run_dir(a), "console.log"), errors="replace").read()
    expect("tiny: shutdown requested" in log, "the guest was not asked to shut down: %r" % log[-300:])
    expect(open(os.path.join(D.run_dir(a), "exit")).read().strip() == "0", "VMM exit status not 0")
    # The console is still there with the VMM gone (from console.log).
    expect("shutdown requested" in console(a), "console output lost after stop")


@case
def ec2_illegal_transitions():
    a = S["a"]
    r = D.aws("ec2", "stop-instances", "--instance-ids", a)["StoppingInstances"][0]
    expect(r["PreviousState"]["Name"] == "stopped" and r["CurrentState"]["Name"] == "stopped", r)
    code, msg = D.aws_err("ec2", "reboot-instances", "--instance-ids", a)
    expect(code == "IncorrectInstanceState", (code, msg))
    code, msg = D.aws_err("ec2", "start-instances", "--instance-ids", a, "i-0000000000000dead")
    expect(code == "InvalidInstanceID.NotFound", (code, msg))
    expect(state(a) == "stopped", "a failed call changed the state")


@case
def ec2_modify_type_when_stopped():
    a = S["a"]
    D.aws("ec2", "modify-instance-attribute", "--instance-id", a, "--instance-type", "Value=t3.small")
    expect(inst(a)["InstanceType"] == "t3.small", inst(a)["InstanceType"])
    code, _ = D.aws_err("ec2", "modify-instance-attribute", "--instance-id", a, "--instance-type", "Value=x9.big")
    expect(code == "InvalidParameterValue", code)


@case
def ec2_start_new_public_ip():
    a = S["a"]
    r = D.aws("ec2", "start-instances", "--instance-ids", a)["StartingInstances"][0]
    expect(r["PreviousState"]["Name"] == "stopped" and r["CurrentState"] == {"Code": 0, "Name": "pending"}, r)
    D.aws("ec2", "wait", "instance-running", "--instance-ids", a)
    x = inst(a)
    expect(x["PublicIpAddress"] != S["ip"], "public IP kept across stop/start: %s" % S["ip"])
    expect(x["PrivateIpAddress"].startswith(S["subnet_b"]), x["PrivateIpAddress"])
    r = D.aws("ec2", "start-instances", "--instance-ids", a)["StartingInstances"][0]
    expect(r["PreviousState"]["Name"] == "running" and r["CurrentState"]["Name"] == "running", r)
    code, msg = D.aws_err("ec2", "modify-instance-attribute", "--instance-id", a, "--instance-type", "Value=t3.nano")
    expect(code == "IncorrectInstanceState" and "'stopped'" in msg, (code, msg))


@case
def ec2_console_across_stop_start():
    """GetConsoleOutput keeps recent output across a stop/start (the VMM
    truncates its log at every start; haneuld keeps the previous tail)."""
    a = S["a"]
    out = console(a)
    expect("tiny: shutdown requested" in out, "output before the stop is gone: %r" % out[-300:])
    expect(out.rfind("haneul-ready tiny") > out.find("tiny: shutdown requested"),
           "the new start's output does not follow the old one: %r" % out[-300:])
    expect(len(out.encode()) <= 65536, "more than 64 KiB: %d" % len(out.encode()))


@case
def ec2_instance_status():
    a = S["a"]
    r = D.aws("ec2", "describe-instance-status", "--instance-ids", a)["InstanceStatuses"]
    expect(len(r) == 1 and r[0]["InstanceStatus"]["Status"] == "ok" and r[0]["SystemStatus"]["Status"] == "ok", r)


@case
def ec2_force_stop():
    a = S["a"]
    D.aws("ec2", "stop-instances", "--instance-ids", a, "--force")
    wait_state(a, "stopped")
    expect(open(os.path.join(D.run_dir(a), "exit")).read().strip() == "5", "a forced stop is exit status 5")
    D.aws("ec2", "start-instances", "--instance-ids", a)
    wait_state(a, "running")


@case
def ec2_guest_poweroff_stops():
    a = S["a"]
    type_line(a, "poweroff")
    wait_state(a, "stopped")
    x = inst(a)
    expect(x["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown", x.get("StateReason"))


@case
def ec2_guest_poweroff_terminates():
    ids, _ = run("--instance-initiated-shutdown-behavior", "terminate")
    b = ids[0]
    wait_state(b, "running")
    type_line(b, "poweroff")
    wait_state(b, "terminated")
    x = inst(b)
    expect(x["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown", x.get("StateReason"))


@case
def ec2_vmm_death_stops_with_server_reason():
    a = S["a"]
    D.aws("ec2", "start-instances", "--instance-ids", a)
    wait_state(a, "running")
    vol = inst(a)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    os.kill(D.vmm_pid(a), signal.SIGKILL)
    wait_state(a, "stopped")
    x = inst(a)
    expect(x["StateReason"]["Code"].startswith("Server."), x.get("StateReason"))
    v = D.aws("ec2", "describe-volumes", "--volume-ids", vol)["Volumes"][0]
    expect(v["State"] == "in-use" and v["Attachments"][0]["InstanceId"] == a, v)


@case
def ec2_terminate_stays_visible():
    a = S["a"]
    vol = inst(a)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    r = D.aws("ec2", "terminate-instances", "--instance-ids", a)["TerminatingInstances"][0]
    expect(r["PreviousState"]["Name"] == "stopped", r)
    D.aws("ec2", "wait", "instance-terminated", "--instance-ids", a)
    expect(state(a) == "terminated", "not terminated")
    r = D.aws("ec2", "terminate-instances", "--instance-ids", a)["TerminatingInstances"][0]
    expect(r["CurrentState"]["Name"] == "terminated", r)
    code, msg = D.aws_err("ec2", "start-instances", "--instance-ids", a)
    expect(code == "IncorrectInstanceState" and msg == "The instance '%s' is not in a state from which it can be "
           "started." % a, (code, msg))
    code, msg = D.aws_err("ec2", "stop-instances", "--instance-ids", a)
    expect(code == "IncorrectInstanceState" and msg == "This instance '%s' is not in a state from which it can be "
           "stopped." % a, (code, msg))
    code, _ = D.aws_err("ec2", "describe-volumes", "--volume-ids", vol)
    expect(code == "InvalidVolume.NotFound", "root volume with DeleteOnTermination survived")


@case
def ec2_terminate_running():
    ids, _ = run()
    wait_state(ids[0], "running")
    r = D.aws("ec2", "terminate-instances", "--instance-ids", ids[0])["TerminatingInstances"][0]
    expect(r["CurrentState"] == {"Code": 32, "Name": "shutting-down"}, r)
    wait_state(ids[0], "terminated")


@case
def ec2_min_max_count_and_client_token():
    r = D.aws("ec2", "run-instances", "--image-id", tiny_ami(), "--instance-type", "t3.nano", "--count", "2:3",
              "--client-token", "tok-1")
    ids = [i["InstanceId"] for i in r["Instances"]]
    expect(len(ids) == 3 and sorted(i["AmiLaunchIndex"] for i in r["Instances"]) == [0, 1, 2], r["Instances"])
    r2 = D.aws("ec2", "run-instances", "--image-id", tiny_ami(), "--instance-type", "t3.nano", "--count", "2:3",
               "--client-token", "tok-1")
    expect(r2["ReservationId"] == r["ReservationId"] and [i["InstanceId"] for i in r2["Instances"]] == ids,
           "ClientToken not idempotent")
    for i in ids:
        wait_state(i, "running")
    S["three"] = ids


@case
def boto3_pagination():
    seen, pages = [], 0
    for page in D.ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}):
        pages += 1
        seen += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    allids = [i["InstanceId"] for r in D.ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    expect(len(allids) > 5 and pages >= 2 and seen == allids and len(set(seen)) == len(seen), (pages, seen, allids))


@case
def boto3_errors_and_waiters():
    c = D.ec2
    try:
        c.run_instances(ImageId=tiny_ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, DryRun=True)
        raise AssertionError("DryRun succeeded")
    except botocore.exceptions.ClientError as e:
        expect(e.response["Error"]["Code"] == "DryRunOperation", e.response)
    for kw, code in ((dict(ImageId="ami-00000000000000000"), "InvalidAMIID.NotFound"),
                     (dict(ImageId=tiny_ami(), InstanceType="z1.nope"), "InvalidParameterValue"),
                     (dict(ImageId=tiny_ami(), Placement={"AvailabilityZone": "mars-1a"}), "InvalidParameterValue"),
                     (dict(ImageId=tiny_ami(), InstanceType="t3.small", HibernationOptions={"Configured": True}),
                      "UnsupportedHibernationConfiguration")):
        kw.setdefault("InstanceType", "t3.micro")
        try:
            c.run_instances(MinCount=1, MaxCount=1, **kw)
            raise AssertionError("run_instances(%r) succeeded" % kw)
        except botocore.exceptions.ClientError as e:
            expect(e.response["Error"]["Code"] == code, (kw, e.response["Error"]))
    ids = S["three"]
    c.stop_instances(InstanceIds=ids)
    c.get_waiter("instance_stopped").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    c.terminate_instances(InstanceIds=ids)
    c.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


# ---- networking --------------------------------------------------------------------------

def http_get(ip, timeout=20):
    """GET http://ip/ through haneuld's public-address forwarder; retried
    while the forwarder catches up with the instance's state."""
    import urllib.request
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            with urllib.request.urlopen("http://%s/" % ip, timeout=5) as r:
                return r.status, r.read().decode(errors="replace")
        except Exception as e:  # noqa: BLE001
            last = e
            time.sleep(0.3)
    raise AssertionError("GET http://%s/: %s" % (ip, last))


def refused(ip):
    import socket
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((ip, 80))
        return False
    except OSError:
        return True
    finally:
        s.close()


@case
def ec2_public_ip_http():
    if "instances get no network" in D.logtail(200000):
        raise Skip("haneuld has no VPC namespace here: %s" % [l for l in D.logtail(200000).splitlines()
                                                              if "no network" in l][:1])
    ids, _ = run()
    a = ids[0]
    wait_state(a, "running")
    ip1 = inst(a)["PublicIpAddress"]
    st, body = http_get(ip1)
    expect(st == 200 and a in body, (st, body))
    D.aws("ec2", "reboot-instances", "--instance-ids", a)
    time.sleep(0.5)
    wait_state(a, "running")
    expect(inst(a)["PublicIpAddress"] == ip1, "reboot changed the public IP")
    st, body = http_get(ip1, timeout=30)
    expect(st == 200 and a in body, (st, body))
    D.aws("ec2", "stop-instances", "--instance-ids", a)
    wait_state(a, "stopped")
    D.aws("ec2", "start-instances", "--instance-ids", a)
    wait_state(a, "running")
    ip2 = inst(a)["PublicIpAddress"]
    expect(ip2 != ip1, "stop/start kept the public IP")
    st, body = http_get(ip2)
    expect(st == 200 and a in body, (st, body))
    end = time.time() + 10
    while not refused(ip1) and time.time() < end:
        time.sleep(0.2)
    expect(refused(ip1), "the old public address still reaches something")
    D.aws("ec2", "terminate-instances", "--instance-ids", a)
    wait_state(a, "terminated")


@case
def ec2_elastic_ip():
    net = "instances get no network" not in D.logtail(200000)
    e = D.aws("ec2", "allocate-address", "--domain", "vpc")
    eip, alloc = e["PublicIp"], e["AllocationId"]
    expect(eip.startswith("127.100."), e)
    ids, _ = run()
    a = ids[0]
    wait_state(a, "running")
    auto = inst(a)["PublicIpAddress"]
    assoc = D.aws("ec2", "associate-address", "--allocation-id", alloc, "--instance-id", a)["AssociationId"]
    expect(inst(a)["PublicIpAddress"] == eip, inst(a).get("PublicIpAddress"))
    if net:
        st, body = http_get(eip)
        expect(st == 200 and a in body, (st, body))
    code, _ = D.aws_err("ec2", "release-address", "--allocation-id", alloc)
    expect(code == "InvalidIPAddress.InUse", code)
    D.aws("ec2", "stop-instances", "--instance-ids", a)
    wait_state(a, "stopped")
    expect(inst(a).get("PublicIpAddress") == eip, "the Elastic IP left a stopped instance")
    D.aws("ec2", "start-instances", "--instance-ids", a)
    wait_state(a, "running")
    expect(inst(a)["PublicIpAddress"] == eip, "the Elastic IP did not stay across stop/start")
    if net:
        st, body = http_get(eip)
        expect(st == 200 and a in body, (st, body))
    d = D.aws("ec2", "describe-addresses", "--allocation-ids", alloc)["Addresses"][0]
    expect(d["InstanceId"] == a and d["AssociationId"] == assoc, d)
    D.aws("ec2", "disassociate-address", "--association-id", assoc)
    x = inst(a)
    expect(x["PublicIpAddress"] not in (eip, None) and x["PublicIpAddress"] != auto, x.get("PublicIpAddress"))
    D.aws("ec2", "release-address", "--allocation-id", alloc)
    expect(D.aws("ec2", "describe-addresses")["Addresses"] == [], "address not released")
    D.aws("ec2", "terminate-instances", "--instance-ids", a)
    wait_state(a, "terminated")


# ---- hibernate ------------------------------------------------------------------------

@case
def ec2_hibernate_resume():
    ids, _ = run("--hibernation-options", "Configured=true")
    h = ids[0]
    S["h"] = h
    wait_state(h, "running")
    type_line(h, "count")
    console_wait(h, r"^count = 1")
    type_line(h, "count")
    console_wait(h, r"^count = 2")
    D.aws("ec2", "stop-instances", "--instance-ids", h, "--hibernate")
    wait_state(h, "stopped")
    x = inst(h)
    expect(x["StateReason"]["Code"] == "Client.UserInitiatedHibernate", x.get("StateReason"))
    ex = open(os.path.join(D.run_dir(h), "exit")).read().strip()
    if ex != "4" and "saving virtio state is not supported" in D.logtail(100000):
        raise Skip("haneul-vmm cannot hibernate a VM with a virtio-blk root volume yet (issue 5): "
                   "the stop fell back to a shutdown, as EC2 does")
    if ex != "4":
        raise AssertionError("the VMM did not hibernate (exit %s): %s" % (
            ex, open(os.path.join(D.run_dir(h), "vmm.log"), errors="replace").read()[-500:]))
    D.aws("ec2", "start-instances", "--instance-ids", h)
    wait_state(h, "running")
    type_line(h, "count")
    # Each VMM process starts console.log afresh: the resumed one has no
    # boot banner, and the counter goes on.
    console_wait(h, r"^count = 3")
    log = open(os.path.join(D.run_dir(h), "console.log"), errors="replace").read()
    expect("haneul tiny guest" not in log, "the guest booted again instead of resuming: %r" % log[:300])


@case
def ec2_hibernate_refused_unless_configured():
    ids, _ = run()
    wait_state(ids[0], "running")
    code, msg = D.aws_err("ec2", "stop-instances", "--instance-ids", ids[0], "--hibernate")
    expect(code == "UnsupportedHibernationConfiguration", (code, msg))
    expect(state(ids[0]) == "running", "refused hibernate changed the state")
    S["plain"] = ids[0]


# ---- volumes ----------------------------------------------------------------------------

@case
def ec2_volumes():
    p = S["plain"]
    az = inst(p)["Placement"]["AvailabilityZone"]
    v = D.aws("ec2", "create-volume", "--size", "1", "--availability-zone", az, "--volume-type", "gp3",
              "--tag-specifications", "ResourceType=volume,Tags=[{Key=Name,Value=data1}]")
    vid = v["VolumeId"]
    expect(v["State"] == "available" and v["Size"] == 1, v)
    other = D.aws("ec2", "create-volume", "--size", "1", "--availability-zone", REGION + "c")["VolumeId"]
    code, _ = D.aws_err("ec2", "attach-volume", "--volume-id", other, "--instance-id", p, "--device", "/dev/sdf")
    expect(code == "InvalidVolume.ZoneMismatch", code)
    D.aws("ec2", "delete-volume", "--volume-id", other)
    a = D.aws("ec2", "attach-volume", "--volume-id", vid, "--instance-id", p, "--device", "/dev/sdf")
    expect(a["State"] == "attached", a)
    st = ctl(p, {"cmd": "status"})
    expect(any(d.get("id") == vid for d in st.get("devices", [])), "the VMM has no drive %s: %r" % (vid, st))
    x = D.aws("ec2", "describe-volumes", "--filters", "Name=attachment.instance-id,Values=%s" % p)["Volumes"]
    expect(sorted(y["Attachments"][0]["Device"] for y in x) == ["/dev/sdf", "/dev/xvda"], x)
    expect([y for y in x if y["VolumeId"] == vid][0]["Attachments"][0]["DeleteOnTermination"] is False, x)
    code, _ = D.aws_err("ec2", "delete-volume", "--volume-id", vid)
    expect(code == "VolumeInUse", code)
    root = inst(p)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    code, _ = D.aws_err("ec2", "detach-volume", "--volume-id", root)
    expect(code == "UnsupportedOperation", code)
    D.aws("ec2", "detach-volume", "--volume-id", vid)
    v = D.aws("ec2", "describe-volumes", "--volume-ids", vid)["Volumes"][0]
    expect(v["State"] == "available" and not v.get("Attachments"), v)
    st = ctl(p, {"cmd": "status"})
    expect(not any(d.get("id") == vid and d.get("state") == "attached" for d in st.get("devices", [])), st)
    S["vol"] = vid


@case
def ec2_volume_bytes_outlive_instances():
    """A root volume kept at termination (DeleteOnTermination=false) becomes
    the root of another instance: the sector the first guest wrote is read
    back by the second."""
    ids, _ = run("--block-device-mappings", "DeviceName=/dev/xvda,Ebs={DeleteOnTermination=false}")
    a = ids[0]
    wait_state(a, "running")
    type_line(a, "blk write 7 hello-from-%s" % a)
    console_wait(a, r"blk write 7 ok")
    vol = inst(a)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    D.aws("ec2", "terminate-instances", "--instance-ids", a)
    wait_state(a, "terminated")
    v = D.aws("ec2", "describe-volumes", "--volume-ids", vol)["Volumes"][0]
    expect(v["State"] == "available", v)
    ids, _ = run("--placement", "AvailabilityZone=" + v["AvailabilityZone"])
    b = ids[0]
    wait_state(b, "running")
    D.aws("ec2", "stop-instances", "--instance-ids", b)
    wait_state(b, "stopped")
    broot = inst(b)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    D.aws("ec2", "detach-volume", "--volume-id", broot)
    D.aws("ec2", "attach-volume", "--volume-id", vol, "--instance-id", b, "--device", "/dev/xvda")
    D.aws("ec2", "start-instances", "--instance-ids", b)
    wait_state(b, "running")
    type_line(b, "blk read 7")
    console_wait(b, r"blk read 7: hello-from-%s" % a)
    D.aws("ec2", "terminate-instances", "--instance-ids", b)
    wait_state(b, "terminated")
    D.aws("ec2", "delete-volume", "--volume-id", broot)


# ---- billing, CLI -----------------------------------------------------------------------

@case
def haneul_billing_and_cli():
    env = dict(D.env, HANEUL_ENDPOINT=D.ep)
    p = subprocess.run([HANEUL, "--data-dir", D.data, "ls"], env=env, capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0 and S["plain"] in p.stdout, (p.returncode, p.stdout, p.stderr))
    p = subprocess.run([HANEUL, "--data-dir", D.data, "billing", "--json"], env=env, capture_output=True, text=True,
                       timeout=60)
    expect(p.returncode == 0, p.stderr)
    b = json.loads(p.stdout)
    items = {(i["resource"], i["kind"]): i for i in b["items"]}
    it = items.get((S["plain"], "instance"))
    expect(it and it["accruing"] and it["billed_seconds"] >= 60, it)
    expect(b["total"] > 0, b)
    # A stopped instance costs nothing but its volumes.
    ids, _ = run()
    a = ids[0]
    wait_state(a, "running")
    D.aws("ec2", "stop-instances", "--instance-ids", a)
    wait_state(a, "stopped")
    p = subprocess.run([HANEUL, "--data-dir", D.data, "billing", "--json"], env=env, capture_output=True, text=True,
                       timeout=60)
    b1 = {(i["resource"], i["kind"]): i for i in json.loads(p.stdout)["items"]}
    time.sleep(2.2)
    p = subprocess.run([HANEUL, "--data-dir", D.data, "billing", "--json"], env=env, capture_output=True, text=True,
                       timeout=60)
    b2 = {(i["resource"], i["kind"]): i for i in json.loads(p.stdout)["items"]}
    expect(not b2[(a, "instance")]["accruing"] and b2[(a, "instance")]["cost"] == b1[(a, "instance")]["cost"],
           (b1[(a, "instance")], b2[(a, "instance")]))
    vol = inst(a)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    expect(b2[(vol, "volume")]["seconds"] > b1[(vol, "volume")]["seconds"], "volumes are billed while stopped")
    expect(b2[(a, "instance")]["billed_seconds"] >= 60, "one minute minimum per start: %r" % b2[(a, "instance")])
    D.aws("ec2", "terminate-instances", "--instance-ids", a)


def haneul(*args):
    env = dict(D.env, HANEUL_ENDPOINT=D.ep)
    p = subprocess.run([HANEUL, "--data-dir", D.data] + list(args), env=env, capture_output=True, text=True,
                       timeout=120)
    expect(p.returncode == 0, "haneul %s: rc %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.stdout


@case
def haneul_cli_shortcuts():
    iid = haneul("run", "--name", "cli1", "--type", "t3.nano").strip()
    expect(re.fullmatch(r"i-[0-9a-f]{17}", iid), iid)
    wait_state(iid, "running")
    ls = haneul("ls")
    expect(re.search(r"^%s\s+running\s+t3.nano\s.*cli1$" % iid, ls, re.M), ls)
    expect("haneul-ready" in haneul("console", iid), "console")
    haneul("reboot", iid)
    out = haneul("stop", iid)
    expect("%s  running -> stopping" % iid in out, out)
    wait_state(iid, "stopped")
    vol = haneul("volume", "create", "1", inst(iid)["Placement"]["AvailabilityZone"]).strip()
    expect(vol.startswith("vol-"), vol)
    haneul("volume", "attach", vol, iid, "/dev/sdg")
    expect(re.search(r"^%s\s+1\s+in-use\s.*%s\s+/dev/sdg$" % (vol, iid), haneul("volume", "ls"), re.M),
           haneul("volume", "ls"))
    haneul("volume", "detach", vol)
    haneul("volume", "rm", vol)
    expect(vol not in haneul("volume", "ls"), "volume not removed")
    out = haneul("start", iid)
    expect("stopped -> pending" in out, out)
    wait_state(iid, "running")
    out = haneul("terminate", iid)
    expect("running -> shutting-down" in out, out)
    wait_state(iid, "terminated")
    b = haneul("billing")
    expect(re.search(r"^TOTAL\s+\d+\.\d{6}$", b, re.M) and iid in b, b)


# ---- recovery ------------------------------------------------------------------------------

@case
def ec2_kill9_haneuld_and_restart():
    """haneuld killed with -9 while one instance runs, one is stopping and one
    is pending; the VMMs outlive it; a new haneuld re-adopts the running one
    (same VMM process) and settles the others."""
    run_id = S["plain"]
    wait_state(run_id, "running")
    pid_before = D.vmm_pid(run_id)
    ids, _ = run()
    stop_id = ids[0]
    wait_state(stop_id, "running")
    D.aws("ec2", "stop-instances", "--instance-ids", stop_id)
    ids, _ = run()
    pend_id = ids[0]
    D.kill9()
    time.sleep(0.5)
    expect(os.path.exists("/proc/%d" % pid_before), "the VMM died with haneuld")
    D.start()
    wait_state(stop_id, "stopped")
    wait_state(pend_id, "running")
    wait_state(run_id, "running")
    expect(D.vmm_pid(run_id) == pid_before, "the running instance was restarted, not re-adopted")
    # The re-adopted instance is fully controllable.
    D.aws("ec2", "reboot-instances", "--instance-ids", run_id)
    D.aws("ec2", "stop-instances", "--instance-ids", run_id, pend_id)
    wait_state(run_id, "stopped")
    wait_state(pend_id, "stopped")
    expect("re-adopted %s" % run_id in D.logtail(20000), "no re-adoption logged")


@case
def ec2_vmm_dies_while_haneuld_is_down():
    ids, _ = run()
    a = ids[0]
    wait_state(a, "running")
    D.stop()
    os.kill(D.vmm_pid(a), signal.SIGKILL)
    time.sleep(0.3)
    D.start()
    wait_state(a, "stopped")
    expect(inst(a)["StateReason"]["Code"].startswith("Server."), inst(a).get("StateReason"))


def main():
    global D
    only = set(sys.argv[2:])
    try:
        D = Daemon()
    except Exception as e:  # noqa: BLE001
        for c in CASES:
            print("FAIL: %s: haneuld setup: %s" % (c.__name__, e))
        return
    failed = False
    try:
        for c in CASES:
            if only and c.__name__ not in only:
                continue
            try:
                c()
                print("PASS: %s" % c.__name__, flush=True)
            except Skip as e:
                print("SKIP: %s: %s" % (c.__name__, e), flush=True)
            except Exception as e:  # noqa: BLE001
                failed = True
                print("FAIL: %s: %s" % (c.__name__, str(e).replace("\n", " ")[:600]), flush=True)
                if os.environ.get("EC2_DEBUG"):
                    traceback.print_exc()
                    print(D.logtail(3000))
    finally:
        if failed and os.environ.get("EC2_KEEP"):
            print("kept", D.tmp)
        else:
            D.cleanup()


if __name__ == "__main__":
    main()
