#!/usr/bin/python3
"""tests/integration/netns_vmm.py - haneul-vmm on a VPC: the parts of
test_netns.sh that drive VMs (run by it, never alone).

    netns_vmm.py VPC TAP GATEWAY GUEST_IP TMPDIR

Runs in the HOST namespace: the VMM opens its tap inside the VPC namespace
(--net tap=TAP,netns=VPC) and the host reaches the guest only through the
VPC's veth link and route.  Prints PASS/FAIL/SKIP lines.
"""
import os
import random
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmctl import TINY, VMM, Vm, VmError  # noqa: E402


def report(name, ok, why=""):
    print(("PASS: %s" % name) if ok else ("FAIL: %s: %s" % (name, why)), flush=True)


def http_get(ip, path, timeout=10):
    s = socket.create_connection((ip, 80), timeout=timeout)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, ip)).encode())
        buf = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            buf += b
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def vm_in_vpc(vpc, tap, gw, guest_ip):
    iid = "i-%08x" % random.getrandbits(32)
    cmd = "console=ttyS0 ip=%s/24 gw=%s haneul.instance_id=%s" % (guest_ip, gw, iid)
    extra = ["--cmdline", cmd, "--net", "tap=%s,netns=%s,mac=02:00:00:00:00:42" % (tap, vpc)]
    with Vm(TINY, mem="64M", extra=extra, timeout=120) as vm:
        try:
            vm.wait_for(r"^virtio: net at 0x[0-9a-f]+ mac 02:00:00:00:00:42", 30)
            vm.wait_ready(30)
        except VmError as e:
            report("vmm_net_tap_in_vpc_namespace", False, str(e)[:600])
            return
        report("vmm_net_tap_in_vpc_namespace", True)
        # Host namespace -> veth -> VPC bridge -> tap -> guest, and back.
        try:
            st, body = None, b""
            for _ in range(20):  # the guest may still be answering ARP
                try:
                    st, body = http_get(guest_ip, "/")
                    break
                except OSError:
                    time.sleep(0.25)
            ok = st == 200 and iid.encode() in body
            report("vmm_net_host_reaches_guest_through_vpc", ok, "status %s body %r" % (st, body[:200]))
        except OSError as e:
            report("vmm_net_host_reaches_guest_through_vpc", False, str(e))
        st = vm.ctl({"cmd": "status"})
        devs = [d for d in st.get("devices", []) if d.get("id") == "net0"]
        ok = bool(devs) and devs[0].get("tap") == tap and devs[0].get("rx_packets", 0) > 0 \
            and devs[0].get("tx_packets", 0) > 0
        report("vmm_net_status_counters", ok, "devices: %r" % st.get("devices"))
        vm.send("poweroff")
        rc = vm.wait_exit(20)
        report("vmm_net_guest_powers_off", rc == 0, "exit %s; stderr %s" % (rc, vm.err.text()[-300:]))


def run_vmm(args, timeout=20):
    return subprocess.run(["timeout", "-k", "3", str(timeout), VMM, "--kernel", TINY, "--mem", "32M",
                           "--console", "none"] + args, capture_output=True, text=True)


def vmm_errors():
    r = run_vmm(["--net", "tap=hnx0,netns=haneul-no-such-vpc-%d" % os.getpid()])
    ok = r.returncode == 1 and "network namespace" in r.stderr and "no-such-vpc" in r.stderr
    report("vmm_net_missing_namespace_is_an_error", ok, "rc %d: %s" % (r.returncode, r.stderr[-300:]))


def vsock_host_side(tmp):
    path = os.path.join(tmp, "v.sock")
    # A stale socket file (nobody listening) is replaced.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    with Vm(TINY, mem="64M", extra=["--vsock", "cid=3,uds=%s" % path], timeout=60) as vm:
        try:
            vm.wait_ready(30)
        except VmError as e:
            report("vmm_vsock_listens", False, str(e)[:400])
            return
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(5)
        try:
            c.connect(path)
            report("vmm_vsock_listens", True)
        except OSError as e:
            report("vmm_vsock_listens", False, "connect %s: %s" % (path, e))
        finally:
            c.close()
        r = run_vmm(["--vsock", "cid=4,uds=%s" % path])
        ok = r.returncode == 1 and "another process listens" in r.stderr
        report("vmm_vsock_socket_in_use_refused", ok, "rc %d: %s" % (r.returncode, r.stderr[-300:]))
        st = vm.ctl({"cmd": "status"})
        ok = any(d.get("id") == "vsock0" and d.get("cid") == 3 for d in st.get("devices", []))
        report("vmm_vsock_in_status", ok, "devices: %r" % st.get("devices"))
        vm.send("poweroff")
        vm.wait_exit(20)
    report("vmm_vsock_socket_removed_on_exit", not os.path.exists(path), "%s still there" % path)
    r = run_vmm(["--vsock", "cid=3,uds=%s" % os.path.join(tmp, "nodir", "v.sock")])
    ok = r.returncode == 1 and "--vsock uds" in r.stderr
    report("vmm_vsock_bad_path_is_an_error", ok, "rc %d: %s" % (r.returncode, r.stderr[-300:]))


def main():
    vpc, tap, gw, guest_ip, tmp = sys.argv[1:6]
    vmm_errors()
    vm_in_vpc(vpc, tap, gw, guest_ip)
    vsock_host_side(tmp)


if __name__ == "__main__":
    main()
