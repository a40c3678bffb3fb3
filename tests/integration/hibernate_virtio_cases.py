#!/usr/bin/python3
"""tests/integration/hibernate_virtio_cases.py - hibernate/resume of the tiny
guest WITH virtio devices in use (issue 5 on top of issue 4): a drive it
reads and writes, a NIC it serves HTTP on, on the local /dev/kvm.  Run by
test_vmm_hibernate_virtio.sh, which checks /dev/kvm, root and the binaries,
and creates the VPC namespace + tap (build/haneul-net): argv = VPC TAP
GUEST_IP GATEWAY.  One PASS/FAIL line per case.

What is asserted: bytes written before the hibernate are on the host file
when the old VMM has exited; after the resume the guest reads them back,
writes more, keeps counting and keeps serving HTTP through its tap; every
write the guest acknowledged - also while the host hibernated in the middle
of a stream of writes - is on the disk file; a missing or resized drive,
a corrupt or inconsistent device section and device options next to
--resume are refused with every file unchanged; hot-attached drives come
back in their slots.  No durations are asserted.
"""
import hashlib
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmctl import VMM, Vm  # noqa: E402
from hibernate_cases import crc32c, expect, sections  # noqa: E402

VPC, TAP, GUEST_IP, GW = sys.argv[1:5] if len(sys.argv) >= 5 else (None,) * 4
CASES = []
DISK_MB = 16


def case(fn):
    CASES.append(fn)
    return fn


def new_disk(d, name="disk.img", mb=DISK_MB):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.truncate(mb << 20)
    return p


def boot(disk, net=True, extra=()):
    args = ["--drive", "file=%s,id=vol-hib" % disk]
    cmdline = "haneul.instance_id=i-hibvirt"
    if net:
        args += ["--net", "tap=%s,netns=%s" % (TAP, VPC)]
        cmdline = "ip=%s/24 gw=%s %s" % (GUEST_IP, GW, cmdline)
    vm = Vm(mem="64M", extra=args + ["--cmdline", cmdline] + list(extra), timeout=300)
    vm.wait_ready(60)
    return vm


def resume(snap, extra=()):
    tmp = tempfile.mkdtemp(prefix="haneul-hibv.")
    sock = os.path.join(tmp, "ctl.sock")
    vm = Vm(argv=[VMM, "--resume", snap, "--control", sock] + list(extra), timeout=300)
    vm.sock = sock
    vm._extra_tmp = tmp
    return vm


def close(vm):
    vm.close()
    tmp = getattr(vm, "_extra_tmp", None)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def hibernate(vm, snap):
    r = vm.ctl({"cmd": "hibernate", "dir": snap}, timeout=120)
    expect(r.get("ok") is True, "hibernate reply %r" % r)
    rc = vm.wait_exit(120)
    expect(rc == 4, "exit status %s after hibernate (stderr %r)" % (rc, vm.err.text()[-300:]))


def count(vm, want):
    m = vm.command("count", r"^count = (\d+)$", 60)
    expect(int(m.group(1)) == want, "count = %s, expected %d" % (m.group(1), want))


def blk_write(vm, sector, text):
    m = vm.command("blk write %d %s" % (sector, text), r"^blk write %d (ok|.*)" % sector, 60)
    expect(m.group(1) == "ok", "blk write %d: %r" % (sector, m.group(0)))


def blk_read(vm, sector):
    return vm.command("blk read %d" % sector, r"^blk read %d: (.*)$" % sector, 60).group(1)


def sector_text(disk, s):
    with open(disk, "rb") as f:
        f.seek(s * 512)
        return f.read(512)


def expect_on_disk(disk, s, text, nbytes=None):
    b = sector_text(disk, s)
    n = len(text) if nbytes is None else nbytes
    want = text.encode()[:n]
    expect(b[:n] == want and b[n:] == bytes(512 - n),
           "sector %d holds %r, the guest acknowledged %r" % (s, b[:48], want))


def http_get(path="/"):
    with urllib.request.urlopen("http://%s%s" % (GUEST_IP, path), timeout=15) as r:
        return r.status, r.read()


def digest(*paths):
    out = {}
    for p in paths:
        names = sorted(os.listdir(p)) if os.path.isdir(p) else [""]
        for n in names:
            fp = os.path.join(p, n) if n else p
            with open(fp, "rb") as f:
                out[fp] = hashlib.sha256(f.read()).hexdigest()
    return out


def refused(snap, rx, watch=()):
    before = digest(snap, *watch)
    vm = Vm(argv=[VMM, "--resume", snap], timeout=60)
    try:
        rc = vm.wait_exit(60)
        err = vm.err.text()
    finally:
        close(vm)
    expect(rc == 1, "resume: exit %s, expected 1 (stderr %r)" % (rc, err[-300:]))
    expect(re.search(r"cannot resume from .*" + rx, err), "stderr %r does not match %r" % (err[-400:], rx))
    expect(digest(snap, *watch) == before, "a refused resume changed a file")


