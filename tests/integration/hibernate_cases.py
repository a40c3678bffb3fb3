#!/usr/bin/python3
"""tests/integration/hibernate_cases.py - hibernate/resume of the tiny guest
on the local /dev/kvm (issue 5).  One PASS/FAIL line per case; run by
test_vmm_hibernate.sh, which checks /dev/kvm and the binaries first.

What is asserted: the guest's state (the `count` counter, the PV clock)
continues across processes; bad snapshots are refused with every file
byte-identical; kill -9 during a save leaves the old snapshot or the new
one, each of which resumes into a working guest; failed hibernates leave
the VM running.  No durations are asserted.
"""
import hashlib
import os
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmctl import VMM, Vm  # noqa: E402

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def boot(mem="64M", vcpus=1):
    vm = Vm(mem=mem, vcpus=vcpus)
    vm.wait_ready()
    return vm


def resume(snap, extra=(), timeout=60):
    return Vm(argv=[VMM, "--resume", snap] + list(extra), timeout=timeout)


def count(vm, want):
    m = vm.command("count", r"^count = (\d+)$", 30)
    expect(int(m.group(1)) == want, "count = %s, expected %d" % (m.group(1), want))


def uptime(vm):
    return int(vm.command("uptime", r"^uptime_us = (\d+)$", 30).group(1))


def hibernate(vm, snap):
    r = vm.ctl({"cmd": "hibernate", "dir": snap}, timeout=60)
    expect(r.get("ok") is True, "hibernate reply %r" % r)
    rc = vm.wait_exit(60)
    expect(rc == 4, "exit status %s after hibernate (stderr %r)" % (rc, vm.err.text()[-300:]))
    expect("haneul-vmm: guest hibernated to %s" % snap in vm.err.text(),
           "no 'guest hibernated' line: %r" % vm.err.text()[-300:])


def resume_ctl(snap, extra=()):
    tmp = tempfile.mkdtemp(prefix="haneul-hib.")
    sock = os.path.join(tmp, "ctl.sock")
    vm = Vm(argv=[VMM, "--resume", snap, "--control", sock] + list(extra), timeout=120)
    vm.sock = sock
    vm._extra_tmp = tmp
    vm.wait_socket()
    return vm


def close(vm):
    vm.close()
    tmp = getattr(vm, "_extra_tmp", None)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def digest(d):
    """{name: sha256} of every file in d."""
    out = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = hashlib.sha256(f.read()).hexdigest()
    return out


def sections(path):
    """[(tag, instance, payload offset, length)] of a state file."""
    b = open(path, "rb").read()
    off, out = 64, []
    while off < len(b):
        tag, inst, ln, _crc, _hc = struct.unpack_from("<IIQII", b, off)
        out.append((struct.pack("<I", tag).decode("latin1"), inst, off + 24, ln))
        off = (off + 24 + ln + 7) & ~7
    return out


def refused(snap, why_rx, extra=()):
    """Resume must fail with exit 1 and a 'cannot resume' line matching why_rx."""
    before = digest(snap)
    vm = resume(snap, extra)
    try:
        rc = vm.wait_exit(30)
        err = vm.err.text()
    finally:
        close(vm)
    expect(rc == 1, "resume of a bad snapshot: exit %s, stderr %r" % (rc, err[-300:]))
    expect(re.search(r"cannot resume from .*" + why_rx, err), "stderr %r does not match %r" % (err[-400:], why_rx))
    expect(digest(snap) == before, "a refused resume changed the snapshot files")


def good_snapshot(snap, counts=2):
    vm = boot()
    try:
        for i in range(1, counts + 1):
            count(vm, i)
        hibernate(vm, snap)
    finally:
        close(vm)


# ------------------------------------------------------------------ cases --

