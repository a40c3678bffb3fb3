#!/usr/bin/python3
"""tests/integration/tiny_net.py - the tiny guest's virtio-net/TCP/HTTP and
virtio-blk cases, under QEMU -M microvm and (when its devices exist) under
haneul-vmm.  Run by test_tiny_net.sh / test_tiny_blk.sh, which create the
network namespace and run this script INSIDE it (so every socket, tap and
packet here stays in that namespace).

    tiny_net.py net qemu|haneul TAP HOST_IP GUEST_IP
    tiny_net.py blk qemu|haneul

Prints PASS/FAIL/SKIP lines (tests/run.sh counts them).  Every VM runs
under timeout(1) via vmmctl.Vm; every socket operation has a timeout.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmctl import TINY, VMM, Vm, VmError  # noqa: E402

QEMU = ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-cpu", "qemu64", "-m", "64M",
        "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-kernel", TINY,
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-global", "virtio-mmio.force-legacy=false"]
RESULTS = []


def report(name, ok, why=""):
    line = ("PASS: %s" % name) if ok else ("FAIL: %s: %s" % (name, why))
    print(line, flush=True)
    RESULTS.append(ok)


def skip(name, why):
    print("SKIP: %s: %s" % (name, why), flush=True)


def run_case(name, fn, *args):
    try:
        r = fn(*args)
        if r is None or r is True:
            report(name, True)
        else:
            report(name, False, str(r))
    except Exception as e:  # a failed case must not stop the others
        report(name, False, "%s: %s" % (type(e).__name__, str(e)[:600]))


# ---------------------------------------------------------------- VMs ----

def start_vm(vmm, cmdline, tap=None, drive=None, drive_id="vol-tinytest", timeout=120):
    if vmm == "qemu":
        argv = QEMU + ["-append", cmdline]
        if tap:
            argv += ["-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % tap,
                     "-device", "virtio-net-device,netdev=n0"]
        if drive:
            argv += ["-drive", "id=d0,file=%s,format=raw,if=none" % drive,
                     "-device", "virtio-blk-device,drive=d0,serial=%s" % drive_id]
        return Vm(argv=argv, timeout=timeout)
    extra = ["--cmdline", cmdline]
    if tap:
        extra += ["--net", "tap=%s" % tap]
    if drive:
        extra += ["--drive", "file=%s,id=%s" % (drive, drive_id)]
    return Vm(TINY, mem="64M", extra=extra, timeout=timeout)


def poweroff(vm):
    vm.send("poweroff")
    vm.wait_for(r"^tiny: powering off", 20)
    vm.wait_exit(20)


# ---------------------------------------------------------- HTTP client ----

def http_get(ip, path, timeout=10, raw=None, port=80):
    """(status, headers dict, body) of one request on a fresh connection;
    the server closes it (Connection: close), so read to EOF."""
    s = socket.create_connection((ip, port), timeout=timeout)
    try:
        s.sendall(raw if raw is not None else
                  ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tiny-test\r\n\r\n" % (path, ip)).encode())
        buf = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            buf += b
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


# -------------------------------------------------- raw TCP on the tap ----

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(a):
    return socket.inet_aton(a)


class RawPeer:
    """A made-up host on the guest's subnet, speaking TCP by hand through an
    AF_PACKET socket on the tap: lets a test withhold ACKs (to see the guest
    retransmit) and send segments a normal stack never would."""

    MAC = bytes.fromhex("020000000099")

    def __init__(self, tap, my_ip, guest_ip, guest_mac):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.s.bind((tap, 0))
        self.my_ip, self.guest_ip = my_ip, guest_ip
        self.guest_mac = guest_mac

    def close(self):
        self.s.close()

    def send(self, sport, dport, seq, ack, flags, payload=b"", mss=None, bad_csum=False):
        opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
        off = (20 + len(opts)) // 4
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          off << 4, flags, 8192, 0, 0) + opts + payload
        ph = ip4(self.my_ip) + ip4(self.guest_ip) + struct.pack("!BBH", 0, 6, len(tcp))
        c = csum(ph + tcp) ^ (0x5555 if bad_csum else 0)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randint(0, 65535), 0x4000,
                          64, 6, 0, ip4(self.my_ip), ip4(self.guest_ip))
        iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
        self.s.send(self.guest_mac + self.MAC + b"\x08\x00" + iph + tcp)

    def recv(self, sport, timeout):
        """Next TCP segment from the guest to our port `sport`, checked
        (IP and TCP checksums): dict or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                f = self.s.recv(2048)
            except socket.timeout:
                return None
            if len(f) < 54 or f[0:6] != self.MAC or f[12:14] != b"\x08\x00":
                continue
            ip = f[14:]
            ihl = (ip[0] & 0xf) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != 6 or ip[12:16] != ip4(self.guest_ip) or ip[16:20] != ip4(self.my_ip):
                continue
            tcp = ip[ihl:tot]
            dport = struct.unpack("!H", tcp[2:4])[0]
            if dport != sport:
                continue
            ph = ip4(self.guest_ip) + ip4(self.my_ip) + struct.pack("!BBH", 0, 6, len(tcp))
            hl = (tcp[12] >> 4) * 4
            seg = {"sport": struct.unpack("!H", tcp[0:2])[0],
                   "seq": struct.unpack("!I", tcp[4:8])[0], "ack": struct.unpack("!I", tcp[8:12])[0],
                   "flags": tcp[13], "win": struct.unpack("!H", tcp[14:16])[0],
                   "opts": tcp[20:hl], "data": tcp[hl:], "t": time.monotonic(),
                   "ip_ok": csum(ip[:ihl]) == 0, "tcp_ok": csum(ph + tcp) == 0}
            return seg


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def guest_mac(vm):
    vm.send("net")
    m = vm.wait_for(r"^net: mac=([0-9a-f:]{17}) ")
    return bytes.fromhex(m.group(1).replace(":", ""))