def need_net():
    if not VPC:
        raise AssertionError("no VPC/tap given (run through test_vmm_hibernate_virtio.sh)")


# ------------------------------------------------------------------ cases --

@case
def blk_and_net_round_trip():
    need_net()
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    snap = os.path.join(d, "snap")
    os.mkdir(snap)
    try:
        disk = new_disk(d)
        vm = boot(disk)
        try:
            blk_write(vm, 7, "before-hibernate")
            count(vm, 1)
            st, body = http_get()
            expect(st == 200 and body == b"i-hibvirt\n", "HTTP before: %r %r" % (st, body))
            hibernate(vm, snap)
        finally:
            close(vm)
        # The old process is gone: what it acknowledged is on the file.
        expect_on_disk(disk, 7, "before-hibernate")
        n = 1
        for rnd in range(2):
            vm = resume(snap)
            try:
                count(vm, n + 1)
                n += 1
                expect(blk_read(vm, 7) == "before-hibernate", "read after resume")
                blk_write(vm, 8 + rnd, "after-resume-%d" % rnd)
                expect(blk_read(vm, 8 + rnd) == "after-resume-%d" % rnd, "read back after resume")
                for _ in range(3):
                    st, body = http_get()
                    expect(st == 200 and body == b"i-hibvirt\n", "HTTP after resume: %r %r" % (st, body))
                st, body = http_get("/health")
                expect(st == 200, "/health after resume: %r" % st)
                stt = vm.ctl({"cmd": "status"})
                devs = {x["id"]: x for x in stt.get("devices", [])}
                expect(devs.get("vol-hib", {}).get("slot") == 0 and devs["vol-hib"].get("driver_status", 0) & 4,
                       "drive after resume: %r" % devs.get("vol-hib"))
                expect(devs.get("net0", {}).get("needs_reset") is False, "net0 after resume: %r" % devs.get("net0"))
                hibernate(vm, snap)
            finally:
                close(vm)
            expect_on_disk(disk, 8 + rnd, "after-resume-%d" % rnd)
        vm = resume(snap)
        try:
            count(vm, n + 1)
            vm.send("poweroff")
            expect(vm.wait_exit(60) == 0, "poweroff after resume")
        finally:
            close(vm)
        print("# 3 hibernate/resume rounds with virtio-blk + virtio-net in use")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case
def no_acknowledged_write_lost():
    """The host hibernates while the guest writes sector after sector:
    every write the guest reported done (before or after) is on the file."""
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    snap = os.path.join(d, "snap")
    os.mkdir(snap)
    tag = "%06x" % random.getrandbits(24)
    texts = {s: "w%d-%s" % (s, tag) for s in range(1, 401)}
    ack = re.compile(r"^blk write (\d+) ok \((\d+) bytes")
    acked = {}

    def collect(vm):
        for line in vm.out.lines():
            m = ack.match(line)
            if m:
                acked[int(m.group(1))] = int(m.group(2))

    try:
        disk = new_disk(d)
        vm = boot(disk, net=False)
        try:
            # One burst: the VMM feeds the guest's UART as it reads.
            vm.send("".join("blk write %d %s\n" % (s, t) for s, t in texts.items()))
            vm.wait_for(r"^blk write 20 ok", 120)
            hibernate(vm, snap)
            collect(vm)
        finally:
            close(vm)
        before = dict(acked)
        expect(len(before) >= 20, "only %d writes acknowledged before the hibernate" % len(before))
        for s, nb in before.items():
            expect_on_disk(disk, s, texts[s], nb)
        vm = resume(snap)
        try:
            # Commands still in the saved UART buffer run on; then a marker.
            vm.send("")
            vm.command("echo end-of-writes", r"^end-of-writes$", 120)
            collect(vm)
            count(vm, 1)
        finally:
            close(vm)
        for s, nb in acked.items():
            expect_on_disk(disk, s, texts[s], nb)
        print("# %d writes acknowledged before the hibernate, %d in all: all on the disk file"
              % (len(before), len(acked)))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_snapshot(d, net=False, attach=None):
    snap = os.path.join(d, "snap")
    os.mkdir(snap)
    disk = new_disk(d)
    vm = boot(disk, net=net)
    try:
        blk_write(vm, 3, "kept")
        count(vm, 1)
        if attach:
            for i, p in enumerate(attach):
                r = vm.ctl({"cmd": "attach-drive", "file": p, "id": "vol-hot%d" % i})
                expect(r.get("ok") is True, "attach-drive: %r" % r)
        st = vm.ctl({"cmd": "status"})
        hibernate(vm, snap)
    finally:
        close(vm)
    return snap, disk, st


