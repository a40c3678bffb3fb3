#!/usr/bin/python3
"""bench/hibernate/bench.py - hibernate/resume on the local /dev/kvm.

For each guest size (default 128M 512M 2G) the tiny guest boots, dirties
`fill` MiB of its RAM (half the guest, at most 1008 MiB: the tiny guest's
own PVH page tables under QEMU map 1 GiB), counts to 2, and then:

  haneul  control "hibernate" -> exit 4 (save, fsync'd), then
          `haneul-vmm --resume DIR` -> the guest answers `count` (3)
  QEMU    QMP migrate "exec:cat > FILE" + fsync(FILE) (save), then
          `qemu -incoming "exec:cat FILE"` -> the guest answers `count` (3)
          (QEMU 7.2 has no file: migration URI; cat is its usual stand-in)
  dd      the same number of bytes, bs=1M, conv=fdatasync, same directory;
          and again with oflag=direct (haneul writes the memory file with
          O_DIRECT, so that is the like-for-like disk speed)

Figures (medians of RUNS runs): save MiB/s (dirty bytes / save time) vs
dd's MiB/s, and resume-to-running: process spawn -> the first answered
`echo` (then `count` must say 3), plus
haneul's own "resumed N us after process start" (-v log).  Ratios printed;
nothing is asserted here (tests/ do that, without timing).
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from vmmctl import TINY, VMM, Vm  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
QEMU = shutil.which("qemu-system-x86_64")


def size_mib(s):
    return int(s[:-1]) * (1024 if s.endswith("G") else 1)


def fill_mib(s):
    return min(size_mib(s) // 2, 1008)


def until_running(vm, limit=120):
    """Type `echo rN` every 2 ms until one comes back: the guest runs and
    answers (input typed while a VMM is still restoring may be dropped)."""
    deadline = time.monotonic() + limit
    n = 0
    while time.monotonic() < deadline:
        n += 1
        vm.send("echo r%d" % n)
        try:
            vm.wait_for(r"^r\d+$", 0.002)
            return
        except Exception:  # noqa: BLE001
            if not vm.alive():
                raise
    raise RuntimeError("guest never answered")


def dd_mibs(d, mib, direct=False):
    f = os.path.join(d, "dd.tmp")
    t = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", "of=" + f, "bs=1M", "count=%d" % mib, "conv=fdatasync"]
                   + (["oflag=direct"] if direct else []), check=True, capture_output=True)
    dt = time.monotonic() - t
    os.unlink(f)
    return mib / dt


def drop_caches():
    # Resume from a cold page cache is what a real resume sees; harmless if denied.
    try:
        subprocess.run(["sync"])
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def haneul_round(size, snap):
    fill = fill_mib(size)
    vm = Vm(mem=size, timeout=300)
    try:
        vm.wait_ready(60)
        vm.command("fill %d" % fill, r"^fill %d MiB done$" % fill, 240)
        vm.command("count", r"^count = 1$")
        vm.command("count", r"^count = 2$")
        t = time.monotonic()
        r = vm.ctl({"cmd": "hibernate", "dir": snap}, timeout=300)
        assert r.get("ok"), r
        assert vm.wait_exit(300) == 4
        save = time.monotonic() - t
    finally:
        vm.close()
    mem = [n for n in os.listdir(snap) if n.startswith("mem-")][0]
    on_disk = os.stat(os.path.join(snap, mem)).st_blocks * 512
    drop_caches()
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "c.sock")
    t = time.monotonic()
    vm = Vm(argv=[VMM, "--resume", snap, "--control", sock, "-v"], timeout=300)
    try:
        until_running(vm)
        resume = time.monotonic() - t
        vm.send("count")
        vm.wait_for(r"^count = 3$", 120)
        m = vm.wait_stderr(r"resumed (\d+) us after process start", 10)
        internal = int(m.group(1)) / 1000.0
    finally:
        vm.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return save, on_disk, resume * 1000, internal


def qmp(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(500):
        try:
            s.connect(sock_path)
            break
        except OSError:
            time.sleep(0.01)
    f = s.makefile("rw")
    f.readline()  # greeting

    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n")
        f.flush()
        while True:
            o = json.loads(f.readline())
            if "return" in o or "error" in o:
                return o
    cmd("qmp_capabilities")
    return s, cmd


def qemu_argv(size, sock, extra=()):
    return [QEMU, "-M", "microvm", "-enable-kvm", "-cpu", "qemu64", "-m", size, "-nodefaults",
            "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", TINY,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-qmp", "unix:%s,server=on,wait=off" % sock] + list(extra)


def qemu_round(size, d):
    fill = fill_mib(size)
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "qmp.sock")
    img = os.path.join(d, "qemu.mig")
    vm = Vm(argv=qemu_argv(size, sock), timeout=300)
    try:
        vm.wait_for(r"^haneul-ready tiny", 60)
        vm.command("fill %d" % fill, r"^fill %d MiB done$" % fill, 300)
        vm.command("count", r"^count = 1$")
        vm.command("count", r"^count = 2$")
        s, cmd = qmp(sock)
        t = time.monotonic()
        r = cmd("migrate", uri="exec:cat > %s" % img)
        assert "return" in r, r
        while True:
            st = cmd("query-migrate")["return"].get("status")
            if st in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.002)
        assert st == "completed", st
        fd = os.open(img, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        save = time.monotonic() - t
        cmd("quit")
        s.close()
        vm.wait_exit(30)
    finally:
        vm.close()
    size_on_disk = os.path.getsize(img)
    drop_caches()
    t = time.monotonic()
    vm = Vm(argv=qemu_argv(size, sock, ["-incoming", "exec:cat %s" % img]), timeout=300)
    try:
        until_running(vm)
        resume = time.monotonic() - t
        vm.send("count")
        vm.wait_for(r"^count = 3$", 120)
    finally:
        vm.close()
        os.unlink(img)
        shutil.rmtree(tmp, ignore_errors=True)
    return save, size_on_disk, resume * 1000


def main():
    sizes = sys.argv[1:] or ["128M", "512M", "2G"]
    base = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="haneul-bench-hib.", dir="/var/tmp")
    os.makedirs(base, exist_ok=True)
    rows = []
    for size in sizes:
        fill = fill_mib(size)
        h, q, dd, ddd = [], [], [], []
        for _ in range(RUNS):
            snap = tempfile.mkdtemp(dir=base)
            dd.append(dd_mibs(base, fill))
            ddd.append(dd_mibs(base, fill, direct=True))
            h.append(haneul_round(size, snap))
            shutil.rmtree(snap)
            if QEMU:
                q.append(qemu_round(size, base))
        med = statistics.median
        hs = med(x[0] for x in h)
        hdisk = med(x[1] for x in h) / (1 << 20)
        row = {
            "size": size, "fill": fill, "dd": med(dd), "ddd": med(ddd),
            "h_save_s": hs, "h_disk": hdisk, "h_mibs": hdisk / hs,
            "h_resume": med(x[2] for x in h), "h_internal": med(x[3] for x in h),
        }
        if q:
            row.update(q_save_s=med(x[0] for x in q), q_disk=med(x[1] for x in q) / (1 << 20),
                       q_resume=med(x[2] for x in q))
        rows.append(row)
        print("# %s done: %s" % (size, json.dumps(row)), flush=True)
    print()
    print("hibernate bench, local /dev/kvm, tiny guest, %d runs each, medians" % RUNS)
    print("%-5s %5s | %8s %8s %8s %7s %8s %8s | %9s %9s %9s | %8s %9s %6s" % (
        "guest", "dirty", "dd MiB/s", "ddD MiB/s", "save MiB", "save s", "save/dd", "save/ddD",
        "resume ms", "(in-VMM)", "QEMU ms", "QEMU s", "QEMU MiB", "ratio"))
    for r in rows:
        print("%-5s %5d | %8.0f %8.0f %8.1f %7.3f %7.0f%% %7.0f%% | %9.1f %9.2f %9s | %8s %9s %6s" % (
            r["size"], r["fill"], r["dd"], r["ddd"], r["h_disk"], r["h_save_s"],
            100 * r["h_mibs"] / r["dd"], 100 * r["h_mibs"] / r["ddd"],
            r["h_resume"], r["h_internal"],
            "%.1f" % r["q_resume"] if "q_resume" in r else "-",
            "%.3f" % r["q_save_s"] if "q_save_s" in r else "-",
            "%.1f" % r["q_disk"] if "q_disk" in r else "-",
            "%.2fx" % (r["q_resume"] / r["h_resume"]) if "q_resume" in r else "-"))
    if len(rows) > 1:
        print("resume flatness (in-VMM, largest/smallest): %.2f" % (rows[-1]["h_internal"] / rows[0]["h_internal"]))
    if not os.environ.get("BENCH_DIR"):
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
