#!/bin/sh
# tests/nested/linux_cases.sh - runs INSIDE the nested harness's outer VM
# (busybox sh, real /dev/kvm); test_linux.sh copies it in.  Boots Debian's
# cloud kernel + the images/linux initramfs under haneul-vmm and prints one
# PASS/FAIL/SKIP line per case.  On a failure it prints the inner console and
# the VMM's stderr (tails) so the report shows where the guest stopped.
#
# Cases (each is one or two inner boots, ~5 s each under nested KVM):
#   bzimage_1vcpu_poweroff  marker with nproc=1, VMM exit 0, "guest powered off"
#   bzimage_2vcpu_poweroff  the same with --vcpus 2: the guest sees nproc=2
#   reboot_same_process     haneul.test=reboot: two markers in one VMM process,
#                           "guest rebooted" on stderr
#   shutdown_ctrl_alt_del   haneul.test=wait + control {"cmd":"shutdown"}:
#                           Ctrl-Alt-Del -> busybox init poweroff -> exit 0
#   elf_vmlinux_boot        --kernel vmlinux (ELF64 entry) reaches the marker
#   bad_kernel_file         garbage / missing kernel: non-zero exit, a message
#                           that names the kernel
VMM=${HANEUL_VMM:-/haneul/bin/haneul-vmm}
L=${LINUX_DIR:-/haneul/images/linux}
BW=/haneul/bin/bootwatch
T=/tmp/cases
CON="console=ttyS0 panic=-1"
mkdir -p $T

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

# evidence NAME: what the inner guest and the VMM said, for the report.
evidence() {
	echo "--- $1: inner console (last 25 lines):"
	tail -n 25 "$T/$1.con" 2>/dev/null | sed 's/^/    con| /'
	echo "--- $1: haneul-vmm stderr (last 25 lines):"
	tail -n 25 "$T/$1.err" 2>/dev/null | sed 's/^/    err| /'
	[ -f "$T/$1.bw" ] && sed 's/^/    bootwatch| /' "$T/$1.bw"
}