# ------------------------------------------------------------ net cases ----

def net_cases(vmm, tap, host_ip, guest_ip):
    sfx = "_under_" + vmm
    iid = "i-%08x" % random.getrandbits(32)
    cmd = "console=ttyS0 ip=%s/24 gw=%s haneul.instance_id=%s" % (guest_ip, host_ip, iid)
    subnet = guest_ip.rsplit(".", 1)[0]
    with start_vm(vmm, cmd, tap=tap) as vm:
        try:
            vm.wait_for(r"^virtio: net at 0x[0-9a-f]+ mac ", 30)
            vm.wait_for(r"^net: ip %s/24 gw %s instance %s" % (guest_ip, host_ip, iid), 10)
            vm.wait_ready(20)
            report("tiny_net_up" + sfx, True)
        except VmError as e:
            report("tiny_net_up" + sfx, False, str(e)[:600])
            return

        def ping():
            if not os.path.exists("/usr/bin/ping") and not os.path.exists("/bin/ping"):
                return "ping not installed (apt-get install iputils-ping)"
            r = subprocess.run(["ping", "-c", "3", "-i", "0.2", "-W", "3", guest_ip],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0 or " 0% packet loss" not in r.stdout:
                return "ping failed: " + r.stdout[-300:] + r.stderr[-200:]
        if os.path.exists("/usr/bin/ping") or os.path.exists("/bin/ping"):
            run_case("tiny_ping" + sfx, ping)
        else:
            skip("tiny_ping" + sfx, "ping not installed (apt-get install iputils-ping)")

        def root():
            st, h, body = http_get(guest_ip, "/")
            if st != 200 or body != (iid + "\n").encode():
                return "GET / -> %s %r" % (st, body)
            if h.get("connection") != "close" or int(h.get("content-length", -1)) != len(body):
                return "headers %r" % h
        run_case("tiny_http_root_instance_id" + sfx, root)

        def health():
            st, _, body = http_get(guest_ip, "/health")
            if st != 200 or body != b"ok\n":
                return "GET /health -> %s %r" % (st, body)
        run_case("tiny_http_health" + sfx, health)

        def statuses():
            st, _, _ = http_get(guest_ip, "/no/such/page")
            if st != 404:
                return "404 expected, got %s" % st
            st, _, _ = http_get(guest_ip, None, raw=b"BLAH\r\n\r\n")
            if st != 400:
                return "400 expected for a bad request line, got %s" % st
            st, _, _ = http_get(guest_ip, None, raw=b"GET / HTTP/1.1\r\n\r\n")
            if st != 200:
                return "200 expected for a minimal request, got %s" % st
            st, _, _ = http_get(guest_ip, None, raw=b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            if st != 405:
                return "405 expected for POST, got %s" % st
            st, _, _ = http_get(guest_ip, "/burn?ms=abc")
            if st != 400:
                return "400 expected for /burn?ms=abc, got %s" % st
        run_case("tiny_http_404_400_405" + sfx, statuses)

        def burn():
            st, _, body = http_get(guest_ip, "/burn?ms=30", timeout=20)
            if st != 200 or body != b"burned 30 ms\n":
                return "GET /burn?ms=30 -> %s %r" % (st, body)
        run_case("tiny_http_burn" + sfx, burn)

        def concurrent():
            # 8 connections open at once (the guest's table size), then
            # requests on all of them, answers read afterwards.
            socks = []
            try:
                for _ in range(8):
                    socks.append(socket.create_connection((guest_ip, 80), timeout=15))
                for i, s in enumerate(socks):
                    s.sendall(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % (b"health" if i % 2 else b""))
                for i, s in enumerate(socks):
                    buf = b""
                    while True:
                        b = s.recv(4096)
                        if not b:
                            break
                        buf += b
                    want = b"ok\n" if i % 2 else (iid + "\n").encode()
                    if not buf.startswith(b"HTTP/1.1 200 OK\r\n") or not buf.endswith(want):
                        return "connection %d got %r" % (i, buf[:200])
            finally:
                for s in socks:
                    s.close()
            # and 24 requests from 6 threads at once
            errs = []

            def worker():
                for _ in range(4):
                    try:
                        st, _, body = http_get(guest_ip, "/health", timeout=20)
                        if st != 200 or body != b"ok\n":
                            errs.append("%s %r" % (st, body))
                    except Exception as e:
                        errs.append(repr(e))
            ts = [threading.Thread(target=worker) for _ in range(6)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            if errs:
                return "%d of 24 failed: %s" % (len(errs), errs[:3])
        run_case("tiny_http_concurrent_connections" + sfx, concurrent)

        def refused():
            try:
                s = socket.create_connection((guest_ip, 81), timeout=5)
            except ConnectionRefusedError:
                return None
            s.close()
            return "port 81 accepted a connection"
        run_case("tiny_tcp_closed_port_refused_rst" + sfx, refused)

        # ---- raw segments from a made-up peer on the subnet ----
        mac = guest_mac(vm)
        peer = RawPeer(tap, subnet + ".99", guest_ip, mac)
        try:
            def stray_ack():
                sport = random.randint(20000, 60000)
                peer.send(sport, 80, 5000, 777777, ACK)
                r = peer.recv(sport, 5)
                if not r:
                    return "no answer to an ACK for no connection"
                if r["flags"] != RST or r["seq"] != 777777 or not r["tcp_ok"] or not r["ip_ok"]:
                    return "want RST seq=777777, got %r" % r
                sport += 1
                peer.send(sport, 81, 9000, 0, SYN)
                r = peer.recv(sport, 5)
                if not r or r["flags"] != RST | ACK or r["ack"] != 9001:
                    return "want RST|ACK ack=9001 for a SYN to port 81, got %r" % r
                sport += 1
                peer.send(sport, 80, 9000, 0, SYN, bad_csum=True)
                r = peer.recv(sport, 1.0)
                if r:
                    return "answered a SYN with a bad checksum: %r" % r
            run_case("tiny_tcp_rst_for_bad_segments" + sfx, stray_ack)

            def synack_retransmit():
                sport = random.randint(20000, 60000)
                peer.send(sport, 80, 1000, 0, SYN, mss=1200)
                a = peer.recv(sport, 5)
                if not a or a["flags"] != SYN | ACK or a["ack"] != 1001 or not a["tcp_ok"]:
                    return "want SYN|ACK ack=1001, got %r" % a
                if a["opts"][:2] != b"\x02\x04":
                    return "SYN-ACK without an MSS option: %r" % a["opts"]
                b = peer.recv(sport, 5)  # we never ACK: the guest must send it again
                if not b or b["flags"] != SYN | ACK or b["seq"] != a["seq"]:
                    return "no SYN-ACK retransmission: %r" % b
                peer.send(sport, 80, 1001, 0, RST)  # clean up
            run_case("tiny_tcp_synack_retransmitted" + sfx, synack_retransmit)

            def data_retransmit():
                sport = random.randint(20000, 60000)
                peer.send(sport, 80, 50000, 0, SYN, mss=1400)
                a = peer.recv(sport, 5)
                if not a or a["flags"] != SYN | ACK:
                    return "no SYN-ACK: %r" % a
                iss = a["seq"]
                req = b"GET /health HTTP/1.1\r\nHost: raw\r\n\r\n"
                peer.send(sport, 80, 50001, iss + 1, ACK | PSH, req)
                d1 = None
                for _ in range(4):  # a pure ACK may come first
                    r = peer.recv(sport, 5)
                    if r and r["data"]:
                        d1 = r
                        break
                if not d1 or not d1["data"].startswith(b"HTTP/1.1 200 OK") or d1["seq"] != iss + 1:
                    return "no response: %r" % d1
                if d1["ack"] != 50001 + len(req):
                    return "response acks %d, want %d" % (d1["ack"], 50001 + len(req))
                d2 = None
                for _ in range(4):  # not acknowledged: it must come again
                    r = peer.recv(sport, 5)
                    if r and r["data"]:
                        d2 = r
                        break
                if not d2 or d2["seq"] != d1["seq"] or d2["data"] != d1["data"]:
                    return "response not retransmitted: %r" % d2
                end = iss + 1 + len(d1["data"]) + (1 if d1["flags"] & FIN else 0)
                fin_in_data = bool(d1["flags"] & FIN)
                peer.send(sport, 80, 50001 + len(req), end, ACK)
                if not fin_in_data:
                    f = peer.recv(sport, 5)
                    if not f or not f["flags"] & FIN:
                        return "no FIN after the response: %r" % f
                    end = f["seq"] + 1
                    peer.send(sport, 80, 50001 + len(req), end, ACK)
                # our FIN; the guest acknowledges it
                peer.send(sport, 80, 50001 + len(req), end, FIN | ACK)
                f = peer.recv(sport, 5)
                if not f or f["flags"] & (RST | SYN) or f["ack"] != 50001 + len(req) + 1:
                    return "our FIN not acknowledged: %r" % f
            run_case("tiny_tcp_data_retransmitted_and_fin_handshake" + sfx, data_retransmit)
        finally:
            peer.close()

        def counters():
            vm.send("net")
            m = vm.wait_for(r"^net: .* retransmits=(\d+) .* http=(\d+)")
            if int(m.group(1)) < 2 or int(m.group(2)) < 30:
                return "counters look wrong: " + m.group(0)
        run_case("tiny_net_counters" + sfx, counters)

        def bench():
            n, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < 2.0:
                http_get(guest_ip, "/health")
                n += 1
            rps = n / (time.monotonic() - t0)
            print("# tiny guest %s: %.0f sequential HTTP requests/s (info, not asserted)" % (vmm, rps))
        run_case("tiny_http_sequential_requests" + sfx, bench)
        run_case("tiny_poweroff_after_net" + sfx, poweroff, vm)


# ------------------------------------------------------------ blk cases ----

def blk_cases(vmm):
    sfx = "_under_" + vmm
    tmp = tempfile.mkdtemp(prefix="haneul-tinyblk.")
    img = os.path.join(tmp, "vol.img")
    token = "tiny-%08x-written-by-guest" % random.getrandbits(32)
    host = "host-%08x-written-by-host" % random.getrandbits(32)
    try:
        with open(img, "wb") as f:
            f.truncate(4 << 20)  # 8192 sectors, sparse
            f.seek(9 * 512)
            f.write(host.encode())
        vol = "vol-%08x" % random.getrandbits(32)

        def first_boot():
            with start_vm(vmm, "console=ttyS0", drive=img, drive_id=vol) as vm:
                vm.wait_for(r"^virtio: blk at 0x[0-9a-f]+ capacity 8192 sectors serial %s rw$" % vol, 30)
                vm.wait_ready(20)
                vm.command("blk info", r"^blk: capacity=8192 sectors ro=0 flush=1 serial=%s$" % vol)
                vm.command("blk read 9", r"^blk read 9: %s$" % host)
                vm.command("blk write 7 " + token, r"^blk write 7 ok \(%d bytes, flushed\)$" % len(token))
                vm.command("blk read 7", r"^blk read 7: %s$" % token)
                vm.command("blk read 8192", r"^blk: read failed: sector out of range")
                poweroff(vm)
        run_case("tiny_blk_write_flush_read" + sfx, first_boot)

        def host_sees():
            with open(img, "rb") as f:
                f.seek(7 * 512)
                sec = f.read(512)
            if sec != token.encode() + b"\0" * (512 - len(token)):
                return "sector 7 on the host: %r" % sec[:80]
        run_case("tiny_blk_host_image_has_guest_write" + sfx, host_sees)

        def second_boot():
            with start_vm(vmm, "console=ttyS0", drive=img, drive_id=vol) as vm:
                vm.wait_ready(30)
                vm.command("blk read 7", r"^blk read 7: %s$" % token)
                poweroff(vm)
        run_case("tiny_blk_read_back_after_reboot" + sfx, second_boot)
    finally:
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)


def main():
    what, vmm = sys.argv[1], sys.argv[2]
    if what == "net":
        net_cases(vmm, *sys.argv[3:6])
    else:
        blk_cases(vmm)
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