@case
def missing_or_resized_drive_refused():
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    try:
        snap, disk, _ = make_snapshot(d)
        os.rename(disk, disk + ".away")
        refused(snap, r"drive vol-hib: .*(missing|No such file)", watch=[disk + ".away"])
        os.rename(disk + ".away", disk)
        os.truncate(disk, (DISK_MB + 1) << 20)
        refused(snap, r"drive vol-hib: .*different volume", watch=[disk])
        os.truncate(disk, DISK_MB << 20)
        # Held by another process (flock): refused, nothing changed.
        import fcntl
        with open(disk, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            refused(snap, r"in use by another VMM", watch=[disk])
        vm = resume(snap)
        try:
            count(vm, 2)
            expect(blk_read(vm, 3) == "kept", "read after the refused attempts")
        finally:
            close(vm)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def rewrite_section(state, tag, inst, mutate):
    """Apply mutate(bytearray payload) to section tag/inst and fix both CRCs
    (a well-formed file with a bad value inside)."""
    b = bytearray(open(state, "rb").read())
    for t, i, off, ln in sections(state):
        if t == tag and i == inst:
            p = bytearray(b[off:off + ln])
            mutate(p)
            expect(len(p) == ln, "mutation changed the length")
            b[off:off + ln] = p
            struct.pack_into("<I", b, off - 8, crc32c(bytes(p)))
            struct.pack_into("<I", b, off - 4, crc32c(bytes(b[off - 24:off - 4])))
            return bytes(b)
    raise AssertionError("no section %s/%d" % (tag, inst))


@case
def bad_device_sections_refused():
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    try:
        snap, disk, _ = make_snapshot(d)
        state = os.path.join(snap, "state")
        orig = open(state, "rb").read()
        secs = [(t, i, off, ln) for t, i, off, ln in sections(state) if t in ("VDEV", "VBUS")]
        expect(len(secs) >= 3, "device sections: %r" % secs)
        for t, i, off, ln in secs:
            b = bytearray(orig)
            b[off + ln // 2] ^= 0x20
            open(state, "wb").write(b)
            refused(snap, r"checksum mismatch", watch=[disk])
        # Well-formed but wrong inside: the drive's path, the drive's size,
        # the layout version, a slot the bus does not list.
        needle = disk.encode()
        cases = [
            ("VDEV", lambda p: p.__setitem__(slice(p.find(needle), p.find(needle) + len(needle)),
                                             needle[:-1] + b"X"), r"drive vol-hib: .*missing"),
            ("VDEV", lambda p: p.__setitem__(slice(0, 4), b"\x09\0\0\0"), r"virtio slot 0: unknown layout"),
        ]
        cases.append(("VBUS", lambda p: p.__setitem__(slice(12, 16), b"\x01\0\0\0"),
                      r"a device this VMM does not restore"))
        for tag, mut, rx in cases:
            open(state, "wb").write(orig)
            bad = rewrite_section(state, tag, 0, mut)
            open(state, "wb").write(bad)
            refused(snap, rx, watch=[disk])
        open(state, "wb").write(orig)
        vm = resume(snap)
        try:
            count(vm, 2)
        finally:
            close(vm)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case
def device_options_with_resume_refused():
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    try:
        snap, disk, _ = make_snapshot(d)
        for extra in (["--drive", "file=%s,id=x" % disk], ["--no-rng"], ["--net", "tap=zz0"]):
            vm = Vm(argv=[VMM, "--resume", snap] + extra, timeout=30)
            try:
                rc = vm.wait_exit(30)
                err = vm.err.text()
            finally:
                close(vm)
            expect(rc == 2 and "takes the devices" in err, "%r: exit %s, %r" % (extra, rc, err[-200:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case
def hot_attached_drives_keep_their_slots():
    d = tempfile.mkdtemp(prefix="haneul-hibv.")
    try:
        hot = [new_disk(d, "hot%d.img" % i, 1) for i in range(2)]
        snap, disk, st = make_snapshot(d, attach=hot)
        before = {x["id"]: (x["slot"], x["state"], x.get("file")) for x in st["devices"]}
        expect("vol-hot1" in before, "attach did not show: %r" % before)
        vm = resume(snap)
        try:
            count(vm, 2)
            st2 = vm.ctl({"cmd": "status"})
            after = {x["id"]: (x["slot"], x["state"], x.get("file")) for x in st2["devices"]}
            expect(after == before, "devices before %r, after %r" % (before, after))
            # Still a normal bus: detach (no driver) and attach again.
            r = vm.ctl({"cmd": "detach-drive", "id": "vol-hot0"})
            expect(r.get("ok") is True, "detach after resume: %r" % r)
            r = vm.ctl({"cmd": "attach-drive", "file": hot[0], "id": "vol-hot0"})
            expect(r.get("ok") is True, "attach after resume: %r" % r)
            hibernate(vm, snap)
        finally:
            close(vm)
        vm = resume(snap)
        try:
            count(vm, 3)
        finally:
            close(vm)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    failed = 0
    for fn in CASES:
        name = "hibernate_virtio_" + fn.__name__
        if len(sys.argv) > 5 and fn.__name__ not in sys.argv[5:]:
            continue
        try:
            fn()
            print("PASS: %s" % name, flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL: %s: %s" % (name, str(e)[:600].replace("\n", " ")), flush=True)
            traceback.print_exc(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