@case
def round_trip_repeated():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        vm = boot()
        try:
            count(vm, 1)
            count(vm, 2)
            up = uptime(vm)
            hibernate(vm, snap)
        finally:
            close(vm)
        n = 2
        for rnd in range(4):
            files = sorted(os.listdir(snap))
            expect(len(files) == 2 and "state" in files, "snapshot dir holds %r" % files)
            vm = resume_ctl(snap)
            try:
                count(vm, n + 1)
                count(vm, n + 2)
                n += 2
                up2 = uptime(vm)
                expect(up2 > up, "PV clock went back: %d then %d" % (up, up2))
                st = vm.ctl({"cmd": "status"})
                expect(st.get("state") == "running" and st.get("ready_us"), "status %r" % st)
                up = up2
                hibernate(vm, snap)
            finally:
                close(vm)
        vm = resume_ctl(snap)
        try:
            count(vm, n + 1)
            vm.send("poweroff")
            expect(vm.wait_exit() == 0, "poweroff after resume")
        finally:
            close(vm)
        print("# %d hibernate/resume rounds; count reached %d" % (5, n + 1))
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def two_vcpus_and_sparse_memory():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        vm = Vm(mem="512M", vcpus=2)
        try:
            vm.wait_ready()
            count(vm, 1)
            hibernate(vm, snap)
        finally:
            close(vm)
        mem = [n for n in os.listdir(snap) if n.startswith("mem-")][0]
        st = os.stat(os.path.join(snap, mem))
        expect(st.st_size == 512 << 20, "memory file is %d bytes" % st.st_size)
        expect(st.st_blocks * 512 < 8 << 20, "memory file uses %d bytes on disk: not sparse" % (st.st_blocks * 512))
        vm = resume(snap)
        try:
            count(vm, 2)
        finally:
            close(vm)
        print("# 512 MiB guest: %d KiB on disk" % (st.st_blocks // 2))
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def corrupt_sections_refused():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        good_snapshot(snap)
        state = os.path.join(snap, "state")
        orig = open(state, "rb").read()
        secs = sections(state)
        expect(len(secs) > 15, "only %d sections" % len(secs))
        for tag, inst, off, ln in secs:
            b = bytearray(orig)
            b[off + ln // 2] ^= 0x40
            open(state, "wb").write(b)
            refused(snap, r"checksum mismatch")
            # the section header too
            b = bytearray(orig)
            b[off - 24] ^= 0x01
            open(state, "wb").write(b)
            refused(snap, r"checksum mismatch")
        b = bytearray(orig)
        b[5] ^= 1
        open(state, "wb").write(b)
        refused(snap, r"not a haneul snapshot")
        b = bytearray(orig)
        b[20] ^= 1
        open(state, "wb").write(b)
        refused(snap, r"header checksum")
        open(state, "wb").write(orig)
        print("# %d sections each corrupted (payload and header): all refused" % len(secs))
    finally:
        shutil.rmtree(snap, ignore_errors=True)


def crc32c(data):
    crc = 0xffffffff
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


@case
def truncated_version_and_size_refused():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        good_snapshot(snap)
        state = os.path.join(snap, "state")
        orig = open(state, "rb").read()
        for cut in (0, 10, 63, 64, 100, len(orig) // 2, len(orig) - 8, len(orig) - 1):
            open(state, "wb").write(orig[:cut])
            refused(snap, r"truncated|not a haneul snapshot|sane size")
        # version 2 with a valid header checksum
        b = bytearray(orig)
        struct.pack_into("<I", b, 8, 2)
        struct.pack_into("<I", b, 60, crc32c(bytes(b[:60])))
        open(state, "wb").write(b)
        refused(snap, r"format version 2, this haneul-vmm reads version 1")
        open(state, "wb").write(orig)
        mem = os.path.join(snap, [n for n in os.listdir(snap) if n.startswith("mem-")][0])
        size = os.path.getsize(mem)
        os.truncate(mem, size - 4096)
        refused(snap, r"truncated or wrong memory file")
        os.truncate(mem, size + (1 << 20))
        refused(snap, r"truncated or wrong memory file")
        os.truncate(mem, size)
        os.rename(mem, mem + ".away")
        refused(snap, r"memory file missing")
        os.rename(mem + ".away", mem)
        os.unlink(state)
        refused(snap, r"no snapshot here")
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def corrupt_memory_never_runs_silently():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        good_snapshot(snap)
        mem = os.path.join(snap, [n for n in os.listdir(snap) if n.startswith("mem-")][0])
        with open(mem, "r+b") as f:
            # the tiny guest's image lives at 2 MiB: data there for sure
            f.seek(0x200000 + 0x123)
            c = f.read(1)
            f.seek(0x200000 + 0x123)
            f.write(bytes([c[0] ^ 0x10]))
        refused(snap, r"memory file is corrupt", extra=["--verify-memory"])
        before = digest(snap)
        vm = resume(snap)
        try:
            rc = vm.wait_exit(60)
            err = vm.err.text()
        finally:
            close(vm)
        expect(rc == 1, "background verification: exit %s, stderr %r" % (rc, err[-300:]))
        expect("memory file is corrupt" in err, "stderr %r" % err[-300:])
        expect(digest(snap) == before, "files changed")
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def hibernate_paused_vm():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        vm = boot()
        try:
            count(vm, 1)
            r = vm.ctl({"cmd": "pause"})
            expect(r.get("state") == "paused", "pause: %r" % r)
            hibernate(vm, snap)
        finally:
            close(vm)
        vm = resume_ctl(snap)
        try:
            st = vm.ctl({"cmd": "status"})
            expect(st.get("state") == "paused", "resumed state %r" % st.get("state"))
            r = vm.ctl({"cmd": "resume"})
            expect(r.get("state") == "running", "resume: %r" % r)
            count(vm, 2)
        finally:
            close(vm)
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def hibernate_errors_keep_vm_running():
    tmp = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        vm = boot()
        try:
            count(vm, 1)
            for req, rx in (({"cmd": "hibernate", "dir": os.path.join(tmp, "missing")}, r"No such file"),
                            ({"cmd": "hibernate", "dir": "/proc/self"}, r"hibernate failed"),
                            ({"cmd": "hibernate"}, r"needs \"dir\""),
                            ({"cmd": "hibernate", "dir": 5}, r"\"dir\" must be"),
                            ({"cmd": "hibernate", "dir": tmp, "x": 1}, r"unknown field")):
                r = vm.ctl(req)
                expect(r.get("ok") is False and re.search(rx, r.get("error", "")),
                       "%r -> %r" % (req, r))
                expect(vm.alive(), "VMM exited after %r" % req)
            expect(vm.ctl({"cmd": "status"}).get("state") == "running", "not running after errors")
            count(vm, 2)
            vm.ctl({"cmd": "pause"})
            r = vm.ctl({"cmd": "hibernate", "dir": os.path.join(tmp, "missing")})
            expect(r.get("ok") is False, "hibernate to a missing dir: %r" % r)
            expect(vm.ctl({"cmd": "status"}).get("state") == "paused", "a failed hibernate unpaused the VM")
            vm.ctl({"cmd": "resume"})
            count(vm, 3)
            expect(os.listdir(tmp) == [], "files left behind: %r" % os.listdir(tmp))
        finally:
            close(vm)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


STAGES = ["cpu-state", "memory-written", "memory-renamed", "state-writing", "committed", "cleaned"]


def kill_during_save(snap, stage, old_count):
    """Hibernate a VM whose count is old_count+2 into snap (which may hold a
    snapshot at old_count), kill -9 the VMM at `stage`.  Returns new count."""
    os.environ["HANEUL_HIBERNATE_STAGE_DELAY_MS"] = "400"
    try:
        vm = resume_ctl(snap) if old_count else boot()
    finally:
        del os.environ["HANEUL_HIBERNATE_STAGE_DELAY_MS"]
    try:
        count(vm, old_count + 1)
        count(vm, old_count + 2)
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(vm.sock)
        s.sendall(b'{"cmd":"hibernate","dir":"%s"}\n' % snap.encode())
        vm.wait_stderr(r"hibernate stage %s\n" % re.escape(stage), 60)
        os.kill(vm.pid, signal.SIGKILL)
        vm.wait_exit(30)
        s.close()
    finally:
        close(vm)
    return old_count + 2


@case
def kill_9_during_save_leaves_old_or_new():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        outcomes = []
        # Start from a good snapshot at count 2.
        good_snapshot(snap, 2)
        base = 2
        for st in STAGES:
            newc = kill_during_save(snap, st, base)
            vm = resume_ctl(snap)
            try:
                m = vm.command("count", r"^count = (\d+)$", 30)
                got = int(m.group(1))
                committed = STAGES.index(st) >= STAGES.index("committed")
                want = newc + 1 if committed else base + 1
                expect(got == want, "killed at %s: resumed count %d, expected %d" % (st, got, want))
                outcomes.append("%s->%s" % (st, "new" if got == newc + 1 else "old"))
                base = got
                hibernate(vm, snap)
            finally:
                close(vm)
            left = sorted(os.listdir(snap))
            expect(len(left) == 2, "after a resume+hibernate the dir holds %r" % left)
        print("# kill -9 at each stage: " + ", ".join(outcomes))
        # Random kills with no stage delay.
        res = {"old": 0, "new": 0}
        for i in range(8):
            vm = resume_ctl(snap)
            try:
                count(vm, base + 1)
                import socket
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(vm.sock)
                s.sendall(b'{"cmd":"hibernate","dir":"%s"}\n' % snap.encode())
                time.sleep(random.uniform(0, 0.02))
                try:
                    os.kill(vm.pid, signal.SIGKILL)
                except (OSError, TypeError):
                    pass
                vm.wait_exit(30)
                s.close()
            finally:
                close(vm)
            vm = resume_ctl(snap)
            try:
                m = vm.command("count", r"^count = (\d+)$", 30)
                got = int(m.group(1))
                expect(got in (base + 1, base + 2), "random kill %d: count %d after %d" % (i, got, base))
                res["old" if got == base + 1 else "new"] += 1
                base = got
                hibernate(vm, snap)
            finally:
                close(vm)
        print("# 8 random kill -9 during save: resumed old %(old)d, new %(new)d" % res)
    finally:
        shutil.rmtree(snap, ignore_errors=True)


@case
def kill_9_first_save_leaves_nothing():
    snap = tempfile.mkdtemp(prefix="haneul-hib.")
    try:
        kill_during_save(snap, "state-writing", 0)
        refused(snap, r"no snapshot here")
    finally:
        shutil.rmtree(snap, ignore_errors=True)


def main():
    failed = 0
    for fn in CASES:
        if len(sys.argv) > 1 and fn.__name__ not in sys.argv[1:]:
            continue
        try:
            fn()
            print("PASS: hibernate_%s" % fn.__name__)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL: hibernate_%s: %s" % (fn.__name__, str(e).replace("\n", " ")[:600]))
            traceback.print_exc(file=sys.stderr)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
