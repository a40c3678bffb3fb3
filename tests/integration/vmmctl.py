#!/usr/bin/python3
"""tests/integration/vmmctl.py - drive one haneul-vmm process from a test.

    from vmmctl import Vm
    with Vm(kernel, vcpus=1) as vm:
        vm.wait_for(r"^haneul-ready tiny boot_us=(\\d+)")
        vm.send("echo hi"); vm.wait_for(r"^hi$")
        vm.ctl({"cmd": "status"})          # one JSON line over the control socket
        vm.send("poweroff"); rc = vm.wait_exit()

Every VMM runs under timeout(1), so a hung guest or VMM cannot hang a test
run; close() kills what is left.  stdout/stderr are collected by threads:
wait_for() searches the console output line by line (\\r stripped) from a
cursor that advances past each match, so repeated banners can be awaited in
turn.  Run as a script: `vmmctl.py SOCK JSON` sends one control request and
prints the reply (handy by hand).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.environ.get("HANEUL_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
_o = os.environ.get("O", "build")
BUILD = _o if os.path.isabs(_o) else os.path.join(ROOT, _o)
VMM = os.path.join(BUILD, "haneul-vmm")
TINY = os.path.join(BUILD, "images", "tiny", "tiny.elf")


class VmError(Exception):
    pass


class _Collector(threading.Thread):
    """Reads a pipe to EOF, keeping complete lines and the unfinished tail."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.cond = threading.Condition()
        self.raw = bytearray()
        self.eof = False
        self.start()

    def run(self):
        while True:
            b = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else os.read(self.pipe.fileno(), 65536)
            with self.cond:
                if not b:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.raw += b
                self.cond.notify_all()

    def text(self):
        with self.cond:
            return self.raw.decode("utf-8", "replace").replace("\r", "")

    def lines(self):
        return self.text().split("\n")


