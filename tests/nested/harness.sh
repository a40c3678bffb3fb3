#!/usr/bin/env bash
# tests/nested/harness.sh - run a command inside an outer VM that has a real
# /dev/kvm (QEMU's TCG emulator with nested SVM, kvm-amd loaded), see
# /work/shared/KVM-HERE.md and docs/testing-nested.md.
#
#   tests/nested/harness.sh [--mem 3G] [--smp 1] [--timeout S]
#                           [--file SRC:DST]... [--no-vmm]
#                           [--hostfwd HOSTPORT:GUESTPORT]... -- COMMAND
#
# COMMAND is a busybox sh command line run as root in /haneul inside the outer
# VM.  There it finds:
#   /haneul/bin/haneul-vmm          $O/haneul-vmm (+ the libraries ldd lists)
#   /haneul/images/linux/           vmlinuz vmlinux initrd.img rootfs.ext4
#                                   (inner guest)
#   /haneul/images/tiny/tiny.elf    when built
#   /usr/bin/qemu-system-x86_64     the host's QEMU, its libraries and the
#                                   firmware microvm needs (the bench peer)
#   /dev/kvm                        kvm-amd
#   $HANEUL_VMM $LINUX_DIR          the paths above, exported
# and every --file SRC:DST (DST relative to /haneul, or absolute; dynamic
# executables bring their libraries).
#
# --hostfwd gives the outer VM a NIC (virtio-net-pci on QEMU user-mode
# networking, restrict=on: no route out) with 10.0.2.15/24 on eth0 and
# forwards 127.0.0.1:HOSTPORT on this host to GUESTPORT in the outer VM (lo is
# up too); the NIC driver modules come from the inner initrd.img.  A test
# that talks to the outer VM while it runs reads the console log as it grows:
# HANEUL_HARNESS_LOG=PATH puts it at PATH instead of $O/nested/console.log.
#
# COMMAND's stdout+stderr come back on stdout; the harness exits with
# COMMAND's exit status.  Its own failures: 125 (setup, outer VM died without
# reporting a status), 124 (timeout).  The whole outer console is kept in
# $O/nested/console.log.  HANEUL_HARNESS_VERBOSE=1 streams the outer console
# to stderr while it runs and boots the outer kernel without `quiet`.
# The outer machine is `-M pc` with the bzImage (HANEUL_OUTER_MACHINE=microvm:
# `-M microvm` with the ELF vmlinux, faster but less robust, see the docs);
# an outer kernel that has not reached its init after
# HANEUL_OUTER_BOOT_TIMEOUT (90) seconds is restarted once.
#
# The outer initramfs is two concatenated cpio archives: a cached base (busybox,
# kvm modules, QEMU + libs + firmware, the inner guest images), rebuilt only
# when one of its inputs changes, and a small per-run part (haneul-vmm, the
# --file files, the command).  Both uncompressed: unpacking gzip under TCG
# costs more than loading a larger initrd.
set -euo pipefail
# The whole script is one { ... } block: bash reads and parses it completely
# before running any of it, so editing this file while a (long) nested run
# is in progress cannot make that run execute a mix of old and new lines
# (bash otherwise reads a script as it goes; it happened).
{

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$root/$O ;; esac
linux=$O/images/linux
state=$O/nested
qemu=${QEMU:-qemu-system-x86_64}

# One outer CPU by default: with two, the outer kernel (QEMU TCG's emulated
# SVM) lost a CPU inside a nested guest about once in five device/hibernate
# runs (panics, RCU stalls, lockups: docs/testing-nested.md); with one, none
# in 12 such runs, at about 1.3x the time.
mem=3G smp=1 tmo=300 with_vmm=1
files=() fwds=()
die() { echo "harness: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
	case "$1" in
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--no-vmm) with_vmm=0; shift ;;
	--hostfwd)
		[[ "$2" =~ ^[0-9]+:[0-9]+$ ]] || die "--hostfwd $2: expected HOSTPORT:GUESTPORT"
		fwds+=("$2"); shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,40p' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[ $# -gt 0 ] || die "no COMMAND (usage: harness.sh [opts] -- COMMAND)"
cmd="$*"

need() { command -v "$1" >/dev/null 2>&1 || die "missing tool '$1' (apt-get install -y $2)"; }
need "$qemu" qemu-system-x86
need cpio cpio
need ldd libc-bin
need timeout coreutils
for f in vmlinux initrd.img busybox kvm/kvm.ko kvm/kvm-amd.ko kvm/irqbypass.ko; do
	[ -f "$linux/$f" ] || die "$linux/$f missing: run 'make linux-image' first"
