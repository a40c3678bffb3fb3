#!/usr/bin/env bash
# tests/nested/test_harness.sh - the nested harness itself works: the outer
# VM has /dev/kvm, propagates the command's exit status, and QEMU -M microvm
# (the bench peer) boots the Debian kernel + images/linux initramfs to its
# readiness marker with 2 CPUs.  When this passes and test_linux.sh fails,
# the fault is haneul-vmm's, not the harness's.  And a hung outer kernel (its
# heartbeat on ttyS1 stops) is told from a slow command: the command stops the
# heartbeat itself and the harness must kill the outer VM and say why.  Two
# outer boots (~15 s each).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
cases=(harness_outer_kvm harness_exit_status harness_qemu_peer_boot harness_outer_hang_detected)
mkdir -p "$BUILD"
nested_prepare "${cases[@]}" || exit 0

out=$(tmpdir_new)
trap 'rm -rf "$out"' EXIT
O=$O "$HANEUL_ROOT/tests/nested/harness.sh" --no-vmm --timeout 240 -- '
	[ -c /dev/kvm ] && echo "outer-kvm=yes"
	timeout 120 qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m 256M -smp 2 \
		-nodefaults -no-user-config -display none -serial stdio -no-reboot \
		-kernel $LINUX_DIR/vmlinux -initrd $LINUX_DIR/initrd.img \
		-append "console=ttyS0 panic=-1 quiet haneul.test=poweroff" >/tmp/peer.con 2>&1
	echo "peer-exit=$?"
	tr -d "\r" </tmp/peer.con | tail -n 15
	exit 7' >"$out/log" 2>&1
rc=$?
sed 's/^/    | /' "$out/log"
if grep -q '^outer-kvm=yes' "$out/log"; then pass harness_outer_kvm
else fail harness_outer_kvm "no /dev/kvm in the outer VM (harness status $rc)"; fi
if [ "$rc" = 7 ]; then pass harness_exit_status
else fail harness_exit_status "harness returned $rc, the command exited 7"; fi
if grep -q 'haneul-ready linux uptime=[0-9.]* nproc=2' "$out/log" && grep -q '^peer-exit=0' "$out/log"; then
	pass harness_qemu_peer_boot
else
	fail harness_qemu_peer_boot "QEMU microvm did not reach the marker with nproc=2 and exit 0"
fi

# The hang watchdog: the command kills the outer init's heartbeat and sleeps
# far longer than the watch (15 s); no rerun, so the harness ends with 124.
start=$SECONDS
HANEUL_OUTER_HANG_TIMEOUT=15 HANEUL_HARNESS_RERUN=0 O=$O "$HANEUL_ROOT/tests/nested/harness.sh" \
	--no-vmm --timeout 240 -- 'sleep 6; kill $(cat /run/heartbeat.pid) && echo heartbeat-stopped; sleep 200' >"$out/hang" 2>&1
rc=$? took=$((SECONDS - start))
sed 's/^/    | /' "$out/hang"
if [ "$rc" = 124 ] && grep -q 'the OUTER kernel hung: no heartbeat for 15s' "$out/hang" &&
   grep -q '^heartbeat-stopped' "$out/hang" && [ "$took" -lt 200 ]; then
	pass harness_outer_hang_detected
	echo "    harness_outer_hang_detected: harness status $rc after ${took}s"
else
	fail harness_outer_hang_detected "harness status $rc after ${took}s (expected 124, well before the 200 s sleep ends)"
fi