class Vm:
    def __init__(self, kernel=None, vcpus=1, mem="64M", control=True, console_log=None,
                 extra=(), timeout=60, stdin=True, vmm=None, argv=None):
        """argv: run this command instead of haneul-vmm (e.g. QEMU); then
        only the console helpers apply."""
        self.tmp = tempfile.mkdtemp(prefix="haneul-vmmctl.")
        self.sock = os.path.join(self.tmp, "ctl.sock") if control and not argv else None
        if argv is None:
            argv = [vmm or VMM, "--kernel", kernel or TINY, "--vcpus", str(vcpus), "--mem", mem]
            if self.sock:
                argv += ["--control", self.sock]
            if console_log:
                argv += ["--console-log", console_log]
            argv += list(extra)
        self.argv = argv
        self.started = time.monotonic()
        # -k: a VMM that ignores SIGTERM is killed 5 s later.
        self.proc = subprocess.Popen(["timeout", "-k", "5", str(timeout)] + argv,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = _Collector(self.proc.stdout)
        self.err = _Collector(self.proc.stderr)
        self.cursor = 0  # index into out.lines() where the next wait_for starts
        self.rc = None

    # ---- process ----
    @property
    def pid(self):
        """pid of haneul-vmm itself (the child of timeout(1)), or None."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except (OSError, ValueError):
            return None

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
        raise VmError("no VmRSS")

    def cpu_ticks(self):
        """utime + stime of the VMM (all threads), in clock ticks."""
        with open("/proc/%d/stat" % self.pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])

    def wait_exit(self, timeout=20):
        # Popen.wait(timeout) sleeps up to 50 ms between polls: poll finer so
        # the exit time seen here is the real one.
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise VmError("VMM still running after %ss" % timeout)
            time.sleep(0.001)
        self.rc = self.proc.returncode
        self.out.join(5)
        self.err.join(5)
        return self.rc

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            pid = self.pid
            try:
                if pid:
                    os.kill(pid, 9)
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
        for p in (self.proc.stdin,):
            try:
                if p:
                    p.close()
            except OSError:
                pass
        self.out.join(5)
        self.err.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        for name in os.listdir(self.tmp):
            try:
                os.unlink(os.path.join(self.tmp, name))
            except OSError:
                pass
        try:
            os.rmdir(self.tmp)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- console ----
    def send(self, line):
        """Type one line (a str ends with \\n; bytes are sent as they are)."""
        data = line if isinstance(line, bytes) else (line + "\n").encode()
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise VmError("VMM stdin closed: %s" % e)

    def wait_for(self, pattern, timeout=15):
        """Wait for a complete console line matching regex `pattern` after the
        cursor; returns the match and moves the cursor past that line."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.out.cond:
            while True:
                lines = self.out.raw.decode("utf-8", "replace").replace("\r", "").split("\n")
                for i in range(self.cursor, len(lines) - 1):  # last one is unfinished
                    m = rx.search(lines[i])
                    if m:
                        self.cursor = i + 1
                        return m
                left = deadline - time.monotonic()
                if self.out.eof or left <= 0:
                    raise VmError("no console line matching %r within %ss (%s); last output: %r; stderr: %r"
                                  % (pattern, timeout, "VMM exited" if self.out.eof else "timeout",
                                     "\n".join(lines[-8:]), self.err.text()[-400:]))
                self.out.cond.wait(min(left, 0.5))

    def seen(self, pattern):
        """Does any complete console line after the cursor match? (no wait)"""
        rx = re.compile(pattern)
        lines = self.out.lines()
        return any(rx.search(l) for l in lines[self.cursor:len(lines) - 1])

    def wait_ready(self, timeout=20):
        m = self.wait_for(r"^haneul-ready tiny boot_us=(\d+)$", timeout)
        return int(m.group(1))

    def wait_stderr(self, pattern, timeout=15):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.err.cond:
            while True:
                m = rx.search(self.err.raw.decode("utf-8", "replace"))
                if m:
                    return m
                left = deadline - time.monotonic()
                if self.err.eof or left <= 0:
                    raise VmError("no stderr matching %r; stderr: %r" % (pattern, self.err.text()[-400:]))
                self.err.cond.wait(min(left, 0.5))

    def command(self, line, answer, timeout=15):
        """Send a command and wait for the answer line (regex)."""
        self.send(line)
        return self.wait_for(answer, timeout)

    # ---- control socket ----
    def ctl_raw(self, data, timeout=10):
        """Send raw bytes on a fresh connection; returns the first reply line
        (str, without the newline) or '' when the VMM closed without one."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            s.sendall(data)
            buf = b""
            while b"\n" not in buf:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
            return buf.split(b"\n", 1)[0].decode("utf-8", "replace")
        finally:
            s.close()

    def ctl(self, obj, timeout=10):
        """One request object -> reply object (raises VmError on a non-JSON reply)."""
        line = self.ctl_raw((json.dumps(obj) + "\n").encode(), timeout)
        try:
            return json.loads(line)
        except ValueError:
            raise VmError("control reply is not JSON: %r" % line[:300])

    def wait_socket(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.sock):
                return
            if not self.alive():
                break
            time.sleep(0.02)
        raise VmError("control socket %s did not appear" % self.sock)


def json_numbers(obj, prefix=""):
    """Flatten a JSON value into {dotted.key: number} for leaf numbers."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(json_numbers(v, prefix + str(k) + "."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(json_numbers(v, prefix + str(i) + "."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix[:-1]] = obj
    return out


def json_strings(obj):
    """Every string inside a JSON value, concatenated (for 'contains' checks)."""
    if isinstance(obj, dict):
        return "".join(json_strings(v) for v in obj.values())
    if isinstance(obj, list):
        return "".join(json_strings(v) for v in obj)
    return obj if isinstance(obj, str) else ""


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: vmmctl.py SOCK JSON")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode() + b"\n")
    print(s.makefile().readline().rstrip("\n"))