done
if [ "$with_vmm" = 1 ] && [ ! -x "$O/haneul-vmm" ]; then
	die "$O/haneul-vmm missing: run 'make' first (or pass --no-vmm)"
fi
qemu=$(command -v "$qemu")
mkdir -p "$state"

# stage_elf ROOT FILE DST: copy FILE to ROOT/DST and every library ldd lists
# (plus the dynamic loader) to the same path under ROOT.
stage_elf() {
	local r=$1 src=$2 dst=$3 lib
	mkdir -p "$r/$(dirname "$dst")"
	cp -L "$src" "$r/$dst"
	if head -c 4 "$src" | grep -q 'ELF' && ldd "$src" >/dev/null 2>&1; then
		for lib in $(ldd "$src" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
			[ -e "$r/$lib" ] && continue
			mkdir -p "$r/$(dirname "$lib")"
			cp -L "$lib" "$r/$lib"
		done
	fi
}

mkcpio() { # DIR OUT: uncompressed newc archive of DIR
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2"
}

# ---- cached base part ----
base_inputs=("$0" "$linux/vmlinux" "$linux/vmlinuz" "$linux/initrd.img" "$linux/rootfs.ext4" "$linux/busybox"
	"$linux/kvm/kvm.ko" "$linux/kvm/kvm-amd.ko" "$linux/kvm/irqbypass.ko" "$qemu")
[ -f "$O/images/tiny/tiny.elf" ] && base_inputs+=("$O/images/tiny/tiny.elf")
[ -f "$linux/outer-net/load.list" ] && base_inputs+=("$linux"/outer-net/*)
key=$(stat -L -c '%n %s %Y' "${base_inputs[@]}" | md5sum | cut -c1-32)
base=$state/outer-base.cpio
if [ ! -f "$base" ] || [ "$(cat "$state/outer-base.key" 2>/dev/null)" != "$key" ]; then
	echo "harness: building the outer initramfs base (cached in $base)" >&2
	b=$(mktemp -d "${TMPDIR:-/tmp}/haneul-outer.XXXXXX")
	mkdir -p "$b"/{bin,sbin,usr/bin,proc,sys,dev,tmp,run,root,lib/kvm,haneul/bin,haneul/images/linux,haneul/images/tiny}
	cp "$linux/busybox" "$b/bin/busybox"
	for a in $("$b/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$b/bin/$a"
	done
	cp "$linux"/kvm/*.ko "$b/lib/kvm/"
	if [ -f "$linux/outer-net/load.list" ]; then
		mkdir -p "$b/lib/outer-net"
		cp "$linux"/outer-net/* "$b/lib/outer-net/"
	fi
	cp "$linux"/vmlinuz "$linux"/vmlinux "$linux"/initrd.img "$b/haneul/images/linux/"
	[ -f "$linux/rootfs.ext4" ] && cp "$linux/rootfs.ext4" "$b/haneul/images/linux/"
	[ -f "$O/images/tiny/tiny.elf" ] && cp "$O/images/tiny/tiny.elf" "$b/haneul/images/tiny/"
	stage_elf "$b" "$qemu" /usr/bin/qemu-system-x86_64
	# Firmware: microvm's qboot, and what -M pc / PVH option ROMs load.
	qdata=/usr/share/qemu
	mkdir -p "$b$qdata"
	for fw in bios-microvm.bin qboot.rom pvh.bin linuxboot_dma.bin linuxboot.bin \
		  kvmvapic.bin bios-256k.bin bios.bin multiboot_dma.bin; do
		[ -e "$qdata/$fw" ] && cp -L "$qdata/$fw" "$b$qdata/$fw"
	done
	cat >"$b/init" <<'EOF'
#!/bin/busybox sh
# Outer VM init (tests/nested/harness.sh): kvm-amd, then the command.
export PATH=/haneul/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
for m in irqbypass kvm kvm-amd; do
	insmod /lib/kvm/$m.ko || echo "harness-init: insmod $m failed"
done
[ -e /dev/kvm ] || echo "harness-init: no /dev/kvm after loading kvm-amd"
# Bridge, veth and tun for VPC namespaces (haneul-net) and taps.
if [ -f /lib/outer-net/load.list ]; then
	while read -r m; do
		insmod /lib/outer-net/$m || echo "harness-init: insmod $m failed"
	done </lib/outer-net/load.list
fi
# Quiet: only the outer kernel's warnings and worse reach the console (RCU
# stalls, soft lockups with their registers and stack, panics); the harness
# moves them out of COMMAND's output.
[ -f /haneul/quiet ] && echo 5 >/proc/sys/kernel/printk
. /haneul/run.env
export HANEUL_VMM=/haneul/bin/haneul-vmm LINUX_DIR=/haneul/images/linux
cd /haneul
# The heartbeat, on the second serial port (a file on the host): the harness
# tells a hung outer kernel from a slow command by it.
if [ -e /dev/ttyS1 ]; then
	(while :; do echo "hb $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS1; sleep 5; done) </dev/null >/dev/null 2>&1 &
	echo $! >/run/heartbeat.pid
fi
echo "@@HANEUL-BEGIN $HANEUL_NONCE"
sh /haneul/cmd.sh </dev/null 2>&1
echo "@@HANEUL-EXIT $HANEUL_NONCE $?"
sync
poweroff -f
EOF
	chmod 0755 "$b/init"
	# A per-process temporary name: several harness runs (tests, benches)
	# may rebuild the base at the same time; each rename is atomic.
	mkcpio "$b" "$base.tmp.$$"
	mv -f "$base.tmp.$$" "$base"
	echo "$key" >"$state/outer-base.key.$$" && mv -f "$state/outer-base.key.$$" "$state/outer-base.key"
	rm -rf "$b"
fi

# ---- per-run part ----
run=$(mktemp -d "${TMPDIR:-/tmp}/haneul-run.XXXXXX")
trap 'rm -rf "$run"' EXIT
r=$run/root
mkdir -p "$r/haneul/bin"
nonce=$$-$RANDOM$RANDOM
printf 'HANEUL_NONCE=%s\n' "$nonce" >"$r/haneul/run.env"
if [ ${#fwds[@]} -gt 0 ]; then
	# The outer NIC: virtio-pci + virtio-net from the inner initramfs (same
	# kernel), loaded and configured before COMMAND.
	mkdir -p "$run/ir" "$r/lib/outer-nic"
	(cd "$run/ir" && gzip -dc "$linux/initrd.img" | cpio -id --quiet 'lib/modules/*') ||
		die "cannot read the modules of $linux/initrd.img"
	: >"$r/lib/outer-nic/load.list"
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
		[ -f "$run/ir/lib/modules/$m.ko" ] || die "$linux/initrd.img has no $m.ko (needed by --hostfwd)"
		cp "$run/ir/lib/modules/$m.ko" "$r/lib/outer-nic/"
		echo "$m.ko" >>"$r/lib/outer-nic/load.list"
	done
	cat >"$r/haneul/cmd.sh" <<'NICEOF'
# --hostfwd: eth0 on QEMU's user network (10.0.2.0/24, gateway 10.0.2.2).
while read -r m; do insmod /lib/outer-nic/$m 2>/dev/null; done </lib/outer-nic/load.list
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
	echo "harness-init: cannot configure eth0 for --hostfwd"
NICEOF
	printf '%s\n' "$cmd" >>"$r/haneul/cmd.sh"
else
	printf '%s\n' "$cmd" >"$r/haneul/cmd.sh"
fi
[ "${HANEUL_HARNESS_VERBOSE:-0}" = 1 ] || : >"$r/haneul/quiet"
[ "$with_vmm" = 1 ] && stage_elf "$r" "$O/haneul-vmm" /haneul/bin/haneul-vmm
for spec in ${files[@]+"${files[@]}"}; do
	src=${spec%%:*} dst=${spec#*:}
	[ "$src" != "$spec" ] || dst=$(basename "$src")
	[ -e "$src" ] || die "--file $spec: $src does not exist"
	case "$dst" in /*) ;; *) dst=/haneul/$dst ;; esac
	if [ -d "$src" ]; then
		mkdir -p "$r/$dst" && cp -rL "$src"/. "$r/$dst/"
	else
		stage_elf "$r" "$src" "$dst"
	fi
done
mkcpio "$r" "$run/run.cpio"
cat "$base" "$run/run.cpio" >"$run/initrd"

append="console=ttyS0 panic=-1 nokaslr"
[ "${HANEUL_HARNESS_VERBOSE:-0}" = 1 ] || append="$append quiet"
log=${HANEUL_HARNESS_LOG:-$state/console.log}
machine=${HANEUL_OUTER_MACHINE:-pc}
case "$machine" in
microvm) qargs=(-M microvm -kernel "$linux/vmlinux") ;;
pc) qargs=(-M pc -kernel "$linux/vmlinuz") ;;
*) die "HANEUL_OUTER_MACHINE=$machine: pc or microvm" ;;
esac
hb=$run/heartbeat
qargs+=(-accel "${HANEUL_OUTER_ACCEL:-tcg}" -cpu qemu64,+svm,+npt -m "$mem" -smp "$smp"
	-nodefaults -no-user-config -display none -serial stdio -no-reboot
	-initrd "$run/initrd" -append "$append")
# ttyS1 -> $hb: the outer init's heartbeat (-M pc; microvm has one UART only)
[ "$machine" = pc ] && qargs+=(-serial "file:$hb")
if [ ${#fwds[@]} -gt 0 ]; then
	nd=user,id=n0,restrict=on
	for f in "${fwds[@]}"; do nd="$nd,hostfwd=tcp:127.0.0.1:${f%%:*}-:${f#*:}"; done
	qargs+=(-netdev "$nd" -device virtio-net-pci,netdev=n0)
fi
# run_outer: one outer VM in the background, console -> $log (and stderr when
# verbose).  Under TCG on a loaded host the outer kernel very rarely stalls
# early in boot (timer calibration), so when it has not reached its init
# within $boot_tmo seconds it is killed and started again, once.  Once the
# command runs, an outer kernel whose heartbeat (every 5 s) has been silent
# for $hb_tmo seconds is hung: it is killed (qrc 252).  Sets qrc.
boot_tmo=${HANEUL_OUTER_BOOT_TIMEOUT:-90}
hb_tmo=${HANEUL_OUTER_HANG_TIMEOUT:-180}
# outer_stuck: the outer kernel reports it is stuck, in a way that does not
# come back (each seen with a haneul-vmm thread inside the outer KVM under
# TCG's SVM): a CPU soft-locked for 45 s or more (reported every ~26 s), an
# RCU grace period stalled for 60 s or more (15000 jiffies at HZ=250), or a
# task blocked (D state) for 120 s.  Sets why_stuck.
outer_stuck() {
	local l
	l=$(grep -Eo -m1 'BUG: soft lockup - CPU#[0-9]+ stuck for ([4-9][0-9]|[0-9]{3,})s! \[[^]]*\]|INFO: task [^ ]+ blocked for more than [0-9]+ seconds' "$log")
	if [ -z "$l" ] && grep -q 'rcu_preempt detected stalls' "$log"; then
		l=$(grep -Eo 't=[0-9]+ jiffies' "$log" | awk '{ sub("t=", "", $1); if ($1 + 0 >= 15000) { print "RCU stall for " $1 " jiffies"; exit } }')
	fi
	why_stuck=$l
	[ -n "$l" ]
}
run_outer() {
	local qpid start=$SECONDS booted=0 hbsz=-1 hbsize hbat logsz=-1 logsize
	# kill_outer CODE: kill the outer VM, qrc=CODE
	kill_outer() { kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qrc=$1; }
	echo "harness: outer VM: $qemu ${qargs[*]}" >"$log"
	: >"$hb"
	if [ "${HANEUL_HARNESS_VERBOSE:-0}" = 1 ]; then
		tail -n +2 -f "$log" >&2 &
		tailpid=$!
	fi
	timeout -k 5 "$tmo" "$qemu" "${qargs[@]}" </dev/null >>"$log" 2>&1 &
	qpid=$!
	qrc=
	while [ "$booted" = 0 ] && kill -0 "$qpid" 2>/dev/null; do
		if grep -q "^@@HANEUL-BEGIN $nonce" "$log"; then
			booted=1
		elif [ $((SECONDS - start)) -ge "$boot_tmo" ]; then
			kill_outer 253
			break
		else
			sleep 0.2
		fi
	done
	# The heartbeat watch: only once the heartbeat has started (-M pc).
	hbat=$SECONDS
	while [ -z "$qrc" ] && kill -0 "$qpid" 2>/dev/null; do
		hbsize=$(stat -c %s "$hb" 2>/dev/null || echo 0)
		if [ "$hbsize" != "$hbsz" ]; then
			hbsz=$hbsize hbat=$SECONDS
		elif [ "$hbsize" -gt 0 ] && [ $((SECONDS - hbat)) -ge "$hb_tmo" ] &&
		     ! grep -q "^@@HANEUL-EXIT $nonce " "$log"; then
			kill_outer 252
			break
		fi
		# The outer kernel stuck (outer_stuck) does not come back; its
		# reports can only be new when the console grew.
		logsize=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$logsize" != "$logsz" ]; then
			logsz=$logsize
			outer_stuck && { kill_outer 251; break; }
		fi
		sleep 1
	done
	if [ -z "$qrc" ]; then
		wait "$qpid"
		qrc=$?
	fi
	if [ -n "${tailpid:-}" ]; then
		sleep 0.3
		kill "$tailpid" 2>/dev/null
		wait "$tailpid" 2>/dev/null
		tailpid=
	fi
	return 0
}
set +e
qrc=0
run_outer
if [ "$qrc" = 253 ]; then
	echo "harness: the outer VM did not reach its init in ${boot_tmo}s; retrying once" >&2
	cp "$log" "$log.stalled"
	qrc=0
	run_outer
	[ "$qrc" = 253 ] && { echo "harness: the outer VM stalled twice in boot (console: $log)" >&2; exit 125; }
fi
# kmsgs: the outer kernel's own console lines (printk level <= 3 when quiet:
# warnings, RCU stalls, lockups, panics), last 60, for the report.
kmsgs() {
	tr -d '\r' <"$log" | grep -E '^\[ *[0-9]+\.[0-9]+\] ' | tail -n 60 | sed 's/^/harness: outer| /' >&2
}
# The outer kernel itself (the emulated host, not haneul's guest) can crash or
# hang under QEMU's TCG emulation of SVM: seen as "corrupted stack end detected
# inside scheduler" (a panic) after an RCU stall, in a task of the outer VM.
# Then the outer VM ends without COMMAND's exit marker, or its heartbeat stops
# while the command still runs.  That is a failure of the test machine, not of
# the code under test: say so loudly, with what the outer kernel said, and run
# the whole command once more in a fresh outer VM (HANEUL_HARNESS_RERUN=0: not).
# (A panic of an inner guest does not end the outer VM, so it never gets here.)
why=
if [ "$qrc" = 252 ]; then
	why="hung: no heartbeat for ${hb_tmo}s"
elif [ "$qrc" = 251 ]; then
	why="is stuck: $(echo "$why_stuck" | tr -d '\r')"
elif [ "$qrc" != 124 ] && [ "$qrc" != 137 ] &&
     ! grep -q "^@@HANEUL-EXIT $nonce " "$log" &&
     grep -q 'Kernel panic - not syncing' "$log"; then
	why="panicked: $(grep -m1 -o 'Kernel panic - not syncing.*' "$log" | tr -d '\r')"
fi
if [ -n "$why" ]; then
	echo "harness: the OUTER kernel $why (console kept in $log.outer-fault)" >&2
	kmsgs
	cp "$log" "$log.outer-fault"
	if [ "${HANEUL_HARNESS_RERUN:-1}" = 1 ]; then
		echo "harness: rerunning the command once in a fresh outer VM" >&2
		qrc=0
		run_outer
		[ "$qrc" = 253 ] && { echo "harness: the outer VM stalled in boot on the rerun (console: $log)" >&2; exit 125; }
		[ "$qrc" = 252 ] && { echo "harness: the OUTER kernel hung again on the rerun (no heartbeat for ${hb_tmo}s)" >&2; kmsgs; }
		[ "$qrc" = 251 ] && { echo "harness: the OUTER kernel is stuck again on the rerun: $why_stuck" >&2; kmsgs; }
	fi
fi
set -e
tr -d '\r' <"$log" >"$log.tmp" && mv -f "$log.tmp" "$log"

# COMMAND's output: the lines between the two markers of this run, less the
# outer kernel's own lines (kmsgs).
awk -v n="$nonce" '
	$0 == "@@HANEUL-BEGIN " n { on = 1; next }
	index($0, "@@HANEUL-EXIT " n " ") == 1 { on = 0; next }
	/^\[ *[0-9]+\.[0-9]+\] / { next }
	on { print }' "$log"
status=$(sed -n "s/^@@HANEUL-EXIT $nonce \([0-9]*\)\$/\1/p" "$log" | tail -n 1)
if [ -n "$status" ]; then
	exit "$status"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "harness: outer VM timed out after ${tmo}s (console: $log); the outer kernel said:" >&2
	kmsgs
	exit 124
fi
if [ "$qrc" = 252 ] || [ "$qrc" = 251 ]; then
	exit 124
fi
echo "harness: outer VM ended (qemu status $qrc) without the command's status; last console lines:" >&2
tail -n 20 "$log" | sed 's/^/harness:   /' >&2
exit 125
}
