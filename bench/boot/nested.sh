#!/bin/sh
# bench/boot/nested.sh - the part of bench/boot/run.sh that runs inside the
# nested harness's outer VM (busybox sh, real /dev/kvm).  Alternates
# haneul-vmm and QEMU -M microvm booting the same Debian kernel + initramfs
# and prints one line per boot:
#   BENCH <vmm> <run> ready_us=.. rss_kb=.. guest_rss_kb=.. metrics=..
# Environment: RUNS (5), VCPUS (2), MEM_MIB (256), QEMU_KERNEL (vmlinux),
# QEMU_MACHINE (microvm; e.g. microvm,rtc=off), CMDLINE_EXTRA (appended to
# both guests' kernel command line).
RUNS=${RUNS:-5} VCPUS=${VCPUS:-2} MEM_MIB=${MEM_MIB:-256}
BW=/haneul/bin/bootwatch
L=$LINUX_DIR
CMDLINE="console=ttyS0 panic=-1 quiet haneul.test=wait${CMDLINE_EXTRA:+ $CMDLINE_EXTRA}"
mkdir -p /tmp/bench

one() { # LABEL RUN -- CMD...
	label=$1 run=$2; shift 3
	out=/tmp/bench/$label-$run.out
	"$@" >"$out" 2>&1
	rc=$?
	printf 'BENCH %s %s rc=%s %s\n' "$label" "$run" "$rc" "$(grep -E '^(ready_us|rss_kb|hwm_kb|guest_rss_kb|metrics|exit|timeout)=' "$out" | tr '\n' ' ')"
	[ "$rc" = 0 ] || { echo "--- $label run $run failed; console tail:"; tail -n 15 /tmp/bench/$label-$run.log | sed "s/^/    con| /"; tail -n 5 "$out"; }
}

i=1
while [ "$i" -le "$RUNS" ]; do
	sock=/tmp/bench/ctl-$i.sock
	[ -x "$HANEUL_VMM" ] && one haneul "$i" -- $BW --timeout 120 --log /tmp/bench/haneul-$i.log \
		--guest-mem "$MEM_MIB" --control "$sock" --stop term -- \
		"$HANEUL_VMM" --kernel "$L/vmlinuz" --initrd "$L/initrd.img" \
		--cmdline "$CMDLINE" --vcpus "$VCPUS" --mem "${MEM_MIB}M" --control "$sock"
	one qemu "$i" -- $BW --timeout 120 --log /tmp/bench/qemu-$i.log \
		--guest-mem "$MEM_MIB" --stop term -- \
		qemu-system-x86_64 -M "${QEMU_MACHINE:-microvm}" -enable-kvm -cpu host -m "${MEM_MIB}M" \
		-smp "$VCPUS" -nodefaults -no-user-config -display none -serial stdio \
		-no-reboot -kernel "$L/${QEMU_KERNEL:-vmlinux}" -initrd "$L/initrd.img" \
		-append "$CMDLINE"
	i=$((i + 1))
done
