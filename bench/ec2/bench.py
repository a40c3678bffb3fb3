#!/usr/bin/python3
"""bench/ec2/bench.py BUILD [SEQUENTIAL] [BATCH] - EC2 launch figures.

1. RunInstances -> running: SEQUENTIAL single launches of the tiny image,
   each timed from the RunInstances call to the first DescribeInstances that
   says running (polled every 5 ms); p50/p99.
2. Launch rate: one RunInstances of BATCH instances, timed until all are
   running; launches/s and launches/s per host core.
3. The same BATCH of haneul-vmm processes started directly (no control
   plane; the same kernel, command line and root drive, no network), timed
   until each printed its readiness marker: what the VMM alone does here.

Firecracker publishes a creation rate of 5 microVMs per host core per second
(its SPECIFICATION.md); the figures are printed next to it, measured the same
way (microVMs ready per second divided by the host's cores).  The local
/dev/kvm emulates every CPL-0 guest instruction (KVM-HERE.md), so absolute
numbers are pessimistic; compare them on the same machine only.
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
SEQ = int(sys.argv[2]) if len(sys.argv) > 2 else 20
BATCH = int(sys.argv[3]) if len(sys.argv) > 3 else 50
sys.argv = [sys.argv[0], BUILD]
import ec2_cases  # noqa: E402

FC_PER_CORE = 5.0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def wait_running(c, ids, timeout=300):
    left = set(ids)
    end = time.time() + timeout
    while left and time.time() < end:
        r = c.describe_instances(InstanceIds=list(left))
        for res in r["Reservations"]:
            for i in res["Instances"]:
                if i["State"]["Name"] == "running":
                    left.discard(i["InstanceId"])
                elif i["State"]["Name"] in ("stopped", "terminated"):
                    raise RuntimeError("%s ended up %s" % (i["InstanceId"], i["State"]))
        if left:
            time.sleep(0.005)
    if left:
        raise RuntimeError("not running after %d s: %s" % (timeout, sorted(left)))


def terminate_all(c, ids):
    c.terminate_instances(InstanceIds=ids)
    c.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 300})


def raw_vmm_batch(n):
    tmp = tempfile.mkdtemp(prefix="haneul-bench-ec2.")
    vmm, tiny = os.path.join(BUILD, "haneul-vmm"), os.path.join(BUILD, "images/tiny/tiny.elf")
    procs = []
    t0 = time.time()
    for i in range(n):
        log, disk = os.path.join(tmp, "c%d.log" % i), os.path.join(tmp, "d%d.img" % i)
        with open(disk, "wb") as f:
            f.truncate(1 << 30)
        # The same devices an instance's VMM gets, but its network (a tap needs the VPC namespace).
        procs.append((subprocess.Popen(["timeout", "300", vmm, "--kernel", tiny, "--mem", "64M", "--console", "none",
                                        "--cmdline", "console=ttyS0 haneul.instance_id=i-bench%d" % i,
                                        "--drive", "file=%s,id=vol-bench%d" % (disk, i),
                                        "--console-log", log], stdin=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL), log))
    left = set(range(n))
    while left and time.time() - t0 < 300:
        for i in list(left):
            try:
                if "haneul-ready" in open(procs[i][1], errors="replace").read():
                    left.discard(i)
            except OSError:
                pass
        time.sleep(0.005)
    dt = time.time() - t0
    for p, _ in procs:
        p.terminate()
    for p, _ in procs:
        p.wait()
    subprocess.run(["rm", "-rf", tmp])
    if left:
        raise RuntimeError("%d raw VMMs never became ready" % len(left))
    return dt


def main():
    cores = os.cpu_count() or 1
    d = ec2_cases.Daemon()
    ec2_cases.D = d
    try:
        c = d.ec2
        ami = ec2_cases.tiny_ami()
        lat = []
        for _ in range(SEQ):
            t0 = time.time()
            r = c.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)
            iid = r["Instances"][0]["InstanceId"]
            wait_running(c, [iid])
            lat.append((time.time() - t0) * 1000)
            terminate_all(c, [iid])
        t0 = time.time()
        r = c.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=BATCH, MaxCount=BATCH)
        ids = [i["InstanceId"] for i in r["Instances"]]
        wait_running(c, ids)
        batch_s = time.time() - t0
        terminate_all(c, ids)
    finally:
        d.cleanup()
    raw_s = raw_vmm_batch(BATCH)
    rate = BATCH / batch_s
    raw = BATCH / raw_s
    print("EC2 on haneul, tiny image, %d host cores (local nested /dev/kvm)" % cores)
    print("RunInstances -> running, %d sequential: p50 %.1f ms, p99 %.1f ms" % (SEQ, pct(lat, 50), pct(lat, 99)))
    print("batch of %d (one RunInstances): all running in %.2f s = %.1f launches/s = %.2f per host core per s"
          % (BATCH, batch_s, rate, rate / cores))
    print("same %d haneul-vmm started directly: all ready in %.2f s = %.1f/s = %.2f per host core per s"
          % (BATCH, raw_s, raw, raw / cores))
    print("Firecracker (published): %.1f microVMs per host core per s" % FC_PER_CORE)
    print("ratio haneul EC2 / Firecracker: %.2f   control-plane share: %.0f %% of the batch time"
          % (rate / cores / FC_PER_CORE, 100.0 * max(0.0, batch_s - raw_s) / batch_s))


if __name__ == "__main__":
    main()