# boot NAME TIMEOUT MODE [VMM ARGS...]: run haneul-vmm in the background with
# console -> NAME.con, stderr -> NAME.err; wait for it to exit (or kill it at
# TIMEOUT seconds); sets $rc (124 on timeout).
boot() {
	name=$1 tmo=$2 mode=$3; shift 3
	"$VMM" --cmdline "$CON haneul.test=$mode" "$@" >"$T/$name.con" 2>"$T/$name.err" &
	pid=$!
	n=0
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt $((tmo * 5)) ]; do
		sleep 0.2; n=$((n + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=124
	else
		wait "$pid"; rc=$?
	fi
}

# marker NAME: the readiness marker lines of NAME's console
markers() { tr -d '\r' <"$T/$1.con" | grep -o 'haneul-ready linux uptime=[0-9.]* nproc=[0-9]*'; }

poweroff_case() { # NAME VCPUS KERNEL
	boot "$1" 120 poweroff --kernel "$3" --initrd "$L/initrd.img" --vcpus "$2" --mem 256M
	m=$(markers "$1" | head -n 1)
	if [ -z "$m" ]; then
		fail "$1" "no readiness marker (VMM exit $rc)"; evidence "$1"
	elif [ "${m##*nproc=}" != "$2" ]; then
		fail "$1" "guest sees ${m##*nproc=} CPUs, expected $2 ($m)"; evidence "$1"
	elif [ "$rc" != 0 ]; then
		fail "$1" "VMM exit status $rc after guest poweroff, expected 0"; evidence "$1"
	elif ! grep -q 'haneul-vmm: guest powered off' "$T/$1.err"; then
		fail "$1" "no 'haneul-vmm: guest powered off' on stderr"; evidence "$1"
	else
		pass "$1"
		echo "    $1: $m"
	fi
}

[ -e /dev/kvm ] || { fail harness_kvm "no /dev/kvm in the outer VM"; exit 1; }

poweroff_case bzimage_1vcpu_poweroff 1 "$L/vmlinuz"
poweroff_case bzimage_2vcpu_poweroff 2 "$L/vmlinuz"
# The 2-vCPU inner console, for the record (docs/testing-nested.md).
echo "--- bzimage_2vcpu_poweroff: inner console excerpt:"
tr -d '\r' <"$T/bzimage_2vcpu_poweroff.con" | grep -E 'Linux version|smpboot|x86: Booted|ACPI: PM|haneul-ready|reboot:|Power down|i8042|ttyS0|clocksource: Switched' |
	head -n 20 | sed 's/^/    con| /'

# Reboot: every boot of haneul.test=reboot reboots (nothing in the guest can
# count boots), so the host side ends the VMM after the second marker.
name=reboot_same_process
if [ -x "$BW" ]; then
	$BW --count 2 --timeout 150 --log "$T/$name.con" --stop term -- \
		"$VMM" --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 2 --mem 256M \
		--cmdline "$CON haneul.test=reboot" >"$T/$name.bw" 2>"$T/$name.err"
	n=$(markers $name | wc -l)
	if [ "$n" -lt 2 ]; then
		fail $name "$n readiness marker(s) in one VMM process, expected 2"; evidence $name
	elif ! grep -q 'haneul-vmm: guest rebooted' "$T/$name.err"; then
		fail $name "two markers but no 'haneul-vmm: guest rebooted' on stderr"; evidence $name
	else
		pass $name
	fi
else
	skip $name "no bootwatch in the outer VM (build/bench/bootwatch not built)"
fi

name=shutdown_ctrl_alt_del
if [ -x "$BW" ]; then
	sock=$T/$name.sock
	$BW --timeout 150 --log "$T/$name.con" --control "$sock" --stop control -- \
		"$VMM" --kernel "$L/vmlinuz" --initrd "$L/initrd.img" --vcpus 2 --mem 256M \
		--cmdline "$CON haneul.test=wait" --control "$sock" >"$T/$name.bw" 2>"$T/$name.err"
	ex=$(sed -n 's/^exit=//p' "$T/$name.bw")
	if [ "$(markers $name | wc -l)" -lt 1 ]; then
		fail $name "no readiness marker"; evidence $name
	elif grep -q '^metrics_error=' "$T/$name.bw"; then
		fail $name "control socket: $(sed -n 's/^metrics_error=//p' "$T/$name.bw")"; evidence $name
	elif [ "$ex" != 0 ] || ! grep -q 'haneul-vmm: guest powered off' "$T/$name.err"; then
		fail $name "after control shutdown: exit=$ex, powered-off message: $(grep -c 'powered off' "$T/$name.err")"; evidence $name
	else
		pass $name
	fi
else
	skip $name "no bootwatch in the outer VM"
fi

# ELF vmlinux: the loader's elf64 path (and PVH, when the VMM has a switch).
name=elf_vmlinux_boot
boot $name 120 poweroff --kernel "$L/vmlinux" --initrd "$L/initrd.img" --vcpus 2 --mem 256M
if [ -n "$(markers $name)" ] && [ "$rc" = 0 ]; then pass $name
else fail $name "vmlinux (ELF): marker: $(markers $name | wc -l), exit $rc"; evidence $name; fi
if "$VMM" --help 2>&1 | grep -q -- '--pvh'; then
	name=elf_vmlinux_pvh_boot
	boot $name 120 poweroff --kernel "$L/vmlinux" --pvh --initrd "$L/initrd.img" --vcpus 2 --mem 256M
	if [ -n "$(markers $name)" ] && [ "$rc" = 0 ]; then pass $name
	else fail $name "vmlinux via PVH: marker: $(markers $name | wc -l), exit $rc"; evidence $name; fi
fi

# A bad kernel file: a clear error, not a hung or crashed VMM.
name=bad_kernel_file
head -c 65536 /dev/urandom >$T/garbage.img
boot $name 30 poweroff --kernel $T/garbage.img --initrd "$L/initrd.img" --vcpus 1 --mem 256M
cp "$T/$name.err" "$T/$name-garbage.err"
r1=$rc
boot $name 30 poweroff --kernel $T/does-not-exist --vcpus 1 --mem 256M
r2=$rc
if [ "$r1" = 0 ] || [ "$r1" = 124 ] || [ "$r1" -ge 128 ]; then
	fail $name "garbage kernel: exit status $r1, expected a clean non-zero exit"; cat "$T/$name-garbage.err"
elif ! grep -qi 'kernel' "$T/$name-garbage.err"; then
	fail $name "garbage kernel: the message does not name the kernel: $(head -n 3 "$T/$name-garbage.err")"
elif [ "$r2" = 0 ] || [ "$r2" = 124 ] || [ "$r2" -ge 128 ]; then
	fail $name "missing kernel: exit status $r2"
elif ! grep -qi 'does-not-exist\|no such file' "$T/$name.err"; then
	fail $name "missing kernel: the message names neither the file nor the error: $(head -n 3 "$T/$name.err")"
else
	pass $name
	echo "    $name: $(head -n 1 "$T/$name-garbage.err") / $(head -n 1 "$T/$name.err")"
fi
exit 0
